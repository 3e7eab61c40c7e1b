"""Lookups on a caught-up task: one pack by id, its revision history, and the
positions or record references of a query's results."""
from __future__ import annotations

from typing import Any

import numpy as np

from datapack_client.errors import NotFoundError, Violation
from datapack_client.records.query import QuerySpec
from datapack_client.records.validation_rules import shown
from datapack_server.engine.errors import echoed_pack_id
from datapack_server.engine.task_state import RecordRef, TaskState
from datapack_server.query.filters import match
from datapack_server.query.ordering import order
from datapack_server.query.top_k import first_matches, scannable
from datapack_server.storage.lines import parse_line


def position_of(st: TaskState, pack_id: Any) -> int:
    """The index position of a served pack; NOT_FOUND (PACK_NOT_FOUND) if none."""
    p = st.index.position(pack_id) if type(pack_id) is str else None
    if p is None:
        raise NotFoundError(f"pack {shown(pack_id)} not found in task {st.task!r}", "PACK_NOT_FOUND",
                            [Violation(0, echoed_pack_id(pack_id), "pack_id", "PACK_NOT_FOUND",
                                       f"unknown pack_id {shown(pack_id)}")])
    return p


def history_refs(st: TaskState, pack_id: Any) -> list[tuple[RecordRef, dict | None]]:
    """Every revision of a pack, oldest first: (ref, its `_revision` object or None)."""
    p = position_of(st, pack_id)
    ref = st.ref(p)
    lines = st.index.history.get(p) or [(ref.offset, ref.length, ref.line_no)]
    out = []
    for rev, (off, length, line_no) in enumerate(lines, start=1):
        meta = parse_line(st.read_raw(off, length)).get("_revision") if rev > 1 else None
        out.append((RecordRef(st.task, st.ident, off, length, line_no, rev), meta if type(meta) is dict else None))
    return out


def query_positions(st: TaskState, q: QuerySpec) -> np.ndarray:
    """Positions of the matching packs in result order."""
    ix = st.index
    if q.limit is not None and scannable(ix, q.limit):
        return first_matches(ix, q.filter, q.sort_by, q.sort_descending, q.limit)
    return order(ix, match(ix, q.filter), q.sort_by, q.sort_descending, q.limit)
