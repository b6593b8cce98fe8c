"""What a run shows while it trains: a progress bar per epoch (a terminal) or periodic log lines (a file or pipe),
and the TensorBoard summaries in the workdir (``tensorboard --logdir <workdir>``).

TensorBoard (the chief only): ``train/`` has loss, top1_error, top5_error and tied_outputs (the share of examples
whose class scores are all tied) over the last logging interval, learning_rate and bias_learning_rate,
images_per_sec, the first augmented training images (as a person sees them, and as the network receives them), and
weight histograms with each validation; ``validation/`` has loss, top1_error, top5_error, tied_outputs and
dead_classes (classes whose class-layer output is zero on every example) per evaluation, and the figures
(``figures``: the first layer's kernels, the nearest neighbours with top-5 bars, the confusion matrix for up to 20
classes). Top-k counts follow evaluation.metrics' one rule.
"""

import datetime
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.histogram import metadata as histogram_metadata

HISTOGRAM_BUCKETS = 30  # tf.summary.histogram's default


def histogram_buckets(data, buckets=HISTOGRAM_BUCKETS):
    """The [buckets, 3] (left edge, right edge, count) tensor ``tf.summary.histogram`` writes, counted with bincount.

    TensorBoard's own ``_buckets`` counts through a one-hot matrix of size x buckets float64s: 9 GB for AlexNet's
    fc6 kernel (37.7M weights) and 4 GB for fc7, allocated with every validation (measured: ~20 s of a mocked
    AlexNet epoch on 2 CPU cores; on a GPU that much memory at once can fail the run). The same rule here: buckets of
    equal width between the minimum and the maximum, the maximum in the last; all of one value in the last bucket.
    """
    data = tf.reshape(tf.cast(data, tf.float64), [-1])
    low, high = tf.reduce_min(data), tf.reduce_max(data)
    width = (high - low) / buckets
    if float(width) == 0.0:
        edges = tf.fill([buckets], high)
        counts = tf.concat([tf.zeros([buckets - 1], tf.float64), [tf.cast(tf.size(data), tf.float64)]], 0)
        return tf.stack([edges, edges, counts], axis=1)
    index = tf.minimum(tf.cast(tf.floor((data - low) / width), tf.int32), buckets - 1)
    counts = tf.cast(tf.math.bincount(index, minlength=buckets, maxlength=buckets), tf.float64)
    edges = tf.concat([tf.linspace(low, high, buckets + 1)[:-1], [high]], 0)
    return tf.stack([edges[:-1], edges[1:], counts], axis=1)


def write_histogram(name, data):
    """``tf.summary.histogram(name, data)`` (the same summary, shown by TensorBoard alike) without its one-hot."""
    return tf.summary.write(name, histogram_buckets(data),
                            metadata=histogram_metadata.create_summary_metadata(display_name=None, description=None))


class Interval:
    """Training figures accumulated since the last report."""

    def __init__(self):
        self.start, self.steps, self.loss, self.images = time.monotonic(), 0, 0.0, 0
        self.top1 = self.top5 = self.tied = 0

    def add(self, loss, top1, top5, tied, images):
        self.steps += 1
        self.loss += loss
        self.top1 += top1
        self.top5 += top5
        self.tied += tied
        self.images += images

    def report(self):
        elapsed = max(time.monotonic() - self.start, 1e-9)
        n = max(self.images, 1)
        return {"loss": self.loss / max(self.steps, 1), "top1_error": 1 - self.top1 / n,
                "top5_error": 1 - self.top5 / n, "tied_outputs": self.tied / n, "images_per_sec": self.images / elapsed}


class Bar:
    """One epoch's progress: keras' Progbar on a terminal, else a log line every ``every`` steps."""

    def __init__(self, epoch, epochs, steps, done, steps_per_epoch, batch_size, log=print, every=50, tty=None):
        self.epoch, self.epochs, self.steps, self.log, self.every = epoch, epochs, steps, log, every
        self.position, self.end, self.batch_size = done, done + steps, batch_size
        self.start, self.count = time.monotonic(), 0
        tty = sys.stdout.isatty() if tty is None else tty
        self.progbar = None
        if tty:
            log(f"epoch {epoch}/{epochs}")
            self.progbar = keras.utils.Progbar(steps_per_epoch, stateful_metrics=["loss", "top-1", "img/s"])
            if done:
                self.progbar.update(done)

    def update(self, loss, interval):
        self.position += 1
        self.count += 1
        elapsed = time.monotonic() - self.start
        rate = self.count * self.batch_size / max(elapsed, 1e-9)
        figures = interval.report()
        if self.progbar is not None:
            self.progbar.update(self.position, [("loss", loss), ("top-1", 1 - figures["top1_error"]),
                                                ("img/s", rate)])
        elif self.count % self.every == 0 or self.position == self.end:
            eta = datetime.timedelta(seconds=round((self.end - self.position) * elapsed / self.count))
            self.log(f"epoch {self.epoch}/{self.epochs} step {self.position}/{self.end}: loss {loss:.4f}, "
                     f"top-1 {1 - figures['top1_error']:.2%}, {rate:,.1f} images/s, ETA {eta}")

    def done(self, checkpoint):
        elapsed = time.monotonic() - self.start
        where = f"; checkpoint {checkpoint}" if checkpoint else ""
        self.log(f"epoch {self.epoch}/{self.epochs} done in {elapsed:.1f} s "
                 f"({self.count * self.batch_size / max(elapsed, 1e-9):,.1f} images/s){where}")


def grid(images, columns=4):
    """A batch (N, H, W, C) in 0..1 tiled into one image (1, rows*H, columns*W, C), blank cells padded."""
    n = images.shape[0]
    rows = -(-n // columns)
    pad = rows * columns - n
    images = tf.concat([images, tf.zeros([pad] + images.shape[1:], images.dtype)], 0) if pad else images
    height, width, channels = images.shape[1:]
    tiled = tf.reshape(images, [rows, columns, height, width, channels])
    tiled = tf.transpose(tiled, [0, 2, 1, 3, 4])
    return tf.reshape(tiled, [1, rows * height, columns * width, channels])


class Summaries:
    """TensorBoard writers in ``workdir/train`` and ``workdir/validation``; no-ops when ``workdir`` is None."""

    def __init__(self, workdir):
        if workdir:
            self.train_writer = tf.summary.create_file_writer(os.path.join(workdir, "train"))
            self.validation_writer = tf.summary.create_file_writer(os.path.join(workdir, "validation"))
        else:
            self.train_writer = self.validation_writer = tf.summary.create_noop_writer()

    def train(self, figures, rates, step):
        with self.train_writer.as_default(step=step):
            for name, value in figures.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("learning_rate", rates["weights"])
            tf.summary.scalar("bias_learning_rate", rates["biases"])

    def validation(self, report, step):
        with self.validation_writer.as_default(step=step):
            for name in ("loss", "top1_error", "top5_error", "tied_outputs", "dead_classes"):
                if name in report:
                    tf.summary.scalar(name, report[name])
        self.validation_writer.flush()

    def images(self, name, images, step):
        with self.train_writer.as_default(step=step):
            tf.summary.image(name, grid(images), max_outputs=1)

    def figures(self, images, step):
        """{name: uint8 (height, width, 3) image} under ``validation/``, one image each."""
        with self.validation_writer.as_default(step=step):
            for name, image in images.items():
                tf.summary.image(name, np.asarray(image)[None], max_outputs=1)
        self.validation_writer.flush()

    def histograms(self, model, step):
        with self.train_writer.as_default(step=step):
            for variable in model.trainable_variables:
                write_histogram(variable.path, variable)
        self.train_writer.flush()

    def close(self):
        self.train_writer.close()
        self.validation_writer.close()
