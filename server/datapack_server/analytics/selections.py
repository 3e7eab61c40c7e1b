"""Packs or pack ids selected by energy-driver tags, attribution ranges or skill
(docs/adapter.md §3.10, §3.12, §3.14).
"""
from __future__ import annotations

import numpy as np

from datapack_client.records.model import DataPackMeta
from datapack_server.analytics.common import (
    bucket_mask,
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
    mask = slice_mask(ix, spec) & bucket_mask(ix, bucket)
    mask &= table[ix.view("etags")] if len(table) else False
    idx = np.flatnonzero(mask)
    return packs_at(st, (idx if limit is None else idx[:limit]).tolist())


def query_by_attribution_ranges(st, spec, catalogue, min_delta_mpl, max_delta_mpl, min_delta_error,
                                max_delta_error, min_delta_ep, max_delta_ep, min_trust: float, max_trust: float,
                                bucket: str | None, limit: int | None) -> list[DataPackMeta]:
    ix = st.index
    v = ix.view
    mask = slice_mask(ix, spec) & bucket_mask(ix, bucket)
    for col, lo, hi in (("d_mpl", min_delta_mpl, max_delta_mpl), ("d_error", min_delta_error, max_delta_error),
                        ("d_ep", min_delta_ep, max_delta_ep)):
        if lo is not None:
            mask &= v(col) >= lo
        if hi is not None:
            mask &= v(col) <= hi
    trust = v("trust")
    mask &= (trust >= min_trust) & (trust <= max_trust)
    idx = np.flatnonzero(mask)
    return packs_at(st, (idx if limit is None else idx[:limit]).tolist())


def get_datapack_ids_for_skill(st, spec, catalogue, skill_id: int, bucket: str | None) -> list[str]:
    ix = st.index
    mask = slice_mask(ix, spec) & bucket_mask(ix, bucket) & skill_mask(ix, skill_id) & (ix.view("trust") >= 0.0)
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    ids = ix.ids  # PackIds: every id in one UTF-8 blob, with an offsets array
    starts = ids.offsets[idx].tolist()
    ends = ids.offsets[idx + 1].tolist()
    blob = ids.blob
    return [blob[a:b].decode("utf-8", "surrogatepass") for a, b in zip(starts, ends)]
