"""The protocol-buffer wire format, the little of it a ``.caffemodel`` needs: read (and, for the tests' files, write)
messages as lists of (field number, value) without generated code or a Caffe install.

Wire types (https://protobuf.dev/programming-guides/encoding/): 0 varint, 1 fixed 64-bit, 2 length-delimited
(strings, bytes, sub-messages, packed repeated numbers), 5 fixed 32-bit. Groups (3, 4) are refused.
"""

import numpy as np


class WireError(ValueError):
    """Bytes that are not a well-formed protocol-buffer message."""


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("a varint runs past the end of the data (truncated)")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("a varint longer than 10 bytes")


def fields(data):
    """[(field number, wire type, value)] of one message: ints for wire types 0, 1 and 5 (raw bits for 1 and 5),
    a memoryview for wire type 2."""
    data = memoryview(data)
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            if pos + 8 > len(data):
                raise WireError("a 64-bit field runs past the end of the data (truncated)")
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise WireError(f"field {number}: {length:,} bytes announced, {len(data) - pos:,} left (truncated)")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            if pos + 4 > len(data):
                raise WireError("a 32-bit field runs past the end of the data (truncated)")
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise WireError(f"field {number}: wire type {wire} (groups or invalid)")
        out.append((number, wire, value))
    return out


def floats(entries):
    """A repeated float field (packed: wire type 2; or one fixed-32 entry each) as a float32 array."""
    parts = []
    for _, wire, value in entries:
        if wire == 2:
            if len(value) % 4:
                raise WireError("a packed float field whose length is not a multiple of 4")
            parts.append(np.frombuffer(value, "<f4"))
        elif wire == 5:
            parts.append(np.array([value], "<u4").view("<f4"))
        else:
            raise WireError(f"a float field with wire type {wire}")
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def doubles(entries):
    parts = []
    for _, wire, value in entries:
        if wire == 2:
            parts.append(np.frombuffer(value, "<f8"))
        elif wire == 1:
            parts.append(np.array([value], "<u8").view("<f8"))
        else:
            raise WireError(f"a double field with wire type {wire}")
    return np.concatenate(parts) if parts else np.zeros(0, np.float64)


def ints(entries):
    """A repeated integer field (packed or not) as a list of Python ints (two's complement for negatives)."""
    out = []
    for _, wire, value in entries:
        if wire == 2:
            pos, raw = 0, bytes(value)
            while pos < len(raw):
                v, pos = _varint(raw, pos)
                out.append(v)
        elif wire == 0:
            out.append(value)
        else:
            raise WireError(f"an integer field with wire type {wire}")
    return [v - (1 << 64) if v >= 1 << 63 else v for v in out]


def by_number(entries):
    """{field number: [entries]} in file order."""
    grouped = {}
    for entry in entries:
        grouped.setdefault(entry[0], []).append(entry)
    return grouped


def text(entries):
    """The last occurrence of a string field (protobuf's rule for a repeated scalar read as singular), or ''."""
    return bytes(entries[-1][2]).decode("utf-8") if entries else ""


# --- writing (the tests write caffemodels in the real format) ---

def _encode_varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint_field(number, value):
    return _encode_varint(number << 3) + _encode_varint(value)


def bytes_field(number, payload):
    payload = bytes(payload)
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def packed_floats(number, values):
    return bytes_field(number, np.asarray(values, "<f4").tobytes())


def packed_varints(number, values):
    return bytes_field(number, b"".join(_encode_varint(int(v)) for v in values))

