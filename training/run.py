"""A whole training run as one library call, for train.py, notebooks and tests:

    from training.config import Config
    from training.run import train_and_evaluate
    outcome = train_and_evaluate(Config(workdir="runs/digits", epochs=3, batch_size=32))

It checks the configuration, loads the data, builds the model, trains under ``strategy`` (default: TensorFlow's
default strategy, one replica) with checkpoints, TensorBoard and validation (``training.loop.Trainer``), and
exports a SavedModel when ``config.export_dir`` is set. Every problem a user can fix is a ValueError or a
``TrainingError`` whose message names the flag, the file and the fix; nothing is written before the configuration,
the data and the model have been checked.
"""

import contextlib
import dataclasses
import os

import keras
import tensorflow as tf

import models
import weights
from common import files, workdir
from common.errors import DATA_ERRORS, op_error_line
from common.workdir import BEST, CHECKPOINTS
from data import inputs as data_inputs
from training import distribute, precision
from training.config import check
from training.export import export
from training.loop import InitialWeights, Trainer, TrainingError


def train_and_evaluate(config, strategy=None, extra_files=None, log=print):
    """Train ``config`` (a ``training.config.Config``) to its end, or until SIGTERM/SIGINT (then a checkpoint is
    saved and the outcome says so); returns the ``training.loop.Outcome``. ``extra_files`` (name -> text) are
    written into the workdir beside run.json (train.py's flags.txt)."""
    check(config)
    strategy = strategy or tf.distribute.get_strategy()
    resolved = precision.resolve_precision(config.mixed_precision)
    log(distribute.describe(strategy))
    log(precision.describe(config.mixed_precision, resolved))
    config = dataclasses.replace(config, variant=config.resolved_variant, mixed_precision=resolved)
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(resolved)
    try:
        with contextlib.ExitStack() as held:
            return _train(config, strategy, extra_files, log, held)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _hold_workdir(config, strategy, log, held):
    """One run per workdir (``common.workdir.exclusive``), held until ``held`` closes: the chief holds it; the other
    workers of a multi-worker job write nothing there."""
    if distribute.is_chief(strategy):
        held.enter_context(workdir.exclusive(config.workdir, log))


def _train(config, strategy, extra_files, log, held):
    image_size = config.image_size or models.input_shape(config.model, config.variant)[0]
    cache_dir = config.workdir if files.isdir(config.workdir) else None  # --mean=image's mean image
    if cache_dir:  # an existing workdir: held before anything in it is read or written
        _hold_workdir(config, strategy, log, held)
    inputs = data_inputs.load_named(config.data, image_size, cache_dir, log)
    num_classes = config.num_classes or len(inputs.class_names)
    model_options = config.model_options()

    def build_model():
        return models.build(config.model, config.variant, num_classes=num_classes, **model_options)

    probe = build_model()  # a bad --init or --num_classes fails here, before anything is written
    initial = None
    if config.init_from:  # so does a file for another network; read once, its weights handed to the trainer
        order = weights.read_class_list(config.class_order) if config.class_order else None
        try:
            fresh = weights.load_into(probe, config.init_from, new_classes=True, class_order=order,
                                      classes=inputs.class_names)
            if not fresh:  # the file's class layer is kept: its outputs must be in the dataset's order
                weights.check_class_order(config.init_from, order,
                                          config.data.dataset in data_inputs.IMAGENET_DATASETS)
        except ValueError as err:
            raise ValueError(f"--init_from={err}") from None
        initial = InitialWeights(config.init_from, fresh, {layer.name: layer.get_weights() for layer in probe.layers
                                                           if layer.weights and layer.name != fresh})
    run_info = {"model": config.model, "variant": config.variant, "num_classes": num_classes,
                "dataset": config.data.dataset, "image_size": image_size, "model_options": model_options,
                "data": dataclasses.asdict(config.data)}
    trainer = Trainer(config, strategy, build_model, inputs, run_info, extra_files=extra_files, log=log,
                      initial=initial)
    if not cache_dir:  # a new one: made only once the flags, the data, any weights file and the batch are good
        _hold_workdir(config, strategy, log, held)
    try:
        outcome = trainer.train()
    except DATA_ERRORS as err:
        # an image that cannot be read, found by the input pipeline in the middle of training
        raise TrainingError(
            f"{data_inputs.named(config.data)}: the training data could not be read at step "
            f"{int(trainer.step.numpy()) + 1:,}: {op_error_line(err)}. The checkpoints written so far are kept; rerun "
            "the same command to resume once the data is fixed.") from None
    if not trainer.chief:
        return outcome
    if outcome.stopped_by:
        log(f"stopped early by {outcome.stopped_by}: rerun the same command to resume"
            + (" (the export is written when the run finishes)." if config.export_dir else "."))
        return outcome
    log(f"checkpoints: {os.path.join(config.workdir, CHECKPOINTS)} (best: {os.path.join(config.workdir, BEST)})")
    log(f"TensorBoard: tensorboard --logdir {config.workdir}")
    report = outcome.report
    if report:
        log(f"final validation: top-1 accuracy {report['top1_accuracy']:.2%}, top-5 accuracy "
            f"{report['top5_accuracy']:.2%} on {report['examples']:,} {inputs.eval_split} examples")
    if config.export_dir:
        keras.mixed_precision.set_global_policy("float32")
        serving_model = build_model()
        serving_model.set_weights(trainer.model.get_weights())
        outcome.export_dir = export(serving_model, inputs, inputs.class_names, config.export_dir, log=log)
    return outcome
