"""PyTorch checkpoints (a ``state_dict`` saved by ``torch.save``) read without PyTorch and without running the file.

Two layouts, both written by ``torch/serialization.py`` ([pytorch-serialization]):

* the zip layout (PyTorch >= 1.6): a zip archive whose ``<name>/data.pkl`` pickles the state dict with each tensor as
  ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` and each storage as the
  persistent id ``("storage", torch.FloatStorage, key, location, numel)``; the storage's bytes are the archive
  member ``<name>/data/<key>``, little-endian (``<name>/byteorder``).
* the legacy layout (PyTorch < 1.6; torchvision's ``alexnet-owt-7be5be79.pth`` was saved in 2017): five pickles
  in a row (a magic number, the protocol version 1001, system information, the state dict with persistent ids
  ``("storage", type, key, location, numel, view_metadata)``, the list of storage keys), then for each key in that
  list an 8-byte little-endian element count and the storage's bytes.

The pickles go through ``common.safe_pickle``: the only globals resolved are ``collections.OrderedDict``, the
tensor rebuild functions and the storage types, each to a stand-in here that builds a NumPy array; a file that asks
for anything else (a pickled ``nn.Module`` names its class) is refused by name. Returns {name: float32 array} in
PyTorch's layouts (conv ``(out, in, kh, kw)``, linear ``(out, in)``).
"""

import collections
import io
import struct
import zipfile

import numpy as np

from common import safe_pickle
from weights import convert

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16, "LongStorage": np.int64,
    "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "BFloat16Storage": "bfloat16",
}


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]

    def __repr__(self):
        return f"torch.{self.name}"


def _as_numpy(raw, dtype):
    """A storage's little-endian bytes as a 1-D array (bfloat16 widened exactly to float32)."""
    if dtype == "bfloat16":
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
    return np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).astype(dtype)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    """torch._utils._rebuild_tensor_v2's arguments, as a NumPy array (copied out of the storage)."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ValueError(f"a tensor of size {size} and stride {stride}: not a valid layout")
    if size and min(size) == 0:
        return np.zeros(size, storage.dtype)
    last = int(offset) + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or last >= storage.size:
        raise ValueError(f"a tensor of size {size} at offset {offset} reaches element {last} of a storage of "
                         f"{storage.size}: the file is truncated or corrupt")
    view = np.lib.stride_tricks.as_strided(storage[int(offset):], size,
                                           tuple(s * storage.itemsize for s in stride), writeable=False)
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, hooks=None, *unused):
    return data


def _globals(rebuild=_rebuild_tensor):
    table = {("collections", "OrderedDict"): collections.OrderedDict,
             ("torch._utils", "_rebuild_tensor_v2"): rebuild,
             ("torch._utils", "_rebuild_tensor"): rebuild,
             ("torch._utils", "_rebuild_parameter"): _rebuild_parameter}
    for name in _STORAGE_DTYPES:
        table[("torch", name)] = _StorageType(name)
    return table


def _storage_type(pid):
    kind = pid[1]
    if not isinstance(kind, _StorageType):
        raise ValueError(f"a storage of type {kind!r}: not one of torch's storage types")
    return kind


def _read_zip(data, path):
    archive = zipfile.ZipFile(io.BytesIO(data))
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise ValueError(f"{path}: a zip archive without one <name>/data.pkl: not a PyTorch checkpoint")
    prefix = pickles[0][:-len("data.pkl")]
    if prefix + "byteorder" in archive.namelist() and archive.read(prefix + "byteorder") != b"little":
        raise ValueError(f"{path}: a big-endian PyTorch checkpoint; re-save it on a little-endian machine")

    def persistent_load(pid):
        kind = _storage_type(pid)
        raw = archive.read(f"{prefix}data/{pid[2]}")
        return _as_numpy(raw, kind.dtype)
    return safe_pickle.loads(archive.read(pickles[0]), extra_globals=_globals(), persistent_load=persistent_load)


def _read_legacy(data, path):
    f = io.BytesIO(data)
    # a tensor's storage comes after the pickle that refers to it: rebuild the tensors once the storages are read
    table = _globals(rebuild=lambda *args: _PendingTensor(args))
    load = lambda **kw: safe_pickle.load(f, extra_globals=table, **kw)  # noqa: E731
    if load() != LEGACY_MAGIC:
        raise ValueError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor the legacy magic number)")
    protocol = load()
    if protocol != LEGACY_PROTOCOL:
        raise ValueError(f"{path}: legacy PyTorch protocol {protocol!r}; this reader knows {LEGACY_PROTOCOL}")
    info = load()
    if not info.get("little_endian", True):
        raise ValueError(f"{path}: a big-endian PyTorch checkpoint; re-save it on a little-endian machine")
    storages = {}

    def persistent_load(pid):
        kind = _storage_type(pid)
        key = pid[2]
        storages.setdefault(key, [kind, None])
        return _Pending(key)
    result = load(persistent_load=persistent_load)
    keys = load()
    for key in keys:
        kind = storages[key][0] if key in storages else None
        (count,) = struct.unpack("<q", f.read(8))
        itemsize = 2 if kind is not None and kind.dtype == "bfloat16" else np.dtype(
            kind.dtype if kind else np.uint8).itemsize
        raw = f.read(count * itemsize)
        if len(raw) != count * itemsize:
            raise ValueError(f"{path}: truncated (storage {key} needs {count * itemsize:,} bytes, "
                             f"{len(raw):,} left)")
        if kind is not None:
            storages[key][1] = _as_numpy(raw, kind.dtype)
    return _resolve_pending(result, {key: value[1] for key, value in storages.items()})


class _Pending:
    """A legacy storage not read yet: its bytes come after the pickle that refers to it."""
    def __init__(self, key):
        self.key = key


class _PendingTensor:
    def __init__(self, args):
        self.args = args


def _resolve_pending(obj, storages):
    if isinstance(obj, _PendingTensor):
        storage, *rest = obj.args
        return _rebuild_tensor(storages[storage.key], *rest)
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for key, value in obj.items():
            out[key] = _resolve_pending(value, storages)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve_pending(v, storages) for v in obj)
    return obj


def read_state_dict(path):
    """{parameter name: NumPy array} from a PyTorch checkpoint file at ``path`` (either layout).

    A checkpoint whose top level is a dict holding the state dict under ``"state_dict"`` or ``"model"`` (as
    training scripts often save) is unwrapped. Errors name the file and what was wrong."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        if zipfile.is_zipfile(io.BytesIO(data)):
            state = _read_zip(data, path)
        else:
            state = _read_legacy(data, path)
    except safe_pickle.UnsafePickleError as err:
        hint = (" (a whole pickled model: save model.state_dict() instead)" if "torch.nn" in str(err)
                or "models." in str(err) else "")
        raise ValueError(f"{path}: {err}{hint}") from None
    except (EOFError, struct.error, zipfile.BadZipFile, KeyError, IndexError, TypeError, AttributeError) as err:
        raise ValueError(f"{path}: truncated or not a PyTorch checkpoint ({type(err).__name__}: {err})") from None
    except ValueError as err:
        message = str(err)
        raise ValueError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    except Exception as err:  # a pickle error of any other kind: the file is not what it claims
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {err})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise ValueError(f"{path}: a PyTorch file that holds no state dict of tensors (got {type(state).__name__})")
    return dict(state)



# torchvision's ImageNet normalisation, (x / 255 - mean) / std on RGB ([torchvision-weights]: the weights'
# transforms, ImageClassification(crop_size=224, resize_size=256) with these defaults).
TORCHVISION_MEAN_RGB = (0.485, 0.456, 0.406)
TORCHVISION_STD_RGB = (0.229, 0.224, 0.225)
# torchvision.models.alexnet's parameter names ([torchvision-alexnet]) -> this project's layers.
TORCHVISION_ALEXNET = {"features.0": "conv1", "features.3": "conv2", "features.6": "conv3", "features.8": "conv4",
                       "features.10": "conv5", "classifier.1": "fc6", "classifier.4": "fc7", "classifier.6": "fc8"}


def to_params(state, model, path):
    """{layer name: weights as ``get_weights()`` takes them} for ``one_weird_trick`` from torchvision's AlexNet
    state dict. The conventions: kernels (out, in, kh, kw) and linear weights (out, in); fc6 reads pool5 flattened as
    (C, H, W) (torchvision's AdaptiveAvgPool2d((6, 6)) is the identity at 224, where pool5 is 6x6); RGB input, as
    here; the normalisation's division by 255 * std folded into conv1's kernel (exact: it scales each input
    channel, and conv1's zero padding is zero in either scale), its mean subtracted by the input pipeline
    (``--mean=torchvision``, 255 * mean), not folded, because a constant folded into the bias would differ from
    torchvision's in the zero-padded border."""
    names = set(state)
    known = {f"{prefix}.{kind}" for prefix in TORCHVISION_ALEXNET for kind in ("weight", "bias")}
    if not names & known:
        raise ValueError(f"{path}: a state dict without torchvision AlexNet's parameters (features.0.weight, ..., "
                         f"classifier.6.bias); its first keys: {', '.join(sorted(names)[:4])}")
    unknown = sorted(names - known)
    if unknown:
        raise ValueError(f"{path}: parameters {', '.join(unknown[:4])} are not torchvision AlexNet's; the file is "
                         "for another network")
    params = {}
    for prefix, layer in TORCHVISION_ALEXNET.items():
        weight, bias = state.get(f"{prefix}.weight"), state.get(f"{prefix}.bias")
        if weight is None:
            continue
        if weight.ndim == 4:
            params[layer] = convert.conv_from_oihw(weight, bias, convert.towers(model, layer))
        else:
            params[layer] = convert.dense_from_out_in(weight, bias, convert.flattened_chw(model, layer))
    if "conv1" in params and params["conv1"][0].shape[2] == 3:
        scale = 1.0 / (255.0 * np.asarray(TORCHVISION_STD_RGB, np.float32))
        params["conv1"][0] = params["conv1"][0] * scale[None, None, :, None]
    return params
