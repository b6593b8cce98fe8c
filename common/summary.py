"""The layer table that ``python -m alexnet`` and ``python -m allcnn`` print for each variant."""

import math
import sys


def layer_rows(model):
    """(name, type, output shape without the batch axis, neurons, parameters) for every layer after the input."""
    rows = []
    for layer in model.layers[1:]:
        shape = tuple(layer.output.shape[1:])
        rows.append((layer.name, type(layer).__name__, shape, math.prod(shape), layer.count_params()))
    return rows


def layer_table(model, title=None):
    """A plain-text table of ``layer_rows(model)`` with the input and the total parameter count."""
    header = ("layer", "type", "output shape", "neurons", "params")
    input_shape = tuple(model.inputs[0].shape[1:])
    body = [("images", "Input", input_shape, math.prod(input_shape), 0)] + layer_rows(model)
    cells = [header] + [(n, t, "x".join(map(str, s)), f"{k:,}", f"{p:,}") for n, t, s, k, p in body]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    align = ["<", "<", ">", ">", ">"]

    def fmt(row):
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths))

    rule = "-" * len(fmt(header))
    lines = [title] if title else []
    lines += [rule, fmt(header), rule] + [fmt(row) for row in cells[1:]] + [rule]
    lines.append(f"total parameters: {model.count_params():,}")
    return "\n".join(lines)


def main(family, label, argv):
    """``python -m alexnet|allcnn [VARIANT ...]``: print the layer table of each named variant (default: all)."""
    names = argv[1:] or family.VARIANTS
    unknown = [name for name in names if name not in family.VARIANTS]
    if unknown:
        sys.exit(f"unknown {label} variant {unknown[0]!r}; valid variants: {', '.join(family.VARIANTS)}")
    for name in names:
        model = family.build(name)
        print(layer_table(model, title=f"\n{label} '{name}' ({family.VARIANT_TABLE[name].source})"))
