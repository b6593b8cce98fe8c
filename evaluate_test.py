"""evaluate.py end to end on the digits: exact counts equal to the in-process model, and bad input."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import alexnet
import allcnn
from data import imagenet, pipeline
from data.testdata import photo_folder
from evaluation import metrics
from weights import testdata

pytestmark = pytest.mark.slow  # every test runs evaluate.py in a subprocess

ROOT = os.path.dirname(os.path.abspath(__file__))


def run_evaluate(*args):
    return subprocess.run([sys.executable, "evaluate.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_evaluate_py_reports_exact_counts_equal_to_the_in_process_model(tmp_path):
    keras.utils.set_random_seed(0)
    model = allcnn.build("all_cnn_c")
    model_file = tmp_path / "allcnn.keras"
    model.save(model_file)
    cache, report_path = tmp_path / "zca.npz", tmp_path / "report.json"
    result = run_evaluate(f"--model_file={model_file}", "--dataset=digits", "--split=test", "--batch_size=64",
                          f"--zca_cache={cache}", f"--report={report_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["examples"] == 360 and cache.exists()
    assert "top-1" in result.stdout and f"/ 360" in result.stdout
    # the speed of the pass: 5 batches of 64 and one of 40, the rate taken after the first
    assert report["batch_size"] == 64 and report["images_per_second"] > 0 and report["seconds"] > 0
    assert f"360 images in {report['seconds']:.1f} s: {report['images_per_second']:,.1f} images/s after the first " \
           "batch of 64" in result.stdout

    # The same numbers in process, from the same pipeline functions.
    train_images, _, _ = pipeline.load_arrays("digits", "train")
    _, preprocess = pipeline.gcn_zca(train_images, cache_path=cache)
    images, labels, _ = pipeline.load_arrays("digits", "test")
    scores = model(preprocess(tf.constant(images)), training=False).numpy()
    assert report["top1_correct"] == metrics.top_k_hits(scores, labels, 1)
    assert report["top5_correct"] == metrics.top_k_hits(scores, labels, 5)


def test_evaluate_py_bad_input_gives_one_clear_message(tmp_path):
    missing = run_evaluate(f"--model_file={tmp_path / 'nope.keras'}")
    assert missing.returncode != 0 and "nope.keras: no such file" in missing.stderr
    inputs = keras.Input((28, 28, 1))
    small = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    small.save(tmp_path / "mnist.keras")
    wrong = run_evaluate(f"--model_file={tmp_path / 'mnist.keras'}", f"--zca_cache={tmp_path / 'z.npz'}")
    assert wrong.returncode != 0
    assert "digits comes at 16 or 32 pixels (blocks of its 8x8 values), but the model takes 28x28" in wrong.stderr
    (tmp_path / "junk.keras").write_bytes(b"junk")
    junk = run_evaluate(f"--model_file={tmp_path / 'junk.keras'}")
    assert junk.returncode != 0 and "junk.keras: cannot load it as a Keras model" in junk.stderr
    export = run_evaluate(f"--saved_model={tmp_path}", f"--export_dir={tmp_path / 'again'}")
    assert export.returncode != 0 and export.stderr.strip().splitlines()[-1] == (
        "evaluate.py: error: --export_dir exports a Keras model: --saved_model is already an export (copy its "
        "directory).")
    assert "Traceback" not in missing.stderr + wrong.stderr + junk.stderr
    # scored, but the report and the export cannot be written: the figures are printed all the same
    inputs = keras.Input((16, 16, 3))
    tiny = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))
    tiny.save(tmp_path / "tiny.keras")
    (tmp_path / "a_file").write_text("not a directory")
    unwritable = run_evaluate(f"--model_file={tmp_path / 'tiny.keras'}", f"--zca_cache={tmp_path / 'z.npz'}",
                              f"--report={tmp_path / 'a_file' / 'report.json'}",
                              f"--export_dir={tmp_path / 'a_file' / 'export'}")
    assert unwritable.returncode != 0 and "Traceback" not in unwritable.stderr
    assert "top-1" in unwritable.stdout and "images/s" in unwritable.stdout
    message = unwritable.stderr.strip().splitlines()[-1]
    assert re.fullmatch(re.escape("evaluate.py: error: scored (the figures above), but could not write the report "
                                  f"{tmp_path / 'a_file' / 'report.json'} (") + r"[^;]+; pass --report=PATH\) or " +
                        re.escape(f"--export_dir={tmp_path / 'a_file' / 'export'} (") +
                        r"[^;]+; fix its permissions or pass another --export_dir\)\.", message), message


def test_evaluate_py_missing_dataset_is_one_clear_message(tmp_path):
    keras.utils.set_random_seed(0)
    allcnn.build("all_cnn_c").save(tmp_path / "m.keras")
    result = run_evaluate(f"--model_file={tmp_path / 'm.keras'}", "--dataset=cifar10_pickle",
                          f"--data_dir={tmp_path / 'cifar'}")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cifar' does not exist: download cifar-10-python.tar.gz" in result.stderr


@pytest.mark.slow
def test_published_caffemodel_is_scored_exported_and_served_alike(tmp_path, serve_elsewhere):
    """evaluate.py --weights on a folder of real photos: the Keras model's probabilities on the evaluation images,
    the report's counts, and the export served in a process without the project, all agree."""
    root = photo_folder(tmp_path / "photos")
    path = tmp_path / "bvlc_2class.caffemodel"
    testdata.write_caffemodel(path, "bvlc", testdata.random_caffe_weights("bvlc", num_classes=2))
    report_path, export_dir = tmp_path / "report.json", tmp_path / "export"
    synset_words = tmp_path / "synset_words.txt"  # Caffe's format
    synset_words.write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n")
    result = run_evaluate(f"--weights={path}", "--model=alexnet", "--variant=bvlc", f"--data_dir={root}",
                          f"--report={report_path}", f"--export_dir={export_dir}", f"--class_names={synset_words}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "caffe weights: scoring with --resize=squash --mean=caffe" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["examples"] == 3 and report["classes"] == 2
    # the same images through the Keras model in this process, with the same preprocessing
    model = alexnet.build("bvlc", num_classes=2, weights=str(path))
    files = sorted((root / "val").glob("*/*"))
    labels = [0 if f.parent.name == "n01440764" else 1 for f in files]
    encoded = [f.read_bytes() for f in files]
    expected = np.stack([model(imagenet.eval_image(data, f.name, 227, "center", imagenet.MEAN_RGB["caffe"],
                                                   resize="squash")[None], training=False).numpy()[0]
                         for data, f in zip(encoded, files)])
    assert report["top1_correct"] == int((expected.argmax(1) == labels).sum())
    served = serve_elsewhere(export_dir, tmp_path, encoded=np.array(encoded, dtype=object).astype(bytes))
    np.testing.assert_allclose(served["bytes_all_probabilities"], expected, rtol=1e-4, atol=1e-6)
    assert list(served["bytes_class_names"][:, 0].astype(str)) == [
        ("tench, Tinca tinca", "goldfish, Carassius auratus")[i] for i in expected.argmax(1)]


def test_published_weights_bad_input_is_one_line_and_writes_nothing(tmp_path):
    root = photo_folder(tmp_path / "photos")
    path = tmp_path / "bvlc.caffemodel"
    testdata.write_caffemodel(path, "bvlc", testdata.random_caffe_weights("bvlc", num_classes=3))
    result = run_evaluate(f"--weights={path}", "--variant=bvlc", f"--data_dir={root}",
                          f"--export_dir={tmp_path / 'export'}")
    assert result.returncode != 0 and not (tmp_path / "export").exists()
    assert result.stderr.strip().splitlines()[-1].startswith("evaluate.py: error: --weights=")
    assert "class layer fc8 has 2 outputs for --dataset=imagenet_folder" in result.stderr
    result = run_evaluate(f"--weights={path}", "--variant=caffenet", f"--data_dir={root}")
    assert "runs norm1 before pool1 (bvlc_alexnet's and the paper's order), but alexnet_caffenet runs the other; " \
           "pass the variant the file was trained as (--variant=bvlc)" in result.stderr
    result = run_evaluate(f"--weights={path}", "--variant=one_weird_trick", f"--data_dir={root}")
    assert "a caffe file, which holds the weights of --model=alexnet --variant=bvlc, --model=alexnet " \
           "--variant=caffenet; alexnet_one_weird_trick is another network" in result.stderr
    assert not list(tmp_path.glob("*.eval.json"))


@pytest.mark.slow
def test_neon_imagenet_weights_need_the_class_order(tmp_path):
    root = photo_folder(tmp_path / "photos")
    rng = np.random.default_rng(0)
    layers = testdata.neon_layers("neon_nolrn", "e7ab2c2e2", rng)
    for layer in layers:  # a 2-class file, for the folder's 2 classes
        if layer["config"]["name"] in ("Linear_2", "Linear_2_bias"):
            layer["params"]["W"] = layer["params"]["W"][:2]
    path = tmp_path / "alexnet.p"
    testdata.write_neon_p(path, testdata.neon_model_dict(layers, "e7ab2c2e2"))
    result = run_evaluate(f"--weights={path}", "--variant=neon_nolrn", f"--data_dir={root}")
    assert result.returncode != 0
    assert "neon's ImageNet outputs follow the ILSVRC2012 devkit's class order" in result.stderr
    assert "--class_order=FILE" in result.stderr
    order = tmp_path / "order.txt"
    order.write_text("n01443537\nn01440764\n")  # the file's outputs: goldfish first
    result = run_evaluate(f"--weights={path}", "--variant=neon_nolrn", f"--data_dir={root}", f"--class_order={order}",
                          f"--report={tmp_path / 'r.json'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "neon weights: scoring with --resize=shorter_side --mean=neon" in result.stdout
