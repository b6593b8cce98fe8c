"""tools/pipeline_benchmark.py runs from the command line and reports images/s per core."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # runs the command in a subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_imagenet_benchmark_reports_a_rate_per_core():
    result = subprocess.run(
        [sys.executable, "tools/pipeline_benchmark.py", "--pipeline=imagenet_train", "--synthetic_images=8",
         "--batch_size=4", "--batches=2", "--threads=1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"imagenet_train on synthetic JPEG folder .*: [\d,]+ images/s with 1 thread\(s\), "
                     r"[\d,]+ images/s per core", result.stdout)
