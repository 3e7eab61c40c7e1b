"""What skills are worth under conditions: the skill value matrix and the
skill recommended for a condition (docs/adapter.md §3.6, §3.7).
"""
from __future__ import annotations

import math

import numpy as np

from datapack_client.errors import invalid
from datapack_client.records.query import CondOp
from datapack_client.records.results import VALUE_MATRIX_CONDITIONS as CONDITIONS
from datapack_client.records.results import SkillValueMatrix
from datapack_server.analytics.common import (
    POSITIVE,
    by_trace_value,
    catalogue_skills,
    first_seen,
    per_index_state,
    row_count,
    skill_name_of,
    slice_mask,
    slice_rows,
)
from datapack_server.query.filters import Rows, condition_mask


def _occurrences(traces: list, codes: list[int], skills: list[int]) -> np.ndarray:
    """occ[i, j] = how often skills[j] occurs in traces[codes[i]]."""
    col = {s: j for j, s in enumerate(skills)}
    occ = np.zeros((len(codes), len(skills)), dtype=np.int64)
    for i, c in enumerate(codes):
        for s in traces[c]:
            j = col.get(s)
            if j is not None:
                occ[i, j] += 1
    return occ


def _column_of(tags: frozenset) -> int:
    for j in range(1, len(CONDITIONS)):
        if CONDITIONS[j] in tags:
            return j
    return 0


def _trace_column_sums(ix, rows) -> tuple[np.ndarray, np.ndarray]:
    """Per (interned trace, condition column): ΔJ sum and pack count over the
    packs `rows` (slice_rows), in one pass; the traces with packs are the
    slice's traces (its known skills)."""
    v = ix.view
    k, ncol = len(ix.cats["trace"].values), len(CONDITIONS)
    if not row_count(ix, rows):
        return np.zeros((k, ncol)), np.zeros((k, ncol), dtype=np.int64)
    semtags = ix.cats["semtags"].values
    column_of = np.fromiter((_column_of(t) for t in semtags), dtype=np.int64, count=len(semtags))
    key = v("trace")[rows].astype(np.intp) * ncol + np.take(column_of, v("semtags")[rows])
    n_sum = np.bincount(key, minlength=k * ncol).reshape(k, ncol)
    dj_sum = np.bincount(key, weights=v("delta_j")[rows], minlength=k * ncol).reshape(k, ncol)
    return dj_sum, n_sum


def compute_skill_value_matrix(st, spec, catalogue, skill_ids: list | None) -> SkillValueMatrix:
    ix = st.index
    rows = slice_rows(ix, spec)
    traces = ix.cats["trace"].values
    ncol = len(CONDITIONS)
    if spec is None:
        dj_sum, n_sum = per_index_state(ix, "value_matrix_sums", lambda: _trace_column_sums(ix, rows))
    else:
        dj_sum, n_sum = _trace_column_sums(ix, rows)
    in_slice = np.flatnonzero(n_sum.any(axis=1)).tolist()
    known = catalogue_skills(ix, in_slice, catalogue)
    if skill_ids is None:
        skill_ids = known
    else:
        known_set = set(known)
        for s in skill_ids:
            if s not in known_set:
                raise invalid("skill_ids", "UNKNOWN_SKILL",
                              f"skill_ids: {s} is not a known skill of this task (known: {known})")
    sums = np.zeros((len(skill_ids), ncol))
    counts = np.zeros((len(skill_ids), ncol), dtype=np.int64)
    present = by_trace_value(ix, in_slice).tolist()
    if skill_ids and present:
        # Each skill row adds occurrences × the sums of the traces that contain it.
        dj_sum, n_sum = dj_sum[present], n_sum[present]
        occ = _occurrences(traces, present, skill_ids)
        for j in range(len(skill_ids)):
            using = np.flatnonzero(occ[:, j])
            if len(using):
                k = occ[using, j][:, None]
                sums[j] = (k * dj_sum[using]).sum(axis=0)
                counts[j] = (k * n_sum[using]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    return SkillValueMatrix(
        skill_ids=list(skill_ids),
        skill_names=[skill_name_of(catalogue, s) for s in skill_ids],
        conditions=list(CONDITIONS),
        values=[[float(x) for x in row] for row in values.tolist()],
        counts=[[int(x) for x in row] for row in counts.tolist()],
        skipped_entries=int(ix.view("bad_skill_entries")[rows].sum()),
    )


def recommend_skill_for_condition(st, spec, catalogue, condition_tags: list) -> list[tuple]:
    ix = st.index
    v = ix.view
    rows = np.flatnonzero(slice_mask(ix, spec) & (v("bucket") == POSITIVE) & (v("trust") >= 0.8))
    for tag in dict.fromkeys(condition_tags):
        if not len(rows):
            break
        # Each flag is evaluated on the packs still selected only.
        rows = rows[condition_mask(Rows(ix, rows), CondOp("flag", tag, tag, True))]
    if not len(rows):
        return []
    traces = ix.cats["trace"].values
    tcodes = v("trace")[rows]
    seen = first_seen(tcodes)  # traces in order of their first pack
    skills = list(dict.fromkeys(s for c in seen for s in traces[c]))  # first-appearance order
    if not skills:
        return []
    dense = np.full(len(traces), -1, dtype=np.int64)
    dense[seen] = np.arange(len(seen))
    d = dense[tcodes]
    dj_sum = np.bincount(d, weights=v("delta_j")[rows], minlength=len(seen))
    n_sum = np.bincount(d, minlength=len(seen))
    occ = _occurrences(traces, seen, skills)
    means = []
    for j, s in enumerate(skills):
        using = np.flatnonzero(occ[:, j])
        k = occ[using, j]
        means.append((s, float((k * dj_sum[using]).sum() / (k * n_sum[using]).sum())))
    # Mean descending, stable (ties keep first-appearance order); NaN means last.
    return sorted(means, key=lambda sm: (math.isnan(sm[1]), -sm[1] if not math.isnan(sm[1]) else 0.0))
