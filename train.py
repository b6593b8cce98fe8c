"""Train a model: ``python train.py --flagfile=configs/<recipe>.flags [--workdir=DIR] [overrides]``.

Each recipe in configs/ states its command, its expected result and where that number comes from. The run writes to
``--workdir``: flags.txt (the resolved flags: ``--flagfile=<workdir>/flags.txt`` repeats the run), run.json,
checkpoints/ (the last few), best/ (the best validation top-1), TensorBoard logs in train/ and validation/
(``tensorboard --logdir <workdir>``), and with ``--export_dir`` a SavedModel. Rerunning the same command resumes from
the latest checkpoint. ``--strategy`` picks the tf.distribute strategy (multi-worker from ``TF_CONFIG``).
"""

import dataclasses
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's C++ INFO lines; warnings and errors stay

from absl import app, flags, logging

_BEFORE = set(flags.FLAGS)
# ------------------------------------------------------------------------------------------------ model
flags.DEFINE_enum("model", "allcnn", ["alexnet", "allcnn"], "Model family.")
flags.DEFINE_string("variant", None, "Variant of the family (default: alexnet 'paper', allcnn 'all_cnn_c').")
flags.DEFINE_integer("num_classes", None, "Classes (default: the dataset's).")
flags.DEFINE_integer("image_size", 0, "All-CNN: input size in pixels (0: the paper's 32); the digits come at 16 or 32.")
flags.DEFINE_list("dropout", [], "All-CNN dropout rates: the input's and after each pooling stage (default: the "
                  "paper's 0.2,0.5).")
flags.DEFINE_string("init", None, "All-CNN weight init: a Gaussian std (neon: 0.05) or a Keras initializer name "
                                  "(default: the variant's, he_normal for the paper's All-CNN-C).")
flags.DEFINE_float("class_bias", None, "All-CNN: initial bias of the class conv (default: the variant's, 0; the "
                                      "digits recipe uses 1 so that no class starts dead behind its ReLU).")
# ------------------------------------------------------------------------------------------------ data
flags.DEFINE_string("dataset", "digits", "digits (bundled, no download), cifar10 (TFDS), cifar10_pickle (python "
                                         "batches in --data_dir), imagenet_folder (train/ and val/ of class folders "
                                         "in --data_dir), imagenet2012 (TFDS), imagenette (TFDS).")
flags.DEFINE_string("data_dir", None, "Where the dataset is (TFDS data_dir, or the folder / batches directory).")
flags.DEFINE_bool("download", False, "Let TFDS download and prepare the dataset if it is not there.")
flags.DEFINE_bool("skip_bad_images", False, "ImageNet folder: leave out unreadable images (listed in the log).")
flags.DEFINE_enum("preprocess", "gcn_zca", ["gcn_zca", "gcn", "none"],
                  "32x32 datasets: GCN + ZCA (All-CNN), GCN alone, or raw pixels.")
flags.DEFINE_float("zca_bias", 0.1, "ZCA filter bias (pylearn2: 0.1; neon v1.4.0: 0).")
flags.DEFINE_string("zca_cache", None, "ZCA statistics file (default: ~/.cache/alexnet-allcnn/...).")
flags.DEFINE_enum("augmentation", "none", ["none", "flip_translate", "translate", "affine"],
                  "32x32 datasets: training augmentation (the paper's flips and translations, translations only, or "
                  "rotation and scaling then translation: the digits recipe).")
flags.DEFINE_integer("max_shift", 5, "flip_translate, translate, affine: largest translation in pixels.")
flags.DEFINE_float("max_rotation", 10.0, "affine: largest rotation in degrees.")
flags.DEFINE_float("max_scale", 0.1, "affine: scaling uniform in [1 - max_scale, 1 + max_scale].")
flags.DEFINE_float("max_shear", 0.0, "affine: horizontal shear uniform in [-max_shear, max_shear] (x += shear * y).")
flags.DEFINE_float("elastic_alpha", 0.0, "affine: elastic distortion strength in pixels (Simard et al. 2003: "
                   "34 on MNIST); 0: none.")
flags.DEFINE_float("elastic_sigma", 4.0, "affine: smoothness of the elastic distortion, pixels (Simard et al.: 4).")
flags.DEFINE_enum("mean", "caffe", ["caffe", "neon", "image"],
                  "ImageNet mean: Caffe's or neon's mean colour, or the paper's per-pixel mean image (one pass).")
flags.DEFINE_bool("pca_lighting", True, "ImageNet training: the paper's PCA colour augmentation.")
# ------------------------------------------------------------------------------------------------ optimiser
flags.DEFINE_float("epochs", 1, "Epochs to train in all (a resumed run counts the epochs already done).")
flags.DEFINE_integer("train_steps", 0, "If > 0, train this many steps in all instead of --epochs.")
flags.DEFINE_integer("batch_size", 128, "Global batch size, over all replicas.")
flags.DEFINE_float("learning_rate", 0.01, "Base learning rate of the weights.")
flags.DEFINE_enum("lr_schedule", "constant", ["constant", "step", "multistep", "inverse_time", "plateau"],
                  "Learning-rate schedule (training/schedules.py).")
flags.DEFINE_float("lr_decay_factor", 0.1, "Factor of each cut (step, multistep, plateau); inverse_time's rate.")
flags.DEFINE_float("lr_decay_every", 0, "step: cut every this many --lr_unit.")
flags.DEFINE_list("lr_milestones", [], "multistep: cut at these points (in --lr_unit), e.g. 200,250,300.")
flags.DEFINE_enum("lr_unit", "epochs", ["epochs", "steps"], "Unit of --lr_decay_every and --lr_milestones.")
flags.DEFINE_integer("lr_decay_steps", 0, "inverse_time: lr / (1 + rate * step / lr_decay_steps).")
flags.DEFINE_float("warmup_epochs", 0, "Linear warm-up of the learning rate over this many epochs.")
flags.DEFINE_integer("plateau_patience", 5, "plateau: validations without improvement before a cut.")
flags.DEFINE_float("plateau_min_delta", 0.0, "plateau: smallest drop in top-1 error that counts as improvement.")
flags.DEFINE_integer("plateau_max_cuts", 3, "plateau: most cuts (the paper: three).")
flags.DEFINE_float("momentum", 0.9, "Momentum (paper: 0.9).")
flags.DEFINE_float("weight_decay", 5e-4, "Weight decay of the weights (paper: 0.0005), inside the momentum.")
flags.DEFINE_float("bias_lr_mult", 1.0, "Biases' learning rate as a multiple of the weights' (Caffe, neon: 2).")
flags.DEFINE_float("bias_weight_decay", None, "Weight decay of the biases (default: --weight_decay; Caffe, neon: 0).")
flags.DEFINE_list("bias_lr_milestones", [], "If set, the biases follow their own multistep schedule (neon 000).")
flags.DEFINE_float("bias_lr_decay_factor", 0.1, "Factor of the biases' own milestones.")
# ------------------------------------------------------------------------------------------------ run
flags.DEFINE_string("workdir", None, "Directory of checkpoints, TensorBoard logs and flags (required).")
flags.DEFINE_string("export_dir", None, "If set, write a SavedModel here at the end (the chief only).")
flags.DEFINE_enum("strategy", "auto", ["auto", "one_device", "mirrored", "multi_worker"],
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices (to try --strategy=mirrored "
                                       "without GPUs, or to run replicas side by side on the cores: each op then "
                                       "gets cores/cpu_devices threads).")
flags.DEFINE_enum("mixed_precision", "float32", ["auto", "float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras dtype policy (mixed_float16 adds dynamic loss scaling); auto: mixed_bfloat16 where the "
                  "GPU or CPU computes bfloat16 natively (Ampere on; AVX512-BF16/AMX), else float32.")
flags.DEFINE_bool("jit_compile", False, "Compile the forward and backward pass with XLA.")
flags.DEFINE_integer("seed", 0, "Seed of the initial weights, the data order, augmentation and dropout.")
flags.DEFINE_bool("deterministic", False, "Deterministic ops (tf.config.experimental.enable_op_determinism).")
flags.DEFINE_integer("checkpoint_every_steps", 1000, "Checkpoint every this many steps, and at every epoch end.")
flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept (besides the best).")
flags.DEFINE_integer("log_every_steps", 50, "TensorBoard training scalars (and log lines off a terminal) interval.")
flags.DEFINE_integer("eval_every_epochs", 1, "Validate every this many epochs (and at the end).")
flags.DEFINE_integer("eval_batch_size", 100, "Validation batch size.")
flags.DEFINE_list("profile_steps", [], "START,END: write a TensorFlow profiler trace of these steps to train/.")
TRAIN_FLAGS = sorted(set(flags.FLAGS) - _BEFORE)

DEFAULT_VARIANT = {"alexnet": "paper", "allcnn": "all_cnn_c"}
# The flags that fill data.inputs.Config (its fields of the same names; the evaluation crops are evaluate.py's).
DATA_FLAGS = ("dataset", "data_dir", "download", "skip_bad_images", "preprocess", "zca_bias", "zca_cache",
              "augmentation", "max_shift", "mean", "pca_lighting", "seed", "max_rotation", "max_scale", "max_shear",
              "elastic_alpha", "elastic_sigma")


def resolved_flags():
    """The run's flags as a flagfile (every train.py flag, defaults included)."""
    return "\n".join(flags.FLAGS[name].serialize() or f"--{name}=" for name in TRAIN_FLAGS) + "\n"


def fail(message):
    sys.exit(f"train.py: error: {message}")


def _floats(values, flag, example="200,250,300"):
    try:
        return tuple(float(v) for v in values)
    except ValueError:
        fail(f"--{flag}={','.join(values)}: expected numbers separated by commas, e.g. {example}.")


def schedules(f):
    from training.schedules import Plateau, Schedule

    common = dict(kind=f.lr_schedule, factor=f.lr_decay_factor, every=f.lr_decay_every,
                  milestones=_floats(f.lr_milestones, "lr_milestones"), unit=f.lr_unit,
                  decay_steps=f.lr_decay_steps, warmup_epochs=f.warmup_epochs)
    weights = Schedule(f.learning_rate, **common)
    if f.bias_lr_milestones:
        common.update(kind="multistep", milestones=_floats(f.bias_lr_milestones, "bias_lr_milestones"),
                      factor=f.bias_lr_decay_factor)
    biases = Schedule(f.learning_rate * f.bias_lr_mult, **common)
    plateau = Plateau(f.plateau_patience, f.plateau_min_delta, f.plateau_max_cuts) if f.lr_schedule == "plateau" \
        else None
    return weights, biases, plateau


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])} (flags are --name=value)")
    f = flags.FLAGS
    if not f.workdir:
        fail("--workdir is required: the directory for checkpoints, TensorBoard logs and flags.txt.")
    if f.batch_size < 1:
        fail(f"--batch_size={f.batch_size} is invalid; it must be >= 1.")
    if len(f.profile_steps) not in (0, 2) or not all(s.isdigit() for s in f.profile_steps):
        fail(f"--profile_steps={','.join(f.profile_steps)}: expected START,END, e.g. 10,20.")

    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines; the run's own progress is printed
    import keras
    import tensorflow as tf

    import models
    from data import inputs as data_inputs
    from training import distribute
    from common.errors import DATA_ERRORS, op_error_line
    from training.export import export
    from training.loop import Config, Trainer, TrainingError

    variant = f.variant or DEFAULT_VARIANT[f.model]
    try:
        if variant not in models.variants(f.model):
            raise ValueError(f"--variant={variant!r} is not one of the {f.model} variants: "
                             f"{', '.join(models.variants(f.model))}.")
        weight_schedule, bias_schedule, plateau = schedules(f)
        data_config = data_inputs.Config(**{name: getattr(f, name) for name in DATA_FLAGS}, crops="center")
        data_inputs.check(data_config)
        distribute.split_cpu(f.cpu_devices)
        strategy = distribute.make(f.strategy)
    except ValueError as err:
        fail(str(err))
    if f.batch_size % strategy.num_replicas_in_sync:
        fail(f"--batch_size={f.batch_size} is not divisible by the {strategy.num_replicas_in_sync} replicas of "
             f"--strategy={f.strategy}: use a multiple of {strategy.num_replicas_in_sync}.")
    print(distribute.describe(strategy))
    precision = distribute.resolve_precision(f.mixed_precision)
    native = "native" if precision == "mixed_bfloat16" else "not native"
    print(f"precision: {precision}" + (f" (--mixed_precision=auto: bfloat16 is {native} here)"
                                       if f.mixed_precision == "auto" else ""))

    keras.utils.set_random_seed(f.seed)
    if f.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(precision)
    image_size = models.input_shape(f.model, variant)[0]
    if f.image_size:
        if f.model != "allcnn":
            fail(f"--image_size is an All-CNN option (a convolutional network up to its global average); leave it "
                 f"unset for --model={f.model}, which takes {image_size}x{image_size}.")
        image_size = f.image_size
    try:
        inputs = data_inputs.load(data_config, image_size, cache_dir=f.workdir if os.path.isdir(f.workdir) else None)
    except (FileNotFoundError, ValueError) as err:
        fail(f"--dataset={f.dataset} --data_dir={f.data_dir}: {err}")
    num_classes = f.num_classes or len(inputs.class_names)
    model_options = {}
    if f.class_bias is not None:
        if f.model != "allcnn":
            fail("--class_bias is an All-CNN option; leave it unset for --model=alexnet.")
        model_options["class_bias"] = f.class_bias
    if f.dropout:
        if f.model != "allcnn":
            fail("--dropout is an All-CNN option; leave it unset for --model=alexnet.")
        model_options["dropout"] = _floats(f.dropout, "dropout", "0.2,0.5")
    if f.image_size:
        model_options["image_size"] = f.image_size
    if f.model == "allcnn" and f.init:
        try:
            model_options["init"] = float(f.init)
        except ValueError:
            model_options["init"] = f.init

    def build_model():
        return models.build(f.model, variant, num_classes=num_classes, **model_options)

    try:
        build_model()  # a bad --init or --num_classes fails here, before anything is written
    except ValueError as err:
        fail(str(err))
    config = Config(
        workdir=f.workdir, epochs=f.epochs, train_steps=f.train_steps, batch_size=f.batch_size,
        momentum=f.momentum, weight_schedule=weight_schedule, bias_schedule=bias_schedule,
        weight_decay=f.weight_decay,
        bias_weight_decay=f.weight_decay if f.bias_weight_decay is None else f.bias_weight_decay,
        plateau=plateau, mixed_precision=precision, jit_compile=f.jit_compile,
        checkpoint_every_steps=f.checkpoint_every_steps, keep_checkpoints=f.keep_checkpoints,
        log_every_steps=f.log_every_steps, eval_every_epochs=f.eval_every_epochs,
        eval_batch_size=f.eval_batch_size, profile_steps=tuple(int(s) for s in f.profile_steps), seed=f.seed)
    run_info = {"model": f.model, "variant": variant, "num_classes": num_classes, "dataset": f.dataset,
                "image_size": image_size, "model_options": model_options, "data": dataclasses.asdict(data_config)}
    trainer = None
    try:
        trainer = Trainer(config, strategy, build_model, inputs, run_info, extra_files={"flags.txt": resolved_flags()})
        outcome = trainer.train()
    except (TrainingError, ValueError) as err:
        fail(str(err))
    except DATA_ERRORS as err:
        # an image that cannot be read, found by the input pipeline in the middle of training
        where = f" at step {int(trainer.step.numpy()) + 1:,}" if trainer else ""
        fail(f"--dataset={f.dataset} --data_dir={f.data_dir}: the training data could not be read{where}: "
             f"{op_error_line(err)}. The checkpoints written so far are kept; rerun the same command to resume once "
             "the data is fixed.")
    if not trainer.chief:
        return
    if outcome.stopped_by:
        print(f"stopped early by {outcome.stopped_by}: rerun the same command to resume"
              + (" (the export is written when the run finishes)." if f.export_dir else "."))
        return
    print(f"checkpoints: {os.path.join(f.workdir, 'checkpoints')} (best: {os.path.join(f.workdir, 'best')})")
    print(f"TensorBoard: tensorboard --logdir {f.workdir}")
    report = outcome.report
    if report:
        print(f"final validation: top-1 accuracy {report['top1_accuracy']:.2%}, top-5 accuracy "
              f"{report['top5_accuracy']:.2%} on {report['examples']:,} {inputs.eval_split} examples")
    if f.export_dir:
        keras.mixed_precision.set_global_policy("float32")
        serving_model = build_model()
        serving_model.set_weights(trainer.model.get_weights())
        export(serving_model, inputs, inputs.class_names, f.export_dir)


if __name__ == "__main__":
    app.run(main)
