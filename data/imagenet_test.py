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


def test_evaluation_pipeline_keeps_every_example_centre_and_ten_crops(folder):
    source = imagenet.load_source("folder", "validation", str(folder))
    batches = list(imagenet.make_dataset(source, 2, training=False))
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
