"""One run per workdir: the lock, its holder's name in the refusal, and its release."""

import os
import socket

import pytest

from common import workdir


def test_a_second_holder_is_refused_with_the_first_named_and_the_lock_goes_with_the_first(tmp_path):
    path = str(tmp_path / "run")
    with workdir.exclusive(path, log=lambda *_: None):
        before = open(os.path.join(path, workdir.LOCK_FILE), "rb").read()
        with pytest.raises(workdir.WorkdirInUse, match=rf"is in use by another run \(PID {os.getpid()} on "
                                                         rf"{socket.gethostname()}, started 20"):
            with workdir.exclusive(path, log=lambda *_: None):
                pass
        assert open(os.path.join(path, workdir.LOCK_FILE), "rb").read() == before  # the refused one wrote nothing
    with workdir.exclusive(path, log=lambda *_: None):  # released
        pass


def test_a_filesystem_that_cannot_lock_is_said_and_the_run_goes_on(tmp_path):
    said = []
    with workdir.exclusive("gs://bucket/run", log=said.append):
        pass
    assert said and "cannot be locked against a second run (not a local filesystem)" in said[0]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"cannot be written .*pass another --workdir"):
        with workdir.exclusive(str(blocker / "run")):
            pass


def test_a_reader_beside_a_run_takes_the_newer_checkpoint_when_the_one_it_found_is_rotated_away(tmp_path,
                                                                                                 monkeypatch):
    import keras
    import numpy as np
    import tensorflow as tf

    def model():
        inputs = keras.Input((2,))
        return keras.Model(inputs, keras.layers.Dense(1, name="fc")(inputs))

    saved = model()
    saved.get_layer("fc").set_weights([np.full((2, 1), 3.0, np.float32), np.ones(1, np.float32)])
    directory = str(tmp_path / workdir.CHECKPOINTS)
    checkpoint = tf.train.Checkpoint(model=workdir.model_state(saved), step=tf.Variable(7, dtype=tf.int64))
    newer = tf.train.CheckpointManager(checkpoint, directory, 1).save(checkpoint_number=7)
    # what a reader can see while a run saves: the state file read before the save, the files looked for after
    # it (latest_checkpoint answers None), then a checkpoint named but deleted before it is read
    answers = iter([None, os.path.join(directory, "ckpt-6")])
    monkeypatch.setattr(workdir, "checkpoint_path", lambda *_: next(answers, newer))
    restored = model()
    assert workdir.restore_while_training(restored, str(tmp_path)) == (newer, 7)
    np.testing.assert_array_equal(restored.get_layer("fc").get_weights()[0], np.full((2, 1), 3.0))
    # a workdir with no checkpoint at all: None at once
    monkeypatch.setattr(workdir, "checkpoint_path", lambda *_: None)
    assert workdir.restore_while_training(model(), str(tmp_path / "new")) is None
