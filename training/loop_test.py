"""The trainer in process (training/loop.py): a small model on the digits under the default strategy and under a
MirroredStrategy over two logical CPUs (conftest.py makes them): the loss falls, a checkpoint resumes on the same
step and weights, and a global batch the replicas cannot share is refused by the trainer itself."""

import os

import keras
import numpy as np
import pytest

from data import inputs as data_inputs
from training.config import Config
from training.loop import Trainer

RUN_INFO = {"model": "tiny", "variant": "conv", "num_classes": 10, "dataset": "digits", "image_size": 16}


@pytest.fixture(scope="module")
def digits():
    """The bundled digits at 16x16, GCN only (no ZCA fit: quick)."""
    return data_inputs.load(data_inputs.Config(dataset="digits", preprocess="gcn"), 16, log=lambda *_: None)


def tiny_model():
    keras.utils.set_random_seed(0)
    images = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv1")(images)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(images, keras.layers.Dense(10, activation="softmax", name="fc")(x))


def config(workdir, **overrides):
    values = dict(workdir=str(workdir), batch_size=32, train_steps=8, learning_rate=0.05, checkpoint_every_steps=4,
                  log_every_steps=1, eval_batch_size=360, keep_checkpoints=2)
    return Config(**dict(values, **overrides))


def train(strategy, digits, workdir, log=None, **overrides):
    trainer = Trainer(config(workdir, **overrides), strategy, tiny_model, digits, RUN_INFO,
                      log=(lambda *_: None) if log is None else log.append)
    return trainer, trainer.train()


@pytest.mark.parametrize("strategy_name", ["default", "two_cpus"])
def test_loss_falls_and_a_checkpoint_resumes_on_the_same_step_and_weights(strategy_name, digits, two_cpu_strategy,
                                                                         tmp_path, scalars):
    import tensorflow as tf

    strategy = two_cpu_strategy if strategy_name == "two_cpus" else tf.distribute.get_strategy()
    trainer, outcome = train(strategy, digits, tmp_path / "run")
    assert trainer.replicas == (2 if strategy_name == "two_cpus" else 1)
    assert outcome.step == 8 and outcome.checkpoint.endswith("ckpt-8") and outcome.stopped_by is None
    losses = [v for _, v in scalars(str(tmp_path / "run" / "train"))[0]["loss"]]
    assert len(losses) == 8 and np.mean(losses[-3:]) < np.mean(losses[:3])
    assert outcome.report["examples"] == 360

    # A new trainer on the same workdir restores step 8 and the same weights: nothing is left to do.
    log = []
    again, resumed = train(strategy, digits, tmp_path / "run", log)
    assert resumed.step == 8 and int(again.step.numpy()) == 8
    assert f"resumed from {tmp_path / 'run' / 'checkpoints' / 'ckpt-8'} (step 8)" in log
    assert "nothing to do: the checkpoint is at step 8 of 8" in log
    for a, b in zip(trainer.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)

    # Asked for 4 more steps, it continues from 8 to 12.
    _, longer = train(strategy, digits, tmp_path / "run", train_steps=12)
    assert longer.step == 12 and longer.checkpoint.endswith("ckpt-12")
    assert sorted(p for p in os.listdir(tmp_path / "run" / "checkpoints") if p.endswith(".index")) == [
        "ckpt-12.index", "ckpt-8.index"]  # keep_checkpoints=2


def test_a_batch_the_replicas_cannot_share_is_refused_before_anything_is_written(digits, two_cpu_strategy,
                                                                                 tmp_path):
    with pytest.raises(ValueError, match="--batch_size=31 is not divisible by the 2 replicas of the "
                                         "MirroredStrategy: use a multiple of 2"):
        Trainer(config(tmp_path / "run", batch_size=31), two_cpu_strategy, tiny_model, digits, RUN_INFO)
    assert not (tmp_path / "run").exists()
