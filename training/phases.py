"""Timing the phases of a training step, as the seeds' tables do (fprop / bprop / update / iteration), and a matmul
peak to compare them with. Used by benchmark.py; no flags here.

The seeds' method ([neon-readme-000], [neon-readme-001]: "run 12 times, the first two passes were ignored";
[neon-readme-002]: 50 timed iterations), with the update timed as its own compiled function and bprop as what remains of
the full iteration once fprop and update are taken out (timing "forward + gradients" and subtracting gave negative
update times: BUILD.md, "Speed", Method). The phases are interleaved, round by round (fprop, update, iteration, LRN,
matmul, then again), so a slow spell of a shared machine hits every phase alike and the per-round
bprop = iteration - fprop - update is paired.
"""

import dataclasses
import statistics
import time

import keras
import tensorflow as tf

from common.layers import LocalResponseNormalization
from training import step as step_lib


def synchronize():
    """Wait for every device to finish its queued work (GPU kernels run asynchronously; a no-op cost on the CPU)."""
    tf.test.experimental.sync_devices()


@dataclasses.dataclass(frozen=True)
class Stats:
    mean: float
    median: float
    min: float
    max: float
    std: float

    @classmethod
    def of(cls, values):
        values = list(values)
        return cls(statistics.fmean(values), statistics.median(values), min(values), max(values),
                   statistics.pstdev(values))


def bprop_times(fprop, update, iteration):
    """Per round: iteration - fprop - update (the seeds' bprop row)."""
    return [i - f - u for f, u, i in zip(fprop, update, iteration, strict=True)]


def time_rounds(functions, rounds, warmup, clock=time.perf_counter):
    """Call each of ``functions`` (name -> callable) once per round, in order, ``warmup + rounds`` times; return
    name -> the ``rounds`` durations in seconds after the warm-up (the first calls also trace and compile)."""
    times = {name: [] for name in functions}
    for r in range(warmup + rounds):
        for name, function in functions.items():
            synchronize()
            start = clock()
            function()
            synchronize()
            if r >= warmup:
                times[name].append(clock() - start)
    return times


def _strategy(strategy):
    return strategy or tf.distribute.get_strategy()  # the default strategy: one replica, no wrapping


def on_every_replica(strategy, function, *args):
    """``function(*args)`` on every replica of ``strategy``, its result summed over them (one compiled step)."""
    return strategy.reduce("SUM", strategy.run(function, args=args), axis=None)


def per_replica(strategy, make):
    """``make(replica_id)`` on each replica's device, as one distributed value (a plain tensor with one replica)."""
    return strategy.experimental_distribute_values_from_function(lambda ctx: make(ctx.replica_id_in_sync_group))


def replica_batch(batch_size, strategy):
    """The examples each replica computes on; ValueError naming both flags when the batch does not split evenly."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"--batch_size={batch_size} does not split over --cpu_devices={replicas} replicas: use a "
                         f"multiple of {replicas}.")
    return batch_size // replicas


def matmul(size, dtype, strategy=None):
    """A compiled ``size`` x ``size`` by ``size`` x ``size`` matmul in ``dtype`` on every replica at once, and its
    FLOP (2 size^3 per replica): with replicas side by side on the CPU's cores, the peak is that of all the cores
    working the way the replicas do."""
    strategy = _strategy(strategy)
    operands = per_replica(strategy, lambda r: [tf.cast(tf.random.normal((size, size), seed=seed), dtype)
                                                for seed in (1, 2)])  # cast once, outside the timed product

    def product(ab):
        return tf.reduce_sum(tf.matmul(*ab)[:1, :1])

    run = tf.function(lambda: on_every_replica(strategy, product, operands))
    return run, 2 * size ** 3 * strategy.num_replicas_in_sync


def synthetic_batch(input_shape, batch_size, num_classes, seed=0):
    """Random images (float32, what the input pipelines deliver) and labels, already on the device."""
    rng = tf.random.Generator.from_seed(seed)
    images = rng.normal((batch_size, *input_shape), dtype=tf.float32)
    labels = rng.uniform((batch_size,), 0, num_classes, dtype=tf.int64)
    return images, labels


def training_phases(model, batch_size, jit_compile=False, mixed_precision="float32", momentum=0.9,
                    weight_decay=5e-4, learning_rate=0.01, seed=0, strategy=None):
    """name -> zero-argument callable for "fprop", "update" and "iteration" of ``model`` on one synthetic batch,
    built from the trainer's own pieces (training/step.py): the iteration is train.py's gradients + apply. Under
    ``strategy`` (in whose scope ``model`` was built) each phase runs on every replica, on its share of the global
    ``batch_size``, as train.py's step does: the update all-reduces the gradients."""
    strategy = _strategy(strategy)
    num_classes = model.output.shape[-1]
    local = replica_batch(batch_size, strategy)
    images, labels = per_replica(strategy, lambda r: synthetic_batch(model.input.shape[1:], local, num_classes,
                                                                     seed + r))
    with strategy.scope():
        optimizer, sgd = step_lib.make_optimizer(momentum, {"weights": weight_decay, "biases": 0.0}, mixed_precision)
        optimizer.build(model.trainable_variables)
    sgd.set_learning_rates({"weights": learning_rate, "biases": learning_rate})
    variables = model.trainable_variables
    gradients = step_lib.make_gradients(model, optimizer, batch_size, jit_compile)

    forward = tf.function(lambda x, y: step_lib.forward_loss(model, x, y, batch_size)[0], jit_compile=jit_compile)
    fixed_gradients = tf.function(lambda: strategy.run(
        lambda x, y: [tf.identity(g) for g in gradients(x, y)[2]], args=(images, labels)))()

    def apply(grads):
        optimizer.apply(grads, variables)
        return tf.constant(0.0)

    def train(x, y):
        loss, _, grads = gradients(x, y)
        optimizer.apply(grads, variables)
        return loss

    return {"fprop": tf.function(lambda: on_every_replica(strategy, forward, images, labels)),
            "update": tf.function(lambda: on_every_replica(strategy, apply, fixed_gradients)),
            "iteration": tf.function(lambda: on_every_replica(strategy, train, images, labels))}


def lrn_phase(model, batch_size, seed=0, strategy=None):
    """A callable running the forward and backward pass of every LRN layer of ``model`` on inputs of its real
    activation shapes (None for a model without LRN), on every replica's share of the batch: LRN adds time, not
    FLOPs, so it is timed on its own."""
    layers = [layer for layer in model.layers if isinstance(layer, LocalResponseNormalization)]
    if not layers:
        return None
    strategy = _strategy(strategy)
    local = replica_batch(batch_size, strategy)
    dtype = keras.mixed_precision.global_policy().compute_dtype

    def make(replica):
        rng = tf.random.Generator.from_seed(seed + replica)
        return [tf.cast(tf.nn.relu(rng.normal((local, *layer.input.shape[1:]))), dtype) for layer in layers]

    inputs = per_replica(strategy, make)

    def forward_backward(xs):
        total = 0.0
        for layer, x in zip(layers, xs):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
            total += tf.reduce_sum(tf.cast(tape.gradient(y, x)[:1, :1, :1, :1], tf.float32))
        return total

    return tf.function(lambda: on_every_replica(strategy, forward_backward, inputs))
