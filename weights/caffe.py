"""Caffe's ``.caffemodel`` (a binary ``NetParameter``) and mean ``.binaryproto`` (a ``BlobProto``), read with the
wire-format reader in ``weights.protobuf_wire``: no Caffe and no generated code.

Field numbers from ``src/caffe/proto/caffe.proto`` ([caffe-proto]):
``NetParameter``: name 1, layers 2 (``V1LayerParameter``, the format the BVLC AlexNet files of 2014 were written
in), layer 100 (``LayerParameter``, the current one). ``V1LayerParameter``: bottom 2, top 3, name 4, type 5 (an enum),
blobs 6. ``LayerParameter``: name 1, type 2 (a string), bottom 3, top 4, blobs 7. ``BlobProto``: num 1, channels 2,
height 3, width 4 (the legacy 4-D shape), data 5 (packed float), shape 7 (``BlobShape``: dim 1, packed int64),
double_data 8.

The conventions this import handles, for ``bvlc`` (models/bvlc_alexnet) and ``caffenet``
(models/bvlc_reference_caffenet), both 227x227 inputs ([caffe-bvlc_alexnet], [caffe-bvlc_reference_caffenet]):
* kernels ``(out, in/group, kh, kw)``; ``group: 2`` on conv2, conv4, conv5 is this project's two towers
  (contiguous halves of the input and output channels);
* fc6 reads pool5 (256x6x6) flattened as (C, H, W); fully connected weights are ``(out, in)`` (legacy files store
  them as a (1, 1, out, in) blob);
* Caffe's networks see BGR images (OpenCV's channel order, ``channel_swap`` in its Python classifier): conv1's input
  channels are reversed so that the imported network takes RGB, as every network here does;
* the mean: Caffe subtracts the mean file (``imagenet_mean.binaryproto``, a 256x256 BGR image) before cropping, or,
  in its Python classifier, that image's per-channel mean; ``read_mean`` turns the file into a 256x256 RGB image
  for ``--mean_file``. Inputs are 0..255 (``raw_scale: 255``), as here.
* Caffe's LRN (alpha / n, k = 1) and ceil-mode pooling are the variants' own (at 227 every pooling divides exactly,
  so ceil and floor agree); the layer order of the file (norm before or after pool) is checked against the network.
"""

import numpy as np
import tensorflow as tf

from common import files

from weights import convert
from weights import protobuf_wire as wire

V1_LAYER_TYPES = {4: "Convolution", 14: "InnerProduct", 15: "LRN", 17: "Pooling", 18: "ReLU", 6: "Dropout",
                  20: "Softmax", 21: "SoftmaxWithLoss", 5: "Data", 1: "Accuracy"}  # caffe.proto V1LayerParameter


def _blob(message):
    f = wire.by_number(wire.fields(message))
    if 7 in f:
        (shape,) = f[7][-1:]
        dims = wire.ints(wire.by_number(wire.fields(shape[2])).get(1, []))
    else:  # legacy num, channels, height, width (each defaults to 0 in caffe.proto; a blob has at least one)
        dims = [wire.ints(f.get(n, []))[-1] if n in f else 0 for n in (1, 2, 3, 4)]
        while len(dims) > 1 and dims[0] == 1:  # (1, 1, out, in) -> (out, in); (1, 1, 1, n) -> (n,)
            dims = dims[1:]
    data = wire.floats(f.get(5, [])) if 5 in f else wire.doubles(f.get(8, [])).astype(np.float32)
    if int(np.prod(dims)) != data.size:
        raise ValueError(f"a blob of shape {tuple(dims)} holds {data.size:,} values (truncated or corrupt)")
    return data.reshape(dims)


def read_net(path):
    """[(layer name, layer type, [blobs as float32 arrays])] of a ``.caffemodel``, in the file's order; V1 and
    current files alike."""
    data = files.read_bytes(path)
    try:
        top = wire.by_number(wire.fields(data))
        layers = []
        for _, _, message in top.get(2, []):  # V1LayerParameter
            f = wire.by_number(wire.fields(message))
            kind = wire.ints(f.get(5, []))
            layers.append((wire.text(f.get(4, [])), V1_LAYER_TYPES.get(kind[-1], f"V1 type {kind[-1]}") if kind
                           else "", [_blob(b[2]) for b in f.get(6, [])]))
        for _, _, message in top.get(100, []):  # LayerParameter
            f = wire.by_number(wire.fields(message))
            layers.append((wire.text(f.get(1, [])), wire.text(f.get(2, [])), [_blob(b[2]) for b in f.get(7, [])]))
    except (wire.WireError, UnicodeDecodeError, IndexError) as err:
        raise ValueError(f"{path}: not a weights file this project reads: neither a zip archive (PyTorch) nor a "
                         f"pickle (neon, legacy PyTorch), and not a readable .caffemodel ({err}); a truncated "
                         "download fails so too") from None
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    if not layers or not any(blobs for _, _, blobs in layers):
        raise ValueError(f"{path}: not a .caffemodel (no layers with weights in it); a deploy .prototxt is text and "
                         "holds no weights: pass the .caffemodel beside it.")
    return layers


def read_mean(path):
    """A mean ``.binaryproto`` (BlobProto 1x3xHxW, BGR) as an (H, W, 3) RGB float32 image."""
    try:
        data = files.read_bytes(path)
    except (OSError, tf.errors.OpError) as err:
        raise ValueError(f"--mean_file={path}: cannot read it ({files.reason(err)})") from None
    try:
        blob = _blob(data)
    except (wire.WireError, ValueError) as err:
        raise ValueError(f"--mean_file={path}: not a readable mean .binaryproto ({err})") from None
    if blob.ndim != 3 or blob.shape[0] != 3:
        raise ValueError(f"--mean_file={path}: a mean blob of shape {blob.shape}; expected 1x3xHxW (a BGR mean image)")
    return blob[::-1].transpose(1, 2, 0).astype(np.float32)


def _order(names, first, second):
    return names.index(first) < names.index(second)


def to_params(layers, model, path):
    """{layer name: weights as ``get_weights()`` takes them} for the AlexNet ``model`` ('bvlc' or 'caffenet'
    variant); the towers and the pool/norm order are read off the model."""
    names = [name for name, _, _ in layers]
    ours = [layer.name for layer in model.layers]
    if {"norm1", "pool1"} <= set(names) and {"lrn1", "pool1"} <= set(ours) and \
            _order(names, "pool1", "norm1") != _order(ours, "pool1", "lrn1"):
        theirs = "pool1 before norm1 (CaffeNet's order)" if _order(names, "pool1", "norm1") else \
            "norm1 before pool1 (bvlc_alexnet's and the paper's order)"
        variant = "caffenet" if "CaffeNet" in theirs else "bvlc"
        raise ValueError(f"{path}: the file's network runs {theirs}, but {model.name} runs the other; pass the "
                         f"variant the file was trained as (--variant={variant}).")
    params = {}
    for name, _, blobs in layers:
        if not blobs:
            continue
        if len(blobs) != 2:
            raise ValueError(f"{path}: layer {name} has {len(blobs)} blobs; expected a weight and a bias")
        weight, bias = blobs
        if weight.ndim == 4:
            params[name] = convert.conv_from_oihw(weight, bias, convert.towers(model, name))
            if name == "conv1":
                params[name] = convert.swap_rgb_bgr(params[name])
        else:
            params[name] = convert.dense_from_out_in(weight, bias, convert.flattened_chw(model, name))
    return params
