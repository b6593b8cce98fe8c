"""Timing the phases of a step (training/phases.py): the per-round arithmetic, interleaved rounds, the LRN phase,
and two replicas taking the same step as one device."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

import models
from training import phases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bprop_is_iteration_minus_fprop_minus_update_per_round():
    assert phases.bprop_times([1.0, 2.0], [0.5, 0.25], [4.0, 5.0]) == [2.5, 2.75]
    with pytest.raises(ValueError):
        phases.bprop_times([1.0], [0.5, 0.25], [4.0, 5.0])


def test_time_rounds_interleaves_phases_and_drops_the_warmup():
    calls, ticks = [], iter(range(100))
    functions = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = phases.time_rounds(functions, rounds=2, warmup=1, clock=lambda: next(ticks))
    assert calls == ["a", "b"] * 3  # round by round, warm-up included
    assert times == {"a": [1, 1], "b": [1, 1]}  # each call sees two clock reads one tick apart; round 1 dropped


def test_stats():
    s = phases.Stats.of([1.0, 3.0, 2.0, 6.0])
    assert (s.mean, s.median, s.min, s.max) == (3.0, 2.5, 1.0, 6.0)


def test_lrn_phase_runs_the_models_lrn_layers_at_their_activation_shapes():
    assert phases.lrn_phase(models.build("allcnn", "all_cnn_c"), 2) is None
    model = models.build("alexnet", "paper")
    run = phases.lrn_phase(model, 1)
    assert run is not None and bool(tf.math.is_finite(run()))
    assert [layer.input.shape[1:] for layer in model.layers if "lrn" in layer.name] == [(55, 55, 96), (27, 27, 256)]


# Two replicas' iteration (each on half the batch, the gradients all-reduced) must be one device's on the whole
# batch. A fresh process, because the logical CPUs must be made before TensorFlow starts; dropout off, because the
# replicas draw their own masks.
REPLICA_EQUALITY = """
import keras, numpy as np, tensorflow as tf
from training import distribute, phases
import models
distribute.split_cpu(2)
halves = phases.synthetic_batch

def whole_batch(shape, batch, classes, seed=0):  # what the two replicas see (seed + replica id), as one batch
    parts = [halves(shape, batch // 2, classes, seed + r) for r in (0, 1)]
    return tf.concat([p[0] for p in parts], 0), tf.concat([p[1] for p in parts], 0)

weights = {}
for name, strategy in (("one", tf.distribute.get_strategy()), ("two", distribute.make("mirrored"))):
    with strategy.scope():
        model = models.build("allcnn", "all_cnn_c", num_classes=10, image_size=12)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    if name == "two":
        model.set_weights(weights["before"])
    weights["before"] = model.get_weights()
    phases.synthetic_batch = whole_batch if name == "one" else halves
    phases.training_phases(model, 4, learning_rate=0.1, strategy=strategy)["iteration"]()
    weights[name] = model.get_weights()
print(max(np.abs(a - b).max() for a, b in zip(weights["one"], weights["before"])),
      max(np.abs(a - b).max() for a, b in zip(weights["one"], weights["two"])))
"""


@pytest.mark.slow
def test_two_replicas_take_the_same_step_as_one_device():
    result = subprocess.run([sys.executable, "-c", REPLICA_EQUALITY], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    moved, error = map(float, result.stdout.split()[-2:])
    assert moved > 1e-3  # the step changed the weights ...
    assert error < 1e-5 * moved  # ... and both ways alike, to float32 summation order
