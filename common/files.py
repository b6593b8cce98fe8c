"""Every file the run, the evaluator and the export touch, through ``tf.io.gfile``: a local path, or any filesystem
TensorFlow has (``gs://``, ``s3://`` with tensorflow-io, ``hdfs://``; the tests use TensorFlow's in-memory
``ram://``), so that a workdir, a dataset folder or a weights file can sit on storage that many machines share.
Writes never leave a half-written file in place (``atomic_write``, ``replace_tree``).
"""

import contextlib
import io
import os
import tempfile
import uuid

import numpy as np
import tensorflow as tf

from common.errors import op_error_line

gfile = tf.io.gfile


def is_local(path):
    """Whether ``path`` is on the local filesystem (no ``scheme://``)."""
    return "://" not in str(path)


def exists(path):
    return gfile.exists(path)


def isdir(path):
    return gfile.isdir(path)


def isfile(path):
    return gfile.exists(path) and not gfile.isdir(path)


def listdir(path):
    """The names in directory ``path`` (an object store's trailing ``/`` on directories removed)."""
    return [name.rstrip("/") for name in gfile.listdir(path)]


def makedirs(path):
    gfile.makedirs(path)


def size(path):
    return gfile.stat(path).length


def open_file(path, mode="rb"):
    """A file object for ``path`` (``tf.io.gfile.GFile``; ``open`` itself for a local one, whose errors are OSError
    with the system's reason)."""
    return open(path, mode) if is_local(path) else gfile.GFile(path, mode)


def reason(err):
    """The system's reason of an OSError, or a TensorFlow error's message: for a sentence about a file."""
    if isinstance(err, OSError):
        return err.strerror or str(err)
    return op_error_line(err)


def read_bytes(path):
    with open_file(path, "rb") as f:
        return f.read()


def read_text(path):
    with open_file(path, "r") as f:
        return f.read()


def load_numpy(path):
    """A ``.npy`` file's array, or a ``.npz`` file's {name: array} (NumPy's loader on its bytes; pickles refused,
    as ``np.load``'s default)."""
    loaded = np.load(io.BytesIO(read_bytes(path)))
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    return loaded


def remove_tree(path):
    """Delete the directory ``path`` and everything in it, if it exists."""
    with contextlib.suppress(tf.errors.NotFoundError, OSError):
        gfile.rmtree(path)


@contextlib.contextmanager
def atomic_write(path, mode="w"):
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` in one rename, on any
    error it is deleted and ``path`` (if it existed) is left as it was. Locally the file is synced to the disk
    before the rename; elsewhere the content is kept in memory, written whole, and renamed by the filesystem (an
    object store copies, then deletes)."""
    directory = os.path.dirname(path if not is_local(path) else os.path.abspath(path))
    if not is_local(path):  # written whole from memory: an object store's file cannot seek or tell
        gfile.makedirs(directory)
        tmp = f"{directory}/.{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp"
        buffer = io.BytesIO() if "b" in mode else io.StringIO()
        try:
            yield buffer
            with gfile.GFile(tmp, "wb" if "b" in mode else "w") as f:
                f.write(buffer.getvalue())
            gfile.rename(tmp, path, overwrite=True)
        except BaseException:
            with contextlib.suppress(tf.errors.OpError):
                gfile.remove(tmp)
            raise
        return
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a report or a cache from the other users of a shared disk
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def replace_tree(source, target):
    """Move the complete directory ``source`` to ``target``, replacing what is there. Locally by renames (the
    previous ``target`` is put back if the last rename fails); an object store cannot rename a directory, so there
    the files are copied into a fresh ``target`` and ``source`` deleted, the top-level files last (a SavedModel's
    ``saved_model.pb``): a failure mid-copy leaves a ``target`` without them, which no loader takes for complete,
    and never touches ``source``."""
    if is_local(target):
        previous = f"{target}.old-{os.getpid()}"
        if os.path.exists(target):
            os.rename(target, previous)
        try:
            os.rename(source, target)
        except BaseException:
            if os.path.exists(previous):
                os.rename(previous, target)
            raise
        remove_tree(previous)
        return
    remove_tree(target)
    source = source.rstrip("/")
    top_level = []
    for directory, _, names in gfile.walk(source):
        # (an object store lists a directory with a trailing slash: "variables/")
        relative = directory.rstrip("/")[len(source):].strip("/")
        destination = f"{target}/{relative}" if relative else target
        gfile.makedirs(destination)
        for name in names:
            pair = (f"{directory.rstrip('/')}/{name}", f"{destination}/{name}")
            if relative:
                gfile.copy(*pair, overwrite=True)
            else:
                top_level.append(pair)
    for pair in top_level:
        gfile.copy(*pair, overwrite=True)
    remove_tree(source)
