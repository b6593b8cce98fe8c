"""A training run's configuration: one dataclass whose fields are train.py's flags, with the same names and the
defaults train.py's flags take from here (the one place for each default). The data options are a nested
``data.inputs.Config``; the strategy is not part of it (``training.run.train_and_evaluate`` takes one).

    config = Config(workdir="runs/digits", epochs=40, batch_size=32, data=inputs.Config(dataset="digits"))
    weights, biases, plateau = config.schedules()
"""

import dataclasses

import models
from common import files
from data import inputs as data_inputs
from evaluation.metrics import EVAL_BATCH_SIZE
from training.precision import resolve_precision
from training.schedules import Plateau, Schedule

# the model options only All-CNN takes (a convolutional network up to its global average)
ALLCNN_OPTIONS = ("image_size", "dropout", "init", "class_bias")


@dataclasses.dataclass(frozen=True)
class Config:
    workdir: str = None  # checkpoints, TensorBoard logs, run.json and flags.txt (required)
    # ---------------------------------------------------------------------------------------------------- model
    model: str = "allcnn"  # the family: alexnet or allcnn
    variant: str = None  # None: the family's default (models.DEFAULT_VARIANT)
    num_classes: int = None  # None: the dataset's
    image_size: int = None  # All-CNN: input size in pixels (None: the paper's 32)
    dropout: tuple = None  # All-CNN: the input's rate and the one after each pooling stage (None: 0.2, 0.5)
    init: float | str = None  # All-CNN: a Gaussian std or a Keras initializer name (None: the variant's)
    class_bias: float = None  # All-CNN: initial bias of the class conv (None: the variant's)
    init_from: str = None  # a published weights file to start from (weights/); a resumed run ignores it
    class_order: str = None  # with init_from: a text file naming the file's outputs in order (neon's ImageNet)
    # ----------------------------------------------------------------------------------------------------- data
    data: data_inputs.Config = data_inputs.Config()
    # ------------------------------------------------------------------------------------------------ optimiser
    epochs: float = 1.0  # in all (a resumed run counts the epochs already done)
    train_steps: int = 0  # > 0: this many steps in all instead of epochs
    batch_size: int = 128  # global, over all replicas
    learning_rate: float = 0.01  # the weights'
    lr_schedule: str = Schedule.kind
    lr_decay_factor: float = Schedule.factor
    lr_decay_every: float = Schedule.every
    lr_milestones: tuple = Schedule.milestones
    lr_unit: str = Schedule.unit
    lr_decay_steps: int = Schedule.decay_steps
    lr_staircase: bool = Schedule.staircase
    warmup_epochs: float = Schedule.warmup_epochs
    plateau_patience: int = Plateau.patience
    plateau_min_delta: float = Plateau.min_delta
    plateau_max_cuts: int = Plateau.max_reductions
    momentum: float = 0.9  # the paper's
    weight_decay: float = 5e-4  # the weights', inside the momentum (the paper's 0.0005)
    bias_lr_mult: float = 1.0  # the biases' learning rate over the weights' (Caffe, neon: 2)
    bias_weight_decay: float = None  # None: weight_decay (Caffe, neon: 0)
    bias_lr_milestones: tuple = ()  # if set, the biases follow their own multistep schedule
    bias_lr_decay_factor: float = Schedule.factor
    # ------------------------------------------------------------------------------------------------------ run
    export_dir: str = None  # if set, a SavedModel is written here at the end (the chief only)
    mixed_precision: str = "float32"  # a Keras dtype policy, or auto (training/precision.py)
    jit_compile: bool = False  # XLA for the forward and backward pass
    figures: bool = True  # TensorBoard figures at each validation (figures/) and the first training images
    seed: int = 0  # the initial weights' and dropout's (data.seed orders and augments the data)
    deterministic: bool = False  # TensorFlow's op determinism
    checkpoint_every_steps: int = 1000  # and at every epoch end
    keep_checkpoints: int = 3  # besides the best
    step_timeout_secs: float = 0.0  # multi-worker: a step waiting longer stops the job (0: automatic)
    log_every_steps: int = 50  # TensorBoard training scalars (and log lines off a terminal)
    eval_every_epochs: int = 1  # and at the end
    eval_batch_size: int = EVAL_BATCH_SIZE
    profile_steps: tuple = ()  # (start, end): a profiler trace of these steps in train/

    @property
    def resolved_variant(self):
        return models.resolve_variant(self.model, self.variant)

    @property
    def bias_decay(self):
        """The biases' weight decay: ``bias_weight_decay``, or the weights' when it is None."""
        return self.weight_decay if self.bias_weight_decay is None else self.bias_weight_decay

    def schedules(self):
        """(the weights' Schedule, the biases' Schedule, the Plateau rule or None); ValueError naming the flag."""
        common = dict(kind=self.lr_schedule, factor=self.lr_decay_factor, every=self.lr_decay_every,
                      milestones=tuple(self.lr_milestones), unit=self.lr_unit, decay_steps=self.lr_decay_steps,
                      staircase=self.lr_staircase, warmup_epochs=self.warmup_epochs)
        weights = Schedule(self.learning_rate, **common)
        if self.bias_lr_milestones:
            common.update(kind="multistep", milestones=tuple(self.bias_lr_milestones),
                          factor=self.bias_lr_decay_factor)
        biases = Schedule(self.learning_rate * self.bias_lr_mult, **common)
        plateau = Plateau(self.plateau_patience, self.plateau_min_delta, self.plateau_max_cuts) \
            if self.lr_schedule == "plateau" else None
        return weights, biases, plateau

    def model_options(self):
        """The family's build() options this run sets (All-CNN's; a ValueError names an option given to AlexNet)."""
        options = {name: getattr(self, name) for name in ALLCNN_OPTIONS if getattr(self, name) is not None}
        if options and self.model != "allcnn":
            name = next(iter(options))
            raise ValueError(f"--{name} is an All-CNN option; leave it unset for --model={self.model}.")
        if "dropout" in options:
            options["dropout"] = tuple(options["dropout"])
        return options


def check(config):
    """ValueError naming the flag for any value no run can use; nothing is written before this passes."""
    if not config.workdir:
        raise ValueError("--workdir is required: the directory for checkpoints, TensorBoard logs and flags.txt.")
    for name in ("batch_size", "eval_batch_size", "log_every_steps", "eval_every_epochs", "keep_checkpoints"):
        if getattr(config, name) < 1:
            raise ValueError(f"--{name}={getattr(config, name)} is invalid; it must be >= 1.")
    for name in ("train_steps", "checkpoint_every_steps"):
        if getattr(config, name) < 0:
            raise ValueError(f"--{name}={getattr(config, name)} is invalid; it must be >= 0 (0: off).")
    if config.step_timeout_secs < 0:
        raise ValueError(f"--step_timeout_secs={config.step_timeout_secs:g} is invalid; it must be >= 0 (0: automatic).")
    if len(config.profile_steps) not in (0, 2) or list(config.profile_steps) != sorted(config.profile_steps):
        raise ValueError(f"--profile_steps={','.join(map(str, config.profile_steps))}: expected START,END, e.g. "
                         "10,20.")
    resolve_precision(config.mixed_precision)  # a name not in PRECISIONS is named here
    config.resolved_variant  # noqa: B018  a wrong family or variant is named here
    config.model_options()
    config.schedules()
    data_inputs.check(config.data)
    if config.init_from is not None and not files.isfile(config.init_from):
        raise ValueError(f"--init_from={config.init_from}: no such file. Pass a .caffemodel, a PyTorch .pth or a "
                         "neon .p file (BUILD.md, \"Published weights\").")
