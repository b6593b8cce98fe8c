"""TensorFlow runtime errors turned into the one line a user needs."""

import re

import tensorflow as tf

# what the input pipeline raises on data it cannot read (a bad image, a truncated record, a file gone missing)
DATA_ERRORS = (tf.errors.InvalidArgumentError, tf.errors.DataLossError, tf.errors.NotFoundError)

_NOISE = re.compile(r"^(Graph execution error:|Detected at node|<stack traces unavailable>|\s*File \"|\s*\[\[|$)")


def op_error_line(err):
    """The informative line of a ``tf.errors.OpError``'s message: an assertion's text (``assertion failed: [...]``
    unwrapped) or the first line that is not graph-execution boilerplate, without the ``[[{{node ...}}]]`` tail."""
    lines = [line.strip() for line in (getattr(err, "message", None) or str(err)).splitlines()]
    useful = [line for line in lines if not _NOISE.match(line)] or [line for line in lines if line] or [""]
    line = next((x for x in useful if x.startswith("assertion failed:")), useful[0])
    line = re.sub(r"\s*\[\[\{\{node .*$", "", line)
    if line.startswith("assertion failed:"):  # "assertion failed: [a] [b]" -> "a b"
        line = " ".join(part.strip() for part in re.findall(r"\[([^\[\]]*)\]", line)) or line
    return line
