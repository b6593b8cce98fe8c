"""Inference timed as benchmark.py times training (``benchmark.py --inference``), for the users who score or serve a
trained or imported network rather than train one:

    report = measure_inference("alexnet", "paper", precision="float32")  # at evaluate.py's batch, 128
    print(inference_summary(report))

- The Keras model's forward pass in inference mode (``model(x, training=False)``, what evaluate.py runs), one
  compiled function on a synthetic batch: at batch 1, each call timed alone (latency: median and 99th percentile);
  at the evaluation batch, interleaved round by round with a same-precision matmul (images/s, GFLOP/s, the fraction of
  that same-run peak), as training/benchmark.py does for the training step.
- The exported SavedModel (training/export.py, what a server loads) called through ``serving_default`` on a batch of
  encoded JPEGs (scikit-image's sample photos at the network's input size), interleaved with the Keras model at the
  same batch (the serving overhead as a ratio) and with the export's own preprocessing alone (decode, resize, crop,
  normalise: its share of the served time).
"""

import os
import pathlib
import statistics
import tempfile

import keras
import numpy as np
import tensorflow as tf

import models
from common import flops
from data import inputs as data_inputs
from evaluation.metrics import EVAL_BATCH_SIZE
from training import phases
from training.benchmark import DEFAULT_CLASSES, device_name

SERVING_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def forward(model, batch_size, seed=0):
    """A compiled inference-mode forward pass of ``model`` on one synthetic batch of ``batch_size`` images."""
    images, _ = phases.synthetic_batch(model.input.shape[1:], batch_size, 2, seed)
    run = tf.function(lambda: tf.reduce_sum(tf.cast(model(images, training=False)[:1, :1], tf.float32)))
    return run


def percentile(values, q):
    """The ``q``-th percentile (0-100) of ``values``, linear between the order statistics (NumPy's default)."""
    return float(np.percentile(np.asarray(values), q))


def serving_inputs(family, image_size, directory, log=print):
    """The ``data.inputs`` object whose preprocessing the export serves: a folder of real photos (the ImageNet
    pipeline, the ImageNet mean colour) for AlexNet, the digits (GCN + ZCA) for All-CNN."""
    if family == "alexnet":
        from data.testdata import photo_folder
        root = photo_folder(pathlib.Path(directory) / "photos")
        config = data_inputs.Config(dataset="imagenet_folder", data_dir=str(root), mean="caffe")
    else:
        config = data_inputs.Config(dataset="digits")
    return data_inputs.load(config, image_size, log=log, scan_train=False)


def jpeg_batch(batch_size, size, quality=90):
    """``batch_size`` encoded JPEGs of ``size`` x ``size``: scikit-image's sample photos, resized, in turn."""
    from data.testdata import PHOTOS
    encoded = [tf.io.encode_jpeg(tf.cast(tf.image.resize(PHOTOS[name](), [size, size]), tf.uint8),
                                 quality=quality) for name in SERVING_PHOTOS]
    return tf.constant([encoded[i % len(encoded)].numpy() for i in range(batch_size)])


def measure_inference(family, variant, batch_size=EVAL_BATCH_SIZE, precision="float32", iterations=10, warmup=2,
                      matmul_size=4096, latency_calls=50, serving_batch=32, serving=True, num_classes=None,
                      log=print):
    """Time ``family``/``variant``'s inference; returns the report as a dict (benchmark.py's JSON line)."""
    num_classes = num_classes or DEFAULT_CLASSES[family]
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = models.build(family, variant, num_classes=num_classes)
        functions = {"forward": forward(model, batch_size)}
        peak_flops = 0
        if matmul_size:
            dtype = tf.as_dtype(keras.mixed_precision.global_policy().compute_dtype)
            functions["matmul"], peak_flops = phases.matmul(matmul_size, dtype)
        times = phases.time_rounds(functions, iterations, warmup)
        latency = phases.time_rounds({"batch1": forward(model, 1)}, latency_calls, warmup)["batch1"]
        served = _serving(family, model, serving_batch, iterations, warmup, log) if serving else None
    finally:
        keras.mixed_precision.set_global_policy("float32")
    step = statistics.median(times["forward"])
    forward_flops = flops.forward_flops(model)
    report = {
        "model": family, "variant": variant, "batch_size": batch_size, "precision": precision,
        "iterations": iterations, "warmup": warmup, "device": device_name(), "tensorflow": tf.__version__,
        "forward_ms": {k: round(v * 1e3, 3) for k, v in vars(phases.Stats.of(times["forward"])).items()},
        "images_per_second": batch_size / step,
        "forward_gflop_per_image": forward_flops / 1e9,
        "gflop_per_second": forward_flops * batch_size / step / 1e9,
        "latency_calls": latency_calls,
        "latency_ms": {"median": statistics.median(latency) * 1e3, "p99": percentile(latency, 99) * 1e3,
                       "min": min(latency) * 1e3},
    }
    if matmul_size:
        peak = peak_flops / statistics.median(times["matmul"]) / 1e9
        report.update(matmul_size=matmul_size, matmul_gflop_per_second=peak,
                      fraction_of_matmul_peak=report["gflop_per_second"] / peak)
    if served:
        report["serving"] = served
    return report


def _serving(family, model, batch_size, iterations, warmup, log):
    """The export's ``serving_default`` on ``batch_size`` JPEGs, interleaved with the Keras model at that batch and
    with the export's preprocessing alone."""
    from training.export import export
    image_size = model.input.shape[1]
    with tempfile.TemporaryDirectory() as directory:
        inputs = serving_inputs(family, image_size, directory, log=lambda line: None)
        path = export(model, inputs, inputs.class_names, os.path.join(directory, "export"), log=lambda line: None)
        signature = tf.saved_model.load(path).signatures["serving_default"]
        jpegs = jpeg_batch(batch_size, 224 if family == "alexnet" else 32)
        state = {name: tf.constant(value) for name, value in inputs.serving_state().items()}
        preprocess = tf.function(lambda: tf.reduce_sum(inputs.serve_bytes(jpegs, state)[:1, :1, :1, :1]))
        functions = {"saved_model": lambda: signature(images=jpegs)["probabilities"],
                     "keras": forward(model, batch_size), "preprocessing": preprocess}
        times = phases.time_rounds(functions, iterations, warmup)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {"batch_size": batch_size, "jpeg_size": 224 if family == "alexnet" else 32,
            "images_per_second": batch_size / medians["saved_model"],
            "keras_images_per_second": batch_size / medians["keras"],
            "of_keras_rate": medians["keras"] / medians["saved_model"],
            "preprocessing_share": medians["preprocessing"] / medians["saved_model"],
            "ms": {name: round(value * 1e3, 3) for name, value in medians.items()}}


def inference_table(reports):
    """One row per model: the forward pass at the evaluation batch, batch-1 latency, the SavedModel on JPEGs."""
    head = (f"| {'model':<26} | {'batch':>5} | {'img/s':>7} | {'GFLOP/s':>7} | {'of peak':>7} | {'b1 median ms':>12} | "
            f"{'b1 p99 ms':>9} | {'served img/s':>12} | {'of Keras':>8} | {'decode share':>12} |")
    lines = [head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]
    for r in reports:
        served = r.get("serving")
        peak = f"{r['fraction_of_matmul_peak']:.2f}" if "fraction_of_matmul_peak" in r else "-"
        lines.append(
            f"| {r['model'] + ' ' + r['variant']:<26} | {r['batch_size']:>5} | {r['images_per_second']:>7.1f} | "
            f"{r['gflop_per_second']:>7.1f} | {peak:>7} | {r['latency_ms']['median']:>12.2f} | "
            f"{r['latency_ms']['p99']:>9.2f} | "
            + (f"{served['images_per_second']:>12.1f} | {served['of_keras_rate']:>8.2f} | "
               f"{served['preprocessing_share']:>12.0%} |" if served else f"{'-':>12} | {'-':>8} | {'-':>12} |"))
    return "\n".join(lines)


def inference_summary(report):
    """What benchmark.py --inference prints for one model."""
    latency = report["latency_ms"]
    lines = [f"forward (inference mode), batch {report['batch_size']}: {report['images_per_second']:.1f} images/s, "
             f"{report['gflop_per_second']:.1f} GFLOP/s in the median round ({report['forward_ms']['median']:.1f} ms; "
             f"{report['forward_gflop_per_image']:.3f} GFLOP per image)"]
    if "matmul_gflop_per_second" in report:
        lines.append(f"= {report['fraction_of_matmul_peak']:.2f} of the {report['matmul_gflop_per_second']:.1f} "
                     f"GFLOP/s a {report['matmul_size']}^3 matmul reaches in this process ({report['precision']})")
    lines.append(f"batch 1: median {latency['median']:.2f} ms, 99th percentile {latency['p99']:.2f} ms "
                 f"({report['latency_calls']} calls)")
    served = report.get("serving")
    if served:
        lines.append(f"SavedModel serving_default, {served['batch_size']} JPEGs of {served['jpeg_size']}x"
                     f"{served['jpeg_size']}: {served['images_per_second']:.1f} images/s = "
                     f"{served['of_keras_rate']:.2f} of the Keras model's {served['keras_images_per_second']:.1f} "
                     f"at that batch; decoding, resizing and cropping: {served['preprocessing_share']:.0%} of its time")
    return "\n".join(lines)
