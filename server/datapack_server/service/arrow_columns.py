"""Arrow columns from the values of many records at once (the record part of
the export schema, datapack_client.records.frames).

frames.to_arrow coerces value by value in Python; here a column's values are
handed to pyarrow's C conversion whole when their Python types show that the
result is the same (a float column of floats and ints, a string column of
strings, ...), and only a column holding some other type (an old line with a
string where a number belongs, a bool among numbers, an integer beyond what a
double holds exactly) is coerced value by value with frames' own rules.

The values are those of the served record, taken from the parsed lines
without building the normalised copy: a key that is missing reads as its
schema default, as normalisation would fill it in. Records with exactly the
modelled keys (every line this service writes) are transposed into columns
with C-level loops (operator.itemgetter, zip); the others key by key.
"""
from __future__ import annotations

from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from datapack_client.records import schema
from datapack_client.records.frames import require_extra, value_coercer

pa = require_extra("pyarrow")  # the extra datapack[export], named when it is missing
require_extra("pyarrow.compute")  # Array.take and cast use it: loaded with this module, not on first use

_NONE = type(None)
_NUMBER_TYPES = frozenset((float, int, _NONE))
_SCALAR_TYPES = {"str": frozenset((str, _NONE)), "num": _NUMBER_TYPES,
                 "int": frozenset((int, _NONE)), "bool": frozenset((bool, _NONE))}
_ITEM_KIND = {"[num]": "num", "num3": "num", "[str]": "str", "[int]": "int"}
_JSON_KINDS = ("obj", "{obj}", "contribs", "trace")
_DUMPS_OPTION = orjson.OPT_NON_STR_KEYS

TOP_KEYS = schema.TOP_KEYS
_TOP_SET = frozenset(TOP_KEYS) | {"_revision"}  # _revision: bookkeeping, never served
_KIND_OF = {k: kind for k, kind, _ in schema.TOP}
_TOP_INDEX = {k: i for i, k in enumerate(TOP_KEYS)}
_TOP_GETTER = itemgetter(*TOP_KEYS)
_MISSING = object()
# pyarrow loads its pandas support on its first conversion of Python values
# (~0.15 s); done on import, so worker processes forked after it (the pool's
# preload) do not each pay it on their first batch.
pa.array([""], type=pa.string())


def _base(kind: str) -> str:
    return kind[:-1] if kind.endswith("?") else kind


def _top_defaults() -> tuple:
    out = []
    for key, kind, default in schema.TOP:
        out.append(schema.default_profile(schema.PROFILE_OF_KEY[key]) if kind.startswith("P:") else default)
    return tuple(out)


_DEFAULTS = _top_defaults()  # shared and only read, never handed out
_ENV_TYPE = _TOP_INDEX["env_type"]


# ------------------------------------------------------------------------------ record values

def record_values(d: dict) -> tuple[tuple, dict | None]:
    """(the values of the TOP keys in schema order, the unmodelled keys or None)
    of a stored, non-legacy line's object, as its served (normalised) record
    has them; profiles are left as stored (their defaults are filled per child)."""
    get = d.get
    values = [get(k, _MISSING) for k in TOP_KEYS]
    for i, v in enumerate(values):
        if v is _MISSING:
            values[i] = _DEFAULTS[i]
    if "env_type" not in d:
        tn = get("task_name")
        values[_ENV_TYPE] = tn if isinstance(tn, str) else "drawer_vase"
    extra = None
    if len(d) > len(TOP_KEYS) or any(k not in _TOP_SET for k in d):
        extra = {k: v for k, v in d.items() if k not in _TOP_SET} or None
    return tuple(values), extra


def served_values(rec: dict) -> tuple[tuple, dict | None]:
    """record_values of an already normalised record (a legacy line's mapping)."""
    values = tuple(rec.get(k) for k in TOP_KEYS)
    extra = {k: v for k, v in rec.items() if k not in _TOP_SET} or None
    return values, extra


def modelled_rows(dicts: list) -> list | None:
    """The TOP values of each record when every one has exactly the modelled
    keys (in any order), else None."""
    if set(map(len, dicts)) != {len(TOP_KEYS)}:
        return None
    try:
        return list(map(_TOP_GETTER, dicts))
    except KeyError:
        return None


def columns_of(rows: list) -> list:
    """Per-record value tuples as per-key columns."""
    return list(zip(*rows)) if rows else [()] * len(TOP_KEYS)


# ------------------------------------------------------------------------------ columns

def _types(values) -> set:
    return set(map(type, values))


def _coerced(values, kind: str, typ) -> Any:
    coerce = value_coercer(kind)
    return pa.array([coerce(v) for v in values], type=typ)


_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError)


def _converted(values, kind: str, typ, fits: bool) -> Any:
    """pa.array of values whose Python types fit the column (a refusal, e.g. an
    integer beyond int64, falls back too), else coerced value by value."""
    if fits:
        try:
            return pa.array(values, type=typ)
        except _CONVERSION_ERRORS:
            pass
    return _coerced(values, kind, typ)


def scalar_column(values, kind: str, typ) -> Any:
    """Strings and bools: pyarrow refuses any other Python type for them. Numbers:
    pyarrow would take a bool as 1 or 0 (and an integer column a float), so
    the Python types are checked first; integers a double or an int64 cannot
    hold exactly are refused by pyarrow. Every refusal coerces value by value."""
    base = _base(kind)
    return _converted(values, kind, typ, base in ("str", "bool") or _types(values) <= _SCALAR_TYPES[base])


def list_column(values, kind: str, typ) -> Any:
    fits = (_types(values) <= {list, _NONE}
            and _types(chain.from_iterable(v for v in values if v is not None))
            <= _SCALAR_TYPES[_ITEM_KIND[_base(kind)]])
    return _converted(values, kind, typ, fits)


def map_column(values, kind: str, typ) -> Any:
    fits = (_types(values) <= {dict, _NONE}
            and _types(chain.from_iterable(v.values() for v in values if v is not None)) <= _NUMBER_TYPES)
    return _converted(values, kind, typ, fits)


def _dumped(values) -> list[bytes]:
    try:
        return list(map(orjson.dumps, values))
    except TypeError:  # a non-string key (not from a parsed line): frames writes it as a string
        return [orjson.dumps(v, option=_DUMPS_OPTION) for v in values]


def strings_of_bytes(parts: list[bytes], valid: list[bool] | None = None) -> Any:
    """A string array of UTF-8 byte strings (valid: None, or False where null)."""
    n = len(parts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=n), out=offsets[1:])
    data = pa.py_buffer(b"".join(parts))
    if offsets[-1] >= 2 ** 31:
        return pa.array(parts, type=pa.string())  # beyond 32-bit offsets: let pyarrow split it
    bitmap = None
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(np.array(valid, dtype=np.bool_), bitorder="little"))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), data, bitmap,
                                       null_count=-1 if valid is not None else 0)


def json_column(values) -> Any:
    """JSON text as frames writes it (orjson: integer keys as strings, NaN as null);
    None stays null. orjson writes valid UTF-8 only, so the bytes are taken as they are."""
    n = len(values)
    nones = values.count(None)
    if nones == n:
        return pa.nulls(n, type=pa.string())
    if not nones:
        return strings_of_bytes(_dumped(values))
    return strings_of_bytes(_dumped(values), [v is not None for v in values])  # None: "null" under a null bit


def _struct_rows(table, dicts: list) -> tuple[list, list | None]:
    """(the columns of a profile's modelled keys, extra_json values or None) of profile dicts."""
    keys = tuple(k for k, _, _ in table)
    if set(map(len, dicts)) == {len(keys)}:
        try:
            return list(zip(*map(itemgetter(*keys), dicts))), None
        except KeyError:
            pass
    keyset = frozenset(keys)
    rows, extras = [], []
    for v in dicts:
        rows.append(tuple([v.get(k, d) for k, _, d in table]))
        extra = {k: x for k, x in v.items() if k not in keyset} if not keyset.issuperset(v) else None
        extras.append(extra)
    return list(zip(*rows)), (extras if any(e is not None for e in extras) else None)


def struct_column(values, kind: str, typ) -> Any:
    """A profile column: a dict (for a required profile also an empty one, which
    normalisation fills with defaults; for an optional one only a non-empty
    one) becomes a struct with every modelled key (missing ones as defaults)
    and extra_json for the others; anything else is null."""
    table = schema.PROFILES[kind.split(":", 1)[1]]
    required = kind.startswith("P:")
    n = len(values)
    types = _types(values)
    if types == {dict} and (required or all(values)):
        rows = None
    elif types <= {_NONE}:
        return pa.nulls(n, type=typ)
    else:
        rows = [i for i, v in enumerate(values) if type(v) is dict and (required or v)]
        values = [values[i] for i in rows]
    if not values:
        return pa.nulls(n, type=typ)
    columns, extras = _struct_rows(table, values)
    children = [column(col, kd, typ.field(j).type) for j, (col, (_, kd, _)) in enumerate(zip(columns, table))]
    children.append(json_column(extras) if extras is not None else pa.nulls(len(values), type=pa.string()))
    dense = pa.StructArray.from_arrays(children, fields=list(typ))
    if rows is None:
        return dense
    at = np.full(n, -1, dtype=np.int64)
    at[rows] = np.arange(len(rows))
    return dense.take(pa.array(at, mask=at < 0))


def column(values, kind: str, typ) -> Any:
    """The Arrow column of one schema kind (records.schema) from its values."""
    base = _base(kind)
    if base in _SCALAR_TYPES:
        return scalar_column(values, kind, typ)
    if base in _ITEM_KIND:
        return list_column(values, kind, typ)
    if base == "{num}":
        return map_column(values, kind, typ)
    if base in _JSON_KINDS:
        return json_column(values)
    if base.startswith("P"):
        return struct_column(values, kind, typ)
    raise ValueError(f"unknown schema kind {kind!r}")


def record_column(key: str, values, typ) -> Any:
    """The column of top-level key `key` (a record key, not a flat filter column)."""
    return column(values, _KIND_OF[key], typ)


def top_index(key: str) -> int:
    return _TOP_INDEX[key]


def string_column(values: Any) -> Any:
    """Strings as they are; any other value null (frames' _str)."""
    if _types(values) <= _SCALAR_TYPES["str"]:
        return pa.array(values, type=pa.string())
    return pa.array([v if type(v) is str else None for v in values], type=pa.string())


__all__ = ["TOP_KEYS", "column", "columns_of", "json_column", "modelled_rows", "record_column", "record_values",
           "served_values", "string_column", "strings_of_bytes", "struct_column", "top_index"]
