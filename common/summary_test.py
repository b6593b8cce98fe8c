"""The layer tables printed by ``python -m alexnet``, ``python -m allcnn`` and ``train.py``."""

import os
import subprocess
import sys

import pytest

import allcnn
from common.summary import layer_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_layer_table_lists_every_layer_with_shape_neurons_and_params():
    table = layer_table(allcnn.build("all_cnn_c"), title="All-CNN-C")
    lines = table.splitlines()
    assert lines[0] == "All-CNN-C"
    conv1 = next(line for line in lines if line.startswith("conv1 "))
    assert conv1.split() == ["conv1", "Conv2D", "32x32x96", "98,304", "2,688"]
    assert lines[-1] == "total parameters: 1,369,738"


@pytest.mark.slow
def test_python_m_allcnn_prints_the_requested_variant():
    result = run("-m", "allcnn", "all_cnn_c", "neon")
    assert result.returncode == 0, result.stderr
    assert "total parameters: 1,369,738" in result.stdout and "total parameters: 1,369,632" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("module", ["alexnet", "allcnn"])
def test_python_m_rejects_an_unknown_variant(module):
    result = run("-m", module, "resnet")
    assert result.returncode != 0
    assert "unknown" in result.stderr and "'resnet'; valid variants:" in result.stderr


@pytest.mark.slow
def test_train_entry_point_checks_the_variant(tmp_path):
    result = run("train.py", "--model=alexnet", "--variant=bogus", f"--workdir={tmp_path / 'run'}")
    assert result.returncode != 0
    assert "--variant='bogus' is not one of the alexnet variants: paper, paper_convnet2, paper_untowered, bvlc" in \
        result.stderr
    assert not (tmp_path / "run").exists()
