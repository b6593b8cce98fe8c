"""All-CNN family: layer shapes, parameter counts and initial statistics worked out by hand from the paper."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import allcnn
from common.summary import layer_rows


def conv(c_in, c_out, k=3, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


# The shared tail on an 8x8x192 map: 3x3 conv unpadded (paper, 8 -> 6) -> 1x1 192 -> 1x1 classes -> average.
TAIL_6x6 = [("conv_a", (6, 6, 192), conv(192, 192)), ("conv_b", (6, 6, 192), conv(192, 192, 1)),
            ("conv_c", (6, 6, 10), conv(192, 10, 1)), ("global_pool", (10,), 0), ("predictions", (10,), 0)]


def _named(tail, first):
    """Number the tail's convs from ``first``."""
    names = {"conv_a": f"conv{first}", "conv_b": f"conv{first + 1}", "conv_c": f"conv{first + 2}"}
    return [(names.get(n, n), s, p) for n, s, p in tail]


# Paper Table 1 (Model C) and Table 2 (its three derivatives). Stride-2 convs are padded 1 on every side
# (34 -> 16, 18 -> 8); 3x3/2 max pooling in Caffe's ceil mode: 32 -> 16 -> 8.
EXPECTED = {
    "model_c": [("drop0", (32, 32, 3), 0),
                ("conv1", (32, 32, 96), conv(3, 96)), ("conv2", (32, 32, 96), conv(96, 96)),
                ("pool1", (16, 16, 96), 0), ("drop1", (16, 16, 96), 0),
                ("conv3", (16, 16, 192), conv(96, 192)), ("conv4", (16, 16, 192), conv(192, 192)),
                ("pool2", (8, 8, 192), 0), ("drop2", (8, 8, 192), 0)] + _named(TAIL_6x6, 5),
    "strided_cnn_c": [("drop0", (32, 32, 3), 0),
                      ("conv1", (32, 32, 96), conv(3, 96)), ("conv2_pad", (34, 34, 96), 0),
                      ("conv2", (16, 16, 96), conv(96, 96)), ("drop1", (16, 16, 96), 0),
                      ("conv3", (16, 16, 192), conv(96, 192)), ("conv4_pad", (18, 18, 192), 0),
                      ("conv4", (8, 8, 192), conv(192, 192)), ("drop2", (8, 8, 192), 0)] + _named(TAIL_6x6, 5),
    "convpool_cnn_c": [("drop0", (32, 32, 3), 0),
                       ("conv1", (32, 32, 96), conv(3, 96)), ("conv2", (32, 32, 96), conv(96, 96)),
                       ("conv3", (32, 32, 96), conv(96, 96)), ("pool1", (16, 16, 96), 0),
                       ("drop1", (16, 16, 96), 0),
                       ("conv4", (16, 16, 192), conv(96, 192)), ("conv5", (16, 16, 192), conv(192, 192)),
                       ("conv6", (16, 16, 192), conv(192, 192)), ("pool2", (8, 8, 192), 0),
                       ("drop2", (8, 8, 192), 0)] + _named(TAIL_6x6, 7),
    "all_cnn_c": [("drop0", (32, 32, 3), 0),
                  ("conv1", (32, 32, 96), conv(3, 96)), ("conv2", (32, 32, 96), conv(96, 96)),
                  ("conv3_pad", (34, 34, 96), 0), ("conv3", (16, 16, 96), conv(96, 96)),
                  ("drop1", (16, 16, 96), 0),
                  ("conv4", (16, 16, 192), conv(96, 192)), ("conv5", (16, 16, 192), conv(192, 192)),
                  ("conv6_pad", (18, 18, 192), 0), ("conv6", (8, 8, 192), conv(192, 192)),
                  ("drop2", (8, 8, 192), 0)] + _named(TAIL_6x6, 7),
}
# neon examples/cifar10_allcnn.py ([neon-cifar10_allcnn.py]): All-CNN-C without biases, last 3x3 padded (8x8 average),
# 16 padded classes.
EXPECTED["neon"] = [(n, s, p) for n, s, p in EXPECTED["all_cnn_c"][:-5]] + [
    ("conv7", (8, 8, 192), conv(192, 192, bias=False)), ("conv8", (8, 8, 192), conv(192, 192, 1, bias=False)),
    ("conv9", (8, 8, 16), conv(192, 16, 1, bias=False)), ("global_pool", (16,), 0), ("predictions", (16,), 0)]
_NO_BIAS = {"conv1": conv(3, 96, bias=False), "conv2": conv(96, 96, bias=False), "conv3": conv(96, 96, bias=False),
            "conv4": conv(96, 192, bias=False), "conv5": conv(192, 192, bias=False),
            "conv6": conv(192, 192, bias=False)}
EXPECTED["neon"] = [(n, s, _NO_BIAS.get(n, p)) for n, s, p in EXPECTED["neon"]]

# All-CNN-C: 1,369,738, recomputed by hand here ([allcnn-paper] Table 3 prints ~1.4M). Model C and Strided-CNN-C
# have the same 954,730 (not the "~1.3M" Table 3 prints for them). neon: All-CNN-C less its 1,258 biases
# (3 * 96 + 3 * 192 + 192 + 192 + 10) is 1,368,480, and conv9's 192 * (16 - 10) = 1,152 extra weights give 1,369,632.
TOTALS = {"model_c": 954_730, "strided_cnn_c": 954_730, "convpool_cnn_c": 1_369_738, "all_cnn_c": 1_369_738,
          "neon": 1_369_632}


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return {name: allcnn.build(name) for name in allcnn.VARIANTS}


def test_variant_names():
    assert allcnn.VARIANTS == ("model_c", "strided_cnn_c", "convpool_cnn_c", "all_cnn_c", "neon")


@pytest.mark.parametrize("variant", list(EXPECTED))
def test_every_layer_shape_and_parameter_count(models, variant):
    model = models[variant]
    assert tuple(model.input.shape) == (None, 32, 32, 3)
    assert [(n, s, p) for n, _, s, _, p in layer_rows(model)] == EXPECTED[variant]
    assert sum(p for _, _, p in EXPECTED[variant]) == TOTALS[variant] == model.count_params()


def test_all_cnn_c_parameters_by_hand():
    # 2,688 + 83,040 + 83,040 + 166,080 + 331,968 * 3 + 37,056 + 1,930
    assert 2_688 + 83_040 * 2 + 166_080 + 331_968 * 3 + 37_056 + 1_930 == 1_369_738


def test_16_pixel_input_keeps_every_parameter_and_quarters_every_activation():
    model = allcnn.build("all_cnn_c", image_size=16)
    assert tuple(model.input.shape) == (None, 16, 16, 3) and model.count_params() == 1_369_738
    # 16 -> 8 (conv3, stride 2) -> 4 (conv6) -> 2 (conv7, 3x3 unpadded) -> 2 -> 2 -> global average
    shapes = {name: tuple(model.get_layer(name).output.shape)[1:] for name in ("conv2", "conv3", "conv6", "conv7",
                                                                              "conv9", "global_pool")}
    assert shapes == {"conv2": (16, 16, 96), "conv3": (8, 8, 96), "conv6": (4, 4, 192), "conv7": (2, 2, 192),
                      "conv9": (2, 2, 10), "global_pool": (10,)}
    for bad in (8, 11, 16.0, True):
        with pytest.raises(ValueError, match=r"image_size=.* is invalid; valid values are integers >= 12"):
            allcnn.build("all_cnn_c", image_size=bad)


def test_pad_last_conv_gives_8x8_average_with_the_same_parameters():
    model = allcnn.build("all_cnn_c", pad_last_conv=True)
    assert tuple(model.get_layer("conv9").output.shape) == (None, 8, 8, 10)
    assert model.count_params() == 1_369_738
    paper_style_neon = allcnn.build("neon", pad_last_conv=False)
    assert tuple(paper_style_neon.get_layer("conv9").output.shape) == (None, 6, 6, 16)


def test_dropout_rates_and_relu_everywhere(models):
    model = models["all_cnn_c"]
    assert [model.get_layer(n).rate for n in ("drop0", "drop1", "drop2")] == [0.2, 0.5, 0.5]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 9 and all(layer.activation is keras.activations.relu for layer in convs)
    lighter = allcnn.build("all_cnn_c", dropout=(0.1, 0.25))
    assert [lighter.get_layer(n).rate for n in ("drop0", "drop1", "drop2")] == [0.1, 0.25, 0.25]
    for bad in ((0.5,), (0.2, 1.0), (-0.1, 0.5)):
        with pytest.raises(ValueError, match="dropout=.* is invalid; valid values are two rates in \\[0, 1\\)"):
            allcnn.build("all_cnn_c", dropout=bad)


def test_neon_pads_classes_to_a_power_of_two():
    assert [allcnn.output_classes("neon", n) for n in (10, 16, 17, 100)] == [16, 16, 32, 128]
    assert allcnn.output_classes("all_cnn_c", 10) == 10
    assert tuple(allcnn.build("neon", num_classes=100).output.shape) == (None, 128)


def test_initial_statistics(models):
    # Paper variants: He-normal, std sqrt(2 / fan_in), biases 0. neon: N(0, 0.05), no biases at all.
    for variant, expected_std in (("all_cnn_c", None), ("neon", 0.05)):
        for layer in models[variant].layers:
            if not isinstance(layer, keras.layers.Conv2D):
                continue
            kernel = layer.kernel.numpy()
            fan_in = math.prod(kernel.shape[:-1])
            std = expected_std or math.sqrt(2 / fan_in)
            assert abs(kernel.mean()) < 5 * std / math.sqrt(kernel.size), (variant, layer.name)
            assert kernel.std() == pytest.approx(std, rel=5 / math.sqrt(2 * kernel.size)), (variant, layer.name)
            if variant == "neon":
                assert layer.bias is None
            else:
                np.testing.assert_array_equal(layer.bias.numpy(), 0.0)


def test_init_override():
    model = allcnn.build("all_cnn_c", init=0.05)
    kernel = model.get_layer("conv5").kernel.numpy()
    assert kernel.std() == pytest.approx(0.05, rel=0.02)


@pytest.mark.parametrize("variant", allcnn.VARIANTS)
def test_every_trainable_weight_gets_a_nonzero_gradient(models, variant):
    model = models[variant]
    x = np.random.RandomState(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(tf.constant([0, 3, 7, 9]), model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    for var, grad in zip(model.trainable_variables, grads):
        assert grad is not None and np.abs(grad.numpy()).max() > 0, var.path


def test_config_and_keras_file_round_trip(models, tmp_path):
    model = models["all_cnn_c"]
    x = np.random.RandomState(1).normal(size=(2, 32, 32, 3)).astype(np.float32)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(model(x).numpy(), clone(x).numpy())
    model.save(tmp_path / "allcnn.keras")
    loaded = keras.models.load_model(tmp_path / "allcnn.keras")
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())


@pytest.mark.parametrize("kwargs,match", [
    (dict(variant="all_cnn"), "variant='all_cnn' is invalid; valid choices: 'model_c', 'strided_cnn_c', "
                              "'convpool_cnn_c', 'all_cnn_c', 'neon'"),
    (dict(num_classes=-1), "num_classes=-1 is invalid; valid values are integers >= 1"),
    (dict(pad_last_conv="yes"), "pad_last_conv='yes' is invalid; valid choices: None, False, True"),
    (dict(init=-0.1), "init=-0.1 is invalid; valid values are a Gaussian std > 0"),
    (dict(init="kaiming"), "init='kaiming' is not a Keras initializer name"),
])
def test_invalid_arguments_name_the_valid_choices(kwargs, match):
    with pytest.raises(ValueError, match=match):
        allcnn.build(**kwargs)


def test_class_bias_sets_the_class_conv_bias_only():
    model = allcnn.build("all_cnn_c", class_bias=1.0)
    np.testing.assert_array_equal(model.get_layer("conv9").bias.numpy(), np.ones(10, np.float32))
    np.testing.assert_array_equal(model.get_layer("conv8").bias.numpy(), np.zeros(192, np.float32))
    with pytest.raises(ValueError, match="no biases"):
        allcnn.build("neon", class_bias=1.0)
