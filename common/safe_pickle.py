"""Reading pickles from outside (weights files, CIFAR-10's python batches) without running what they ask for.

A pickle is a small program: its ``GLOBAL`` opcodes name any importable callable and its ``REDUCE`` opcodes call it,
so ``pickle.load`` on a crafted file runs ``os.system`` or anything else before the caller sees a byte of data. The
files this project reads need nothing but plain containers, strings, numbers and NumPy arrays, so the unpickler here
resolves only the few globals that rebuild a NumPy array (and, for Python 3 pickles of protocol 2, the one that
rebuilds ``bytes``) and refuses every other global by name, before anything is called. Callers that need more (the
PyTorch reader's tensor rebuild) pass their own table of stand-ins: the file still never chooses the code that runs.

Python 2 pickles (neon's ``.p`` files, the CIFAR-10 batches) store ``str`` as bytes; ``encoding="latin1"`` (NumPy's
advice for them) turns each into the ``str`` with the same code points, so array buffers survive unchanged, and
``encoding="bytes"`` keeps them as ``bytes`` (what CIFAR-10's dict keys are).
"""

import codecs
import io
import pickle

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for a global this reader does not allow; nothing it asked for was run."""


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as Python 3 pickles ``bytes`` at protocol <= 2: ``encode(str, "latin1")``. Only that codec."""
    if codecs.lookup(encoding).name != "iso8859-1" or not isinstance(text, str):
        raise UnsafePickleError(f"the pickle asks for _codecs.encode with the codec {encoding!r}; only latin1 (how "
                                "Python writes bytes into a protocol-2 pickle) is allowed")
    return text.encode("latin1", errors)


def _numpy_core(name):
    """``numpy.core.X`` (NumPy 1 and Python 2 pickles) and ``numpy._core.X`` (NumPy 2) name the same objects."""
    import numpy._core.multiarray as multiarray
    import numpy._core.numeric as numeric
    return {"multiarray": multiarray, "numeric": numeric}[name]


# (module, name) -> a zero-argument function returning the object; only these are ever resolved.
_NUMPY_GLOBALS = {}
for _core in ("numpy.core", "numpy._core"):
    _NUMPY_GLOBALS[(f"{_core}.multiarray", "_reconstruct")] = lambda: _numpy_core("multiarray")._reconstruct
    _NUMPY_GLOBALS[(f"{_core}.multiarray", "scalar")] = lambda: _numpy_core("multiarray").scalar
    _NUMPY_GLOBALS[(f"{_core}.numeric", "_frombuffer")] = lambda: _numpy_core("numeric")._frombuffer
_NUMPY_GLOBALS[("numpy", "ndarray")] = lambda: np.ndarray
_NUMPY_GLOBALS[("numpy", "dtype")] = lambda: np.dtype
_NUMPY_GLOBALS[("_codecs", "encode")] = lambda: _latin1_encode
ALLOWED = frozenset(_NUMPY_GLOBALS)


class _Restricted(pickle.Unpickler):
    def __init__(self, file, extra_globals, persistent_load, **kwargs):
        super().__init__(file, **kwargs)
        self._extra = extra_globals or {}
        if persistent_load is not None:
            self.persistent_load = persistent_load

    def find_class(self, module, name):
        if (module, name) in self._extra:
            return self._extra[(module, name)]
        if (module, name) in _NUMPY_GLOBALS:
            return _NUMPY_GLOBALS[(module, name)]()
        raise UnsafePickleError(
            f"the pickle asks for the global {module}.{name}, which a data or weights file does not need; refused "
            "without running it (allowed: NumPy arrays and dtypes, plain containers, strings and numbers). If the file "
            "should be trusted, check where it came from; it is not what this reader expects.")


def load(file, encoding="latin1", extra_globals=None, persistent_load=None):
    """Unpickle one object from the binary file object ``file``, resolving only NumPy's array globals and
    ``extra_globals`` ({(module, name): object}); any other global raises ``UnsafePickleError`` naming it.
    ``persistent_load`` handles persistent ids (PyTorch's storages); without it a persistent id is refused."""
    return _Restricted(file, extra_globals, persistent_load, encoding=encoding).load()


def loads(data, **kwargs):
    """``load`` from bytes."""
    return load(io.BytesIO(data), **kwargs)
