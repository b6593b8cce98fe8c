"""The pictures' arithmetic, in NumPy: the first layer's kernels as one grid image (the paper's Figure 3) and the
nearest training examples in feature space (its Figure 4). No plotting here: ``figures.draw`` does that.

Kernel normalisation ([cuda-convnet2-shownet], the authors' own viewer): by default the whole layer is mapped to
[0, 1] by its minimum and maximum together (``"layer"``, shownet.py's default), so kernels keep their relative
strength; ``"kernel"`` maps each kernel to [0, 1] by its own minimum and maximum (its ``--norm-filters`` option
standardises each filter first; the per-kernel range is the usual later choice), so a weak kernel's pattern shows.
The paper's Figure 3 does not say which it used. Rows of 16 kernels (shownet.py's ``FILTERS_PER_ROW``); with two
towers, the kernels feeding each tower form a block of their own, tower 0's above ("the top 48 kernels were learned
on GPU 1 while the bottom 48 kernels were learned on GPU 2", [alexnet-paper] Figure 3).
"""

import numpy as np

NORMALIZATIONS = ("layer", "kernel")
PER_ROW = 16
BORDER = 1  # pixels between cells
GAP = 4  # pixels between tower blocks


def normalized_kernels(kernels, normalize="layer"):
    """``kernels`` (kh, kw, channels, n) as n RGB cells (n, kh, kw, 3) in [0, 1]: 3 channels as RGB, 1 as grey,
    other counts by their first three channels' mean as grey."""
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize={normalize!r} is invalid; valid values: {', '.join(NORMALIZATIONS)}")
    k = np.asarray(kernels, np.float64).transpose(3, 0, 1, 2)
    if k.shape[-1] != 3:
        k = np.repeat(k[..., :3].mean(axis=-1, keepdims=True), 3, axis=-1)
    axes = (1, 2, 3) if normalize == "kernel" else (0, 1, 2, 3)
    low, high = k.min(axis=axes, keepdims=True), k.max(axis=axes, keepdims=True)
    return ((k - low) / np.where(high > low, high - low, 1.0)).astype(np.float32)


def cell_origin(index, count, groups, kh, kw, per_row=PER_ROW):
    """(top, left) pixel of kernel ``index``'s cell in ``kernel_grid``'s image."""
    per_group = count // groups
    group, i = divmod(index, per_group)
    rows_per_group = -(-per_group // per_row)
    top = group * (rows_per_group * (kh + BORDER) + GAP) + (i // per_row) * (kh + BORDER) + BORDER
    return top, (i % per_row) * (kw + BORDER) + BORDER


def kernel_grid(kernels, groups=1, normalize="layer", per_row=PER_ROW):
    """One RGB image (float32 in [0, 1], background white) of the kernels (kh, kw, channels, n): rows of
    ``per_row``, the n / ``groups`` kernels of each group (tower) in a block of their own."""
    cells = normalized_kernels(kernels, normalize)
    count, kh, kw = cells.shape[:3]
    if groups < 1 or count % groups:
        raise ValueError(f"{count} kernels cannot form {groups} equal groups")
    rows_per_group = -(-(count // groups) // per_row)
    height = groups * (rows_per_group * (kh + BORDER) + GAP) - GAP + BORDER
    width = min(per_row, count // groups) * (kw + BORDER) + BORDER
    image = np.ones((height, width, 3), np.float32)
    for index in range(count):
        top, left = cell_origin(index, count, groups, kh, kw, per_row)
        image[top:top + kh, left:left + kw] = cells[index]
    return image


def nearest(queries, references, k):
    """(indices (q, k), distances (q, k)) of the ``k`` rows of ``references`` nearest to each row of ``queries`` in
    Euclidean distance, nearest first (ties: the lower index first)."""
    q = np.asarray(queries, np.float64).reshape(len(queries), -1)
    r = np.asarray(references, np.float64).reshape(len(references), -1)
    squared = (q * q).sum(1)[:, None] + (r * r).sum(1)[None, :] - 2.0 * q @ r.T
    distances = np.sqrt(np.maximum(squared, 0.0))
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(distances, order, axis=1)
