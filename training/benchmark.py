"""Per-phase timing of a training step, in the layout of the neon model zoo's tables (neon readmes 000-002 in
SOURCES.md), for benchmark.py and notebooks:

    report = measure("alexnet", "paper", batch_size=128, precision="float32")
    print(phase_table(report)); print(summary(report))

fprop, update and the full iteration are each their own compiled function on a synthetic batch (the trainer's own
step: training/step.py); bprop = iteration - fprop - update, round by round (training/phases.py). The report gives
mean, median, min and max per phase, and from the median round: images/s, the step's FLOP counted from the model
(common/flops.py), the GFLOP/s achieved, and that as a fraction of a matmul peak measured in the same process at
the same precision, interleaved with the phases. LRN, which costs time but no FLOPs, is timed on its own (forward +
backward of the model's LRN layers at their real activation shapes). Runs unchanged on a GPU when TensorFlow sees
one.
"""

import datetime
import os
import platform

import keras
import tensorflow as tf

import models
from common import flops
from training import phases

DEFAULT_CLASSES = {"alexnet": 1000, "allcnn": 10}
PHASES = ("fprop", "bprop", "update", "iteration")

# The published GPU figures, ms per batch of 128 on a GeForce GTX Titan X (Maxwell); None where a source has no
# row. neon readme 000: neon's no-LRN AlexNet (neon e7ab2c2e2); neon readme 001: the ModelZoo CaffeNet-like network
# without weight grouping (neon v1.4.0); neon readme 002: All-CNN-C, neon and Caffe (50 iterations);
# one_weird_trick: TensorFlow in soumith/convnet-benchmarks (2016). SOURCES.md lists each.
PUBLISHED_FIGURES = {
    ("alexnet", "neon_nolrn"): [("neon (readme 000)", (33.5, 72.5, 9.3, 117.4))],
    ("alexnet", "neon"): [("neon (readme 001)", (40.1, 83.1, None, 123.2))],
    ("alexnet", "one_weird_trick"): [("TF 2016 (convnet-benchmarks)", (26.0, 55.0, None, 81.0))],
    ("allcnn", "all_cnn_c"): [("neon (readme 002)", (10.0, 22.0, None, 32.0)),
                              ("caffe (readme 002)", (19.0, 65.0, None, 85.0))],
}


def device_name():
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    cpu = platform.processor() or "CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU: {cpu}, {len(os.sched_getaffinity(0))} cores"


def _timed_functions(family, variant, batch_size, precision, jit_compile, num_classes, baseline_precision,
                     matmul_size, strategy):
    """name -> compiled callable for every function the rounds interleave (the phases, LRN, the matmul peak and the
    baseline precision's iteration), the model, and the matmul's FLOP."""
    functions = {}
    if baseline_precision:
        keras.mixed_precision.set_global_policy(baseline_precision)
        with strategy.scope():
            baseline = models.build(family, variant, num_classes=num_classes)
        functions["baseline"] = phases.training_phases(baseline, batch_size, jit_compile, baseline_precision,
                                                       strategy=strategy)["iteration"]
    keras.mixed_precision.set_global_policy(precision)
    with strategy.scope():
        model = models.build(family, variant, num_classes=num_classes)
    functions.update(phases.training_phases(model, batch_size, jit_compile, precision, strategy=strategy))
    lrn = phases.lrn_phase(model, batch_size, strategy=strategy)
    if lrn:
        functions["lrn"] = lrn
    peak_flops = 0
    if matmul_size:
        dtype = keras.mixed_precision.global_policy().compute_dtype
        functions["matmul"], peak_flops = phases.matmul(matmul_size, tf.as_dtype(dtype), strategy)
    return functions, model, peak_flops


def measure(family, variant, batch_size, precision, jit_compile=False, iterations=10, warmup=2, matmul_size=4096,
            num_classes=None, baseline_precision=None, strategy=None):
    """Time one model; returns the report as a dict (benchmark.py's JSON line). With ``baseline_precision``, the
    same model's full iteration at that precision joins the interleaved rounds, so the speed-up of ``precision``
    over it is a ratio measured in one run. Under ``strategy`` every phase runs on each of its replicas
    (``--cpu_devices``)."""
    num_classes = num_classes or DEFAULT_CLASSES[family]
    strategy = strategy or tf.distribute.get_strategy()
    try:
        functions, model, peak_flops = _timed_functions(family, variant, batch_size, precision, jit_compile,
                                                        num_classes, baseline_precision, matmul_size, strategy)
        times = phases.time_rounds(functions, iterations, warmup)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    times["bprop"] = phases.bprop_times(times["fprop"], times["update"], times["iteration"])
    stats = {name: phases.Stats.of(values) for name, values in times.items()}
    step_flops = flops.training_flops(model, batch_size)
    # Every figure below comes from the median round: the rounds interleave the functions, so a slow spell of a
    # shared machine lands in the same rounds for all of them, and the median leaves those rounds out alike (a mean
    # of the iteration against a median of the matmul held one slow round against the step alone).
    iteration = stats["iteration"].median
    report = {
        "model": family, "variant": variant, "batch_size": batch_size, "precision": precision,
        "jit_compile": jit_compile, "iterations": iterations, "warmup": warmup, "device": device_name(),
        "replicas": strategy.num_replicas_in_sync,
        "date": datetime.date.today().isoformat(), "tensorflow": tf.__version__,
        "ms": {name: {k: round(v * 1e3, 3) for k, v in vars(s).items()} for name, s in stats.items()
               if name not in ("matmul", "baseline")},
        "images_per_second": batch_size / iteration,
        "forward_gflop_per_image": flops.forward_flops(model) / 1e9,
        "gflop_per_step": step_flops / 1e9,
        "gflop_per_second": step_flops / iteration / 1e9,
    }
    if matmul_size:
        peak = peak_flops / stats["matmul"].median / 1e9
        report.update(matmul_size=matmul_size, matmul_gflop_per_second=peak,
                      fraction_of_matmul_peak=report["gflop_per_second"] / peak)
    if baseline_precision:
        report.update(baseline_precision=baseline_precision,
                      baseline_images_per_second=batch_size / stats["baseline"].median,
                      speedup_over_baseline=stats["baseline"].median / iteration)
    if "lrn" in stats:
        report["lrn_fraction_of_iteration"] = stats["lrn"].median / iteration
    return report


def _ms(value):
    return "-" if value is None else f"{value:.1f}"


def phase_table(report):
    """The neon layout: one row per phase, mean / median / min / max in msec."""
    lines = ["-" * 66, f"| {'Func':<11} | {'Mean':>11} | {'Median':>11} | {'Min':>9} | {'Max':>9} |", "-" * 66]
    rows = PHASES + (("lrn",) if "lrn" in report["ms"] else ())
    for name in rows:
        s = report["ms"][name]
        label = "lrn (f+b)" if name == "lrn" else name
        lines.append(f"| {label:<11} | {s['mean']:>6.1f} msec | {s['median']:>6.1f} msec | {s['min']:>9.1f} | "
                     f"{s['max']:>9.1f} |")
    lines.append("-" * 66)
    return "\n".join(lines)


def summary(report):
    lines = [f"{report['images_per_second']:.1f} images/s and {report['gflop_per_second']:.1f} GFLOP/s in the median "
             f"round ({report['gflop_per_step']:.1f} GFLOP per step, {report['forward_gflop_per_image']:.3f} GFLOP "
             "per image forward)"]
    if "matmul_gflop_per_second" in report:
        lines.append(f"= {report['fraction_of_matmul_peak']:.2f} of the {report['matmul_gflop_per_second']:.1f} "
                     f"GFLOP/s a {report['matmul_size']}^3 matmul reaches in this process ({report['precision']})")
    if "lrn_fraction_of_iteration" in report:
        lines.append(f"LRN (forward + backward of its layers): {report['lrn_fraction_of_iteration']:.1%} of the "
                     "iteration")
    if "speedup_over_baseline" in report:
        lines.append(f"{report['speedup_over_baseline']:.2f}x the {report['baseline_precision']} iteration "
                     f"({report['baseline_images_per_second']:.1f} images/s), timed in the same rounds")
    return "\n".join(lines)


def all_table(reports):
    """One row per model: our phases (median ms) and rates, then the published Titan X figures where a source timed
    that model."""
    head = (f"| {'model':<26} | {'fprop':>7} | {'bprop':>7} | {'update':>7} | {'iter':>7} | {'img/s':>6} | "
            f"{'GFLOP/s':>7} | {'of peak':>7} | {'Titan X (published) fprop/bprop/update/iter ms':<70} |")
    lines = [head, "|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|"]
    for r in reports:
        ms = r["ms"]
        seeds = "; ".join(f"{who}: " + "/".join(_ms(v) for v in figures)
                          for who, figures in PUBLISHED_FIGURES.get((r["model"], r["variant"]), [])) or "-"
        peak = f"{r['fraction_of_matmul_peak']:.2f}" if "fraction_of_matmul_peak" in r else "-"
        lines.append(
            f"| {r['model'] + ' ' + r['variant']:<26} | {ms['fprop']['median']:>7.0f} | "
            f"{ms['bprop']['median']:>7.0f} | {ms['update']['median']:>7.0f} | {ms['iteration']['median']:>7.0f} | "
            f"{r['images_per_second']:>6.1f} | "
            f"{r['gflop_per_second']:>7.1f} | {peak:>7} | {seeds:<70} |")
    return "\n".join(lines)
