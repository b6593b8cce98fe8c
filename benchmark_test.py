"""benchmark.py: FLOP counts against figures worked out by hand from the papers, the phase arithmetic, the neon
table and the JSON line of a real (tiny) run."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

import benchmark
import models
from common import flops
from training import phases

ROOT = os.path.dirname(os.path.abspath(__file__))


def conv_flops(out_size, kernel, in_channels, out_channels, groups=1):
    return 2 * out_size * out_size * out_channels * kernel * kernel * in_channels // groups


# AlexNet `paper` by hand (Krizhevsky et al. 2012, figure 2 and section 3.5): conv1 96@11x11x3 -> 55x55,
# conv2 256@5x5x48 -> 27x27 (two towers), conv3 384@3x3x256 -> 13x13, conv4 384@3x3x192 and conv5 256@3x3x192
# (two towers) -> 13x13, fc 9216-4096-4096-1000.
ALEXNET_LAYERS = [conv_flops(55, 11, 3, 96), conv_flops(27, 5, 96, 256, 2), conv_flops(13, 3, 256, 384),
                  conv_flops(13, 3, 384, 384, 2), conv_flops(13, 3, 384, 256, 2),
                  2 * 9216 * 4096, 2 * 4096 * 4096, 2 * 4096 * 1000]
# All-CNN-C by hand (Springenberg et al. 2014, Table 2): 3x3 convs 96, 96, 96/2 at 32 -> 32, 32, 16; 192, 192,
# 192/2 -> 16, 16, 8; 3x3 192 unpadded -> 6; 1x1 192 and 1x1 10 at 6x6.
ALLCNN_LAYERS = [conv_flops(32, 3, 3, 96), conv_flops(32, 3, 96, 96), conv_flops(16, 3, 96, 96),
                 conv_flops(16, 3, 96, 192), conv_flops(16, 3, 192, 192), conv_flops(8, 3, 192, 192),
                 conv_flops(6, 3, 192, 192), conv_flops(6, 1, 192, 192), conv_flops(6, 1, 192, 10)]


@pytest.mark.parametrize("family,variant,classes,by_hand,step_gflop", [
    ("alexnet", "paper", 1000, ALEXNET_LAYERS, 529.4),
    ("allcnn", "all_cnn_c", 10, ALLCNN_LAYERS, 207.3),
])
def test_flops_equal_the_hand_computed_figures(family, variant, classes, by_hand, step_gflop):
    model = models.build(family, variant, num_classes=classes)
    counted = [flops.layer_flops(layer) for layer in model.layers if flops.layer_flops(layer)]
    assert counted == by_hand
    assert flops.forward_flops(model) == sum(by_hand)
    # training = forward + twice the forward for the backward pass, without conv1's input gradient
    assert flops.training_flops(model, 128) == 128 * (3 * sum(by_hand) - by_hand[0])
    assert flops.training_flops(model, 128) / 1e9 == pytest.approx(step_gflop, abs=0.05)  # performance.md


def test_flops_of_an_ungrouped_alexnet_exceed_the_towers_by_the_groups_halving():
    # neon's and one_weird_trick's networks have no towers; bvlc has the paper's towers and the same FLOPs
    paper, bvlc = (flops.forward_flops(models.build("alexnet", v)) for v in ("paper", "bvlc"))
    assert paper == bvlc
    owt = flops.forward_flops(models.build("alexnet", "one_weird_trick"))
    assert owt / 1e9 == pytest.approx(1.428, abs=5e-4)  # performance.md: 1.428 GFLOP per image


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


def test_phase_table_and_all_table_layout():
    ms = {name: dict(mean=m + 10, median=m, min=m - 1, max=m + 11, std=0.5) for name, m in
          [("fprop", 33.5), ("bprop", 72.5), ("update", 9.3), ("iteration", 117.4)]}
    report = dict(model="alexnet", variant="neon_nolrn", ms=ms, images_per_second=1090.3, gflop_per_second=2.0,
                  fraction_of_matmul_peak=0.5)
    table = benchmark.phase_table(report)
    assert "| fprop       |   43.5 msec |   33.5 msec |      32.5 |      44.5 |" in table
    assert "lrn" not in table
    row = benchmark.all_table([report]).splitlines()[2]
    assert "alexnet neon_nolrn" in row and "neon (seed 000): 33.5/72.5/9.3/117.4" in row
    # ours: the median round, as the rates beside them
    assert [c.strip() for c in row.split("|")[2:9]] == ["34", "72", "9", "117", "1090.3", "2.0", "0.50"]


@pytest.mark.slow
def test_benchmark_runs_and_its_json_line_is_consistent():
    # All-CNN-C at batch 4 in bfloat16 against float32, with a small matmul: every figure of the last line must agree
    # with the others.
    result = subprocess.run(
        [sys.executable, "benchmark.py", "--model=allcnn", "--batch_size=4", "--iterations=2", "--warmup=1",
         "--matmul_size=256", "--precision=mixed_bfloat16", "--baseline_precision=float32"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    ms = report["ms"]
    assert ms["bprop"]["mean"] == pytest.approx(
        ms["iteration"]["mean"] - ms["fprop"]["mean"] - ms["update"]["mean"], abs=2e-3)
    assert report["gflop_per_step"] == pytest.approx(4 * (3 * sum(ALLCNN_LAYERS) - ALLCNN_LAYERS[0]) / 1e9)
    assert report["images_per_second"] == pytest.approx(4 / (ms["iteration"]["median"] / 1e3), rel=1e-3)
    assert report["fraction_of_matmul_peak"] == pytest.approx(
        report["gflop_per_second"] / report["matmul_gflop_per_second"])
    assert "| iteration   |" in result.stdout and "lrn" not in ms and "baseline" not in ms
    assert (report["precision"], report["baseline_precision"]) == ("mixed_bfloat16", "float32")
    assert report["speedup_over_baseline"] == pytest.approx(
        report["images_per_second"] / report["baseline_images_per_second"])
    assert "x the float32 iteration" in result.stdout


@pytest.mark.slow
def test_benchmark_with_replicas_side_by_side():
    result = subprocess.run(
        [sys.executable, "benchmark.py", "--model=allcnn", "--batch_size=4", "--iterations=2", "--warmup=1",
         "--matmul_size=256", "--cpu_devices=2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2 and "2 replicas side by side" in result.stdout
    ms = report["ms"]
    assert ms["bprop"]["mean"] == pytest.approx(
        ms["iteration"]["mean"] - ms["fprop"]["mean"] - ms["update"]["mean"], abs=2e-3)
    assert report["gflop_per_step"] == pytest.approx(4 * (3 * sum(ALLCNN_LAYERS) - ALLCNN_LAYERS[0]) / 1e9)


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


def test_two_replicas_take_the_same_step_as_one_device():
    result = subprocess.run([sys.executable, "-c", REPLICA_EQUALITY], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    moved, error = map(float, result.stdout.split()[-2:])
    assert moved > 1e-3  # the step changed the weights ...
    assert error < 1e-5 * moved  # ... and both ways alike, to float32 summation order


def test_benchmark_rejects_a_bad_variant():
    result = subprocess.run([sys.executable, "benchmark.py", "--model=allcnn", "--variant=paper"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "--variant='paper' is not one of the allcnn variants" in result.stderr


def test_benchmark_rejects_a_batch_the_replicas_cannot_share():
    result = subprocess.run([sys.executable, "benchmark.py", "--model=allcnn", "--batch_size=5", "--cpu_devices=2"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "--batch_size=5 does not split over --cpu_devices=2 replicas: use a multiple of 2" in result.stderr


def test_lrn_phase_runs_the_models_lrn_layers_at_their_activation_shapes():
    assert phases.lrn_phase(models.build("allcnn", "all_cnn_c"), 2) is None
    model = models.build("alexnet", "paper")
    run = phases.lrn_phase(model, 1)
    assert run is not None and bool(tf.math.is_finite(run()))
    assert [layer.input.shape[1:] for layer in model.layers if "lrn" in layer.name] == [(55, 55, 96), (27, 27, 256)]
