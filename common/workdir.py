"""The layout of a training workdir, in one place for the trainer that writes it (training/loop.py, training/run.py)
and the evaluator that reads it (evaluation/score.py):

    <workdir>/run.json        what the run is (model, variant, classes, dataset, image size, batch, data options)
    <workdir>/flags.txt       every train.py flag that has a value (``--flagfile=<workdir>/flags.txt`` repeats the run)
    <workdir>/checkpoints/    the last few checkpoints (``ckpt-<step>``)
    <workdir>/best/           the checkpoint of the best validation top-1 (``best-<step>``)
    <workdir>/train/, validation/   TensorBoard logs

A checkpoint holds the model's variables under ``model`` (``model_state``), the optimizer, the step and the plateau
and best-metric state.
"""

import json
import os

import tensorflow as tf

RUN_FILE = "run.json"
FLAGS_FILE = "flags.txt"
CHECKPOINTS = "checkpoints"
BEST = "best"
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
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def checkpoint_dir(workdir, which="latest"):
    """The directory of the ``latest`` (checkpoints/) or ``best`` (best/) checkpoints; None for any other ``which``."""
    directory = {"latest": CHECKPOINTS, "best": BEST}.get(which)
    return os.path.join(workdir, directory) if directory else None


def checkpoint_path(workdir, which="latest"):
    """The checkpoint ``which`` names: ``latest`` (of checkpoints/), ``best`` (of best/), or a path (…/ckpt-N);
    None when the directory has none yet."""
    directory = checkpoint_dir(workdir, which)
    return tf.train.latest_checkpoint(directory) if directory else which


def restore_model(model, path):
    """Load the model variables of checkpoint ``path`` into ``model`` (the optimizer state is left out); raises
    tf.errors.NotFoundError, AssertionError or ValueError when they do not fit."""
    tf.train.Checkpoint(model=model_state(model)).restore(path).expect_partial().assert_existing_objects_matched()
