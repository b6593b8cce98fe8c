"""Per-phase timing of a training step, in the layout of the neon model zoo's tables (training/benchmark.py).

    python benchmark.py --model=alexnet --variant=paper --batch_size=128 [--precision=mixed_bfloat16]
    python benchmark.py --model=allcnn --iterations=50
    python benchmark.py --all            # every AlexNet variant and All-CNN-C, beside the published Titan X figures
    python benchmark.py --precision=mixed_bfloat16 --baseline_precision=float32   # the speed-up, in one run
    python benchmark.py --model=allcnn --cpu_devices=2     # two replicas side by side
    python benchmark.py --inference --model=alexnet        # evaluate.py's forward pass, batch-1 latency, the SavedModel
    python benchmark.py --inference --all                  # every AlexNet variant and All-CNN-C, one table

Prints the neon-style phase table (mean / median / min / max of fprop, bprop, update, iteration), the rates from
the median round (images/s, GFLOP/s, the fraction of a same-process matmul peak) and, last, one JSON object with
every figure. ``--inference`` times inference instead (training/inference.py): the forward pass at the evaluation
batch against the same-run matmul peak, batch-1 latency (median, 99th percentile) and the exported SavedModel fed
JPEGs.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging

import models
from training.precision import PRECISIONS

flags.DEFINE_enum("model", "alexnet", list(models.FAMILIES), "Model family.")
flags.DEFINE_string("variant", None, "Variant (default: alexnet 'paper', allcnn 'all_cnn_c').")
flags.DEFINE_integer("batch_size", 128, "Images per step (the neon readmes: 128).")
flags.DEFINE_integer("num_classes", None, "Classes (default: 1000 for AlexNet, 10 for All-CNN).")
flags.DEFINE_enum("precision", "float32", list(PRECISIONS), "Keras dtype policy (auto: as train.py's).")
flags.DEFINE_enum("baseline_precision", None, list(PRECISIONS),
                  "Also time the full iteration at this precision, interleaved with the rest, and report the "
                  "speed-up over it (e.g. --precision=mixed_bfloat16 --baseline_precision=float32).")
flags.DEFINE_bool("jit_compile", False, "Compile fprop and the gradients with XLA (as train.py --jit_compile).")
flags.DEFINE_integer("cpu_devices", 1, "Run this many replicas side by side on the CPU, each on its share of the "
                     "batch with cores/cpu_devices threads per op (as train.py --strategy=mirrored "
                     "--cpu_devices=N); the matmul peak is then measured on every replica at once.")
flags.DEFINE_integer("iterations", 10, "Timed rounds (the AlexNet readmes: 10 of 12; the All-CNN readme: 50).")
flags.DEFINE_integer("warmup", 2, "Rounds run first and ignored (the readmes: 2); the first one compiles.")
flags.DEFINE_integer("matmul_size", 4096, "Side of the square matmul that measures the peak (0: skip it).")
flags.DEFINE_bool("all", False, "Every AlexNet variant and All-CNN-C, as one table beside the published figures.")
flags.DEFINE_bool("inference", False, "Time inference instead of training: the forward pass in inference mode at "
                  "--batch_size (evaluate.py's batch by default), batch-1 latency, and the exported SavedModel's "
                  "serving_default on encoded JPEGs.")
flags.DEFINE_integer("latency_calls", 50, "With --inference: batch-1 calls timed for the latency percentiles.")
flags.DEFINE_integer("serving_batch", 32, "With --inference: JPEGs per serving_default call (0: skip the export).")


def fail(message):
    sys.exit(f"benchmark.py: error: {message}")


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])} (flags are --name=value)")
    f = flags.FLAGS
    for name in ("batch_size", "iterations"):
        if f[name].value < 1:
            fail(f"--{name}={f[name].value} is invalid; it must be >= 1.")
    if f.warmup < 1:
        fail(f"--warmup={f.warmup} is invalid; it must be >= 1 (the first round compiles).")
    if f.cpu_devices < 1:
        fail(f"--cpu_devices={f.cpu_devices} is invalid; it must be >= 1.")
    logging.set_verbosity(logging.ERROR)  # TensorFlow's retracing notes when --all builds one model after another
    from training import distribute, phases, precision
    from training.benchmark import all_table, measure, phase_table, summary

    if f.inference:
        training_only = [name for name in ("cpu_devices", "baseline_precision", "jit_compile")
                         if f[name].value != f[name].default]
        if training_only:
            fail(f"--{training_only[0]} times the training step; --inference times one device's forward pass, as "
                 "evaluate.py runs it: leave it out.")
        if f.latency_calls < 1 or f.serving_batch < 0:
            fail("--latency_calls must be >= 1 and --serving_batch >= 0 (0: skip the export).")

    try:
        todo = ([("alexnet", v) for v in models.variants("alexnet")] + [("allcnn", "all_cnn_c")] if f.all
                else [(f.model, models.resolve_variant(f.model, f.variant))])
        strategy = distribute.side_by_side_strategy(f.cpu_devices)
        phases.replica_batch(f.batch_size, strategy)
        resolved = precision.resolve_precision(f.precision, flag="precision")
        baseline = f.baseline_precision and precision.resolve_precision(f.baseline_precision,
                                                                         flag="baseline_precision")
    except ValueError as err:
        fail(str(err))
    if f.inference:
        return inference(f, todo, resolved)
    common = dict(batch_size=f.batch_size, precision=resolved, jit_compile=f.jit_compile,
                  iterations=f.iterations, warmup=f.warmup, matmul_size=f.matmul_size,
                  baseline_precision=baseline if baseline != resolved else None)
    reports = []
    for family, variant in todo:
        report = measure(family, variant, num_classes=f.num_classes, strategy=strategy, **common)
        reports.append(report)
        replicas = f", {report['replicas']} replicas side by side" if report["replicas"] > 1 else ""
        print(f"\n{family} {variant}: batch {f.batch_size}, {resolved}, XLA {'on' if f.jit_compile else 'off'}, "
              f"{report['device']}{replicas}; {f.iterations} timed rounds after {f.warmup} warm-up")
        print(phase_table(report))
        print(summary(report), flush=True)
    print_results(f, reports, all_table)


def print_results(f, reports, table):
    """The table of every network (--all) and the JSON line of the results."""
    if f.all:
        print("\n" + table(reports))
        print(json.dumps({"results": reports}))
    else:
        print(json.dumps(reports[0]))


def inference(f, todo, resolved):
    from training.inference import inference_summary, inference_table, measure_inference
    reports = []
    for family, variant in todo:
        report = measure_inference(family, variant, batch_size=f.batch_size, precision=resolved,
                                   iterations=f.iterations, warmup=f.warmup, matmul_size=f.matmul_size,
                                   latency_calls=f.latency_calls, serving_batch=f.serving_batch,
                                   serving=f.serving_batch > 0, num_classes=f.num_classes)
        reports.append(report)
        print(f"\n{family} {variant}: inference, {resolved}, {report['device']}; {f.iterations} timed rounds after "
              f"{f.warmup} warm-up")
        print(inference_summary(report), flush=True)
    print_results(f, reports, inference_table)


if __name__ == "__main__":
    app.run(main)
