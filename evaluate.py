"""Score a trained model: top-1 and top-5 accuracy and error over every example of a split.

    python evaluate.py --workdir=runs/digits                  # the latest checkpoint of a training run
    python evaluate.py --workdir=runs/digits --checkpoint=best
    python evaluate.py --workdir=runs/digits --checkpoint=best --export_dir=runs/digits/best_export  # while it trains
    python evaluate.py --workdir=runs/alexnet_paper --crops=ten   # the paper's 10-crop test (ImageNet)
    python evaluate.py --saved_model=runs/digits/export       # an exported SavedModel, as it serves
    python evaluate.py --model_file=model.keras --dataset=digits
    python evaluate.py --weights=bvlc_alexnet.caffemodel --model=alexnet --variant=bvlc --data_dir=imagenet  # published

A workdir's run.json says which model, dataset and preprocessing the run used; ``--dataset``, ``--data_dir`` and
``--split`` override them. Every example counts: the last batch is smaller rather than dropped, and the count is
checked against the split's size. Prints a table and writes a JSON report (``--report``). Beside a run that is still
training, a workdir's latest (or best) complete checkpoint is scored, and the log and the report name its step.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's C++ INFO lines; warnings and errors stay

from absl import app, flags, logging

from data import inputs as data_inputs
from data.inputs import Config as DataConfig
from evaluation.metrics import EVAL_BATCH_SIZE

flags.DEFINE_string("workdir", None, "Training workdir: evaluates its latest (or --checkpoint=best) checkpoint.")
flags.DEFINE_string("checkpoint", "latest", "With --workdir: latest, best, or a checkpoint path (…/ckpt-N).")
flags.DEFINE_string("saved_model", None, "An exported SavedModel directory (its own preprocessing is used).")
flags.DEFINE_string("model_file", None, "A Keras model file (.keras).")
flags.DEFINE_string("weights", None, "A published weights file (Caffe .caffemodel, PyTorch state dict, neon .p) for "
                    "--model/--variant, scored without training (BUILD.md, \"Published weights\").")
flags.DEFINE_string("model", "alexnet", "With --weights: the model family the file is for (alexnet, allcnn).")
flags.DEFINE_string("variant", None, "With --weights: the variant the file is for (e.g. bvlc, caffenet, "
                    "one_weird_trick, neon, neon_nolrn).")
flags.DEFINE_enum("mean", None, list(data_inputs.MEANS), "ImageNet mean (default: the run's; with --weights, the "
                  "file's source's).")
flags.DEFINE_string("mean_file", None, "With --mean=image: a Caffe mean .binaryproto instead of the computed mean.")
flags.DEFINE_enum("resize", None, list(data_inputs.RESIZES), "ImageNet: how an image becomes the one crops are cut "
                  "from (default: the run's; with --weights, the file's source's).")
flags.DEFINE_string("class_order", None, "With --weights: a text file naming the file's outputs in order, one per "
                    "line (required for neon's ImageNet files, which follow the ILSVRC2012 devkit's order).")
flags.DEFINE_string("class_names", None, "With --export_dir: a text file of '<class> <description>' lines (Caffe's "
                    "synset_words.txt) whose descriptions the export serves instead of the dataset's names (WNIDs).")
flags.DEFINE_string("export_dir", None, "Also export the scored model (an imported --weights file, a --workdir's "
                    "checkpoint, even while the run trains, or a --model_file) as a SavedModel that serves encoded "
                    "images with this dataset's class names and preprocessing.")
flags.DEFINE_string("dataset", None, "Dataset (default: the run's; digits for --model_file/--saved_model).")
flags.DEFINE_string("data_dir", None, "Where the dataset is (default: the run's).")
flags.DEFINE_bool("download", DataConfig.download, "Let TFDS download and prepare the dataset if it is not there.")
flags.DEFINE_bool("skip_bad_images", DataConfig.skip_bad_images, "ImageNet folder: leave out the evaluation "
                  "split's unreadable images (listed; the report's example count says how many were scored).")
flags.DEFINE_string("split", None, "Split to evaluate (default: test for 32x32 datasets, validation for ImageNet).")
flags.DEFINE_enum("crops", DataConfig.crops, list(data_inputs.CROPS), "ImageNet: the central crop, or the paper's 10 "
                  "crops (4 corners + centre, and their mirrors) averaged.")
flags.DEFINE_integer("batch_size", EVAL_BATCH_SIZE, "Evaluation batch size (any size: every example is evaluated).")
flags.DEFINE_enum("preprocess", None, list(data_inputs.PREPROCESSING),
                  "All-CNN's GCN + ZCA, GCN alone, or raw pixels (default: the run's; data.inputs.Config's for "
                  "--model_file).")
flags.DEFINE_float("zca_bias", None, "ZCA filter bias (default: the run's; data.inputs.Config's for --model_file).")
flags.DEFINE_string("zca_cache", None, "ZCA statistics file (default: the run's, or ~/.cache/alexnet-allcnn/...).")
flags.DEFINE_string("report", None, "JSON report path (default: beside the model, named after dataset and split).")


def fail(message):
    sys.exit(f"evaluate.py: error: {message}")


def source_error(f):
    """What is wrong with the flags naming the model to score (one of the four sources), or None."""
    sources = [name for name in ("workdir", "saved_model", "model_file", "weights") if getattr(f, name)]
    if len(sources) != 1:
        return ("give exactly one of --workdir (a training run), --saved_model (an export), --model_file (.keras) or "
                "--weights (a published file).")
    if f.batch_size < 1:
        return f"--batch_size={f.batch_size} is invalid; valid values are integers >= 1."
    return None


def load(f, log=print):
    """The ``evaluation.score.Scorable`` the flags name (a ValueError names what is wrong). figures/__main__.py
    takes its model and data the same way."""
    from evaluation import score
    overrides = dict(dataset=f.dataset, data_dir=f.data_dir, preprocess=f.preprocess, zca_bias=f.zca_bias,
                     zca_cache=f.zca_cache, download=f.download, crops=f.crops, skip_bad_images=f.skip_bad_images,
                     mean=f.mean, mean_file=f.mean_file, resize=f.resize)
    if f.workdir:
        return score.from_workdir(f.workdir, f.checkpoint, overrides, log=log)
    if f.saved_model:
        return score.from_saved_model(f.saved_model, overrides, log=log)
    if f.model_file:
        return score.from_model_file(f.model_file, overrides, log=log)
    return score.from_weights(f.weights, f.model, f.variant, overrides, log=log, class_order=f.class_order)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])} (flags are --name=value)")
    f = flags.FLAGS
    problem = source_error(f)
    if problem:
        fail(problem)
    if f.export_dir and f.saved_model:
        fail("--export_dir exports a Keras model: --saved_model is already an export (copy its directory).")
    if f.class_names and not f.export_dir:
        fail("--class_names names the classes of an export: pass --export_dir with it.")
    logging.set_verbosity(logging.WARNING)
    import tensorflow as tf

    from common import files
    from evaluation import metrics, score

    try:
        import weights
        descriptions = weights.read_class_descriptions(f.class_names) if f.class_names else {}  # before scoring
        scorable = load(f)
        report = score.score(scorable, f.split, f.batch_size, log=print)
    except ValueError as err:
        fail(str(err))
    print(metrics.format_table(report, score.title(report)))  # first: a file that cannot be written loses nothing
    print(score.speed_line(report))
    path = f.report or score.default_report_path(scorable, report)
    unwritten = []
    try:
        metrics.write_json(report, path)
        print(f"report: {path}")
    except (OSError, tf.errors.OpError) as err:
        unwritten.append(f"the report {path} ({files.reason(err)}; pass --report=PATH)")
    if f.export_dir:
        from training import export
        names = [descriptions.get(name, name) for name in scorable.inputs.class_names]
        try:
            export.export(scorable.model, scorable.inputs, names, f.export_dir, log=print)
        except (OSError, tf.errors.OpError) as err:
            unwritten.append(f"--export_dir={f.export_dir} ({files.reason(err)}; fix its permissions or pass another "
                             "--export_dir)")
    if unwritten:
        fail("scored (the figures above), but could not write " + " or ".join(unwritten) + ".")


if __name__ == "__main__":
    app.run(main)
