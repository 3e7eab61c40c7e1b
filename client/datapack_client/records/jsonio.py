"""JSON text helpers: orjson on the fast path, the stdlib where old data needs it.

The earlier library wrote Python's json (NaN/Infinity tokens allowed); orjson
rejects those tokens, so lenient reads fall back to the stdlib parser.
"""
from __future__ import annotations

import json
import math
from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def loads(data: bytes | str) -> Any:
    """Parse JSON, accepting NaN/Infinity tokens (old lines, served records)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact JSON. Non-finite floats are written as NaN/Infinity tokens (never
    silently as null), which only values read from old lines can contain."""
    out = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    if b"null" in out and has_nonfinite(value):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return out


def dumps_str(value: Any) -> str:
    return dumps(value).decode()


def has_nonfinite(value: Any) -> bool:
    """True if a float NaN/±Infinity occurs anywhere in a JSON value."""
    t = type(value)
    if t is float:
        return not math.isfinite(value)
    if t is dict:
        return any(has_nonfinite(v) for v in value.values())
    if t is list or t is tuple:
        return any(has_nonfinite(v) for v in value)
    return False


def nonfinite_path(value: Any, path: str = "") -> str | None:
    """Dotted path of the first non-finite float in a JSON value, or None."""
    t = type(value)
    if t is float:
        return None if math.isfinite(value) else path
    if t is dict:
        for k, v in value.items():
            p = nonfinite_path(v, f"{path}.{k}" if path else str(k))
            if p is not None:
                return p
    elif t is list or t is tuple:
        for i, v in enumerate(value):
            p = nonfinite_path(v, f"{path}[{i}]")
            if p is not None:
                return p
    return None


# Strict JSON (no NaN/Infinity tokens): orjson itself, without a wrapper call.
loads_strict = orjson.loads
