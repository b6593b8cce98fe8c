"""The trainer in process (training/loop.py): a small model on the digits under the default strategy and under a
MirroredStrategy over two logical CPUs (conftest.py makes them): the loss falls, a checkpoint resumes on the same
step and weights, and a global batch the replicas cannot share is refused by the trainer itself. The training
step, validation and evaluation count top-1 by one rule and report the examples with all scores tied and the dead
classes as NumPy counts them."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from data import inputs as data_inputs
from evaluation import metrics
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
                                                                         tmp_path, scalars, monkeypatch):
    strategy = two_cpu_strategy if strategy_name == "two_cpus" else tf.distribute.get_strategy()
    saved, save = [], tf.train.CheckpointManager.save

    def spy(manager, checkpoint_number=None, **kwargs):
        saved.append((os.path.basename(manager.directory), int(checkpoint_number.numpy())))
        return save(manager, checkpoint_number, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", spy)
    trainer, outcome = train(strategy, digits, tmp_path / "run")
    # steps 4 and 8 saved once each: the run's last step by the end of the run only (a second save would rewrite a
    # checkpoint the state file already names, under its readers), the best one beside them
    assert sorted(saved) == [("best", 8), ("checkpoints", 4), ("checkpoints", 8)], saved
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


def test_a_batch_the_replicas_cannot_share_is_refused_by_the_trainer(digits, two_cpu_strategy,
                                                                                 tmp_path):
    with pytest.raises(ValueError, match="--batch_size=31 is not divisible by the 2 replicas of the "
                                         "MirroredStrategy: use a multiple of 2"):
        Trainer(config(tmp_path / "run", batch_size=31), two_cpu_strategy, tiny_model, digits, RUN_INFO)


# ------------------------------------------------------------------------------ one top-k rule, dead outputs
def brightness_model(threshold, dead=(8, 9)):
    """Class scores from an image's mean brightness m: class j < 8 gets (j + 1) * relu(m - threshold), the classes
    in ``dead`` a unit behind its ReLU at zero for every image. Every image darker than ``threshold`` therefore has
    all ten scores tied at zero (a uniform softmax), as All-CNN's dead class convolutions give."""
    images = keras.Input((16, 16, 3))
    brightness = keras.layers.GlobalAveragePooling2D()(images)  # (m, m, m) for the grey digits
    scale = np.array([0.0 if j in dead else (j + 1) / 3 for j in range(10)], np.float32)
    offset = np.array([-1.0 if j in dead else -(j + 1) * threshold for j in range(10)], np.float32)
    layer = keras.layers.Dense(10, activation="relu", name="class_layer")
    scores = layer(brightness)
    layer.set_weights([np.tile(scale, (3, 1)), offset])
    return keras.Model(images, keras.layers.Activation("softmax", name="predictions")(scores))


def numpy_figures(images, labels, threshold, dead=(8, 9)):
    """(top-1 hits, examples with all scores tied) of ``brightness_model`` worked out in NumPy: a tied example
    answers class 0 (index order), any other the largest multiplier still alive (class 7)."""
    m = images.astype(np.float64).mean(axis=(1, 2, 3))
    tied = m <= threshold
    alive = [j for j in range(10) if j not in dead]
    return int(np.where(tied, labels == 0, labels == max(alive)).sum()), int(tied.sum())


def test_training_step_validation_and_evaluation_count_alike_and_see_the_dead_outputs(tmp_path, scalars):
    raw = data_inputs.load(data_inputs.Config(dataset="digits", preprocess="none"), 16, log=lambda *_: None)
    (train_x, train_y), (test_x, test_y) = raw._train, raw._eval
    m = np.sort(train_x.astype(np.float64).mean(axis=(1, 2, 3)))
    gap = int(np.argmax(np.diff(m[600:800]))) + 600  # a threshold halfway across a gap near the median
    threshold = (m[gap] + m[gap + 1]) / 2
    # batch 479: three steps are the whole training split once (1,437 = 3 x 479); the rate is too small to move
    # a weight, so every step sees the same network
    trainer = Trainer(config(tmp_path / "run", batch_size=479, train_steps=3, log_every_steps=3,
                             learning_rate=1e-30, weight_decay=0.0, bias_weight_decay=0.0),
                      tf.distribute.get_strategy(), lambda: brightness_model(threshold), raw, RUN_INFO,
                      log=lambda *_: None)
    outcome = trainer.train()
    train_hits, train_tied = numpy_figures(train_x, train_y, threshold)
    test_hits, test_tied = numpy_figures(test_x, test_y, threshold)
    assert 0 < train_tied < 1437 and 0 < test_tied < 360  # both kinds of example on both splits

    figures = {tag: values[-1] for tag, values in scalars(str(tmp_path / "run" / "train"))[0].items()}
    assert figures["top1_error"] == (3, pytest.approx(1 - train_hits / 1437))
    assert figures["tied_outputs"] == (3, pytest.approx(train_tied / 1437))
    validation = {tag: values[-1][1] for tag, values in scalars(str(tmp_path / "run" / "validation"))[0].items()}
    assert validation["top1_error"] == pytest.approx(1 - test_hits / 360)
    assert validation["tied_outputs"] == pytest.approx(test_tied / 360) and validation["dead_classes"] == 2
    assert outcome.report["top1_correct"] == test_hits and outcome.report["dead_classes"] == 2
    # evaluate.py's counting (evaluation.metrics.evaluate) on the training split: the training step's figure
    report = metrics.evaluate(trainer._predict, raw.eval_dataset(100, "train"), expected_count=1437)
    assert (report["top1_correct"], report["tied_examples"], report["dead_classes"]) == (train_hits, train_tied, 2)


def test_a_network_with_all_outputs_tied_scores_chance_not_100_percent_and_is_warned_about(tmp_path, scalars):
    raw = data_inputs.load(data_inputs.Config(dataset="digits", preprocess="none"), 16, log=lambda *_: None)
    log = []
    trainer = Trainer(config(tmp_path / "run", batch_size=479, train_steps=3, log_every_steps=3),
                      tf.distribute.get_strategy(), lambda: brightness_model(1e9), raw, RUN_INFO, log=log.append)
    outcome = trainer.train()
    zeros = int((raw._train[1] == 0).sum())  # every example tied: top-1 is class 0, top-5 classes 0..4
    figures = {tag: values[-1][1] for tag, values in scalars(str(tmp_path / "run" / "train"))[0].items()}
    assert figures["top1_error"] == pytest.approx(1 - zeros / 1437) and figures["tied_outputs"] == 1.0
    assert figures["top5_error"] == pytest.approx(1 - (raw._train[1] < 5).sum() / 1437)
    # validation (the test split) and evaluate.py's counting (the training split) by the same rule
    assert outcome.report["top1_correct"] == int((raw._eval[1] == 0).sum()) and outcome.report["dead_classes"] == 10
    assert metrics.evaluate(trainer._predict, raw.eval_dataset(100, "train"))["top1_correct"] == zeros
    warnings = [line for line in log if line.startswith("warning: after epoch 1, 100% of the training examples had "
                                                        "all class scores tied")]
    assert len(warnings) == 1


class StopAtStep:
    """Stands for preemption.StopRequest: a SIGTERM that arrives while step ``at`` (0-based) is being trained."""

    def __init__(self, trainer, at):
        self.trainer, self.at = trainer, at

    @property
    def signal(self):
        return "SIGTERM" if int(self.trainer.step.numpy()) >= self.at else None


def test_a_stop_on_an_epochs_last_step_saves_and_the_rerun_validates_that_epoch_first(digits, tmp_path, scalars):
    log = []
    trainer = Trainer(config(tmp_path / "run", batch_size=479, train_steps=6), tf.distribute.get_strategy(),
                      tiny_model, digits, RUN_INFO, log=log.append)  # 3 steps an epoch
    trainer._prepare_workdir()
    stopped = trainer._train(StopAtStep(trainer, 2))
    assert (stopped.stopped_by, stopped.step) == ("SIGTERM", 3) and stopped.checkpoint.endswith("ckpt-3")
    assert not any(line.startswith("validation after") for line in log)  # it stopped before the validation
    log.clear()
    _, finished = train(tf.distribute.get_strategy(), digits, tmp_path / "run", log, batch_size=479, train_steps=6)
    assert log.index("validating epoch 1, which the stop at its last step left out") < log.index(
        next(line for line in log if line.startswith("epoch 2/2 step") or line.startswith("epoch 2/2 done")))
    assert [line.split(" (")[0] for line in log if line.startswith("validation after")] == [
        "validation after epoch 1", "validation after epoch 2"]
    assert [step for step, _ in scalars(str(tmp_path / "run" / "validation"))[0]["top1_error"]] == [3, 6]
    assert finished.step == 6
