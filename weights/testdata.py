"""Weights files in the real formats, with random weights, for the tests (no published file can be downloaded here).

``caffe_layers`` describes bvlc_alexnet and bvlc_reference_caffenet layer by layer as their deploy.prototxt files do
([caffe-bvlc_alexnet], [caffe-bvlc_reference_caffenet]); ``write_caffemodel`` writes it as Caffe 2014 did (the V1
``layers`` message, legacy 4-D blob shapes), ``deploy_prototxt`` as the current text format for OpenCV's importer.
"""

import numpy as np

from weights import protobuf_wire as wire

_V1_TYPES = {"Convolution": 4, "InnerProduct": 14, "LRN": 15, "Pooling": 17, "ReLU": 18, "Dropout": 6,
             "Softmax": 20}


def caffe_layers(variant, num_classes=1000):
    """[(name, type, bottom, top, params)] of the deploy network of 'bvlc' or 'caffenet'."""
    lrn = dict(local_size=5, alpha=1e-4, beta=0.75)
    layers, x = [], "data"

    def add(name, kind, params=None, inplace=False):
        nonlocal x
        top = x if inplace else name
        layers.append((name, kind, x, top, params or {}))
        x = top
    convs = [(96, 11, 4, 0, 1), (256, 5, 1, 2, 2), (384, 3, 1, 1, 1), (384, 3, 1, 1, 2), (256, 3, 1, 1, 2)]
    for i, (out, kernel, stride, pad, group) in enumerate(convs, 1):
        add(f"conv{i}", "Convolution", dict(num_output=out, kernel_size=kernel, stride=stride, pad=pad, group=group))
        add(f"relu{i}", "ReLU", inplace=True)
        if i in (1, 2):
            norm_pool = [(f"norm{i}", "LRN", lrn), (f"pool{i}", "Pooling", dict(pool="MAX", kernel_size=3, stride=2))]
            for name, kind, params in (norm_pool[::-1] if variant == "caffenet" else norm_pool):
                add(name, kind, params)
    add("pool5", "Pooling", dict(pool="MAX", kernel_size=3, stride=2))
    for i, out in ((6, 4096), (7, 4096), (8, num_classes)):
        add(f"fc{i}", "InnerProduct", dict(num_output=out))
        if i < 8:
            add(f"relu{i}", "ReLU", inplace=True)
            add(f"drop{i}", "Dropout", dict(dropout_ratio=0.5), inplace=True)
    add("prob", "Softmax")
    return layers


def deploy_prototxt(variant, batch=1, num_classes=1000):
    """The deploy network as prototxt text (current ``layer`` format)."""
    lines = [f'name: "{variant}"', 'input: "data"',
             f"input_shape {{ dim: {batch} dim: 3 dim: 227 dim: 227 }}"]
    blocks = {"Convolution": "convolution_param", "InnerProduct": "inner_product_param", "LRN": "lrn_param",
              "Pooling": "pooling_param", "Dropout": "dropout_param"}
    for name, kind, bottom, top, params in caffe_layers(variant, num_classes):
        body = "".join(f" {k}: {v}" for k, v in params.items())
        block = f" {blocks[kind]} {{{body} }}" if params else ""
        lines.append(f'layer {{ name: "{name}" type: "{kind}" bottom: "{bottom}" top: "{top}"{block} }}')
    return "\n".join(lines) + "\n"


def _legacy_blob(array):
    dims = (1,) * (4 - array.ndim) + array.shape
    return (b"".join(wire.varint_field(n, d) for n, d in zip((1, 2, 3, 4), dims))
            + wire.packed_floats(5, array.reshape(-1)))


def _shaped_blob(array):
    return wire.bytes_field(7, wire.packed_varints(1, array.shape)) + wire.packed_floats(5, array.reshape(-1))


def random_caffe_weights(variant, seed=0, num_classes=1000):
    """{layer: (weight (out, in/group, kh, kw) or (out, in), bias)} with each layer's outputs of unit scale."""
    rng = np.random.default_rng(seed)
    shapes, channels = {}, 3
    for name, kind, _, _, p in caffe_layers(variant, num_classes):
        if kind == "Convolution":
            shapes[name] = (p["num_output"], channels // p["group"], p["kernel_size"], p["kernel_size"])
            channels = p["num_output"]
        elif kind == "InnerProduct":
            shapes[name] = (p["num_output"], 256 * 6 * 6 if name == "fc6" else 4096)
    return {name: (rng.normal(0, np.sqrt(2.0 / np.prod(shape[1:])), shape).astype(np.float32),
                   rng.normal(0, 0.1, shape[0]).astype(np.float32)) for name, shape in shapes.items()}


def write_caffemodel(path, variant, weights, v1=True):
    num_classes = len(weights["fc8"][1])
    """A ``.caffemodel`` holding ``weights`` for the deploy network of ``variant``: V1 ``layers`` with legacy
    blob shapes (as the BVLC files), or the current ``layer`` message with ``BlobShape`` (``v1=False``)."""
    out = [wire.bytes_field(1, variant.encode())]
    for name, kind, bottom, top, _ in caffe_layers(variant, num_classes):
        blobs = weights.get(name, ())
        if v1:
            body = (wire.bytes_field(2, bottom.encode()) + wire.bytes_field(3, top.encode())
                    + wire.bytes_field(4, name.encode()) + wire.varint_field(5, _V1_TYPES[kind])
                    + b"".join(wire.bytes_field(6, _legacy_blob(np.asarray(b))) for b in blobs))
            out.append(wire.bytes_field(2, body))
        else:
            body = (wire.bytes_field(1, name.encode()) + wire.bytes_field(2, kind.encode())
                    + wire.bytes_field(3, bottom.encode()) + wire.bytes_field(4, top.encode())
                    + b"".join(wire.bytes_field(7, _shaped_blob(np.asarray(b))) for b in blobs))
            out.append(wire.bytes_field(100, body))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def write_mean_binaryproto(path, mean_rgb):
    """A mean ``.binaryproto`` as Caffe's compute_image_mean writes it: BlobProto 1x3xHxW, BGR planes."""
    bgr = np.asarray(mean_rgb, np.float32)[:, :, ::-1].transpose(2, 0, 1)
    with open(path, "wb") as f:
        f.write(_legacy_blob(bgr[None]))
