"""The model families by name, for the entry points: ``models.build("alexnet", "paper", num_classes=1000)``.

The one place for the families, their variants and each family's default variant.
"""

import alexnet
import allcnn
from common.spec import check_choice, footprint as spec_footprint

FAMILIES = {"alexnet": alexnet, "allcnn": allcnn}
DEFAULT_VARIANT = {"alexnet": "paper", "allcnn": "all_cnn_c"}


def variants(family):
    check_choice("model", family, tuple(FAMILIES))
    return FAMILIES[family].VARIANTS


def resolve_variant(family, variant=None):
    """``variant``, or the family's default for None; a ValueError names the valid variants for a wrong name."""
    valid = variants(family)  # a wrong family is named here
    variant = variant or DEFAULT_VARIANT[family]
    if variant not in valid:
        raise ValueError(f"--variant={variant!r} is not one of the {family} variants: {', '.join(valid)}.")
    return variant


def build(family, variant, **kwargs):
    """``alexnet.build`` or ``allcnn.build``; a ValueError names the valid choices for a wrong name."""
    check_choice("model", family, tuple(FAMILIES))
    return FAMILIES[family].build(variant, **kwargs)


def footprint(family, variant, num_classes, **options):
    """(parameters, activation values per image) of the network ``build`` makes with these arguments, counted from
    its layer specs without TensorFlow (``common.spec.footprint``)."""
    check_choice("model", family, tuple(FAMILIES))
    return spec_footprint(*FAMILIES[family].network(variant, num_classes, **options))


def input_shape(family, variant):
    """(height, width, channels) of the images ``build(family, variant)`` takes."""
    check_choice("model", family, tuple(FAMILIES))
    return FAMILIES[family].input_shape(variant)
