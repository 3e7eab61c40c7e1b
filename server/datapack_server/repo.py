"""DataPackRepo: the embedded, in-process repository (the seed's API).

    from datapack_server import DataPackRepo
    repo = DataPackRepo(base_dir="data/datapacks/phase_c")

Same methods, arguments, results and errors as the remote client
(`datapack_client.connect`), built on the same engine as the server.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Iterator

from datapack_client.model import DataPackMeta, copy_json
from datapack_client.query import UNSET, check_limit, check_skill_id, make_filter, make_query
from datapack_client.results import AppendResult

from .store import Store, history_refs, position_of, query_refs, statistics as _statistics
from .store import match
from .storage.lines import parse_line, served_record


def as_record_dict(pack: Any) -> Any:
    """The JSON object behind a record given as DataPackMeta or dict."""
    if isinstance(pack, DataPackMeta):
        return pack._d
    return pack


class DataPackRepo:
    """An embedded repository on one store folder (created if missing).

    fsync=False skips the fsync before acknowledging (tests, bulk loads): an
    operating-system crash may then lose acknowledged appends.
    """

    def __init__(self, base_dir: str = "data/datapacks", *, fsync: bool = True):
        os.makedirs(base_dir, exist_ok=True)
        self.base_dir = base_dir
        self._store = Store(base_dir, fsync=fsync)

    # -- writing

    def append(self, pack: DataPackMeta | dict) -> AppendResult:
        return self.append_batch([pack])[0]

    def append_batch(self, packs: Iterable[DataPackMeta | dict]) -> list[AppendResult]:
        return self._store.append_batch([as_record_dict(p) for p in packs], check_free_finite=True)

    # -- reading

    def _records(self, task_name: str, spec) -> list[DataPackMeta]:
        with self._store.reading(task_name) as st:
            # Read the lines under the task lock; parse each one when it is first used.
            return [DataPackMeta._lazy(_line_loader(st, ref, st.read_raw(ref.offset, ref.length)), ref.revision)
                    for ref in query_refs(st, spec)]

    def query(self, task_name: str, bucket=None, engine_type=None, skill_id=None, min_trust=0.0,
              min_delta_j=None, max_delta_j=None, min_mvd_score=None, source_type=None,
              objective_vector=None, objective_similarity_threshold=0.9, condition_filters=None,
              include_sima=False, include_counterfactual=False, sort_by=None, sort_descending=True,
              limit=UNSET) -> list[DataPackMeta]:
        """repository.md §7: filtered, sorted, limited packs (copies)."""
        spec = make_query(
            bucket=bucket, engine_type=engine_type, skill_id=skill_id, min_trust=min_trust,
            min_delta_j=min_delta_j, max_delta_j=max_delta_j, min_mvd_score=min_mvd_score,
            source_type=source_type, objective_vector=objective_vector,
            objective_similarity_threshold=objective_similarity_threshold,
            condition_filters=condition_filters, include_sima=include_sima,
            include_counterfactual=include_counterfactual, sort_by=sort_by,
            sort_descending=sort_descending, limit=limit)
        return self._records(task_name, spec)

    def get_positive_for_skill(self, task_name: str, skill_id: int, objective_vector=None,
                               condition_filters=None, top_k=10) -> list[DataPackMeta]:
        check_skill_id(skill_id)
        return self.query(task_name, bucket="positive", skill_id=skill_id, objective_vector=objective_vector,
                          condition_filters=condition_filters, min_trust=0.9, sort_by="delta_j",
                          sort_descending=True, limit=_top_k(top_k))

    def get_negative_for_skill(self, task_name: str, skill_id: int, objective_vector=None,
                               condition_filters=None, top_k=10, require_counterfactual=True) -> list[DataPackMeta]:
        check_skill_id(skill_id)
        return self.query(task_name, bucket="negative", skill_id=skill_id, objective_vector=objective_vector,
                          condition_filters=condition_filters, min_trust=0.9,
                          include_counterfactual=require_counterfactual, sort_by="delta_j",
                          sort_descending=False, limit=_top_k(top_k))

    def iter_all(self, task_name: str) -> Iterator[DataPackMeta]:
        return iter(self.load_all(task_name))

    def load_all(self, task_name: str) -> list[DataPackMeta]:
        return self.query(task_name, limit=None)

    def get(self, task_name: str, pack_id: str) -> DataPackMeta:
        with self._store.reading(task_name) as st:
            ref = st.ref(position_of(st, pack_id))
            return DataPackMeta._wrap(st.load(ref), ref.revision)

    def get_history(self, task_name: str, pack_id: str) -> list[dict]:
        """repository.md §3.5: every revision, oldest first."""
        with self._store.reading(task_name) as st:
            out = []
            for ref, meta in history_refs(st, pack_id):
                meta = meta or {}
                changed = meta.get("changed_fields")
                out.append({"revision": ref.revision, "reason": meta.get("reason"),
                            "revised_at": meta.get("revised_at"),
                            "changed_fields": copy_json(changed) if changed is not None else None,
                            "record": DataPackMeta._wrap(st.load(ref), ref.revision)})
            return out

    def get_statistics(self, task_name: str, **filters) -> dict:
        """repository.md §9, over every pack or over a slice given with the
        filters of query() (bucket=..., engine_type=..., ...)."""
        spec = make_filter(**filters) if filters else None
        with self._store.reading(task_name) as st:
            idx = match(st.index, spec) if spec is not None else None
            return _statistics(st.index, idx)

    def list_tasks(self) -> list[str]:
        return self._store.list_tasks()

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> "DataPackRepo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _line_loader(st, ref, raw: bytes):
    file_name, line_no, task = st.file.file_name, ref.line_no, st.task
    return lambda: served_record(parse_line(raw), file_name, line_no, task)


def _top_k(top_k: Any) -> Any:
    return check_limit(top_k, "top_k") if top_k is not None else None
