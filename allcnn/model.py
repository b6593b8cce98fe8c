"""All-CNN-C and its siblings (Springenberg, Dosovitskiy, Brox, Riedmiller 2014, "Striving for Simplicity").

Values from the sources in SOURCES.md, cited by key ([allcnn-paper], [neon-cifar10_allcnn.py], ...). Every variant
is two stages of 3x3 convolutions (96 then 192 filters) followed by the same tail ([allcnn-paper] Tables 1 and 2):

    3x3 conv 192 ReLU -> 1x1 conv 192 ReLU -> 1x1 conv num_classes ReLU -> global average -> softmax

with dropout 0.2 on the input and 0.5 "after each pooling layer (or after the layer replacing the pooling layer)"
(the paper's experimental setup). The four models of the paper's Table 1/3 differ only in their stages:

=============== ======================== ====================================================
variant          stage (x2)               downsampling
=============== ======================== ====================================================
model_c          2 convs                  3x3 max pool, stride 2
strided_cnn_c    2 convs                  the stage's last conv has stride 2 (pool removed)
convpool_cnn_c   3 convs                  3x3 max pool, stride 2
all_cnn_c        3 convs                  the pool replaced by a 3x3 conv with stride 2
=============== ======================== ====================================================

Decisions where the sources disagree or are silent (BUILD.md lists them):

* The paper's "global averaging over 6x6" ([allcnn-paper] Table 2) needs the last 3x3 conv *unpadded* (8x8 ->
  6x6); neon pads it and averages 8x8 ([neon-cifar10_allcnn.py]), and [hans321-cs4240] calls the 6x6 "probably an
  error in the paper". ``pad_last_conv=False`` (the default for the paper's variants) follows the paper; the
  parameter count is the same either way.
* Padding: stride-1 3x3 convs pad 1 (size kept). The stride-2 conv pads 1 on every side, as neon (``padding=1,
  strides=2``) and Caffe do; Keras' "same" would pad only the bottom/right. 3x3/2 max pooling uses Caffe's
  ceil-mode size (Keras "same"): 32 -> 16 -> 8.
* Initialisation: the paper gives none ([hans321-cs4240]). The paper's variants default to He-normal ([he-init],
  fan-in, ReLU gain), the initialisation designed for deep ReLU stacks without normalisation (peers report All-CNN
  stalling with small Gaussians: [hans321-cs4240], [stefoe-all-conv-pytorch]). ``init`` overrides it: a float is a
  Gaussian std (0.05 is neon's), a string a Keras initializer name. Measured on Fashion-MNIST, He-normal with zero
  biases did not start at lr 0.05 where neon's 0.05 did; the ``allcnn_c`` recipe passes ``--init=0.05`` (BUILD.md,
  "All-CNN-C's first epochs").
* ``neon`` (the seed reporting 89.5%, [neon-readme-002]; its script [neon-cifar10_allcnn.py]): All-CNN-C with no
  biases (neon ``Conv(bias=None)``, [neon-layers]), Gaussian(0.05) everywhere, the classes padded to the next power
  of two (10 -> 16; the extra outputs never see a label), the last 3x3 conv padded and an 8x8 average.

Dropout is Keras' "inverted" dropout (scaled by 1/keep in training; ``common.layers.Dropout``, which also gives
each replica its own mask); the paper's and neon's scale at test time. The two are equal in expectation.
"""

import dataclasses

from common import spec
from weights import load_into


@dataclasses.dataclass(frozen=True)
class Variant:
    source: str
    convs_per_stage: int
    downsample: str  # "maxpool" or "stride"
    use_bias: bool = True
    init: float | str = "he_normal"
    pad_last_conv: bool = False
    pad_classes: bool = False


VARIANT_TABLE = {
    "model_c": Variant("Springenberg et al. 2014, Table 1 (Model C)", 2, "maxpool"),
    "strided_cnn_c": Variant("Springenberg et al. 2014, Table 2 (Strided-CNN-C)", 2, "stride"),
    "convpool_cnn_c": Variant("Springenberg et al. 2014, Table 2 (ConvPool-CNN-C)", 3, "maxpool"),
    "all_cnn_c": Variant("Springenberg et al. 2014, Table 2 (All-CNN-C)", 3, "stride"),
    "neon": Variant("neon examples/cifar10_allcnn.py (ModelZoo All_CNN readme: 89.5% top-1)", 3, "stride",
                    use_bias=False, init=0.05, pad_last_conv=True, pad_classes=True),
}

VARIANTS = tuple(VARIANT_TABLE)
INPUT_SHAPE = (32, 32, 3)


def input_shape(variant="all_cnn_c"):
    """(height, width, channels) that ``build(variant)`` expects: 32x32x3 for every variant."""
    spec.check_choice("variant", variant, VARIANTS)
    return INPUT_SHAPE


def output_classes(variant, num_classes):
    """The width of the classifier: ``num_classes``, or the next power of two for neon's ``pad_classes``."""
    spec.check_choice("variant", variant, VARIANTS)
    spec.check_num_classes(num_classes)
    if VARIANT_TABLE[variant].pad_classes:
        return 1 << (num_classes - 1).bit_length()
    return num_classes


DROPOUT = (0.2, 0.5)  # the paper: 20% on the input, 50% after each (replaced) pooling layer


def _layers(v, init, pad_last_conv, class_bias=None, dropout=DROPOUT):
    bias = 0.0 if v.use_bias else None

    def conv(name, filters, kernel, stride=1, pad=None, relu=True, bias=bias):
        pad = (kernel - 1) // 2 if pad is None else pad
        return spec.Conv(name, filters, kernel, stride=stride, pad=pad, init=init, bias=bias, relu=relu)

    layers = [spec.Dropout("drop0", dropout[0])]  # 20% on the input images (the paper's experimental setup)
    n = 0
    for stage, width in enumerate((96, 192), start=1):
        for i in range(v.convs_per_stage):
            n += 1
            strided = v.downsample == "stride" and i == v.convs_per_stage - 1
            layers.append(conv(f"conv{n}", width, 3, stride=2 if strided else 1))
        if v.downsample == "maxpool":
            layers.append(spec.Pool(f"pool{stage}", 3, 2, kind="max", padding="same"))
        layers.append(spec.Dropout(f"drop{stage}", dropout[1]))
    layers += [
        conv(f"conv{n + 1}", 192, 3, pad=1 if pad_last_conv else 0),
        conv(f"conv{n + 2}", 192, 1),
        # num_classes; the paper's tables keep the ReLU on this layer too. A class whose ReLU is negative at every
        # position of every image gets no gradient again: ``class_bias`` > 0 starts every class alive.
        conv(f"conv{n + 3}", None, 1, bias=bias if class_bias is None else float(class_bias)),
        spec.GlobalAvgPool("global_pool"),
    ]
    return tuple(layers)


def _check_init(init):
    if isinstance(init, bool) or not isinstance(init, (int, float, str)) or (
            isinstance(init, (int, float)) and init <= 0):
        raise ValueError(f"init={init!r} is invalid; valid values are a Gaussian std > 0 (neon: 0.05) or a Keras "
                         "initializer name such as 'he_normal' or 'glorot_uniform'.")
    if isinstance(init, str):
        try:
            spec.kernel_initializer(init)
        except ValueError as err:
            raise ValueError(f"init={init!r} is not a Keras initializer name ({err}); valid values are a Gaussian "
                             "std > 0 (neon: 0.05) or a name such as 'he_normal' or 'glorot_uniform'.") from None


MIN_IMAGE_SIZE = 12  # two stride-2 stages leave 3x3 for the unpadded last 3x3 conv: ceil(ceil(12 / 2) / 2) = 3


def network(variant="all_cnn_c", num_classes=10, pad_last_conv=None, init=None, class_bias=None, dropout=None,
            image_size=None):
    """(input shape, layer specs, classifier width) of ``build`` with these options (checked here)."""
    spec.check_choice("variant", variant, VARIANTS)
    spec.check_choice("pad_last_conv", pad_last_conv, (None, False, True))
    v = VARIANT_TABLE[variant]
    init = v.init if init is None else init
    _check_init(init)
    pad = v.pad_last_conv if pad_last_conv is None else pad_last_conv
    if class_bias is not None and not v.use_bias:
        raise ValueError(f"class_bias={class_bias!r}: the {variant!r} variant has no biases; leave --class_bias unset.")
    dropout = DROPOUT if dropout is None else tuple(dropout)
    if len(dropout) != 2 or not all(isinstance(r, (int, float)) and 0 <= r < 1 for r in dropout):
        raise ValueError(f"dropout={dropout!r} is invalid; valid values are two rates in [0, 1): the input's and "
                         "the one after each pooling stage (the paper: 0.2, 0.5).")
    size = INPUT_SHAPE[0] if image_size is None else image_size
    if not isinstance(size, int) or isinstance(size, bool) or size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size={image_size!r} is invalid; valid values are integers >= {MIN_IMAGE_SIZE} "
                         "(the paper: 32).")
    return ((size, size, INPUT_SHAPE[2]), _layers(v, init, pad, class_bias, dropout),
            output_classes(variant, num_classes))


def build(variant="all_cnn_c", num_classes=10, pad_last_conv=None, init=None, class_bias=None, dropout=None,
          classifier_activation="softmax", image_size=None, weights=None):
    """A Keras functional All-CNN-family model for 32x32x3 images (the paper's CIFAR-10), or ``image_size`` x
    ``image_size`` ones: the network is convolutional up to its global average, so the same layers and parameters
    take any size of at least MIN_IMAGE_SIZE (at 16: 16 -> 8 -> 4, the last 3x3 conv 2x2, a quarter of the FLOPs).

    ``pad_last_conv``: None keeps the variant's choice (paper: False, 6x6 global average; neon: True, 8x8).
    ``init``: None keeps the variant's choice; a float is a Gaussian std, a string a Keras initializer name.
    ``class_bias``: None keeps the variant's (0, or no bias for neon); a number is the initial bias of the class
    conv (the last, whose ReLU can leave a class dead from the start: see configs/digits.flags).
    ``dropout``: None keeps the paper's (input 0.2, after each pooling stage 0.5); else the two rates.
    ``weights``: the path of a published weights file for this variant (neon's ``cifar10_allcnn_e350.p`` for
    'neon'; see ``weights``), or None for the variant's initialisation.
    """
    shape, layers, classes = network(variant, num_classes, pad_last_conv, init, class_bias, dropout, image_size)
    model = spec.build_model(f"allcnn_{variant}", shape, layers, classes, classifier_activation)
    if weights is not None:
        load_into(model, weights)
    return model
