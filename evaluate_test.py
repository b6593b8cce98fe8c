"""evaluate.py end to end on the digits: exact counts equal to the in-process model, and bad input."""

import json
import os
import subprocess
import sys

import pytest

import keras
import tensorflow as tf

import allcnn
from data import pipeline
from evaluation import metrics

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
    assert "Traceback" not in missing.stderr + wrong.stderr + junk.stderr


def test_evaluate_py_missing_dataset_is_one_clear_message(tmp_path):
    keras.utils.set_random_seed(0)
    allcnn.build("all_cnn_c").save(tmp_path / "m.keras")
    result = run_evaluate(f"--model_file={tmp_path / 'm.keras'}", "--dataset=cifar10_pickle",
                          f"--data_dir={tmp_path / 'cifar'}")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cifar' does not exist: download cifar-10-python.tar.gz" in result.stderr
