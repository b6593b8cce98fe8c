"""ParamGroupSGD against the paper's update rule worked in NumPy, per parameter group, for every recipe's settings
(read from its flagfile), under the default strategy and MirroredStrategy over two logical CPUs."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from training.optim import ParamGroupSGD, group_of


def tiny_model():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 3, name="conv", bias_initializer="ones")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(2, name="fc")(x)
    return keras.Model(inputs, outputs)


def numpy_rule(weights, velocities, grads, groups, rates, decays, momentum):
    """Krizhevsky et al. 2012 §5: v <- mu v - wd lr w - lr g; w <- w + v, with the group's lr and wd."""
    new_w, new_v = [], []
    for w, v, g, group in zip(weights, velocities, grads, groups):
        v = momentum * v - decays[group] * rates[group] * w - rates[group] * g
        new_v.append(v)
        new_w.append(w + v)
    return new_w, new_v


def run_case(momentum, decays, rate_steps):
    model = tiny_model()
    optimizer = ParamGroupSGD(momentum, decays)
    optimizer.build(model.trainable_variables)
    groups = [group_of(v) for v in model.trainable_variables]
    assert groups == ["weights", "biases", "weights", "biases"]
    weights = [v.numpy().astype(np.float64) for v in model.trainable_variables]
    velocities = [np.zeros_like(w) for w in weights]
    rng = np.random.default_rng(0)
    for rates in rate_steps:
        grads = [rng.normal(size=w.shape) for w in weights]
        optimizer.set_learning_rates(rates)
        optimizer.apply([tf.constant(g, tf.float32) for g in grads], model.trainable_variables)
        weights, velocities = numpy_rule(weights, velocities, grads, groups, rates, decays, momentum)
        for v, w in zip(model.trainable_variables, weights):
            np.testing.assert_allclose(v.numpy(), w, rtol=1e-5, atol=1e-6)


def test_update_equals_the_paper_rule_with_each_recipes_groups(recipe, recipe_config):
    config = recipe_config(recipe)
    weights, biases, _ = config.schedules()
    steps_per_epoch = 10
    rate_steps = [{"weights": weights(s, steps_per_epoch), "biases": biases(s, steps_per_epoch)} for s in range(3)]
    run_case(config.momentum, {"weights": config.weight_decay, "biases": config.bias_decay}, rate_steps)


def test_groups_differ_where_caffe_and_neon_say_so():
    # Caffe/neon: biases at twice the rate and without weight decay; a changing rate between steps.
    run_case(0.9, {"weights": 5e-4, "biases": 0.0},
             [{"weights": 0.01, "biases": 0.02}, {"weights": 0.001, "biases": 0.02}, {"weights": 0.1, "biases": 0.0}])


def test_plain_sgd_without_momentum():
    run_case(0.0, {"weights": 1e-3, "biases": 1e-3}, [{"weights": 0.05, "biases": 0.05}] * 2)


def test_unknown_group_is_refused():
    with pytest.raises(ValueError, match="unknown groups"):
        ParamGroupSGD(0.9, {"kernels": 1e-4})
