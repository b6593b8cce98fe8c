"""ImageNet sources and pipeline: a JPEG folder made from scikit-image's real photos, TFDS under mock_data, and
every bad-input case with its message."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from skimage import data as skimage_data

from data import augment, imagenet
from data.testdata import photo_folder



@pytest.fixture
def folder(tmp_path):
    """train/ and val/ with two classes of real photos (one a PNG, as ImageNet has one), in the common layout."""
    return photo_folder(tmp_path / "imagenet")


def test_folder_listing_labels_by_sorted_train_classes(folder):
    paths, labels, classes = imagenet.list_folder(str(folder), "validation")
    assert classes == ["n01440764", "n01443537"]
    assert [os.path.basename(p) for p in paths] == ["n01440764_0.JPEG", "n01443537_0.JPEG", "n01443537_1.JPEG"]
    assert labels.tolist() == [0, 1, 1]


def test_fused_central_crop_matches_resize_then_crop_on_a_real_photo():
    photo = skimage_data.chelsea()  # 300 x 451
    contents = tf.io.encode_jpeg(photo, quality=95)
    fused = imagenet.decode_central(contents, tf.constant("chelsea")).numpy()
    decoded = tf.io.decode_jpeg(contents)
    reference = augment.central_crop(augment.resize_shorter_side(decoded, 256), 256).numpy()
    assert fused.shape == reference.shape == (256, 256, 3)
    assert np.abs(fused - reference).mean() < 2.0  # same region; only the resampling order differs


def _coordinates(height, width):
    """A uint8 image whose every pixel says where it is: R, G = column, row mod 256; B = 16 (column // 256) +
    row // 256."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([cols % 256, rows % 256, 16 * (cols // 256) + rows // 256], axis=-1).astype(np.uint8)


def _window(crop):
    """(top, left, flipped) of a crop of a ``_coordinates`` image, after checking that it is that window exactly."""
    def position(pixel):
        return int(pixel[1]) + 256 * (int(pixel[2]) % 16), int(pixel[0]) + 256 * (int(pixel[2]) // 16)

    (top, left), (_, right) = position(crop[0, 0]), position(crop[0, -1])
    flipped = right < left
    size = crop.shape[1]
    left = right if flipped else left
    expected = _coordinates(top + crop.shape[0], left + size)[top:, left:]
    np.testing.assert_array_equal(crop, expected[:, ::-1] if flipped else expected)
    return top, left, flipped


TRAIN = dict(crop=224, mean=(0.0, 0.0, 0.0), pca=False)


def test_defaults_are_the_central_square_crop_flip_and_lighting_with_the_same_seeds_as_before():
    # a seeded run keeps its crops: the default training image is decode_central, then the crop, flip and lighting
    # drawn from stateless_split(seed, 3) as before the scale's seed was added
    contents = tf.io.encode_jpeg(skimage_data.chelsea(), quality=90)
    for s in range(3):
        seed = tf.constant([s, 6], tf.int64)
        seeds = tf.random.experimental.stateless_split(seed, 3)
        before = augment.subtract_mean(imagenet.decode_central(contents, "x"), imagenet.MEAN_RGB["caffe"])
        before = augment.random_flip(augment.random_crop(before, 224, seeds[0]), seeds[1])
        before = augment.random_pca_lighting(before, seeds[2]).numpy()
        np.testing.assert_array_equal(imagenet.train_image(contents, "x", seed).numpy(), before)


@pytest.mark.parametrize("flip", [False, True])
def test_shorter_side_crops_anywhere_in_the_image_and_flips_only_when_asked(flip):
    # a 256 x 400 PNG (lossless) at shorter side 256 is left as it is: every crop is an exact window of it
    contents = tf.io.encode_png(_coordinates(256, 400))
    windows = [_window(imagenet.train_image(contents, "x", tf.constant([s, 2]), resize="shorter_side",
                                            flip=flip, **TRAIN).numpy()) for s in range(40)]
    tops, lefts, flips = zip(*windows)
    assert set(tops) <= set(range(33)) and set(lefts) <= set(range(177))
    assert set(flips) == ({False, True} if flip else {False})
    # the central square is columns 72..327: crops reach left and right of it (and from the central square option,
    # only the 32 columns of margin around its central 224)
    assert min(lefts) < 72 - 32 and max(lefts) + 224 > 328 + 32
    central = [_window(imagenet.train_image(contents, "x", tf.constant([s, 2]), flip=flip, **TRAIN).numpy())
               for s in range(10)]  # the default: the central square, left as it is at 256
    assert all(72 <= left and left + 224 <= 328 for _, left, _ in central)


def test_shorter_side_training_size_is_drawn_per_example_in_the_range():
    for height, width in ((256, 400), (400, 256)):
        contents = tf.io.encode_png(_coordinates(height, width))
        sizes = set()
        for s in range(50):
            seed = tf.constant([s, 3], tf.int64)
            base = imagenet.train_base(contents, "x", seed, "shorter_side", (256, 260)).numpy()
            size = int(augment.random_scale(seed, 256, 260))
            longer = round(400 * size / 256)
            assert base.shape == ((size, longer, 3) if height < width else (longer, size, 3))
            sizes.add(size)
        assert sizes == {256, 257, 258, 259, 260}


def test_squash_is_the_whole_image_at_256_and_evaluation_its_central_crop():
    photo = skimage_data.chelsea()  # 300 x 451
    for fmt, contents in (("jpeg", tf.io.encode_jpeg(photo, quality=90)), ("png", tf.io.encode_png(photo))):
        decoded = tf.io.decode_image(contents, channels=3).numpy()
        squashed = augment.squash(decoded, 256).numpy()
        np.testing.assert_array_equal(imagenet.decode_base(contents, "x", "squash").numpy(), squashed)
        np.testing.assert_array_equal(imagenet.base_image(decoded, "squash").numpy(), squashed)
        if fmt == "png":  # lossless: the squash of the photo itself, not its central square
            np.testing.assert_array_equal(decoded, photo)
            central = imagenet.central_square(photo).numpy()
            assert np.abs(squashed - central).mean() > 10
        out = imagenet.eval_image(contents, "x", 227, mean=(1.0, 2.0, 3.0), resize="squash").numpy()
        np.testing.assert_allclose(out, squashed[14:241, 14:241] - [1.0, 2.0, 3.0], atol=1e-4)


def test_shorter_side_evaluation_is_the_central_crop_of_the_image_at_256_and_its_ten_crops():
    photo = skimage_data.coffee()  # 400 x 600: 256 x 384 at shorter side 256
    contents = tf.io.encode_jpeg(photo, quality=90)
    base = augment.resize_shorter_side(tf.io.decode_jpeg(contents), 256).numpy() - imagenet.MEAN_RGB["neon"]
    assert base.shape == (256, 384, 3)
    centre = imagenet.eval_image(contents, "x", mean=imagenet.MEAN_RGB["neon"], resize="shorter_side").numpy()
    np.testing.assert_allclose(centre, base[16:240, 80:304], atol=1e-3)
    ten = imagenet.eval_image(contents, "x", crops="ten", mean=imagenet.MEAN_RGB["neon"],
                              resize="shorter_side").numpy()
    for i, patch in enumerate([base[:224, :224], base[:224, 160:], base[32:, :224], base[32:, 160:],
                               base[16:240, 80:304]]):
        np.testing.assert_allclose(ten[i], patch, atol=1e-3)
        np.testing.assert_allclose(ten[5 + i], patch[:, ::-1], atol=1e-3)


@pytest.mark.parametrize("resize", imagenet.RESIZES)
def test_every_resize_trains_the_same_eagerly_and_inside_dataset_map_on_real_photos(resize, folder):
    paths = [str(p) for p in sorted((folder / "train").glob("*/*.JPEG"))]  # JPEG photos and one PNG
    seeds = [tf.constant([s, 8], tf.int64) for s in range(len(paths))]
    options = dict(crop=227, resize=resize, scale=(256, 384) if resize == "shorter_side" else (256, 256))
    eager = [imagenet.train_image(tf.io.read_file(p), p, s, **options).numpy() for p, s in zip(paths, seeds)]
    ds = tf.data.Dataset.from_tensor_slices((paths, tf.stack(seeds))).map(
        lambda p, s: imagenet.train_image(tf.io.read_file(p), p, s, **options))
    for a, b in zip(eager, ds):
        assert a.shape == (227, 227, 3)
        np.testing.assert_allclose(b.numpy(), a, atol=1e-3)
    evaluated = imagenet.make_dataset(imagenet.load_source("folder", "validation", str(folder)), 3, False, 227,
                                      resize=resize)
    images = next(iter(evaluated))[0].numpy()
    val = [str(folder / "val" / "n01440764" / "n01440764_0.JPEG")]
    np.testing.assert_allclose(images[0], imagenet.eval_image(tf.io.read_file(val[0]), "x", 227, resize=resize),
                               atol=1e-3)
    if resize != "central_square":  # the same photo's crop differs from the central square's
        default = imagenet.eval_image(tf.io.read_file(val[0]), "x", 227).numpy()
        assert np.abs(images[0] - default).mean() > 1


def test_training_pipeline_with_each_option_is_seeded(folder):
    source = imagenet.load_source("folder", "train", str(folder))
    for options in (dict(resize="squash"), dict(resize="shorter_side", scale=(256, 384), flip=False)):
        first = [x.numpy() for x, _ in imagenet.make_dataset(source, 2, True, seed=1, **options).take(3)]
        again = [x.numpy() for x, _ in imagenet.make_dataset(source, 2, True, seed=1, **options).take(3)]
        assert all(x.shape == (2, 224, 224, 3) for x in first)
        assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_bad_resize_names_the_flag():
    with pytest.raises(ValueError, match=r"--resize='crop' is invalid; valid values: central_square, shorter_side, "
                                         r"squash"):
        imagenet.decode_base(tf.constant(b""), "x", "crop")


def test_evaluation_pipeline_keeps_every_example_centre_and_ten_crops(folder):
    source = imagenet.load_source("folder", "validation", str(folder))
    evaluation = imagenet.make_dataset(source, 2, training=False)
    # tf.data's autotuning off (it halved evaluate.py's rate in about half the passes beside the network on 2 cores)
    assert evaluation.options().autotune.enabled is False
    assert imagenet.make_dataset(source, 2, training=True, seed=0).options().autotune.enabled is not False
    batches = list(evaluation)
    assert source.count == 3 and [tuple(x.shape) for x, _ in batches] == [(2, 224, 224, 3), (1, 224, 224, 3)]
    assert np.concatenate([y.numpy() for _, y in batches]).tolist() == [0, 1, 1]
    ten = list(imagenet.make_dataset(source, 2, training=False, crops="ten"))
    assert [tuple(x.shape) for x, _ in ten] == [(2, 10, 224, 224, 3), (1, 10, 224, 224, 3)]
    # The fifth crop is the centre crop, the sixth the mirror of the first.
    np.testing.assert_allclose(ten[0][0][:, 4].numpy(), batches[0][0].numpy(), atol=1e-4)
    np.testing.assert_allclose(ten[0][0][:, 5].numpy(), ten[0][0][:, 0].numpy()[:, :, ::-1], atol=1e-4)
    # Mean subtraction: Caffe's RGB mean by default.
    raw = imagenet.eval_image(tf.io.read_file(ds_path(folder)), tf.constant("x"), mean=(0.0, 0.0, 0.0))
    np.testing.assert_allclose(batches[0][0][0].numpy(), raw.numpy() - np.array([123.0, 117.0, 104.0]), atol=1e-3)


def ds_path(folder):
    return str(folder / "val" / "n01440764" / "n01440764_0.JPEG")


def test_mean_image_is_the_average_central_crop_and_is_subtracted_before_cropping(folder):
    source = imagenet.load_source("folder", "train", str(folder))
    mean = imagenet.mean_image(source, log=lambda m: None, batch_size=2)
    centrals = [imagenet.decode_central(tf.io.read_file(path), path).numpy() for path, _, _ in source.dataset]
    assert mean.shape == (256, 256, 3) and source.count == len(centrals) == 5
    np.testing.assert_allclose(mean, np.mean(centrals, axis=0), rtol=1e-5, atol=1e-3)
    path, _, name = next(iter(source.dataset))
    out = imagenet.eval_image(tf.io.read_file(path), name, mean=mean).numpy()
    np.testing.assert_allclose(out, (centrals[0] - mean)[16:240, 16:240], atol=1e-3)


def test_mean_image_of_squashed_images_and_none_for_the_shorter_side(folder):
    source = imagenet.load_source("folder", "train", str(folder))
    mean = imagenet.mean_image(source, log=lambda m: None, batch_size=2, resize="squash")
    squashed = [augment.squash(tf.io.decode_image(tf.io.read_file(path), channels=3), 256).numpy()
                for path, _, _ in source.dataset]
    np.testing.assert_allclose(mean, np.mean(squashed, axis=0), rtol=1e-5, atol=1e-3)
    assert np.abs(mean - imagenet.mean_image(source, log=lambda m: None)).mean() > 1  # not the central squares'
    with pytest.raises(ValueError, match=r"--mean=image is a 256x256 mean image, but --resize=shorter_side .*"
                                         r"--mean=neon or --mean=caffe"):
        imagenet.mean_image(source, resize="shorter_side")


def test_training_pipeline_full_batches_seeded_and_augmented(folder):
    source = imagenet.load_source("folder", "train", str(folder))
    first = [x.numpy() for x, _ in imagenet.make_dataset(source, 4, training=True, crop=227, seed=1).take(3)]
    again = [x.numpy() for x, _ in imagenet.make_dataset(source, 4, training=True, crop=227, seed=1).take(3)]
    other = [x.numpy() for x, _ in imagenet.make_dataset(source, 4, training=True, crop=227, seed=2).take(3)]
    assert source.count == 5 and all(x.shape == (4, 227, 227, 3) for x in first)  # repeats past 5 examples
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.allclose(a, b) for a, b in zip(first, other))


def test_sharding_for_multi_worker(folder):
    source = imagenet.load_source("folder", "train", str(folder))
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    shard = imagenet.make_dataset(source, 1, training=False, input_context=context)
    assert sum(1 for _ in shard) == 2  # examples 1 and 3 of 5


def _iterate(source):
    for _ in imagenet.make_dataset(source, 2, training=False):
        pass


@pytest.mark.parametrize("damage,reason", [
    (lambda p: p.write_bytes(p.read_bytes()[:3000]), "truncated JPEG"),
    (lambda p: p.write_text("<html>404 Not Found</html>"), "not a JPEG or PNG image"),
])
def test_bad_image_names_the_file_or_is_skipped_and_reported(folder, damage, reason):
    bad = folder / "val" / "n01443537" / "n01443537_0.JPEG"
    damage(bad)
    source = imagenet.load_source("folder", "validation", str(folder))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"n01443537_0\.JPEG.*is not an intact JPEG or PNG "
                                                             r"image.*--skip_bad_images"):
        _iterate(source)
    messages = []
    source = imagenet.load_source("folder", "validation", str(folder), skip_bad=True, log=messages.append)
    assert source.count == 2 and sum(1 for _ in imagenet.make_dataset(source, 2, training=False).unbatch()) == 2
    assert messages[0].startswith("skipped 1 unreadable image(s) of 3 in ")
    assert messages[1] == f"  {bad}: {reason}" + (" (no end-of-image marker)" if "truncated" in reason else "")


def test_folder_errors_name_the_path_and_the_fix(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="ImageNet folder '.*missing' does not exist: pass --data_dir"):
        imagenet.list_folder(str(tmp_path / "missing"), "train")
    with pytest.raises(FileNotFoundError, match="itself holds class folders .*pass its parent"):
        imagenet.list_folder(str(folder / "train"), "train")  # mislaid: the split folder instead of the root
    (folder / "val" / "n01440764" / "README.txt").write_text("notes")
    with pytest.raises(ValueError, match=r"README\.txt: not an image file"):
        imagenet.list_folder(str(folder), "validation")
    (folder / "val" / "n01440764" / "README.txt").unlink()
    (folder / "val" / "n09999999").mkdir()
    with pytest.raises(ValueError, match="class 'n09999999' is not among the 2 classes .*outside the class range"):
        imagenet.list_folder(str(folder), "validation")
    empty = tmp_path / "empty"
    (empty / "train" / "n01440764").mkdir(parents=True)
    (empty / "val").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        imagenet.list_folder(str(empty), "validation")


def test_tfds_imagenet2012_and_imagenette_run_the_pipeline_on_mock_data(tmp_path):
    for name, classes in (("imagenet2012", 1000), ("imagenette", 10)):
        with tfds.testing.mock_data(num_examples=3):
            source = imagenet.load_source(name, "validation", str(tmp_path))
            images, labels = next(iter(imagenet.make_dataset(source, 3, training=False)))
            train_images, _ = next(iter(imagenet.make_dataset(source, 2, training=True, seed=0)))
        assert images.shape == (3, 224, 224, 3) and train_images.shape == (2, 224, 224, 3)
        assert len(source.class_names) == classes and source.read is None and labels.numpy().max() < classes


def test_tfds_manual_dir_missing_or_mislaid(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"needs ILSVRC2012_img_train\.tar, ILSVRC2012_img_val\.tar in its "
                                                r"manual dir .*downloads/manual/"):
        imagenet.check_manual_dir(str(tmp_path))
    (tmp_path / "ILSVRC2012_img_val.tar").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"Found .*ILSVRC2012_img_val\.tar: move it into .*downloads/manual"):
        imagenet.check_manual_dir(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="TFDS imagenette is not prepared in .*pass --download"):
        imagenet.load_source("imagenette", "validation", str(tmp_path))
