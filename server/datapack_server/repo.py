"""DataPackRepo: the embedded, in-process repository (the seed's API).

    from datapack_server import DataPackRepo
    repo = DataPackRepo(base_dir="data/datapacks/phase_c")   # an existing folder
    repo = DataPackRepo(base_dir="data/new_store", create=True)  # made if missing

Same methods, arguments, results and errors as the remote client
(`datapack_client.connect`): the RepositoryAPI over the same domain façade
(service/facade.py) the server calls, on one store folder.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from datapack_client.api import RepositoryAPI
from datapack_client.records.export import ExportArgs
from datapack_client.records.frames import require_extra
from datapack_client.records.model import DataPackMeta
from datapack_client.records.query import FilterSpec, QuerySpec, UsageUpdate, make_filter
from datapack_client.records.results import AppendResult, IngestResult
from datapack_client.records.stored import batch_records
from datapack_server.service.facade import DataPackService
from datapack_server.service.ingest import GivenEpisodes

STORE = ""  # the façade's name of the repository's one store: the folder itself


def as_record_dict(pack: Any) -> Any:
    """The JSON object behind a record given as DataPackMeta or dict."""
    if isinstance(pack, DataPackMeta):
        return pack.json_object()
    return pack


class DataPackRepo(RepositoryAPI):
    """An embedded repository on one store folder.

    The folder must exist: a missing base_dir raises NotFoundError
    (DATA_DIR_NOT_FOUND) unless create=True, which makes it (the rule of
    `datapack serve --data-dir`, which refuses a missing data root unless
    --create). Inside it, appends create task files; reading a task that has
    none raises NotFoundError (TASK_NOT_FOUND) naming the closest tasks.

    fsync=False skips the fsync before acknowledging (tests, bulk loads): an
    operating-system crash may then lose acknowledged appends.
    """

    def __init__(self, base_dir: str = "data/datapacks", *, fsync: bool = True, skill_catalogues=None,
                 create: bool = False):
        self.base_dir = base_dir
        catalogues = {t: dict(c) for t, c in skill_catalogues.items()} if skill_catalogues is not None else None
        self._service = DataPackService.embedded(base_dir, fsync=fsync, skill_catalogues=catalogues, create=create)

    @property
    def skill_catalogues(self) -> dict | None:
        """{task: {id: name}} replacing the default skill catalogue of those tasks (docs/adapter.md §1.2)."""
        return self._service.skill_catalogues

    @skill_catalogues.setter
    def skill_catalogues(self, catalogues: dict | None) -> None:
        self._service.skill_catalogues = catalogues

    # -- writing

    def append_batch(self, packs: Iterable[DataPackMeta | dict]) -> list[AppendResult]:
        return self._service.append_records(STORE, [as_record_dict(p) for p in packs])

    def _ingest(self, episodes: list, econ_params, baseline, offset: int) -> list[IngestResult]:
        results = self._service.ingest(STORE, GivenEpisodes(episodes, econ_params), baseline)
        for r in results:
            r.index += offset
        return results

    def put_baseline(self, name: str, values=None, *, episodes=None) -> dict:
        """Register a named baseline: explicit values {mpl, error, ep[, wage_parity]}
        or the means of baseline episodes."""
        return self._service.put_baseline(STORE, name, values, episodes=episodes)

    def _update_training_usage(self, task_name: str, update: UsageUpdate) -> list[dict]:
        return self._service.update_training_usage(STORE, task_name, update)

    def _export_portable(self, task_name: str, args: ExportArgs, progress) -> dict:
        summary = None
        for summary in self._service.export_portable(STORE, task_name, args):
            if progress is not None:
                progress(summary)
        assert summary is not None  # an export reports at least once (or raises)
        return summary

    # -- reading

    def _query(self, task_name: str, spec: QuerySpec) -> list[DataPackMeta]:
        return self._service.query_records(STORE, task_name, spec)

    def _query_arrow(self, task_name: str, spec: QuerySpec, columns: list[str] | None, batch_size: int) -> Any:
        schema, batches = self._service.query_arrow(STORE, task_name, spec, columns, batch_size)
        return require_extra("pyarrow").Table.from_batches(list(batches), schema=schema)

    def _iter_query(self, task_name: str, spec: QuerySpec, batch_size: int) -> Iterator[DataPackMeta]:
        for batch in self._service.query_line_batches(STORE, task_name, spec, batch_size):
            yield from batch_records(batch)

    def get(self, task_name: str, pack_id: str) -> DataPackMeta:
        return self._service.get_record(STORE, task_name, pack_id)

    def get_history(self, task_name: str, pack_id: str) -> list[dict]:
        """docs/repository.md §3.5: every revision, oldest first."""
        return self._service.history_records(STORE, task_name, pack_id)

    def get_statistics(self, task_name: str, **filters) -> dict:
        """docs/repository.md §9, over every pack or over a slice given with the
        filters of query() (bucket=..., engine_type=..., ...)."""
        spec: FilterSpec | None = make_filter(**filters) if filters else None
        return self._service.statistics(STORE, task_name, spec)

    def _analyze(self, method: str, task_name: str, slice_spec, **args):
        """One analysis of SkillDataPackAdapter (docs/adapter.md §3), arguments
        already validated, computed on the task's index in one consistent read."""
        return self._service.analyze(STORE, task_name, method, slice_spec, **args)

    def list_baselines(self) -> dict:
        return dict(self._service.list_baselines(STORE))

    def list_tasks(self) -> list[str]:
        return self._service.list_tasks(STORE)

    def close(self) -> None:
        self._service.close()

    def __enter__(self) -> DataPackRepo:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
