"""AlexNet and the variants that Caffe, neon and later reproductions trained.

Every number below comes from a source listed in SOURCES.md, cited by its key (e.g. [alexnet-paper]), or from the
file named beside it. A variant is a row of ``Variant`` fields, turned into layer specs by ``_layers`` and built by
``common.spec.build_model``; the model knows nothing of data or training.

How the paper's 224x224 input gives a 55x55 conv1 (the "224 vs 227" question): (224 - 11) / 4 + 1 = 54.25, so a plain
valid convolution cannot produce the 55 of [alexnet-paper] §3.5. The paper's code, cuda-convnet, sizes a convolution
output as 1 + ceil((2 * padding + imgSize - filterSize) / stride) = 1 + ceil(213 / 4) = 55 ([cuda-convnet2-layer.py]
line 1097) and treats the pixels the last row and column of filters reach past the image as zeros: zero padding of 3 on
the bottom and right. That is exactly ``224 + 3`` with a valid convolution, which is what Caffe (crop 227,
[caffe-bvlc_alexnet]), tf_cnn_benchmarks ("224 + 3", VALID; [tf_cnn_benchmarks-alexnet]) and TensorFlow's AlexNet
benchmark ("we add 3 to the image_size"; [tf-alexnet_benchmark]) do. The ``paper`` variant therefore takes 224x224
images and pads them by (0, 3) before conv1, so the network sees the same pixels as a 227 crop whose last 3 rows and
columns are zero. The Caffe variants take 227x227.
"""

import dataclasses

from common import spec
from weights import load_into

# LRN parametrisations ([alexnet-paper] §3.3, [caffe-lrn], [neon-lrn], [tf-lrn]). Caffe and neon divide alpha by the
# window size and default k to 1.
PAPER_LRN = dict(size=5, alpha=1e-4, beta=0.75, k=2.0, scale_alpha_by_size=False)  # paper §3.3
CAFFE_LRN = dict(size=5, alpha=1e-4, beta=0.75, k=1.0, scale_alpha_by_size=True)  # lrn_layer.cpp, caffe.proto k=1
# the authors' cuda-convnet2: cmrnorm size 5, scale 0.0001 divided by the size, pow 0.75, minDiv 2
# ([cuda-convnet2-layer.py], [cuda-convnet2-imagenet-cfg])
CONVNET2_LRN = dict(size=5, alpha=1e-4, beta=0.75, k=2.0, scale_alpha_by_size=True)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One AlexNet-family network. Tuples run over conv1..conv5 or fc6..fc8."""
    source: str
    input_size: int
    widths: tuple[int, int, int, int, int]
    towers: tuple[int, int, int, int, int]
    conv1_pad: spec.Pad
    lrn: dict | None  # None: no LRN layers
    pool_before_lrn: bool  # CaffeNet/neon order conv-relu-pool-norm; paper/bvlc conv-relu-norm-pool
    conv_init: tuple
    conv_bias: tuple
    fc_init: tuple
    fc_bias: tuple
    dropout_before_fc: bool = False  # torchvision applies dropout to the inputs of fc6 and fc7, not their outputs


# [alexnet-paper]: two towers on conv2/4/5 (§3.2), LRN k=2 n=5 alpha=1e-4 beta=.75 after ReLU of conv1 and conv2,
# then overlapping pooling 3/2 (§3.3-3.4); w ~ N(0, 0.01), bias 1 on conv2, conv4, conv5 and the hidden FC layers, 0
# elsewhere (§5). 60,965,224 parameters.
PAPER = Variant(
    source="Krizhevsky et al. 2012 (NIPS), sections 3 and 5",
    input_size=224, widths=(96, 256, 384, 384, 256), towers=(1, 2, 1, 2, 2), conv1_pad=((0, 3), (0, 3)),
    lrn=PAPER_LRN, pool_before_lrn=False,
    conv_init=(0.01,) * 5, conv_bias=(0.0, 1.0, 0.0, 1.0, 1.0),
    fc_init=(0.01, 0.01, 0.01), fc_bias=(1.0, 1.0, 0.0))

VARIANT_TABLE = {
    "paper": PAPER,
    # The paper's network with the LRN of the authors' code, cuda-convnet2 ([cuda-convnet2-imagenet-cfg]): alpha
    # divided by the window size (k = 2 as the paper), where the paper's text gives alpha undivided. The paper's
    # text is the default (``paper``): the cfg file is the 2014 code's, not a record of the 2012 runs. 60,965,224.
    "paper_convnet2": dataclasses.replace(
        PAPER, source="Krizhevsky et al. 2012 with cuda-convnet2's cmrnorm (alpha / size, k 2)", lrn=CONVNET2_LRN),
    # The paper's network without the towers: every grouped convolution a full one (conv2 5x5x96, conv4 3x3x384,
    # conv5 3x3x384), everything else the paper's. The TensorFlow AlexNet seed trained this ([tf-readme-004]: "I didn't
    # separate the layers"); its README's slips (fc 4098, depth_radius 5, conv5 384 wide, pooling listed under conv2
    # and conv3) are documented in BUILD.md, not reproduced. 62,378,344 parameters.
    "paper_untowered": dataclasses.replace(
        PAPER, source="Krizhevsky et al. 2012 without the two towers (the TensorFlow AlexNet README, tf-readme-004)",
        towers=(1, 1, 1, 1, 1)),
    # Caffe models/bvlc_alexnet/train_val.prototxt ([caffe-bvlc_alexnet]): paper order norm->pool, Caffe LRN (alpha/n,
    # k=1; [caffe-lrn]), group 2 on conv2/4/5, gaussian std .01 (.005 on fc6/fc7), bias 0.1 ("initialization to 1 gave
    # flat loss"), crop 227.
    "bvlc": Variant(
        source="Caffe models/bvlc_alexnet (train_val.prototxt, readme)",
        input_size=227, widths=(96, 256, 384, 384, 256), towers=(1, 2, 1, 2, 2), conv1_pad=0,
        lrn=CAFFE_LRN, pool_before_lrn=False,
        conv_init=(0.01,) * 5, conv_bias=(0.0, 0.1, 0.0, 0.1, 0.1),
        fc_init=(0.005, 0.005, 0.01), fc_bias=(0.1, 0.1, 0.0)),
    # Caffe models/bvlc_reference_caffenet ([caffe-bvlc_reference_caffenet]): as bvlc_alexnet but pool->norm and bias 1.
    "caffenet": Variant(
        source="Caffe models/bvlc_reference_caffenet (train_val.prototxt)",
        input_size=227, widths=(96, 256, 384, 384, 256), towers=(1, 2, 1, 2, 2), conv1_pad=0,
        lrn=CAFFE_LRN, pool_before_lrn=True,
        conv_init=(0.01,) * 5, conv_bias=(0.0, 1.0, 0.0, 1.0, 1.0),
        fc_init=(0.005, 0.005, 0.01), fc_bias=(1.0, 1.0, 0.0)),
    # neon ModelZoo ImageClassification/ILSVRC2012/Alexnet/alexnet_neon.py ([modelzoo-alexnet_neon.py@222d2df]), the
    # seed reporting 58.6% / 81.1% with neon v1.4.0 ([neon-readme-001]): CaffeNet-like with no weight grouping, pool
    # before LRN(5, ascale 1e-4, bpower .75) whose neon semantics equal Caffe's ([neon-lrn], nervanacpu.py:
    # 1 + ascale/5 * sum), conv1 pad 0 at 224 with neon's floor arithmetic: 224 -> 54 -> pool 26 -> pool 12 -> pool5
    # 5x5x256 = 6400 inputs to fc6 (not Caffe's 9216). Gaussian(.01) convs and fc8, Gaussian(.005) fc6/fc7, bias 1 on
    # conv2/4/5 and fc6/7. 50,844,008 parameters.
    "neon": Variant(
        source="neon ModelZoo Alexnet/alexnet_neon.py (v1.4.0 readme: 58.6% top-1)",
        input_size=224, widths=(96, 256, 384, 384, 256), towers=(1, 1, 1, 1, 1), conv1_pad=0,
        lrn=CAFFE_LRN, pool_before_lrn=True,
        conv_init=(0.01,) * 5, conv_bias=(0.0, 1.0, 0.0, 1.0, 1.0),
        fc_init=(0.005, 0.005, 0.01), fc_bias=(1.0, 1.0, 0.0)),
    # The seed reporting 56.0% / 79.3% "without any Local Response Normalization layers", tested at neon SHA
    # e7ab2c2e2 ([neon-readme-000]). Its script, [modelzoo-alexnet_neon.py@05498cf], is neon's examples/alexnet.py
    # at e7ab2c2e2 (the ImageLoader era: the ImgMaster loader was already gone, and examples/imagenet/alexnet.py came
    # only in 2016-08) plus --test_only. The network, with the widths of [one-weird-trick]: conv1 64@11x11/4 pad 3,
    # pool 3/2, conv2 192@5x5 pad 2, pool, conv3 384, conv4 256, conv5 256 (3x3 pad 1), pool, fc 4096-4096-1000 with
    # Dropout(keep .5) after fc6 and fc7; Gaussian(.01) on conv1, conv2 and the FC layers, Gaussian(.03) on conv3-5;
    # biases 0, 1, 0, 1, 1, fc 1, 1 and -7 on fc8. Later ModelZoo revisions replaced it with the CaffeNet-like LRN
    # network ([modelzoo-alexnet_neon.py@222d2df], the "neon" variant). With 224 input and pad 3:
    # 224 -> 55 -> 27 -> 13 -> pool5 6x6x256. 61,100,840 parameters.
    "neon_nolrn": Variant(
        source="neon ModelZoo Alexnet/alexnet_neon.py @05498cf = examples/alexnet.py @e7ab2c2e2 (readme: 56.0% top-1)",
        input_size=224, widths=(64, 192, 384, 256, 256), towers=(1, 1, 1, 1, 1), conv1_pad=3,
        lrn=None, pool_before_lrn=True,
        conv_init=(0.01, 0.01, 0.03, 0.03, 0.03), conv_bias=(0.0, 1.0, 0.0, 1.0, 1.0),
        fc_init=(0.01, 0.01, 0.01), fc_bias=(1.0, 1.0, -7.0)),
    # "One weird trick" widths ([one-weird-trick]) as torchvision.models.alexnet ([torchvision-alexnet]) and
    # [convnet-benchmarks] train them: conv1 64@11x11/4 pad 2, no LRN, no towers, Dropout before fc6 and fc7, PyTorch
    # default init. torchvision's AdaptiveAvgPool2d((6, 6)) is the identity at 224 input (pool5 is already 6x6) and is
    # omitted. 61,100,840 parameters; torchvision reports 56.522 / 79.066.
    "one_weird_trick": Variant(
        source="torchvision.models.alexnet / convnet-benchmarks (Krizhevsky 2014 widths)",
        input_size=224, widths=(64, 192, 384, 256, 256), towers=(1, 1, 1, 1, 1), conv1_pad=2,
        lrn=None, pool_before_lrn=True,
        conv_init=("torch",) * 5, conv_bias=("torch",) * 5,
        fc_init=("torch",) * 3, fc_bias=("torch",) * 3, dropout_before_fc=True),
}

VARIANTS = tuple(VARIANT_TABLE)


def _layers(v):
    """The layer specs of variant ``v``: conv1..conv5 with LRN/pooling, then fc6..fc8 with dropout 0.5."""
    def norm_and_pool(i):
        pool = [spec.Pool(f"pool{i}", 3, 2)]  # overlapping pooling z=3, s=2 (paper §3.4)
        lrn = [spec.LRN(f"lrn{i}", **v.lrn)] if v.lrn else []
        return pool + lrn if v.pool_before_lrn else lrn + pool

    kernels, pads = (11, 5, 3, 3, 3), (v.conv1_pad, 2, 1, 1, 1)
    layers = []
    for i in range(5):
        layers.append(spec.Conv(f"conv{i + 1}", v.widths[i], kernels[i], stride=4 if i == 0 else 1, pad=pads[i],
                             towers=v.towers[i], init=v.conv_init[i], bias=v.conv_bias[i]))
        if i in (0, 1):
            layers += norm_and_pool(i + 1)
    layers += [spec.Pool("pool5", 3, 2), spec.Flatten()]
    for j, units in enumerate((4096, 4096, None)):
        fc = spec.Dense(f"fc{6 + j}", units, v.fc_init[j], v.fc_bias[j], relu=units is not None)
        drop = spec.Dropout(f"drop{5 + j}" if v.dropout_before_fc else f"drop{6 + j}", 0.5)  # paper §4.2: p = 0.5
        if j < 2:
            layers += [drop, fc] if v.dropout_before_fc else [fc, drop]
        else:
            layers.append(fc)
    return tuple(layers)


def network(variant="paper", num_classes=1000):
    """(input shape, layer specs, classifier width) of ``build(variant, num_classes)``."""
    spec.check_choice("variant", variant, VARIANTS)
    return input_shape(variant), _layers(VARIANT_TABLE[variant]), num_classes


def input_shape(variant="paper"):
    """(height, width, channels) that ``build(variant)`` expects."""
    spec.check_choice("variant", variant, VARIANTS)
    size = VARIANT_TABLE[variant].input_size
    return (size, size, 3)


def build(variant="paper", num_classes=1000, classifier_activation="softmax", weights=None):
    """A Keras functional AlexNet of the given ``variant`` (one of ``VARIANTS``).

    Layer names follow the paper: conv1..conv5, lrn1, lrn2, pool1, pool2, pool5, fc6..fc8; the two-tower layers
    are ``common.layers.TowerConv2D`` with sub-layers ``tower_0`` and ``tower_1``. ``weights``: the path of a
    published weights file for this variant (``bvlc_alexnet.caffemodel`` for 'bvlc', torchvision's
    ``alexnet-owt-7be5be79.pth`` for 'one_weird_trick', neon's ``alexnet.p`` for 'neon' or 'neon_nolrn'; see
    ``weights``), or None for the variant's initialisation.
    """
    model = spec.build_model(f"alexnet_{variant}", *network(variant, num_classes), classifier_activation)
    if weights is not None:
        load_into(model, weights)
    return model
