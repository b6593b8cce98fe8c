"""Per-phase timing of a training step, in the layout of the neon model zoo's tables (seeds 000-002).

    python benchmark.py --model=alexnet --variant=paper --batch_size=128 [--precision=mixed_bfloat16]
    python benchmark.py --model=allcnn --iterations=50
    python benchmark.py --all            # every AlexNet variant and All-CNN-C, beside the seeds' Titan X figures
    python benchmark.py --precision=mixed_bfloat16 --baseline_precision=float32   # the speed-up, in one run

fprop, update and the full iteration are each their own compiled function on a synthetic batch (the trainer's own
step: training/step.py); bprop = iteration - fprop - update, round by round (training/phases.py). The report gives
mean, median, min and max per phase, and from the median round: images/s, the step's FLOP counted from the model
(common/flops.py), the GFLOP/s achieved, and that as a fraction of a matmul peak measured in the same process at
the same precision, interleaved with the phases. LRN, which costs time but no FLOPs, is timed on its own (forward +
backward of the model's LRN layers at their real activation shapes). The last line printed is one JSON object with every figure.
Runs unchanged on a GPU when TensorFlow sees one.
"""

import datetime
import json
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging


def define_flags():
    """The flags, defined when run as a program only, so that tests can import the table functions beside
    train.py's flags."""
    flags.DEFINE_enum("model", "alexnet", ["alexnet", "allcnn"], "Model family.")
    flags.DEFINE_string("variant", None, "Variant (default: alexnet 'paper', allcnn 'all_cnn_c').")
    flags.DEFINE_integer("batch_size", 128, "Images per step (the seeds: 128).")
    flags.DEFINE_integer("num_classes", None, "Classes (default: 1000 for AlexNet, 10 for All-CNN).")
    flags.DEFINE_enum("precision", "float32", PRECISIONS, "Keras dtype policy.")
    flags.DEFINE_enum("baseline_precision", None, PRECISIONS,
                      "Also time the full iteration at this precision, interleaved with the rest, and report the "
                      "speed-up over it (e.g. --precision=mixed_bfloat16 --baseline_precision=float32).")
    flags.DEFINE_bool("jit_compile", False, "Compile fprop and the gradients with XLA (as train.py --jit_compile).")
    flags.DEFINE_integer("cpu_devices", 1, "Run this many replicas side by side on the CPU, each on its share of the "
                         "batch with cores/cpu_devices threads per op (as train.py --strategy=mirrored "
                         "--cpu_devices=N); the matmul peak is then measured on every replica at once.")
    flags.DEFINE_integer("iterations", 10, "Timed rounds (the AlexNet seeds: 10 of 12; the All-CNN seed: 50).")
    flags.DEFINE_integer("warmup", 2, "Rounds run first and ignored (the seeds: 2); the first one compiles.")
    flags.DEFINE_integer("matmul_size", 4096, "Side of the square matmul that measures the peak (0: skip it).")
    flags.DEFINE_bool("all", False, "Every AlexNet variant and All-CNN-C, as one table beside the seeds' figures.")


PRECISIONS = ["float32", "mixed_bfloat16", "mixed_float16"]
DEFAULT_VARIANT = {"alexnet": "paper", "allcnn": "all_cnn_c"}
DEFAULT_CLASSES = {"alexnet": 1000, "allcnn": 10}
PHASES = ("fprop", "bprop", "update", "iteration")

# The seeds' GPU figures, ms per batch of 128 on a GeForce GTX Titan X (Maxwell); None where a seed has no row.
# 000: neon examples/imagenet/alexnet.py, no LRN (SHA e7ab2c2e2); 001: the ModelZoo CaffeNet-like network without
# weight grouping (neon v1.4.0); 002: All-CNN-C, neon and Caffe (50 iterations); one_weird_trick: TensorFlow in
# soumith/convnet-benchmarks (2016), as performance.md lists it.
SEED_FIGURES = {
    ("alexnet", "neon_nolrn"): [("neon (seed 000)", (33.5, 72.5, 9.3, 117.4))],
    ("alexnet", "neon"): [("neon (seed 001)", (40.1, 83.1, None, 123.2))],
    ("alexnet", "one_weird_trick"): [("TF 2016 (convnet-benchmarks)", (26.0, 55.0, None, 81.0))],
    ("allcnn", "all_cnn_c"): [("neon (seed 002)", (10.0, 22.0, None, 32.0)),
                              ("caffe (seed 002)", (19.0, 65.0, None, 85.0))],
}


def device_name():
    import tensorflow as tf

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


def measure(family, variant, batch_size, precision, jit_compile, iterations, warmup, matmul_size, num_classes=None,
            baseline_precision=None, strategy=None):
    """Time one model; returns the report as a dict (the JSON line's content). With ``baseline_precision``, the
    same model's full iteration at that precision joins the interleaved rounds, so the speed-up of ``precision``
    over it is a ratio measured in one run. Under ``strategy`` every phase runs on each of its replicas
    (``--cpu_devices``)."""
    import keras
    import tensorflow as tf

    import models
    from common import flops
    from training import phases

    num_classes = num_classes or DEFAULT_CLASSES[family]
    strategy = strategy or tf.distribute.get_strategy()
    functions = {}
    try:
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
    if lrn:
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
    """One row per model: our phases (median ms) and rates, then the seeds' Titan X figures where a seed timed that
    model."""
    head = (f"| {'model':<26} | {'fprop':>7} | {'bprop':>7} | {'update':>7} | {'iter':>7} | {'img/s':>6} | "
            f"{'GFLOP/s':>7} | {'of peak':>7} | {'Titan X (seed) fprop/bprop/update/iter ms':<70} |")
    lines = [head, "|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|"]
    for r in reports:
        ms = r["ms"]
        seeds = "; ".join(f"{who}: " + "/".join(_ms(v) for v in figures)
                          for who, figures in SEED_FIGURES.get((r["model"], r["variant"]), [])) or "-"
        peak = f"{r['fraction_of_matmul_peak']:.2f}" if "fraction_of_matmul_peak" in r else "-"
        lines.append(
            f"| {r['model'] + ' ' + r['variant']:<26} | {ms['fprop']['median']:>7.0f} | "
            f"{ms['bprop']['median']:>7.0f} | {ms['update']['median']:>7.0f} | {ms['iteration']['median']:>7.0f} | "
            f"{r['images_per_second']:>6.1f} | "
            f"{r['gflop_per_second']:>7.1f} | {peak:>7} | {seeds:<70} |")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        sys.exit(f"benchmark.py: error: unexpected arguments: {' '.join(argv[1:])} (flags are --name=value)")
    f = flags.FLAGS
    for name in ("batch_size", "iterations"):
        if f[name].value < 1:
            sys.exit(f"benchmark.py: error: --{name}={f[name].value} is invalid; it must be >= 1.")
    if f.warmup < 1:
        sys.exit(f"benchmark.py: error: --warmup={f.warmup} is invalid; it must be >= 1 (the first round compiles).")
    if f.cpu_devices < 1:
        sys.exit(f"benchmark.py: error: --cpu_devices={f.cpu_devices} is invalid; it must be >= 1.")
    logging.set_verbosity(logging.ERROR)  # TensorFlow's retracing notes when --all builds one model after another
    import models
    from training import distribute, phases

    strategy = distribute.side_by_side_strategy(f.cpu_devices)
    try:
        phases.replica_batch(f.batch_size, strategy)
    except ValueError as err:
        sys.exit(f"benchmark.py: error: {err}")

    common = dict(batch_size=f.batch_size, precision=f.precision, jit_compile=f.jit_compile,
                  iterations=f.iterations, warmup=f.warmup, matmul_size=f.matmul_size,
                  baseline_precision=f.baseline_precision if f.baseline_precision != f.precision else None)
    if f.all:
        todo = [("alexnet", v) for v in models.variants("alexnet")] + [("allcnn", "all_cnn_c")]
    else:
        variant = f.variant or DEFAULT_VARIANT[f.model]
        if variant not in models.variants(f.model):
            sys.exit(f"benchmark.py: error: --variant={variant!r} is not one of the {f.model} variants: "
                     f"{', '.join(models.variants(f.model))}.")
        todo = [(f.model, variant)]
    reports = []
    for family, variant in todo:
        report = measure(family, variant, num_classes=f.num_classes, strategy=strategy, **common)
        reports.append(report)
        replicas = f", {report['replicas']} replicas side by side" if report["replicas"] > 1 else ""
        print(f"\n{family} {variant}: batch {f.batch_size}, {f.precision}, XLA {'on' if f.jit_compile else 'off'}, "
              f"{report['device']}{replicas}; {f.iterations} timed rounds after {f.warmup} warm-up")
        print(phase_table(report))
        print(summary(report), flush=True)
    if f.all:
        print("\n" + all_table(reports))
        print(json.dumps({"results": reports}))
    else:
        print(json.dumps(reports[0]))


if __name__ == "__main__":
    define_flags()
    app.run(main)
