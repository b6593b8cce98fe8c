"""Test fixtures shared across the suite (pytest loads this before any test module).

The test process splits its CPU into two logical devices before TensorFlow starts, so that in-process tests can
train under a two-replica MirroredStrategy (``two_cpu_strategy``); everything else runs on the first device, as
before. ``-m "not slow"`` selects the fast inner loop.
"""

import contextlib
import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

ROOT = os.path.dirname(os.path.abspath(__file__))
SMOKE = "--flagfile=configs/smoke.flags"
RECIPES = sorted(os.path.basename(p)[:-len(".flags")] for p in glob.glob(os.path.join(ROOT, "configs", "*.flags"))
                 if not p.endswith("common.flags"))

tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)


@contextlib.contextmanager
def _in_root():
    cwd = os.getcwd()
    os.chdir(ROOT)  # flagfiles name each other relative to the repository root, as the commands run there
    try:
        yield
    finally:
        os.chdir(cwd)


@contextlib.contextmanager
def _parsed_flags(args):
    """train.py's flags parsed from ``args`` in the repository root; the global FLAGS are left unparsed after."""
    import train

    with _in_root():
        try:
            yield flags.FLAGS(["train.py", *args]), train
        finally:
            flags.FLAGS.unparse_flags()


@pytest.fixture(scope="session")
def run_train():
    """``run_train(*args)``: train.py's main in this process (so that tfds.testing.mock_data applies); returns its
    exit message, or None when it finished."""

    def run(*args):
        with _parsed_flags(args) as (argv, train):
            try:
                train.main(argv)
                return None
            except SystemExit as exit_:
                return str(exit_.code)

    return run


@pytest.fixture(scope="session")
def recipe_config():
    """``recipe_config(name, *extra)``: the ``training.config.Config`` that ``configs/<name>.flags`` (plus ``extra``
    arguments) gives train.py."""

    def parse(recipe, *extra):
        with _parsed_flags((f"--flagfile=configs/{recipe}.flags", *extra)) as (_, train):
            return train.config_from_flags(flags.FLAGS)

    return parse


def pytest_collection_modifyitems(items):
    """The slow tests first (in their files' order), so that the two test processes (-n 2, pytest.ini) end on short
    ones rather than one of them running a minute-long test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_generate_tests(metafunc):
    """A test that takes ``recipe`` runs once per recipe flagfile of configs/ (common.flags aside)."""
    if "recipe" in metafunc.fixturenames:
        metafunc.parametrize("recipe", RECIPES)


@pytest.fixture(scope="session")
def two_cpu_strategy():
    """The MirroredStrategy over the test process's two logical CPUs: train.py's --strategy=mirrored in this process
    (distribute.make keeps one per process)."""
    from training import distribute

    strategy = distribute.make("mirrored")
    assert strategy.num_replicas_in_sync == 2
    return strategy


def tensorboard_scalars(logdir):
    """({tag: [(step, value), ...]} of every scalar summary in ``logdir``, the event accumulator)."""
    from tensorboard.backend.event_processing import event_accumulator

    events = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.SCALARS: 0,
                                                                       event_accumulator.TENSORS: 0})
    events.Reload()
    # tf.summary (TF2) writes scalars as tensors
    values = {tag: [(e.step, tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]
              for tag in events.Tags()["tensors"]}
    return {tag: [(step, float(v)) for step, v in items] for tag, items in values.items()
            if all(v.ndim == 0 for _, v in items)}, events


@pytest.fixture(scope="session")
def scalars():
    """``scalars(logdir)``: ``tensorboard_scalars``."""
    return tensorboard_scalars


# Runs in a fresh interpreter, outside the repository, with no project module importable.
SERVE = r"""
import sys, numpy as np, tensorflow as tf
assert not any(m in sys.modules for m in ("models", "data", "training", "alexnet", "allcnn", "common"))
loaded = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2], allow_pickle=False)
out = {}
if "encoded" in inputs:
    result = loaded.signatures["serving_default"](images=tf.constant(list(inputs["encoded"])))
    out.update({f"bytes_{k}": v.numpy() for k, v in result.items()})
if "images" in inputs:
    result = loaded.signatures["serve_images"](images=tf.constant(inputs["images"]))
    out.update({f"images_{k}": v.numpy() for k, v in result.items()})
np.savez(sys.argv[3], **{k: v.astype(bytes) if v.dtype == object else v for k, v in out.items()})
"""


def _serve_elsewhere(export_dir, tmp_path, **arrays):
    """Run the SavedModel at ``export_dir`` on ``arrays`` (encoded=..., images=...) in a fresh interpreter that
    cannot import the project; its outputs, keyed bytes_<output> and images_<output>."""
    np.savez(tmp_path / "request.npz", **arrays)
    script = tmp_path / "serve.py"
    script.write_text(SERVE)
    result = subprocess.run([sys.executable, str(script), str(export_dir), str(tmp_path / "request.npz"),
                             str(tmp_path / "response.npz")], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, PYTHONPATH=""))
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(tmp_path / "response.npz"))


@pytest.fixture(scope="session")
def serve_elsewhere():
    return _serve_elsewhere
