"""The papers' figures drawn with matplotlib (its Agg canvas: no display, no global pyplot state), as Figure objects
that ``to_rgb`` turns into an image for TensorBoard and ``save`` into a PNG file."""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from common import files


def to_rgb(figure):
    """The figure rendered as a uint8 (height, width, 3) array."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save(figure, path):
    """Write the figure as a PNG to ``path`` (any filesystem TensorFlow has; never half-written)."""
    FigureCanvasAgg(figure)
    with files.atomic_write(path, "wb") as f:
        figure.savefig(f, dpi=figure.dpi, format="png")


def kernels_figure(grid, title, kernel_size):
    """The kernel grid (``figures.grids.kernel_grid``), each weight at least 4 screen pixels and each kernel at least
    24, with the title above."""
    scale = max(4, -(-24 // kernel_size))
    height, width = grid.shape[0] * scale / 100, grid.shape[1] * scale / 100
    title_height = 0.5
    figure = Figure(figsize=(max(width, 6.0), height + title_height), dpi=100)
    axes = figure.add_axes((0.5 - width / max(width, 6.0) / 2, 0, width / max(width, 6.0),
                            height / (height + title_height)))
    axes.imshow(np.clip(grid, 0, 1), interpolation="nearest")
    axes.set_axis_off()
    figure.suptitle(title, fontsize=9, y=1 - 0.1 / (height + title_height))
    return figure


def confusion_figure(confusion, class_names, title):
    """Rows: the label; columns: the class answered (ranked first; neon's padded outputs are columns without a
    row). Each cell shaded by its share of the row and labelled with its count."""
    confusion = np.asarray(confusion)
    rows, columns = confusion.shape
    names = list(class_names)[:columns] + [str(i) for i in range(len(class_names), columns)]
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    figure = Figure(figsize=(max(4.0, 0.45 * columns + 1.5), max(4.0, 0.45 * rows + 1.5)), dpi=100)
    axes = figure.add_subplot()
    axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(rows):
        for j in range(columns):
            if confusion[i, j]:
                axes.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7,
                          color="white" if rates[i, j] > 0.5 else "black")
    axes.set_xticks(range(columns), names, rotation=90, fontsize=7)
    axes.set_yticks(range(rows), names[:rows], fontsize=7)
    axes.set_xlabel("answered (ranked first)")
    axes.set_ylabel("label")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def neighbours_figure(queries, query_labels, top_classes, top_probabilities, neighbours, neighbour_labels,
                      class_names, title):
    """The paper's Figure 4: per row, a validation image, its top classes as bars (the label's bar red, the others
    blue), and the training images nearest in feature space, nearest first. Images uint8, or floats in [0, 1]."""
    rows, k = len(queries), neighbours.shape[1]
    figure = Figure(figsize=(1.3 * (k + 3), 1.4 * rows + 0.4), dpi=100)
    grid = figure.add_gridspec(rows, k + 3, width_ratios=[1, 2, 0.3] + [1] * k)  # column 2: a narrow gap
    for r in range(rows):
        axes = figure.add_subplot(grid[r, 0])
        axes.imshow(_image(queries[r]))
        axes.set_axis_off()
        axes.set_title(_name(class_names, query_labels[r]), fontsize=7)
        bars = figure.add_subplot(grid[r, 1])
        order = range(len(top_classes[r]))
        bars.barh(list(order), top_probabilities[r], color=[
            "tab:red" if c == query_labels[r] else "tab:blue" for c in top_classes[r]])
        bars.set_yticks(list(order), [_name(class_names, c) for c in top_classes[r]], fontsize=6)
        bars.invert_yaxis()
        bars.set_xlim(0, 1)
        bars.tick_params(axis="x", labelsize=6)
        for j in range(k):
            axes = figure.add_subplot(grid[r, j + 3])
            axes.imshow(_image(neighbours[r, j]))
            axes.set_axis_off()
            axes.set_title(_name(class_names, neighbour_labels[r, j]), fontsize=6)
    figure.suptitle(title, fontsize=9)
    return figure


def _image(image):
    """uint8 as it is, floats clipped to [0, 1]."""
    return image if image.dtype == np.uint8 else np.clip(image, 0, 1)


def _name(class_names, index):
    index = int(index)
    name = class_names[index] if index < len(class_names) else str(index)
    return name if len(name) <= 18 else name[:17] + "…"
