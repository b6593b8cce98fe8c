"""Weights files in the real formats, with random weights, for the tests (no published file can be downloaded here).

``caffe_layers`` describes bvlc_alexnet and bvlc_reference_caffenet layer by layer as their deploy.prototxt files do
([caffe-bvlc_alexnet], [caffe-bvlc_reference_caffenet]); ``write_caffemodel`` writes it as Caffe 2014 did (the V1
``layers`` message, legacy 4-D blob shapes), ``deploy_prototxt`` as the current text format for OpenCV's importer.
"""

import numpy as np

from weights import protobuf_wire as wire
from weights.caffe import V1_LAYER_TYPES

_V1_TYPES = {name: number for number, name in V1_LAYER_TYPES.items()}


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
    """A ``.caffemodel`` holding ``weights`` for the deploy network of ``variant``: V1 ``layers`` with legacy
    blob shapes (as the BVLC files), or the current ``layer`` message with ``BlobShape`` (``v1=False``)."""
    num_classes = len(weights["fc8"][1])
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


# --- neon .p files: the dict Model.serialize writes ([neon-serialize]), pickled as Python 2's cPickle did ---

NEON_VERSIONS = {"e7ab2c2e2": "1.2.1+e7ab2c2", "v1.4.0": "1.4.0+bc196cb", "v2.3.0": "2.3.0+9eb09d7"}


def _neon_layer(kind, name, config=None, params=None):
    layer = {"type": f"neon.layers.layer.{kind}", "config": dict(config or {}, name=name)}
    if params is not None:
        layer["params"] = params
        layer["states"] = []  # the optimiser's velocities, as many arrays again: left out (the reader ignores them)
    return layer


def neon_layers(network, version, rng):
    """The flat layer list neon saves for ``network`` ('neon_nolrn': ModelZoo 05498cf's AlexNet; 'neon':
    ModelZoo 222d2df's CaffeNet-like AlexNet; 'allcnn': neon's examples/cifar10_allcnn.py), random weights scaled
    for unit-size activations. From v2.2 a convolution with a bias is one ``Convolution_bias`` layer."""
    fused = version == "v2.3.0"
    layers, channels = [], 3

    def conv(name, k, r, stride=1, pad=0, bias=True):
        nonlocal channels
        w = rng.normal(0, np.sqrt(2.0 / (channels * r * r)), (channels * r * r, k)).astype(np.float32)
        b = rng.normal(0, 0.1, (k, 1)).astype(np.float32)
        config = {"fshape": (r, r, k)}
        if stride != 1:
            config["strides"] = stride
        if pad:
            config["padding"] = pad
        if bias and fused:
            layers.append(_neon_layer("Convolution_bias", name, config, {"W": w, "weight_bias": b}))
        else:
            layers.append(_neon_layer("Convolution", name, config, {"W": w}))
            if bias:
                layers.append(_neon_layer("Bias", f"{name}_bias", {}, {"W": b}))
        layers.append(_neon_layer("Activation", f"{name}_Rectlin", {"transform": {
            "type": "neon.transforms.activation.Rectlin", "config": {"name": "Rectlin_0"}}}))
        channels = k

    def affine(name, nout, nin, softmax=False):
        layers.append(_neon_layer("Linear", name, {"nout": nout}, {
            "W": rng.normal(0, np.sqrt(2.0 / nin), (nout, nin)).astype(np.float32)}))
        layers.append(_neon_layer("Bias", f"{name}_bias", {}, {"W": rng.normal(0, 0.1, (nout, 1)).astype(np.float32)}))
        kind = "Softmax" if softmax else "Rectlin"
        layers.append(_neon_layer("Activation", f"{name}_{kind}", {"transform": {
            "type": f"neon.transforms.activation.{kind}", "config": {}}}))

    def pool(name, size=3, stride=2, op=None):
        config = {"fshape": size}
        if stride != size:
            config["strides"] = stride
        if op:
            config["op"] = op
        layers.append(_neon_layer("Pooling", name, config))

    lrn = {"depth": 5, "ascale": 1e-4, "bpower": 0.75}
    if network == "neon_nolrn":
        conv("Convolution_0", 64, 11, 4, 3), pool("Pooling_0"), conv("Convolution_1", 192, 5, pad=2)
        pool("Pooling_1"), conv("Convolution_2", 384, 3, pad=1), conv("Convolution_3", 256, 3, pad=1)
        conv("Convolution_4", 256, 3, pad=1), pool("Pooling_2")
        affine("Linear_0", 4096, 9216), layers.append(_neon_layer("Dropout", "Dropout_0"))  # keep 0.5: default
        affine("Linear_1", 4096, 4096), layers.append(_neon_layer("Dropout", "Dropout_1"))
        affine("Linear_2", 1000, 4096, softmax=True)
    elif network == "neon":
        conv("conv1", 96, 11, 4), pool("pool1"), layers.append(_neon_layer("LRN", "norm1", lrn))
        conv("conv2", 256, 5, pad=2), pool("pool2"), layers.append(_neon_layer("LRN", "norm2", lrn))
        conv("conv3", 384, 3, pad=1), conv("conv4", 384, 3, pad=1), conv("conv5", 256, 3, pad=1), pool("pool5")
        affine("fc6", 4096, 6400), layers.append(_neon_layer("Dropout", "drop6"))
        affine("fc7", 4096, 4096), layers.append(_neon_layer("Dropout", "drop7"))
        affine("fc8", 1000, 4096, softmax=True)
    elif network == "allcnn":
        layers.append(_neon_layer("Dropout", "Dropout_0", {"keep": 0.8}))
        for stage, k in enumerate((96, 192)):
            for i in range(3):
                conv(f"Convolution_{3 * stage + i}", k, 3, stride=2 if i == 2 else 1, pad=1, bias=False)
            layers.append(_neon_layer("Dropout", f"Dropout_{stage + 1}"))
        conv("Convolution_6", 192, 3, pad=1, bias=False), conv("Convolution_7", 192, 1, bias=False)
        conv("Convolution_8", 16, 1, bias=False), pool("Pooling_0", 8, 8, op="avg")
        layers.append(_neon_layer("Activation", "Activation_0", {"transform": {
            "type": "neon.transforms.activation.Softmax", "config": {}}}))
    else:
        raise ValueError(network)
    return layers


def neon_model_dict(layers, version, compat_mode="neon", input_shape=None):
    saved = {"neon_version": NEON_VERSIONS.get(version, version),
             "backend": {"type": "NervanaGPU", "compat_mode": compat_mode, "rng_seed": None,
                         "rng_state": (("MT19937", np.zeros(624, np.uint32), 0, 0, 0.0), np.zeros(4, np.uint32))},
             "model": {"type": "neon.layers.container.Sequential", "container": True,
                       "config": {"name": "Sequential_0", "layers": layers}},
             "epoch_index": 90}
    if version != "e7ab2c2e2" and input_shape:
        saved["train_input_shape"] = input_shape
    return saved


def write_neon_p(path, saved):
    """Pickle ``saved`` at protocol 2 naming NumPy's globals as NumPy 1 did (``numpy.core.multiarray``), the
    globals Python 2's cPickle wrote for neon's files."""
    import pickle
    data = pickle.dumps(saved, protocol=2).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    with open(path, "wb") as f:
        f.write(data)
