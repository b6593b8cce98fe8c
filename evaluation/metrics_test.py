"""Exact top-k counting (evaluation/metrics.py): against brute force, every example of a partial last batch, crops
averaged before ranking, bad labels and lost examples as errors."""

import numpy as np
import pytest
import tensorflow as tf

from data import pipeline
from evaluation import metrics


def test_top_k_hits_equals_brute_force():
    rs = np.random.RandomState(0)
    scores, labels = rs.normal(size=(500, 12)), rs.randint(0, 12, 500)
    for k in (1, 5):
        brute = sum(label in sorted(range(12), key=lambda c: -row[c])[:k] for row, label in zip(scores, labels))
        assert metrics.top_k_hits(scores, labels, k) == brute
    assert metrics.top_k_hits(scores[:, :3], np.zeros(500, int), 5) == 500  # k clipped to 3 classes


def _digits_test(batch_size):
    images, labels, _ = pipeline.load_arrays("digits", "test")
    return labels, pipeline.array_dataset(images, labels, batch_size, training=False)


def test_every_example_counts_with_a_partial_last_batch():
    labels, ds = _digits_test(batch_size=64)  # 360 = 5 * 64 + 40
    assert [len(y) for _, y in ds] == [64] * 5 + [40]
    oracle = iter([tf.one_hot(y, 10) for _, y in ds])
    report = metrics.evaluate(lambda images: next(oracle), ds, expected_count=360)
    assert (report["examples"], report["top1_correct"], report["top1_accuracy"]) == (360, 360, 1.0)
    always_zero = metrics.evaluate(lambda images: tf.one_hot(tf.zeros(len(images), tf.int32), 10), ds)
    assert always_zero["top1_correct"] == int((labels == 0).sum()) == 35
    assert always_zero["top5_correct"] == int((labels < 5).sum())  # ties rank the lower class indices first


def test_crops_are_averaged_before_ranking():
    # Two crops: class 2 wins one crop narrowly, class 1 wins the other clearly; the average picks class 1.
    scores = np.array([[[0.1, 0.4, 0.5], [0.1, 0.8, 0.1]]])
    ds = [(np.zeros((1, 2)), np.array([1]))]
    assert metrics.evaluate(lambda x: scores, ds)["top1_correct"] == 1


def test_bad_labels_and_lost_examples_are_errors():
    ds = [(np.zeros((2, 1)), np.array([0, 10]))]
    with pytest.raises(ValueError, match="labels 0..10 are outside the model's 10 classes"):
        metrics.evaluate(lambda x: np.ones((2, 10)), ds)
    with pytest.raises(RuntimeError, match="evaluated 2 examples but the split has 3"):
        metrics.evaluate(lambda x: np.ones((2, 10)), [(np.zeros((2, 1)), np.array([0, 1]))], expected_count=3)
