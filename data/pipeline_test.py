"""The in-memory pipelines: evaluation keeps every example, training drops the remainder and is seeded."""

import numpy as np
import pytest
import tensorflow as tf

from data import pipeline
from data.whitening import global_contrast_normalize


def _first_batches(ds, n):
    return [y.numpy() for _, y in ds.take(n)]


def test_training_batches_are_full_shuffled_seeded_and_repeat():
    images, labels, _ = pipeline.load_arrays("digits", "train")
    ds = pipeline.array_dataset(images, labels, 100, training=True, seed=3)
    batches = _first_batches(ds, 30)  # 30 * 100 > 1,437: it repeats
    assert all(len(b) == 100 for b in batches)
    again = _first_batches(pipeline.array_dataset(images, labels, 100, training=True, seed=3), 30)
    other = _first_batches(pipeline.array_dataset(images, labels, 100, training=True, seed=4), 30)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other))
    assert not np.array_equal(batches[0], labels[:100])  # shuffled
    first_epoch = np.concatenate(batches)[:1400]
    assert abs(np.bincount(first_epoch, minlength=10) - np.bincount(labels)).max() <= 37  # without replacement


def test_gcn_zca_preprocessing_is_gcn_then_the_training_split_zca(tmp_path):
    train, _, _ = pipeline.load_arrays("digits", "train")
    zca, preprocess = pipeline.gcn_zca(train, bias=0.1, cache_path=tmp_path / "zca.npz")
    batch = train[:8]
    expected = zca.apply(global_contrast_normalize(batch))
    np.testing.assert_allclose(preprocess(tf.constant(batch)).numpy(), expected, rtol=1e-3, atol=1e-3)
    assert zca.count == 1437 and (tmp_path / "zca.npz").exists()


def test_bad_arguments():
    images, labels, _ = pipeline.load_arrays("digits", "test")
    with pytest.raises(ValueError, match="batch_size=0 is invalid"):
        pipeline.array_dataset(images, labels, 0, training=False)
    with pytest.raises(ValueError, match="batch_size=500 is larger than the 360 training images"):
        pipeline.array_dataset(images, labels, 500, training=True)
    with pytest.raises(ValueError, match="dataset='cifar100' is invalid; valid datasets: digits, cifar10, "
                                         "cifar10_pickle"):
        pipeline.load_arrays("cifar100", "train")
