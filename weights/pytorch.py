"""PyTorch checkpoints (a ``state_dict`` saved by ``torch.save``) read without PyTorch and without running the file.

Two layouts, both written by ``torch/serialization.py`` ([pytorch-serialization]):

* the zip layout (PyTorch >= 1.6): a zip archive whose ``<name>/data.pkl`` pickles the state dict with each tensor as
  ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` and each storage as the
  persistent id ``("storage", torch.FloatStorage, key, location, numel)``; the storage's bytes are the archive
  member ``<name>/data/<key>``, little-endian (``<name>/byteorder``).
* the legacy layout (PyTorch 0.1.10 to 1.5; torchvision's first AlexNet file, ``alexnet-owt-4df8aa71.pth``, predates
  even it, and ``alexnet-owt-7be5be79.pth`` is that file re-saved in 2021, most likely zipped: [torchvision-weights]):
  five pickles in a row (a magic number, the protocol version 1001, system information, the state dict with persistent ids
  ``("storage", type, key, location, numel, view_metadata)``, the list of storage keys), then for each key in that
  list an 8-byte little-endian element count and the storage's bytes.

The pickles go through ``common.safe_pickle``: besides NumPy's checked stand-ins, the only globals resolved are
``collections.OrderedDict``, the tensor rebuild functions and the storage types, each to a stand-in here; a tensor is
rebuilt only from a storage the file's persistent ids name, within its bounds, and the tensors together may not claim
much more than the storages hold; zip members must be stored uncompressed, as PyTorch writes them (nothing is
inflated). A file that asks for anything else (a pickled ``nn.Module`` names its class) is refused by name. Returns
{name: array} in PyTorch's layouts (conv ``(out, in, kh, kw)``, linear ``(out, in)``).
"""

import collections
import io
import struct
import zipfile

import numpy as np

from common import files, safe_pickle
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
        self.itemsize = 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """A storage a persistent id names (the only objects a tensor may be rebuilt from): its type, its element count
    as the id gives it, and its elements once read."""

    def __init__(self, kind, numel):
        self.kind, self.numel, self.values = kind, numel, None

    def fill(self, raw, path, key):
        if len(raw) != self.numel * self.kind.itemsize:
            raise ValueError(f"{path}: storage {key} holds {len(raw):,} bytes, its id says {self.numel:,} elements "
                             f"of {self.kind.itemsize} (truncated or corrupt)")
        if self.kind.dtype == "bfloat16":  # widened exactly to float32
            self.values = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            self.values = np.frombuffer(raw, np.dtype(self.kind.dtype).newbyteorder("<")).astype(self.kind.dtype)


class _Tensor:
    """``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``, rebuilt once the storages are read."""

    def __init__(self, storage, offset, size, stride, *unused):
        if not isinstance(storage, _Storage):
            raise ValueError("a tensor rebuilt from data of the pickle's own, not from one of the file's storages "
                             "(crafted or corrupt)")
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self):
        storage, offset = self.storage, self.offset
        size, stride = tuple(self.size), tuple(self.stride)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (offset,) + size + stride) \
                or len(size) != len(stride):
            raise ValueError(f"a tensor of size {size}, stride {stride} and offset {offset}: not a valid layout")
        count = int(np.prod(size, dtype=np.int64))
        if count == 0:
            return np.zeros(size, storage.values.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if count > storage.numel or last >= storage.numel:
            raise ValueError(f"a tensor of size {size} at offset {offset} reaches past its storage of "
                             f"{storage.numel:,} elements (truncated or corrupt)")
        view = np.lib.stride_tricks.as_strided(storage.values[offset:], size,
                                               tuple(s * storage.values.itemsize for s in stride), writeable=False)
        return np.array(view)


def _rebuild_parameter(data, requires_grad=False, hooks=None, *unused):
    return data


def _globals():
    table = {("collections", "OrderedDict"): collections.OrderedDict,
             ("torch._utils", "_rebuild_tensor_v2"): _Tensor,
             ("torch._utils", "_rebuild_tensor"): _Tensor,
             ("torch._utils", "_rebuild_parameter"): _rebuild_parameter}
    for name in _STORAGE_DTYPES:
        table[("torch", name)] = _StorageType(name)
    return table


def _persistent_loader(storages, legacy):
    """``persistent_load`` for PyTorch's storage ids: one ``_Storage`` per key, however often the file names it."""
    def persistent_load(pid):
        if not isinstance(pid, tuple) or len(pid) != (6 if legacy else 5) or pid[0] != "storage":
            raise ValueError(f"a persistent id {pid!r:.80}: not one of PyTorch's storages")
        kind, key, numel = safe_pickle.resolved(pid[1]), pid[2], pid[4]
        if not isinstance(kind, _StorageType) or not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise ValueError(f"a storage id {pid!r:.80}: not one of PyTorch's storages")
        if legacy and pid[5] is not None:
            raise ValueError("a legacy storage view (PyTorch before 1.0): save the file again with a newer PyTorch")
        if key not in storages:
            storages[key] = _Storage(kind, numel)
        elif (storages[key].kind, storages[key].numel) != (kind, numel):
            raise ValueError(f"storage {key} is named with two types or sizes")
        return storages[key]
    return persistent_load


def _tensors(value, storages, path):
    """``value`` with every ``_Tensor`` turned into its array; the tensors may not claim more elements than the
    storages hold, however often they share one."""
    budget = [2 * sum(s.numel for s in storages.values()) + 1_000_000]

    def walk(v):
        if isinstance(v, _Tensor):
            if v.storage.values is None:
                raise ValueError(f"{path}: a tensor's storage is missing from the file")
            budget[0] -= int(np.prod(v.size, dtype=np.int64))
            if budget[0] < 0:
                raise ValueError(f"{path}: its tensors claim more elements than its storages hold (corrupt)")
            return v.array()
        if isinstance(v, dict):
            out = type(v)() if isinstance(v, collections.OrderedDict) else {}
            for key, item in v.items():
                out[key] = walk(item)
            return out
        if isinstance(v, (list, tuple)):
            return type(v)(walk(item) for item in v)
        return v
    return walk(value)


def _read_zip(data, path):
    archive = zipfile.ZipFile(io.BytesIO(data))
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        keras = " (a Keras .keras file: pass it as --model_file)" if "config.json" in archive.namelist() else ""
        raise ValueError(f"{path}: a zip archive without one <name>/data.pkl: not a PyTorch checkpoint{keras}")
    prefix = pickles[0][:-len("data.pkl")]

    def stored(name):
        """A member's bytes; PyTorch stores every record uncompressed, so nothing here is inflated."""
        info = archive.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{path}: the member {name} is compressed; PyTorch stores its records uncompressed")
        return archive.read(info)
    if prefix + "byteorder" in archive.namelist() and stored(prefix + "byteorder") != b"little":
        raise ValueError(f"{path}: a big-endian PyTorch checkpoint; re-save it on a little-endian machine")
    storages = {}
    state = safe_pickle.loads(stored(pickles[0]), extra_globals=_globals(),
                              persistent_load=_persistent_loader(storages, legacy=False))
    for key, storage in storages.items():
        try:
            storage.fill(stored(f"{prefix}data/{key}"), path, key)
        except KeyError:
            raise ValueError(f"{path}: storage {key} is missing from the archive (truncated or corrupt)") from None
    return _tensors(state, storages, path)


def _read_legacy(data, path):
    f = io.BytesIO(data)
    load = lambda **kw: safe_pickle.load(f, extra_globals=_globals(), **kw)  # noqa: E731
    if load() != LEGACY_MAGIC:
        raise ValueError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor the legacy magic number)")
    protocol = load()
    if protocol != LEGACY_PROTOCOL:
        raise ValueError(f"{path}: legacy PyTorch protocol {protocol!r}; this reader knows {LEGACY_PROTOCOL}")
    info = load()
    if not isinstance(info, dict) or not info.get("little_endian", True):
        raise ValueError(f"{path}: a big-endian PyTorch checkpoint; re-save it on a little-endian machine")
    storages = {}
    # a tensor's storage comes after the pickle that refers to it: the tensors are rebuilt once all are read
    state = load(persistent_load=_persistent_loader(storages, legacy=True))
    keys = load()
    if not isinstance(keys, list) or set(keys) != set(storages):
        raise ValueError(f"{path}: the list of storages does not match the ones the state dict names")
    for key in keys:
        (count,) = struct.unpack("<q", f.read(8))
        storage = storages[key]
        if count != storage.numel:
            raise ValueError(f"{path}: storage {key} holds {count:,} elements, its id says {storage.numel:,}")
        storage.fill(f.read(count * storage.kind.itemsize), path, key)
    return _tensors(state, storages, path)


def read_state_dict(path):
    """{parameter name: NumPy array} from a PyTorch checkpoint file at ``path`` (either layout).

    A checkpoint whose top level is a dict holding the state dict under ``"state_dict"`` or ``"model"`` (as
    training scripts often save) is unwrapped. Errors name the file and what was wrong."""
    data = files.read_bytes(path)
    try:
        if data[:4] == b"PK\x03\x04":  # a zip archive, even when truncated (its directory is at the end)
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
