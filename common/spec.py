"""Architectures as data: a network is a tuple of small layer specs, built into a Keras functional model by one loop.

The model code in ``alexnet/`` and ``allcnn/`` only writes tables of these specs; how a spec becomes Keras layers
(padding, towers, initializers) is decided here, once.

Initializers, as written in a spec:
* ``init``: a float ``s`` is the papers' Gaussian N(0, s^2) (not truncated); ``"torch"`` is PyTorch's default for
  ``nn.Conv2d``/``nn.Linear`` (kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))), as torchvision's
  AlexNet is initialised; any other string is a Keras initializer name such as ``"he_normal"``.
* ``bias``: a float is a constant; ``"torch"`` is PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)); ``None``
  means the layer has no bias at all (neon's ``Conv(..., bias=None)``).
"""

import dataclasses
import math

import keras

from common.layers import Dense as DenseLayer
from common.layers import Dropout as DropoutLayer
from common.layers import LocalResponseNormalization, TowerConv2D

Pad = int | tuple[tuple[int, int], tuple[int, int]]


@dataclasses.dataclass(frozen=True)
class Conv:
    """Convolution + optional ReLU. ``filters=None`` means ``num_classes``. ``pad`` is symmetric zero padding
    (an int) or ((top, bottom), (left, right)); ``towers`` > 1 splits it into independent towers."""
    name: str
    filters: int | None
    kernel: int
    stride: int = 1
    pad: Pad = 0
    towers: int = 1
    init: float | str = "he_normal"
    bias: float | str | None = 0.0
    relu: bool = True


@dataclasses.dataclass(frozen=True)
class Dense:
    """Fully connected layer + optional ReLU. ``units=None`` means ``num_classes``."""
    name: str
    units: int | None
    init: float | str
    bias: float | str | None = 0.0
    relu: bool = True


@dataclasses.dataclass(frozen=True)
class Pool:
    """Max or average pooling. ``padding="same"`` reproduces Caffe's ceil-mode output size for odd windows."""
    name: str
    size: int = 3
    stride: int = 2
    kind: str = "max"
    padding: str = "valid"


@dataclasses.dataclass(frozen=True)
class LRN:
    """Local response normalization (``common.layers.LocalResponseNormalization``)."""
    name: str
    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0
    scale_alpha_by_size: bool = False


@dataclasses.dataclass(frozen=True)
class Dropout:
    name: str
    rate: float


@dataclasses.dataclass(frozen=True)
class Flatten:
    name: str = "flatten"


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
    name: str = "global_pool"


LayerSpec = Conv | Dense | Pool | LRN | Dropout | Flatten | GlobalAvgPool


def kernel_initializer(init):
    """A fresh Keras initializer for a spec's ``init`` (see the module docstring)."""
    if isinstance(init, (int, float)) and not isinstance(init, bool):
        return keras.initializers.RandomNormal(mean=0.0, stddev=float(init))
    if init == "torch":
        # kaiming_uniform(a=sqrt(5)): gain^2 = 2 / (1 + 5) = 1/3, bound = sqrt(3 * (1/3) / fan_in) = 1/sqrt(fan_in).
        return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in", distribution="uniform")
    return keras.initializers.get(init)


def bias_initializer(bias, fan_in):
    """A fresh Keras initializer for a spec's ``bias`` (``None`` is handled by the caller: no bias)."""
    if bias == "torch":
        bound = 1.0 / math.sqrt(fan_in)
        return keras.initializers.RandomUniform(-bound, bound)
    return keras.initializers.Constant(float(bias))


def _explicit_padding(pad):
    if isinstance(pad, int):
        return ((pad, pad), (pad, pad))
    return tuple(tuple(p) for p in pad)


def _conv(spec, x, num_classes):
    filters = spec.filters or num_classes
    (top, bottom), (left, right) = _explicit_padding(spec.pad)
    half = (spec.kernel - 1) // 2
    if top == bottom == left == right == 0:
        padding = "valid"
    elif spec.stride == 1 and spec.kernel % 2 == 1 and top == bottom == left == right == half:
        padding = "same"  # identical to symmetric zero padding of (kernel - 1) / 2 at stride 1
    else:
        # Keras "same" pads asymmetrically (more at the bottom/right) when strided; Caffe and neon pad symmetrically.
        x = keras.layers.ZeroPadding2D(((top, bottom), (left, right)), name=f"{spec.name}_pad")(x)
        padding = "valid"
    fan_in = spec.kernel * spec.kernel * x.shape[-1] // spec.towers
    kwargs = dict(
        strides=spec.stride, padding=padding, activation="relu" if spec.relu else None,
        use_bias=spec.bias is not None, kernel_initializer=kernel_initializer(spec.init),
        bias_initializer=bias_initializer(spec.bias if spec.bias is not None else 0.0, fan_in), name=spec.name)
    if spec.towers > 1:
        return TowerConv2D(filters, spec.kernel, towers=spec.towers, **kwargs)(x)
    return keras.layers.Conv2D(filters, spec.kernel, **kwargs)(x)


def _apply(spec, x, num_classes):
    if isinstance(spec, Conv):
        return _conv(spec, x, num_classes)
    if isinstance(spec, Dense):
        return DenseLayer(
            spec.units or num_classes, activation="relu" if spec.relu else None, use_bias=spec.bias is not None,
            kernel_initializer=kernel_initializer(spec.init),
            bias_initializer=bias_initializer(spec.bias if spec.bias is not None else 0.0, x.shape[-1]),
            name=spec.name)(x)
    if isinstance(spec, Pool):
        pool = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[spec.kind]
        return pool(spec.size, spec.stride, padding=spec.padding, name=spec.name)(x)
    if isinstance(spec, LRN):
        return LocalResponseNormalization(spec.size, spec.alpha, spec.beta, spec.k, spec.scale_alpha_by_size,
                                          name=spec.name)(x)
    if isinstance(spec, Dropout):
        return DropoutLayer(spec.rate, name=spec.name)(x)
    if isinstance(spec, Flatten):
        return keras.layers.Flatten(name=spec.name)(x)
    if isinstance(spec, GlobalAvgPool):
        return keras.layers.GlobalAveragePooling2D(name=spec.name)(x)
    raise TypeError(f"unknown layer spec {spec!r}")


CLASSIFIER_ACTIVATIONS = ("softmax", None)


def check_choice(what, value, choices):
    """Raise a ValueError naming the valid choices when ``value`` is not one of them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{what}={value!r} is invalid; valid choices: {listed}.")


def check_num_classes(num_classes):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} is invalid; valid values are integers >= 1 "
                         "(1000 for ImageNet, 10 for CIFAR-10).")


def footprint(input_shape, layers, num_classes):
    """(parameters, activation values per image) of ``layers`` on ``input_shape``, counted from the specs alone:
    every weight and bias, and every value a layer outputs but dropout and the input (what a replica updates and
    all-reduces, against what it computes per image). No TensorFlow: train.py picks its replicas from these before
    TensorFlow's runtime starts (training/distribute.py). Equal to the built models' counts (common/spec_test.py)."""
    height, width, channels = input_shape
    parameters = activations = 0
    for layer in layers:
        if isinstance(layer, Conv):
            filters = layer.filters or num_classes
            (top, bottom), (left, right) = _explicit_padding(layer.pad)
            height = (height + top + bottom - layer.kernel) // layer.stride + 1
            width = (width + left + right - layer.kernel) // layer.stride + 1
            parameters += layer.kernel ** 2 * channels // layer.towers * filters
            parameters += filters if layer.bias is not None else 0
            channels = filters
        elif isinstance(layer, Pool):
            if layer.padding == "same":
                height, width = -(-height // layer.stride), -(-width // layer.stride)
            else:
                height, width = (height - layer.size) // layer.stride + 1, (width - layer.size) // layer.stride + 1
        elif isinstance(layer, Dense):
            units = layer.units or num_classes
            parameters += channels * units + (units if layer.bias is not None else 0)
            channels = units
        elif isinstance(layer, Flatten):
            channels, height, width = channels * height * width, 1, 1
            continue  # a view of the values before it
        elif isinstance(layer, GlobalAvgPool):
            height = width = 1
        if not isinstance(layer, Dropout):
            activations += height * width * channels
    return parameters, activations


def build_model(name, input_shape, layers, num_classes, classifier_activation="softmax"):
    """Build ``layers`` (a tuple of specs) on a ``keras.Input(input_shape)``.

    ``classifier_activation="softmax"`` appends a float32 softmax named ``predictions`` (as keras.applications
    does); ``None`` returns the logits, for losses computed ``from_logits``.
    """
    check_num_classes(num_classes)
    check_choice("classifier_activation", classifier_activation, CLASSIFIER_ACTIVATIONS)
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    for spec in layers:
        x = _apply(spec, x, num_classes)
    if classifier_activation is not None:
        # float32 under mixed precision: the softmax and the loss need the range (keras mixed-precision guide).
        x = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=name)
