"""The layout of a training workdir, in one place for the trainer that writes it (training/loop.py, training/run.py)
and the evaluator that reads it (evaluation/score.py):

    <workdir>/run.json        what the run is (model, variant, classes, dataset, image size, batch, data options)
    <workdir>/flags.txt       every train.py flag that has a value (``--flagfile=<workdir>/flags.txt`` repeats the run)
    <workdir>/checkpoints/    the last few checkpoints (``ckpt-<step>``)
    <workdir>/best/           the checkpoint of the best validation top-1 (``best-<step>``)
    <workdir>/train/, validation/   TensorBoard logs
    <workdir>/lock            held by the run training in the workdir (``exclusive``): who holds it, as JSON

A checkpoint holds the model's variables under ``model`` (``model_state``), the optimizer, the step and the plateau
and best-metric state.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket

import tensorflow as tf

from common import files

RUN_FILE = "run.json"
FLAGS_FILE = "flags.txt"
CHECKPOINTS = "checkpoints"
BEST = "best"
LOCK_FILE = "lock"
# the run.json keys that must match for a workdir to be resumed (the rest describe the run)
IDENTITY = ("model", "variant", "num_classes", "dataset", "image_size", "batch_size", "steps_per_epoch")


def model_state(model):
    """Every variable of ``model`` by its path (weights, and the dropout layers' seed-generator states), for
    tf.train.Checkpoint: a Keras 3 model object is not itself a checkpoint dependency."""
    state = {}
    for i, v in enumerate(model.variables):
        # weights are named after their (explicitly named) layers; seed generators after a process-wide counter,
        # so they are keyed by position
        key = f"seed_generator_{i:03d}" if "seed_generator" in v.path else v.path.replace("/", ".")
        state[key] = v.value if hasattr(v, "value") else v
    return state


def read_run_info(workdir):
    """The run.json of ``workdir``, or None when there is none (not a training workdir, or a fresh one)."""
    path = os.path.join(workdir, RUN_FILE)
    if not files.isfile(path):
        return None
    return json.loads(files.read_text(path))


def checkpoint_dir(workdir, which="latest"):
    """The directory of the ``latest`` (checkpoints/) or ``best`` (best/) checkpoints; None for any other ``which``."""
    directory = {"latest": CHECKPOINTS, "best": BEST}.get(which)
    return os.path.join(workdir, directory) if directory else None


def checkpoint_path(workdir, which="latest"):
    """The checkpoint ``which`` names: ``latest`` (of checkpoints/), ``best`` (of best/), or a path (…/ckpt-N);
    None when the directory has none yet."""
    directory = checkpoint_dir(workdir, which)
    return tf.train.latest_checkpoint(directory) if directory else which


# What reading a damaged, truncated or vanishing checkpoint raises (a truncated data file: IndexError, "Read less
# bytes than requested", TF 2.21)
UNREADABLE = (tf.errors.OpError, IndexError, OSError)


def restore_model(model, path):
    """Load the model variables of checkpoint ``path`` into ``model`` (the optimizer state is left out) and return
    the training step it was saved at; raises tf.errors.NotFoundError, AssertionError or ValueError when they do not
    fit."""
    step = tf.Variable(-1, dtype=tf.int64)
    tf.train.Checkpoint(model=model_state(model), step=step).restore(path).expect_partial() \
        .assert_existing_objects_matched()
    return int(step.numpy())


def restore_while_training(model, workdir, which="latest", attempts=5):
    """``restore_model`` of the checkpoint ``which`` names (``checkpoint_path``), safe beside a run writing the
    workdir: the checkpoint a directory's state file names is complete (TensorFlow writes a checkpoint's files first,
    then names it in the state file, atomically), and one the run deletes while it is read (its rotation keeps the
    last few; best/ keeps one) is replaced by the newer one the state file names then. Returns (path, step); None
    when there is no checkpoint yet. Other errors are restore_model's (a file unreadable or gone: UNREADABLE)."""
    for attempt in range(attempts):
        path = checkpoint_path(workdir, which)
        if not path:
            # (latest_checkpoint reads the state file, then looks for the files it names: a save in between
            # deletes them, and it answers None though the state file names a newer checkpoint)
            directory = checkpoint_dir(workdir, which)
            if directory and attempt < attempts - 1 and tf.train.get_checkpoint_state(directory):
                continue
            return None
        try:
            return path, restore_model(model, path)
        except UNREADABLE:  # NotFoundError, or UNKNOWN "<path>.index; No such file or directory" (TF 2.21)
            rotated = which in ("latest", "best") and not tf.io.gfile.exists(path + ".index")
            if not rotated or checkpoint_path(workdir, which) == path or attempt == attempts - 1:
                raise


class WorkdirInUse(ValueError):
    """Another run holds the workdir."""


def _holder(fd):
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"PID {info['pid']} on {info['host']}, started {info['started']}"
    except (ValueError, KeyError, OSError, UnicodeDecodeError):
        return "its PID unknown"


@contextlib.contextmanager
def exclusive(workdir, log=print):
    """Hold ``workdir`` for one run for the block: an exclusive ``flock`` on ``<workdir>/lock``, which the kernel
    releases when the process ends however it ends (a ``kill -9`` leaves no stale lock), with the holder's PID, host
    and start time written into the file. Another run on the workdir raises ``WorkdirInUse`` naming the holder,
    having written nothing. Where the filesystem cannot lock (an object store's ``gs://``-style path, a network
    filesystem without locks), a warning says so and the run goes on unguarded."""
    unguarded = (f"warning: {workdir} cannot be locked against a second run ({{}}): make sure that no other run uses "
                 "this workdir (two would mix their checkpoints)")
    if "://" in workdir:
        log(unguarded.format("not a local filesystem"))
        yield
        return
    try:
        os.makedirs(workdir, exist_ok=True)
        fd = os.open(os.path.join(workdir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise ValueError(f"--workdir={workdir} cannot be written ({err.strerror or err}): fix its permissions or pass "
                         "another --workdir.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            raise WorkdirInUse(
                f"--workdir={workdir} is in use by another run ({_holder(fd)}): wait for it to end or stop it (a run "
                "stopped even by kill -9 frees its workdir at once), or pass another --workdir. Two runs in one "
                "workdir would mix their checkpoints.") from None
        except OSError as err:
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            log(unguarded.format(err.strerror))
            locked = False
        if locked:
            started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}).encode(),
                      0)
        yield
    finally:
        os.close(fd)  # the lock goes with the descriptor
