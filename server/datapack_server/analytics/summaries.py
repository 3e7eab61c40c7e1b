"""Summaries of a task or slice: per env type, energy use, and the skill report
(docs/adapter.md §3.13, §3.15, §3.16).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from datapack_client.records.model import copy_json
from datapack_server.analytics.common import (
    POSITIVE,
    code_groups,
    first_seen,
    mean_of,
    per_index_state,
    row_count,
    slice_rows,
)
from datapack_server.analytics.skill_statistics import get_all_skills_performance
from datapack_server.analytics.training import get_skill_sequence_patterns

_ENV_MEANS = (("mean_delta_j", "delta_j"), ("mean_delta_mpl", "d_mpl"), ("mean_delta_error", "d_error"),
              ("mean_delta_ep", "d_ep"), ("mean_energy_wh", "total_wh"), ("mean_trust", "trust"))


def get_env_type_statistics(st, spec, catalogue) -> dict:
    ix = st.index
    v = ix.view
    rows = slice_rows(ix, spec)
    if not row_count(ix, rows):
        return {}
    names = ix.cats["env_type"].values
    codes = v("env_type")[rows]
    positive = v("bucket")[rows] == POSITIVE
    lo = int(codes.min())
    env_codes = [lo] if lo == int(codes.max()) else first_seen(codes)  # usually one env type: no bincount
    out = {}
    if len(env_codes) <= 4:
        # A few env types (usually one): pairwise sums over each group's packs.
        for c in env_codes:
            sel = slice(None) if len(env_codes) == 1 else codes == c
            n = int(np.count_nonzero(codes == c)) if len(env_codes) > 1 else len(codes)
            p = int(np.count_nonzero(positive[sel]))
            out[names[c]] = _env_stats(n, p, ((k, float(v(col)[rows][sel].sum() / n)) for k, col in _ENV_MEANS))
        return out
    size = len(names)
    codes = codes.astype(np.intp)  # bincount would convert on every call
    count = np.bincount(codes, minlength=size)
    pos = np.bincount(codes, weights=positive, minlength=size)
    means = {k: np.bincount(codes, weights=v(col)[rows], minlength=size) / np.maximum(count, 1)
             for k, col in _ENV_MEANS}
    for c in env_codes:
        n, p = int(count[c]), int(pos[c])
        out[names[c]] = _env_stats(n, p, ((k, float(m[c])) for k, m in means.items()))
    return out


def _env_stats(n: int, p: int, means: Iterable[tuple[str, float]]) -> dict[str, int | float]:
    """One env type's entry: counts, the _ENV_MEANS means, the positive ratio (in this order)."""
    stats: dict[str, int | float] = {"count": n, "positive": p, "negative": n - p}
    stats.update(means)
    stats["positive_ratio"] = p / n
    return stats


def summarize_energy_usage(st, spec, catalogue) -> dict:
    """Per-name totals (_energy_totals) of the names present in the packs of
    the slice, in order of first appearance among them. Over every pack, the
    summary is computed once per index state (the result is a copy)."""
    ix = st.index
    if spec is None:
        return copy_json(per_index_state(ix, "energy_summary", lambda: _energy_summary(ix, slice(None))))
    return _energy_summary(ix, slice_rows(ix, spec))


def _energy_summary(ix, rows) -> dict:
    v = ix.view
    n = row_count(ix, rows)
    if n == 0:
        return {"n_packs": 0}
    total, per_unit = v("total_wh")[rows], v("wh_per_unit")[rows]
    limbs: dict = {}
    skills: dict = {}
    for (kind, name), wh in _energy_totals(ix, rows).items():
        (limbs if kind == "limb" else skills)[name] = wh
    return {
        "n_packs": int(n),
        "total_wh_mean": mean_of(total),
        "total_wh_std": float(np.std(total)),
        "wh_per_unit_mean": mean_of(per_unit),
        "wh_per_unit_std": float(np.std(per_unit)),
        "limb_totals": limbs,
        "skill_totals": skills,
    }


def _energy_totals(ix, rows) -> dict:
    """(kind, name) -> total Wh over the packs `rows` (slice_rows), for the
    names they have, in order of first appearance among them.

    Read from the index's sparse energy values (a pack's Wh values in the
    order of its interned `enames` names, from energy.start[row]) without a
    dense column per name: the packs are grouped by enames value with one
    counting sort, each group's values of each name are summed (append
    order), and those sums are added over the groups in the order of the
    enames values themselves, so a slice gives the same floats as a store
    holding only the slice."""
    table = ix.cats["enames"].values
    codes = ix.view("enames")[rows]
    empty = ix.cats["enames"].codes.get(())  # the one value without names, if any pack has none
    at = np.flatnonzero(codes != empty) if empty is not None else np.arange(len(codes))  # packs with a name
    if not len(at):
        return {}
    order, bounds = code_groups(np.take(codes, at), len(table))
    groups = np.flatnonzero(bounds[1:] > bounds[:-1]).tolist()
    energy = ix.energy
    start = np.take(energy.start[:ix.n], at if isinstance(rows, slice) else np.take(rows, at))
    totals: dict = {}
    for c in sorted(groups, key=table.__getitem__):
        base = np.take(start, order[bounds[c]:bounds[c + 1]])
        for j, key in enumerate(table[c]):
            wh = float(np.sum(np.take(energy.wh, base + j)))
            totals[key] = totals[key] + wh if key in totals else wh
    present: dict = {}
    for c in sorted(groups, key=lambda c: order[bounds[c]]):  # a group's first pack is its first index
        for key in table[c]:
            present.setdefault(key, totals[key])
    return present


def _sequence_key(catalogue: dict, seq: tuple) -> str:
    """['LOCATE_DRAWER', 'LOCATE_VASE'] (ids outside the catalogue: 'UNKNOWN_<id>')."""
    return "[" + ", ".join(f"'{catalogue.get(s, f'UNKNOWN_{s}')}'" for s in seq) + "]"


def skill_report(st, spec, catalogue) -> dict:
    """docs/adapter.md §3.16, computed in one consistent read (the caller writes the file)."""
    task = st.task
    skills = {}
    for sid, stats in get_all_skills_performance(st, spec, catalogue).items():
        skills[catalogue.get(sid, f"UNKNOWN_{sid}")] = stats
    patterns = {}
    for bucket in ("positive", "negative"):
        seqs = get_skill_sequence_patterns(st, spec, catalogue, bucket=bucket, top_k=100)
        patterns[bucket] = {_sequence_key(catalogue, seq): count for seq, count in seqs.items()}
    return {
        "task_name": task,
        "skills": skills,
        "sequence_patterns": patterns,
        "env_types": get_env_type_statistics(st, spec, catalogue),
        "energy_summary": summarize_energy_usage(st, spec, catalogue),
    }
