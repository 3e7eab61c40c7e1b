"""Per-skill statistics: get_skill_statistics and get_all_skills_performance
(docs/adapter.md §3.1, §3.2).

A skill's statistics combine those of the interned traces that contain it, so
every skill costs O(distinct traces) after one linear pass over the rows.
"""
from __future__ import annotations

import math
import weakref

import numpy as np
import orjson

from datapack_server.analytics.common import (
    NEGATIVE,
    POSITIVE,
    by_trace_value,
    known_skills,
    load_record,
    skill_mask,
    skill_name_of,
    skill_table,
    slice_mask,
    slice_rows,
)

_CONTRIB_FIELDS = ("delta_mpl", "delta_error")


class _ContribTables:
    """Per TaskIndex: skill_contribs entries extracted from the interned
    canonical JSON values, each value parsed once (interned values never
    change; new ones are parsed when they appear). For skill key k and field f:
    the codes whose entry k has f, its value, and whether that value was a
    JSON null (orjson writes NaN/±Infinity as null, so such a null is
    ambiguous and resolved from the record itself)."""

    def __init__(self) -> None:
        self.done = 0
        self.entries: dict = {}  # (key, field) -> ([code], [value], [ambiguous])
        self.dense: dict = {}  # (key, field, size) -> (value, state) arrays by code, or None

    def update(self, values: list) -> None:
        if self.done == len(values):
            return
        for code in range(self.done, len(values)):
            raw = values[code]
            if raw == b"{}":
                continue
            for key, entry in orjson.loads(raw).items():
                if type(entry) is not dict:
                    continue
                for field in _CONTRIB_FIELDS:
                    if field in entry:
                        x = entry[field]
                        numeric = type(x) is float or type(x) is int
                        if numeric or x is None:
                            lists = self.entries.setdefault((key, field), ([], [], []))
                            lists[0].append(code)
                            lists[1].append(float(x) if numeric else math.nan)
                            lists[2].append(not numeric)
        self.done = len(values)
        self.dense.clear()

    def table(self, key: str, field: str, size: int) -> tuple:
        """(value, state) per interned code; state 0: no numeric value, 1: a
        number, 2: a JSON null (stored null, NaN or ±Infinity). None when no
        value has the entry."""
        k = (key, field, size)
        if k not in self.dense:
            lists = self.entries.get((key, field))
            got = None
            if lists:
                val = np.full(size, np.nan)
                state = np.zeros(size, dtype=np.int8)
                codes = np.array(lists[0], dtype=np.int64)
                val[codes] = lists[1]
                state[codes] = np.where(np.array(lists[2], dtype=np.bool_), 2, 1)
                got = (val, state)
            self.dense[k] = got
        return self.dense[k]


_CONTRIBS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _contrib_means(st, rows: np.ndarray, skill_id: int) -> tuple:
    """Means of skill_contribs[skill_id]["delta_mpl"/"delta_error"] over the packs
    `rows` (append order) that have a numeric value; None when none has."""
    ix = st.index
    values = ix.cats["contribs"].values
    tables = _contrib_tables(ix)
    codes = ix.view("contribs")[rows]
    key = str(skill_id)
    out = []
    for field in _CONTRIB_FIELDS:
        got = tables.table(key, field, len(values))
        if got is None:
            out.append(None)
            continue
        val, state = got
        row_state = state[codes]
        have = np.flatnonzero(row_state)
        row_val = val[codes[have]]
        keep = row_state[have] == 1
        for i in np.flatnonzero(~keep).tolist():  # a stored null, NaN or ±Infinity: read the pack
            rec, _rev = load_record(st, int(rows[have[i]]))
            attr = rec.get("attribution")
            contribs = attr.get("skill_contribs") if type(attr) is dict else None
            entry = contribs.get(key) if type(contribs) is dict else None
            x = entry.get(field) if type(entry) is dict else None
            if type(x) is float or type(x) is int:
                row_val[i], keep[i] = float(x), True
        sel = row_val[keep]
        out.append(float(np.mean(sel)) if len(sel) else None)
    return tuple(out)


def _contrib_tables(ix) -> _ContribTables:
    tables = _CONTRIBS.get(ix)
    if tables is None:
        tables = _CONTRIBS[ix] = _ContribTables()
    tables.update(ix.cats["contribs"].values)
    return tables


class _TraceGroups:
    """Per interned trace: packs, positives, ΔJ sum / centred sum of squares /
    min / max, trust and w_econ sums over the packs of `mask` (the others go to
    a spare bin). A skill's statistics combine the traces that contain it, so
    every skill costs O(distinct traces) after one linear pass; the ΔJ variance
    is combined from per-trace centred moments (Chan et al.), not from raw
    sums of squares. Computed over all eligible packs or only over one skill's
    packs, a trace containing the skill gets the same values (same packs, same
    order), so both give identical floats."""

    def __init__(self, ix, mask: np.ndarray):
        v = ix.view
        k = len(ix.cats["trace"].values)
        codes = np.where(mask, v("trace"), k)
        size = k + 1
        dj = v("delta_j")
        n = np.bincount(codes, minlength=size)
        s1 = np.bincount(codes, weights=dj, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / n
            m2 = np.bincount(codes, weights=np.square(dj - mean[codes]), minlength=size)
        self.n, self.s1, self.mean, self.m2 = n[:k], s1[:k], mean[:k], m2[:k]
        self.pos = np.bincount(codes, weights=v("bucket") == POSITIVE, minlength=size)[:k]
        self.lo = np.full(size, np.inf)
        self.hi = np.full(size, -np.inf)
        with np.errstate(invalid="ignore"):  # a stored NaN ΔJ makes its trace's min/max NaN
            np.minimum.at(self.lo, codes, dj)
            np.maximum.at(self.hi, codes, dj)
        self.lo, self.hi = self.lo[:k], self.hi[:k]
        self.trust = np.bincount(codes, weights=v("trust"), minlength=size)[:k]
        self.w_econ = np.bincount(codes, weights=v("w_econ"), minlength=size)[:k]

    def stats(self, st, skill_id: int, catalogue: dict, contrib_rows: np.ndarray) -> dict:
        ix = st.index
        name = skill_name_of(catalogue, skill_id)
        table = skill_table(ix, skill_id)
        using = by_trace_value(ix, np.flatnonzero(table & (self.n > 0)) if len(table) else [])
        counts = self.n[using]
        total = int(counts.sum())
        if total == 0:
            return {"skill_id": skill_id, "skill_name": name, "total_usage": 0, "positive_count": 0,
                    "negative_count": 0}
        n_pos = int(self.pos[using].sum())
        mean = float(self.s1[using].sum() / total)
        with np.errstate(invalid="ignore"):
            m2 = float(self.m2[using].sum() + (counts * np.square(self.mean[using] - mean)).sum())
        traces = ix.view("trace")[contrib_rows]
        mpl, err = _contrib_means(st, contrib_rows[table[traces]] if len(table) else contrib_rows[:0], skill_id)
        return {
            "skill_id": skill_id,
            "skill_name": name,
            "total_usage": total,
            "positive_count": n_pos,
            "negative_count": total - n_pos,
            "success_rate": n_pos / total,
            "delta_j_mean": mean,
            "delta_j_std": math.sqrt(m2 / total),
            "delta_j_min": float(np.min(self.lo[using])),
            "delta_j_max": float(np.max(self.hi[using])),
            "trust_mean": float(self.trust[using].sum() / total),
            "w_econ_mean": float(self.w_econ[using].sum() / total),
            "skill_delta_mpl_mean": mpl,
            "skill_delta_error_mean": err,
        }


def _eligible(ix, spec) -> np.ndarray:
    """Packs a skill's statistics may use: the slice, bucket positive or
    negative, trust ≥ 0.0 (the query's always-applied min_trust)."""
    v = ix.view
    return slice_mask(ix, spec) & (v("bucket") <= NEGATIVE) & (v("trust") >= 0.0)


def _with_contribs(ix, mask: np.ndarray) -> np.ndarray:
    """Positions of `mask` whose skill_contribs is not empty (the only packs a
    contribution mean can use)."""
    values = ix.cats["contribs"].values
    empty = ix.cats["contribs"].codes.get(b"{}")
    if empty is None:
        return np.flatnonzero(mask)
    if len(values) == 1:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(mask & (ix.view("contribs") != empty))


def get_skill_statistics(st, spec, catalogue, skill_id: int) -> dict:
    """P / N = positive / negative packs of the slice using the skill with trust ≥ 0.0."""
    ix = st.index
    mask = _eligible(ix, spec) & skill_mask(ix, skill_id)
    return _TraceGroups(ix, mask).stats(st, skill_id, catalogue, _with_contribs(ix, mask))


def get_all_skills_performance(st, spec, catalogue) -> dict:
    ix = st.index
    mask = _eligible(ix, spec)
    groups = _TraceGroups(ix, mask)
    contrib_rows = _with_contribs(ix, mask)
    rows = slice_rows(ix, spec)
    return {sid: groups.stats(st, sid, catalogue, contrib_rows) for sid in known_skills(ix, rows, catalogue)}
