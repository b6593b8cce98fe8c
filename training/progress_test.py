"""The weight histograms: the same buckets as tf.summary.histogram, without its size x 30 one-hot matrix."""

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.histogram import summary_v2

from training import progress


@pytest.mark.parametrize("data", [
    np.random.default_rng(0).normal(size=(37, 11, 3)).astype(np.float32),  # a kernel's shape
    np.array([0.0, 1.0, 1.0, 3.0, 3.0, 3.0]),  # the maximum on an edge, into the last bucket
    np.full([5], 0.25, np.float32),  # one value: all in the last bucket, every edge that value
    np.random.default_rng(1).integers(-4, 4, 1000).astype(np.float32),  # many values on bucket edges
])
def test_buckets_equal_tensorboards_and_numpys(data):
    ours = progress.histogram_buckets(tf.constant(data)).numpy()
    np.testing.assert_array_equal(ours, summary_v2._buckets(tf.constant(data), 30).numpy())  # the one-hot version
    assert ours.shape == (30, 3) and ours[:, 2].sum() == data.size
    if data.min() < data.max():  # numpy: 30 equal bins between the extremes, the last one closed
        counts, edges = np.histogram(data.astype(np.float64), bins=30)
        np.testing.assert_array_equal(ours[:, 2], counts)
        np.testing.assert_allclose(ours[:, 0], edges[:-1], rtol=1e-12)
        np.testing.assert_allclose(ours[:, 1], edges[1:], rtol=1e-12)


def test_tensorboard_reads_the_summary_as_a_histogram(tmp_path):
    data = np.random.default_rng(2).uniform(-1, 1, size=1000)
    with tf.summary.create_file_writer(str(tmp_path)).as_default(step=3):
        progress.write_histogram("conv1/kernel", tf.constant(data))
    events = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={event_accumulator.TENSORS: 0})
    events.Reload()
    (event,) = events.Tensors("conv1/kernel")
    assert event.step == 3
    np.testing.assert_array_equal(tf.make_ndarray(event.tensor_proto), progress.histogram_buckets(data).numpy())
    assert events.SummaryMetadata("conv1/kernel").plugin_data.plugin_name == "histograms"
