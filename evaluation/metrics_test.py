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


def numpy_top_k_hits(scores, labels, k):
    """The rule by sorting: the k first classes of a stable argsort of -scores (equal scores in index order)."""
    top = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    return int((top == labels[:, None]).any(axis=-1).sum())


def planted_ties(seed, rows=400, classes=10):
    """Scores with many ties: small integers, a quarter of the rows all equal, and labels often among the tied."""
    rs = np.random.RandomState(seed)
    scores = rs.randint(0, 4, size=(rows, classes)).astype(np.float32)
    scores[rs.rand(rows) < 0.25] = 0.5
    return scores, rs.randint(0, classes, rows)


@pytest.mark.parametrize("k", [1, 2, 5, 10, 12])
def test_ties_rank_in_index_order_as_numpy_and_tf_math_top_k_order_them(k):
    scores, labels = planted_ties(k)
    expected = numpy_top_k_hits(scores, labels, k)
    assert int(metrics.top_k_hits(scores, labels, k)) == expected
    # the same as "the label is among the classes tf.math.top_k returns" (the SavedModel's classes output)
    served = tf.math.top_k(scores, k=min(k, 10)).indices.numpy()
    assert expected == int((served == labels[:, None]).any(axis=-1).sum())
    # and never what tf.math.in_top_k counts on these ties (every class tied at the k-th place a hit)
    if k < 10:
        assert int(tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, scores, k), tf.int64))) > expected


def test_outputs_all_equal_score_the_share_labelled_0_not_100_percent():
    labels = np.array([0, 3, 0, 9, 5])
    uniform = np.full((5, 10), 0.1, np.float32)
    assert int(metrics.top_k_hits(uniform, labels, 1)) == 2  # classes 0 first
    assert int(metrics.top_k_hits(uniform, labels, 5)) == 3  # classes 0..4
    assert int(metrics.tied_rows(uniform)) == 5
    with_nan = uniform.copy()
    with_nan[1, 3] = np.nan  # a NaN score is never a hit
    assert int(metrics.top_k_hits(with_nan, labels, 10)) == 4  # never a hit, even of the top 10
    assert int(metrics.top_k_hits(with_nan, labels, 12)) == 4  # nor with k beyond the class count


def test_the_rule_is_the_same_per_replica_summed_over_two_replicas(two_cpu_strategy):
    scores, labels = planted_ties(7)
    halves = [(scores[:200], labels[:200]), (scores[200:], labels[200:])]
    values = two_cpu_strategy.experimental_distribute_values_from_function(
        lambda ctx: tuple(map(tf.constant, halves[ctx.replica_id_in_sync_group])))

    @tf.function
    def counts(values):
        per_replica = two_cpu_strategy.run(
            lambda pair: (metrics.top_k_hits(*pair, 1), metrics.top_k_hits(*pair, 5), metrics.tied_rows(pair[0])),
            args=(values,))
        return [two_cpu_strategy.reduce("SUM", v, axis=None) for v in per_replica]

    top1, top5, tied = (int(v) for v in counts(values))
    assert two_cpu_strategy.num_replicas_in_sync == 2
    assert (top1, top5) == (numpy_top_k_hits(scores, labels, 1), numpy_top_k_hits(scores, labels, 5))
    assert tied == int((scores.max(axis=1) == scores.min(axis=1)).sum())


def test_the_report_counts_tied_examples_and_dead_classes_as_numpy_does():
    scores, labels = planted_ties(3, rows=250)
    class_outputs = np.maximum(np.random.RandomState(4).normal(size=(250, 10)), 0).astype(np.float32)
    class_outputs[:, [2, 7]] = 0.0  # two classes at zero on every example
    class_outputs[17, 5] = 0.0  # zero on some examples only: alive
    batches = [(np.zeros((len(y), 1)), y) for y in np.split(labels, [100, 200])]
    parts = iter(zip(np.split(scores, [100, 200]), np.split(class_outputs, [100, 200])))
    report = metrics.evaluate(lambda _: next(parts), batches, expected_count=250)
    tied = int((scores.max(axis=1) == scores.min(axis=1)).sum())
    assert (report["tied_examples"], report["tied_outputs"], report["dead_classes"]) == (tied, tied / 250, 2)
    assert report["top1_correct"] == numpy_top_k_hits(scores, labels, 1)


def test_confusion_matrix_rows_sum_to_the_class_counts_and_its_diagonal_to_the_top1_hits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    scores = rng.normal(0, 1, (500, 10)).astype(np.float32)
    scores[::7] = 0.0  # all tied: answered as class 0
    batches = [(scores[i:i + 64], labels[i:i + 64]) for i in range(0, 500, 64)]
    report = metrics.evaluate(lambda x: x, batches, expected_count=500)
    confusion = report["confusion"]
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(labels, minlength=10))
    assert np.trace(confusion) == report["top1_correct"]
    expected = np.zeros((10, 10), np.int64)
    for label, row in zip(labels, scores):
        expected[label, np.argmax(row)] += 1  # np.argmax: the first of equal maxima, the module's rule
    np.testing.assert_array_equal(confusion, expected)
    names = [f"class{i}" for i in range(10)]
    summary = metrics.confusion_summary(confusion, names)
    assert summary["per_class_top1"]["class3"] == confusion[3, 3] / confusion[3].sum()
    first = summary["most_confused"][0]
    off = confusion - np.diag(np.diag(confusion))
    assert first["count"] == off.max() and names.index(first["label"]) != names.index(first["answered"])
    assert summary["confusion_matrix"] == confusion.tolist()
    big = metrics.confusion_summary(np.eye(30, dtype=np.int64), [f"n{i}" for i in range(30)])
    assert "confusion_matrix" not in big and big["most_confused"] == [] and big["per_class_top1"]["n29"] == 1.0


def test_confusion_leaves_rows_of_nan_unanswered_and_keeps_its_diagonal_equal_to_the_top1_hits():
    scores = np.array([[np.nan] * 4, [np.nan] * 4, [0.1, np.nan, 0.5, 0.2], [np.nan, 0.3, 0.2, 0.1],
                       [0.4, 0.1, 0.1, 0.1]], np.float32)
    labels = np.array([0, 1, 2, 0, 0])
    report = metrics.evaluate(lambda x: x, [(scores, labels)])
    assert report["unanswered"] == 2 and report["confusion"].sum() == 3
    assert np.trace(report["confusion"]) == report["top1_correct"] == 2  # rows 2 and 4; row 3's label is NaN
    # neon's 16 outputs for 10 classes: a row per class, a column per output
    padded = np.zeros((16, 16), np.int64)
    padded[:10, :10] = np.eye(10, dtype=np.int64) * 3
    padded[2, 12] = 1
    summary = metrics.confusion_summary(padded, [str(i) for i in range(10)])
    assert np.array(summary["confusion_matrix"]).shape == (10, 16) and len(summary["per_class_top1"]) == 10
    assert summary["most_confused"] == [{"label": "2", "answered": "12", "count": 1}]
