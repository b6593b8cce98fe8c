"""Learning-rate schedules, as pure functions of the step, and the plateau rule's state.

Each recipe names one (``--lr_schedule``):
- ``constant``.
- ``step``: x ``factor`` every ``every`` epochs (or steps), counted from 0: with ``every=20`` the rate drops at the
  start of 0-based epochs 20, 40, ... (Caffe's bvlc solver, [caffe-bvlc_alexnet]: ``lr_policy: "step"``, gamma 0.1,
  stepsize 100,000 iterations: ``base_lr * gamma ^ floor(iter / stepsize)``).
- ``neon_step``: neon's ``Schedule(step_config, change)`` with an integer step ([neon-v1.4.0-optimizer]:
  ``learning_rate * change ** floor((epoch + 1) / step_config)`` with a 0-based epoch), so ``Schedule(20, 0.1)``
  (neon ModelZoo AlexNet, [modelzoo-alexnet_neon.py@222d2df]) drops at 0-based epochs 19, 39, 59, 79: one epoch
  before ``step``. Epochs only, as neon's schedules.
- ``multistep``: x ``factor`` at each milestone ([allcnn-paper]: S = [200, 250, 300]; neon's
  ``Schedule(step_config=[...], change=...)``, [neon-v1.4.0-optimizer]). A milestone m applies from epoch m on
  (0-based), as neon's Schedule.
- ``inverse_time``: lr / (1 + rate * step / decay_steps), TensorFlow's ``inverse_time_decay``; with ``staircase``
  (``--lr_staircase``) step / decay_steps is floored, as the TensorFlow AlexNet seed's script calls it
  ([tf-readme-004]: "inverse time_decay with a decay rate of 0.95 every 100 0000 steps", ``staircase=True``).
- ``plateau``: x ``factor`` each time the validation error stops improving ([alexnet-paper] §5: "divide the learning
  rate by 10 when the validation error rate stopped improving with the current learning rate ... reduced three times").
An optional linear warm-up over the first ``warmup_epochs`` multiplies any of them (not in the papers; the digits
recipe uses it, see configs/digits.flags).
"""

import dataclasses
import math

SCHEDULES = ("constant", "step", "neon_step", "multistep", "inverse_time", "plateau")
UNITS = ("epochs", "steps")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """One parameter group's schedule. ``every`` and ``milestones`` count in ``unit`` (epochs or steps)."""
    base: float
    kind: str = "constant"
    factor: float = 0.1
    every: float = 0.0
    milestones: tuple = ()
    unit: str = "epochs"
    decay_steps: int = 0
    warmup_epochs: float = 0.0
    staircase: bool = False  # inverse_time: floor(step / decay_steps)

    def __post_init__(self):
        if self.kind not in SCHEDULES:
            raise ValueError(f"lr_schedule={self.kind!r} is invalid; valid schedules: {', '.join(SCHEDULES)}.")
        if self.unit not in UNITS:
            raise ValueError(f"lr_unit={self.unit!r} is invalid; valid units: {', '.join(UNITS)}.")
        if not self.base > 0:
            raise ValueError(f"learning_rate={self.base} is invalid; it must be > 0.")
        if self.kind in ("step", "neon_step") and not self.every > 0:
            raise ValueError(f"lr_schedule={self.kind!r} needs --lr_decay_every > 0 (epochs or steps, see --lr_unit).")
        if self.kind == "neon_step" and self.unit != "epochs":
            raise ValueError("lr_schedule='neon_step' counts epochs, as neon's Schedule does: leave --lr_unit=epochs "
                             "(or use lr_schedule='step' for a step count).")
        if self.kind == "multistep" and (not self.milestones or list(self.milestones) != sorted(self.milestones)):
            raise ValueError(f"lr_schedule='multistep' needs increasing --lr_milestones; got {self.milestones}.")
        if self.kind == "inverse_time" and not self.decay_steps > 0:
            raise ValueError("lr_schedule='inverse_time' needs --lr_decay_steps > 0.")
        if self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs={self.warmup_epochs} is invalid; it must be >= 0.")

    def __call__(self, step, steps_per_epoch, reductions=0):
        """The learning rate of (0-based) ``step``; ``reductions`` counts the plateau rule's cuts so far."""
        position = step / steps_per_epoch if self.unit == "epochs" else step
        if self.kind == "constant":
            rate = self.base
        elif self.kind == "step":
            rate = self.base * self.factor ** math.floor(position / self.every + 1e-9)
        elif self.kind == "neon_step":
            epoch = step // steps_per_epoch  # 0-based, as neon's callbacks count it
            rate = self.base * self.factor ** math.floor((epoch + 1) / self.every + 1e-9)
        elif self.kind == "multistep":
            rate = self.base * self.factor ** sum(position >= m - 1e-9 for m in self.milestones)
        elif self.kind == "inverse_time":
            periods = step // self.decay_steps if self.staircase else step / self.decay_steps
            rate = self.base / (1.0 + self.factor * periods)
        else:
            rate = self.base * self.factor ** reductions
        warmup_steps = self.warmup_epochs * steps_per_epoch
        if step < warmup_steps:
            rate *= (step + 1) / warmup_steps
        return rate


@dataclasses.dataclass
class Plateau:
    """The plateau rule: after ``patience`` validations without an improvement of more than ``min_delta`` on the
    best error, cut the rate (``reductions += 1``), at most ``max_reductions`` times (the paper: 3)."""
    patience: int = 5
    min_delta: float = 0.0
    max_reductions: int = 3
    best: float = math.inf
    stale: int = 0
    reductions: int = 0

    def update(self, error):
        """Record a validation error; returns True when this validation cut the rate."""
        if error < self.best - self.min_delta:
            self.best, self.stale = error, 0
            return False
        self.stale += 1
        if self.stale >= self.patience and self.reductions < self.max_reductions:
            self.reductions += 1
            self.stale = 0
            return True
        return False

    def state(self):
        return {"best": self.best, "stale": self.stale, "reductions": self.reductions}

    def restore(self, state):
        self.best, self.stale, self.reductions = float(state["best"]), int(state["stale"]), int(state["reductions"])
