"""DataPackRepo: the embedded, in-process repository (the seed's API).

    from datapack_server import DataPackRepo
    repo = DataPackRepo(base_dir="data/datapacks/phase_c")

Same methods, arguments, results and errors as the remote client
(`datapack_client.connect`), built on the same engine as the server.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

from datapack_client.records.model import DataPackMeta, copy_json
from datapack_client.api import RepositoryAPI
from datapack_client.records.query import make_filter
from datapack_client.records.results import AppendResult
from datapack_client.records.skills import catalogue_for

from datapack_server.analytics import analyses as analytics
from datapack_server.engine.store import Store, history_refs, position_of, query_refs, statistics as _statistics
from datapack_server.service.baselines import BaselineRegistry, baseline_from_episodes
from datapack_server.service.ingest import ingest
from datapack_server.engine.store import match
from datapack_server.portable.exporter import export_steps, options_of
from datapack_server.storage.lines import parse_line, served_record


def as_record_dict(pack: Any) -> Any:
    """The JSON object behind a record given as DataPackMeta or dict."""
    if isinstance(pack, DataPackMeta):
        return pack._d
    return pack


class DataPackRepo(RepositoryAPI):
    """An embedded repository on one store folder (created if missing).

    fsync=False skips the fsync before acknowledging (tests, bulk loads): an
    operating-system crash may then lose acknowledged appends.
    """

    def __init__(self, base_dir: str = "data/datapacks", *, fsync: bool = True, skill_catalogues=None):
        os.makedirs(base_dir, exist_ok=True)
        self.base_dir = base_dir
        # {task: {id: name}} replacing the default skill catalogue of those tasks (adapter.md §1.2).
        self.skill_catalogues = ({t: dict(c) for t, c in skill_catalogues.items()}
                                 if skill_catalogues is not None else None)
        self._store = Store(base_dir, fsync=fsync)
        self._baselines = BaselineRegistry(self._store.path, fsync=fsync)

    # -- writing

    def append_batch(self, packs: Iterable[DataPackMeta | dict]) -> list[AppendResult]:
        return self._store.append_batch([as_record_dict(p) for p in packs], check_free_finite=True)

    # -- reading

    def _query(self, task_name: str, spec) -> list[DataPackMeta]:
        with self._store.reading(task_name) as st:
            # Read the lines under the task lock; parse each one when it is first used.
            lazy = DataPackMeta._lazy if spec.include_artifacts else DataPackMeta._lazy_basic
            return [lazy(_line_loader(st, ref, st.read_raw(ref.offset, ref.length)), ref.revision)
                    for ref in query_refs(st, spec)]

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

    def _analyze(self, method: str, task_name: str, slice_spec, **args):
        """One analysis of SkillDataPackAdapter (adapter.md §3), arguments
        already validated, computed on the task's index in one consistent read."""
        with self._store.reading(task_name) as st:
            return analytics.analyze(st, method, slice_spec, catalogue_for(task_name, self.skill_catalogues), **args)

    def _ingest(self, episodes: list, econ_params, baseline, offset: int) -> list:
        results = ingest(self._store, self._baselines, episodes, econ_params, baseline)
        for r in results:
            r.index += offset
        return results

    def _export_portable(self, task_name: str, args, progress) -> dict:
        output = None
        if args.output_store is not None:
            output = Store(args.output_store, fsync=self._store.fsync)
        try:
            # In this process: a worker pool would re-import the caller's main
            # module (forkserver), which a library must not impose. The
            # `datapack export-portable` command and the server use one.
            summary = None
            for summary in export_steps(self._store, task_name, options_of(args), output=output,
                                        max_episodes=args.max_episodes, source_name=self.base_dir,
                                        output_name=args.output_store):
                if progress is not None:
                    progress(summary.as_dict())
            return summary.as_dict()
        finally:
            if output is not None:
                output.close()

    def put_baseline(self, name: str, values=None, *, episodes=None) -> dict:
        """Register a named baseline: explicit values {mpl, error, ep[, wage_parity]}
        or the means of baseline episodes."""
        return self._baselines.put(name, _baseline_values(values, episodes))

    def list_baselines(self) -> dict:
        return dict(self._baselines.list())

    def _update_training_usage(self, task_name: str, update) -> list[dict]:
        return self._store.update_training_usage(task_name, update)

    def list_tasks(self) -> list[str]:
        return self._store.list_tasks()

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> "DataPackRepo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _baseline_values(values, episodes) -> dict:
    if (values is None) == (episodes is None):
        from datapack_client.errors import invalid
        raise invalid("values", "ARGUMENT_INVALID", "give either the baseline's values or its episodes")
    if episodes is not None:
        from datapack_client.wire.episodes import _as_dict
        return baseline_from_episodes([_as_dict(e) for e in episodes])
    if hasattr(values, "mpl"):
        return {"mpl": values.mpl, "error": values.error, "ep": values.ep,
                "wage_parity": getattr(values, "wage_parity", None)}
    return dict(values)


def _line_loader(st, ref, raw: bytes):
    file_name, line_no, task = st.file.file_name, ref.line_no, st.task
    return lambda: served_record(parse_line(raw), file_name, line_no, task)


