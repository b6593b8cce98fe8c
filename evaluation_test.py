"""Exact top-k counting, and evaluate.py end to end on the digits."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import allcnn
import evaluation
from data import pipeline

ROOT = os.path.dirname(os.path.abspath(__file__))


def test_top_k_hits_equals_brute_force():
    rs = np.random.RandomState(0)
    scores, labels = rs.normal(size=(500, 12)), rs.randint(0, 12, 500)
    for k in (1, 5):
        brute = sum(label in sorted(range(12), key=lambda c: -row[c])[:k] for row, label in zip(scores, labels))
        assert evaluation.top_k_hits(scores, labels, k) == brute
    assert evaluation.top_k_hits(scores[:, :3], np.zeros(500, int), 5) == 500  # k clipped to 3 classes


def _digits_test(batch_size):
    images, labels, _ = pipeline.load_arrays("digits", "test")
    return labels, pipeline.array_dataset(images, labels, batch_size, training=False)


def test_every_example_counts_with_a_partial_last_batch():
    labels, ds = _digits_test(batch_size=64)  # 360 = 5 * 64 + 40
    assert [len(y) for _, y in ds] == [64] * 5 + [40]
    oracle = iter([tf.one_hot(y, 10) for _, y in ds])
    report = evaluation.evaluate(lambda images: next(oracle), ds, expected_count=360)
    assert (report["examples"], report["top1_correct"], report["top1_accuracy"]) == (360, 360, 1.0)
    always_zero = evaluation.evaluate(lambda images: tf.one_hot(tf.zeros(len(images), tf.int32), 10), ds)
    assert always_zero["top1_correct"] == int((labels == 0).sum()) == 35
    assert always_zero["top5_correct"] == int((labels < 5).sum())  # ties rank the lower class indices first


def test_crops_are_averaged_before_ranking():
    # Two crops: class 2 wins one crop narrowly, class 1 wins the other clearly; the average picks class 1.
    scores = np.array([[[0.1, 0.4, 0.5], [0.1, 0.8, 0.1]]])
    ds = [(np.zeros((1, 2)), np.array([1]))]
    assert evaluation.evaluate(lambda x: scores, ds)["top1_correct"] == 1


def test_bad_labels_and_lost_examples_are_errors():
    ds = [(np.zeros((2, 1)), np.array([0, 10]))]
    with pytest.raises(ValueError, match="labels 0..10 are outside the model's 10 classes"):
        evaluation.evaluate(lambda x: np.ones((2, 10)), ds)
    with pytest.raises(RuntimeError, match="evaluated 2 examples but the split has 3"):
        evaluation.evaluate(lambda x: np.ones((2, 10)), [(np.zeros((2, 1)), np.array([0, 1]))], expected_count=3)


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
    assert report["top1_correct"] == evaluation.top_k_hits(scores, labels, 1)
    assert report["top5_correct"] == evaluation.top_k_hits(scores, labels, 5)


def test_evaluate_py_bad_input_gives_one_clear_message(tmp_path):
    missing = run_evaluate(f"--model_file={tmp_path / 'nope.keras'}")
    assert missing.returncode != 0 and "nope.keras: no such file" in missing.stderr
    inputs = keras.Input((28, 28, 1))
    small = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    small.save(tmp_path / "mnist.keras")
    wrong = run_evaluate(f"--model_file={tmp_path / 'mnist.keras'}", f"--zca_cache={tmp_path / 'z.npz'}")
    assert wrong.returncode != 0 and "digits comes at 16 or 32 pixels (blocks of its 8x8 values), but the model takes 28x28" in wrong.stderr
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
