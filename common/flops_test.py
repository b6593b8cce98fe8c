"""FLOP counts (common/flops.py) against figures worked out by hand from the papers' layer sizes."""

import pytest

import models
from common import flops


def conv_flops(out_size, kernel, in_channels, out_channels, groups=1):
    return 2 * out_size * out_size * out_channels * kernel * kernel * in_channels // groups


# AlexNet `paper` by hand ([alexnet-paper] figure 2 and §3.5): conv1 96@11x11x3 -> 55x55,
# conv2 256@5x5x48 -> 27x27 (two towers), conv3 384@3x3x256 -> 13x13, conv4 384@3x3x192 and conv5 256@3x3x192
# (two towers) -> 13x13, fc 9216-4096-4096-1000.
ALEXNET_LAYERS = [conv_flops(55, 11, 3, 96), conv_flops(27, 5, 96, 256, 2), conv_flops(13, 3, 256, 384),
                  conv_flops(13, 3, 384, 384, 2), conv_flops(13, 3, 384, 256, 2),
                  2 * 9216 * 4096, 2 * 4096 * 4096, 2 * 4096 * 1000]
# All-CNN-C by hand ([allcnn-paper] Table 2): 3x3 convs 96, 96, 96/2 at 32 -> 32, 32, 16; 192, 192,
# 192/2 -> 16, 16, 8; 3x3 192 unpadded -> 6; 1x1 192 and 1x1 10 at 6x6.
ALLCNN_LAYERS = [conv_flops(32, 3, 3, 96), conv_flops(32, 3, 96, 96), conv_flops(16, 3, 96, 96),
                 conv_flops(16, 3, 96, 192), conv_flops(16, 3, 192, 192), conv_flops(8, 3, 192, 192),
                 conv_flops(6, 3, 192, 192), conv_flops(6, 1, 192, 192), conv_flops(6, 1, 192, 10)]


@pytest.mark.parametrize("family,variant,classes,by_hand,step_gflop", [
    ("alexnet", "paper", 1000, ALEXNET_LAYERS, 529.4),
    ("allcnn", "all_cnn_c", 10, ALLCNN_LAYERS, 207.3),
])
def test_flops_equal_the_hand_computed_figures(family, variant, classes, by_hand, step_gflop):
    model = models.build(family, variant, num_classes=classes)
    counted = [flops.layer_flops(layer) for layer in model.layers if flops.layer_flops(layer)]
    assert counted == by_hand
    assert flops.forward_flops(model) == sum(by_hand)
    # training = forward + twice the forward for the backward pass, without conv1's input gradient
    assert flops.training_flops(model, 128) == 128 * (3 * sum(by_hand) - by_hand[0])
    assert flops.training_flops(model, 128) / 1e9 == pytest.approx(step_gflop, abs=0.05)


def test_flops_of_an_ungrouped_alexnet_exceed_the_towers_by_the_groups_halving():
    # neon's and one_weird_trick's networks have no towers; bvlc has the paper's towers and the same FLOPs
    paper, bvlc = (flops.forward_flops(models.build("alexnet", v)) for v in ("paper", "bvlc"))
    assert paper == bvlc
    owt = flops.forward_flops(models.build("alexnet", "one_weird_trick"))
    assert owt / 1e9 == pytest.approx(1.428, abs=5e-4)  # hand-worked: BUILD.md "Speed"
