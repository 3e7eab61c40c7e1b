"""Plain JSON values and the argument checks every build step shares.

Callers hand the builder numpy scalars and arrays, IntEnums, tuples, profile
objects and generators; `plain` turns them into the JSON values a stored line
holds, and the checks raise the InvalidArgumentError `append` would raise.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from datapack_client.errors import invalid
from datapack_client.records.model import Profile

# "Not given" where None is a value the caller may give.
MISSING: Any = object()


def plain(v: Any) -> Any:
    """A deep copy of `v` as plain JSON values: dict, list (tuples become lists),
    str, int, float, bool, None. Subclasses (IntEnum such as SkillID, numpy
    float64) become their base type; objects with `tolist()` (numpy scalars and
    arrays) are converted; profile objects become their JSON object. Anything
    else is returned as is (the self-check reports it)."""
    t = type(v)
    if v is None or t is str or t is int or t is float or t is bool:
        return v
    if t is dict:
        return {_plain_key(k): plain(x) for k, x in v.items()}
    if t is list or t is tuple:
        return [plain(x) for x in v]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, Profile):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {_plain_key(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    tolist = getattr(v, "tolist", None)
    if callable(tolist):
        out = tolist()
        if out is not v:
            return plain(out)
    return v


def _plain_key(k: Any) -> Any:
    if type(k) is str or type(k) is int:
        return k
    if isinstance(k, str):
        return str(k)
    if isinstance(k, int) and not isinstance(k, bool):
        return int(k)
    return k


def is_number(v: Any) -> bool:
    """An int or float, not a bool (no subclasses: run `plain` first)."""
    return (type(v) is float or type(v) is int) and type(v) is not bool


def number(v: Any, field_: str, *, reason_type: str = "FIELD_TYPE", reason_finite: str = "NUMBER_NOT_FINITE",
           what: str | None = None) -> float:
    """`v` as a finite float, else InvalidArgumentError on `field_`."""
    p = plain(v)
    if not is_number(p):
        raise invalid(field_, reason_type, f"{what or field_} must be a number, got {v!r}")
    try:
        f = float(p)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise invalid(field_, reason_finite, f"{what or field_} must be a finite number, got {v!r}")
    return f


def optional_number(v: Any, field_: str) -> float | None:
    return None if v is None else number(v, field_)


def str_list(v: Any, field_: str) -> list[str]:
    """A list of strings (None: empty), else FIELD_TYPE on `field_`."""
    if v is None:
        return []
    p = plain(v)
    if type(p) is not list or not all(type(x) is str for x in p):
        raise invalid(field_, "FIELD_TYPE", f"{field_} must be a list of strings, got {v!r}")
    return p


def as_list(v: Any) -> Any:
    """A plain copy of a list-like argument (tuples and other iterables such
    as generators become lists; strings and mappings are left to the
    self-check, which reports their type)."""
    p = plain(v)
    if type(p) is list or isinstance(p, (str, bytes, dict)) or p is None:
        return p
    try:
        return [plain(x) for x in p]
    except TypeError:
        return p


def field_of(obj: Any, name: str, default: Any = MISSING) -> Any:
    """A field of a dict or an attribute of an object."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def mapping_or_empty(v: Any) -> Mapping:
    """`v` when it is a mapping, else {} (a wrongly typed breakdown counts as empty)."""
    return v if isinstance(v, Mapping) else {}
