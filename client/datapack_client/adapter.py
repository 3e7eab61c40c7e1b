"""SkillDataPackAdapter: skill-level analytics over a repository (docs/adapter.md).

    from datapack_client import SkillDataPackAdapter
    adapter = SkillDataPackAdapter(repo)          # DataPackRepo or DataPackClient
    adapter.get_skill_statistics("drawer_vase", skill_id=4)

Arguments are validated and defaulted here, identically for both transports,
before anything is computed or sent. Each method then makes one call
`repo._analyze(method, task_name, slice_spec, **validated_args)`: the embedded
repository computes it on its in-memory index, the client sends one RPC and the
server computes it the same way. `query_by_source_type` is a plain query
(`repo._query`, i.e. QueryDataPacks over the wire).

Every method also takes an optional keyword `slice`: a dict of `query()`
filters (bucket=..., engine_type=..., condition_filters=..., ...) applied
before the analysis, as if the store held only the matching packs.
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading
from typing import Any

from datapack_client.errors import invalid
from datapack_client.records.query import (
    SKILL_ID_MAX,
    UNSET,
    FilterSpec,
    QuerySpec,
    check_limit,
    check_task_name,
    is_finite_number,
    make_filter,
)
from datapack_client.records.results import VALUE_MATRIX_CONDITIONS, SkillValueMatrix
from datapack_client.records.validation_rules import shown

# The value matrix's columns and type live with the other result types.
CONDITIONS = VALUE_MATRIX_CONDITIONS
BUCKETS = ("positive", "negative")


# --------------------------------------------------------------------------- argument checks

def _int_arg(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_skill(skill_id: Any, field: str = "skill_id") -> int:
    """An integer ≥ 0 (an IntEnum such as SkillID.GRASP_HANDLE counts; bool does not)."""
    if not _int_arg(skill_id) or not 0 <= skill_id <= SKILL_ID_MAX:  # ids travel as int64
        raise invalid(field, "ARGUMENT_INVALID", f"{field} must be an integer from 0 to 2^63-1, got {shown(skill_id)}")
    return int(skill_id)


def check_bucket(bucket: Any, required: bool) -> str | None:
    if bucket is None and not required:
        return None
    if type(bucket) is not str or bucket not in BUCKETS:
        raise invalid("bucket", "ARGUMENT_INVALID", f"bucket must be one of positive, negative, got {shown(bucket)}")
    return bucket


def check_number(name: str, v: Any, optional: bool = False) -> float | None:
    if v is None and optional:
        return None
    if not is_finite_number(v):
        raise invalid(name, "ARGUMENT_INVALID", f"{name} must be a finite number, got {shown(v)}")
    return float(v)


def check_top_k(v: Any, field: str) -> int | None:
    """docs/repository.md §7.5 limit rules (a positive integer or None)."""
    if v is UNSET:
        raise invalid(field, "LIMIT_INVALID", f"{field} must be a positive integer or None")
    return check_limit(v, field)


def check_strings(name: str, v: Any, non_empty_items: bool) -> list:
    if type(v) not in (list, tuple) or not all(type(t) is str and (t or not non_empty_items) for t in v):
        what = "non-empty strings" if non_empty_items else "strings"
        raise invalid(name, "ARGUMENT_INVALID", f"{name} must be a list of {what}, got {shown(v)}")
    return list(v)


def check_bool(name: str, v: Any) -> bool:
    if type(v) is not bool:
        raise invalid(name, "ARGUMENT_INVALID", f"{name} must be a boolean, got {shown(v)}")
    return v


def check_skill_ids(v: Any) -> list | None:
    """Value-matrix rows: None, or distinct integers ≥ 0 (whether each is a
    known skill of the task is checked where the data is)."""
    if v is None:
        return None
    if type(v) not in (list, tuple):
        raise invalid("skill_ids", "UNKNOWN_SKILL", f"skill_ids must be a list of skill ids, got {shown(v)}")
    seen: set = set()
    out = []
    for s in v:
        if not _int_arg(s) or not 0 <= s <= SKILL_ID_MAX:
            raise invalid("skill_ids", "UNKNOWN_SKILL",
                          f"skill_ids: {shown(s)} is not a skill id (an integer from 0 to 2^63-1)")
        if int(s) in seen:
            raise invalid("skill_ids", "UNKNOWN_SKILL", f"skill_ids: {int(s)} is repeated")
        seen.add(int(s))
        out.append(int(s))
    return out


def check_output_path(output_path: Any) -> str:
    """export_skill_report's file: a non-empty path (str or os.PathLike)."""
    try:
        path = os.fspath(output_path)
    except TypeError:
        path = None
    if type(path) is not str or not path:
        raise invalid("output_path", "ARGUMENT_INVALID", f"output_path must be a file path, got {shown(output_path)}")
    return path


def check_slice(slice_: Any) -> FilterSpec | None:
    """The `slice` keyword: None, a dict of query() filters, or a FilterSpec."""
    if slice_ is None or isinstance(slice_, FilterSpec):
        return slice_
    if type(slice_) is not dict:
        raise invalid("slice", "ARGUMENT_INVALID", f"slice must be a dict of query() filters, got {shown(slice_)}")
    try:
        return make_filter(**slice_)
    except TypeError:
        allowed = ", ".join(f.name for f in dataclasses.fields(FilterSpec))
        bad = sorted(k for k in slice_ if k not in {f.name for f in dataclasses.fields(FilterSpec)})
        raise invalid("slice", "ARGUMENT_INVALID",
                      f"slice: unknown filter(s) {', '.join(map(str, bad))} (allowed: {allowed})") from None


# --------------------------------------------------------------------------- the adapter

class SkillDataPackAdapter:
    """Skill ↔ DataPack analytics (docs/adapter.md §3) over an embedded DataPackRepo
    or a DataPackClient; identical results and errors on both."""

    def __init__(self, repo):
        self.repo = repo

    def _run(self, method: str, task_name: Any, slice_: Any, **args):
        check_task_name(task_name)
        return self.repo._analyze(method, task_name, check_slice(slice_), **args)

    # §3.1
    def get_skill_statistics(self, task_name: str, skill_id: int, *, slice=None) -> dict:
        return self._run("get_skill_statistics", task_name, slice, skill_id=check_skill(skill_id))

    # §3.2
    def get_all_skills_performance(self, task_name: str, *, slice=None) -> dict:
        return self._run("get_all_skills_performance", task_name, slice)

    # §3.3
    def get_skill_training_data(self, task_name: str, skill_id: int, bucket: str = "positive",
                                min_trust: float = 0.9, top_k: int | None = 100, *, slice=None) -> list[dict]:
        return self._run("get_skill_training_data", task_name, slice, skill_id=check_skill(skill_id),
                         bucket=check_bucket(bucket, True), min_trust=check_number("min_trust", min_trust),
                         top_k=check_top_k(top_k, "top_k"))

    # §3.4
    def get_skill_failure_modes(self, task_name: str, skill_id: int, top_k: int | None = 20, *,
                                slice=None) -> list[dict]:
        return self._run("get_skill_failure_modes", task_name, slice, skill_id=check_skill(skill_id),
                         top_k=check_top_k(top_k, "top_k"))

    # §3.5
    def get_skill_sequence_patterns(self, task_name: str, bucket: str = "positive", top_k: int | None = 100, *,
                                    slice=None) -> dict:
        return self._run("get_skill_sequence_patterns", task_name, slice, bucket=check_bucket(bucket, True),
                         top_k=check_top_k(top_k, "top_k"))

    # §3.6
    def compute_skill_value_matrix(self, task_name: str, skill_ids=None, *, slice=None) -> SkillValueMatrix:
        return self._run("compute_skill_value_matrix", task_name, slice, skill_ids=check_skill_ids(skill_ids))

    # §3.7
    def recommend_skill_for_condition(self, task_name: str, condition_tags, *, slice=None) -> list[tuple]:
        return self._run("recommend_skill_for_condition", task_name, slice,
                         condition_tags=check_strings("condition_tags", condition_tags, True))

    # §3.8
    def extract_contrastive_pairs(self, task_name: str, skill_id: int, n_pairs: int | None = 50, *,
                                  slice=None) -> list[tuple]:
        return self._run("extract_contrastive_pairs", task_name, slice, skill_id=check_skill(skill_id),
                         n_pairs=check_top_k(n_pairs, "n_pairs"))

    # §3.9
    def generate_skill_curriculum(self, task_name: str, skill_id: int, n_levels: int = 3, *,
                                  slice=None) -> list[dict]:
        skill_id = check_skill(skill_id)
        if not _int_arg(n_levels) or n_levels < 1:
            raise invalid("n_levels", "ARGUMENT_INVALID", f"n_levels must be an integer ≥ 1, got {shown(n_levels)}")
        return self._run("generate_skill_curriculum", task_name, slice, skill_id=skill_id, n_levels=int(n_levels))

    # §3.10
    def query_by_energy_driver_tags(self, task_name: str, energy_tags, bucket: str | None = None,
                                    match_all: bool = False, limit=UNSET, *, slice=None) -> list:
        return self._run("query_by_energy_driver_tags", task_name, slice,
                         energy_tags=check_strings("energy_tags", energy_tags, False),
                         bucket=check_bucket(bucket, False), match_all=check_bool("match_all", match_all),
                         limit=check_limit(limit))

    # §3.11: a plain query (QueryDataPacks over the wire), the slice merged into its filter.
    def query_by_source_type(self, task_name: str, source_type: str, bucket: str | None = None,
                             min_trust: float = 0.0, limit=UNSET, *, slice=None) -> list:
        check_task_name(task_name)
        f = make_filter(bucket=bucket, source_type=source_type, min_trust=min_trust)
        spec = QuerySpec(f, None, True, check_limit(limit))
        base = check_slice(slice)
        if base is not None:
            merged = _intersect(base, f)
            if merged is None:
                return []
            spec = QuerySpec(merged, None, True, spec.limit)
        return self.repo._query(task_name, spec)

    # §3.12
    def query_by_attribution_ranges(self, task_name: str, min_delta_mpl=None, max_delta_mpl=None,
                                    min_delta_error=None, max_delta_error=None, min_delta_ep=None,
                                    max_delta_ep=None, min_trust: float = 0.0, max_trust: float = 1.0,
                                    bucket: str | None = None, limit=UNSET, *, slice=None) -> list:
        bounds = {name: check_number(name, v, optional=True) for name, v in (
            ("min_delta_mpl", min_delta_mpl), ("max_delta_mpl", max_delta_mpl),
            ("min_delta_error", min_delta_error), ("max_delta_error", max_delta_error),
            ("min_delta_ep", min_delta_ep), ("max_delta_ep", max_delta_ep))}
        return self._run("query_by_attribution_ranges", task_name, slice, **bounds,
                         min_trust=check_number("min_trust", min_trust),
                         max_trust=check_number("max_trust", max_trust), bucket=check_bucket(bucket, False),
                         limit=check_limit(limit))

    # §3.13
    def get_env_type_statistics(self, task_name: str, *, slice=None) -> dict:
        return self._run("get_env_type_statistics", task_name, slice)

    # §3.14
    def get_datapack_ids_for_skill(self, task_name: str, skill_id: int, bucket: str | None = None, *,
                                   slice=None) -> list[str]:
        return self._run("get_datapack_ids_for_skill", task_name, slice, skill_id=check_skill(skill_id),
                         bucket=check_bucket(bucket, False))

    # §3.15
    def summarize_energy_usage(self, task_name: str, *, slice=None) -> dict:
        return self._run("summarize_energy_usage", task_name, slice)

    # §3.16: built by the repository (one consistent read), written here.
    def export_skill_report(self, task_name: str, output_path, *, slice=None) -> dict:
        path = check_output_path(output_path)
        report = self._run("skill_report", task_name, slice)
        write_json_atomic(path, report)
        return report


def _intersect(a: FilterSpec, b: FilterSpec) -> FilterSpec | None:
    """a ∧ b for b holding only bucket / source_type / min_trust (None: nothing
    can match both)."""
    out = {}
    for name in ("bucket", "source_type"):
        x, y = getattr(a, name), getattr(b, name)
        if x is not None and y is not None and x != y:
            return None
        out[name] = x if x is not None else y
    out["min_trust"] = max(a.min_trust, b.min_trust)
    return dataclasses.replace(a, **out)


def write_json_atomic(path: str, value: Any) -> None:
    """`json.dump(value, indent=2)` (no trailing newline), written to a temporary
    file in the target folder (created if missing), fsynced and renamed over
    `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(value, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


__all__ = ["SkillDataPackAdapter", "SkillValueMatrix", "CONDITIONS"]
