"""From a stored line to the served record (docs/schema.md §1, §7.4, §8, §10).

Reading is lenient: anything that parses as a JSON object is served; values
of the wrong type are kept as stored (computations use defaults); missing
pack_id/created_at get values derived from the line's position; legacy-shaped
dicts are mapped to the unified record with nothing lost.
"""
from __future__ import annotations

import json
import os

import orjson

from datapack_client.records import schema
from datapack_client.records.stored import served_from_stored
from datapack_client.records.validation import encoding_violation

# Deepest nesting a served line may have (containers, the record included).
# Serving re-encodes lines with orjson (at most 254 levels), legacy mapping
# moves condition_profile one level down, and appends stay at 250 or less
# (validation.MAX_RECORD_DEPTH); a deeper line would parse but crash every
# read that serves it, so it is corrupt instead.
READ_MAX_DEPTH = 252
# orjson.loads refuses more than 1024 levels: parsing a large line inside
# this many extra brackets bounds its depth at no extra cost.
_WRAP = 1024 - READ_MAX_DEPTH
_WRAP_OPEN, _WRAP_CLOSE = b"[" * _WRAP, b"]" * _WRAP
# Below this size counting the brackets is cheaper than unwrapping _WRAP lists.
_WRAPPED_PARSE_MIN = 64 << 10


class CorruptLine(ValueError):
    """The line is not one JSON object (docs/schema.md §8.5)."""


def parse_line(raw: bytes) -> dict:
    """The JSON object of a line (surrounding whitespace ignored); NaN/Infinity
    tokens of old lines accepted. Raises CorruptLine, also for a line that
    cannot be served again (nested deeper than READ_MAX_DEPTH, an integer
    beyond 64 bits, a lone surrogate)."""
    value = _wrapped_loads(raw) if len(raw) >= _WRAPPED_PARSE_MIN else None
    if value is not None:
        suspect = False
    else:
        try:
            value = orjson.loads(raw)
            suspect = raw.count(b"[") + raw.count(b"{") > READ_MAX_DEPTH
        except orjson.JSONDecodeError:
            value, suspect = _stdlib_loads(raw), True
    if type(value) is not dict:
        raise CorruptLine("not a JSON object")
    if suspect:
        bad = encoding_violation(value, READ_MAX_DEPTH)
        if bad is not None:
            raise CorruptLine(bad[1])
    return value


def _wrapped_loads(raw: bytes) -> dict | None:
    """The object of a line no deeper than READ_MAX_DEPTH, else None."""
    try:
        v = orjson.loads(_WRAP_OPEN + raw + _WRAP_CLOSE)
    except orjson.JSONDecodeError:
        return None
    for _ in range(_WRAP):
        # One element per level, or the line was several values ("{},{}").
        if len(v) != 1:
            return None
        v = v[0]
    return v if type(v) is dict else None


def _stdlib_loads(raw: bytes):
    """Old lines with NaN/Infinity tokens, which orjson refuses."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise CorruptLine(str(exc)) from None
    except RecursionError:
        raise CorruptLine("nesting too deep") from None


def served_record(d: dict, file_name: str, line_number: int, task_name: str) -> dict:
    """The record a reader serves for a parsed line (records.stored.served_from_stored),
    with the pack_id derived from the line's position when it has none."""
    pid = d.get("pack_id")
    if type(pid) is not str or not pid:
        pid = schema.derived_pack_id(file_name, line_number)
    return served_from_stored(d, pid, line_number, task_name)


def line_blocks(fd: int, start: int, end: int, chunk: int):
    """Read [start, end) of an open file (start is a line start) in chunks of
    about `chunk` bytes, yielding (block, offset, True) for each run of
    complete lines and, last, (tail, offset, False) for the bytes after the
    last newline, if any (a torn tail or a line still being written)."""
    off = start
    carry = b""
    while off < end:
        data = os.pread(fd, min(chunk, end - off), off)
        if not data:
            break
        data = carry + data
        base = off - len(carry)
        off = base + len(data)
        nl = data.rfind(b"\n")
        if nl < 0:
            carry = data
            continue
        yield data[: nl + 1], base, True
        carry = data[nl + 1:]
    if carry:
        yield carry, off - len(carry), False
