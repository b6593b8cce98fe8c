"""Global contrast normalization and ZCA whitening, as pylearn2 and neon prepared CIFAR-10 for All-CNN-C.

References ([neon-image.py-zca], [neon-231], [pylearn2-gcn], [pylearn2-zca], [maxout]):

* GCN, pylearn2 ``expr/preprocessing.py:global_contrast_normalize`` with ``scale=55`` (``CIFAR10(gcn=55.)``) and
  neon ``data/image.py`` (``X /= sqrt((X**2).sum(axis=1)) / 55``): per image, subtract the mean of all H*W*C values,
  divide by divisor = ||x||_2 / scale, where divisors below 1e-8 become 1.
* ZCA, pylearn2 ``preprocessing.ZCA``: mean and covariance of the training split, ``eigh(X~^T X~ / N + bias * I)``,
  matrix ``E diag(1 / sqrt(lambda)) E^T``; ``bias`` (pylearn2's filter_bias) is 0.1 there and in neon from v1.5.0 on,
  and 0 in neon v1.4.0, the version the seed's weights came from ([neon-231]). neon v1.4.0's ``np.cov`` divides by
  N - 1, pylearn2 by N; this module divides by N (a relative difference of 1/N, 2e-5 for CIFAR-10's 50,000).
  With ``bias=0`` the covariance of GCN'd data is singular (every image has mean 0, so the all-ones direction has
  eigenvalue 0, where neon v1.4.0's ``D**-.5`` produced inf or nan): directions whose eigenvalue is numerically zero
  (below 1e-10 of the largest) are dropped, i.e. the matrix is the pseudo-inverse square root, and the count is
  logged.
"""

import hashlib
import logging
import time

import numpy as np
import tensorflow as tf

from common import files

log = logging.getLogger(__name__)

GCN_SCALE = 55.0  # "Goodfellow" scale, pylearn2 make_cifar10_gcn_whitened.py and neon
MIN_DIVISOR = 1e-8
ZERO_EIGENVALUE = 1e-10  # relative to the largest eigenvalue
GCN_CHUNK = 4096  # images per float64 chunk in the NumPy GCN


def global_contrast_normalize(images, scale=GCN_SCALE, min_divisor=MIN_DIVISOR):
    """GCN of a batch of HxWxC images (NumPy array or tensor, any numeric dtype), per image over all values.

    Returns float32 (float64 for float64 NumPy input) of the same shape:
    x -> (x - mean(x)) / d with d = ||x - mean(x)||_2 / scale, and d = 1 where d < min_divisor.
    """
    if isinstance(images, (tf.Tensor, tf.Variable)):
        x = tf.cast(images, tf.float32)
        axes = tf.range(1, tf.rank(x))
        x = x - tf.reduce_mean(x, axis=axes, keepdims=True)
        divisor = tf.sqrt(tf.reduce_sum(tf.square(x), axis=axes, keepdims=True)) / scale
        return x / tf.where(divisor < min_divisor, tf.ones_like(divisor), divisor)
    images = np.asarray(images)
    flat = images.reshape(len(images), -1)
    out = np.empty(flat.shape, np.float64 if images.dtype == np.float64 else np.float32)
    for start in range(0, len(flat), GCN_CHUNK):  # float64 arithmetic one chunk at a time: memory stays bounded
        x = flat[start:start + GCN_CHUNK].astype(np.float64)
        x -= x.mean(axis=1, keepdims=True)
        divisor = np.sqrt((x ** 2).sum(axis=1, keepdims=True)) / scale
        divisor[divisor < min_divisor] = 1.0
        out[start:start + GCN_CHUNK] = x / divisor
    return out.reshape(images.shape)


def whiten(images, matrix, offset):
    """ZCA of a batch of image tensors given ``ZCA.tensors()`` (as tensors or variables, e.g. inside an export):
    one matrix product per batch, the shape kept, float32 out."""
    shape = tf.shape(images)
    flat = tf.reshape(tf.cast(images, tf.float32), [shape[0], -1])
    return tf.reshape(tf.matmul(flat, matrix) - offset, shape)


class _Fingerprint:
    """SHA-256 of a stream of image batches: their bytes, then the image shape, dtype and count. The same images
    give the same key however they are split into batches."""

    def __init__(self):
        self.digest, self.shape, self.dtype, self.count = hashlib.sha256(), None, None, 0

    def update(self, batch):
        if self.shape is None:
            self.shape, self.dtype = batch.shape[1:], batch.dtype
        elif batch.shape[1:] != self.shape or batch.dtype != self.dtype:
            raise ValueError(f"a batch of {batch.shape[1:]} {batch.dtype} images among {self.shape} {self.dtype}")
        self.digest.update(np.ascontiguousarray(batch).tobytes())
        self.count += len(batch)

    def key(self, bias):
        digest = self.digest.copy()  # the running digest stays as it is: key() may be asked again
        digest.update(f"{self.shape}{self.dtype}{self.count}".encode())
        return f"{digest.hexdigest()}:bias={float(bias)!r}"


def data_key(images, bias, chunk_size=2048):
    """The key ``ZCA.fit(images, bias)`` gives its statistics."""
    fp = _Fingerprint()
    for chunk in _chunks(images, chunk_size):
        fp.update(chunk)
    return fp.key(bias)


def _chunks(images, chunk_size):
    """An array is read in chunks of ``chunk_size`` images; anything else is taken as an iterable of batches."""
    if isinstance(images, np.ndarray):
        for start in range(0, len(images), chunk_size):
            yield images[start:start + chunk_size]
    else:
        for batch in images:
            yield np.asarray(batch)


class ZCA:
    """ZCA whitening fitted on a training split: ``apply(x) = (x - mean) @ matrix`` on flattened images."""

    def __init__(self, mean, matrix, bias, key="", count=0):
        self.mean = np.asarray(mean, np.float64)
        self.matrix = np.asarray(matrix, np.float64)
        self.bias = float(bias)
        self.key = key
        self.count = int(count)
        if self.matrix.shape != (self.mean.size, self.mean.size):
            raise ValueError(f"ZCA matrix shape {self.matrix.shape} does not match a mean of {self.mean.size} values")

    @classmethod
    def fit(cls, images, bias=0.1, chunk_size=2048):
        """Fit on ``images``: an (N, H, W, C) array, or an iterable of such batches (e.g. a tf.data iterator).

        Memory: one chunk at a time in float64 plus the D x D sums (D = H*W*C; 75 MB for CIFAR-10), never the
        whole set in float64. Logs progress (images, images/s) as it goes.
        """
        if not isinstance(bias, (int, float)) or bias < 0:
            raise ValueError(f"ZCA bias={bias!r} is invalid; valid values are floats >= 0 (pylearn2: 0.1, "
                             "neon v1.4.0: 0).")
        count, shift, total, outer = 0, None, None, None
        fp = _Fingerprint()
        start = last_log = time.monotonic()
        for chunk in _chunks(images, chunk_size):
            fp.update(chunk)
            x = chunk.reshape(len(chunk), -1).astype(np.float64)
            if shift is None:
                # Accumulate around the first chunk's mean: E[x x^T] - m m^T loses precision when |m| >> std.
                shift = x.mean(axis=0)
                total, outer = np.zeros_like(shift), np.zeros((x.shape[1], x.shape[1]))
            x -= shift
            total += x.sum(axis=0)
            outer += x.T @ x
            count += len(x)
            now = time.monotonic()
            if now - last_log > 5:
                last_log = now
                log.info("ZCA fit: %d images, %.0f images/s", count, count / (now - start))
        if count < 2:
            raise ValueError(f"ZCA.fit needs at least 2 images, got {count}")
        centred_mean = total / count
        covariance = outer / count - np.outer(centred_mean, centred_mean)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance + bias * np.eye(len(covariance)))
        keep = eigenvalues > ZERO_EIGENVALUE * eigenvalues.max()
        if not keep.all():
            log.info("ZCA fit: %d of %d directions have eigenvalue ~0 and are dropped (pseudo-inverse)",
                     int((~keep).sum()), keep.size)
        scale = np.where(keep, 1.0 / np.sqrt(np.where(keep, eigenvalues, 1.0)), 0.0)
        matrix = (eigenvectors * scale) @ eigenvectors.T
        log.info("ZCA fit: %d images of %s in %.1f s", count, fp.shape, time.monotonic() - start)
        return cls(shift + centred_mean, matrix, bias, key=fp.key(bias), count=count)

    def apply(self, images):
        """Whiten a batch of images (NumPy array or tensor): one matrix product, the shape kept, float32 out."""
        if isinstance(images, (tf.Tensor, tf.Variable)):
            matrix, offset = self.tensors()
            return whiten(images, tf.constant(matrix), tf.constant(offset))
        images = np.asarray(images)
        flat = images.reshape(len(images), -1).astype(np.float64)
        return ((flat - self.mean) @ self.matrix).reshape(images.shape).astype(np.float32)

    def tensors(self):
        """(matrix, offset) in float32 for ``whiten``: offset = mean @ matrix, as (x - m) W = x W - m W."""
        return self.matrix.astype(np.float32), (self.mean @ self.matrix).astype(np.float32)

    def save(self, path):
        """Write the statistics to ``path`` (.npz) atomically: a crash never leaves a half-written file."""
        with files.atomic_write(path, "wb") as f:
            np.savez(f, mean=self.mean, matrix=self.matrix, bias=self.bias, key=self.key, count=self.count)

    @classmethod
    def load(cls, path, expected_key=None):
        """Read statistics saved by ``save``; with ``expected_key``, refuse a file fitted on other data."""
        try:
            f = files.load_numpy(path)
            zca = cls(f["mean"], f["matrix"], float(f["bias"]), key=str(f["key"]), count=int(f["count"]))
        except (OSError, KeyError, IndexError, ValueError, TypeError, tf.errors.OpError) as err:
            raise ValueError(f"{path}: not a readable ZCA statistics file ({err}). Delete it to refit.") from None
        if expected_key is not None and zca.key != expected_key:
            raise ValueError(
                f"{path}: these ZCA statistics were fitted on other data or another bias (key {zca.key[:16]}..., "
                f"expected {expected_key[:16]}...). Delete the file to refit, or point to the statistics of this "
                "data.")
        return zca

    @classmethod
    def fit_or_load(cls, path, images, bias=0.1, chunk_size=2048):
        """The statistics of ``images`` (an array) with ``bias``: read from ``path`` when it exists, and refused
        (ValueError) when it was fitted on other data or another bias; otherwise fitted and saved to ``path``."""
        images = np.asarray(images)
        if files.exists(path):
            zca = cls.load(path, expected_key=data_key(images, bias, chunk_size))
            log.info("ZCA: reusing %s (fitted on %d images)", path, zca.count)
            return zca
        zca = cls.fit(images, bias=bias, chunk_size=chunk_size)
        zca.save(path)
        log.info("ZCA: saved the statistics to %s", path)
        return zca
