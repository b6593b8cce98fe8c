"""data.inputs: the export's preprocessing is the evaluation's, for each 32x32 preprocessing and for ImageNet photos;
bad choices name the flag."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from data import augment, digits, imagenet, inputs
from data.testdata import photo_folder


@pytest.mark.slow
@pytest.mark.parametrize("preprocess", inputs.PREPROCESSING)
def test_serving_preprocessing_equals_the_evaluation_split(preprocess, tmp_path):
    config = inputs.Config(preprocess=preprocess, zca_cache=str(tmp_path / "zca.npz"))
    data = inputs.load(config, 32, log=lambda *_: None)
    evaluated, labels = next(iter(data.eval_dataset(50)))
    state = {k: tf.constant(v) for k, v in data.serving_state().items()}
    raw = digits.load("test")[0][:50]
    np.testing.assert_allclose(data.serve_images(tf.constant(raw), state), evaluated, rtol=1e-5, atol=1e-4)
    encoded = tf.constant([tf.io.encode_png(image).numpy() for image in raw[:5]])
    np.testing.assert_allclose(data.serve_bytes(encoded, state), evaluated[:5], rtol=1e-5, atol=1e-4)
    assert data.count() == 360 and data.count("train") == 1437 and len(labels) == 50


def test_16_pixel_digits_train_and_serve_at_16_and_take_the_32_pixel_digits_exactly(tmp_path):
    # evaluate.py --saved_model reads the digits at 32: the export's bilinear resize to 16 averages two pixels of
    # one 4x4 block, so it must give exactly the 16-pixel digits the model trained on
    data = inputs.load(inputs.Config(augmentation="affine", elastic_alpha=34.0,
                                     zca_cache=str(tmp_path / "zca.npz")), 16, log=lambda *_: None)
    evaluated, _ = next(iter(data.eval_dataset(50)))
    assert evaluated.shape == (50, 16, 16, 3) and data.image_shape == (16, 16, 3)
    assert next(iter(data.train_dataset(32, 0)))[0].shape == (32, 16, 16, 3)
    state = {k: tf.constant(v) for k, v in data.serving_state().items()}
    raw32 = digits.load("test")[0][:50]
    np.testing.assert_allclose(data.serve_images(tf.constant(raw32), state), evaluated, rtol=1e-5, atol=1e-4)
    assert data.zca.matrix.shape == (16 * 16 * 3, 16 * 16 * 3)


@pytest.mark.parametrize("options", [{}, {"resize": "squash", "mean": "image"},  # the default; bvlc's
                                     {"resize": "shorter_side", "scale_max": 384, "mean": "neon"},  # neon_nolrn's
                                     {"resize": "shorter_side", "flip": False, "mean": "neon"}])  # neon's
def test_imagenet_serving_equals_the_evaluation_split(options, tmp_path):
    root = photo_folder(tmp_path / "photos")
    config = inputs.Config(dataset="imagenet_folder", data_dir=str(root), **options)
    data = inputs.load(config, 224, cache_dir=str(tmp_path), log=lambda *_: None)
    evaluated, _ = next(iter(data.eval_dataset(3)))
    encoded, _ = next(iter(data.raw_dataset(3)))
    state = {k: tf.constant(v) for k, v in data.serving_state().items()}
    np.testing.assert_allclose(data.serve_bytes(encoded, state), evaluated, atol=1e-3)
    for i, contents in enumerate(encoded):  # decoded images of their own sizes, one at a time
        image = tf.io.decode_image(contents, channels=3)[None]
        np.testing.assert_allclose(data.serve_images(image, state)[0], evaluated[i], atol=1e-3)
    # the evaluation is the option's: its base image at 256, minus the mean, the central crop
    first = tf.io.decode_image(encoded[0], channels=3)
    base = {"central_square": imagenet.central_square, "squash": augment.squash,
            "shorter_side": augment.resize_shorter_side}[config.resize](first, 256).numpy()
    top, left = (base.shape[0] - 224) // 2, (base.shape[1] - 224) // 2
    np.testing.assert_allclose(evaluated[0], (base - data.mean)[top:top + 224, left:left + 224], atol=1e-3)
    assert data.count() == 3 and data.raw_kind == "bytes"
    if config.mean == "image":  # the mean of the squashed training images, kept under its own name by the run
        assert not os.path.exists(tmp_path / "mean_image_squash.npy") and data.mean.shape == (256, 256, 3)
        data.keep_caches(str(tmp_path))  # (the run that holds the workdir, once it is checked)
        lines = []
        again = inputs.load(config, 224, cache_dir=str(tmp_path), log=lines.append)
        np.testing.assert_array_equal(again.mean, data.mean)
        assert not any("computing the mean image" in line for line in lines)
    train, _ = next(iter(data.train_dataset(2, 0)))
    assert train.shape == (2, 224, 224, 3)


@pytest.mark.parametrize("changes, flag", [({"dataset": "mnist"}, "--dataset='mnist'"),
                                           ({"preprocess": "pca"}, "--preprocess='pca'"),
                                           ({"crops": "ten"}, "--crops=ten is the paper's ImageNet test"),
                                           ({"max_rotation": -5.0}, r"--max_rotation=-5.0 is invalid"),
                                           ({"max_scale": 1.0}, r"--max_scale=1.0 is invalid; valid values are in"),
                                           ({"max_shear": -0.1}, r"--max_shear=-0.1 is invalid; valid values are in"),
                                           ({"elastic_alpha": -1.0}, r"--elastic_alpha=-1.0 is invalid; valid values "
                                                                     r"are >= 0"),
                                           ({"elastic_sigma": 0.1}, r"--elastic_sigma=0.1 is invalid; valid values "
                                                                    r"are pixels in \[0.5, 16\]"),
                                           ({"resize": "crop"}, r"--resize='crop' is invalid; valid values: "
                                                                r"central_square, shorter_side, squash"),
                                           ({"resize": "shorter_side", "scale_min": 300, "scale_max": 260},
                                            r"--scale_min=300 --scale_max=260 is invalid; valid values: 1 <= "
                                            r"scale_min <= scale_max"),
                                           ({"scale_max": 384}, r"--scale_min=256 --scale_max=384 set the shorter "
                                                                r"side of --resize=shorter_side; "
                                                                r"--resize=central_square .*pass "
                                                                r"--resize=shorter_side, or leave both at 256"),
                                           ({"resize": "shorter_side", "mean": "image"},
                                            r"--mean=image is a 256x256 per-pixel mean, but --resize=shorter_side "
                                            r".*pass a mean colour \(--mean=neon or --mean=caffe\)")])
def test_bad_choices_name_the_flag(changes, flag):
    with pytest.raises(ValueError, match=flag):
        inputs.check(inputs.Config(**changes))


def test_the_shorter_side_must_hold_the_crop():
    config = inputs.Config(dataset="imagenet2012", resize="shorter_side", scale_min=200, scale_max=300)
    inputs.check(config)  # the crop size is the model's: known when the inputs are loaded
    with pytest.raises(ValueError, match=r"--scale_min=200 is smaller than the model's 224x224 crops: pass "
                                         r"--scale_min=224 or more"):
        inputs.check(config, 224)
    inputs.check(dataclasses.replace(config, scale_min=224), 224)
    with pytest.raises(ValueError, match=r"--scale_min=200 is smaller than the model's 227x227"):
        inputs.load(config, 227)  # before any data is read


def test_the_figures_sample_is_spread_over_the_classes(tmp_path):
    root = photo_folder(tmp_path / "photos")
    config = inputs.Config(dataset="imagenet_folder", data_dir=str(root))
    data = inputs.load(config, 227, log=lambda *_: None)
    model_inputs, shown, labels = data.sample("train", 2)
    assert model_inputs.shape == (2, 227, 227, 3) and shown.dtype == np.uint8 and sorted(labels) == [0, 1]
    digits_inputs = inputs.load(inputs.Config(), 16, log=lambda *_: None)
    model_inputs, shown, labels = digits_inputs.sample("test", 20)
    assert len(set(labels)) > 5 and shown.dtype == np.uint8 and model_inputs.dtype == np.float32
