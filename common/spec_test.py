"""common/spec.py's footprint: the parameters and activation values counted from the specs alone equal the built
Keras models' (every variant of both families, and All-CNN at another image size and with neon's options)."""

import math

import pytest

import models

KERAS_VIEWS = ("InputLayer", "Dropout", "Flatten", "ZeroPadding2D", "Activation")  # no values of their own


@pytest.mark.parametrize("family, variant, options", [
    *[("alexnet", v, {}) for v in models.variants("alexnet")],
    *[("allcnn", v, {}) for v in models.variants("allcnn")],
    ("allcnn", "all_cnn_c", {"image_size": 16, "pad_last_conv": True}),
])
def test_footprint_equals_the_built_models_counts(family, variant, options):
    classes = 1000 if family == "alexnet" else 10
    model = models.build(family, variant, num_classes=classes, **options)
    activations = sum(math.prod(layer.output.shape[1:]) for layer in model.layers
                      if type(layer).__name__ not in KERAS_VIEWS)
    assert models.footprint(family, variant, classes, **options) == (model.count_params(), activations)
