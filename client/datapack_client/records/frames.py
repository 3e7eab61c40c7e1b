"""Datapacks as Arrow tables and pandas DataFrames.

    from datapack_client.frames import to_arrow, to_pandas
    table = to_arrow(repo.query("drawer_vase", bucket="positive", limit=None))
    df = to_pandas(repo.query("drawer_vase", limit=None))
    df.groupby("bucket")["delta_j"].mean()

pyarrow and pandas are imported only when these functions run (the extra
`datapack[export]`), so the client stays usable without them.

Column layout (one row per pack, `column_names()` lists them in order):

* **Flat filter columns** first: the values the service filters, sorts and
  computes statistics on, with the same defaults for null or wrongly typed
  stored values (docs/repository.md §9, the server's engine/index.py: ΔJ and trust 0.0, engine
  `pybullet`, source `real`), so an aggregate over them equals what
  `get_statistics` reports: pack_id, task_name, bucket, revision, delta_j,
  trust_score, mvd_score (null when not set), source_type, engine_type,
  wm_role, wm_model_id, schema_version, created_at (as stored),
  created_at_utc (timestamp, null when unparseable), skill_ids
  (list<int64>, trace order), has_sima, has_counterfactual, and the slice
  labels is_occluded, is_dynamic, is_static, occlusion_bucket, motion_bucket.
* **The record**, every other top-level key in schema order, typed from the
  schema tables (schema.py) with the stored values (a value of the wrong type
  becomes null, never a made-up default):
  - the modelled profiles (condition, attribution, energy, sima_annotation,
    objective_profile, process_reward_profile, embodiment_profile,
    guidance_profile) are struct columns, one child per modelled key plus
    `extra_json` for unmodelled keys;
  - free-form values whose shape the schema does not fix (agent_profile,
    episode_metrics, skill_trace, vla_plan, counterfactual_plan, the portable
    artifacts, condition.tags, the energy breakdowns, skill_contribs, ...) are
    JSON text columns: DuckDB's `json_extract` and pandas' `json.loads` read
    them, and no record forces a schema on another;
  - name -> number objects (energy.limb_energy_Wh, ...) are map<string, double>.
* `extra_json`: unmodelled top-level keys as one JSON object (null when none).

The portable artifacts of a basic-view query (left out, listed in
`omitted_fields`) have no column: their null would read as "no artifact".
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

import orjson

from datapack_client.records import jsonio, schema
from datapack_client.records.model import DataPackMeta

EXTRA_HINT = "install the extra: pip install 'datapack[export]'"

# Top-level keys that are flat columns already (not repeated in the record part).
_FLAT_TOP = ("pack_id", "task_name", "bucket", "schema_version", "created_at")
_SLICE_FLAGS = ("is_occluded", "is_dynamic", "is_static")
_SLICE_BUCKETS = ("occlusion_bucket", "motion_bucket")
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def require_extra(module: str):
    try:
        return __import__(module)
    except ImportError as exc:
        raise ImportError(f"datapack_client.frames needs {module}: {EXTRA_HINT}") from exc


# ------------------------------------------------------------------------------ coercion

def _num(v: Any) -> float | None:
    t = type(v)
    if t is float:
        return v
    if t is int:
        try:
            return float(v)
        except OverflowError:
            return None
    return None


def _int(v: Any) -> int | None:
    return v if type(v) is int and _INT64_MIN <= v <= _INT64_MAX else None


def _str(v: Any) -> str | None:
    return v if type(v) is str else None


def _bool(v: Any) -> bool | None:
    return v if type(v) is bool else None


def _json(v: Any) -> str | None:
    if v is None:
        return None
    # orjson: integer keys become strings; NaN/Infinity of old lines become null (strict JSON).
    return orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()


def _list_of(item):
    def coerce(v: Any) -> list | None:
        if type(v) is not list and type(v) is not tuple:
            return None
        return [item(x) for x in v]
    return coerce


def _num_map(v: Any) -> list | None:
    if type(v) is not dict:
        return None
    return [(str(k), _num(x)) for k, x in v.items()]


_SCALARS = {"str": _str, "num": _num, "int": _int, "bool": _bool}
_ARRAYS = {"[num]": _num, "num3": _num, "[str]": _str, "[int]": _int}
_JSON_KINDS = ("obj", "{obj}", "contribs", "trace")


def _base(kind: str) -> str:
    return kind[:-1] if kind.endswith("?") else kind


def value_coercer(kind: str):
    """The function frames applies to a stored value of this schema kind (records.schema)."""
    base = _base(kind)
    if base in _SCALARS:
        return _SCALARS[base]
    if base in _ARRAYS:
        return _list_of(_ARRAYS[base])
    if base == "{num}":
        return _num_map
    if base in _JSON_KINDS:
        return _json
    if base.startswith("P"):
        return _profile_coercer(base.split(":", 1)[1])
    raise ValueError(f"unknown schema kind {kind!r}")  # a kind added to schema.py without a column type


def _profile_coercer(name: str):
    table = schema.PROFILES[name]
    fields = [(key, value_coercer(kind)) for key, kind, _ in table]
    modelled = frozenset(k for k, _, _ in table)

    def coerce(v: Any) -> dict | None:
        if type(v) is not dict or not v:
            return None
        out = {key: fn(v.get(key)) for key, fn in fields}
        extra = {k: x for k, x in v.items() if k not in modelled}
        out["extra_json"] = _json(extra) if extra else None
        return out
    return coerce


def _arrow_type(pa, kind: str):
    base = _base(kind)
    scalar = {"str": pa.string(), "num": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    if base in scalar:
        return scalar[base]
    if base in _ARRAYS:
        return pa.list_(scalar[{"[num]": "num", "num3": "num", "[str]": "str", "[int]": "int"}[base]])
    if base == "{num}":
        return pa.map_(pa.string(), pa.float64())
    if base in _JSON_KINDS:
        return pa.string()
    if base.startswith("P"):
        table = schema.PROFILES[base.split(":", 1)[1]]
        return pa.struct([pa.field(k, _arrow_type(pa, kd)) for k, kd, _ in table] +
                         [pa.field("extra_json", pa.string())])
    raise ValueError(f"unknown schema kind {kind!r}")


# ------------------------------------------------------------------------------ flat columns

def created_utc(v: Any) -> _dt.datetime | None:
    """created_at as a UTC time, None when it is not an ISO 8601 time (docs/schema.md
    §7.3: times are UTC; the earlier library wrote them without an offset)."""
    if type(v) is not str:
        return None
    try:
        t = _dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    return t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)


def _skill_ids(rec: dict) -> list[int]:
    trace = rec.get("skill_trace")
    if type(trace) is not list:
        return []
    return [e["skill_id"] for e in trace
            if type(e) is dict and type(e.get("skill_id")) is int and 0 <= e["skill_id"] <= _INT64_MAX]


def pack_identity(v: Any) -> str | None:
    """The pack_id column: the id the service addresses the pack by, which for
    a stored id that is not a string is its JSON text (as the index keeps it)."""
    if type(v) is str or v is None:
        return v
    return jsonio.dumps_str(v)


def _obj(v: Any) -> dict:
    return v if type(v) is dict else {}


def _num_or(v: Any, default: float) -> float:
    x = _num(v)
    return default if x is None else x


def _str_or(v: Any, default: str) -> str:
    return v if type(v) is str else default


def flat_row(rec: dict, revision: int) -> tuple:
    """The flat filter columns' values of a record (in arrow_schema() order), with
    the defaults the service's index uses for null or wrongly typed values."""
    cond, attr, labels = _obj(rec.get("condition")), _obj(rec.get("attribution")), _obj(rec.get("slice_labels_v1"))
    sima = rec.get("sima_annotation")
    created = rec.get("created_at")
    return (
        pack_identity(rec.get("pack_id")), _str(rec.get("task_name")), _str(rec.get("bucket")), revision,
        _num_or(attr.get("delta_J"), 0.0), _num_or(attr.get("trust_score"), 0.0), _num(attr.get("mvd_score")),
        _str_or(attr.get("source_type"), "real"), _str_or(cond.get("engine_type"), "pybullet"),
        _str(attr.get("wm_role")), _str(attr.get("wm_model_id")),
        _str_or(rec.get("schema_version"), "2.0-energy"),
        _str(created), created_utc(created),
        _skill_ids(rec),
        type(sima) is dict and bool(sima),
        rec.get("counterfactual_plan") is not None,
        *(_bool(labels.get(k)) for k in _SLICE_FLAGS),
        *(_str(labels.get(k)) for k in _SLICE_BUCKETS),
    )


def _flat_fields(pa) -> list:
    return [
        pa.field("pack_id", pa.string()), pa.field("task_name", pa.string()), pa.field("bucket", pa.string()),
        pa.field("revision", pa.int64()), pa.field("delta_j", pa.float64()), pa.field("trust_score", pa.float64()),
        pa.field("mvd_score", pa.float64()), pa.field("source_type", pa.string()),
        pa.field("engine_type", pa.string()), pa.field("wm_role", pa.string()), pa.field("wm_model_id", pa.string()),
        pa.field("schema_version", pa.string()), pa.field("created_at", pa.string()),
        pa.field("created_at_utc", pa.timestamp("us", tz="UTC")), pa.field("skill_ids", pa.list_(pa.int64())),
        pa.field("has_sima", pa.bool_()), pa.field("has_counterfactual", pa.bool_()),
        *(pa.field(k, pa.bool_()) for k in _SLICE_FLAGS), *(pa.field(k, pa.string()) for k in _SLICE_BUCKETS),
    ]


_RECORD_KEYS = tuple((k, kind) for k, kind, _ in schema.TOP if k not in _FLAT_TOP)
_RECORD_COERCERS = tuple((k, value_coercer(kind)) for k, kind in _RECORD_KEYS)
_TOP_KEYS = frozenset(schema.TOP_KEYS)


# ------------------------------------------------------------------------------ public

def _record_and_meta(p: Any) -> tuple[dict, int, tuple]:
    """(JSON object, revision, omitted keys) of a DataPackMeta or a record dict.
    The object is only read, never changed, so no copy is made."""
    if type(p) is dict:
        return p, 1, ()
    d = p.json_object() if isinstance(p, DataPackMeta) else None
    if type(d) is not dict:
        raise TypeError(f"to_arrow takes DataPackMeta records or dicts, got {type(p).__name__}")
    return d, p.revision, p.omitted_fields


def arrow_schema(omitted: Iterable[str] = ()):
    """The Arrow schema of to_arrow() (without the columns of `omitted` keys)."""
    pa = require_extra("pyarrow")
    skip = set(omitted)
    return pa.schema(_flat_fields(pa) + [pa.field(k, _arrow_type(pa, kind)) for k, kind in _RECORD_KEYS
                                         if k not in skip] + [pa.field("extra_json", pa.string())])


def column_names(omitted: Iterable[str] = ()) -> list[str]:
    return arrow_schema(omitted).names


def to_arrow(packs: Iterable[Any], omitted: Iterable[str] | None = None):
    """A pyarrow.Table with one row per pack (DataPackMeta or record dicts),
    in the given order; the column layout is this module's docstring.
    omitted: the artifact keys without a column; default: those some pack's
    read left out (a writer of several tables passes one fixed set)."""
    pa = require_extra("pyarrow")
    rows = [_record_and_meta(p) for p in packs]
    if omitted is None:
        omitted = {k for _, _, om in rows for k in om}
    omitted = sorted(omitted)
    sch = arrow_schema(omitted)
    flat_fields = _flat_fields(pa)
    flat = [flat_row(d, rev) for d, rev, _ in rows]
    columns = [pa.array([r[i] for r in flat], type=f.type) for i, f in enumerate(flat_fields)]
    skip = set(omitted)
    for key, coerce in _RECORD_COERCERS:
        if key in skip:
            continue
        columns.append(pa.array([coerce(d.get(key)) for d, _, _ in rows], type=sch.field(key).type))
    extras = []
    for d, _, _ in rows:
        extra = {k: v for k, v in d.items() if k not in _TOP_KEYS}
        extras.append(_json(extra) if extra else None)
    columns.append(pa.array(extras, type=pa.string()))
    return pa.Table.from_arrays(columns, schema=sch)


def _table(packs_or_table: Any):
    """A pyarrow.Table as it is (e.g. from repo.query_arrow), or to_arrow(packs)."""
    pa = require_extra("pyarrow")
    return packs_or_table if isinstance(packs_or_table, pa.Table) else to_arrow(packs_or_table)


def to_pandas(packs_or_table: Any):
    """A pandas DataFrame of packs (to_arrow) or of a table from
    repo.query_arrow: struct columns become dicts, map columns lists of
    (key, value) pairs, JSON columns strings."""
    require_extra("pandas")
    return _table(packs_or_table).to_pandas()


def to_polars(packs_or_table: Any):
    """A polars DataFrame of packs (to_arrow) or of a table from
    repo.query_arrow (`pip install polars`): structs stay structs, without a copy
    where Arrow allows."""
    pl = require_extra("polars")
    return pl.from_arrow(_table(packs_or_table))


__all__ = ["EXTRA_HINT", "arrow_schema", "column_names", "created_utc", "flat_row", "pack_identity", "require_extra",
           "to_arrow", "to_pandas", "to_polars", "value_coercer"]
