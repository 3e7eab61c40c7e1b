"""The portable export of one task (docs/portable.md §7): every current record whose
raw episode data can be read gets its three artifacts embedded.

Two destinations:
  * in place (the service's default): the pack gets a revision line (reason
    "portable_export") with the artifacts, schema_version 2.1-portable /
    2.2-repr and raw_data_path null; revision 1 keeps the path in the history.
    The change is applied to the current revision under the task's write lock,
    so a concurrent training-usage revision is never undone.
  * an output store (docs/portable.md §7, the export script): the source record with
    the artifacts appended there; the source store is not touched.

Either way the result is a deterministic function of the record, the raw files
and the options, so a re-run writes nothing new (in place: already portable
packs are `already_present`; output store: identical records are
`already_present`, different ones `conflicts`).

The artifacts are computed in the worker pool when one is given (numpy work,
one record at a time per worker), written in batches of `batch_size` (one fsync
per batch).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from datapack_client.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError, invalid
from datapack_client.records import validation
from datapack_client.records.export import COUNTERS, NOT_WRITTEN_NAMED, ExportArgs
from datapack_client.records.model import json_equal
from datapack_server.engine.store import Store, check_task
from datapack_server.portable.export import (
    REUSED,
    SKIPPED_BAD_INPUTS,
    SKIPPED_MISSING_INPUTS,
    SKIPPED_MISSING_RAW,
    ExportOptions,
    OptionError,
    RecordOutcome,
    portable_fields,
)
from datapack_server.query.lookups import position_of

REVISION_REASON = "portable_export"


# Top-level keys an export may change, in schema order (the revision's changed_fields).
_CHANGED_KEYS = ("schema_version", "raw_data_path", "scene_tracks_v1", "rgb_features_v1", "slice_labels_v1",
                 "repr_tokens")


@dataclass
class ExportSummary:
    task: str
    source: str
    output: str | None  # None: in place
    total: int  # current records of the task when the export started
    processed: int = 0
    counters: dict = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    repr_names: tuple = ()
    # The first NOT_WRITTEN_NAMED packs counted in conflicts or rejected_invalid, with why.
    not_written: list = field(default_factory=list)

    def not_writing(self, pack_id: str, counter: str, reason: str, message: str) -> None:
        """Count a pack that is not written (conflicts or rejected_invalid) and name it."""
        self.counters[counter] += 1
        if len(self.not_written) < NOT_WRITTEN_NAMED:
            self.not_written.append({"pack_id": pack_id, "counter": counter, "reason": reason, "message": message})

    @property
    def exit_status(self) -> int:
        """docs/portable.md §7: 1 when records conflicted or were rejected, else 0."""
        return 1 if self.counters["conflicts"] or self.counters["rejected_invalid"] else 0

    def as_dict(self) -> dict:
        out = {"task": self.task, "source": self.source, "output": self.output, "total": self.total,
               "processed": self.processed, **self.counters, "not_written": [dict(e) for e in self.not_written]}
        if self.repr_names:
            out["repr_tokens"] = list(self.repr_names)
        return out


def options_of(a: ExportArgs) -> ExportOptions:
    return ExportOptions(stride_seconds=a.stride_seconds, source_fps=a.source_fps, store_temporal=a.store_temporal,
                         token_dim=a.token_dim, pool_size=tuple(a.pool_size), repr_names=tuple(a.repr_names))


def check_options(options: ExportOptions, max_episodes) -> None:
    try:
        options.validate()
    except OptionError as exc:
        raise invalid(f"options.{exc.field}", "ARGUMENT_INVALID", str(exc)) from None
    if max_episodes is not None and (type(max_episodes) is not int or max_episodes < 1):
        raise invalid("max_episodes", "ARGUMENT_INVALID", f"max_episodes must be an integer ≥ 1, got {max_episodes!r}")


def compute_outcomes(records: list[dict], options: ExportOptions, cwd: str) -> list[RecordOutcome]:
    """Worker entry point: the portable fields of each record."""
    return [portable_fields(r, options, cwd) for r in records]


def export_portable(source: Store, task_name: str, options: ExportOptions, **kw) -> ExportSummary:
    """Run export_steps to the end; returns the final summary."""
    *_, summary = export_steps(source, task_name, options, **kw)  # it always yields a final summary
    return summary


def export_steps(source: Store, task_name: str, options: ExportOptions, *, output: Store | None = None,
                 max_episodes: int | None = None, pool=None, cwd: str | None = None, batch_size: int = 64,
                 source_name: str = "", output_name: str | None = None) -> Iterator[ExportSummary]:
    """Export the task's current records (append order); see the module doc.
    Yields the running summary after each written batch (the same object, last
    one final); stopping the iteration stops the export between batches.
    Raises InvalidArgumentError for bad options or when output is the source
    store, NotFoundError (TASK_EMPTY) when the task has no records."""
    check_task(task_name)
    check_options(options, max_episodes)
    if output is not None and os.path.realpath(output.path) == os.path.realpath(source.path):
        raise invalid("output", "ARGUMENT_INVALID", "the output store must differ from the source store")
    cwd = cwd or os.getcwd()
    with source.reading(task_name) as st:
        pack_ids = [st.index.pack_id(p) for p in range(st.index.n)]
    if not pack_ids:
        raise NotFoundError(f"task {task_name!r} has no records to export", "TASK_EMPTY")
    summary = ExportSummary(task_name, source_name or source.path,
                            None if output is None else (output_name or output.path), len(pack_ids),
                            repr_names=tuple(options.repr_names))
    c = summary.counters
    for start in range(0, len(pack_ids), batch_size):
        if max_episodes is not None and c["exported"] >= max_episodes:
            break
        ids = pack_ids[start:start + batch_size]
        records = _current_records(source, task_name, ids)
        outcomes = _compute(records, options, cwd, pool)
        planned: list[tuple[dict, RecordOutcome]] = []
        for rec, oc in zip(records, outcomes):
            if max_episodes is not None and c["exported"] + len(planned) >= max_episodes:
                break
            summary.processed += 1
            if oc.outcome in (SKIPPED_MISSING_RAW, SKIPPED_MISSING_INPUTS, SKIPPED_BAD_INPUTS):
                c[oc.outcome] += 1
                continue
            c["reused_existing"] += oc.outcome == REUSED
            c["unstrided_no_fps"] += oc.unstrided_no_fps
            c["repr_tokens_computed"] += oc.repr_computed
            planned.append((rec, oc))
        if planned:
            if output is None:
                _revise_in_place(source, task_name, planned, summary)
            else:
                _append_to_output(output, planned, summary)
        yield summary


def _current_records(store: Store, task_name: str, ids: list[str]) -> list[dict]:
    with store.reading(task_name) as st:
        return [st.load(st.ref(position_of(st, pid))) for pid in ids]


def _compute(records: list[dict], options: ExportOptions, cwd: str, pool) -> list[RecordOutcome]:
    if pool is None or len(records) < 8:  # not worth a process round trip
        return compute_outcomes(records, options, cwd)
    ex = pool.executor()
    per = max(1, -(-len(records) // (2 * pool.workers)))
    futures = [ex.submit(compute_outcomes, records[i:i + per], options, cwd) for i in range(0, len(records), per)]
    return [oc for f in futures for oc in f.result()]


def _portable_record(rec: dict, oc: RecordOutcome, in_place: bool) -> dict:
    out = dict(rec)
    out.update(oc.fields)
    if in_place:
        out["raw_data_path"] = None  # the artifacts are embedded; revision 1 keeps the path
    return out


def _revise_in_place(store: Store, task_name: str, planned: list, summary: ExportSummary) -> None:
    fields_of = {rec["pack_id"]: oc for rec, oc in planned}
    rejected: dict[str, tuple[str, str]] = {}  # pack id -> the first violation's reason and message
    c = summary.counters

    def change(pid: str, current: dict) -> list[str]:
        new = _portable_record(current, fields_of[pid], True)
        changed = [k for k in _CHANGED_KEYS if not json_equal(current.get(k), new.get(k))]
        if not changed:
            return []
        violations = validation.record_violations(new)
        if violations:
            first = violations[0]
            rejected[pid] = (first.reason, f"{first.field}: {first.message}")
            return []
        current.clear()
        current.update(new)
        return changed

    results = store.revise(task_name, list(fields_of), change, REVISION_REASON)
    for r in results:
        if r["pack_id"] in rejected:
            summary.not_writing(r["pack_id"], "rejected_invalid", *rejected[r["pack_id"]])
        elif r["status"] == "revised":
            c["revised"] += 1
            c["exported"] += 1
        else:
            c["already_present"] += 1
            c["exported"] += 1


def _append_to_output(output: Store, planned: list, summary: ExportSummary) -> None:
    records = [_portable_record(rec, oc, False) for rec, oc in planned]
    c = summary.counters
    try:
        results = output.append_batch(records)
    except (AlreadyExistsError, InvalidArgumentError):
        results = None
    if results is None:  # one at a time, to tell the conflicting / invalid records apart
        results = []
        for rec in records:
            try:
                results.extend(output.append_batch([rec]))
            except AlreadyExistsError as exc:
                summary.not_writing(rec["pack_id"], "conflicts", exc.reason, _first_message(exc))
            except InvalidArgumentError as exc:
                summary.not_writing(rec["pack_id"], "rejected_invalid", _first_reason(exc), _first_message(exc))
    for r in results:
        c["created" if r.status == "created" else "already_present"] += 1
        c["exported"] += 1


def _first_reason(exc) -> str:
    """The reason of a refused append: its first violation's, which names the invariant."""
    return exc.violations[0].reason if exc.violations else exc.reason


def _first_message(exc) -> str:
    if exc.violations:
        v = exc.violations[0]
        return f"{v.field}: {v.message}" if v.field else v.message
    return exc.message
