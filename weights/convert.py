"""Putting another framework's arrays into this project's Keras layers: the layout conversions every format shares,
and the one place that checks a file's weights against the network they are loaded into.

This project's layouts (Keras, channels last): a convolution kernel is ``(kh, kw, in, out)``; a fully connected
kernel ``(in, out)``; the first fully connected layer after a convolution reads its input flattened in (H, W, C)
order; a two-tower convolution (``common.layers.TowerConv2D``) holds one kernel and bias per tower, tower i seeing
input channels ``[i*C/2, (i+1)*C/2)`` and giving output channels ``[i*K/2, (i+1)*K/2)`` (Caffe's ``group: 2``).
"""

import keras
import numpy as np

from common.layers import TowerConv2D


def conv_from_oihw(kernel, bias, towers=1):
    """A Caffe/PyTorch convolution ``(out, in/groups, kh, kw)`` and its bias ``(out,)`` as the list
    ``layer.get_weights()`` has here: [kernel, bias] per tower, each kernel ``(kh, kw, in/groups, out/groups)``."""
    kernel = np.asarray(kernel, np.float32)
    if kernel.ndim != 4 or kernel.shape[0] % towers:
        raise ValueError(f"a convolution kernel of shape {kernel.shape}: expected (out, in, kh, kw) with out "
                         f"divisible by {towers}")
    per = kernel.shape[0] // towers
    out = []
    for t in range(towers):
        out.append(kernel[t * per:(t + 1) * per].transpose(2, 3, 1, 0))
        if bias is not None:
            out.append(np.asarray(bias, np.float32).reshape(-1)[t * per:(t + 1) * per])
    return out


def dense_from_out_in(kernel, bias, chw=None):
    """A fully connected ``(out, in)`` weight and its bias as [kernel ``(in, out)``, bias]. ``chw`` = (C, H, W):
    the input was flattened in (C, H, W) order there (Caffe, PyTorch, neon) and is (H, W, C) here."""
    kernel = np.asarray(kernel, np.float32)
    if kernel.ndim != 2:
        raise ValueError(f"a fully connected weight of shape {kernel.shape}: expected (out, in)")
    if chw is not None and kernel.shape[1] == np.prod(chw):  # otherwise ``assign`` names the mismatch
        c, h, w = chw
        kernel = kernel.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(kernel.shape[0], -1)
    return [kernel.T] + ([np.asarray(bias, np.float32).reshape(-1)] if bias is not None else [])


def towers(model, name):
    """How many towers layer ``name`` of ``model`` has (1 when it is not a two-tower layer or not in the model)."""
    layer = next((layer for layer in model.layers if layer.name == name), None)
    return layer.towers if isinstance(layer, TowerConv2D) else 1


def flattened_chw(model, name):
    """(C, H, W) of the feature map that layer ``name`` reads through a Flatten (and dropout), or None when it reads
    a vector."""
    layer = next((layer for layer in model.layers if layer.name == name), None)
    if layer is None:
        return None
    source = layer.input._keras_history.operation
    while isinstance(source, keras.layers.Dropout):  # torchvision's dropout sits between the flatten and fc6
        source = source.input._keras_history.operation
    if not isinstance(source, keras.layers.Flatten):
        return None
    h, w, c = source.input.shape[1:]
    return c, h, w


def swap_rgb_bgr(weights):
    """[kernel, bias, ...] of a first layer trained on BGR images, for RGB images: the input-channel axis reversed."""
    return [weights[0][:, :, ::-1, :].copy()] + list(weights[1:])


def _layer_shapes(layer):
    return [tuple(w.shape) for w in layer.get_weights()]


def assign(model, params, where, skip=()):
    """Set ``params`` ({layer name: the list ``layer.get_weights()`` takes}) on ``model``, after checking that the
    file and the network agree: every layer with weights in the model is given (but those in ``skip``), every layer
    given exists, every shape matches. ``where`` names the file and the variant in the errors. Nothing is set when
    anything disagrees."""
    layers = {layer.name: layer for layer in model.layers if layer.weights}
    missing = [name for name in layers if name not in params and name not in skip]
    extra = [name for name in params if name not in layers]
    if extra:
        raise ValueError(f"{where}: the file has weights for {', '.join(extra)}, which this network has not "
                         f"(its layers with weights: {', '.join(layers)}). The file is for another variant or "
                         "model: pass the one it was trained as.")
    if missing:
        raise ValueError(f"{where}: the file has no weights for {', '.join(missing)}. The file is for another "
                         "variant or model: pass the one it was trained as.")
    for name, values in params.items():
        if name in skip:
            continue
        want, got = _layer_shapes(layers[name]), [tuple(np.shape(v)) for v in values]
        if want != got:
            kind = "two-tower " if isinstance(layers[name], TowerConv2D) else ""
            raise ValueError(f"{where}: layer {name} ({kind}{type(layers[name]).__name__}) has weights of shapes "
                             f"{want} here, the file gives {got} (converted to this project's layout). The file is "
                             "for another variant or model: pass the one it was trained as.")
    for name, values in params.items():
        if name not in skip:
            layers[name].set_weights([np.asarray(v, np.float32) for v in values])
