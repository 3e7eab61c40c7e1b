"""JSON comparison for tests: key order and literal kinds matter."""
from __future__ import annotations

import math
import struct


def assert_json_same(a, b, path="$"):
    """Equal JSON values including key order and literal kinds (type() checked)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} {a!r:.80} != {type(b).__name__} {b!r:.80}"
    if type(a) is dict:
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_json_same(a[k], b[k], f"{path}.{k}")
    elif type(a) is list:
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_json_same(x, y, f"{path}[{i}]")
    elif type(a) is float:
        if math.isnan(a):
            assert math.isnan(b), f"{path}: NaN != {b!r}"
        else:
            assert a == b and math.copysign(1.0, a) == math.copysign(1.0, b), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r:.80} != {b!r:.80}"


def float_bits(v):
    """A JSON value with every float replaced by its exact 8 bytes (so -0.0,
    NaN payloads and the last bit of float32-widened doubles all count)."""
    if type(v) is float:
        return struct.pack("<d", v)
    if type(v) is list:
        return [float_bits(x) for x in v]
    if type(v) is dict:
        return {k: float_bits(x) for k, x in v.items()}
    return (type(v).__name__, v)
