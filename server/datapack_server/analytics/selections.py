"""Packs or pack ids selected by energy-driver tags, attribution ranges or skill
(docs/adapter.md §3.10, §3.12, §3.14).
"""
from __future__ import annotations

import numpy as np

from datapack_client.records.model import DataPackMeta
from datapack_server.analytics.common import (
    bucket_mask,
    first_passing,
    packs_at,
    skill_mask,
    slice_mask,
)
from datapack_server.query.filters import per_value


def query_by_energy_driver_tags(st, spec, catalogue, energy_tags: list, bucket: str | None, match_all: bool,
                                limit: int | None) -> list[DataPackMeta]:
    ix = st.index
    wanted = frozenset(energy_tags)
    if match_all:
        table = per_value(ix.cats["etags"], lambda tags: wanted <= tags)
    else:
        table = per_value(ix.cats["etags"], lambda tags: not wanted.isdisjoint(tags))
    etags = ix.view("etags")

    def passes(rows: slice) -> np.ndarray:
        return np.take(table, etags[rows]) & bucket_mask(ix, bucket, rows)

    return packs_at(st, first_passing(ix, spec, limit, passes).tolist())


def query_by_attribution_ranges(st, spec, catalogue, min_delta_mpl, max_delta_mpl, min_delta_error,
                                max_delta_error, min_delta_ep, max_delta_ep, min_trust: float, max_trust: float,
                                bucket: str | None, limit: int | None) -> list[DataPackMeta]:
    ix = st.index
    v = ix.view
    trust = v("trust")
    ranges = [(v(col), lo, hi) for col, lo, hi in (("d_mpl", min_delta_mpl, max_delta_mpl),
                                                    ("d_error", min_delta_error, max_delta_error),
                                                    ("d_ep", min_delta_ep, max_delta_ep))]

    def passes(rows: slice) -> np.ndarray:
        out = (trust[rows] >= min_trust) & (trust[rows] <= max_trust) & bucket_mask(ix, bucket, rows)
        for col, lo, hi in ranges:
            if lo is not None:
                out = out & (col[rows] >= lo)
            if hi is not None:
                out = out & (col[rows] <= hi)
        return out

    return packs_at(st, first_passing(ix, spec, limit, passes).tolist())


def get_datapack_ids_for_skill(st, spec, catalogue, skill_id: int, bucket: str | None) -> list[str]:
    ix = st.index
    mask = slice_mask(ix, spec) & bucket_mask(ix, bucket) & skill_mask(ix, skill_id) & (ix.view("trust") >= 0.0)
    return pack_ids_at(ix, np.flatnonzero(mask))


def pack_ids_at(ix, idx: np.ndarray) -> list[str]:
    """The pack ids at the positions. The ids live in one UTF-8 blob with an
    offsets array (engine PackIds); when the ids asked for all have one width
    w and sit at position × w (ids of one pattern), they are copied out with
    one gather, joined by newlines and split once, creating no bytes object
    per id."""
    if not len(idx):
        return []
    ids = ix.ids
    starts = ids.offsets[idx]
    w = int(ids.offsets[idx[0] + 1] - starts[0])
    if w > 0 and np.array_equal(starts, idx * w) and np.array_equal(ids.offsets[idx + 1], starts + w):
        table = np.frombuffer(ids.blob, dtype=np.uint8, count=(int(idx.max()) + 1) * w).reshape(-1, w)
        lines = np.empty((len(idx), w + 1), dtype=np.uint8)
        lines[:, :w] = np.take(table, idx, axis=0)
        lines[:, w] = 10  # "\n"
        if np.count_nonzero(lines[:, :w] == 10) == 0:  # no id holds a newline: one split is exact
            return lines.tobytes()[:-1].decode("utf-8", "surrogatepass").split("\n")
    blob, ends = ids.blob, ids.offsets[idx + 1]
    return [blob[a:b].decode("utf-8", "surrogatepass") for a, b in zip(starts.tolist(), ends.tolist())]
