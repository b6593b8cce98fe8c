"""data.inputs: the export's preprocessing is the evaluation's, for each 32x32 preprocessing and for ImageNet photos;
bad choices name the flag."""

import numpy as np
import pytest
import tensorflow as tf

from data import digits, inputs
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


def test_imagenet_serving_equals_the_evaluation_split(tmp_path):
    root = photo_folder(tmp_path / "photos")
    data = inputs.load(inputs.Config(dataset="imagenet_folder", data_dir=str(root)), 224, log=lambda *_: None)
    evaluated, _ = next(iter(data.eval_dataset(3)))
    encoded, _ = next(iter(data.raw_dataset(3)))
    state = {k: tf.constant(v) for k, v in data.serving_state().items()}
    np.testing.assert_allclose(data.serve_bytes(encoded, state), evaluated, atol=1e-3)
    assert data.count() == 3 and data.raw_kind == "bytes"


@pytest.mark.parametrize("changes, flag", [({"dataset": "mnist"}, "--dataset='mnist'"),
                                           ({"preprocess": "pca"}, "--preprocess='pca'"),
                                           ({"crops": "ten"}, "--crops=ten is the paper's ImageNet test"),
                                           ({"max_rotation": -5.0}, r"--max_rotation=-5.0 is invalid"),
                                           ({"max_scale": 1.0}, r"--max_scale=1.0 is invalid; valid values are in"),
                                           ({"max_shear": -0.1}, r"--max_shear=-0.1 is invalid; valid values are in"),
                                           ({"elastic_alpha": -1.0}, r"--elastic_alpha=-1.0 is invalid; valid values "
                                                                     r"are >= 0"),
                                           ({"elastic_sigma": 0.1}, r"--elastic_sigma=0.1 is invalid; valid values "
                                                                    r"are pixels in \[0.5, 16\]")])
def test_bad_choices_name_the_flag(changes, flag):
    with pytest.raises(ValueError, match=flag):
        inputs.check(inputs.Config(**changes))
