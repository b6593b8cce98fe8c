"""Reading pickles from outside (weights files, CIFAR-10's python batches) without running what they ask for.

A pickle is a small program: its ``GLOBAL`` opcodes name any importable callable, ``REDUCE`` calls it and ``BUILD``
sets the state of what it returned, so ``pickle.load`` on a crafted file runs ``os.system`` or anything else before
the caller sees a byte of data. The files this project reads need nothing but plain containers, strings, numbers and
NumPy arrays, so no real global is ever handed to the pickle here: each allowed name resolves to a stand-in of this
module that checks its arguments and builds the array itself, and every other name is refused, before anything is
called.

* ``numpy.dtype(name, align, copy)`` then its ``BUILD`` state: only booleans, integers, floats and complex numbers, in
  either byte order, without fields, subarrays or flags of their own (a dtype's state is otherwise free to claim
  objects or fields that lie outside its item: NumPy would read memory it should not).
* ``numpy.core.multiarray._reconstruct(ndarray, (0,), b"b")`` then ``BUILD (version, shape, dtype, fortran, bytes)``:
  the bytes must be exactly the array's; ``_frombuffer`` (protocol 5) and ``scalar`` likewise. ``ndarray`` itself is
  only a marker: calling it (an uninitialised array of any size) is refused.
* ``_codecs.encode(text, "latin1")``: how Python 3 writes ``bytes`` into a protocol-2 pickle; only that codec.
* Callers that need more (the PyTorch reader's tensor rebuild, ``collections.OrderedDict``) pass their own table; what
  it resolves to is wrapped so that ``BUILD`` on it is refused (a function's attributes or defaults are never set by a
  file). The arrays come back as real ``numpy.ndarray`` copies, everything else as plain Python objects.

Python 2 pickles (neon's ``.p`` files, the CIFAR-10 batches) store ``str`` as bytes; ``encoding="latin1"`` (NumPy's
advice for them) turns each into the ``str`` with the same code points, so array buffers survive unchanged, and
``encoding="bytes"`` keeps them as ``bytes`` (what CIFAR-10's dict keys are).
"""

import codecs
import io
import pickle

import numpy as np

ALLOWED_KINDS = "biufc"  # booleans, signed and unsigned integers, floats, complex numbers
MAX_DEPTH = 200  # nesting of containers in a file; deeper is refused


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for something this reader does not allow; nothing it asked for was run."""


class _Guarded:
    """A resolved global: callable as the original, but a file cannot set its state (``BUILD``)."""
    __slots__ = ("_target", "_name")

    def __init__(self, target, name):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_name", name)

    def __call__(self, *args):
        return self._target(*args)

    @property
    def target(self):
        return self._target

    def __setstate__(self, state):
        raise UnsafePickleError(f"the pickle sets the state of the global {self._name}; refused")

    def __setattr__(self, name, value):
        raise UnsafePickleError(f"the pickle sets an attribute of the global {self._name}; refused")


def _bytes(data, what):
    if isinstance(data, str):
        data = data.encode("latin1")  # a Python 2 str read with encoding="latin1"
    if isinstance(data, pickle.PickleBuffer):
        data = bytes(data.raw())
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError(f"{what}: expected the array's bytes, got a {type(data).__name__}")
    return bytes(data)


class _Dtype:
    """``numpy.dtype(name, align, copy)`` and its ``BUILD`` state, checked; ``.dtype`` is the NumPy dtype."""

    def __init__(self, name, align=False, copy=True):
        name = name.decode("latin1") if isinstance(name, bytes) else name
        try:
            self.dtype = np.dtype(name)
        except TypeError:
            raise UnsafePickleError(f"the pickle asks for the dtype {name!r}; allowed: numbers and booleans") from None
        if self.dtype.kind not in ALLOWED_KINDS or self.dtype.fields or self.dtype.subdtype:
            raise UnsafePickleError(f"the pickle asks for the dtype {name!r}; allowed: numbers and booleans")

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
            raise UnsafePickleError("a dtype state of an unknown form")
        _, order, subarray, names, fields, elsize, alignment, flags = state[:8]
        order = order.decode("latin1") if isinstance(order, bytes) else order
        if order not in ("<", ">", "|", "=") or (subarray, names, fields) != (None, None, None) or \
                (elsize, alignment) != (-1, -1) or flags != self.dtype.flags:
            raise UnsafePickleError(f"a dtype state {state!r} that describes more than a plain number")
        if order in "<>":
            self.dtype = self.dtype.newbyteorder(order)


def _dtype_of(value, what):
    if isinstance(value, _Dtype):
        return value.dtype
    raise UnsafePickleError(f"{what}: expected a dtype, got a {type(value).__name__}")


def _shape(value, what):
    if not isinstance(value, tuple) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                               for n in value):
        raise UnsafePickleError(f"{what}: the shape {value!r} is not a tuple of sizes")
    return value


def _array(data, dtype, shape, order, what):
    raw = _bytes(data, what)
    count = int(np.prod(shape, dtype=np.int64))
    if count * dtype.itemsize != len(raw):
        raise UnsafePickleError(f"{what}: an array of shape {shape} of {dtype} needs {count * dtype.itemsize:,} "
                                f"bytes, the file gives {len(raw):,} (truncated or corrupt)")
    return np.frombuffer(raw, dtype).reshape(shape, order=order).copy()


class _NdarrayMarker:
    """``numpy.ndarray`` as the first argument of ``_reconstruct``; never called."""

    def __call__(self, *args):
        raise UnsafePickleError("the pickle calls numpy.ndarray itself (an uninitialised array); refused")

    def __setstate__(self, state):
        raise UnsafePickleError("the pickle sets the state of numpy.ndarray; refused")


class _Array:
    """``_reconstruct(ndarray, (0,), b"b")``, then ``BUILD (version, shape, dtype, is_fortran, bytes)``."""

    def __init__(self, cls, shape, typecode):
        if not isinstance(cls, _NdarrayMarker) or shape != (0,):
            raise UnsafePickleError("numpy's _reconstruct called with arguments that no saved array has")
        self.array = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
            raise UnsafePickleError("an array state of an unknown form")
        _, shape, dtype, fortran, data = state
        self.array = _array(data, _dtype_of(dtype, "an array"), _shape(shape, "an array"),
                            "F" if fortran else "C", "an array")


def _frombuffer(buffer, dtype, shape, order):
    """numpy's protocol-5 array rebuild."""
    return _array(buffer, _dtype_of(dtype, "an array"), _shape(shape, "an array"), order if order in "CF" else "C",
                  "an array")


def _scalar(dtype, data=None):
    dtype = _dtype_of(dtype, "a NumPy scalar")
    return _array(data, dtype, (), "C", "a NumPy scalar")[()]


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as Python 3 pickles ``bytes`` at protocol <= 2: ``encode(str, "latin1")``. Only that codec."""
    if not isinstance(encoding, str) or codecs.lookup(encoding).name != "iso8859-1" or not isinstance(text, str):
        raise UnsafePickleError(f"the pickle asks for _codecs.encode with the codec {encoding!r}; only latin1 (how "
                                "Python writes bytes into a protocol-2 pickle) is allowed")
    return text.encode("latin1", "strict")


_NUMPY = {}
for _core in ("numpy.core", "numpy._core"):  # NumPy 1 and Python 2 pickles name numpy.core; NumPy 2 numpy._core
    _NUMPY[(f"{_core}.multiarray", "_reconstruct")] = _Array
    _NUMPY[(f"{_core}.multiarray", "scalar")] = _scalar
    _NUMPY[(f"{_core}.numeric", "_frombuffer")] = _frombuffer
_NUMPY[("numpy", "dtype")] = _Dtype
_NUMPY[("_codecs", "encode")] = _latin1_encode
ALLOWED = frozenset(_NUMPY) | {("numpy", "ndarray")}


def _finish(value, depth=0):
    """The unpickled value with every array stand-in replaced by its array (in place for dicts and lists)."""
    if depth > MAX_DEPTH:
        raise UnsafePickleError(f"containers nested more than {MAX_DEPTH} deep")
    if isinstance(value, _Array):
        if value.array is None:
            raise UnsafePickleError("an array without its data")
        return value.array
    if isinstance(value, _Dtype):
        return value.dtype
    if isinstance(value, _Guarded):  # a global given as a value, not called
        return value.target
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _finish(value[key], depth + 1)
        return value
    if isinstance(value, list):
        value[:] = [_finish(v, depth + 1) for v in value]
        return value
    if isinstance(value, tuple):
        return tuple(_finish(v, depth + 1) for v in value)
    return value


class _Restricted(pickle.Unpickler):
    def __init__(self, file, extra_globals, persistent_load, **kwargs):
        super().__init__(file, **kwargs)
        self._extra = extra_globals or {}
        if persistent_load is not None:
            self.persistent_load = persistent_load

    def find_class(self, module, name):
        if (module, name) in self._extra:
            return _Guarded(self._extra[(module, name)], f"{module}.{name}")
        if (module, name) == ("numpy", "ndarray"):
            return _NdarrayMarker()
        if (module, name) in _NUMPY:
            return _Guarded(_NUMPY[(module, name)], f"{module}.{name}")
        raise UnsafePickleError(
            f"the pickle asks for the global {module}.{name}, which a data or weights file does not need; refused "
            "without running it (allowed: NumPy arrays of numbers, plain containers, strings and numbers). If the "
            "file should be trusted, check where it came from; it is not what this reader expects.")


def resolved(value):
    """What a global handed to ``persistent_load`` stands for (the object given in ``extra_globals``)."""
    return value.target if isinstance(value, _Guarded) else value


def load(file, encoding="latin1", extra_globals=None, persistent_load=None):
    """Unpickle one object from the binary file object ``file``, resolving only NumPy's array globals (to checked
    stand-ins) and ``extra_globals`` ({(module, name): object}); any other global raises ``UnsafePickleError`` naming
    it. ``persistent_load`` handles persistent ids (PyTorch's storages); without it a persistent id is refused."""
    try:
        value = _Restricted(file, extra_globals, persistent_load, encoding=encoding).load()
    except RecursionError:
        raise UnsafePickleError("containers nested too deeply") from None
    return _finish(value)


def loads(data, **kwargs):
    """``load`` from bytes."""
    return load(io.BytesIO(data), **kwargs)
