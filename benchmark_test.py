"""benchmark.py end to end: the JSON line of a real (tiny) run is consistent with itself and with the FLOPs
counted from the model, with one replica and two side by side; bad flags get one message."""

import json
import os
import subprocess
import sys

import pytest

import models
from common import flops

pytestmark = pytest.mark.slow  # every test runs benchmark.py in a subprocess

ROOT = os.path.dirname(os.path.abspath(__file__))
ALLCNN_STEP_GFLOP = flops.training_flops(models.build("allcnn", "all_cnn_c"), 4) / 1e9  # batch 4


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
    assert report["gflop_per_step"] == pytest.approx(ALLCNN_STEP_GFLOP)
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
    assert report["gflop_per_step"] == pytest.approx(ALLCNN_STEP_GFLOP)


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


@pytest.mark.slow
def test_inference_benchmark_json_line_is_consistent():
    # All-CNN-C's forward pass at batch 4, batch-1 latency, the SavedModel on 4 JPEGs: every figure agrees with the
    # others and with the FLOPs counted from the model
    result = subprocess.run(
        [sys.executable, "benchmark.py", "--inference", "--model=allcnn", "--batch_size=4", "--iterations=2",
         "--warmup=1", "--matmul_size=256", "--latency_calls=5", "--serving_batch=4"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    forward_gflop = flops.forward_flops(models.build("allcnn", "all_cnn_c")) / 1e9
    assert report["forward_gflop_per_image"] == pytest.approx(forward_gflop)
    assert report["images_per_second"] == pytest.approx(4 / (report["forward_ms"]["median"] / 1e3), rel=1e-3)
    assert report["gflop_per_second"] == pytest.approx(report["images_per_second"] * forward_gflop)
    assert report["fraction_of_matmul_peak"] == pytest.approx(
        report["gflop_per_second"] / report["matmul_gflop_per_second"])
    latency = report["latency_ms"]
    assert 0 < latency["min"] <= latency["median"] <= latency["p99"]
    served = report["serving"]
    assert served["batch_size"] == 4 and served["jpeg_size"] == 32
    assert served["images_per_second"] == pytest.approx(4 / (served["ms"]["saved_model"] / 1e3), rel=1e-3)
    assert served["of_keras_rate"] == pytest.approx(served["ms"]["keras"] / served["ms"]["saved_model"], rel=1e-3)
    assert served["preprocessing_share"] == pytest.approx(
        served["ms"]["preprocessing"] / served["ms"]["saved_model"], rel=1e-3)
    assert "SavedModel serving_default, 4 JPEGs of 32x32" in result.stdout
    refused = subprocess.run([sys.executable, "benchmark.py", "--inference", "--cpu_devices=2"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and refused.stderr.strip().splitlines()[-1] == (
        "benchmark.py: error: --cpu_devices times the training step; --inference times one device's forward pass, "
        "as evaluate.py runs it: leave it out.")
