"""PackedObject <-> JSON object (datapack.proto): the portable artifacts travel
with their arrays as packed numbers, not JSON text.

Exact both ways: a nested list becomes a PackedArray only when it is
rectangular, non-empty and all its elements are of one JSON kind (float, int,
bool, string); floats that are all exactly float32 values (how float32 arrays
were written) go as 4-byte floats and widen back to the identical doubles.
Everything else is JSON text in the entry.
"""
from __future__ import annotations

import gc
import math
from array import array
from collections.abc import Callable
from itertools import chain
from typing import Any

from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.records import jsonio

_FLOAT32 = pb.PACKED_ARRAY_KIND_FLOAT32
_FLOAT64 = pb.PACKED_ARRAY_KIND_FLOAT64
_INT64 = pb.PACKED_ARRAY_KIND_INT64
_BOOL = pb.PACKED_ARRAY_KIND_BOOL
_STRING = pb.PACKED_ARRAY_KIND_STRING
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class NonFiniteArray(ValueError):
    """A packed float array holds NaN or ±Infinity (refused on append, like
    NaN/Infinity tokens in JSON text)."""

    def __init__(self, path: str):
        super().__init__(f"{path}: array holds a non-finite number")
        self.path = path


class MalformedPacked(ValueError):
    """A PackedObject no encoder produces (unknown array kind, a shape that does
    not hold its values, an entry without a value): a bad argument on append."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


# --------------------------------------------------------------------------- encode


def _flatten(v: list) -> tuple[list[int], list] | None:
    """(shape, row-major elements) of a rectangular non-empty nested list whose
    leaves are not lists, or None."""
    shape = [len(v)]
    rows = [v]
    while True:
        head = rows[0][0]
        if type(head) is not list:
            break
        n = len(head)
        if n == 0:
            return None
        for r in rows:
            for x in r:
                if type(x) is not list or len(x) != n:
                    return None
        shape.append(n)
        rows = list(chain.from_iterable(rows))
    flat = list(chain.from_iterable(rows)) if len(rows) > 1 else rows[0]
    return shape, flat


def _array(v: list) -> dict | None:
    """PackedArray fields of a JSON array, or None when it must go as text."""
    if not v:
        return None
    got = _flatten(v)
    if got is None:
        return None
    shape, flat = got
    t = type(flat[0])
    if t is list or t is dict:
        return None
    for x in flat:
        if type(x) is not t:
            return None
    if t is float:
        f32 = array("f", flat)
        if f32.tolist() == flat:
            return {"kind": _FLOAT32, "shape": shape, "float_values": f32}
        return {"kind": _FLOAT64, "shape": shape, "double_values": flat}
    if t is int:
        if min(flat) < _INT64_MIN or max(flat) > _INT64_MAX:
            return None
        return {"kind": _INT64, "shape": shape, "int_values": flat}
    if t is bool:
        return {"kind": _BOOL, "shape": shape, "bool_values": flat}
    if t is str:
        return {"kind": _STRING, "shape": shape, "string_values": flat}
    return None


# Objects nested deeper than this inside a PackedObject travel as JSON text.
# Each packed level costs two message levels (PackedObject, PackedEntry) and
# protobuf parsers refuse messages nested deeper than 100 (upb's default),
# responses wrap records in up to three more levels; real artifacts nest 1-2.
MAX_PACKED_OBJECT_DEPTH = 16


def pack_object(d: dict, _depth: int = 1) -> dict:
    """Keyword arguments of the PackedObject for a JSON object."""
    entries = []
    for key, v in d.items():
        t = type(v)
        if t is list:
            arr = _array(v)
            if arr is not None:
                if "float_values" in arr:  # array('f') -> the repeated float field
                    arr["float_values"] = arr["float_values"].tolist()
                entries.append({"key": str(key), "array": arr})
                continue
        elif t is dict and _depth < MAX_PACKED_OBJECT_DEPTH:
            entries.append({"key": str(key), "object": pack_object(v, _depth + 1)})
            continue
        entries.append({"key": str(key), "json": jsonio.dumps_str(v)})
    return {"entries": entries}


# --------------------------------------------------------------------------- decode


def _reshape(flat: list, shape) -> list:
    for n in reversed(shape[1:]):
        it = iter(flat)
        flat = list(map(list, zip(*[it] * n)))  # consecutive runs of n; ~40% faster than slicing
    return flat


def _all_finite(values: list) -> bool:
    s = sum(values)
    if s - s == 0:  # finite sum: no NaN/inf among the terms
        return True
    return all(map(math.isfinite, values))


def unpack_object(msg, loads: Callable[[Any], Any] = jsonio.loads, strict: bool = False,
                  path: str = "") -> dict:
    """The JSON object of a PackedObject. strict: refuse non-finite floats
    (NonFiniteArray naming the key path)."""
    # Rebuilding nested lists allocates thousands of small acyclic objects; the
    # cyclic GC would otherwise run repeatedly over the caller's whole heap
    # (half of the decode time of a 1000-pack query). Only the thread that
    # turned it off turns it back on.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _unpack(msg, loads, strict, path)
    finally:
        if paused:
            gc.enable()


def _unpack(msg, loads, strict: bool, path: str) -> dict:
    out: dict = {}
    for e in msg.entries:
        which = e.WhichOneof("value")
        key = e.key
        if which == "array":
            a = e.array
            kind = a.kind
            if kind == _FLOAT32:
                flat = list(a.float_values)
            elif kind == _FLOAT64:
                flat = list(a.double_values)
            elif kind == _INT64:
                flat = list(a.int_values)
            elif kind == _BOOL:
                flat = list(a.bool_values)
            elif kind == _STRING:
                flat = list(a.string_values)
            else:
                raise MalformedPacked(path + key, f"packed array of unknown kind {kind}")
            if strict and (kind == _FLOAT32 or kind == _FLOAT64) and not _all_finite(flat):
                raise NonFiniteArray(path + key)
            shape = list(a.shape)
            if not shape or 0 in shape or math.prod(shape) != len(flat):
                raise MalformedPacked(path + key, f"packed array shape {shape} does not hold {len(flat)} values")
            out[key] = _reshape(flat, shape)
        elif which == "object":
            out[key] = _unpack(e.object, loads, strict, f"{path}{key}.")
        elif which == "json":
            out[key] = loads(e.json)
        else:
            raise MalformedPacked(path + key, "packed entry without a value")
    return out
