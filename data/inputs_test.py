"""data.inputs: the export's preprocessing is the evaluation's, for each 32x32 preprocessing and for ImageNet photos;
bad choices name the flag."""

import numpy as np
import pytest
import tensorflow as tf

from data import digits, inputs
from data.testdata import photo_folder


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
                                           ({"max_shear": -0.1}, r"--max_shear=-0.1 is invalid; valid values are in")])
def test_bad_choices_name_the_flag(changes, flag):
    with pytest.raises(ValueError, match=flag):
        inputs.check(inputs.Config(**changes))
