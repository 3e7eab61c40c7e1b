"""Task statistics (docs/repository.md §9) from the index columns: linear time
(bincounts, no sorting), the unfiltered result cached per index version."""
from __future__ import annotations

import math

import numpy as np

from datapack_client.records.model import copy_json
from datapack_server.engine.index import TaskIndex


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    """numpy's mean and population std; when finite values near the double
    limit overflow the sums, the same computed on values scaled by their
    largest magnitude (exact mean and std exist, inf/NaN would be wrong)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(np.mean(x)), float(np.std(x))
        if not (math.isfinite(mean) and math.isfinite(std)) and np.isfinite(x).all():
            scale = float(np.max(np.abs(x)))
            y = x / scale
            mean, std = float(np.mean(y)) * scale, float(np.std(y)) * scale
    return mean, std


def statistics(ix: TaskIndex, idx: np.ndarray | None) -> dict:
    """docs/repository.md §9 over every pack (idx None) or the given positions.
    Linear-time (bincounts, no sorting); unfiltered results are cached per
    index version, so repeated calls on an unchanged task cost nothing."""
    if idx is None:
        key = (ix.n, ix.version)
        if ix.stats_cache is not None and ix.stats_cache[0] == key:
            return copy_json(ix.stats_cache[1])
    n = ix.n if idx is None else len(idx)
    if n == 0:
        return {"total": 0, "positive": 0, "negative": 0}

    def col(name):
        c = ix.view(name)
        return c if idx is None else c[idx]

    bucket = col("bucket")
    positive = int(np.count_nonzero(bucket == 0))
    negative = int(np.count_nonzero(bucket == 1))
    dj = col("delta_j")
    trust = col("trust")
    traces = ix.cats["trace"].values
    present = np.flatnonzero(np.bincount(col("trace"), minlength=len(traces)))
    skills: set = set()
    for code in present.tolist():
        skills.update(traces[code])
    dj_mean, dj_std = _mean_std(dj)
    trust_mean, trust_std = _mean_std(trust)
    out = {
        "total": n,
        "positive": positive,
        "negative": negative,
        "positive_ratio": positive / n,
        "delta_j_mean": dj_mean,
        "delta_j_std": dj_std,
        "delta_j_min": float(np.min(dj)),
        "delta_j_max": float(np.max(dj)),
        "trust_mean": trust_mean,
        "trust_std": trust_std,
        "unique_skills": sorted(skills),
        "engine_types": _counts_in_order(col("engine"), ix.cats["engine"].values),
        "source_types": _counts_in_order(col("source"), ix.cats["source"].values),
        "with_sima": int(np.count_nonzero(col("has_sima"))),
        "with_counterfactual": int(np.count_nonzero((bucket == 1) & col("has_cf"))),
    }
    if idx is None:
        ix.stats_cache = ((ix.n, ix.version), copy_json(out))
    return out


def _counts_in_order(codes: np.ndarray, values: list) -> dict:
    """value -> count, keys in order of first appearance (append order)."""
    counts = np.bincount(codes, minlength=len(values))
    present = np.flatnonzero(counts)
    if len(present) <= 64:  # the usual case (a few engines, sources): one pass per value
        first = [int(np.argmax(codes == c)) for c in present.tolist()]
        in_order = present[np.argsort(first, kind="stable")]
    else:
        uniq, first_idx = np.unique(codes, return_index=True)
        in_order = uniq[np.argsort(first_idx, kind="stable")]
    return {values[c]: int(counts[c]) for c in in_order.tolist()}
