"""Exact top-1 / top-5 evaluation over every example of a split, and its report (table and JSON).

Shared by evaluate.py (``evaluation.score``), the trainer's validation and the trainer's step (``top_k_hits`` and
``tied_rows``, per replica). Counts are integers accumulated batch by batch; the example count is checked against
the split's size, so a dropped or duplicated batch is an error, not a quietly wrong accuracy.

The top-k rule, the one every count of the project uses: an example is a top-k hit when its label is among the k
classes ranked first, classes of equal score ranking in index order (the lower index first). That is the order of
``tf.math.top_k`` and of ``np.argsort(-scores, kind="stable")``, so a hit means exactly "the label is among the k
classes the model returns" (the SavedModel's ``classes`` output included). A tie never counts for every tied class
at once: a network whose outputs are all equal scores, in top-1, the share of its examples labelled 0, as the class
it would answer; ``tf.math.in_top_k``, which counts every class tied at the k-th place as a hit, scored it 100%.
Counting ties as misses instead would under-report such a network (0%) and differ from what it serves.

The confusion matrix counts, for each label (row), the class ranked first (column) under the same rule; its rows sum
to the class counts (but for examples whose scores are all NaN, which answer nothing: ``unanswered``) and its
diagonal to the top-1 hits. ``confusion_summary`` turns it into the report's per-class
top-1, most-confused pairs and, for up to ``MATRIX_CLASSES`` classes, the matrix itself.

Dead outputs: ``tied_rows`` counts the examples whose class scores are all equal (All-CNN's class convolutions
behind a ReLU at zero give a uniform softmax); the report's ``dead_classes`` counts the classes whose class-layer
output is zero on every example of the pass.
"""

import json

import numpy as np
import tensorflow as tf

from common.files import atomic_write

# The evaluation batch of evaluate.py, the trainer's validation and benchmark.py --inference. 128 rather than 100:
# oneDNN's float32 matmul, at 100 rows, ran AlexNet's fc6 and fc7 at 192 and 213 GFLOP/s, at 128 rows at 340 and
# 353, of a 4096^3 matmul's ~425 (2-core Xeon with AVX-512, TF 2.21, 2026-12-03; EXPERIMENTS.md); the whole AlexNet
# forward pass at 0.78 and 0.85 of that peak. The batch changes no count: every example is scored.
EVAL_BATCH_SIZE = 128


def top_k_hits(scores, labels, k):
    """Number of rows (an int64 tensor) whose label is among the ``k`` classes ranked first under the module's rule.

    Computed without sorting: the label's rank is the number of classes scored above it plus those scored equal at
    a lower index, and a hit is a rank below ``k`` (so ``k`` beyond the class count counts every row). A label whose
    score is NaN is never a hit. Takes NumPy arrays or tensors; runs eagerly, in a tf.function and per replica."""
    scores = tf.convert_to_tensor(scores)
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    classes = tf.shape(scores)[-1]
    label_scores = tf.gather(scores, labels, axis=1, batch_dims=1)[:, None]
    before = tf.range(classes)[None, :] < labels[:, None]
    ahead = tf.logical_or(scores > label_scores, tf.logical_and(tf.equal(scores, label_scores), before))
    rank = tf.reduce_sum(tf.cast(ahead, tf.int32), axis=-1)
    hits = tf.logical_and(rank < k, tf.logical_not(tf.math.is_nan(label_scores[:, 0])))
    return tf.reduce_sum(tf.cast(hits, tf.int64))


def tied_rows(scores):
    """Number of rows (an int64 tensor) whose scores are all equal: a prediction with no preferred class."""
    scores = tf.convert_to_tensor(scores)
    return tf.reduce_sum(tf.cast(tf.equal(tf.reduce_max(scores, axis=-1), tf.reduce_min(scores, axis=-1)), tf.int64))


def evaluate(predict, dataset, expected_count=None, with_loss=False, on_batch=None):
    """Run ``predict(images)`` over ``dataset`` (batches of (images, labels)) and count top-1/top-5 hits.

    ``predict`` returns scores, or (scores, class-layer outputs). ``scores`` are probabilities or logits of shape
    (batch, classes), or probabilities of shape (batch, crops, classes), averaged over the crops (the paper's
    10-crop test) before ranking. The class-layer outputs (what feeds the softmax) add ``dead_classes`` to the
    report. ``with_loss`` (scores must be probabilities) adds the mean cross-entropy, -log p[label] with p clipped
    to [1e-7, 1] as Keras' loss clips it. ``on_batch(examples so far)`` is called after each batch (progress).
    """
    count = top1 = top5 = tied = unanswered = 0
    loss = 0.0
    confusion = None
    class_peak = None  # per class, the largest |class-layer output| of the pass
    for images, labels in dataset:
        outputs = predict(images)
        scores, class_outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs, None)
        scores = np.asarray(scores)
        if scores.ndim == 3:
            scores = scores.mean(axis=1)
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[-1]):
            raise ValueError(f"labels {labels.min()}..{labels.max()} are outside the model's {scores.shape[-1]} "
                             "classes: the dataset and the model do not match.")
        count += len(labels)
        if confusion is None:
            confusion = np.zeros((scores.shape[-1],) * 2, np.int64)
        # the class ranked first: NaN scores rank behind every number (as in top_k_hits), ties go to the lower
        # index; a row of NaN only answers nothing and is left out (``unanswered``)
        answered = ~np.isnan(scores).all(axis=-1)
        ranked_first = np.where(np.isnan(scores), -np.inf, scores).argmax(axis=-1)
        np.add.at(confusion, (labels.astype(np.int64)[answered], ranked_first[answered]), 1)
        unanswered += int((~answered).sum())
        if with_loss:
            picked = scores[np.arange(len(labels)), labels.astype(np.int64)]
            loss -= float(np.log(np.clip(picked.astype(np.float64), 1e-7, 1.0)).sum())
        top1 += int(top_k_hits(scores, labels, 1))
        top5 += int(top_k_hits(scores, labels, 5))
        tied += int(tied_rows(scores))
        if class_outputs is not None:
            peak = np.abs(np.asarray(class_outputs, np.float32)).reshape(-1, scores.shape[-1]).max(axis=0)
            class_peak = peak if class_peak is None else np.maximum(class_peak, peak)
        if on_batch is not None:
            on_batch(count)
    if expected_count is not None and count != expected_count:
        raise RuntimeError(f"evaluated {count} examples but the split has {expected_count}")
    if count == 0:
        raise ValueError("the evaluation split is empty")
    report = {"examples": count, "top1_correct": top1, "top5_correct": top5,
              "top1_accuracy": top1 / count, "top5_accuracy": top5 / count,
              "top1_error": 1 - top1 / count, "top5_error": 1 - top5 / count,
              "tied_examples": tied, "tied_outputs": tied / count, "confusion": confusion}
    if unanswered:
        report["unanswered"] = unanswered  # examples whose scores are all NaN: in no row of the matrix
    if class_peak is not None:
        report["dead_classes"] = int((class_peak == 0).sum())
    if with_loss:
        report["loss"] = loss / count
    return report


MATRIX_CLASSES = 20  # up to this many classes the report holds the whole confusion matrix (CIFAR-10, the digits)
CONFUSED_PAIRS = 10


def confusion_summary(confusion, class_names):
    """The report's view of a confusion matrix (rows: labels; columns: the class ranked first): each class's top-1
    accuracy by name (None for a class with no example), the ``CONFUSED_PAIRS`` most frequent (label, answered as,
    count) mistakes by name, and the matrix itself (a row per class, a column per output) for up to
    ``MATRIX_CLASSES`` outputs."""
    confusion = np.asarray(confusion)[:len(class_names)]  # rows: the labels (neon's padded outputs are no label)
    names = list(class_names) + [str(i) for i in range(len(class_names), confusion.shape[1])]
    totals = confusion.sum(axis=1)
    per_class = {names[i]: (float(confusion[i, i] / totals[i]) if totals[i] else None)
                 for i in range(confusion.shape[0])}
    mistakes = confusion.copy()
    np.fill_diagonal(mistakes, 0)
    order = np.argsort(-mistakes, axis=None, kind="stable")[:CONFUSED_PAIRS]
    pairs = [{"label": names[i], "answered": names[j], "count": int(mistakes[i, j])}
             for i, j in zip(*np.unravel_index(order, mistakes.shape)) if mistakes[i, j]]
    summary = {"per_class_top1": per_class, "most_confused": pairs}
    if confusion.shape[1] <= MATRIX_CLASSES:
        summary["confusion_matrix"] = confusion.tolist()
    return summary


def format_table(report, title):
    """A small table of the report's accuracies and errors, with the counts they come from."""
    n = report["examples"]
    lines = [title, f"{'':8}{'accuracy':>10}{'error':>10}{'correct':>16}"]
    for k in (1, 5):
        lines.append(f"{f'top-{k}':8}{report[f'top{k}_accuracy']:>10.2%}{report[f'top{k}_error']:>10.2%}"
                     f"{report[f'top{k}_correct']:>9,} / {n:,}")
    return "\n".join(lines)


def write_json(report, path):
    """Write ``report`` to ``path`` atomically (a temporary file renamed into place)."""
    with atomic_write(path) as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")
