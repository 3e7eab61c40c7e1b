"""Per-skill statistics: get_skill_statistics and get_all_skills_performance
(docs/adapter.md §3.1, §3.2).

One linear pass over the slice groups its eligible packs by interned trace
(_TraceGroups); a skill's statistics combine the groups of the traces that
contain it, so every skill then costs O(distinct traces). Over every pack (no
slice) the groups are kept per index state (its rows and revisions): repeated
analyses of an unchanged task skip the pass.
"""
from __future__ import annotations

import math
import weakref
from fractions import Fraction

import numpy as np
import orjson

from datapack_server.analytics.common import (
    NEGATIVE,
    POSITIVE,
    by_trace_value,
    catalogue_skills,
    load_record,
    per_index_state,
    skill_name_of,
    skill_table,
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


def _contrib_tables(ix) -> _ContribTables:
    tables = _CONTRIBS.get(ix)
    if tables is None:
        tables = _CONTRIBS[ix] = _ContribTables()
    tables.update(ix.cats["contribs"].values)
    return tables


def _eligible(v, rows) -> np.ndarray:
    """Per pack of `rows` (slice_rows): may a skill's statistics use it
    (bucket positive or negative, trust ≥ 0.0, the query's always-applied
    min_trust)."""
    return (v("bucket")[rows] <= NEGATIVE) & (v("trust")[rows] >= 0.0)


class _TraceGroups:
    """Per interned trace, over the eligible packs of the slice: packs,
    positives, ΔJ sum / centred sum of squares / min / max, trust and w_econ
    sums, and packs per interned skill_contribs value (`pairs`, None when no
    pack has contributions); `present`: the traces of every pack of the slice
    (its known skills). A skill's statistics combine the traces that contain
    it; the ΔJ variance is combined from per-trace centred moments (Chan et
    al.), not from raw sums of squares. Each trace's sums run over its packs
    in append order, so a slice gives the same floats as a store holding only
    the slice. Packs that are not eligible go to a spare group (index k),
    which costs less than selecting the eligible ones first when, as usual,
    most are."""

    def __init__(self, ix, rows):
        v = ix.view
        k = len(ix.cats["trace"].values)
        size = k + 1
        trace = v("trace")[rows]
        codes = trace.astype(np.intp)  # bincount's index type: converted once, not on every call
        eligible = _eligible(v, rows)
        every = bool(eligible.all())  # then the traces of the slice are those with eligible packs
        if not every:
            present = np.bincount(trace, minlength=k) > 0
            codes[~eligible] = k
        dj = v("delta_j")[rows]
        n = np.bincount(codes, minlength=size)
        s1 = np.bincount(codes, weights=dj, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / n
            m2 = np.bincount(codes, weights=np.square(dj - np.take(mean, codes)), minlength=size)
        self.n, self.s1, self.mean, self.m2 = n[:k], s1[:k], mean[:k], m2[:k]
        self.present = self.n > 0 if every else present
        self.pos = np.bincount(codes, weights=v("bucket")[rows] == POSITIVE, minlength=size)[:k]
        lo = np.full(size, np.inf)
        hi = np.full(size, -np.inf)
        with np.errstate(invalid="ignore"):  # a stored NaN ΔJ makes its trace's min/max NaN
            np.minimum.at(lo, codes, dj)
            np.maximum.at(hi, codes, dj)
        self.lo, self.hi = lo[:k], hi[:k]
        self.trust = np.bincount(codes, weights=v("trust")[rows], minlength=size)[:k]
        self.w_econ = np.bincount(codes, weights=v("w_econ")[rows], minlength=size)[:k]
        c = len(ix.cats["contribs"].values)
        self.pairs = None
        if c > 1 or ix.cats["contribs"].codes.get(b"{}") is None:
            pairs = np.bincount(codes * c + v("contribs")[rows], minlength=size * c)
            self.pairs = pairs[:k * c].reshape(k, c)

    def stats(self, st, skill_id: int, catalogue: dict, rows) -> dict:
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
        mpl, err = _contrib_means(st, self, table, skill_id, rows)
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


def _contrib_means(st, groups: _TraceGroups, table: np.ndarray, skill_id: int, rows) -> tuple:
    """Means of skill_contribs[skill_id]["delta_mpl"/"delta_error"] over the
    skill's eligible packs that have a numeric value (None when none has):
    from the packs per (trace, contribs value), each value's number read once
    from the interned JSON; exact means (rational sums, rounded once), so they
    depend on the packs, not on their order."""
    if groups.pairs is None or not len(table):
        return None, None
    ix = st.index
    tables = _contrib_tables(ix)
    counts = groups.pairs[table].sum(axis=0)  # the skill's eligible packs per contribs value
    key = str(skill_id)
    out = []
    for field in _CONTRIB_FIELDS:
        got = tables.table(key, field, len(counts))
        if got is None:
            out.append(None)
            continue
        val, state = got
        numeric = (state == 1) & (counts > 0)
        ambiguous = (state == 2) & (counts > 0)
        stored = _stored_values(st, rows, table, ambiguous, key, field) if ambiguous.any() else []
        out.append(_exact_mean(val[numeric].tolist(), counts[numeric].tolist(), stored))
    return tuple(out)


def _stored_values(st, rows, table: np.ndarray, ambiguous: np.ndarray, key: str, field: str) -> list[float]:
    """The numbers stored at skill_contribs[key][field] by the skill's eligible
    packs whose interned value holds a JSON null there (a stored null, NaN or
    ±Infinity: orjson writes non-finite floats as null), read from the packs."""
    v = st.index.view
    keep = _eligible(v, rows) & np.take(table, v("trace")[rows]) & np.take(ambiguous, v("contribs")[rows])
    at = np.flatnonzero(keep)
    pos = at if isinstance(rows, slice) else np.take(rows, at)
    out = []
    for p in pos.tolist():
        rec, _rev = load_record(st, p)
        attr = rec.get("attribution")
        contribs = attr.get("skill_contribs") if type(attr) is dict else None
        entry = contribs.get(key) if type(contribs) is dict else None
        x = entry.get(field) if type(entry) is dict else None
        if type(x) is float or type(x) is int:
            out.append(float(x))
    return out


def _exact_mean(values: list[float], counts: list[int], more: list[float]) -> float | None:
    """The mean of each value repeated its count, and of `more`: the exact
    sum divided by the count, rounded once (None for no value). A NaN or an
    infinity gives what float sums give."""
    n = sum(counts) + len(more)
    if n == 0:
        return None
    if all(math.isfinite(x) for x in values) and all(math.isfinite(x) for x in more):
        total = sum((Fraction(x) * c for x, c in zip(values, counts)), Fraction(0)) + sum(map(Fraction, more))
        return float(total / n)
    return (sum(x * c for x, c in zip(values, counts)) + sum(more)) / n


def _trace_groups(ix, spec) -> tuple[_TraceGroups, object]:
    """The trace groups of the slice and its rows (slice_rows); over every
    pack, computed once per index state."""
    rows = slice_rows(ix, spec)
    if spec is not None:
        return _TraceGroups(ix, rows), rows
    return per_index_state(ix, "trace_groups", lambda: _TraceGroups(ix, rows)), rows


def get_skill_statistics(st, spec, catalogue, skill_id: int) -> dict:
    """P / N = positive / negative packs of the slice using the skill with
    trust ≥ 0.0. The groups of all eligible packs serve every skill: a trace
    containing the skill has the same packs (and sums) either way."""
    groups, rows = _trace_groups(st.index, spec)
    return groups.stats(st, skill_id, catalogue, rows)


def get_all_skills_performance(st, spec, catalogue) -> dict:
    ix = st.index
    groups, rows = _trace_groups(ix, spec)
    skills = catalogue_skills(ix, np.flatnonzero(groups.present).tolist(), catalogue)
    return {sid: groups.stats(st, sid, catalogue, rows) for sid in skills}
