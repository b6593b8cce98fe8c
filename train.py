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

import models
from data import inputs as data_inputs
from data.inputs import Config as DataConfig
from data.pipeline import AUGMENTATIONS
from training.config import Config
from training.distribute import STRATEGIES
from training.precision import PRECISIONS
from training.schedules import SCHEDULES, UNITS
from training.watchdog import FLOOR_SECS, MULTIPLE

_BEFORE = set(flags.FLAGS)
# Every default below is the dataclass field's of the same name (training/config.py, data/inputs.py): one place each.
D, DD = Config, DataConfig
# ------------------------------------------------------------------------------------------------ model
flags.DEFINE_enum("model", D.model, list(models.FAMILIES), "Model family.")
flags.DEFINE_string("variant", D.variant, "Variant of the family (default: alexnet 'paper', allcnn 'all_cnn_c').")
flags.DEFINE_integer("num_classes", D.num_classes, "Classes (default: the dataset's).")
flags.DEFINE_integer("image_size", D.image_size, "All-CNN: input size in pixels (default: the paper's 32); the "
                     "digits come at 16 or 32.")
flags.DEFINE_list("dropout", D.dropout, "All-CNN dropout rates: the input's and after each pooling stage (default: "
                  "the paper's 0.2,0.5).")
flags.DEFINE_string("init", D.init, "All-CNN weight init: a Gaussian std (neon: 0.05) or a Keras initializer name "
                                    "(default: the variant's, he_normal for the paper's All-CNN-C).")
flags.DEFINE_string("init_from", D.init_from, "Start from a published weights file (Caffe .caffemodel, PyTorch state "
                    "dict, neon .p) for --model/--variant; a class layer of another class count is re-initialised "
                    "(said in the log). A resumed run continues from its checkpoint instead.")
flags.DEFINE_string("class_order", D.class_order, "With --init_from: a text file naming the file's outputs in order, "
                    "one per line (neon's ImageNet files follow the ILSVRC2012 devkit's order; needed when the class "
                    "layer is kept).")
flags.DEFINE_float("class_bias", D.class_bias, "All-CNN: initial bias of the class conv (default: the variant's, 0; "
                   "the digits recipe uses 1 so that no class starts dead behind its ReLU).")
# ------------------------------------------------------------------------------------------------ data
flags.DEFINE_string("dataset", DD.dataset, "digits (bundled, no download), cifar10 (TFDS), cifar10_pickle (python "
                                           "batches in --data_dir), fashion_mnist (IDX files in --data_dir, default "
                                           "Debian's /usr/share/datasets/fashion-mnist; padded to 32x32x3), "
                                           "imagenet_folder (train/ and val/ of class folders in --data_dir), "
                                           "imagenet2012 (TFDS), imagenette (TFDS).")
flags.DEFINE_string("data_dir", DD.data_dir, "Where the dataset is (TFDS data_dir, or the folder / batches "
                                             "directory).")
flags.DEFINE_bool("download", DD.download, "Let TFDS download and prepare the dataset if it is not there.")
flags.DEFINE_bool("skip_bad_images", DD.skip_bad_images, "ImageNet folder: leave out unreadable images (listed in "
                                                         "the log).")
flags.DEFINE_enum("preprocess", DD.preprocess, list(data_inputs.PREPROCESSING),
                  "32x32 datasets: GCN + ZCA (All-CNN), GCN alone, or raw pixels.")
flags.DEFINE_float("zca_bias", DD.zca_bias, "ZCA filter bias (pylearn2: 0.1; neon v1.4.0: 0).")
flags.DEFINE_string("zca_cache", DD.zca_cache, "ZCA statistics file (default: ~/.cache/alexnet-allcnn/...).")
flags.DEFINE_enum("augmentation", DD.augmentation, list(AUGMENTATIONS),
                  "32x32 datasets: training augmentation (the paper's flips and translations, translations only, or "
                  "rotation and scaling then translation: the digits recipe).")
flags.DEFINE_integer("max_shift", DD.max_shift, "flip_translate, translate, affine: largest translation in pixels.")
flags.DEFINE_float("max_rotation", DD.max_rotation, "affine: largest rotation in degrees.")
flags.DEFINE_float("max_scale", DD.max_scale, "affine: scaling uniform in [1 - max_scale, 1 + max_scale].")
flags.DEFINE_float("max_shear", DD.max_shear, "affine: horizontal shear uniform in [-max_shear, max_shear] "
                                              "(x += shear * y).")
flags.DEFINE_float("elastic_alpha", DD.elastic_alpha, "affine: elastic distortion strength in pixels (Simard et al. "
                   "2003: 34 on MNIST); 0: none.")
flags.DEFINE_float("elastic_sigma", DD.elastic_sigma, "affine: smoothness of the elastic distortion, pixels (Simard "
                   "et al.: 4).")
flags.DEFINE_enum("mean", DD.mean, list(data_inputs.MEANS),
                  "ImageNet mean: Caffe's, neon's or torchvision's (255 x its mean; for its weights) mean colour, or "
                  "the paper's per-pixel mean image (one pass).")
flags.DEFINE_string("mean_file", DD.mean_file, "With --mean=image: a Caffe mean .binaryproto (e.g. imagenet_mean."
                    "binaryproto, for Caffe's weights) instead of the mean image computed from the training split.")
flags.DEFINE_bool("pca_lighting", DD.pca_lighting, "ImageNet training: the paper's PCA colour augmentation.")
flags.DEFINE_enum("resize", DD.resize, list(data_inputs.RESIZES),
                  "ImageNet: the image crops are cut from (training and evaluation): the central square at 256x256 "
                  "(the paper), the whole image at a shorter side of --scale_min..--scale_max (training; 256 for "
                  "evaluation: neon), or squashed to 256x256 ignoring the aspect ratio (Caffe).")
flags.DEFINE_integer("scale_min", DD.scale_min, "ImageNet training, --resize=shorter_side: smallest shorter side, "
                                                "pixels (neon: 256).")
flags.DEFINE_integer("scale_max", DD.scale_max, "ImageNet training, --resize=shorter_side: largest shorter side, "
                                                "pixels (neon e7ab2c2e2: 384).")
flags.DEFINE_bool("flip", DD.flip, "ImageNet training: random horizontal flips (neon v1.4.0's loader has none).")
# ------------------------------------------------------------------------------------------------ optimiser
flags.DEFINE_float("epochs", D.epochs, "Epochs to train in all (a resumed run counts the epochs already done).")
flags.DEFINE_integer("train_steps", D.train_steps, "If > 0, train this many steps in all instead of --epochs.")
flags.DEFINE_integer("batch_size", D.batch_size, "Global batch size, over all replicas.")
flags.DEFINE_float("learning_rate", D.learning_rate, "Base learning rate of the weights.")
flags.DEFINE_enum("lr_schedule", D.lr_schedule, list(SCHEDULES),
                  "Learning-rate schedule (training/schedules.py).")
flags.DEFINE_float("lr_decay_factor", D.lr_decay_factor, "Factor of each cut (step, multistep, plateau); "
                                                         "inverse_time's rate.")
flags.DEFINE_float("lr_decay_every", D.lr_decay_every, "step: cut every this many --lr_unit (from 0: at 20, 40, "
                   "... for 20); neon_step: neon's Schedule(N, factor), epochs, cutting at 0-based epochs N-1, 2N-1, "
                   "...")
flags.DEFINE_list("lr_milestones", list(D.lr_milestones), "multistep: cut at these points (in --lr_unit), e.g. "
                                                          "200,250,300.")
flags.DEFINE_enum("lr_unit", D.lr_unit, list(UNITS), "Unit of --lr_decay_every and --lr_milestones.")
flags.DEFINE_integer("lr_decay_steps", D.lr_decay_steps, "inverse_time: lr / (1 + rate * step / lr_decay_steps).")
flags.DEFINE_bool("lr_staircase", D.lr_staircase, "inverse_time: floor(step / lr_decay_steps), as the TensorFlow "
                  "AlexNet seed's script.")
flags.DEFINE_float("warmup_epochs", D.warmup_epochs, "Linear warm-up of the learning rate over this many epochs.")
flags.DEFINE_integer("plateau_patience", D.plateau_patience, "plateau: validations without improvement before a "
                                                             "cut.")
flags.DEFINE_float("plateau_min_delta", D.plateau_min_delta, "plateau: smallest drop in top-1 error that counts as "
                                                             "improvement.")
flags.DEFINE_integer("plateau_max_cuts", D.plateau_max_cuts, "plateau: most cuts (the paper: three).")
flags.DEFINE_float("momentum", D.momentum, "Momentum (paper: 0.9).")
flags.DEFINE_float("weight_decay", D.weight_decay, "Weight decay of the weights (paper: 0.0005), inside the "
                                                   "momentum.")
flags.DEFINE_float("bias_lr_mult", D.bias_lr_mult, "Biases' learning rate as a multiple of the weights' (Caffe, "
                                                   "neon: 2).")
flags.DEFINE_float("bias_weight_decay", D.bias_weight_decay, "Weight decay of the biases (default: --weight_decay; "
                                                             "Caffe, neon: 0).")
flags.DEFINE_list("bias_lr_milestones", list(D.bias_lr_milestones), "If set, the biases follow their own multistep "
                                                                    "schedule (neon's no-LRN AlexNet).")
flags.DEFINE_float("bias_lr_decay_factor", D.bias_lr_decay_factor, "Factor of the biases' own milestones.")
# ------------------------------------------------------------------------------------------------ run
flags.DEFINE_string("workdir", D.workdir, "Directory of checkpoints, TensorBoard logs and flags (required).")
flags.DEFINE_string("export_dir", D.export_dir, "If set, write a SavedModel here at the end (the chief only).")
flags.DEFINE_enum("strategy", "auto", list(STRATEGIES),
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical devices (to try --strategy=mirrored "
                                       "without GPUs, or to run replicas side by side on the cores: each op then "
                                       "gets cores/cpu_devices threads); 0: chosen by --strategy=auto (two for "
                                       "networks whose parameters are few next to their activations), else 1.")
flags.DEFINE_enum("mixed_precision", D.mixed_precision, list(PRECISIONS),
                  "Keras dtype policy (mixed_float16 adds dynamic loss scaling); auto: mixed_bfloat16 where the "
                  "GPU or CPU computes bfloat16 natively (Ampere on; AVX512-BF16/AMX), else float32.")
flags.DEFINE_bool("figures", D.figures, "TensorBoard figures at each validation: the first layer's kernels, the "
                  "nearest neighbours of five evaluation images among 1,000 training images, the confusion matrix; "
                  "and the first augmented training images.")
flags.DEFINE_bool("jit_compile", D.jit_compile, "Compile the forward and backward pass with XLA.")
flags.DEFINE_integer("seed", D.seed, "Seed of the initial weights, the data order, augmentation and dropout.")
flags.DEFINE_bool("deterministic", D.deterministic, "Deterministic ops (tf.config.experimental."
                                                    "enable_op_determinism).")
flags.DEFINE_integer("checkpoint_every_steps", D.checkpoint_every_steps, "Checkpoint every this many steps, and at "
                                                                         "every epoch end.")
flags.DEFINE_integer("keep_checkpoints", D.keep_checkpoints, "Checkpoints kept (besides the best).")
flags.DEFINE_float("step_timeout_secs", D.step_timeout_secs, "Multi-worker jobs: a step that waits longer than this "
                   "for its peers stops the job, naming the workers that did not reach it (a hung worker); 0: "
                   f"automatic, {MULTIPLE}x the median step and at least {FLOOR_SECS:g} s. The first step of each "
                   "attempt is not bounded.")
flags.DEFINE_integer("log_every_steps", D.log_every_steps, "TensorBoard training scalars (and log lines off a "
                                                           "terminal) interval.")
flags.DEFINE_integer("eval_every_epochs", D.eval_every_epochs, "Validate every this many epochs (and at the end).")
flags.DEFINE_integer("eval_batch_size", D.eval_batch_size, "Validation batch size.")
flags.DEFINE_list("profile_steps", list(D.profile_steps), "START,END: write a TensorFlow profiler trace of these "
                                                          "steps to train/.")
TRAIN_FLAGS = sorted(set(flags.FLAGS) - _BEFORE)
MACHINE_FLAGS = ("strategy", "cpu_devices")  # how this machine runs the Config, not part of it


def resolved_flags():
    """The run's flags as a flagfile (every train.py flag that has a value, defaults included; a flag whose value
    is None is left out, so that replaying the file leaves it None)."""
    values = [flags.FLAGS[name].serialize() for name in TRAIN_FLAGS if flags.FLAGS[name].value is not None]
    return "\n".join(values) + "\n"


def fail(message):
    sys.exit(f"train.py: error: {message}")


def _numbers(values, flag, kind=float, example="200,250,300"):
    try:
        return tuple(kind(v) for v in values)
    except ValueError:
        raise ValueError(f"--{flag}={','.join(values)}: expected numbers separated by commas, e.g. {example}.") \
            from None


def config_from_flags(f):
    """The run's ``training.config.Config`` from train.py's flags (ValueError naming a flag that does not parse)."""
    data = DataConfig(**{field.name: f[field.name].value for field in dataclasses.fields(DataConfig)
                         if field.name != "crops"})
    values = {field.name: f[field.name].value for field in dataclasses.fields(Config) if field.name != "data"}
    values.update(lr_milestones=_numbers(f.lr_milestones, "lr_milestones"),
                  bias_lr_milestones=_numbers(f.bias_lr_milestones, "bias_lr_milestones"),
                  dropout=_numbers(f.dropout, "dropout", example="0.2,0.5") if f.dropout else None,
                  profile_steps=_numbers(f.profile_steps, "profile_steps", int, "10,20"),
                  image_size=f.image_size or None)  # 0: the variant's size, as before the flag defaulted to None
    if f.init is not None:
        try:
            values["init"] = float(f.init)
        except ValueError:
            values["init"] = f.init
    return Config(data=data, **values)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])} (flags are --name=value)")
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines; the run's own progress is printed
    from common.workdir import FLAGS_FILE
    from training import distribute
    from training.config import check
    from training.loop import TrainingError
    from training.run import train_and_evaluate

    try:
        config = config_from_flags(flags.FLAGS)
        check(config)  # before the strategy: bad flags fail before TensorFlow's runtime (and a cluster) starts
        strategy = distribute.for_run(flags.FLAGS.strategy, flags.FLAGS.cpu_devices, config.model,
                                      config.resolved_variant, config.num_classes, config.batch_size,
                                      config.model_options())
        train_and_evaluate(config, strategy, extra_files={FLAGS_FILE: resolved_flags()})
    except (TrainingError, ValueError) as err:
        fail(str(err))


if __name__ == "__main__":
    app.run(main)
