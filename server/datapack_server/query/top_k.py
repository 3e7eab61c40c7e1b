"""The first `limit` results of a query without testing every pack.

A sorted query with a small limit (the common "best 100 packs that ...")
walks a cached permutation of the task's rows in result order, testing the
filters on a few thousand rows at a time, and stops once `limit` rows passed;
a query in append order walks the rows from the start the same way. Cost then
follows the result, not the task: at 1M packs a top-100 tests a few thousand
rows instead of a million.

The permutation (ordering.order of every row) is cached per index, sort key
and direction until a row changes (a revision bumps the index version); rows
appended after it was made are a tail tested in full and merged, and the
permutation is rebuilt once the tail is a sixteenth of the task. Ties keep
append order, NaN keys come last: the permutation is ordering.order's, and
the merge re-sorts the candidates in append order with the same function.
"""
from __future__ import annotations

import weakref

import numpy as np

from datapack_client.records.query import FilterSpec
from datapack_server.engine.index import TaskIndex
from datapack_server.query.filters import Rows, mask
from datapack_server.query.ordering import order

# Below this many packs a full evaluation is as cheap; above this limit a scan gains little.
SCAN_MIN_ROWS = 16_384
SCAN_MAX_LIMIT = 10_000
_FIRST_CHUNK = 4096

_permutations: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def scannable(ix: TaskIndex, limit: int | None) -> bool:
    return limit is not None and limit <= SCAN_MAX_LIMIT and ix.n >= SCAN_MIN_ROWS


def first_matches(ix: TaskIndex, f: FilterSpec, sort_by: str | None, descending: bool, limit: int) -> np.ndarray:
    """Positions of the first `limit` matches in result order (what
    ordering.order(ix, match(ix, f), ...) returns, without matching every row)."""
    if sort_by is None:
        return _scan(ix, f, None, ix.n, limit)
    perm, covered = _permutation(ix, sort_by, descending)
    head = _scan(ix, f, perm, covered, limit)
    if covered == ix.n:
        return head
    tail = np.arange(covered, ix.n)
    tail = tail[mask(Rows(ix, tail), f)]
    if not len(tail):
        return head
    # Candidates in append order, so the stable sort keeps ties in append order.
    return order(ix, np.sort(np.concatenate((head, tail))), sort_by, descending, limit)


def _scan(ix: TaskIndex, f: FilterSpec, perm: np.ndarray | None, covered: int, limit: int) -> np.ndarray:
    """The first `limit` rows of perm[:covered] (None: rows 0..covered-1) that
    pass f, testing chunks that double in size."""
    hits, got, start, size = [], 0, 0, _FIRST_CHUNK
    while start < covered and got < limit:
        stop = min(start + size, covered)
        rows = np.arange(start, stop) if perm is None else perm[start:stop]
        passed = rows[mask(Rows(ix, rows), f)]
        hits.append(passed)
        got += len(passed)
        start, size = stop, size * 2
    out = np.concatenate(hits) if hits else np.zeros(0, dtype=np.int64)
    return out[:limit].astype(np.int64, copy=False)


def _permutation(ix: TaskIndex, sort_by: str, descending: bool) -> tuple[np.ndarray, int]:
    """(every row covered, in result order; how many rows it covers)."""
    cache = _permutations.setdefault(ix, {})
    hit = cache.get((sort_by, descending))
    if hit is not None:
        perm, covered, version = hit
        if version == ix.version and covered <= ix.n and (ix.n - covered) * 16 <= covered:
            return perm, covered
    n = ix.n
    dtype = np.int32 if n < 2 ** 31 else np.int64
    perm = order(ix, np.arange(n), sort_by, descending, None).astype(dtype)
    cache[(sort_by, descending)] = (perm, n, ix.version)
    return perm, n
