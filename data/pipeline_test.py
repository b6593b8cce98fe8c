"""The in-memory pipelines: evaluation keeps every example, training drops the remainder and is seeded."""

import numpy as np
import pytest
import tensorflow as tf

from data import augment, pipeline
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


def test_flip_translate_augmentation_and_sharding():
    images, labels, _ = pipeline.load_arrays("digits", "train")
    plain = next(iter(pipeline.array_dataset(images, labels, 64, training=True, seed=5)))[0].numpy()
    augmented = pipeline.array_dataset(images, labels, 64, training=True, seed=5, augmentation="flip_translate",
                                       max_shift=4)
    batch, batch_labels = (t.numpy() for t in next(iter(augmented)))
    assert batch.shape == plain.shape and not np.array_equal(batch, plain)
    # Each augmented image is its original flipped or not and shifted by at most 4 pixels: some placement of
    # the original inside the zero-padded frame matches it exactly.
    by_label = {}
    for image, label in zip(images, labels):
        by_label.setdefault(int(label), []).append(image.astype(np.float32))
    for image, label in zip(batch[:8], batch_labels[:8]):
        padded_matches = any(
            np.array_equal(image, np.pad(cand, ((4, 4), (4, 4), (0, 0)))[4 + dy:36 + dy, 4 + dx:36 + dx])
            for original in by_label[int(label)] for cand in (original, original[:, ::-1])
            for dy in range(-4, 5) for dx in range(-4, 5))
        assert padded_matches
    with pytest.raises(ValueError, match="augmentation='crop' is invalid; valid choices: none, flip_translate"):
        pipeline.array_dataset(images, labels, 64, training=True, augmentation="crop")


def test_affine_augmentation_is_rotate_scale_then_translate():
    images, labels, _ = pipeline.load_arrays("digits", "test")
    examples = pipeline.cached_examples(images[:40], labels[:40])
    batch = next(iter(pipeline.batches(examples, 40, 40, True, seed=3, epoch=0, augmentation="affine",
                                       max_shift=2, affine=pipeline.Affine(12.0, 0.1))))[0].numpy()
    plain_ds = pipeline.batches(examples, 40, 40, True, seed=3, epoch=0)
    plain, plain_labels = (t.numpy() for t in next(iter(plain_ds)))
    seeds = list(tf.data.Dataset.random(seed=pipeline.epoch_seed(3, 0)).batch(2).take(40))
    for image, original, seed in zip(batch, plain, seeds):  # the same order, each with its own seed
        split = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
        expected = augment.random_translate(augment.random_rotate_scale(original, 12.0, 0.1, split[0]), 2, split[1])
        np.testing.assert_allclose(image, expected.numpy(), atol=1e-4)
    assert not np.allclose(batch, plain)
    elastic = pipeline.Affine(12.0, 0.1, elastic_alpha=34.0, elastic_sigma=4.0)
    distorted = next(iter(pipeline.batches(examples, 40, 40, True, seed=3, epoch=0, augmentation="affine",
                                           max_shift=2, affine=elastic)))[0].numpy()
    for image, original, seed in zip(distorted, plain, seeds):  # the elastic field first, from its own seed
        split = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
        warped = augment.random_elastic(original, 34.0, 4.0, tf.random.experimental.stateless_fold_in(split[0], 1))
        expected = augment.random_translate(augment.random_rotate_scale(warped, 12.0, 0.1, split[0]), 2, split[1])
        np.testing.assert_allclose(image, expected.numpy(), atol=1e-4)
    assert not np.allclose(distorted, batch)
    identity = next(iter(pipeline.batches(examples, 40, 40, True, seed=3, epoch=0, augmentation="affine",
                                          max_shift=0, affine=pipeline.Affine(0.0, 0.0))))[0].numpy()
    np.testing.assert_allclose(identity, plain, atol=1e-4)  # no rotation, scaling or shift: the images unchanged


def test_shards_of_an_epoch_interleave_into_the_one_pipeline_batches():
    """Two workers' pipelines (batch 16 each) hold, step by step, exactly the examples and augmentations of one
    pipeline's batch of 32 (what makes a 2-worker run equal a 1-worker run), also after a resume's skip."""
    images, labels, _ = pipeline.load_arrays("digits", "train")
    examples = pipeline.cached_examples(images[:300], labels[:300])

    def epoch(batch, shard=None, skip=0):
        return [(x.numpy(), y.numpy()) for x, y in pipeline.batches(
            examples, 300, batch, True, seed=7, epoch=2, skip_batches=skip, augmentation="translate", shard=shard)]

    whole, first, second = epoch(32), epoch(16, (2, 0)), epoch(16, (2, 1))
    assert len(whole) == len(first) == len(second) == 300 // 32
    for (x, y), (x0, y0), (x1, y1) in zip(whole, first, second):
        np.testing.assert_array_equal(x, np.concatenate([x0, x1]))
        np.testing.assert_array_equal(y, np.concatenate([y0, y1]))
    resumed = epoch(16, (2, 1), skip=3)
    assert len(resumed) == len(second) - 3
    for (x, _), (x_resumed, _) in zip(second[3:], resumed):
        np.testing.assert_array_equal(x, x_resumed)


def test_chained_epochs_resume_anywhere_and_survive_global_seed_zero():
    """``chain_epochs``: every epoch of a run through one dataset, each in its own (seed, epoch) order; a chain
    started ``skip`` batches into a later epoch (a resumed run) holds exactly the rest of the whole chain. The
    global seed is 0 here: TensorFlow's seed resolution fails on tensor seeds then, unless the chain avoids it."""
    import keras

    keras.utils.set_random_seed(0)
    images, labels, _ = pipeline.load_arrays("digits", "train")
    examples = pipeline.cached_examples(images[:100], labels[:100])

    def run(first, skip):
        def one_epoch(epoch, s):
            return pipeline.batches(examples, 100, 20, True, seed=5, epoch=epoch, skip_batches=s,
                                    augmentation="affine")
        return [(x.numpy(), y.numpy()) for x, y in pipeline.chain_epochs(one_epoch, first, skip, 3)]

    whole = run(0, 0)
    assert len(whole) == 3 * 5
    epochs = [np.concatenate([y for _, y in whole[5 * e:5 * e + 5]]) for e in range(3)]
    for labels_of_epoch in epochs:  # every epoch holds every example once, each in its own order
        np.testing.assert_array_equal(np.sort(labels_of_epoch), np.sort(labels[:100]))
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    resumed = run(1, 2)  # 2 batches into epoch 1
    assert len(resumed) == len(whole) - 7
    for (x, y), (x_resumed, y_resumed) in zip(whole[7:], resumed):
        np.testing.assert_array_equal(y, y_resumed)
        np.testing.assert_array_equal(x, x_resumed)
