"""Query arguments (docs/repository.md §7): validation.

`make_filter()` / `make_query()` turn Python keyword arguments into a validated
QuerySpec, raising the same InvalidArgumentError in-process and in the client
(before anything is sent). The server validates what arrives over the wire with
the same functions (`datapack_client.wire.query.filter_from_proto` calls
`make_filter`), so every transport has one rule set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from datapack_client.errors import invalid
from datapack_client.records import schema
from datapack_client.records.validation_rules import shown, task_name_ok

UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET", "__bool__": lambda self: False})()
DEFAULT_LIMIT = 100
SORT_FIELDS = ("delta_j", "trust_score", "mvd_score", "created_at")

COND_STR_ATTRS = ("task_name", "engine_type", "world_id", "lighting_profile", "econ_preset")
COND_NUM_ATTRS = ("drawer_friction", "occlusion_level", "price_per_unit", "vase_break_cost", "energy_price_kWh")
COND_VEC_ATTRS = ("vase_offset", "objective_vector")


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


def is_finite_number(v: Any) -> bool:
    """An int or float (not a bool) that is finite as a double: an int beyond
    ±1.8e308 has no double (math.isfinite would raise OverflowError)."""
    try:
        return type(v) in (int, float) and math.isfinite(v)
    except OverflowError:
        return False


def _finite_number(name: str, v: Any) -> float:
    if not is_finite_number(v):
        raise invalid(name, "ARGUMENT_INVALID", f"{name} must be a finite number, got {shown(v)}")
    return float(v)


def _choice(name: str, v: Any, allowed: tuple) -> str | None:
    if v is None:
        return None
    if v not in allowed or type(v) is not str:
        raise invalid(name, "ARGUMENT_INVALID", f"{name} must be one of {', '.join(allowed)}, got {shown(v)}")
    return v


def check_task_name(task_name: Any, field: str = "task_name") -> str:
    if not task_name_ok(task_name):
        raise invalid(field, "TASK_NAME_INVALID",
                      f"{field} {shown(task_name)} must be 1-128 characters of [A-Za-z0-9_.-] without '..'")
    return task_name


SKILL_ID_MAX = 2 ** 63 - 1  # skill ids travel as int64


def check_skill_id(skill_id: Any, field: str = "skill_id") -> int:
    if type(skill_id) is not int or not 0 <= skill_id <= SKILL_ID_MAX:
        raise invalid(field, "ARGUMENT_INVALID", f"{field} must be an integer from 0 to 2^63-1, got {shown(skill_id)}")
    return skill_id


def check_limit(limit: Any, field: str = "limit") -> int | None:
    """docs/repository.md §7.5: UNSET -> 100, None -> all, n > 0 -> n."""
    if limit is UNSET:
        return DEFAULT_LIMIT
    if limit is None:
        return None
    if type(limit) is not int or limit <= 0:
        raise invalid(field, "LIMIT_INVALID", f"{field} must be a positive integer or None, got {shown(limit)}")
    return limit


# --------------------------------------------------------------------------- condition filters

@dataclass(frozen=True)
class CondOp:
    """One parsed condition filter. kind: tag | str | num | vec | min | max | flag."""

    kind: str
    key: str  # the filter key as given
    name: str  # tag name or attribute name
    value: Any


def parse_condition_filter(key: Any, value: Any) -> CondOp:
    def reject(why: str):
        raise invalid(f"condition_filters.{key}", "CONDITION_FILTER_INVALID",
                      f"condition filter {shown(key)}: {why}")

    if type(key) is not str or not key:
        reject("keys must be non-empty strings")
    vt = type(value)
    is_bool = vt is bool
    is_num = vt in (int, float)
    is_vec = vt in (list, tuple) and all(type(x) in (int, float) for x in value)
    if not (is_bool or is_num or vt is str or is_vec):
        reject("values must be booleans, numbers, strings or arrays of numbers")
    if is_num and not is_finite_number(value):
        reject("numbers must be finite")
    if is_vec and not all(is_finite_number(x) for x in value):
        reject("numbers must be finite")
    if key.startswith("tags."):
        name = key[5:]
        if not name:
            reject("tags.<name> needs a name")
        # Numbers as doubles, as they travel on the wire: the embedded repository
        # and a server then compare the same value (an int beyond 2^53 would not).
        return CondOp("tag", key, name, tuple(float(x) for x in value) if is_vec
                      else float(value) if is_num else value)
    if key in COND_STR_ATTRS:
        if vt is not str:
            reject(f"{key} compares with a string")
        return CondOp("str", key, key, value)
    if key in COND_NUM_ATTRS:
        if not is_num:
            reject(f"{key} compares with a number")
        return CondOp("num", key, key, float(value))
    if key in COND_VEC_ATTRS:
        if not is_vec:
            reject(f"{key} compares with an array of numbers")
        return CondOp("vec", key, key, tuple(float(x) for x in value))
    if key == "tags":
        reject("use tags.<name> to compare a condition tag")
    for suffix in ("_min", "_max"):
        stem = key[: -len(suffix)]
        if key.endswith(suffix) and stem in COND_NUM_ATTRS:
            if not is_num:
                reject(f"{key} is a bound and needs a number")
            return CondOp(suffix[1:], key, stem, float(value))
    if is_bool:
        return CondOp("flag", key, key, value)
    reject("unknown key (write tags.<name> to compare a condition tag with a string or number)")
    raise AssertionError  # unreachable


# --------------------------------------------------------------------------- the spec

@dataclass(frozen=True)
class FilterSpec:
    """The validated filters of docs/repository.md §7.1 (a query 'slice')."""

    bucket: str | None = None
    engine_type: str | None = None
    skill_id: int | None = None
    min_trust: float = 0.0
    min_delta_j: float | None = None
    max_delta_j: float | None = None
    min_mvd_score: float | None = None
    source_type: str | None = None
    objective_vector: tuple | None = None
    objective_similarity_threshold: float = 0.9
    condition_filters: tuple = ()
    include_sima: bool = False
    include_counterfactual: bool = False
    wm_model_id: str | None = None
    wm_role: str | None = None
    schema_version: str | None = None
    is_occluded: bool | None = None
    is_dynamic: bool | None = None
    is_static: bool | None = None
    occlusion_bucket: str | None = None
    motion_bucket: str | None = None


# The slice-label filters of docs/repository.md §7 (portable packs): name -> wire field.
SLICE_LABEL_FLAGS = ("is_occluded", "is_dynamic", "is_static")
SLICE_LABEL_BUCKETS = ("occlusion_bucket", "motion_bucket")


# Packs per batch of a streamed read (iter_query), at most.
MAX_BATCH_SIZE = 65536


@dataclass(frozen=True)
class QuerySpec:
    filter: FilterSpec
    sort_by: str | None = None
    sort_descending: bool = True
    limit: int | None = DEFAULT_LIMIT
    # False: leave schema.ARTIFACT_KEYS out of the results (DATA_PACK_VIEW_BASIC).
    include_artifacts: bool = False


def make_filter(bucket=None, engine_type=None, skill_id=None, min_trust=0.0, min_delta_j=None,
                max_delta_j=None, min_mvd_score=None, source_type=None, objective_vector=None,
                objective_similarity_threshold=0.9, condition_filters=None, include_sima=False,
                include_counterfactual=False, wm_model_id=None, wm_role=None, schema_version=None,
                is_occluded=None, is_dynamic=None, is_static=None, occlusion_bucket=None,
                motion_bucket=None) -> FilterSpec:
    bucket = _choice("bucket", bucket, schema.BUCKETS)
    engine_type = _choice("engine_type", engine_type, schema.ENGINE_TYPES)
    source_type = _choice("source_type", source_type, schema.SOURCE_TYPES)
    if skill_id is not None:
        check_skill_id(skill_id)
    min_trust = _finite_number("min_trust", min_trust)
    if min_delta_j is not None:
        min_delta_j = _finite_number("min_delta_j", min_delta_j)
    if max_delta_j is not None:
        max_delta_j = _finite_number("max_delta_j", max_delta_j)
    if min_mvd_score is not None:
        min_mvd_score = _finite_number("min_mvd_score", min_mvd_score)
    threshold = _finite_number("objective_similarity_threshold", objective_similarity_threshold)
    if not -1.0 <= threshold <= 1.0:
        raise invalid("objective_similarity_threshold", "ARGUMENT_INVALID",
                      f"objective_similarity_threshold must be in [-1, 1], got {shown(threshold)}")
    if objective_vector is not None:
        ov = objective_vector
        if (type(ov) not in (list, tuple) or len(ov) not in (3, 4)
                or not all(is_finite_number(x) for x in ov) or not any(ov)):
            raise invalid("objective_vector", "ARGUMENT_INVALID",
                          f"objective_vector must be 3 or 4 finite numbers, not all zero, got {shown(ov)}")
        objective_vector = tuple(float(x) for x in ov)
    ops: tuple = ()
    if condition_filters is not None:
        if type(condition_filters) is not dict:
            raise invalid("condition_filters", "CONDITION_FILTER_INVALID",
                          "condition_filters must be a mapping of key to value")
        ops = tuple(parse_condition_filter(k, v) for k, v in condition_filters.items())
    for name, v in (("include_sima", include_sima), ("include_counterfactual", include_counterfactual)):
        if type(v) is not bool:
            raise invalid(name, "ARGUMENT_INVALID", f"{name} must be a boolean, got {shown(v)}")
    wm_role = _choice("wm_role", wm_role, schema.WM_ROLES)
    if wm_model_id is not None and (type(wm_model_id) is not str or not wm_model_id):
        raise invalid("wm_model_id", "ARGUMENT_INVALID",
                      f"wm_model_id must be a non-empty string, got {shown(wm_model_id)}")
    schema_version = _choice("schema_version", schema_version, schema.SCHEMA_VERSIONS)
    flags = {"is_occluded": is_occluded, "is_dynamic": is_dynamic, "is_static": is_static}
    for name, v in flags.items():
        if v is not None and type(v) is not bool:
            raise invalid(name, "ARGUMENT_INVALID", f"{name} must be None or a boolean, got {shown(v)}")
    occlusion_bucket = _choice("occlusion_bucket", occlusion_bucket, schema.SLICE_BUCKETS)
    motion_bucket = _choice("motion_bucket", motion_bucket, schema.SLICE_BUCKETS)
    return FilterSpec(bucket, engine_type, skill_id, min_trust, min_delta_j, max_delta_j, min_mvd_score,
                      source_type, objective_vector, threshold, ops, include_sima, include_counterfactual,
                      wm_model_id, wm_role, schema_version, is_occluded, is_dynamic, is_static,
                      occlusion_bucket, motion_bucket)


def make_query(sort_by=None, sort_descending=True, limit=UNSET, include_artifacts=False, **filters) -> QuerySpec:
    spec = make_filter(**filters)
    if type(include_artifacts) is not bool:
        raise invalid("include_artifacts", "ARGUMENT_INVALID",
                      f"include_artifacts must be a boolean, got {shown(include_artifacts)}")
    if sort_by is not None and (type(sort_by) is not str or sort_by not in SORT_FIELDS):
        raise invalid("sort_by", "SORT_BY_INVALID",
                      f"sort_by must be None or one of {', '.join(SORT_FIELDS)}, got {shown(sort_by)}")
    if type(sort_descending) is not bool:
        raise invalid("sort_descending", "ARGUMENT_INVALID",
                      f"sort_descending must be a boolean, got {shown(sort_descending)}")
    return QuerySpec(spec, sort_by, sort_descending, check_limit(limit), include_artifacts)


# --------------------------------------------------------------------------- training usage (revisions)

@dataclass(frozen=True)
class UsageUpdate:
    """Validated arguments of update_training_usage (docs/repository.md §3.4)."""

    pack_ids: tuple
    set_role: bool  # False: keep wm_role as it is
    wm_role: str | None
    add_training_runs: tuple


def make_usage_update(pack_ids, wm_role=UNSET, add_training_runs=()) -> UsageUpdate:
    if (type(pack_ids) not in (list, tuple) or not pack_ids
            or not all(type(p) is str and p for p in pack_ids)):
        raise invalid("pack_ids", "ARGUMENT_INVALID", "pack_ids must be a non-empty list of non-empty strings")
    if wm_role is not UNSET and wm_role is not None and (type(wm_role) is not str or wm_role not in schema.WM_ROLES):
        raise invalid("wm_role", "ENUM_INVALID",
                      f"wm_role must be None or one of {', '.join(schema.WM_ROLES)}, got {shown(wm_role)}")
    if type(add_training_runs) not in (list, tuple) or not all(type(r) is str and r for r in add_training_runs):
        raise invalid("add_training_runs", "ARGUMENT_INVALID", "add_training_runs must be a list of non-empty strings")
    unique = tuple(dict.fromkeys(pack_ids))  # repeated ids are processed once, in first-seen order
    return UsageUpdate(unique, wm_role is not UNSET, None if wm_role is UNSET else wm_role,
                       tuple(dict.fromkeys(add_training_runs)))


__all__ = ["MAX_BATCH_SIZE", "UNSET", "FilterSpec", "QuerySpec", "CondOp", "UsageUpdate", "make_filter", "make_query",
           "check_limit", "check_skill_id", "check_task_name", "make_usage_update"]
