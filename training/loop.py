"""The training loop: one compiled step under any tf.distribute strategy, checkpoints that resume exactly,
TensorBoard summaries, a progress bar, validation every epoch and the export at the end.

The model code knows nothing of this module; the data comes from ``data.inputs``; ``training.run`` builds the
trainer from a ``training.config.Config``.
"""

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from common import files
from common.errors import op_error_line
from common.workdir import (BEST, CHECKPOINTS, FLAGS_FILE, IDENTITY, RUN_FILE, UNREADABLE, checkpoint_path,
                            model_state, read_run_info)
from data import pipeline
from evaluation import metrics
from figures import Figures, draw
from training import distribute, preemption, progress, watchdog
from training import step as step_lib
from training.optim import GROUPS
from training.schedules import Plateau


class TrainingError(RuntimeError):
    """A run that cannot go on (non-finite loss, a workdir that does not match or cannot be written, a worker that
    died): the message says why and what to do; the checkpoints written so far are kept."""


# what a lost peer of a multi-worker job raises from the collective ops of the step
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.AbortedError,
               tf.errors.DeadlineExceededError)


@dataclasses.dataclass
class Outcome:
    """How ``Trainer.train`` ended: the last validation report (None if none ran), the step reached, the checkpoint
    written last, and the signal that stopped it early (None when it ran to the end)."""
    report: dict = None
    step: int = 0
    checkpoint: str = None
    stopped_by: str = None
    export_dir: str = None  # set by training.run when the run wrote a SavedModel


def _with_class_layer(model):
    """``model`` returning (probabilities, the class layer's output) when it ends in common.spec's softmax layer
    ``predictions`` (what feeds it: All-CNN's global average of the class convolutions, AlexNet's fc8), so that
    validation can count the classes dead on every example; else ``model`` itself."""
    try:
        softmax = model.get_layer("predictions")
    except ValueError:
        return model
    return keras.Model(model.inputs, [model.output, softmax.input])


def steps_per_epoch(num_examples, global_batch):
    """Steps per epoch: full global batches, the last partial one dropped. The same whether the examples are split
    between P input pipelines first (ImageNet: floor(floor(N / P) / (B / P)) = floor(N / B)) or the batches are
    (the in-memory datasets)."""
    return num_examples // global_batch


def fingerprint(model):
    """A short hash of the model's weights (their bytes, in order): equal on every worker of a multi-worker job, and
    between runs that should have trained identically."""
    digest = hashlib.sha256()
    for v in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(v.value)).tobytes())
    return digest.hexdigest()[:16]


@dataclasses.dataclass
class InitialWeights:
    """A published file's weights, read and checked once (training/run.py): by layer name, all but the class layer
    left at its initialisation (``reinitialised``, or None)."""
    path: str
    reinitialised: str | None
    layers: dict


NEIGHBOUR_FIGURES = 10  # the nearest-neighbour figure is drawn about this many times a run (and at the end)


class Trainer:
    """``Trainer(config, strategy, build_model, inputs, run_info).train()``.

    ``config`` is a ``training.config.Config`` whose ``mixed_precision`` is resolved (not ``auto``: the global Keras
    policy is already set to it); ``build_model()`` returns a fresh Keras model (called inside the strategy scope);
    ``inputs`` is a ``data.inputs`` object; ``run_info`` (model, variant, dataset ...) is written to the workdir and
    checked on resume. ``training.run.train_and_evaluate`` assembles all of these from a Config.
    """

    def __init__(self, config, strategy, build_model, inputs, run_info, extra_files=None, log=print, initial=None):
        self.config, self.strategy, self.inputs, self.log = config, strategy, inputs, log
        self.extra_files = dict(extra_files or {})
        self.initial = initial  # InitialWeights for a run that starts from a published file (--init_from)
        self.chief = distribute.is_chief(strategy)
        self.replicas = strategy.num_replicas_in_sync
        if config.batch_size % self.replicas:
            raise ValueError(f"--batch_size={config.batch_size} is not divisible by the {self.replicas} replicas of "
                             f"the {type(strategy).__name__}: use a multiple of {self.replicas}.")
        self.workers = distribute.num_workers(strategy)
        self.steps_per_epoch = steps_per_epoch(inputs.count("train"), config.batch_size)
        if self.steps_per_epoch < 1:
            raise ValueError(f"--batch_size={config.batch_size} leaves no full batch in the "
                             f"{inputs.count('train'):,} training examples: use a smaller --batch_size.")
        self.total_steps = config.train_steps or max(1, round(config.epochs * self.steps_per_epoch))
        self.run_info = dict(run_info, steps_per_epoch=self.steps_per_epoch, batch_size=config.batch_size)
        self.weight_schedule, self.bias_schedule, self.plateau = config.schedules()
        with strategy.scope():
            self.model = build_model()
            self.optimizer, self.sgd = step_lib.make_optimizer(
                config.momentum, {"weights": config.weight_decay, "biases": config.bias_decay},
                config.mixed_precision)
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.plateau_state = {k: tf.Variable(v, dtype=tf.float64, trainable=False, name=f"plateau_{k}")
                                  for k, v in (self.plateau or Plateau()).state().items()}
            self.best_error = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_top1_error")
            # the last epoch validated (0: none yet; -1: unknown, a checkpoint from before it was kept)
            self.validated_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="validated_epoch")
        self.checkpoint = tf.train.Checkpoint(model=model_state(self.model), optimizer=self.optimizer, step=self.step,
                                              best_top1_error=self.best_error, validated_epoch=self.validated_epoch,
                                              **{f"plateau_{k}": v for k, v in self.plateau_state.items()})
        self._train_step = self._make_train_step()
        scoring = _with_class_layer(self.model)
        self._predict = tf.function(lambda x: scoring(x, training=False), reduce_retracing=True)
        self._warned_tied = False
        self.watch, self._first_step = None, 0  # multi-worker: the StepWatch, set by train()
        self._running = 0  # the (0-based) step running or last run
        self.figures = Figures(inputs, inputs.class_names) if config.figures else None

    # ------------------------------------------------------------------------------------------------ step
    def _make_train_step(self):
        model, optimizer = self.model, self.optimizer
        # the loss is divided by the global batch: the all-reduce sums it over the replicas
        gradients = step_lib.make_gradients(model, optimizer, self.config.batch_size, self.config.jit_compile)

        def replica_step(images, labels, stop):
            loss, probabilities, grads = gradients(images, labels)
            optimizer.apply(grads, model.trainable_variables)
            # the one top-k rule of evaluation.metrics (ties in index order), and the examples with no preferred class
            counts = [metrics.top_k_hits(probabilities, labels, 1), metrics.top_k_hits(probabilities, labels, 5),
                      metrics.tied_rows(probabilities)]
            return [loss, *counts, tf.identity(stop)]  # per-replica values, for the reduction

        @tf.function
        def train_step(iterator, rates, stop):
            """One step; ``stop`` (this worker's preemption request, 0 or 1) comes back summed over every replica
            of every worker, so that all of them agree on when to stop."""
            self.sgd.set_learning_rates(rates)
            images, labels = next(iterator)
            results = self.strategy.run(replica_step, args=(images, labels, stop))
            self.step.assign_add(1)
            return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

        return train_step

    def learning_rates(self, step):
        reductions = self.plateau.reductions if self.plateau else 0
        return {"weights": self.weight_schedule(step, self.steps_per_epoch, reductions),
                "biases": self.bias_schedule(step, self.steps_per_epoch, reductions)}

    # ------------------------------------------------------------------------------------------ workdir
    def checkpoint_bytes(self):
        """The size of one checkpoint: every model and optimizer variable (weights, momenta, counters)."""
        variables = list(self.model.variables) + list(self.optimizer.variables)
        return sum(math.prod(v.shape) * tf.as_dtype(v.dtype).size for v in variables)

    def _check_writable(self):
        """Fail before training, with the reason, when the workdir cannot be written or lacks the space for the
        checkpoints kept (the last ``keep_checkpoints``, the best, and the one being written)."""
        workdir = self.config.workdir
        try:
            files.makedirs(workdir)
            probe = os.path.join(workdir, f".write-test-{os.getpid()}")
            with files.open_file(probe, "w") as f:
                f.write("ok")
            tf.io.gfile.remove(probe)
        except (OSError, tf.errors.OpError) as err:
            reason = files.reason(err)
            raise TrainingError(f"--workdir={workdir} cannot be written ({reason}): fix its permissions or pass "
                                "another --workdir.") from None
        if not files.is_local(workdir):
            return  # an object store's free space is not a question the run can ask
        each = self.checkpoint_bytes()
        needed = (self.config.keep_checkpoints + 2) * each
        free = shutil.disk_usage(workdir).free
        if free < needed:
            raise TrainingError(
                f"--workdir={workdir} has {free / 2**20:,.0f} MiB free but the checkpoints need about "
                f"{needed / 2**20:,.0f} MiB ({self.config.keep_checkpoints} kept + the best + one being written, "
                f"{each / 2**20:,.1f} MiB each): free some space, lower --keep_checkpoints, or pass "
                "another --workdir.")

    def _restore(self):
        """Restore the newest checkpoint of the chief's directory that can be read; a damaged one (a disk that
        filled up, a file truncated by a copy) is reported and the one before it tried. Returns its path or None."""
        directory = os.path.join(self.config.workdir, CHECKPOINTS)
        state = tf.train.get_checkpoint_state(directory)
        candidates = list(reversed(state.all_model_checkpoint_paths)) if state else []
        for path in candidates:
            if files.is_local(path) and not os.path.isabs(path):
                path = os.path.join(directory, path)
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
                # the reader of the file itself: tf.train.load_checkpoint would take an object store's "ckpt-N"
                # prefix of files for a directory (TensorFlow's ram:// filesystem does)
                reader = tf.compat.v1.train.NewCheckpointReader(path)
                if not reader.has_tensor("validated_epoch/.ATTRIBUTES/VARIABLE_VALUE"):
                    self.validated_epoch.assign(-1)
                return path
            except (*UNREADABLE, ValueError, AssertionError) as err:
                reason = op_error_line(err)
                self.log(f"warning: checkpoint {path} cannot be restored ({reason}); trying the one before it")
        if candidates:
            raise TrainingError(f"none of the checkpoints in {directory} can be restored (see the warnings above): "
                                "move that directory away to start afresh.")
        return None

    def _prepare_workdir(self):
        """Check that the workdir holds this run (or nothing) and can be written, write run.json, restore the
        latest checkpoint."""
        workdir = self.config.workdir
        path = os.path.join(workdir, RUN_FILE)
        previous = read_run_info(workdir)
        if previous is not None:
            different = [k for k in IDENTITY if previous.get(k) != self.run_info.get(k)]
            if different:
                raise TrainingError(
                    f"--workdir={workdir} holds a run with " + ", ".join(
                        f"{k}={previous.get(k)!r}" for k in different) + " but this run has " + ", ".join(
                        f"{k}={self.run_info.get(k)!r}" for k in different) +
                    ": pass another --workdir, or the flags of that run (--flagfile=" +
                    os.path.join(workdir, FLAGS_FILE) + ").")
        if self.chief:
            self._check_writable()
            with files.atomic_write(path) as f:
                json.dump(self.run_info, f, indent=2, sort_keys=True)
            for name, text in self.extra_files.items():
                with files.atomic_write(os.path.join(workdir, name)) as f:
                    f.write(text)
            self.inputs.keep_caches(workdir)  # --mean=image's mean image, for the next run
        # the other workers save too (tf.distribute needs every one), into a local directory deleted at once
        directory = os.path.join(workdir, CHECKPOINTS) if self.chief else tempfile.mkdtemp(
            prefix=f"worker{distribute.worker_index(self.strategy)}-checkpoints-")
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, self.config.keep_checkpoints,
                                                  step_counter=self.step)
        self.best_manager = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(workdir, BEST) if self.chief else directory + "-best", 1,
            step_counter=self.step, checkpoint_name="best")
        latest = self._restore()  # the chief's checkpoints, for every worker
        if latest:
            if self.plateau:
                self.plateau.restore({k: v.numpy() for k, v in self.plateau_state.items()})
            self.log(f"resumed from {latest} (step {int(self.step.numpy()):,})")
        elif self.initial:
            for name, values in self.initial.layers.items():
                self.model.get_layer(name).set_weights(values)
            fresh = self.initial.reinitialised
            self.log(f"starting in {workdir} from the published weights {self.initial.path}" + (
                f"; the class layer {fresh} re-initialised ({self.model.get_layer(fresh).weights[0].shape[-1]} "
                "classes here, another count in the file)" if fresh else ""))
        else:
            self.log(f"starting from scratch in {workdir}")

    def save(self):
        for k, v in (self.plateau.state() if self.plateau else {}).items():
            self.plateau_state[k].assign(v)
        return self._save(self.manager)

    def _save(self, manager):
        """Save a checkpoint of finite weights. Every worker saves (tf.distribute needs all of them); the others'
        copies go to a temporary directory that is deleted at once.

        TensorFlow writes the new files, then names them in the directory's ``checkpoint`` state file (atomically),
        then deletes the oldest: a run killed during the write leaves the previous checkpoints listed and intact,
        and one whose write fails (a full disk) is stopped here with the previous ones kept.
        """
        step = int(self.step.numpy())
        bad = [v.path for v in self.model.trainable_variables if not bool(tf.reduce_all(tf.math.is_finite(v)))]
        if bad:
            raise TrainingError(
                f"the weights became non-finite at step {step:,} ({', '.join(bad[:3])}"
                f"{' ...' if len(bad) > 3 else ''}), learning rate {self.learning_rates(step - 1)['weights']:g}: "
                f"stopped without saving them. The last good checkpoint is kept in {self.manager.directory}; lower "
                "--learning_rate (or add --warmup_epochs) and rerun to resume from it.")
        try:
            path = manager.save(checkpoint_number=self.step)
        except (OSError, tf.errors.OpError) as err:
            reason = files.reason(err)
            previous = manager.latest_checkpoint
            raise TrainingError(
                f"the checkpoint of step {step:,} could not be written to {manager.directory} ({reason}); "
                + (f"the previous one, {previous}, is kept. " if previous else "")
                + "Free some space (or pass --keep_checkpoints lower) and rerun the same command to resume."
            ) from None
        if not self.chief:
            files.remove_tree(manager.directory)
        return path

    # ------------------------------------------------------------------------------------------ validation
    def validate(self):
        dataset = self.inputs.eval_dataset(self.config.eval_batch_size)
        return metrics.evaluate(self._predict, dataset, expected_count=self.inputs.count(), with_loss=True)

    # ------------------------------------------------------------------------------------------ main loop
    def train(self):
        """Train to the end (or until SIGTERM/SIGINT: then save and return); returns an ``Outcome``."""
        self._prepare_workdir()
        try:
            with preemption.StopRequest() as stop, self._step_watch():
                return self._train(stop)
        except PEER_ERRORS as err:
            if self.workers == 1:
                raise
            who = watchdog.peer_failure(str(err), distribute.tf_config().get("cluster", {}))
            raise TrainingError(self._peer_stopped(who or f"{type(err).__name__}: {op_error_line(err)}",
                                                   self._running + 1)) from None

    def _peer_stopped(self, reason, step):
        """The message of a multi-worker job stopped at (1-based) ``step`` by a peer, for ``reason``."""
        latest = checkpoint_path(self.config.workdir)
        return (f"a worker of this {self.workers}-worker job stopped answering at step {step:,} ({reason}): the job "
                "stops. " + (f"The last checkpoint is {latest}; restart every worker with the same command to resume "
                             "from it." if latest else "No checkpoint was written yet; restart every worker with the "
                             "same command to start again."))

    def _step_watch(self):
        """The bound on a step's wait for its peers (``training.watchdog.StepWatch``) in a multi-worker job."""
        if self.workers == 1:
            return contextlib.nullcontext()
        resolver = self.strategy.cluster_resolver
        self.watch = watchdog.StepWatch(resolver.task_id or 0, resolver.task_type or "worker",
                                        distribute.tf_config().get("cluster", {}), self.config.step_timeout_secs,
                                        self.log, self._peer_stopped)
        return self.watch

    def _train(self, stop):
        config = self.config
        summaries = progress.Summaries(config.workdir if self.chief else None)
        step = self._first_step = int(self.step.numpy())  # the first step of an attempt is not bounded
        epoch, skip = divmod(step, self.steps_per_epoch)
        total_epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        if step >= self.total_steps:
            self.log(f"nothing to do: the checkpoint is at step {step:,} of {self.total_steps:,}")
        show_first_batch = step == 0
        outcome = Outcome(step=step)
        if skip == 0 and 0 < epoch and epoch % config.eval_every_epochs == 0 and \
                0 <= int(self.validated_epoch.numpy()) < epoch:
            # a stop on an epoch's last step saved before that epoch's validation: run it now, before going on
            self.log(f"validating epoch {epoch}, which the stop at its last step left out")
            outcome.report = self._validate_and_keep_best(epoch, step, summaries)
        # One iterator for the rest of the run (every epoch's batches chained, ``_train_dataset``): a
        # MirroredStrategy iterator per epoch cost 2.6-3 s per epoch to delete, now and then 13-33 s (its
        # multi-device prefetch threads; digits on 2 CPU devices, 2026-12-02).
        iterator = iter(self.strategy.distribute_datasets_from_function(
            lambda ctx, e=epoch, s=skip, n=total_epochs: self._train_dataset(ctx, e, s, n)))
        while step < self.total_steps:
            steps = min(self.steps_per_epoch - skip, self.total_steps - step)
            bar = progress.Bar(epoch + 1, total_epochs, steps, skip, self.steps_per_epoch, config.batch_size,
                               self.log, config.log_every_steps)
            interval = progress.Interval()
            whole_epoch = progress.Interval()
            for _ in range(steps):
                loss, counts, stop_requested, rates = self._step(iterator, step, epoch, stop)
                step += 1
                if show_first_batch:
                    self._show_first_images(epoch, skip, step, summaries)
                    show_first_batch = False
                interval.add(loss, *counts, config.batch_size)
                whole_epoch.add(loss, *counts, config.batch_size)
                bar.update(loss, interval)
                if step % config.log_every_steps == 0 or step == self.total_steps:
                    summaries.train(interval.report(), rates, step)
                    interval = progress.Interval()
                if stop_requested and step < self.total_steps:
                    return self._preempted(stop, step, epoch, summaries, interval, rates, outcome)
                if config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0 and \
                        step % self.steps_per_epoch and step != self.total_steps:
                    # (an epoch's last step and the run's are saved by _end_of_epoch, after validation: saving
                    # them here too would rewrite a checkpoint the state file already names, under its readers)
                    outcome.checkpoint = self.save()
            epoch, skip = epoch + 1, 0
            self._warn_if_tied(epoch, whole_epoch.report()["tied_outputs"])
            self._end_of_epoch(epoch, step, summaries, bar, outcome)
        summaries.close()
        outcome.step = step
        self.log(f"weights fingerprint: {fingerprint(self.model)}")
        return outcome

    def _step(self, iterator, step, epoch, stop):
        """Train (0-based) ``step`` at its scheduled rates, starting or stopping the profiler at ``profile_steps``'
        bounds. Returns (loss, (top-1 hits, top-5 hits, examples with all scores tied), whether any worker was asked
        to stop, the rates); a non-finite loss stops the run here."""
        profile = self.config.profile_steps if self.chief else ()
        if step in profile[:1]:
            tf.profiler.experimental.start(os.path.join(self.config.workdir, "train"))
        rates = self.learning_rates(step)
        self._running = step
        watch = self.watch.step(step, bounded=step > self._first_step) if self.watch else contextlib.nullcontext()
        with watch:
            loss, top1, top5, tied, stops = self._train_step(
                iterator, {g: tf.constant(rates[g], tf.float32) for g in GROUPS},
                tf.constant(int(stop.signal is not None), tf.int32))
            loss = float(loss)
        if not math.isfinite(loss):
            raise TrainingError(
                f"the training loss is {loss} at step {step + 1:,} (epoch {epoch + 1}), learning rate "
                f"{rates['weights']:g}: stopped. The last good checkpoint is kept in {self.manager.directory}; lower "
                "--learning_rate (or add --warmup_epochs) and rerun to resume from it.")
        if step in profile[1:2]:
            tf.profiler.experimental.stop()
        return loss, (int(top1), int(top5), int(tied)), bool(int(stops)), rates

    TIED_WARNING = 0.5  # the share of training examples with all class scores tied that earns the warning

    def _warn_if_tied(self, epoch, tied_share):
        """Once per run: say so when most of an epoch's training examples had all their class scores tied."""
        if tied_share > self.TIED_WARNING and not self._warned_tied:
            self._warned_tied = True
            self.log(f"warning: after epoch {epoch}, {tied_share:.0%} of the training examples had all class scores "
                     "tied (no preferred class: dead outputs, e.g. every class unit behind its ReLU at zero). Top-1 "
                     "counts such an example for class 0 only. If this persists the run is not learning: see "
                     "BUILD.md, 'Dead outputs', for the learning rate, initialisation and class bias to try.")

    def _end_of_epoch(self, epoch, step, summaries, bar, outcome):
        """After the last step of (1-based) ``epoch``, or of the run: validate when due, save a checkpoint."""
        epoch_done = step % self.steps_per_epoch == 0
        if not (epoch_done or step == self.total_steps):
            return
        if epoch_done and (epoch % self.config.eval_every_epochs == 0) or step == self.total_steps:
            outcome.report = self._validate_and_keep_best(epoch, step, summaries)
        outcome.checkpoint = self.save()
        bar.done(outcome.checkpoint if self.chief else None)

    def _preempted(self, stop, step, epoch, summaries, interval, rates, outcome):
        """Save at this step boundary and return; the rerun resumes here (mid-epoch: the rest of the epoch's
        batches, in the same order)."""
        started = time.monotonic()
        if interval.steps:
            summaries.train(interval.report(), rates, step)
        summaries.close()
        outcome.checkpoint = self.save()
        outcome.step, outcome.stopped_by = step, stop.signal or "another worker's signal"
        self.log(f"stopped by {outcome.stopped_by} at step {step:,} (epoch {epoch + 1}): checkpoint "
                 f"{outcome.checkpoint if self.chief else 'written by the chief'} saved in "
                 f"{time.monotonic() - started:.1f} s; rerun the same command to resume from it.")
        return outcome

    def _train_dataset(self, ctx, epoch, skip, epochs, batch=None, as_seen=False):
        """One input pipeline's batches from ``skip`` steps into ``epoch`` to the end of epoch ``epochs - 1``
        (``pipeline.chain_epochs``), each epoch cut to exactly ``steps_per_epoch`` steps (an uneven shard or
        per-replica split leaves a batch over, never trained on). distribute_datasets_from_function wants
        per-replica batches; each step takes one per local replica."""
        local_replicas = self.replicas // ctx.num_input_pipelines
        batch = batch or ctx.get_per_replica_batch_size(self.config.batch_size)
        shard = ctx if ctx.num_input_pipelines > 1 else None
        return pipeline.chain_epochs(
            lambda e, s: self.inputs.train_dataset(batch, e, s * local_replicas, shard, as_seen=as_seen).take(
                (self.steps_per_epoch - s) * local_replicas),
            epoch, skip, epochs).prefetch(tf.data.AUTOTUNE).with_options(pipeline.FAST_START)

    def _show_first_images(self, epoch, skip, step, summaries):
        """``_first_images`` to TensorBoard (the chief only); a failure is reported, never stops the run."""
        if not self.chief or not self.config.figures:
            return
        try:
            for name, images in self._first_images(epoch, skip).items():
                summaries.images(name, images, step)
        except Exception as err:  # noqa: BLE001  a picture is never worth a run
            self.log(f"warning: the first training images could not be shown ({type(err).__name__}: {err})")

    def _first_images(self, epoch, skip):
        """The first training batch of this run, augmented, for TensorBoard: {name: images in 0..1}, as a person
        sees them (before whitening or mean subtraction) and as the network receives them (each image scaled to
        0..1 by its own range)."""
        ctx, batch = tf.distribute.InputContext(), min(16, self.config.batch_size)
        seen, _ = next(iter(self._train_dataset(ctx, epoch, skip, epoch + 1, batch, as_seen=True)))
        received, _ = next(iter(self._train_dataset(ctx, epoch, skip, epoch + 1, batch)))
        received = tf.cast(received, tf.float32)
        low = tf.reduce_min(received, axis=[1, 2, 3], keepdims=True)
        high = tf.reduce_max(received, axis=[1, 2, 3], keepdims=True)
        return {"augmented training images": tf.clip_by_value(tf.cast(seen, tf.float32), 0.0, 1.0),
                "augmented training images as the network receives them":
                    (received - low) / tf.maximum(high - low, 1e-6)}

    def _draw_figures(self, report, epoch, step, summaries):
        """The figures (``figures.Figures``) to TensorBoard: the kernels and the confusion matrix at every
        validation, the nearest neighbours (a forward pass of 1,005 images: 0.9 s on the digits, Xeon AMX) about
        ``NEIGHBOUR_FIGURES`` times a run and at its last validation. A failure is reported, never stops the run,
        and ends the figures for the rest of it."""
        if self.figures is None:
            return
        epochs = -(-self.total_steps // self.steps_per_epoch)
        every = max(1, round(epochs / NEIGHBOUR_FIGURES))
        try:
            drawn = self.figures.all(self.model, report.get("confusion"),
                                     f"validation after epoch {epoch} (step {step:,})",
                                     neighbours=epoch % every == 0 or epoch >= epochs)
            summaries.figures({name: draw.to_rgb(figure) for name, figure in drawn.items()}, step)
        except Exception as err:  # noqa: BLE001  a picture is never worth a run
            self.log(f"warning: the TensorBoard figures could not be drawn ({type(err).__name__}: {err}); "
                     "training goes on without them")
            self.figures = None  # not retried at every validation

    def _validate_and_keep_best(self, epoch, step, summaries):
        """Validate, log and summarise (the weight histograms too); apply the plateau rule; save best/ when the top-1
        error is the lowest yet."""
        self.validated_epoch.assign(epoch)
        report = self.validate()
        summaries.validation(report, step)
        summaries.histograms(self.model, step)  # with each validation (0.26 s each for All-CNN-C)
        if self.chief:
            self._draw_figures(report, epoch, step, summaries)
        dead = report.get("dead_classes")
        dead = f", {dead} dead class{'es' if dead > 1 else ''}" if dead else ""
        tied = f", {report['tied_outputs']:.1%} with all scores tied" if report["tied_examples"] else ""
        self.log(f"validation after epoch {epoch} (step {step:,}): loss {report['loss']:.4f}, top-1 error "
                 f"{report['top1_error']:.2%}, top-5 error {report['top5_error']:.2%} "
                 f"({report['examples']:,} examples{tied}{dead})")
        if self.plateau and self.plateau.update(report["top1_error"]):
            self.log(f"validation error stopped improving: learning rate x{self.weight_schedule.factor:g} "
                     f"(cut {self.plateau.reductions} of at most {self.plateau.max_reductions})")
        if report["top1_error"] < float(self.best_error.numpy()):
            self.best_error.assign(report["top1_error"])
            if not (self.best_manager.latest_checkpoint or "").endswith(f"-{step}"):
                # (a rerun repeating a validation the stop left out finds this step's kept already: rewriting it
                # would pull it from under its readers)
                self._save(self.best_manager)
        return report
