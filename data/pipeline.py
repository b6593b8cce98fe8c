"""tf.data pipelines over images held in memory: the digits and CIFAR-10 (both fit: 150 MB as uint8).

The preprocessing (GCN + ZCA) is deterministic per image, so it runs once, on batches of 1,024 (ZCA is one matrix
product per batch), and its result is cached in memory (CIFAR-10's training split whitened is 600 MB of float32;
neon cached it on disk), as pylearn2 and neon whitened the dataset once before training. Then:
training: shuffle (seeded, every epoch) -> repeat -> [augment] -> batch, dropping the remainder -> prefetch;
evaluation: batch keeping every example (the last batch is smaller: nothing is dropped or padded) -> prefetch.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from data import augment, cifar, digits, fashion_mnist
from data.whitening import ZCA, global_contrast_normalize

# digits: scikit-learn's bundled digits (no download); cifar10: the TFDS builder; cifar10_pickle: the original
# python batches in --data_dir; fashion_mnist: the original IDX files in --data_dir (Debian's package by default),
# padded to 32x32x3.
DATASETS = ("digits", "cifar10", "cifar10_pickle", "fashion_mnist")
PREPROCESS_BATCH = 1024
# Augmentation of the (whitened) training images: "none" as the neon seed (89.5%, "without crops or flips");
# "flip_translate" for the paper's augmented 7.25% result, horizontal flips and translations. The paper's shift
# range is not given in the sources at hand ([allcnn-paper] Table 4: its range was not read for SOURCES.md); 5
# pixels is the default, --max_shift changes it.
# "translate" (no flips) for images that mirroring would change into another class: the digits.
# "affine": a random rotation (up to --max_rotation degrees), scaling (up to --max_scale) and horizontal shear (up to
# --max_shear: the slant of upright strokes changes by up to atan(max_shear)) about the centre, then the
# translation, no flips: the digits recipe's, against the writers of the test split differing from those of the
# training split (the classic elastic/affine distortions of handwritten-digit work, [simard-2003]).
AUGMENTATIONS = ("none", "flip_translate", "translate", "affine")
MAX_SHIFT = 5


@dataclasses.dataclass(frozen=True)
class Affine:
    """The ranges of --augmentation=affine (names as the flags): a rotation uniform in +-``max_rotation`` degrees,
    a scaling uniform in 1 +- ``max_scale`` and a horizontal shear uniform in +-``max_shear`` about the centre,
    after an elastic distortion (Simard et al. 2003, ``augment.elastic_field``) of strength ``elastic_alpha``
    (0: none) and smoothness ``elastic_sigma`` pixels."""
    max_rotation: float = 10.0
    max_scale: float = 0.1
    max_shear: float = 0.0
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0


# The pipelines start without tf.data's static graph optimizations: they serialize the whole dataset graph, with
# the in-memory images and the ZCA matrix as constants, every time an iterator starts (once per run since the
# epochs are chained, and per validation): 1.3-1.5 s for the digits (15% of a digits epoch on 2 cores), measured
# 2026-11-23; without them 0.02 s, and the batches come as fast (the map runs in parallel either way, autotuned).
FAST_START = tf.data.Options()
FAST_START.experimental_optimization.apply_default_optimizations = False


def load_arrays(dataset, split, data_dir=None, download=False, image_size=32):
    """(uint8 images (N, H, W, C), int64 labels (N,), class names) of an in-memory dataset split. The digits come
    at ``image_size`` (a multiple of 8); the other datasets at their own size."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r} is invalid; valid datasets: {', '.join(DATASETS)}.")
    if dataset == "digits":
        images, labels = digits.load(split, image_size)
        return images, labels, digits.CLASS_NAMES
    if dataset == "fashion_mnist":
        images, labels = fashion_mnist.load(split, data_dir)
        return images, labels, fashion_mnist.CLASS_NAMES
    if dataset == "cifar10":
        images, labels = cifar.load_tfds(split, data_dir=data_dir, download=download)
    else:
        images, labels = cifar.load_pickle_dir(data_dir, split)
    return images, labels, cifar.CLASS_NAMES


def gcn_zca(train_images, bias=0.1, cache_path=None):
    """The All-CNN preprocessing (pylearn2/neon): GCN (scale 55) then ZCA fitted on the GCN'd training images.

    Returns the ZCA statistics and ``preprocess(batch) = zca.apply(gcn(batch))``. With ``cache_path`` the
    statistics are reused from that file when they were fitted on the same images and bias (and refused when not).
    """
    normalized = global_contrast_normalize(train_images)
    if cache_path:
        zca = ZCA.fit_or_load(cache_path, normalized, bias=bias)
    else:
        zca = ZCA.fit(normalized, bias=bias)

    def preprocess(batch):
        return zca.apply(global_contrast_normalize(batch))

    return zca, preprocess


def default_zca_cache(dataset, bias, directory=None, image_size=32):
    """Where the statistics of ``dataset``'s training split (at ``image_size``) are cached:
    ~/.cache/alexnet-allcnn by default."""
    directory = directory or os.path.join(os.path.expanduser("~"), ".cache", "alexnet-allcnn")
    size = "" if image_size == 32 else f"-{image_size}px"
    return os.path.join(directory, f"{dataset}{size}-gcn55-zca-bias{bias:g}.npz")


def augment_image(image, seed, augmentation, max_shift=MAX_SHIFT, affine=Affine()):
    """One training image augmented as ``augmentation`` says (see AUGMENTATIONS): a random horizontal flip
    (flip_translate), or an elastic distortion, rotation, scaling and shear (affine, ``affine``'s ranges), then a
    random translation by up to ``max_shift`` pixels (zero fill)."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    if augmentation == "flip_translate":
        image = augment.random_flip(image, seeds[0])
    if augmentation == "affine":
        if affine.elastic_alpha > 0:  # its own seed, folded from the rotation's: the other draws stay as they were
            image = augment.random_elastic(image, affine.elastic_alpha, affine.elastic_sigma,
                                           tf.random.experimental.stateless_fold_in(seeds[0], 1))
        image = augment.random_rotate_scale(image, affine.max_rotation, affine.max_scale, seeds[0], affine.max_shear)
    return augment.random_translate(image, max_shift, seeds[1])


def epoch_seed(seed, epoch):
    """The shuffle/augmentation seed of one epoch: every epoch's order is fixed by (seed, epoch), so a resumed run
    rebuilds exactly the batches an uninterrupted one would have seen. ``epoch`` may be an int64 tensor
    (``chain_epochs``)."""
    if seed is None:
        return None
    epoch = epoch if isinstance(epoch, tf.Tensor) else int(epoch)
    return (int(seed) * 1_000_003 + epoch) % (2 ** 63 - 1)


def chain_epochs(make_epoch, first_epoch, skip, end_epoch):
    """``make_epoch(epoch, skip)`` for ``first_epoch`` (after ``skip`` batches) and every epoch after it up to
    ``end_epoch`` (excluded), as one dataset: a run reads every epoch through one iterator. Each epoch is built
    with ``epoch`` (and ``skip``) as int64 tensors, so the pipelines it calls must take tensors there; its order
    depends on the epoch's seeds alone (``epoch_seed``), the same wherever the chain starts."""

    @tf.autograph.experimental.do_not_convert
    def one_epoch(epoch):
        # The graph of this function gets no graph-level seed: TensorFlow resolves a tensor op seed against it
        # with a Python comparison (random_seed.get_seed: ``seeds == (0, 0)``) that fails when the global seed is
        # 0, and the op seeds already fix the order.
        tf.random.set_seed(None)
        return make_epoch(epoch, tf.where(epoch == first_epoch, tf.constant(skip, tf.int64), 0))

    return tf.data.Dataset.range(first_epoch, end_epoch).flat_map(one_epoch)


def shuffled(ds, buffer, seed, epoch):
    """(``ds`` shuffled, a dataset of per-example augmentation seed pairs): shuffled afresh on every pass and
    repeated forever when ``epoch`` is None, else one pass in the order fixed by ``epoch_seed(seed, epoch)``."""
    if epoch is None:
        return (ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat(),
                tf.data.Dataset.random(seed=seed).batch(2))
    return (ds.shuffle(buffer, seed=epoch_seed(seed, epoch), reshuffle_each_iteration=False),
            tf.data.Dataset.random(seed=epoch_seed(seed, epoch)).batch(2))


def cached_examples(images, labels, preprocess=None, cache=True):
    """The (preprocessed) examples of in-memory arrays, cached in memory after the first pass (``cache``). The
    cache is shared by every dataset built on the returned one, so each epoch's pipeline (``batches``) reuses it."""
    ds = tf.data.Dataset.from_tensor_slices((images, np.asarray(labels, np.int64)))
    if preprocess is not None:
        ds = ds.batch(PREPROCESS_BATCH).map(lambda x, y: (preprocess(x), y), num_parallel_calls=tf.data.AUTOTUNE,
                                            deterministic=True).unbatch()
    return ds.cache() if cache else ds


def batches(examples, count, batch_size, training, seed=None, epoch=None, skip_batches=0, augmentation="none",
            max_shift=MAX_SHIFT, shard=None, affine=Affine()):
    """Batches of ``examples`` (``count`` of them, e.g. from ``cached_examples``).

    Training with ``epoch=None``: shuffled afresh every pass, repeated forever. Training with ``epoch``: that one
    epoch only, in the order fixed by ``epoch_seed(seed, epoch)``, starting after ``skip_batches`` batches (a resumed
    run), the last partial batch dropped. Evaluation: in order, every example, the last batch smaller.
    ``shard=(P, i)``: only batches i, P + i, 2P + i ... of that sequence (``skip_batches`` counts this shard's),
    and the same number in every shard.
    """
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"augmentation={augmentation!r} is invalid; valid choices: {', '.join(AUGMENTATIONS)}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is invalid; valid values are integers >= 1.")
    parts, index = shard or (1, 0)
    if training and batch_size * parts > count:
        raise ValueError(f"batch_size={batch_size * parts} is larger than the {count} training images; training "
                         "drops the last partial batch, so no batch would remain. Use a smaller --batch_size.")
    ds = examples
    if training:
        ds, seeds = shuffled(ds, count, seed, epoch)
        if augmentation != "none":
            ds = tf.data.Dataset.zip(ds, seeds)
            ds = ds.skip(skip_batches * parts * batch_size).map(
                lambda example, s: (augment_image(example[0], s, augmentation, max_shift, affine), example[1]),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        else:
            ds = ds.skip(skip_batches * parts * batch_size)
    ds = ds.batch(batch_size, drop_remainder=training)
    if parts > 1:
        if epoch is not None:  # equal shards: the batches of whole global batches only
            ds = ds.take((count // (batch_size * parts) - skip_batches) * parts)
        ds = ds.shard(parts, index)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(FAST_START)


def array_dataset(images, labels, batch_size, training, preprocess=None, seed=None, augmentation="none",
                  max_shift=MAX_SHIFT, epoch=None, skip_batches=0):
    """A tf.data pipeline of (preprocessed image batch, label batch) over in-memory arrays: ``cached_examples``
    then ``batches`` (see both)."""
    examples = cached_examples(images, labels, preprocess)
    return batches(examples, len(images), batch_size, training, seed, epoch, skip_batches, augmentation, max_shift)
