"""What evaluate.py scores, loaded from one of three sources, and the scoring itself:

    model = score.from_workdir("runs/digits", checkpoint="best")     # a training run's checkpoint
    model = score.from_saved_model("runs/digits/export")              # an export, through its own preprocessing
    model = score.from_model_file("model.keras", score.data_config({"dataset": "digits"}))
    model = score.from_weights("bvlc_alexnet.caffemodel", "alexnet", "bvlc", {"data_dir": "imagenet"})
    report = score.score(model, split=None)                            # top-1/top-5 over every example

Every problem (a missing or foreign source, a checkpoint that does not fit, data that is missing or unreadable) is
a ValueError whose message names the flag and the fix.
"""

import dataclasses
import os
import time

import keras
import tensorflow as tf

import models
import weights
from common import files
from common import workdir as workdir_layout
from common.errors import DATA_ERRORS, op_error_line
from data import inputs as data_inputs
from evaluation import metrics


@dataclasses.dataclass
class Scorable:
    """A model ready to score: ``predict(images) -> probabilities`` over ``inputs``' splits. ``raw``: the model
    preprocesses its own input (a SavedModel), so the split is read unprocessed."""
    label: str  # how the report names the model
    report_base: str  # the default report path's stem
    config: data_inputs.Config
    inputs: object
    predict: object
    raw: bool = False
    model: object = None  # the Keras model, where there is one (not for a SavedModel): exports, figures
    checkpoint: str = None  # a workdir's: the checkpoint scored and the step it was saved at
    step: int = None


def data_config(base, dataset=None, data_dir=None, preprocess=None, zca_bias=None, zca_cache=None, download=False,
                crops="center", skip_bad_images=False, mean=None, mean_file=None, resize=None):
    """The data options of a scoring run: ``base`` (a run's recorded options; ``data.inputs.Config``'s defaults
    for what it leaves out) with every argument that is not None in its place. ``skip_bad_images`` leaves out the
    unreadable images of an ImageNet folder (listed in the log; the report's ``examples`` counts what was scored)."""
    overrides = {"dataset": dataset, "data_dir": data_dir, "preprocess": preprocess, "zca_bias": zca_bias,
                 "zca_cache": zca_cache, "mean": mean, "mean_file": mean_file, "resize": resize}
    values = dict(base, download=download, crops=crops, skip_bad_images=skip_bad_images)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {field.name for field in dataclasses.fields(data_inputs.Config)}
    return data_inputs.Config(**{k: v for k, v in values.items() if k in known})


def _keras_predict(model):
    """The model in inference mode, compiled; a batch of the paper's ten crops, (batch, 10, h, w, 3), goes through
    as one batch of crops and comes back as (batch, 10, classes) for ``metrics.evaluate`` to average."""
    @tf.function(reduce_retracing=True)
    def predict(images):
        if images.shape.rank == 5:
            shape = tf.shape(images)
            scores = model(tf.reshape(images, tf.concat([[-1], shape[2:]], 0)), training=False)
            return tf.reshape(scores, tf.concat([shape[:2], [-1]], 0))
        return model(images, training=False)

    return predict


def from_workdir(workdir, checkpoint="latest", overrides=None, log=print):
    """A training run's ``checkpoint`` (latest, best, or a path), with the model and data its run.json records;
    ``overrides`` (``data_config``'s arguments) replace what the run used."""
    info = workdir_layout.read_run_info(workdir)
    if info is None:
        raise ValueError(f"--workdir={workdir} has no {workdir_layout.RUN_FILE}: it is not a training workdir "
                         "(train.py writes one).")
    config = data_config(info.get("data", {"dataset": info["dataset"]}), **(overrides or {}))
    model = models.build(info["model"], info["variant"], num_classes=info["num_classes"],
                         **info.get("model_options", {}))
    try:
        restored = workdir_layout.restore_while_training(model, workdir, checkpoint)
    except workdir_layout.UNREADABLE as err:
        line = op_error_line(err)
        directory = workdir_layout.checkpoint_dir(workdir, checkpoint)
        if directory:  # latest or best: damaged, or replaced faster than it could be read
            raise ValueError(
                f"--checkpoint={checkpoint} ({workdir_layout.checkpoint_path(workdir, checkpoint)}) cannot be read "
                f"({line}): it is damaged, or the run writing {workdir} replaced it faster than it could be read. "
                f"Rerun, or pass --checkpoint=PATH of another checkpoint in {directory}.") from None
        raise ValueError(f"--checkpoint={checkpoint}: {line} (a run keeps only its last few checkpoints: pass "
                         "--checkpoint=latest or best).") from None
    except (AssertionError, ValueError) as err:
        raise ValueError(f"--checkpoint={workdir_layout.checkpoint_path(workdir, checkpoint)}: cannot restore it into "
                         f"{info['model']} '{info['variant']}' ({type(err).__name__}: {str(err).splitlines()[0]}).") \
            from None
    if restored is None:
        directory = workdir_layout.checkpoint_dir(workdir, checkpoint)
        raise ValueError(f"--workdir={workdir} has no {checkpoint} checkpoint yet (in {directory}): train first, or "
                         "pass --checkpoint=latest.")
    path, step = restored
    log(f"scoring {path} (step {step:,})")
    inputs = data_inputs.load_named(config, info["image_size"], workdir, log, scan_train=False)
    return Scorable(f"{workdir} ({os.path.basename(path)}, step {step:,})", path, config, inputs,
                    _keras_predict(model), model=model, checkpoint=path, step=step)


def from_saved_model(path, overrides=None, log=print):
    """An exported SavedModel, scored through its own signature and preprocessing: the data is read raw, whatever
    ``preprocess`` says (``serve_images`` for the 32x32 datasets, ``serving_default`` on the encoded files for
    ImageNet)."""
    if not files.isfile(os.path.join(path, "saved_model.pb")):
        raise ValueError(f"--saved_model={path} is not a SavedModel directory (no saved_model.pb): pass the "
                         "--export_dir of a training run.")
    overrides = dict(overrides or {})
    if overrides.get("crops", "center") != "center":
        raise ValueError("--crops=ten needs the model itself: a SavedModel serves the central crop; use --workdir.")
    loaded = tf.saved_model.load(path)
    config = dataclasses.replace(data_config({"dataset": "digits"}, **overrides), preprocess="none")
    inputs = data_inputs.load_named(config, 32, log=log, scan_train=False)
    signature = loaded.signatures["serve_images" if inputs.raw_kind == "images" else "serving_default"]
    return Scorable(path, path.rstrip("/"), config, inputs,
                    lambda batch: signature(images=batch)["all_probabilities"], raw=True)


def from_model_file(path, overrides=None, log=print):
    """A Keras model file (.keras); the data options default to ``data.inputs.Config``'s (digits, GCN + ZCA)."""
    if not files.isfile(path):
        raise ValueError(f"--model_file={path}: no such file. Pass the .keras file of a trained model.")
    try:
        model = keras.models.load_model(path)
    except Exception as err:  # a corrupt or foreign file: say which, not a deep traceback
        raise ValueError(f"--model_file={path}: cannot load it as a Keras model ({type(err).__name__}: {err}).") \
            from None
    config = data_config({"dataset": "digits"}, **(overrides or {}))
    inputs = data_inputs.load_named(config, model.input.shape[1], log=log, scan_train=False)
    return Scorable(path, path, config, inputs, _keras_predict(model), model=model)


def from_weights(path, family, variant, overrides=None, log=print, class_order=None):
    """A published weights file (``weights``: a Caffe .caffemodel, a PyTorch state dict, a neon .p) loaded into
    ``family``/``variant``, scored with the data options ``overrides`` gives; the ImageNet resize and mean default
    to the file's source's (``weights.SOURCE_PREPROCESSING``), said in the log. ``class_order``: a text file naming
    the file's outputs in order (``weights.read_class_list``), required for neon's ImageNet files."""
    if not files.isfile(path):
        raise ValueError(f"--weights={path}: no such file. Pass a .caffemodel, a PyTorch .pth or a neon .p file.")
    variant = models.resolve_variant(family, variant)
    kind = weights.detect(path)
    overrides = dict(overrides or {})
    config = data_config({"dataset": "imagenet_folder" if family == "alexnet" else "cifar10"}, **overrides)
    if config.dataset in data_inputs.IMAGENET_DATASETS:
        source = weights.SOURCE_PREPROCESSING[kind]
        chosen = {key: overrides.get(key) or value for key, value in source.items()}
        config = dataclasses.replace(config, **chosen)
        log(f"{kind} weights: scoring with --resize={config.resize} --mean={config.mean} (the source's own: "
            + " ".join(f"--{k}={v}" for k, v in source.items()) + "; the flags override)")
    image_size = models.input_shape(family, variant)[0]
    inputs = data_inputs.load_named(config, image_size, log=log, scan_train=False)
    model = models.build(family, variant, num_classes=len(inputs.class_names))
    order = weights.read_class_list(class_order) if class_order else None
    try:
        weights.check_class_order(path, order, config.dataset in data_inputs.IMAGENET_DATASETS)
        weights.load_into(model, path, class_order=order, classes=inputs.class_names)
    except ValueError as err:
        classes = weights.class_layer(model)
        hint = (f" The class layer {classes} has {len(inputs.class_names)} outputs for --dataset={config.dataset}: "
                "score the file on the classes it was trained on, or fine-tune it (train.py --init_from)."
                if f"layer {classes} " in str(err) else "")
        raise ValueError(f"--weights={err}{hint}") from None
    return Scorable(f"{path} ({family} '{variant}')", path, config, inputs, _keras_predict(model), model=model)


class Throughput:
    """Progress of a scoring pass, logged every ``every`` seconds (examples so far, images/s, ETA), and its rate:
    timed from the end of the first batch, whose time is mostly tracing and compiling the model (the rate of a long
    pass, which is what benchmark.py --inference measures)."""

    def __init__(self, total, log=print, every=10.0, clock=time.perf_counter):
        self.total, self.log, self.every, self.clock = total, log, every, clock
        self.started = self.clock()
        self.first = None  # (time, examples) at the end of the first batch
        self.last_log = self.started
        self.examples = 0

    def __call__(self, examples):
        now, self.examples = self.clock(), examples
        if self.first is None:
            self.first = (now, examples)
        if now - self.last_log >= self.every and examples < (self.total or 0):
            self.last_log = now
            rate = self.rate(now)
            speed = f": {rate:,.1f} images/s, ETA {(self.total - examples) / rate:,.0f} s" if rate else ""
            self.log(f"scored {examples:,} / {self.total:,} images{speed}")

    def rate(self, now=None):
        """Images per second after the first batch (None with a single batch)."""
        if self.first is None or self.examples <= self.first[1]:
            return None
        return (self.examples - self.first[1]) / ((now or self.clock()) - self.first[0])

    def figures(self):
        """The report's timing: the whole pass's seconds and the rate after its first batch."""
        figures = {"seconds": self.clock() - self.started}
        rate = self.rate()
        if rate:
            figures["images_per_second"] = rate
        return figures


def score(scorable, split=None, batch_size=metrics.EVAL_BATCH_SIZE, log=None):
    """Top-1/top-5 of ``scorable`` over every example of ``split`` (default: the dataset's evaluation split): the
    report of ``metrics.evaluate`` with the model, dataset, split, crops and class count added, and the pass's
    ``seconds`` and ``images_per_second`` (after its first batch). ``log`` gets a progress line every 10 s."""
    inputs, config = scorable.inputs, scorable.config
    try:
        split = split or inputs.eval_split
        expected = inputs.count(split)
        dataset = (inputs.raw_dataset if scorable.raw else inputs.eval_dataset)(batch_size, split)
        throughput = Throughput(expected, log or (lambda line: None))
        report = metrics.evaluate(scorable.predict, dataset, expected_count=expected, on_batch=throughput)
        report.update(throughput.figures(), batch_size=batch_size)
    except (FileNotFoundError, ValueError) as err:
        raise ValueError(f"{data_inputs.named(config)}: {err}") from None
    except DATA_ERRORS as err:
        raise ValueError(f"--dataset={config.dataset}: the data could not be read: {op_error_line(err)}") from None
    report.update(metrics.confusion_summary(report.pop("confusion"), inputs.class_names))
    report.update(model=scorable.label, dataset=config.dataset, split=split, crops=config.crops,
                  classes=len(inputs.class_names))
    if scorable.checkpoint:
        report.update(checkpoint=scorable.checkpoint, step=scorable.step)
    return report


def speed_line(report):
    """How fast the pass went, for evaluate.py's output."""
    rate = report.get("images_per_second")
    if not rate:
        return f"{report['examples']:,} images in {report['seconds']:.1f} s"
    crops = f" ({10 * rate:,.1f} crops/s through the network)" if report["crops"] == "ten" else ""
    return (f"{report['examples']:,} images in {report['seconds']:.1f} s: {rate:,.1f} images/s after the first batch "
            f"of {report['batch_size']}{crops}")


def default_report_path(scorable, report):
    """Beside the model, named after the dataset and split: ``<model>.<dataset>-<split>[-10crop].eval.json``."""
    ten = "-10crop" if report["crops"] == "ten" else ""
    return f"{scorable.report_base}.{report['dataset']}-{report['split']}{ten}.eval.json"


def title(report):
    ten = ", 10 crops" if report["crops"] == "ten" else ""
    return f"{report['model']} on {report['dataset']}/{report['split']} ({report['examples']:,} examples{ten})"
