"""The pieces of one training step, shared by the trainer (training/loop.py) and benchmark.py, so that the benchmark
times exactly the step that train.py runs.

* ``make_optimizer``: the paper's momentum SGD with per-group weight decay (training/optim.py), wrapped in Keras'
  dynamic loss scaling under ``mixed_float16`` (keras mixed-precision guide: float16 gradients underflow).
* ``forward_loss``: the forward pass in training mode (dropout on) and the cross-entropy summed over this replica's
  examples and divided by the *global* batch, so that the all-reduce's sum over replicas is the batch mean.
* ``make_gradients``: ``forward_loss`` and its gradients as one compiled function (XLA with ``jit_compile``).
"""

import keras
import tensorflow as tf

from training.optim import ParamGroupSGD


def make_optimizer(momentum, weight_decays, mixed_precision):
    """(optimizer to apply gradients with, the inner ParamGroupSGD whose learning rates the trainer sets)."""
    sgd = ParamGroupSGD(momentum, weight_decays)
    if mixed_precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(sgd), sgd
    return sgd, sgd


def forward_loss(model, images, labels, global_batch):
    """(loss, probabilities): the model in training mode and its cross-entropy, summed and divided by
    ``global_batch``."""
    probabilities = model(images, training=True)
    per_example = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
    return tf.reduce_sum(per_example) / global_batch, probabilities


def make_gradients(model, optimizer, global_batch, jit_compile=False):
    """A compiled ``(images, labels) -> (loss, probabilities, gradients)`` for ``model.trainable_variables``; the
    loss is scaled before differentiation when ``optimizer`` is a LossScaleOptimizer (which unscales on apply)."""
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    @tf.function(jit_compile=jit_compile)
    def gradients(images, labels):
        with tf.GradientTape() as tape:
            loss, probabilities = forward_loss(model, images, labels, global_batch)
            objective = optimizer.scale_loss(loss) if scaled else loss
        return loss, probabilities, tape.gradient(objective, model.trainable_variables)

    return gradients
