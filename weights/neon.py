"""neon's serialized models (``Model.save_params``: ``alexnet.p``, ``cifar10_allcnn_e350.p``) read without neon.

The layout, as ``Model.serialize`` writes it from neon v1.2 (the seeds' e7ab2c2e2, v1.4.0 and v2.3.0;
[neon-serialize]): a Python 2 pickle (protocol 2; NumPy arrays and plain containers only, read here through
``common.safe_pickle`` with ``encoding="latin1"``) of ``{"neon_version", "backend": {"compat_mode", ...},
"model": {"config": {"layers": [...]}}, "epoch_index", ...}``. The layer list is flat (``Conv`` and ``Affine`` are
saved as their parts: ``Convolution``, ``Bias``, ``Activation``; ``Linear``, ``Bias``, ``Activation``; from v2.2 a
convolution with a bias is one ``Convolution_bias``), each ``{"type", "config", "params": {"W", ...}}``, and a
config leaves out every argument at its default (``Dropout`` without ``keep`` keeps 0.5).

The conventions this import handles ([neon-layers], [neon-backend]):
* a convolution's ``W`` is ``(C*R*S, K)``, rows ordered (c, r, s) with s fastest, a cross-correlation; its bias
  ``(K, 1)`` (``Bias`` or ``weight_bias``); a ``Linear``'s ``W`` is ``(nout, nin)`` and reads the feature map
  flattened as (C, H, W);
* dropout: in neon's own mode a kept unit is not rescaled in training and inference multiplies by ``keep``; that
  factor is folded into the weights of the layer that reads the dropout's output (exact: the next layer is linear
  in its input, and zero padding stays zero). In Caffe compatibility mode (``backend.compat_mode == "caffe"``)
  dropout is inverted, as here, and nothing is folded;
* pooling: neon's own mode floors the output size (CaffeNet's pool5 is 5x5 at 224: fc6 reads 6,400 inputs, the
  ``neon`` variant's); Caffe compatibility mode ceils it (6x6, 9,216), which no variant here builds: refused;
* channels: neon's ImageNet loaders give BGR planes (OpenCV's decoder; [neon-imagenet-input]), so an AlexNet's
  conv1 is turned to RGB; its mean (B 127, G 119, R 104) is ``--mean=neon``. CIFAR-10's planes are RGB: nothing
  to turn;
* classes: neon's ImageNet labels follow the ILSVRC2012 devkit (``meta.mat``, ILSVRC2012_ID - 1), not sorted
  WNIDs; ``weights.load_into(..., class_order=...)`` reorders the class layer from a list the user gives.
  neon's All-CNN pads CIFAR-10's 10 classes to 16 outputs (the ``neon`` All-CNN variant's).
"""

import re
import zlib

import numpy as np

from common import files, safe_pickle
from weights import convert

# neon_version strings ("1.2.1+e7ab2c2", "1.4.0+bc196cb", "2.3.0+9eb09d7") of the serialization read here.
HANDLED = ((1, 2), (2, 3))  # from v1.2.0 (the first with the model's topology in the file) to v2.3.x


def _version(text):
    match = re.match(r"(\d+)\.(\d+)", str(text))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _flatten(layers):
    for layer in layers:
        if isinstance(layer, dict) and layer.get("container"):
            yield from _flatten(layer.get("config", {}).get("layers", []))
        else:
            yield layer


MAX_UNZIPPED = 4 << 30  # bytes a gzipped file may inflate to (neon's AlexNet files are ~250 MB)


def _gunzip(data, path):
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_UNZIPPED)
    except zlib.error as err:
        raise ValueError(f"{path}: a damaged gzip file ({err})") from None
    if inflater.unconsumed_tail:
        raise ValueError(f"{path}: a gzip file that inflates past {MAX_UNZIPPED >> 30} GiB: not a neon model file")
    if not inflater.eof:
        raise ValueError(f"{path}: a truncated gzip file; download it again")
    return out


def read(path):
    """The file at ``path`` as ``{"compat_mode", "layers": [(kind, config, params)]}`` (``kind`` the last part of
    neon's layer type, e.g. "Convolution")."""
    data = files.read_bytes(path)
    if data[:2] == b"\x1f\x8b":  # neon's load_obj reads .gz files too
        data = _gunzip(data, path)
    try:
        saved = safe_pickle.loads(data, encoding="latin1")
    except safe_pickle.UnsafePickleError as err:
        raise ValueError(f"{path}: {err}") from None
    except Exception as err:  # truncated, or not a pickle at all
        raise ValueError(f"{path}: not a readable neon model file ({type(err).__name__}: {err}); download it "
                         "again") from None
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: a pickle of a {type(saved).__name__}, not a neon model file")
    if "model" not in saved:
        if "layer_params_states" in saved:
            raise ValueError(f"{path}: a neon file from before v1.2 (only 'layer_params_states', no topology); "
                             f"handled: neon v{HANDLED[0][0]}.{HANDLED[0][1]} to v{HANDLED[1][0]}.{HANDLED[1][1]}. "
                             "Load it in that neon and save it again with Model.save_params.")
        raise ValueError(f"{path}: a pickle without neon's 'model' key (keys: {', '.join(map(str, saved))}): not a "
                         "neon model file")
    version = _version(saved.get("neon_version"))
    if version is None or not HANDLED[0] <= version <= HANDLED[1]:
        raise ValueError(f"{path}: written by neon {saved.get('neon_version')!r}; handled: neon "
                         f"v{HANDLED[0][0]}.{HANDLED[0][1]} to v{HANDLED[1][0]}.{HANDLED[1][1]} (the seeds' "
                         "e7ab2c2e2, v1.4.0 and v2.3.0)")
    try:
        layers = [(str(layer["type"]).rsplit(".", 1)[-1], dict(layer.get("config", {})), layer.get("params", {}))
                  for layer in _flatten(saved["model"]["config"]["layers"])]
        compat_mode = (saved.get("backend") or {}).get("compat_mode", "neon")
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise ValueError(f"{path}: a neon file without the model's layer list ({type(err).__name__}: {err})") \
            from None
    return {"compat_mode": compat_mode, "layers": layers}


def _param(params, key, path, name):
    value = params.get(key) if isinstance(params, dict) else None
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise ValueError(f"{path}: layer {name} has no numeric {key!r} array: not a neon model file, or a damaged one")
    return value.astype(np.float32)


def layer_table(saved, path):
    try:
        return _layer_table(saved, path)
    except (KeyError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{path}: not a readable neon model file: a layer without what neon saves "
                         f"({type(err).__name__}: {err})") from None


def _layer_table(saved, path):
    """The file's weighted layers in order, [(kind, kernel in Caffe's (K, C, R, S) or (nout, nin), bias or None,
    the product of the dropout keeps before it)] ("conv" or "linear"), with neon's conventions applied but for the
    flattening order and the channel order."""
    neon_mode = saved["compat_mode"] != "caffe"
    table, keep = [], 1.0
    for kind, config, params in saved["layers"]:
        if keep != 1.0 and kind not in ("Dropout", "Activation", "Pooling", "Convolution", "Convolution_bias",
                                        "Linear"):
            raise ValueError(f"{path}: a {kind} layer ({config.get('name')}) between a dropout and the next layer "
                             "with weights: its inference scaling cannot be folded into those weights")
        if kind == "Dropout":
            keep *= float(config.get("keep", 0.5)) if neon_mode else 1.0  # 0.5: neon's default, left out
        elif kind in ("Convolution", "Convolution_bias"):
            w = _param(params, "W", path, config.get("name"))
            r, s, k = (int(x) for x in config["fshape"])
            if w.ndim != 2 or w.shape[1] != k or w.shape[0] % (r * s):
                raise ValueError(f"{path}: convolution {config.get('name')} has W of shape {w.shape}; expected "
                                 f"(C*{r}*{s}, {k})")
            kernel = w.reshape(-1, r, s, k).transpose(3, 0, 1, 2)
            bias = _param(params, "weight_bias", path, config.get("name")).reshape(-1) \
                if "weight_bias" in params else None
            table.append(["conv", kernel, bias, keep, config.get("name")])
            keep = 1.0
        elif kind == "Linear":
            table.append(["linear", _param(params, "W", path, config.get("name")), None, keep, config.get("name")])
            keep = 1.0
        elif kind == "Bias":
            if not table or table[-1][2] is not None:
                raise ValueError(f"{path}: a Bias layer ({config.get('name')}) that follows no convolution or "
                                 "linear layer")
            table[-1][2] = _param(params, "W", path, config.get("name")).reshape(-1)
        elif kind in ("BatchNorm", "Deconvolution", "LSTM", "Recurrent", "RecurrentSum"):
            raise ValueError(f"{path}: a neon {kind} layer ({config.get('name')}): no network here has one")
    return table


def to_params(saved, model, path, bgr=None):
    """{layer name: weights as ``get_weights()`` takes them} for ``model`` (an AlexNet 'neon' or 'neon_nolrn', or
    the All-CNN 'neon'): the file's weighted layers in order onto the model's. ``bgr`` (None: yes for an AlexNet,
    trained on ImageNet through neon's BGR loaders) turns the first layer from BGR to RGB."""
    table = layer_table(saved, path)
    ours = [layer for layer in model.layers if layer.weights]
    if len(table) != len(ours):
        raise ValueError(f"{path}: the file has {len(table)} layers with weights "
                         f"({', '.join(str(t[4]) for t in table)}), {model.name} has {len(ours)} "
                         f"({', '.join(layer.name for layer in ours)}): the file is for another variant or model")
    if saved["compat_mode"] == "caffe" and any(kind == "Pooling" for kind, _, _ in saved["layers"]) and any(
            t[0] == "linear" for t in table):
        raise ValueError(f"{path}: trained in neon's Caffe compatibility mode (--caffe: ceil-mode pooling, inverted "
                         f"dropout), but {model.name} is neon's own mode (floor-mode pooling); no variant here builds "
                         "the other")
    params = {}
    for (kind, kernel, bias, keep, _), layer in zip(table, ours):
        if kind == "conv":
            weights = convert.conv_from_oihw(kernel * np.float32(keep), bias, convert.towers(model, layer.name))
        else:
            weights = convert.dense_from_out_in(kernel * np.float32(keep), bias,
                                                convert.flattened_chw(model, layer.name))
        params[layer.name] = weights
    if bgr is None:
        bgr = model.name.startswith("alexnet")  # ImageNet, through neon's OpenCV loaders
    if bgr:
        first = ours[0].name
        params[first] = convert.swap_rgb_bgr(params[first])
    return params
