"""Skill analytics (adapter.md §3) computed on a task's in-memory index.

Every function is `fn(st, spec, catalogue, **args)`:

* `st` – a caught-up TaskState whose lock the caller holds (`Store.reading`);
* `spec` – an optional FilterSpec slice (None = every pack), applied first with
  `match`, so a result equals the result on a store holding only the slice;
* `catalogue` – the task's skill catalogue {id: name};
* `args` – arguments already validated by `datapack_client.adapter`.

Selections, sorting and aggregates run on the index's numpy columns; interned
columns (traces, tag sets, condition tags, skill_contribs) are evaluated once
per distinct value and broadcast. Records are loaded (`st.load`) only for the
packs a method returns or samples. Results are plain Python values in the
shapes of adapter.md (floats are `float`, ints `int`). `METHODS` maps the
names used by `repo._analyze` to the functions.
"""
from __future__ import annotations

import math
import weakref

import numpy as np
import orjson

from datapack_client.records import schema
from datapack_client.adapter import CONDITIONS, SkillValueMatrix
from datapack_client.errors import invalid
from datapack_client.records.model import DataPackMeta, copy_json
from datapack_client.records.query import CondOp

from datapack_server.engine.index import BUCKET_CODES
from datapack_server.engine.store import _condition_mask, _per_value, match, order

POSITIVE = BUCKET_CODES["positive"]
NEGATIVE = BUCKET_CODES["negative"]
UNKNOWN = "UNKNOWN"


# --------------------------------------------------------------------------- helpers

def _base(ix, spec) -> np.ndarray:
    """Boolean row mask of the slice (every row when spec is None)."""
    if spec is None:
        return np.ones(ix.n, dtype=np.bool_)
    mask = np.zeros(ix.n, dtype=np.bool_)
    mask[match(ix, spec)] = True
    return mask


def _rows(ix, spec):
    """Positions of the slice in append order, or slice(None) for every row
    (column[slice(None)] is a view: no copy)."""
    return slice(None) if spec is None else match(ix, spec)


def _count(ix, rows) -> int:
    return ix.n if isinstance(rows, slice) else len(rows)


def _bucket_mask(ix, bucket: str | None):
    return True if bucket is None else ix.view("bucket") == BUCKET_CODES[bucket]


def _skill_table(ix, skill_id: int) -> np.ndarray:
    """Per distinct trace: does it use the skill."""
    return _per_value(ix.cats["trace"], lambda t: skill_id in t)


def _skill_mask(ix, skill_id: int) -> np.ndarray:
    table = _skill_table(ix, skill_id)
    if not len(table) or not table.any():
        return np.zeros(ix.n, dtype=np.bool_)
    return table[ix.view("trace")]


def _present_codes(codes: np.ndarray, size: int) -> list[int]:
    """Interned codes that occur in `codes` (ascending)."""
    if not len(codes):
        return []
    return np.flatnonzero(np.bincount(codes, minlength=size)).tolist()


def _first_seen(codes: np.ndarray) -> list[int]:
    """Distinct codes in order of first occurrence."""
    if not len(codes):
        return []
    present = np.flatnonzero(np.bincount(codes))
    if len(present) <= 16:  # a few values (env types): one scan each, no sort
        first = [int(np.argmax(codes == c)) for c in present.tolist()]
        return present[np.argsort(first, kind="stable")].tolist()
    uniq, first = np.unique(codes, return_index=True)
    return uniq[np.argsort(first, kind="stable")].tolist()


_TRACE_RANKS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _by_trace_value(ix, codes) -> np.ndarray:
    """Interned trace codes reordered by their trace tuples. Sums combined over
    traces in this order do not depend on the interning order, so a slice gives
    the same floats as a store holding only the slice."""
    values = ix.cats["trace"].values
    got = _TRACE_RANKS.get(ix)
    if got is None or len(got) != len(values):
        rank = np.empty(len(values), dtype=np.int64)
        rank[sorted(range(len(values)), key=values.__getitem__)] = np.arange(len(values))
        got = _TRACE_RANKS[ix] = rank
    codes = np.asarray(codes, dtype=np.int64)
    return codes[np.argsort(got[codes], kind="stable")]


def _known_skills(ix, rows: np.ndarray, catalogue: dict) -> list[int]:
    """adapter.md §1.3 over the slice: catalogue ids ∪ valid ids in the traces."""
    traces = ix.cats["trace"].values
    skills = {k for k in catalogue if type(k) is int and k >= 0}
    for code in _present_codes(ix.view("trace")[rows], len(traces)):
        skills.update(traces[code])
    return sorted(skills)


def _name(catalogue: dict, skill_id: int) -> str:
    return catalogue.get(skill_id, UNKNOWN)


def _load(st, pos: int) -> tuple[dict, int]:
    ref = st.ref(pos)
    return st.load(ref), ref.revision


def _packs(st, positions) -> list[DataPackMeta]:
    out = []
    for pos in positions:
        rec, rev = _load(st, pos)
        out.append(DataPackMeta._wrap(rec, rev))
    return out


def _offsets_norm(ix) -> np.ndarray:
    off = ix.view("c_offset")
    return np.sqrt(off[:, 0] * off[:, 0] + off[:, 1] * off[:, 1] + off[:, 2] * off[:, 2])


def _is_number(v) -> bool:
    return type(v) is float or type(v) is int


def _tags(rec: dict) -> list:
    tags = rec.get("semantic_tags")
    return [t for t in tags if type(t) is str] if type(tags) is list else []


def _trace(rec: dict) -> list:
    trace = rec.get("skill_trace")
    return trace if type(trace) is list else []


def _entry_has(e, skill_id: int) -> bool:
    return type(e) is dict and type(e.get("skill_id")) is int and e["skill_id"] == skill_id


def _condition(rec: dict) -> dict:
    """The served condition (normalised: 13 fields in order, then unmodelled
    keys); a stored non-object counts as the default profile."""
    cond = rec.get("condition")
    return copy_json(cond) if type(cond) is dict else schema.default_profile("ConditionProfile")


def _mean(a: np.ndarray) -> float:
    return float(np.mean(a))


# --------------------------------------------------------------------------- §3.1, §3.2

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


_CONTRIBS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


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
            rec, _rev = _load(st, int(rows[have[i]]))
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
        name = _name(catalogue, skill_id)
        table = _skill_table(ix, skill_id)
        using = _by_trace_value(ix, np.flatnonzero(table & (self.n > 0)) if len(table) else [])
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
    return _base(ix, spec) & (v("bucket") <= NEGATIVE) & (v("trust") >= 0.0)


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
    mask = _eligible(ix, spec) & _skill_mask(ix, skill_id)
    return _TraceGroups(ix, mask).stats(st, skill_id, catalogue, _with_contribs(ix, mask))


def get_all_skills_performance(st, spec, catalogue) -> dict:
    ix = st.index
    mask = _eligible(ix, spec)
    groups = _TraceGroups(ix, mask)
    contrib_rows = _with_contribs(ix, mask)
    rows = _rows(ix, spec)
    return {sid: groups.stats(st, sid, catalogue, contrib_rows) for sid in _known_skills(ix, rows, catalogue)}


# --------------------------------------------------------------------------- §3.3 – §3.5

def get_skill_training_data(st, spec, catalogue, skill_id: int, bucket: str, min_trust: float,
                            top_k: int | None) -> list[dict]:
    ix = st.index
    v = ix.view
    mask = _base(ix, spec) & _bucket_mask(ix, bucket) & _skill_mask(ix, skill_id) & (v("trust") >= min_trust)
    picked = order(ix, np.flatnonzero(mask), "delta_j", bucket == "positive", top_k).tolist()
    dj, trust, w_econ = v("delta_j"), v("trust"), v("w_econ")
    samples = []
    for pos in picked:
        rec, _rev = _load(st, pos)
        condition = tags = None
        for e in _trace(rec):
            if not _entry_has(e, skill_id):
                continue
            if condition is None:
                condition, tags = _condition(rec), _tags(rec)
            params = e.get("params")
            duration = e.get("duration")
            metrics = e.get("local_metrics")
            samples.append({
                "pack_id": rec["pack_id"],
                "skill_id": skill_id,
                "params": copy_json(params) if type(params) is dict else {},
                "duration": duration if type(duration) is int else 0,
                "local_metrics": copy_json(metrics) if type(metrics) is dict else {},
                "delta_j": float(dj[pos]),
                "trust_score": float(trust[pos]),
                "w_econ": float(w_econ[pos]),
                "condition": copy_json(condition),
                "semantic_tags": list(tags),
            })
    return samples


def get_skill_failure_modes(st, spec, catalogue, skill_id: int, top_k: int | None) -> list[dict]:
    ix = st.index
    v = ix.view
    mask = (_base(ix, spec) & (v("bucket") == NEGATIVE) & _skill_mask(ix, skill_id) & (v("trust") >= 0.9)
            & v("has_cf"))
    picked = order(ix, np.flatnonzero(mask), "delta_j", False, top_k).tolist()
    dj = v("delta_j")
    out = []
    for pos in picked:
        rec, _rev = _load(st, pos)
        cond = _condition(rec)
        entry = None
        for e in _trace(rec):
            if _entry_has(e, skill_id):
                entry = e
        source = rec.get("counterfactual_source")
        out.append({
            "pack_id": rec["pack_id"],
            "delta_j": float(dj[pos]),
            "semantic_tags": _tags(rec),
            "condition": {"vase_offset": copy_json(cond.get("vase_offset")),
                          "drawer_friction": cond.get("drawer_friction"),
                          "lighting_profile": cond.get("lighting_profile"),
                          "occlusion_level": cond.get("occlusion_level")},
            "counterfactual": copy_json(rec.get("counterfactual_plan")),
            "counterfactual_source": source if type(source) is str else None,
            "skill_entry": copy_json(entry),
        })
    return out


def get_skill_sequence_patterns(st, spec, catalogue, bucket: str, top_k: int | None) -> dict:
    ix = st.index
    v = ix.view
    mask = _base(ix, spec) & _bucket_mask(ix, bucket) & (v("trust") >= 0.0)
    picked = order(ix, np.flatnonzero(mask), "delta_j", bucket == "positive", top_k)
    codes = v("trace")[picked]
    traces = ix.cats["trace"].values
    if not len(codes):
        return {}
    counts = np.bincount(codes, minlength=len(traces))
    return {tuple(traces[c]): int(counts[c]) for c in _first_seen(codes)}


# --------------------------------------------------------------------------- §3.6, §3.7

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


def compute_skill_value_matrix(st, spec, catalogue, skill_ids: list | None) -> SkillValueMatrix:
    ix = st.index
    v = ix.view
    rows = _rows(ix, spec)
    known = _known_skills(ix, rows, catalogue)
    if skill_ids is None:
        skill_ids = known
    else:
        known_set = set(known)
        for s in skill_ids:
            if s not in known_set:
                raise invalid("skill_ids", "UNKNOWN_SKILL",
                              f"skill_ids: {s} is not a known skill of this task (known: {known})")
    ncol = len(CONDITIONS)
    sums = np.zeros((len(skill_ids), ncol))
    counts = np.zeros((len(skill_ids), ncol), dtype=np.int64)
    traces = ix.cats["trace"].values
    tcodes = v("trace")[rows]
    present = _by_trace_value(ix, _present_codes(tcodes, len(traces))).tolist()
    if _count(ix, rows) and skill_ids and present:
        semtags = ix.cats["semtags"].values
        column_of = np.fromiter((_column_of(t) for t in semtags), dtype=np.int64, count=len(semtags))
        cols = column_of[v("semtags")[rows]]
        # Per (trace, column): ΔJ sum and pack count; then each skill row adds
        # occurrences × those over the traces that contain it.
        dense = np.full(len(traces), -1, dtype=np.int64)
        dense[present] = np.arange(len(present))
        key = dense[tcodes] * ncol + cols
        size = len(present) * ncol
        dj_sum = np.bincount(key, weights=v("delta_j")[rows], minlength=size).reshape(len(present), ncol)
        n_sum = np.bincount(key, minlength=size).reshape(len(present), ncol)
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
        skill_names=[_name(catalogue, s) for s in skill_ids],
        conditions=list(CONDITIONS),
        values=[[float(x) for x in row] for row in values.tolist()],
        counts=[[int(x) for x in row] for row in counts.tolist()],
        skipped_entries=int(v("bad_skill_entries")[rows].sum()),
    )


def recommend_skill_for_condition(st, spec, catalogue, condition_tags: list) -> list[tuple]:
    ix = st.index
    v = ix.view
    mask = _base(ix, spec) & (v("bucket") == POSITIVE) & (v("trust") >= 0.8)
    for tag in dict.fromkeys(condition_tags):
        mask &= _condition_mask(ix, CondOp("flag", tag, tag, True))
    rows = np.flatnonzero(mask)
    if not len(rows):
        return []
    traces = ix.cats["trace"].values
    tcodes = v("trace")[rows]
    seen = _first_seen(tcodes)  # traces in order of their first pack
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


# --------------------------------------------------------------------------- §3.8, §3.9

def extract_contrastive_pairs(st, spec, catalogue, skill_id: int, n_pairs: int | None) -> list[tuple]:
    ix = st.index
    v = ix.view
    base = _base(ix, spec) & _skill_mask(ix, skill_id) & (v("trust") >= 0.9)
    bucket = v("bucket")
    pos = order(ix, np.flatnonzero(base & (bucket == POSITIVE)), "delta_j", True, n_pairs)
    neg = order(ix, np.flatnonzero(base & (bucket == NEGATIVE) & v("has_cf")), "delta_j", False, n_pairs)
    if not len(pos) or not len(neg):
        return []
    off, fric, light, occl = v("c_offset"), v("c_friction"), v("c_light"), v("c_occlusion")
    # The pool: N in its order; chosen negatives are removed.
    pool = neg.copy()
    p_off, p_fric, p_light, p_occl = off[pool], fric[pool], light[pool], occl[pool]
    pairs = []
    for p in pos.tolist():
        if not len(pool):
            break
        diff = p_off - off[p]
        dist = np.sqrt(diff[:, 0] * diff[:, 0] + diff[:, 1] * diff[:, 1] + diff[:, 2] * diff[:, 2])
        sim = (1.0 / (1.0 + dist) + 1.0 / (1.0 + 10.0 * np.abs(p_fric - fric[p]))
               + (p_light == light[p]).astype(np.float64) + 1.0 / (1.0 + 5.0 * np.abs(p_occl - occl[p]))) / 4.0
        better = sim > -1.0  # NaN similarities never win
        if not better.any():
            continue
        j = int(np.argmax(np.where(better, sim, -np.inf)))  # first maximum: the earliest negative wins ties
        pairs.append((p, int(pool[j])))
        pool = np.delete(pool, j)
        p_off, p_fric, p_light, p_occl = (np.delete(p_off, j, axis=0), np.delete(p_fric, j),
                                          np.delete(p_light, j), np.delete(p_occl, j))
        if n_pairs is not None and len(pairs) >= n_pairs:
            break
    return [(_packs(st, [p])[0], _packs(st, [n])[0]) for p, n in pairs]


def generate_skill_curriculum(st, spec, catalogue, skill_id: int, n_levels: int) -> list[dict]:
    ix = st.index
    v = ix.view
    mask = _base(ix, spec) & (v("bucket") == POSITIVE) & _skill_mask(ix, skill_id) & (v("trust") >= 0.9)
    ranked = order(ix, np.flatnonzero(mask), "delta_j", True, None)
    if not len(ranked):
        return []
    norm = _offsets_norm(ix)[ranked]
    fric = v("c_friction")[ranked]
    occl = v("c_occlusion")[ranked]
    difficulty = 10.0 * norm + 5.0 * fric + 10.0 * occl
    by = np.argsort(difficulty, kind="stable")
    n = len(ranked)
    per = n // n_levels
    levels = []
    for i in range(n_levels):
        a = i * per
        b = (i + 1) * per if i < n_levels - 1 else n
        if b <= a:
            continue
        sel = by[a:b]
        levels.append({
            "level": len(levels),
            "difficulty": _mean(difficulty[sel]),
            "n_samples": int(b - a),
            "datapacks": _packs(st, ranked[sel].tolist()),
            "conditions_summary": {"avg_offset": _mean(norm[sel]), "avg_friction": _mean(fric[sel]),
                                   "avg_occlusion": _mean(occl[sel])},
        })
    return levels


# --------------------------------------------------------------------------- §3.10, §3.12

def query_by_energy_driver_tags(st, spec, catalogue, energy_tags: list, bucket: str | None, match_all: bool,
                                limit: int | None) -> list[DataPackMeta]:
    ix = st.index
    wanted = frozenset(energy_tags)
    if match_all:
        table = _per_value(ix.cats["etags"], lambda tags: wanted <= tags)
    else:
        table = _per_value(ix.cats["etags"], lambda tags: not wanted.isdisjoint(tags))
    mask = _base(ix, spec) & _bucket_mask(ix, bucket)
    mask &= table[ix.view("etags")] if len(table) else False
    idx = np.flatnonzero(mask)
    return _packs(st, (idx if limit is None else idx[:limit]).tolist())


def query_by_attribution_ranges(st, spec, catalogue, min_delta_mpl, max_delta_mpl, min_delta_error,
                                max_delta_error, min_delta_ep, max_delta_ep, min_trust: float, max_trust: float,
                                bucket: str | None, limit: int | None) -> list[DataPackMeta]:
    ix = st.index
    v = ix.view
    mask = _base(ix, spec) & _bucket_mask(ix, bucket)
    for col, lo, hi in (("d_mpl", min_delta_mpl, max_delta_mpl), ("d_error", min_delta_error, max_delta_error),
                        ("d_ep", min_delta_ep, max_delta_ep)):
        if lo is not None:
            mask &= v(col) >= lo
        if hi is not None:
            mask &= v(col) <= hi
    trust = v("trust")
    mask &= (trust >= min_trust) & (trust <= max_trust)
    idx = np.flatnonzero(mask)
    return _packs(st, (idx if limit is None else idx[:limit]).tolist())


# --------------------------------------------------------------------------- §3.13 – §3.16

_ENV_MEANS = (("mean_delta_j", "delta_j"), ("mean_delta_mpl", "d_mpl"), ("mean_delta_error", "d_error"),
              ("mean_delta_ep", "d_ep"), ("mean_energy_wh", "total_wh"), ("mean_trust", "trust"))


def get_env_type_statistics(st, spec, catalogue) -> dict:
    ix = st.index
    v = ix.view
    rows = _rows(ix, spec)
    if not _count(ix, rows):
        return {}
    names = ix.cats["env_type"].values
    codes = v("env_type")[rows].astype(np.intp)  # bincount would convert on every call
    positive = v("bucket")[rows] == POSITIVE
    order_ = _first_seen(codes)
    out = {}
    if len(order_) <= 4:
        # A few env types (usually one): pairwise sums over each group's packs.
        for c in order_:
            sel = slice(None) if len(order_) == 1 else codes == c
            n = int(np.count_nonzero(codes == c)) if len(order_) > 1 else len(codes)
            p = int(np.count_nonzero(positive[sel]))
            stats = {"count": n, "positive": p, "negative": n - p}
            stats.update((k, float(v(col)[rows][sel].sum() / n)) for k, col in _ENV_MEANS)
            stats["positive_ratio"] = p / n
            out[names[c]] = stats
        return out
    size = len(names)
    count = np.bincount(codes, minlength=size)
    pos = np.bincount(codes, weights=positive, minlength=size)
    means = {k: np.bincount(codes, weights=v(col)[rows], minlength=size) / np.maximum(count, 1)
             for k, col in _ENV_MEANS}
    for c in order_:
        n, p = int(count[c]), int(pos[c])
        stats = {"count": n, "positive": p, "negative": n - p}
        stats.update((k, float(m[c])) for k, m in means.items())
        stats["positive_ratio"] = p / n
        out[names[c]] = stats
    return out


def get_datapack_ids_for_skill(st, spec, catalogue, skill_id: int, bucket: str | None) -> list[str]:
    ix = st.index
    mask = _base(ix, spec) & _bucket_mask(ix, bucket) & _skill_mask(ix, skill_id) & (ix.view("trust") >= 0.0)
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    ids = ix.ids  # PackIds: every id in one UTF-8 blob, with an offsets array
    starts = ids.offsets[idx].tolist()
    ends = ids.offsets[idx + 1].tolist()
    blob = ids.blob
    return [blob[a:b].decode("utf-8", "surrogatepass") for a, b in zip(starts, ends)]


def summarize_energy_usage(st, spec, catalogue) -> dict:
    """Per-name totals from the index's per-name Wh columns; the names listed are
    those present in the packs of the slice (interned `enames` column), in order
    of first appearance among them."""
    ix = st.index
    v = ix.view
    rows = _rows(ix, spec)
    n = _count(ix, rows)
    if n == 0:
        return {"n_packs": 0}
    total, per_unit = v("total_wh")[rows], v("wh_per_unit")[rows]
    columns = ix.energy_view()
    names = ix.cats["enames"].values
    present: dict = {}
    for code in _first_seen(v("enames")[rows]):
        for key in names[code]:
            present.setdefault(key, None)
    limbs: dict = {}
    skills: dict = {}
    for kind, name in present:
        (limbs if kind == "limb" else skills)[name] = float(np.sum(columns[(kind, name)][rows]))
    return {
        "n_packs": int(n),
        "total_wh_mean": _mean(total),
        "total_wh_std": float(np.std(total)),
        "wh_per_unit_mean": _mean(per_unit),
        "wh_per_unit_std": float(np.std(per_unit)),
        "limb_totals": limbs,
        "skill_totals": skills,
    }


def _sequence_key(catalogue: dict, seq: tuple) -> str:
    """['LOCATE_DRAWER', 'LOCATE_VASE'] (ids outside the catalogue: 'UNKNOWN_<id>')."""
    return "[" + ", ".join(f"'{catalogue.get(s, f'UNKNOWN_{s}')}'" for s in seq) + "]"


def skill_report(st, spec, catalogue) -> dict:
    """adapter.md §3.16, computed in one consistent read (the caller writes the file)."""
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


METHODS = {
    "get_skill_statistics": get_skill_statistics,
    "get_all_skills_performance": get_all_skills_performance,
    "get_skill_training_data": get_skill_training_data,
    "get_skill_failure_modes": get_skill_failure_modes,
    "get_skill_sequence_patterns": get_skill_sequence_patterns,
    "compute_skill_value_matrix": compute_skill_value_matrix,
    "recommend_skill_for_condition": recommend_skill_for_condition,
    "extract_contrastive_pairs": extract_contrastive_pairs,
    "generate_skill_curriculum": generate_skill_curriculum,
    "query_by_energy_driver_tags": query_by_energy_driver_tags,
    "query_by_attribution_ranges": query_by_attribution_ranges,
    "get_env_type_statistics": get_env_type_statistics,
    "get_datapack_ids_for_skill": get_datapack_ids_for_skill,
    "summarize_energy_usage": summarize_energy_usage,
    "skill_report": skill_report,
}


def analyze(st, method: str, spec, catalogue: dict, **args):
    """Run one analysis on a caught-up, locked TaskState."""
    fn = METHODS.get(method)
    if fn is None:
        raise invalid("method", "ARGUMENT_INVALID", f"unknown analysis {method!r}")
    return fn(st, spec, catalogue, **args)
