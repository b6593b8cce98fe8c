"""What the network learned, in pictures: the paper's Figure 3 (the first layer's kernels), its Figure 4 (validation
images, their top-5 classes, and the training images nearest in the class layer's input), and the confusion matrix.

    python -m figures --workdir=runs/digits --out=figures/      # PNG files from a run, an export or published weights

The training loop writes the same figures to TensorBoard at every validation (``Figures``); both draw from the Keras
model the run or the evaluator builds (``figures.network``), with the arithmetic in ``figures.grids`` and the drawing
in ``figures.draw``.
"""

import numpy as np
import tensorflow as tf

from evaluation.metrics import MATRIX_CLASSES
from figures import draw, grids, network


class Figures:
    """The figures of one model on one dataset, with the training sample for the neighbour search taken once."""

    def __init__(self, inputs, class_names, normalize="layer", sample=network.TRAIN_SAMPLE,
                 queries=network.QUERIES, split=None):
        self.inputs, self.class_names, self.normalize = inputs, list(class_names), normalize
        self.sample, self.queries, self.split = sample, queries, split or inputs.eval_split
        self._examples = self._net = None

    def _data(self):
        if self._examples is None:
            self._examples = (network.examples(self.inputs, "train", self.sample),
                              network.examples(self.inputs, self.split, self.queries))
        return self._examples

    def _features(self, model):
        """The feature model of ``model`` as one compiled function (built once; an eager call per batch cost 0.7 s
        a validation on the digits)."""
        if self._net is None or self._net[0] is not model:
            net = network.feature_model(model)
            self._net = (model, tf.function(lambda x: net(x, training=False), reduce_retracing=True))
        return self._net[1]

    def kernels(self, model):
        """Figure 3 of ``model``: a Keras model or a ``network.Served`` export."""
        name, kernels, groups = model.first_kernels() if isinstance(model, network.Served) else \
            network.first_kernels(model)
        grid = grids.kernel_grid(kernels, groups, self.normalize)
        towers = f", {groups} towers" if groups > 1 else ""
        return draw.kernels_figure(grid, f"{model.name}: {name}, {kernels.shape[-1]} kernels of "
                                         f"{kernels.shape[0]}x{kernels.shape[1]}x{kernels.shape[2]}{towers} "
                                         f"({self.normalize} normalisation)", kernels.shape[0])

    def neighbours(self, model):
        (train_x, train_shown, train_labels), (query_x, query_shown, query_labels) = self._data()
        if isinstance(model, network.Served):  # an export preprocesses the pictures itself
            train_features, _ = model.features(train_shown)
            query_features, probabilities = model.features(query_shown)
        else:
            net = self._features(model)
            train_features, _ = network.features(net, train_x)
            query_features, probabilities = network.features(net, query_x)
        index, _ = grids.nearest(query_features, train_features, network.NEIGHBOURS)
        top = np.argsort(-probabilities, axis=1, kind="stable")[:, :network.TOP]
        return draw.neighbours_figure(
            query_shown, query_labels, top, np.take_along_axis(probabilities, top, axis=1), train_shown[index],
            train_labels[index], self.class_names,
            f"{model.name}: {self.split} images, their top-{network.TOP} classes, and the nearest of "
            f"{len(train_x):,} training images (spread over the split) in the class layer's input")

    def confusion(self, confusion, title):
        """The matrix's rows for the named classes (a row per label), every output a column."""
        return draw.confusion_figure(np.asarray(confusion)[:len(self.class_names)], self.class_names, title)

    def all(self, model, confusion=None, title="", neighbours=True):
        """{name: Figure}: kernels, neighbours (unless ``neighbours`` is False: they cost a forward pass of the
        sample), and the confusion matrix when given for at most ``MATRIX_CLASSES`` outputs (an ImageNet report names
        its most confused pairs instead)."""
        out = {"conv1_kernels": self.kernels(model)}
        if neighbours:
            out["nearest_neighbours"] = self.neighbours(model)
        if confusion is not None and np.shape(confusion)[1] <= MATRIX_CLASSES:
            out["confusion_matrix"] = self.confusion(confusion, title)
        return out
