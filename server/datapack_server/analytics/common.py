"""What the analyses share: the slice, masks over the index's columns, interned
codes, and reading the records a result returns.

Masks and positions are numpy arrays over the rows of a TaskIndex (append
order); interned columns (traces, tag sets) are evaluated once per distinct
value (`per_value`) and broadcast through the row codes.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from datapack_client.records import schema
from datapack_client.records.model import DataPackMeta, copy_json
from datapack_client.records.query import FilterSpec
from datapack_client.records.stored import LineBatch, batch_records
from datapack_server.engine.index import BUCKET_CODES
from datapack_server.query.filters import Rows, mask, match, per_value
from datapack_server.query.ordering import order
from datapack_server.query.top_k import first_matches, scannable

_FIRST_CHUNK = 4096  # rows first_passing tests first

POSITIVE = BUCKET_CODES["positive"]
NEGATIVE = BUCKET_CODES["negative"]
UNKNOWN = "UNKNOWN"


def slice_mask(ix, spec) -> np.ndarray:
    """Boolean row mask of the slice (every row when spec is None)."""
    if spec is None:
        return np.ones(ix.n, dtype=np.bool_)
    mask = np.zeros(ix.n, dtype=np.bool_)
    mask[match(ix, spec)] = True
    return mask


def slice_rows(ix, spec):
    """Positions of the slice in append order, or slice(None) for every row
    (column[slice(None)] is a view: no copy)."""
    return slice(None) if spec is None else match(ix, spec)


def row_count(ix, rows) -> int:
    """How many rows `slice_rows` gave."""
    return ix.n if isinstance(rows, slice) else len(rows)


def best_by_delta_j(ix, spec, f: FilterSpec, descending: bool, limit: int | None) -> np.ndarray:
    """Positions of the slice's packs that pass f by ΔJ, descending or
    ascending (ties in append order, NaN last), at most `limit`: ordering.order
    of the matches. Over every pack with a small limit, top_k.first_matches
    walks the task's cached ΔJ order (shared with queries) and tests a few
    thousand packs instead of every one; it returns the same positions."""
    if spec is None and limit is not None and scannable(ix, limit):
        return first_matches(ix, f, "delta_j", descending, limit)
    return order(ix, np.flatnonzero(slice_mask(ix, spec) & mask(Rows(ix), f)), "delta_j", descending, limit)


def first_passing(ix, spec, limit: int | None, passes: Callable[[slice], np.ndarray]) -> np.ndarray:
    """Positions (append order) of the first `limit` packs of the slice for
    which passes(rows) holds, `rows` a slice of positions. Over every pack
    with a limit, the rows are tested in chunks that double in size from the
    start, stopping once `limit` passed (a few thousand rows for a hundred
    results); else every row at once."""
    if spec is not None or limit is None:
        got = np.flatnonzero(slice_mask(ix, spec) & passes(slice(None)))
        return got if limit is None else got[:limit]
    hits, found, start, size = [], 0, 0, _FIRST_CHUNK
    while start < ix.n and found < limit:
        stop = min(start + size, ix.n)
        hits.append(np.flatnonzero(passes(slice(start, stop))) + start)
        found += len(hits[-1])
        start, size = stop, size * 2
    return np.concatenate(hits)[:limit] if hits else np.zeros(0, dtype=np.int64)


def bucket_mask(ix, bucket: str | None, rows=slice(None)):
    """Which of the rows (every row, or a slice of positions) are of the
    bucket (True, all of them, when bucket is None)."""
    return True if bucket is None else ix.view("bucket")[rows] == BUCKET_CODES[bucket]


def skill_table(ix, skill_id: int) -> np.ndarray:
    """Per distinct trace: does it use the skill."""
    return per_value(ix.cats["trace"], lambda t: skill_id in t)


def skill_mask(ix, skill_id: int) -> np.ndarray:
    """Rows whose skill trace uses the skill."""
    table = skill_table(ix, skill_id)
    if not len(table) or not table.any():
        return np.zeros(ix.n, dtype=np.bool_)
    return np.take(table, ix.view("trace"))  # np.take: a faster gather than fancy indexing


def present_codes(codes: np.ndarray, size: int) -> list[int]:
    """Interned codes that occur in `codes` (ascending)."""
    if not len(codes):
        return []
    return np.flatnonzero(np.bincount(codes, minlength=size)).tolist()


def code_groups(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The indexes of `codes` grouped by code, with one stable counting sort:
    order[bounds[c]:bounds[c + 1]] are those holding code c, ascending."""
    key = codes.astype(np.uint16) if size <= 1 << 16 else codes  # 16-bit keys: numpy sorts them by radix
    order = np.argsort(key, kind="stable")
    bounds = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=size), out=bounds[1:])
    return order, bounds


def first_seen(codes: np.ndarray) -> list[int]:
    """Distinct codes in order of first occurrence."""
    if not len(codes):
        return []
    present = np.flatnonzero(np.bincount(codes))
    if len(present) <= 16:  # a few values (env types): one scan each, no sort
        first_rows = [int(np.argmax(codes == c)) for c in present.tolist()]
        return present[np.argsort(first_rows, kind="stable")].tolist()
    # Many values: each one's first index in one pass (no sort of the codes).
    first = np.full(int(present[-1]) + 1, len(codes), dtype=np.intp)
    np.minimum.at(first, codes, np.arange(len(codes)))
    return present[np.argsort(first[present], kind="stable")].tolist()


_PER_STATE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def per_index_state(ix, name: str, compute: Callable[[], Any]) -> Any:
    """compute() once per state of the index: its rows and revisions (n,
    version) identify the values its columns hold, so an aggregate over every
    pack is reused until a pack is added or revised (the unfiltered task
    statistics are kept the same way). The value must not be changed by its
    users."""
    state = (ix.n, ix.version)
    kept = _PER_STATE.setdefault(ix, {})
    hit = kept.get(name)
    if hit is None or hit[0] != state:
        hit = kept[name] = (state, compute())
    return hit[1]


_TRACE_RANKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def by_trace_value(ix, codes) -> np.ndarray:
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


def known_skills(ix, rows: np.ndarray, catalogue: dict) -> list[int]:
    """docs/adapter.md §1.3 over the slice: catalogue ids ∪ valid ids in the traces."""
    return catalogue_skills(ix, present_codes(ix.view("trace")[rows], len(ix.cats["trace"].values)), catalogue)


def catalogue_skills(ix, trace_codes: list[int], catalogue: dict) -> list[int]:
    """Catalogue ids ∪ the ids in the traces of these interned codes, ascending."""
    traces = ix.cats["trace"].values
    skills = {k for k in catalogue if type(k) is int and k >= 0}
    for code in trace_codes:
        skills.update(traces[code])
    return sorted(skills)


def skill_name_of(catalogue: dict, skill_id: int) -> str:
    """The skill's catalogue name, or UNKNOWN."""
    return catalogue.get(skill_id, UNKNOWN)


def load_record(st, pos: int) -> tuple[dict, int]:
    """The stored record at a position and its revision."""
    ref = st.ref(pos)
    return st.load(ref), ref.revision


def packs_at(st, positions) -> list[DataPackMeta]:
    """The packs at the positions, in their order, served as a bulk read
    serves them (records.stored.batch_records): each line is parsed when a
    field other than pack_id is first read, so a result of many packs costs
    reading their lines, not parsing them. The lines are read in file order
    (adjacent ones with one read) and checked as st.load checks them."""
    pos = np.asarray(positions, dtype=np.int64)
    if not len(pos):
        return []
    v = st.index.view
    in_file = np.argsort(v("line_off")[pos], kind="stable")
    rows = pos[in_file]
    lines = b"".join(st.read_runs(v("line_off")[rows], v("line_len")[rows]))
    pack_id = st.index.pack_id
    batch = LineBatch(st.task, lines, [pack_id(p) for p in rows.tolist()], v("revision")[rows].tolist(),
                      v("line_no")[rows].tolist())
    out: list = [None] * len(rows)
    for i, rec in zip(in_file.tolist(), batch_records(batch)):
        out[i] = rec
    return out


def offset_norms(ix) -> np.ndarray:
    """Per row: the Euclidean norm of the condition's vase offset."""
    off = ix.view("c_offset")
    return np.sqrt(off[:, 0] * off[:, 0] + off[:, 1] * off[:, 1] + off[:, 2] * off[:, 2])


def string_tags(rec: dict) -> list:
    """The record's semantic tags that are strings."""
    tags = rec.get("semantic_tags")
    return [t for t in tags if type(t) is str] if type(tags) is list else []


def trace_entries(rec: dict) -> list:
    """The record's skill trace (empty when not a list)."""
    trace = rec.get("skill_trace")
    return trace if type(trace) is list else []


def entry_has_skill(e, skill_id: int) -> bool:
    """Whether a trace entry is an object naming the skill."""
    return type(e) is dict and type(e.get("skill_id")) is int and e["skill_id"] == skill_id


def served_condition(rec: dict) -> dict:
    """The served condition (normalised: 13 fields in order, then unmodelled
    keys); a stored non-object counts as the default profile."""
    cond = rec.get("condition")
    return copy_json(cond) if type(cond) is dict else schema.default_profile("ConditionProfile")


def mean_of(a: np.ndarray) -> float:
    """The mean as a Python float."""
    return float(np.mean(a))
