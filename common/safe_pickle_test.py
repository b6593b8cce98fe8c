"""The restricted unpickler: data round-trips, and a pickle that asks for code is refused before anything runs."""

import os
import pickle
import sys

import numpy as np
import pytest

from common import safe_pickle


class _Payload:
    """Pickles to ``os.system(command)``: what a crafted file would carry."""
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_arrays_and_containers_round_trip_at_every_protocol(protocol):
    rng = np.random.default_rng(0)
    value = {b"data": rng.integers(0, 255, (4, 7), dtype=np.uint8), "w": rng.standard_normal((3, 2), np.float32),
             "list": [1, 2.5, "x", (None, True)], "scalar": np.float64(0.25), "fortran": np.asfortranarray(
                 rng.standard_normal((3, 4)))}
    back = safe_pickle.loads(pickle.dumps(value, protocol=protocol), encoding="bytes")
    assert back.keys() == value.keys()
    for key in (b"data", "w", "fortran"):
        assert back[key].dtype == value[key].dtype and np.array_equal(back[key], value[key])
    assert back["list"] == value["list"] and back["scalar"] == 0.25


def test_python2_pickle_of_an_array_loads_with_latin1():
    # A NumPy array as Python 2 (protocol 2) pickles it: numpy.core.multiarray._reconstruct, the buffer as a py2 str
    # (SHORT_BINSTRING), which latin1 turns into a str whose code points are the bytes.
    buffer = np.arange(6, dtype="<f4").tobytes()
    py2 = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01K\x00\x85q\x02U\x01b\x87q\x03Rq"
           b"\x04(K\x01K\x02K\x03\x86q\x05cnumpy\ndtype\nq\x06U\x02f4K\x00K\x01\x87Rq\x07(K\x03U\x01<NNNJ\xff\xff\xff"
           b"\xffJ\xff\xff\xff\xffK\x00tb\x89U\x18" + buffer + b"tb.")
    array = safe_pickle.loads(py2, encoding="latin1")
    assert array.dtype == np.float32 and np.array_equal(array, np.arange(6, dtype=np.float32).reshape(2, 3))


def test_a_global_outside_the_allowed_set_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    data = pickle.dumps({"W": _Payload(f"touch {marker}")}, protocol=2)
    with pytest.raises(safe_pickle.UnsafePickleError, match=r"asks for the global (posix|os)\.system.*refused"):
        safe_pickle.loads(data)
    assert not marker.exists()
    # the same file through pickle itself runs the command: the test's payload is real
    pickle.loads(data)
    assert marker.exists()


def test_codecs_encode_is_only_latin1():
    class Evil:
        def __reduce__(self):
            import _codecs
            return _codecs.encode, ("print(1)", "rot13")
    with pytest.raises(safe_pickle.UnsafePickleError, match="codec 'rot13'"):
        safe_pickle.loads(pickle.dumps(Evil(), protocol=2))
    assert safe_pickle.loads(pickle.dumps(b"\x00\xffab", protocol=2)) == b"\x00\xffab"


def test_persistent_ids_and_extra_globals_only_when_the_caller_gives_them():
    class Saver(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", "k0") if obj is sys else None
    import io
    buffer = io.BytesIO()
    Saver(buffer, protocol=2).dump([sys, 1])
    with pytest.raises(pickle.UnpicklingError, match="persistent"):
        safe_pickle.loads(buffer.getvalue())
    assert safe_pickle.loads(buffer.getvalue(), persistent_load=lambda pid: pid[1]) == ["k0", 1]
    data = pickle.dumps(np.float32, protocol=2)  # the global numpy.float32, not in the default set
    with pytest.raises(safe_pickle.UnsafePickleError, match="numpy.float32"):
        safe_pickle.loads(data)
    assert safe_pickle.loads(data, extra_globals={("numpy", "float32"): "f4"}) == "f4"


class _Reduce:
    """Pickles as ``callable(*args)`` followed by ``BUILD state`` (when given): what a crafted file can ask for."""
    def __init__(self, callable_, args, state=None):
        self.callable_, self.args, self.state = callable_, args, state

    def __reduce__(self):
        return (self.callable_, self.args) if self.state is None else (self.callable_, self.args, self.state)


def test_crafted_numpy_constructs_are_refused_before_numpy_sees_them():
    # a dtype whose state claims a field far outside its 8-byte item (NumPy would read memory it should not)
    far_field = _Reduce(np.dtype, ("V8", False, True), (3, "|", None, ("a",), {"a": (np.dtype("f8"), 10**6)}, 8, 1, 0))
    with pytest.raises(safe_pickle.UnsafePickleError, match="dtype 'V8'"):
        safe_pickle.loads(pickle.dumps(far_field, protocol=2))
    plain_with_fields = _Reduce(np.dtype, ("f8", False, True), (3, "<", None, ("a",), {"a": (np.dtype("f8"), 8)},
                                                              8, 1, 0))
    with pytest.raises(safe_pickle.UnsafePickleError, match="describes more than a plain number"):
        safe_pickle.loads(pickle.dumps(plain_with_fields, protocol=2))
    with pytest.raises(safe_pickle.UnsafePickleError, match="dtype 'O8'"):  # object pointers from the file's bytes
        safe_pickle.loads(pickle.dumps(_Reduce(np.dtype, ("O8", False, True)), protocol=2))
    with pytest.raises(safe_pickle.UnsafePickleError, match="calls numpy.ndarray itself"):  # 8 GB, uninitialised
        safe_pickle.loads(pickle.dumps(_Reduce(np.ndarray, ((10**9,), "f8")), protocol=2))
    short = pickle.dumps(np.arange(4, dtype=np.float32), protocol=2).replace(b"K\x04\x85", b"K\x09\x85")
    with pytest.raises(safe_pickle.UnsafePickleError, match=r"needs 36 bytes, the file gives 16"):
        safe_pickle.loads(short)


def test_a_file_cannot_set_the_state_of_an_allowed_global():
    # GLOBAL _codecs.encode, then BUILD with slot state {"__defaults__": ...}: would change the function for good
    data = (b"\x80\x02c_codecs\nencode\nq\x00N}q\x01X\x0c\x00\x00\x00__defaults__q\x02X\x05\x00\x00\x00utf-8q\x03"
            b"\x85q\x04s\x86q\x05b.")
    with pytest.raises(safe_pickle.UnsafePickleError, match="sets the state of the global _codecs.encode"):
        safe_pickle.loads(data)
    assert safe_pickle.loads(pickle.dumps(b"\xff", protocol=2)) == b"\xff"  # still latin1


def test_containers_nested_too_deep_are_refused():
    value = []
    for _ in range(300):
        value = [value]
    with pytest.raises(safe_pickle.UnsafePickleError, match="nested"):
        safe_pickle.loads(pickle.dumps(value, protocol=2))
