"""Score a trained model: top-1 and top-5 accuracy and error over every example of a split.

    python evaluate.py --workdir=runs/digits                  # the latest checkpoint of a training run
    python evaluate.py --workdir=runs/digits --checkpoint=best
    python evaluate.py --workdir=runs/alexnet_paper --crops=ten   # the paper's 10-crop test (ImageNet)
    python evaluate.py --saved_model=runs/digits/export       # an exported SavedModel, as it serves
    python evaluate.py --model_file=model.keras --dataset=digits

A workdir's run.json says which model, dataset and preprocessing the run used; ``--dataset``, ``--data_dir`` and
``--split`` override them. Every example counts: the last batch is smaller rather than dropped, and the count is
checked against the split's size. Prints a table and writes a JSON report (``--report``).
"""

import dataclasses
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's C++ INFO lines; warnings and errors stay

from absl import app, flags, logging

flags.DEFINE_string("workdir", None, "Training workdir: evaluates its latest (or --checkpoint=best) checkpoint.")
flags.DEFINE_string("checkpoint", "latest", "With --workdir: latest, best, or a checkpoint path (…/ckpt-N).")
flags.DEFINE_string("saved_model", None, "An exported SavedModel directory (its own preprocessing is used).")
flags.DEFINE_string("model_file", None, "A Keras model file (.keras).")
flags.DEFINE_string("dataset", None, "Dataset (default: the run's; digits for --model_file/--saved_model).")
flags.DEFINE_string("data_dir", None, "Where the dataset is (default: the run's).")
flags.DEFINE_bool("download", False, "Let TFDS download and prepare the dataset if it is not there.")
flags.DEFINE_string("split", None, "Split to evaluate (default: test for 32x32 datasets, validation for ImageNet).")
flags.DEFINE_enum("crops", "center", ["center", "ten"], "ImageNet: the central crop, or the paper's 10 crops "
                                                        "(4 corners + centre, and their mirrors) averaged.")
flags.DEFINE_integer("batch_size", 100, "Evaluation batch size (any size: every example is evaluated).")
flags.DEFINE_enum("preprocess", None, ["gcn_zca", "gcn", "none"],
                  "--model_file: All-CNN's GCN + ZCA, GCN alone, or raw pixels (default gcn_zca).")
flags.DEFINE_float("zca_bias", None, "--model_file: ZCA filter bias (default 0.1).")
flags.DEFINE_string("zca_cache", None, "ZCA statistics file (default: the run's, or ~/.cache/alexnet-allcnn/...).")
flags.DEFINE_string("report", None, "JSON report path (default: beside the model, named after dataset and split).")


def fail(message):
    sys.exit(f"evaluate.py: error: {message}")


def _run_info(workdir):
    path = os.path.join(workdir, "run.json")
    if not os.path.isfile(path):
        fail(f"--workdir={workdir} has no run.json: it is not a training workdir (train.py writes one).")
    with open(path) as f:
        return json.load(f)


def _data_config(f, base):
    from data import inputs as data_inputs

    overrides = {"dataset": f.dataset, "data_dir": f.data_dir, "preprocess": f.preprocess, "zca_bias": f.zca_bias,
                 "zca_cache": f.zca_cache}
    values = dict(base, download=f.download, crops=f.crops, skip_bad_images=False)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {field.name for field in data_inputs.Config.__dataclass_fields__.values()}
    return data_inputs.Config(**{k: v for k, v in values.items() if k in known})


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])} (flags are --name=value)")
    f = flags.FLAGS
    sources = [name for name in ("workdir", "saved_model", "model_file") if getattr(f, name)]
    if len(sources) != 1:
        fail("give exactly one of --workdir (a training run), --saved_model (an export) or --model_file (.keras).")
    if f.batch_size < 1:
        fail(f"--batch_size={f.batch_size} is invalid; valid values are integers >= 1.")
    logging.set_verbosity(logging.WARNING)

    import keras
    import tensorflow as tf

    import evaluation
    import models
    from common.errors import DATA_ERRORS, op_error_line
    from data import inputs as data_inputs
    from training.loop import model_state

    if f.workdir:
        info = _run_info(f.workdir)
        config = _data_config(f, info.get("data", {"dataset": info["dataset"]}))
        image_size = info["image_size"]
        model = models.build(info["model"], info["variant"], num_classes=info["num_classes"],
                             **info.get("model_options", {}))
        directory = {"latest": "checkpoints", "best": "best"}.get(f.checkpoint)
        path = tf.train.latest_checkpoint(os.path.join(f.workdir, directory)) if directory else f.checkpoint
        if not path:
            fail(f"--workdir={f.workdir} has no {f.checkpoint} checkpoint yet (in {os.path.join(f.workdir, directory)}"
                 "): train first, or pass --checkpoint=latest.")
        try:
            tf.train.Checkpoint(model=model_state(model)).restore(path).expect_partial() \
                .assert_existing_objects_matched()
        except (tf.errors.NotFoundError, AssertionError, ValueError) as err:
            fail(f"--checkpoint={path}: cannot restore it into {info['model']} '{info['variant']}' "
                 f"({type(err).__name__}: {str(err).splitlines()[0]}).")
        label = f"{f.workdir} ({os.path.basename(path)})"
        report_base = path
    elif f.saved_model:
        if not os.path.isfile(os.path.join(f.saved_model, "saved_model.pb")):
            fail(f"--saved_model={f.saved_model} is not a SavedModel directory (no saved_model.pb): pass the "
                 "--export_dir of a training run.")
        if f.crops != "center":
            fail("--crops=ten needs the model itself: a SavedModel serves the central crop; use --workdir.")
        loaded = tf.saved_model.load(f.saved_model)
        # the SavedModel preprocesses its own input: the data is read raw, whatever --preprocess says
        config = dataclasses.replace(_data_config(f, {"dataset": "digits"}), preprocess="none")
        label, report_base, image_size = f.saved_model, f.saved_model.rstrip("/"), None
    else:
        if not os.path.isfile(f.model_file):
            fail(f"--model_file={f.model_file}: no such file. Pass the .keras file of a trained model.")
        try:
            model = keras.models.load_model(f.model_file)
        except Exception as err:  # a corrupt or foreign file: say which, not a deep traceback
            fail(f"--model_file={f.model_file}: cannot load it as a Keras model ({type(err).__name__}: {err}).")
        config = _data_config(f, {"dataset": "digits"})
        image_size = model.input.shape[1]
        label, report_base = f.model_file, f.model_file

    try:
        inputs = data_inputs.load(config, image_size or 32, log=logging.info)
        split = f.split or inputs.eval_split
        expected = inputs.count(split)
        if f.saved_model:
            signature = loaded.signatures["serve_images" if inputs.raw_kind == "images" else "serving_default"]
            dataset = inputs.raw_dataset(f.batch_size, split)
            predict = lambda batch: signature(images=batch)["all_probabilities"]  # noqa: E731
        else:
            dataset = inputs.eval_dataset(f.batch_size, split)
            predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        report = evaluation.evaluate(predict, dataset, expected_count=expected)
    except (FileNotFoundError, ValueError) as err:
        fail(f"--dataset={config.dataset} --data_dir={config.data_dir}: {err}")
    except DATA_ERRORS as err:
        fail(f"--dataset={config.dataset}: the data could not be read: {op_error_line(err)}")
    report.update(model=label, dataset=config.dataset, split=split, crops=f.crops, classes=len(inputs.class_names))
    path = f.report or f"{report_base}.{config.dataset}-{split}{'-10crop' if f.crops == 'ten' else ''}.eval.json"
    evaluation.write_json(report, path)
    print(evaluation.format_table(report, f"{label} on {config.dataset}/{split} ({expected:,} examples"
                                          f"{', 10 crops' if f.crops == 'ten' else ''})"))
    print(f"report: {path}")


if __name__ == "__main__":
    app.run(main)
