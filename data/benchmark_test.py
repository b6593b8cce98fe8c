"""data/benchmark.py: every pipeline it names runs and gives a rate; a wrong name says which ones exist."""

import math

import pytest

from data import benchmark


@pytest.mark.parametrize("name", ["imagenet_eval", "imagenet_eval_ten"])
def test_evaluation_pipelines_give_a_rate(name):
    described, images_per_s = benchmark.measure(name, batch_size=2, batches=2, synthetic_images=4, log=None)
    assert described.startswith("synthetic JPEG folder")
    assert math.isfinite(images_per_s) and images_per_s > 0


def test_an_unknown_pipeline_names_the_valid_ones():
    with pytest.raises(ValueError, match="imagenet_eval_ten"):
        benchmark.measure("imagenet_tenn")
