"""Result order of a query (docs/repository.md §7.4-§7.5): by a numeric column or by
created_at, stable (ties keep append order), NaN last, with a top-k shortcut
when a small limit is asked of many matches."""
from __future__ import annotations

import math

import numpy as np

from datapack_server.engine.index import TaskIndex

_SORT_COLUMNS = {"delta_j": "delta_j", "trust_score": "trust", "mvd_score": "mvd"}


def order(ix: TaskIndex, idx: np.ndarray, sort_by: str | None, descending: bool, limit: int | None) -> np.ndarray:
    """The positions idx (append order) in result order, at most `limit` of them."""
    if sort_by is None or len(idx) <= 1:
        return idx if limit is None else idx[:limit]
    if sort_by == "created_at":
        return _order_by_created(ix, idx, descending, limit)
    keys = ix.view(_SORT_COLUMNS[sort_by])[idx]
    if descending:
        keys = -keys  # NaN stays NaN and sorts last either way; ties keep append order (stable)
    if limit is not None and len(idx) > 4 * limit:
        # Top-k: keep every key <= the k-th smallest (ties included), then sort those stably.
        kth = np.partition(keys, limit - 1)[limit - 1]
        if not math.isnan(kth):
            cand = np.flatnonzero(keys <= kth)
            picked = cand[np.argsort(keys[cand], kind="stable")]
            return idx[picked[:limit]]
    ranked = np.argsort(keys, kind="stable")
    if limit is not None:
        ranked = ranked[:limit]
    return idx[ranked]


def _order_by_created(ix: TaskIndex, idx: np.ndarray, descending: bool, limit: int | None) -> np.ndarray:
    """Sort by the created_at strings (code point order == UTF-8 byte order)
    without comparing strings: each key is viewed as big-endian 64-bit words,
    whose lexicographic order is the strings' order; bitwise NOT reverses it
    for descending. Stable in both directions (np.lexsort is stable)."""
    created = ix.view("created")[idx]
    width = created.dtype.itemsize
    if width % 8:
        created = created.astype(f"S{width + 8 - width % 8}")
    words = created.view(">u8").reshape(len(idx), -1)
    if descending:
        words = ~words
    cand = None
    if limit is not None and len(idx) > 4 * limit:
        # Top-k: on the first word that varies, keep every row <= the k-th value.
        for j in range(words.shape[1]):
            col = words[:, j]
            if col.min() != col.max():
                kth = np.partition(col, limit - 1)[limit - 1]
                cand = np.flatnonzero(col <= kth)
                break
    sub = words if cand is None else words[cand]
    ranked = np.lexsort(sub.T[::-1])  # lexsort's last key is the primary one
    if cand is not None:
        ranked = cand[ranked]
    if limit is not None:
        ranked = ranked[:limit]
    return idx[ranked]
