"""Exact top-1 / top-5 evaluation over every example of a split, and its report (table and JSON).

Shared by evaluate.py (``evaluation.score``) and the trainer's validation. Counts are integers accumulated batch by
batch; the example count is checked against the split's size, so a dropped or duplicated batch is an error, not a
quietly wrong accuracy.
"""

import json

import numpy as np

from common.files import atomic_write


def top_k_hits(scores, labels, k):
    """Number of rows whose label is among the ``k`` highest scores (k clipped to the number of classes).

    Ties are broken towards the lower class index, as ``np.argsort(-scores, kind="stable")`` orders them.
    """
    scores = np.asarray(scores)
    k = min(k, scores.shape[-1])
    top = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    return int((top == np.asarray(labels)[:, None]).any(axis=-1).sum())


def evaluate(predict, dataset, expected_count=None, with_loss=False):
    """Run ``predict(images) -> scores`` over ``dataset`` (batches of (images, labels)) and count top-1/top-5.

    ``scores`` are probabilities or logits of shape (batch, classes), or probabilities of shape
    (batch, crops, classes), averaged over the crops (the paper's 10-crop test) before ranking.
    ``with_loss`` (scores must be probabilities) adds the mean cross-entropy, -log p[label] with p clipped to
    [1e-7, 1] as Keras' loss clips it.
    """
    count = top1 = top5 = 0
    loss = 0.0
    for images, labels in dataset:
        scores = np.asarray(predict(images))
        if scores.ndim == 3:
            scores = scores.mean(axis=1)
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[-1]):
            raise ValueError(f"labels {labels.min()}..{labels.max()} are outside the model's {scores.shape[-1]} "
                             "classes: the dataset and the model do not match.")
        count += len(labels)
        if with_loss:
            picked = scores[np.arange(len(labels)), labels.astype(np.int64)]
            loss -= float(np.log(np.clip(picked.astype(np.float64), 1e-7, 1.0)).sum())
        top1 += top_k_hits(scores, labels, 1)
        top5 += top_k_hits(scores, labels, 5)
    if expected_count is not None and count != expected_count:
        raise RuntimeError(f"evaluated {count} examples but the split has {expected_count}")
    if count == 0:
        raise ValueError("the evaluation split is empty")
    report = {"examples": count, "top1_correct": top1, "top5_correct": top5,
              "top1_accuracy": top1 / count, "top5_accuracy": top5 / count,
              "top1_error": 1 - top1 / count, "top5_error": 1 - top5 / count}
    if with_loss:
        report["loss"] = loss / count
    return report


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
