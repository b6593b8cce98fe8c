"""The model families by name, for the entry points: ``models.build("alexnet", "paper", num_classes=1000)``."""

import alexnet
import allcnn
from common.spec import check_choice

FAMILIES = {"alexnet": alexnet, "allcnn": allcnn}


def variants(family):
    check_choice("model", family, tuple(FAMILIES))
    return FAMILIES[family].VARIANTS


def build(family, variant, **kwargs):
    """``alexnet.build`` or ``allcnn.build``; a ValueError names the valid choices for a wrong name."""
    check_choice("model", family, tuple(FAMILIES))
    return FAMILIES[family].build(variant, **kwargs)


def input_shape(family, variant):
    """(height, width, channels) of the images ``build(family, variant)`` takes."""
    check_choice("model", family, tuple(FAMILIES))
    return FAMILIES[family].input_shape(variant)
