"""The repository API shared by the embedded DataPackRepo, the remote
DataPackClient and the asyncio client (aio/): one definition of every public
signature and its argument checks, so every transport accepts exactly the same
arguments and refuses the same ones with the same error.

RepositoryArguments checks the arguments and hands them to one hook per
operation (`_query(task, spec)`, `_update_training_usage`, `_export_portable`),
returning what the hook returns: the result for the synchronous repositories,
an awaitable of it for the asyncio client. RepositoryAPI adds the synchronous
compositions (iter_all, ingest_episodes in batches, append)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from datapack_client.errors import invalid
from datapack_client.records.export import make_export_args
from datapack_client.records.model import DataPackMeta
from datapack_client.records.query import (
    MAX_BATCH_SIZE,
    UNSET,
    QuerySpec,
    check_limit,
    check_skill_id,
    check_task_name,
    make_query,
    make_usage_update,
)


class RepositoryArguments:
    """The checked public signatures; the annotations give the synchronous
    result (the asyncio client's methods return an awaitable of it)."""

    def _query(self, task_name: str, spec: QuerySpec) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def query(self, task_name: str, bucket=None, engine_type=None, skill_id=None, min_trust=0.0,
              min_delta_j=None, max_delta_j=None, min_mvd_score=None, source_type=None,
              objective_vector=None, objective_similarity_threshold=0.9, condition_filters=None,
              include_sima=False, include_counterfactual=False, sort_by=None, sort_descending=True,
              limit=UNSET, wm_model_id=None, wm_role=None, schema_version=None, is_occluded=None,
              is_dynamic=None, is_static=None, occlusion_bucket=None, motion_bucket=None,
              include_artifacts=False) -> list[DataPackMeta]:
        """docs/repository.md §7: the current revision of every matching pack,
        filtered, sorted (stable; None = append order) and limited (unset = 100,
        None = all). Returned records are copies.

        Beyond docs/repository.md §7: wm_model_id / wm_role select world-model packs;
        schema_version ("2.0-energy", "2.1-portable", "2.2-repr") and the slice
        labels of portable packs (is_occluded, is_dynamic, is_static: bool;
        occlusion_bucket, motion_bucket: "low" | "mid" | "high") select slices.

        The heavy portable artifacts (scene_tracks_v1, rgb_features_v1,
        repr_tokens) are left out unless include_artifacts=True: such a pack
        lists them in `omitted_fields`, reading one raises FieldOmittedError and
        to_dict() leaves the key out. get() and load_all() return everything."""
        spec = make_query(
            bucket=bucket, engine_type=engine_type, skill_id=skill_id, min_trust=min_trust,
            min_delta_j=min_delta_j, max_delta_j=max_delta_j, min_mvd_score=min_mvd_score,
            source_type=source_type, objective_vector=objective_vector,
            objective_similarity_threshold=objective_similarity_threshold,
            condition_filters=condition_filters, include_sima=include_sima,
            include_counterfactual=include_counterfactual, sort_by=sort_by,
            sort_descending=sort_descending, limit=limit, wm_model_id=wm_model_id, wm_role=wm_role,
            schema_version=schema_version, is_occluded=is_occluded, is_dynamic=is_dynamic, is_static=is_static,
            occlusion_bucket=occlusion_bucket, motion_bucket=motion_bucket, include_artifacts=include_artifacts)
        return self._query(task_name, spec)

    def iter_query(self, task_name: str, *, batch_size: int = 1024, **filters) -> Iterator[DataPackMeta]:
        """The packs of query(task_name, **filters), streamed: each batch of
        `batch_size` packs is read (and over gRPC sent) when the iteration
        reaches it, so the first pack arrives at once and memory stays that of
        one batch however many packs match. Takes every argument of query();
        `limit` defaults to None (every match). The packs travel as their
        stored lines and are parsed when read beyond their pack_id. The read
        is consistent: the packs that matched when the iteration began, as they
        were then (appends made meanwhile are not included). Leaving the loop
        early ends the read. Errors of the read itself (an unknown task) are
        raised at the first next(); bad arguments at the call."""
        if type(batch_size) is not int or not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise invalid("batch_size", "ARGUMENT_INVALID",
                          f"batch_size must be an integer in [1, {MAX_BATCH_SIZE}], got {batch_size!r}")
        check_task_name(task_name)
        return self._iter_query(task_name, make_query(**{"limit": None, **filters}), batch_size)

    def _iter_query(self, task_name: str, spec: QuerySpec, batch_size: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def query_arrow(self, task_name: str, columns=None, *, batch_size: int = 1024, **filters) -> Any:
        """The packs of query(task_name, **filters) as a pyarrow.Table (the
        `export` extra) with the columns of `datapack export`: flat filter
        columns, profiles as structs, free-form values as JSON text
        (datapack_client.frames documents them). columns: the column names
        to return, in that order (None: all; an unknown name raises
        INVALID_ARGUMENT / COLUMN_UNKNOWN naming `columns`). Takes every
        argument of query(); `limit` defaults to None (every match); with
        include_artifacts=True the heavy portable artifacts get columns too.
        The filter columns come from the server's in-memory index, so a table
        of those alone is the cheapest bulk read there is. `batch_size`: rows
        per record batch (one message each over gRPC).
        .to_pandas() and polars.from_arrow() turn the table into DataFrames."""
        if type(batch_size) is not int or not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise invalid("batch_size", "ARGUMENT_INVALID",
                          f"batch_size must be an integer in [1, {MAX_BATCH_SIZE}], got {batch_size!r}")
        if columns is not None and (type(columns) not in (list, tuple) or not all(type(c) is str for c in columns)):
            raise invalid("columns", "COLUMN_UNKNOWN", "columns must be None or a list of column names")
        check_task_name(task_name)
        return self._query_arrow(task_name, make_query(**{"limit": None, **filters}),
                                 None if columns is None else list(columns), batch_size)

    def _query_arrow(self, task_name: str, spec: QuerySpec, columns: list[str] | None,
                     batch_size: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_positive_for_skill(self, task_name: str, skill_id: int, objective_vector=None,
                               condition_filters=None, top_k=10) -> list[DataPackMeta]:
        """Positive packs using the skill with trust ≥ 0.9, highest ΔJ first."""
        check_skill_id(skill_id)
        return self.query(task_name, bucket="positive", skill_id=skill_id, objective_vector=objective_vector,
                          condition_filters=condition_filters, min_trust=0.9, sort_by="delta_j",
                          sort_descending=True, limit=_top_k(top_k))

    def get_negative_for_skill(self, task_name: str, skill_id: int, objective_vector=None,
                               condition_filters=None, top_k=10, require_counterfactual=True) -> list[DataPackMeta]:
        """Negative packs using the skill with trust ≥ 0.9, most negative ΔJ first."""
        check_skill_id(skill_id)
        return self.query(task_name, bucket="negative", skill_id=skill_id, objective_vector=objective_vector,
                          condition_filters=condition_filters, min_trust=0.9,
                          include_counterfactual=require_counterfactual, sort_by="delta_j",
                          sort_descending=False, limit=_top_k(top_k))

    def load_all(self, task_name: str) -> list[DataPackMeta]:
        return self.query(task_name, limit=None, include_artifacts=True)

    def update_training_usage(self, task_name: str, pack_ids, *, wm_role=UNSET, add_training_runs=()) -> list[dict]:
        """docs/repository.md §3.4: mark packs as used by the world model / training.
        wm_role: leave out to keep it, None to clear it, or one of wm_train,
        wm_eval, wm_synth_source, wm_synth_target; add_training_runs: run ids to
        add. Each changed pack gets a revision line (nothing is rewritten);
        returns [{pack_id, status: "revised"|"unchanged", revision}]."""
        return self._update_training_usage(task_name, make_usage_update(pack_ids, wm_role, add_training_runs))

    def _update_training_usage(self, task_name: str, update) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def export_portable(self, task_name: str, *, output_store=None, max_episodes=None, stride_seconds=1.0,
                        source_fps=None, store_temporal=False, token_dim=64, pool_size=(4, 4),
                        include_repr_tokens=(), progress=None) -> dict:
        """Embed the portable artifacts (docs/portable.md) into the task's packs from
        their raw episode data (raw_data_path; on a server, read there).

        output_store=None: each pack gets a revision with the artifacts,
        schema_version 2.1-portable (2.2-repr with include_repr_tokens) and
        raw_data_path null. Otherwise the portable records are appended to that
        store (embedded: a folder; remote: a store path on the server) and the
        source is unchanged. Packs without usable raw data are counted, not
        failed; a re-run with the same options writes nothing.
        progress(summary_dict) is called after each written batch. Returns the
        summary: task, source, output, total, processed and the counters
        (exported, created, revised, already_present, reused_existing,
        skipped_missing_raw, skipped_missing_inputs, skipped_bad_inputs,
        unstrided_no_fps, conflicts, rejected_invalid, repr_tokens_computed).
        Raises NotFoundError (TASK_EMPTY) for a task without records."""
        check_task_name(task_name)
        args = make_export_args(output_store, max_episodes, stride_seconds, source_fps, store_temporal, token_dim,
                                pool_size, include_repr_tokens)
        if progress is not None and not callable(progress):
            raise invalid("progress", "ARGUMENT_INVALID", "progress must be callable or None")
        return self._export_portable(task_name, args, progress)

    def _export_portable(self, task_name: str, args, progress) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class RepositoryAPI(RepositoryArguments):
    """The synchronous repository API (DataPackRepo, DataPackClient)."""

    def iter_all(self, task_name: str) -> Iterator[DataPackMeta]:
        """Every pack of the task with its artifacts, streamed (iter_query)."""
        return self.iter_query(task_name, include_artifacts=True)

    def ingest_episodes(self, episodes, econ_params, baseline, *, batch_size: int = 256) -> list:
        """Build datapacks from episodes (docs/building.md) and store them; on a
        server the building happens server-side. `episodes`: dicts of
        build_datapack_meta_from_episode arguments with the summary under
        "episode_info"; `baseline`: a Baseline, {mpl, error, ep[, wage_parity]}
        or the name of a baseline the store keeps. Each batch of `batch_size`
        episodes is atomic. Returns one IngestResult per episode."""
        out = []
        for start, batch in episode_batches(episodes, batch_size):
            out.extend(self._ingest(batch, econ_params, baseline, start))
        return out

    def _ingest(self, episodes: list, econ_params, baseline, offset: int) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def append(self, pack: DataPackMeta | dict):
        """Append one record (append_batch of one); returns its AppendResult."""
        return self.append_batch([pack])[0]

    def append_batch(self, packs) -> list:  # pragma: no cover - abstract
        raise NotImplementedError


def episode_batches(episodes: Iterable, batch_size: int) -> list[tuple[int, list]]:
    """ingest_episodes' batches: (index of the batch's first episode, its episodes)."""
    episodes = list(episodes)
    return [(start, episodes[start:start + batch_size]) for start in range(0, len(episodes), batch_size)]


def _top_k(top_k: Any) -> Any:
    return check_limit(top_k, "top_k") if top_k is not None else None
