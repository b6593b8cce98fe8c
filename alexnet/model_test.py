"""AlexNet variants: layer shapes, parameter counts and initial statistics worked out by hand from the sources."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import alexnet
from common.summary import layer_rows

# ------------------------------------------------------------------------------------------ hand-computed tables
# (layer, output shape, parameters). Conv params = k*k*c_in/towers*filters + filters; dense = in*out + out.
# Spatial sizes: conv (n + pads - k) // s + 1, pool (n - 3) // 2 + 1.


def _fc_tail(pool5, dropout_before_fc=False):
    flat = math.prod(pool5)
    fc6, fc7, fc8 = flat * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000
    rows = [("pool5", pool5, 0), ("flatten", (flat,), 0)]
    if dropout_before_fc:  # torchvision: Dropout -> fc6 -> Dropout -> fc7 -> fc8
        rows += [("drop5", (flat,), 0), ("fc6", (4096,), fc6), ("drop6", (4096,), 0), ("fc7", (4096,), fc7)]
    else:  # paper: fc6 -> dropout -> fc7 -> dropout -> fc8
        rows += [("fc6", (4096,), fc6), ("drop6", (4096,), 0), ("fc7", (4096,), fc7), ("drop7", (4096,), 0)]
    return rows + [("fc8", (1000,), fc8), ("predictions", (1000,), 0)]


# The 2012 network: 224 (+3 bottom/right) -> 55 -> 27 -> 13 -> 6, towers on conv2 (5x5x48), conv4 (3x3x192), conv5.
_TWO_TOWER_CONVS = [
    ("conv2", (27, 27, 256), 2 * (5 * 5 * 48 * 128 + 128)),
    ("conv3", (13, 13, 384), 3 * 3 * 256 * 384 + 384),
    ("conv4", (13, 13, 384), 2 * (3 * 3 * 192 * 192 + 192)),
    ("conv5", (13, 13, 256), 2 * (3 * 3 * 192 * 128 + 128)),
]
_CONV1_96 = ("conv1", (55, 55, 96), 11 * 11 * 3 * 96 + 96)
PAPER = ([("conv1_pad", (227, 227, 3), 0), _CONV1_96, ("lrn1", (55, 55, 96), 0), ("pool1", (27, 27, 96), 0),
          _TWO_TOWER_CONVS[0], ("lrn2", (27, 27, 256), 0), ("pool2", (13, 13, 256), 0)]
         + _TWO_TOWER_CONVS[1:] + _fc_tail((6, 6, 256)))
BVLC = PAPER[1:]  # 227 input, no padding; otherwise the paper's shapes
# the same network with every grouped convolution a full one (conv2 5x5x96, conv4 and conv5 3x3x384)
_FULL_CONVS = {"conv2": ("conv2", (27, 27, 256), 5 * 5 * 96 * 256 + 256),
               "conv4": ("conv4", (13, 13, 384), 3 * 3 * 384 * 384 + 384),
               "conv5": ("conv5", (13, 13, 256), 3 * 3 * 384 * 256 + 256)}
PAPER_UNTOWERED = [_FULL_CONVS.get(row[0], row) for row in PAPER]
CAFFENET = ([_CONV1_96, ("pool1", (27, 27, 96), 0), ("lrn1", (27, 27, 96), 0),
             _TWO_TOWER_CONVS[0], ("pool2", (13, 13, 256), 0), ("lrn2", (13, 13, 256), 0)]
            + _TWO_TOWER_CONVS[1:] + _fc_tail((6, 6, 256)))
# neon ModelZoo: 224, pad 0 -> (224 - 11) // 4 + 1 = 54 -> 26 -> 12 -> 5; no towers.
NEON = [("conv1", (54, 54, 96), 11 * 11 * 3 * 96 + 96), ("pool1", (26, 26, 96), 0), ("lrn1", (26, 26, 96), 0),
        ("conv2", (26, 26, 256), 5 * 5 * 96 * 256 + 256), ("pool2", (12, 12, 256), 0), ("lrn2", (12, 12, 256), 0),
        ("conv3", (12, 12, 384), 3 * 3 * 256 * 384 + 384), ("conv4", (12, 12, 384), 3 * 3 * 384 * 384 + 384),
        ("conv5", (12, 12, 256), 3 * 3 * 384 * 256 + 256)] + _fc_tail((5, 5, 256))
# 64-192-384-256-256: (224 + 2 * pad - 11) // 4 + 1 = 55 for pad 2 (torchvision) and pad 3 (neon).
_OWT_CONVS = [("conv1", (55, 55, 64), 11 * 11 * 3 * 64 + 64), ("pool1", (27, 27, 64), 0),
              ("conv2", (27, 27, 192), 5 * 5 * 64 * 192 + 192), ("pool2", (13, 13, 192), 0),
              ("conv3", (13, 13, 384), 3 * 3 * 192 * 384 + 384), ("conv4", (13, 13, 256), 3 * 3 * 384 * 256 + 256),
              ("conv5", (13, 13, 256), 3 * 3 * 256 * 256 + 256)]
NEON_NOLRN = [("conv1_pad", (230, 230, 3), 0)] + _OWT_CONVS + _fc_tail((6, 6, 256))
ONE_WEIRD_TRICK = [("conv1_pad", (228, 228, 3), 0)] + _OWT_CONVS + _fc_tail((6, 6, 256), dropout_before_fc=True)

EXPECTED = {"paper": (224, PAPER), "paper_convnet2": (224, PAPER), "paper_untowered": (224, PAPER_UNTOWERED),
            "bvlc": (227, BVLC), "caffenet": (227, CAFFENET), "neon": (224, NEON), "neon_nolrn": (224, NEON_NOLRN),
            "one_weird_trick": (224, ONE_WEIRD_TRICK)}

# Totals: the paper/Caffe figure and torchvision's, and the sums for neon worked out from the rows above.
TOTALS = {"paper": 60_965_224, "paper_convnet2": 60_965_224, "paper_untowered": 62_378_344, "bvlc": 60_965_224,
          "caffenet": 60_965_224, "neon": 50_844_008, "neon_nolrn": 61_100_840, "one_weird_trick": 61_100_840}


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return {name: alexnet.build(name) for name in alexnet.VARIANTS}


def test_variant_names():
    assert alexnet.VARIANTS == ("paper", "paper_convnet2", "paper_untowered", "bvlc", "caffenet", "neon",
                                "neon_nolrn", "one_weird_trick")


@pytest.mark.parametrize("variant", list(EXPECTED))
def test_every_layer_shape_and_parameter_count(models, variant):
    size, rows = EXPECTED[variant]
    model = models[variant]
    assert tuple(model.input.shape) == (None, size, size, 3) and alexnet.input_shape(variant) == (size, size, 3)
    assert [(n, s, p) for n, _, s, _, p in layer_rows(model)] == rows
    assert sum(p for _, _, p in rows) == TOTALS[variant] == model.count_params()


def test_total_parameter_count_quoted_by_the_sources():
    # Sum of the paper table's rows, done once more by hand: 34,944 + 307,456 + 885,120 + 663,936 + 442,624
    # + 37,752,832 + 16,781,312 + 4,097,000.
    assert 34_944 + 307_456 + 885_120 + 663_936 + 442_624 + 37_752_832 + 16_781_312 + 4_097_000 == 60_965_224
    # without the towers conv2, conv4 and conv5 see every input channel: + 307,200 + 663,552 + 442,368, the ungrouped
    # 96-256-384-384-256 AlexNet's 62,378,344 (TOTALS["paper_untowered"], checked against the model above)


def test_paper_neurons_per_layer(models):
    # Paper section 3.5: 150,528-dimensional input, then 253,440-186,624-64,896-64,896-43,264-4096-4096-1000.
    # conv1 really has 55 * 55 * 96 = 290,400 neurons: the paper's 253,440 is an error (BUILD.md); the rest agree.
    neurons = {name: n for name, _, _, n, _ in layer_rows(models["paper"])}
    assert math.prod(models["paper"].input.shape[1:]) == 150_528
    assert [neurons[n] for n in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")] == [
        290_400, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]
    assert neurons["conv1"] != 253_440


def test_paper_towers_and_lrn_settings(models):
    model = models["paper"]
    for name in ("conv2", "conv4", "conv5"):
        assert isinstance(model.get_layer(name), alexnet.TowerConv2D) and model.get_layer(name).towers == 2
    assert not isinstance(model.get_layer("conv3"), alexnet.TowerConv2D)  # conv3 connects across the towers
    lrn = model.get_layer("lrn1")
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k, lrn.scale_alpha_by_size) == (5, 1e-4, 0.75, 2.0, False)
    for variant in ("bvlc", "caffenet", "neon"):
        lrn = models[variant].get_layer("lrn2")
        assert (lrn.size, lrn.effective_alpha, lrn.k) == (5, pytest.approx(2e-5), 1.0)  # Caffe: alpha/n, k = 1
    for name in ("lrn1", "lrn2"):  # cuda-convnet2's cmrnorm: scale 1e-4 / size 5, minDiv 2, pow 0.75
        lrn = models["paper_convnet2"].get_layer(name)
        assert (lrn.size, lrn.effective_alpha, lrn.k, lrn.beta) == (5, pytest.approx(2e-5), 2.0, 0.75)
        assert models["paper_untowered"].get_layer(name).effective_alpha == 1e-4  # the paper's text
    for variant in ("neon_nolrn", "one_weird_trick"):
        assert not any(isinstance(layer, alexnet.LocalResponseNormalization) for layer in models[variant].layers)
    assert all(m.get_layer("drop6").rate == 0.5 for m in models.values())


# --------------------------------------------------------------------------------------------- initial weights
# Per variant, from the sources (not from alexnet/model.py): the Gaussian std of each layer's weights and its bias.
_PAPER_BIAS = {"conv1": 0, "conv2": 1, "conv3": 0, "conv4": 1, "conv5": 1, "fc6": 1, "fc7": 1, "fc8": 0}
INIT = {
    "paper": ({n: 0.01 for n in _PAPER_BIAS}, _PAPER_BIAS),  # paper §5: N(0, 0.01) everywhere
    "paper_convnet2": ({n: 0.01 for n in _PAPER_BIAS}, _PAPER_BIAS),
    "paper_untowered": ({n: 0.01 for n in _PAPER_BIAS}, _PAPER_BIAS),
    "bvlc": ({**{n: 0.01 for n in _PAPER_BIAS}, "fc6": 0.005, "fc7": 0.005},
             {n: 0.1 if b else 0 for n, b in _PAPER_BIAS.items()}),  # Caffe bias_filler 0.1
    "caffenet": ({**{n: 0.01 for n in _PAPER_BIAS}, "fc6": 0.005, "fc7": 0.005}, _PAPER_BIAS),
    "neon": ({**{n: 0.01 for n in _PAPER_BIAS}, "fc6": 0.005, "fc7": 0.005}, _PAPER_BIAS),
    "neon_nolrn": ({"conv1": 0.01, "conv2": 0.01, "conv3": 0.03, "conv4": 0.03, "conv5": 0.03, "fc6": 0.01,
                    "fc7": 0.01, "fc8": 0.01}, {**_PAPER_BIAS, "fc8": -7}),
}


def _kernels(layer):
    if isinstance(layer, alexnet.TowerConv2D):
        return [(t.kernel.numpy(), t.bias.numpy()) for t in layer.tower_convs]
    return [(layer.kernel.numpy(), layer.bias.numpy())]


@pytest.mark.parametrize("variant", list(INIT))
def test_gaussian_initial_statistics(models, variant):
    stds, biases = INIT[variant]
    for name, std in stds.items():
        for kernel, bias in _kernels(models[variant].get_layer(name)):
            n = kernel.size
            # Sample mean within 5 standard errors of 0, sample std within 5 standard errors of std.
            assert abs(kernel.mean()) < 5 * std / math.sqrt(n), (variant, name)
            assert kernel.std() == pytest.approx(std, rel=5 / math.sqrt(2 * n)), (variant, name)
            assert abs(np.mean(np.abs(kernel)) - std * math.sqrt(2 / math.pi)) < 0.05 * std  # Gaussian, untruncated
            np.testing.assert_array_equal(bias, np.full_like(bias, biases[name]), err_msg=f"{variant} {name}")


def test_torchvision_default_initial_statistics(models):
    # PyTorch's default: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); std of U(-b, b) is b / sqrt(3).
    fan_ins = {"conv1": 11 * 11 * 3, "conv2": 5 * 5 * 64, "conv3": 3 * 3 * 192, "conv4": 3 * 3 * 384,
               "conv5": 3 * 3 * 256, "fc6": 9216, "fc7": 4096, "fc8": 4096}
    for name, fan_in in fan_ins.items():
        [(kernel, bias)] = _kernels(models["one_weird_trick"].get_layer(name))
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound, name
        assert kernel.std() == pytest.approx(bound / math.sqrt(3), rel=5 / math.sqrt(2 * kernel.size)), name
        assert bias.std() > 0.3 * bound, name  # random, not a constant


# ------------------------------------------------------------------------------------------------ behaviour
def _images(variant, batch=2, seed=0):
    return np.random.RandomState(seed).normal(0, 50, (batch,) + alexnet.input_shape(variant)).astype(np.float32)


@pytest.mark.parametrize("variant", alexnet.VARIANTS)
def test_every_trainable_weight_gets_a_nonzero_gradient(models, variant):
    model = models[variant]
    x = _images(variant)
    labels = tf.constant([3, 997])
    with tf.GradientTape() as tape:
        probs = model(x, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(labels, probs)
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == len(model.trainable_variables) > 0
    for var, grad in zip(model.trainable_variables, grads):
        assert grad is not None and np.isfinite(grad.numpy()).all(), var.path
        assert np.abs(grad.numpy()).max() > 0, var.path


def test_dropout_only_in_training(models):
    model = models["paper"]
    x = _images("paper", seed=1)
    np.testing.assert_array_equal(model(x, training=False).numpy(), model(x, training=False).numpy())
    assert not np.allclose(model(x, training=True).numpy(), model(x, training=True).numpy())
    probs = model(x).numpy()
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_config_round_trip_reproduces_outputs(models):
    for variant in ("paper", "one_weird_trick"):
        model = models[variant]
        clone = keras.Model.from_config(model.get_config())
        clone.set_weights(model.get_weights())
        x = _images(variant, seed=2)
        np.testing.assert_array_equal(model(x).numpy(), clone(x).numpy())


def test_keras_file_round_trip_reproduces_outputs(models, tmp_path):
    model = models["paper"]  # towers and LRN, the two custom layers
    path = tmp_path / "alexnet_paper.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects: the layers are registered
    x = _images("paper", seed=3)
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]


def test_mixed_bfloat16_gives_finite_float32_probabilities():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        model = alexnet.build("paper", num_classes=10)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert model.get_layer("conv2").tower_convs[0].compute_dtype == "bfloat16"
    probs = model(_images("paper", seed=4), training=False)
    assert probs.dtype == "float32" and np.isfinite(probs.numpy()).all()
    np.testing.assert_allclose(probs.numpy().sum(-1), 1.0, rtol=1e-3)


def test_num_classes_and_logits():
    model = alexnet.build("bvlc", num_classes=10, classifier_activation=None)
    assert tuple(model.output.shape) == (None, 10) and model.layers[-1].name == "fc8"
    assert model.get_layer("fc8").count_params() == 4096 * 10 + 10


@pytest.mark.parametrize("kwargs,match", [
    (dict(variant="alexnet"), "variant='alexnet' is invalid; valid choices: 'paper', 'paper_convnet2', "
                              "'paper_untowered', 'bvlc', 'caffenet', 'neon', 'neon_nolrn', 'one_weird_trick'"),
    (dict(num_classes=0), "num_classes=0 is invalid; valid values are integers >= 1"),
    (dict(num_classes=10.0), "num_classes=10.0 is invalid"),
    (dict(classifier_activation="sigmoid"), "classifier_activation='sigmoid' is invalid; valid choices: 'softmax', "
                                            "None"),
])
def test_invalid_arguments_name_the_valid_choices(kwargs, match):
    with pytest.raises(ValueError, match=match):
        alexnet.build(**kwargs)
    if "variant" in kwargs:
        with pytest.raises(ValueError, match=match):
            alexnet.input_shape(kwargs["variant"])
