"""python -m figures end to end on a digits run: the PNG files, and a report whose confusion matrix rows sum to the
test split's class counts."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from data import digits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_figures_from_a_run_and_from_its_export(tmp_path, run_train):
    workdir, export = tmp_path / "run", tmp_path / "run" / "export"
    assert run_train("--flagfile=configs/smoke.flags", f"--workdir={workdir}", f"--export_dir={export}") is None
    out = tmp_path / "figures"
    result = subprocess.run([sys.executable, "-m", "figures", f"--workdir={workdir}", f"--out={out}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(out)) == ["confusion_matrix.png", "conv1_kernels.png", "nearest_neighbours.png",
                                       "report.json"]
    for name in ("confusion_matrix.png", "conv1_kernels.png", "nearest_neighbours.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text())
    _, labels = digits.load("test")
    matrix = np.array(report["confusion_matrix"])
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    assert np.trace(matrix) == report["top1_correct"] and len(report["per_class_top1"]) == 10

    served = tmp_path / "served"
    result = subprocess.run([sys.executable, "-m", "figures", f"--saved_model={export}", f"--out={served}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(served)) == ["confusion_matrix.png", "conv1_kernels.png", "nearest_neighbours.png",
                                          "report.json"]
    assert json.loads((served / "report.json").read_text())["confusion_matrix"] == report["confusion_matrix"]
    result = subprocess.run([sys.executable, "-m", "figures", f"--out={served}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode != 0 and result.stderr.strip().splitlines()[-1].startswith(
        "python -m figures: error: give exactly one of --workdir")
