"""What the pictures need from a network and its data, taken from the Keras model the training loop and the
evaluator already build (no second copy of the model code): the first layer's kernels and how its outputs split into
towers, the features the class layer reads, and a fixed sample of examples.

Features for the nearest neighbours (the paper's Figure 4 uses "the last, 4096-dimensional hidden layer"): the input
of the class layer, i.e. fc7's output for an AlexNet (after its ReLU; dropout is the identity at inference) and the
feature maps the All-CNN class convolution reads, flattened. The training side of the search is a bounded sample:
``TRAIN_SAMPLE`` examples of the training split, in the evaluation's preprocessing (no augmentation), the
same at every validation so that a run shows its neighbours change. The sample and the queries are spread over their
splits (``data.inputs`` ``sample``): an ImageNet folder lists its files class by class.
"""

import os

import keras
import numpy as np

import weights
from common.layers import TowerConv2D
from evaluation.metrics import EVAL_BATCH_SIZE

TRAIN_SAMPLE = 1000  # training examples searched for neighbours
QUERIES = 5  # validation images shown (the paper's Figure 4 shows five)
NEIGHBOURS = 6  # training images per query (as the paper's)
TOP = 5  # classes per query in the bars (Figure 4, left)


def first_kernels(model):
    """(layer name, kernels (kh, kw, in, out) as float32, groups): the first convolution's kernels, and into how
    many towers the next convolution splits its outputs (2 for the two-tower AlexNets, else 1)."""
    convs = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, TowerConv2D))]
    if not convs:
        raise ValueError(f"{model.name} has no convolution")
    first = convs[0]
    kernels = np.concatenate([w.numpy() for w in first.weights if len(w.shape) == 4], axis=-1).astype(np.float32)
    groups = convs[1].towers if len(convs) > 1 and isinstance(convs[1], TowerConv2D) else 1
    return first.name, kernels, groups


class Served:
    """An exported SavedModel as the figures see it: its ``first_layer`` and ``serve_features`` signatures
    (training/export.py), fed the pictures of ``examples`` (uint8 images, preprocessed inside as it serves)."""

    def __init__(self, path):
        import tensorflow as tf
        signatures = tf.saved_model.load(path).signatures
        if "serve_features" not in signatures:
            raise ValueError(f"--saved_model={path} has no serve_features signature (exported before the figures "
                             "existed): export it again, or pass --workdir")
        self.name = os.path.basename(os.path.normpath(path))
        self._first, self._features, self._tf = signatures["first_layer"], signatures["serve_features"], tf

    def first_kernels(self):
        out = self._first()
        return out["layer"].numpy().decode(), out["kernels"].numpy(), int(out["groups"].numpy())

    def features(self, pictures, batch_size=EVAL_BATCH_SIZE):
        feats, probs = [], []
        for start in range(0, len(pictures), batch_size):
            out = self._features(images=self._tf.constant(pictures[start:start + batch_size]))
            feats.append(out["features"].numpy())
            probs.append(out["all_probabilities"].numpy())
        return np.concatenate(feats), np.concatenate(probs)


def feature_model(model):
    """A Keras model of the same layers returning (the class layer's input, the model's output)."""
    layer = model.get_layer(weights.class_layer(model))
    return keras.Model(model.input, [layer.input, model.output], name=f"{model.name}_features")


def examples(inputs, split, count):
    """(model inputs as float16, images as a person sees them (uint8), labels) of ``count`` examples spread over
    ``split`` of a ``data.inputs`` object, as the evaluation prepares them (the central crop for ImageNet).
    float16 halves what the training sample holds (ImageNet: 1,000 crops, 300 MB); the features barely change."""
    model_inputs, shown, labels = inputs.sample(split, count)
    return model_inputs.astype(np.float16), shown, labels


def features(feature_net, images, batch_size=EVAL_BATCH_SIZE):
    """(features flattened (n, d), probabilities (n, classes)) of ``images`` through ``feature_net`` (a callable
    on a float32 batch, e.g. ``feature_model(model)`` in inference mode)."""
    feats, probs = [], []
    for start in range(0, len(images), batch_size):
        f, p = feature_net(images[start:start + batch_size].astype(np.float32))
        feats.append(np.asarray(f, np.float32).reshape(len(f), -1))
        probs.append(np.asarray(p, np.float32))
    return np.concatenate(feats), np.concatenate(probs)
