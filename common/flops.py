"""Floating-point work of a Keras model, counted from its layers (not from a table).

Convention (BUILD.md, "Speed"; the usual one for rating the times that [convnet-benchmarks] and the neon readmes, e.g.
[neon-readme-000], publish): a multiply-add is 2 FLOP and only the convolutions and fully connected layers count;
biases, ReLU, pooling, LRN, dropout and softmax are memory-bound and left out (LRN's time is reported on its own by
benchmark.py).

* forward, per image: 2 x (kernel size) x (output positions) for every conv or dense kernel. A grouped or two-tower
  convolution's kernels hold only the input channels of their group, so the towers count half of a full conv.
* training, per image: each layer's backward pass costs twice its forward (the gradient of the weights and that of
  the input), except that the gradient of the network's input is never needed: 3 x forward minus the forward of
  the first layer with weights (conv1), whose input is the image.

AlexNet ``paper``: 1.449 GFLOP per image forward, 529 GFLOP per batch-128 training step; All-CNN-C: 0.542 and 207
(checked by common/flops_test.py against figures computed by hand from the papers' layer sizes).
"""

import math


def _leaf_layers(layer):
    """``layer`` and the layers nested in it (TowerConv2D holds one Conv2D per tower)."""
    yield layer
    for sub in getattr(layer, "_layers", []) or []:
        yield from _leaf_layers(sub)


def layer_flops(layer):
    """Forward FLOP per image of one top-level layer of a functional model: 2 x kernel size x output positions
    for each kernel it (or a layer nested in it) holds."""
    kernels = [w for sub in _leaf_layers(layer) for w in sub._trainable_variables
               if w.path.rsplit("/", 1)[-1] == "kernel"]
    if not kernels:
        return 0
    positions = math.prod(layer.output.shape[1:-1])  # H x W of a conv's output; 1 for a dense layer
    return sum(2 * math.prod(k.shape) for k in kernels) * positions


def forward_flops(model):
    """Forward FLOP per image."""
    return sum(layer_flops(layer) for layer in model.layers)


def training_flops(model, batch_size):
    """FLOP of one training step on ``batch_size`` images: forward + backward, without the input's gradient."""
    per_layer = [f for f in (layer_flops(layer) for layer in model.layers) if f]
    if not per_layer:
        return 0
    return batch_size * (3 * sum(per_layer) - per_layer[0])
