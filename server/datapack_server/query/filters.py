"""Query filters (docs/repository.md §7.1-§7.3) over a task index: a boolean mask per
filter, evaluated on numpy columns; a filter on an interned value is evaluated
once per distinct value, then broadcast through the codes."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from datapack_client.records.query import FilterSpec
from datapack_server.engine.index import BUCKET_CODES, Interner, TaskIndex, cosine_match

_STR_ATTR_COLS = {"task_name": "c_task", "engine_type": "engine", "world_id": "c_world",
                  "lighting_profile": "c_light", "econ_preset": "c_preset"}
_NUM_ATTR_COLS = {"drawer_friction": "c_friction", "occlusion_level": "c_occlusion", "price_per_unit": "c_price",
                  "vase_break_cost": "c_break", "energy_price_kWh": "c_energy_price"}


def per_value(interner: Interner, fn: Callable[[Any], bool]) -> np.ndarray:
    """Evaluate fn once per distinct interned value -> lookup table of booleans."""
    return np.fromiter((fn(v) for v in interner.values), dtype=np.bool_, count=len(interner.values))


def _cond_tags(interner: Interner) -> list[dict]:
    return [orjson.loads(v) for v in interner.values]


class Rows:
    """Column access over every row of an index (rows None) or over the rows
    given, in that order: filters are evaluated the same way on both, so a
    scan in sort order can test a few thousand candidates instead of all."""

    __slots__ = ("ix", "rows", "n")

    def __init__(self, ix: TaskIndex, rows: np.ndarray | None = None):
        self.ix, self.rows = ix, rows
        self.n = ix.n if rows is None else len(rows)

    def __call__(self, name: str) -> np.ndarray:
        col = self.ix.view(name)
        return col if self.rows is None else col[self.rows]

    def none(self) -> np.ndarray:
        return np.zeros(self.n, np.bool_)


def match(ix: TaskIndex, f: FilterSpec) -> np.ndarray:
    """Positions (append order) of the packs that pass every filter of f."""
    return np.flatnonzero(mask(Rows(ix), f))


def mask(v: Rows, f: FilterSpec) -> np.ndarray:
    """Per row of v: whether the pack passes every filter of f."""
    ix = v.ix
    out = v("trust") >= f.min_trust
    if f.bucket is not None:
        out &= v("bucket") == BUCKET_CODES[f.bucket]
    if f.engine_type is not None:
        out &= _code_equal(v, "engine", f.engine_type)
    if f.skill_id is not None:
        sid = f.skill_id
        table = per_value(ix.cats["trace"], lambda t: sid in t)
        out &= table[v("trace")] if len(table) else False
    if f.min_delta_j is not None:
        out &= v("delta_j") >= f.min_delta_j
    if f.max_delta_j is not None:
        out &= v("delta_j") <= f.max_delta_j
    if f.min_mvd_score is not None:
        out &= v("mvd_present") & (v("mvd") >= f.min_mvd_score)
    if f.source_type is not None:
        out &= _code_equal(v, "source", f.source_type)
    if f.objective_vector is not None:
        out &= cosine_match(v("c_objective"), v("c_objective_ok"), f.objective_vector,
                            f.objective_similarity_threshold)
    for op in f.condition_filters or ():
        out &= condition_mask(v, op)
    for value, col in ((f.wm_model_id, "wm_model"), (f.wm_role, "wm_role"), (f.schema_version, "schema"),
                       (f.occlusion_bucket, "sl_occ_bucket"), (f.motion_bucket, "sl_motion_bucket")):
        if value is not None:
            out &= _code_equal(v, col, value)
    for flag, col in ((f.is_occluded, "sl_occluded"), (f.is_dynamic, "sl_dynamic"), (f.is_static, "sl_static")):
        if flag is not None:
            out &= v(col) == (1 if flag else 0)
    if f.include_sima:
        out &= v("has_sima")
    if f.include_counterfactual:
        out &= (v("bucket") != BUCKET_CODES["negative"]) | v("has_cf")
    return out


def _code_equal(v: Rows, col: str, value: Any) -> np.ndarray | bool:
    code = v.ix.cats[col].codes.get(value)
    return (v(col) == code) if code is not None else False


def _json_scalar_equal(a: Any, b: Any) -> bool:
    """Filter equality: booleans equal only booleans, numbers compare by value."""
    if type(a) is bool or type(b) is bool:
        return type(a) is bool and type(b) is bool and a == b
    if type(a) in (int, float) and type(b) in (int, float):
        return a == b
    if type(b) is tuple:
        return (type(a) is list and len(a) == len(b)
                and all(type(x) in (int, float) and type(x) is not bool and x == y for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


def condition_mask(v: TaskIndex | Rows, op: Any) -> np.ndarray:
    """Per row (of an index: every row): whether the pack's condition
    attributes or tags pass one condition filter (kinds tag, str,
    num/min/max, vec, flag)."""
    if not isinstance(v, Rows):
        v = Rows(v)
    ix = v.ix
    if op.kind == "tag":
        tables = _cond_tags(ix.cats["condtags"])
        table = np.fromiter((op.name in t and _json_scalar_equal(t[op.name], op.value) for t in tables),
                            dtype=np.bool_, count=len(tables))
        return table[v("condtags")] if len(table) else v.none()
    if op.kind == "str":
        col = _STR_ATTR_COLS[op.name]
        code = ix.cats[col].codes.get(op.value)
        return v(col) == code if code is not None else v.none()
    if op.kind in ("num", "min", "max"):
        values = v(_NUM_ATTR_COLS[op.name])
        if op.kind == "num":
            return values == op.value
        return values >= op.value if op.kind == "min" else values <= op.value
    if op.kind == "vec":
        return _vector_mask(v, op.name, op.value)
    if op.kind == "flag":
        return _flag_mask(v, op.name, op.value)
    raise AssertionError(op.kind)


def _vector_mask(v: Rows, name: str, value: tuple) -> np.ndarray:
    if name == "vase_offset":
        if len(value) != 3:
            return v.none()
        return np.all(v("c_offset") == np.array(value), axis=1)
    # objective_vector: compare the stored array (3 or 4 numbers) element-wise.
    lens = v("c_objective_len")
    vec = v("c_objective")
    want = np.array(value + (0.0,) * (4 - len(value)))[: 4] if len(value) <= 4 else None
    if want is None:
        return v.none()
    k = len(value)
    return (lens == k) & np.all(vec[:, :k] == want[:k], axis=1)


def _flag_mask(v: Rows, name: str, want: Any) -> np.ndarray:
    """A flag is read from the condition tags when they carry it, else from
    the semantic tags (present = true)."""
    ix = v.ix
    tables = _cond_tags(ix.cats["condtags"])
    has = np.fromiter((name in t for t in tables), dtype=np.bool_, count=len(tables))
    eq = np.fromiter((name in t and _json_scalar_equal(t[name], want) for t in tables), dtype=np.bool_,
                     count=len(tables))
    sem = per_value(ix.cats["semtags"], lambda tags: (name in tags) == want)
    codes = v("condtags")
    in_tags = has[codes] if len(has) else v.none()
    by_tags = eq[codes] if len(eq) else v.none()
    by_sem = sem[v("semtags")] if len(sem) else v.none()
    return np.where(in_tags, by_tags, by_sem)
