"""The exported SavedModel: loaded in a fresh process that imports no project code, it classifies real digits and
real photos exactly as the in-process model does; saved_model_cli runs it; evaluate.py agrees with training; a failed
export leaves nothing half-written."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from common import workdir as workdir_layout
from data import digits, imagenet
from data import inputs as data_inputs
from data.testdata import PHOTOS, photo_folder
from training import export as export_module
from training.run import train_and_evaluate

pytestmark = pytest.mark.slow  # every test trains, exports or serves in a fresh process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, recipe_config):
    """The smoke recipe trained and exported through the library call (training.run), as train.py runs it."""
    workdir = tmp_path_factory.mktemp("digits") / "run"
    outcome = train_and_evaluate(recipe_config("smoke", f"--workdir={workdir}", f"--export_dir={workdir / 'export'}"),
                                 log=lambda *_: None)
    assert outcome.export_dir == str(workdir / "export") and outcome.step == 6
    return workdir


def test_digits_export_serves_like_the_in_process_model(digits_run, tmp_path, serve_elsewhere):
    info = json.loads((digits_run / "run.json").read_text())
    model = models.build("allcnn", info["variant"], num_classes=info["num_classes"])
    workdir_layout.restore_model(model, workdir_layout.checkpoint_path(str(digits_run)))
    inputs = data_inputs.load(data_inputs.Config(**info["data"]), 32, log=lambda *_: None)
    images, labels = digits.load("test")
    images = images[:12]
    expected = model(inputs.preprocess(tf.constant(images)), training=False).numpy()
    encoded = np.array([tf.io.encode_png(image).numpy() for image in images], dtype=object).astype(bytes)
    served = serve_elsewhere(digits_run / "export", tmp_path, encoded=encoded, images=images)
    for kind in ("bytes", "images"):
        np.testing.assert_allclose(served[f"{kind}_all_probabilities"], expected, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(served[f"{kind}_classes"][:, 0], expected.argmax(axis=1))
        assert served[f"{kind}_classes"].shape == (12, 5)
        np.testing.assert_allclose(served[f"{kind}_probabilities"][:, 0], expected.max(axis=1), rtol=1e-5)
    names = served["bytes_class_names"][:, 0].astype(str)
    assert list(names) == [digits.CLASS_NAMES[i] for i in expected.argmax(axis=1)]


def test_photo_export_serves_like_the_in_process_model(tmp_path, serve_elsewhere):
    root = photo_folder(tmp_path / "photos")
    config = data_inputs.Config(dataset="imagenet_folder", data_dir=str(root))
    inputs = data_inputs.load(config, 227, log=lambda *_: None)
    keras.utils.set_random_seed(0)
    model = models.build("alexnet", "bvlc", num_classes=len(inputs.class_names))
    export_module.export(model, inputs, inputs.class_names, str(tmp_path / "export"), log=lambda *_: None)
    photos = [PHOTOS[name]() for name in ("astronaut", "chelsea", "coffee", "rocket")]
    encoded = [tf.io.encode_jpeg(photo, quality=90).numpy() for photo in photos]
    expected = np.stack([model(imagenet.eval_image(data, "photo", 227, "center", inputs.mean)[None],
                               training=False).numpy()[0] for data in encoded])
    served = serve_elsewhere(tmp_path / "export", tmp_path, encoded=np.array(encoded, dtype=object).astype(bytes),
                             images=np.stack([tf.image.resize(p, [300, 400]).numpy().astype(np.uint8)
                                              for p in photos]))
    np.testing.assert_allclose(served["bytes_all_probabilities"], expected, rtol=1e-4, atol=1e-6)
    assert served["images_all_probabilities"].shape == (4, 2)
    assert set(served["bytes_class_names"].astype(str).ravel()) <= set(inputs.class_names)


def test_saved_model_cli_runs_it(digits_run, tmp_path):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    np.save(tmp_path / "images.npy", digits.load("test")[0][:2])
    result = subprocess.run([cli, "run", "--dir", str(digits_run / "export"), "--tag_set", "serve",
                             "--signature_def", "serve_images", "--inputs", f"images={tmp_path / 'images.npy'}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "classes" in result.stdout and "class_names" in result.stdout


def test_evaluate_counts_every_example_and_agrees_with_the_export(digits_run):
    reports = []
    for source in (f"--workdir={digits_run}", f"--saved_model={digits_run / 'export'}"):
        result = subprocess.run([sys.executable, "evaluate.py", source, "--batch_size=64"], cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        path = result.stdout.strip().splitlines()[-1].removeprefix("report: ")
        reports.append(json.loads(open(path).read()))
    assert reports[0]["examples"] == reports[1]["examples"] == 360  # not a multiple of 64: nothing dropped
    assert reports[0]["top1_correct"] == reports[1]["top1_correct"]
    assert reports[0]["top5_correct"] == reports[1]["top5_correct"]


def test_failed_export_leaves_no_half_written_directory_and_keeps_the_previous(digits_run, tmp_path, monkeypatch):
    target = tmp_path / "export"
    target.mkdir()
    (target / "saved_model.pb").write_bytes(b"previous")

    def broken_write_out(self, path, **kwargs):
        os.makedirs(path)
        (open(os.path.join(path, "partial"), "w")).close()
        raise OSError("No space left on device")

    # keras.export.ExportArchive() builds the backend's class: patch that one
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", broken_write_out)
    inputs = data_inputs.load(data_inputs.Config(), 32, log=lambda *_: None)
    with pytest.raises(OSError, match="No space"):
        export_module.export(models.build("allcnn", "all_cnn_c"), inputs, inputs.class_names, str(target))
    assert sorted(os.listdir(tmp_path)) == ["export"]
    assert (target / "saved_model.pb").read_bytes() == b"previous"


def test_bad_requests_fail_with_invalid_argument_and_the_model_keeps_serving(digits_run):
    loaded = tf.saved_model.load(str(digits_run / "export"))
    by_bytes, by_images = loaded.signatures["serving_default"], loaded.signatures["serve_images"]
    images = digits.load("test")[0][:2]
    good_bytes = tf.constant([tf.io.encode_png(image).numpy() for image in images])
    expected = by_bytes(images=good_bytes)["classes"].numpy()
    bad = [
        (by_bytes, tf.constant([b"this is not an image"]), "Unknown image file format"),
        (by_bytes, tf.constant([], tf.string),
         "serving_default takes a batch \\[N >= 1\\].*got a tensor of shape.*\\[0\\]"),
        (by_bytes, tf.constant([[b"a", b"b"]]), "serving_default takes .*got a tensor of shape.*\\[1 2\\]"),
        (by_images, tf.zeros([0, 32, 32, 3], tf.uint8), "serve_images takes a batch.*shape.*\\[0 32 32 3\\]"),
        (by_images, tf.zeros([32, 32, 3], tf.uint8), "serve_images takes a batch.*shape.*\\[32 32 3\\]"),
        (by_images, tf.zeros([2, 32, 32, 4], tf.uint8), "serve_images takes .*height, width, 3.*\\[2 32 32 4\\]"),
    ]
    for signature, request, message in bad:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            signature(images=request)
        # the next good request is served as before
        np.testing.assert_array_equal(by_bytes(images=good_bytes)["classes"].numpy(), expected)
    np.testing.assert_array_equal(by_images(images=tf.constant(images))["classes"].numpy(), expected)


def test_the_export_gives_the_figures_what_the_model_gives(digits_run):
    """``serve_features`` and ``first_layer``: the features, probabilities and kernels of the in-process model."""
    from figures import network
    info = json.loads((digits_run / "run.json").read_text())
    model = models.build("allcnn", info["variant"], num_classes=info["num_classes"], **info["model_options"])
    workdir_layout.restore_model(model, workdir_layout.checkpoint_path(str(digits_run)))
    inputs = data_inputs.load(data_inputs.Config(**info["data"]), info["image_size"], log=lambda *_: None)
    served = network.Served(str(digits_run / "export"))
    layer, kernels, groups = served.first_kernels()
    expected_layer, expected_kernels, expected_groups = network.first_kernels(model)
    assert (layer, groups) == (expected_layer, expected_groups)
    np.testing.assert_array_equal(kernels, expected_kernels)
    model_inputs, pictures, _ = inputs.sample("test", 20)
    features, probabilities = served.features(pictures)
    net = network.feature_model(model)
    expected_features, expected_probabilities = network.features(lambda x: net(x, training=False), model_inputs)
    np.testing.assert_allclose(features, expected_features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(probabilities, expected_probabilities, rtol=1e-4, atol=1e-6)
