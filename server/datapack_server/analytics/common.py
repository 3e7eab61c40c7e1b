"""What the analyses share: the slice, masks over the index's columns, interned
codes, and reading the records a result returns.

Masks and positions are numpy arrays over the rows of a TaskIndex (append
order); interned columns (traces, tag sets) are evaluated once per distinct
value (`per_value`) and broadcast through the row codes.
"""
from __future__ import annotations

import weakref

import numpy as np

from datapack_client.records import schema
from datapack_client.records.model import DataPackMeta, copy_json
from datapack_server.engine.index import BUCKET_CODES
from datapack_server.query.filters import match, per_value

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


def bucket_mask(ix, bucket: str | None):
    """Rows of the bucket (True, every row, when bucket is None)."""
    return True if bucket is None else ix.view("bucket") == BUCKET_CODES[bucket]


def skill_table(ix, skill_id: int) -> np.ndarray:
    """Per distinct trace: does it use the skill."""
    return per_value(ix.cats["trace"], lambda t: skill_id in t)


def skill_mask(ix, skill_id: int) -> np.ndarray:
    """Rows whose skill trace uses the skill."""
    table = skill_table(ix, skill_id)
    if not len(table) or not table.any():
        return np.zeros(ix.n, dtype=np.bool_)
    return table[ix.view("trace")]


def present_codes(codes: np.ndarray, size: int) -> list[int]:
    """Interned codes that occur in `codes` (ascending)."""
    if not len(codes):
        return []
    return np.flatnonzero(np.bincount(codes, minlength=size)).tolist()


def first_seen(codes: np.ndarray) -> list[int]:
    """Distinct codes in order of first occurrence."""
    if not len(codes):
        return []
    present = np.flatnonzero(np.bincount(codes))
    if len(present) <= 16:  # a few values (env types): one scan each, no sort
        first_rows = [int(np.argmax(codes == c)) for c in present.tolist()]
        return present[np.argsort(first_rows, kind="stable")].tolist()
    uniq, first_index = np.unique(codes, return_index=True)
    return uniq[np.argsort(first_index, kind="stable")].tolist()


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
    traces = ix.cats["trace"].values
    skills = {k for k in catalogue if type(k) is int and k >= 0}
    for code in present_codes(ix.view("trace")[rows], len(traces)):
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
    """The packs at the positions, in their order."""
    out = []
    for pos in positions:
        rec, rev = load_record(st, pos)
        out.append(DataPackMeta.wrap(rec, rev))
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
