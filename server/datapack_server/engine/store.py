"""A datapack store: one folder of task files, served through in-memory indexes.

`Store` is the domain engine shared by the embedded DataPackRepo and the gRPC
server. It works on JSON objects (the stored line layout), never on protobuf or
grpc types. Its parts: engine/task_state.py (one task's index and its catch-up
with the file), engine/snapshots.py (index snapshots), engine/committer.py (the
group committer, the only write path), engine/memory.py (GC and heap tuning).

Reads: before every read a task catches up with its file (new complete lines
are parsed incrementally; a replaced or shrunk file is reloaded), so every
append acknowledged by anyone is visible (docs/repository.md §6.1).

Writes: appends are validated, then committed by the group committer, which
also commits revisions: concurrent writers queue their items; one of them (the
leader) takes the task locks, catches up, plans every item against the current
state, writes every queued line with one write per task, fsyncs once, updates
the indexes and wakes the others. Acknowledged = fsynced.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from datapack_client.errors import InvalidArgumentError, NotFoundError, Violation, invalid
from datapack_client.records import schema, validation
from datapack_client.records.results import AppendResult
from datapack_client.records.validation_rules import shown, task_name_ok
from datapack_server.engine import committer
from datapack_server.engine.committer import Change, GroupCommitter, Pending, PendingAppend, PendingRevision
from datapack_server.engine.parsing import WorkerPool
from datapack_server.engine.snapshots import SNAPSHOT_MIN_ROWS, BackgroundSnapshots
from datapack_server.engine.task_state import TaskState
from datapack_server.storage.taskfile import SUFFIX
from datapack_server.storage.verify import VerifyReport, verify_file

log = logging.getLogger("datapack.store")


def check_task(task_name: Any) -> str:
    if not task_name_ok(task_name):
        raise invalid("task_name", "TASK_NAME_INVALID",
                      f"task_name {shown(task_name)} must be 1-128 characters of [A-Za-z0-9_.-] without '..'")
    return task_name


class StoreObserver:
    """What the engine reports as it works, for metrics (metrics.py overrides
    these). The domain code calls this no-op base, so it imports no metrics
    library and pays one method call where nobody observes."""

    def fsync(self, seconds: float) -> None:
        """One task's lines and checksum entries written and fsynced in a group commit."""

    def appended(self, task: str, status: str, n: int) -> None:
        """n packs of `task` acknowledged (status created/already_present) or rejected."""

    def acknowledged(self, source: str, seconds: float) -> None:
        """One batch ("append" or "ingest") durably acknowledged, `seconds` after it was received."""


NO_OBSERVER = StoreObserver()


def _training_usage_change(update: Any) -> Change:
    """The change of update_training_usage: set wm_role and/or add training runs."""

    def change(_pid: str, rec: dict) -> list[str]:
        attr = rec.get("attribution")
        attr = dict(attr) if type(attr) is dict else schema.default_profile("AttributionProfile")
        changed = []
        if update.set_role and attr.get("wm_role") != update.wm_role:
            attr["wm_role"] = update.wm_role
            changed.append("attribution.wm_role")
        runs = attr.get("used_in_training_runs")
        runs = list(runs) if type(runs) is list else []
        new_runs = [r for r in update.add_training_runs if r not in runs]
        if new_runs:
            attr["used_in_training_runs"] = runs + new_runs
            changed.append("attribution.used_in_training_runs")
        if changed:
            rec["attribution"] = attr
        return changed

    return change


def _record_line(i: int, rec: Any, normalized: bool, validated: bool, check_free_finite: bool,
                 now: str) -> tuple[dict, bytes] | list[Violation]:
    """One record of prepare(): its normalised form and line, or its violations."""
    if type(rec) is not dict:
        return [Violation(i, None, "", "FIELD_TYPE", "a record must be a JSON object")]
    norm = rec if normalized else schema.normalize_record(rec, created_at=now)
    attr = norm.get("attribution")
    if type(attr) is dict and type(attr.get("skill_contribs")) is dict and any(
            type(k) is int for k in attr["skill_contribs"]):
        attr = dict(attr)
        attr["skill_contribs"] = {(str(k) if type(k) is int and k >= 0 else k): v
                                  for k, v in attr["skill_contribs"].items()}
        norm["attribution"] = attr
    vs = [] if validated else validation.record_violations(norm, i, check_free_finite)
    if vs:
        return vs
    try:
        line = orjson.dumps(norm, option=orjson.OPT_NON_STR_KEYS) + b"\n"
    except TypeError as exc:
        return [Violation(i, norm.get("pack_id"), "", "FIELD_TYPE", f"record is not JSON-serialisable: {exc}")]
    return norm, line


class Store:
    """One store folder (e.g. data/datapacks/phase_c)."""

    def __init__(self, path: str, fsync: bool = True, on_corrupt: Callable | None = None,
                 snapshots: bool = True, snapshot_min_rows: int = SNAPSHOT_MIN_ROWS, pool: WorkerPool | None = None,
                 observer: StoreObserver = NO_OBSERVER):
        self.path = os.path.abspath(path)
        self.observer = observer
        self.pool = pool  # a WorkerPool for large loads, or None (sequential)
        self.fsync = fsync
        self.snapshots = snapshots
        self.snapshot_min_rows = snapshot_min_rows
        self._background = BackgroundSnapshots()
        self._tasks: dict[str, TaskState] = {}
        self._tasks_lock = threading.Lock()
        self._committer = GroupCommitter(self._commit)
        self._on_corrupt = on_corrupt
        self.corrupt_lines_seen = 0

    def on_corrupt(self, task: str, line_no: int, offset: int, why: str) -> None:
        """A line that is not served: unparseable, or changed since it was written."""
        self.corrupt_lines_seen += 1
        log.warning("corrupt line not served: store %s task %s line %d byte offset %d: %s",
                    self.path, task, line_no, offset, why)
        if self._on_corrupt is not None:
            self._on_corrupt(self.path, task, line_no, offset, why)

    def task(self, name: str) -> TaskState:
        st = self._tasks.get(name)
        if st is None:
            check_task(name)
            with self._tasks_lock:
                st = self._tasks.get(name)
                if st is None:
                    st = self._tasks[name] = TaskState(self, name)
        return st

    def verify(self, task_name: str) -> VerifyReport:
        """Read the whole task file and check every line against its checksum
        and for being one JSON object (storage/verify.py). Never modifies the
        file. Findings are logged; a checksum mismatch of a line this store
        serves makes the task re-index without it on its next read."""
        st = self.task(check_task(task_name))
        if not os.path.exists(st.file.path):
            raise NotFoundError(f"task {task_name!r} has no file in {self.path}", "TASK_NOT_FOUND")
        report = verify_file(st.file.path, st.file.sums.path, task_name, st.file.write_lock)
        for f in report.findings:
            log.warning("verify: store %s task %s line %d byte offset %d: %s: %s", self.path, task_name, f.line,
                        f.byte_offset, f.kind, f.message)
        with st.lock:
            known = {c[1] for c in st.corrupt}
            if any(f.kind == "CHECKSUM_MISMATCH" and f.byte_offset not in known for f in report.findings):
                st.needs_rebuild = True
        return report

    def read_task(self, name: str) -> TaskState:
        st = self.task(name)
        st.refresh()
        return st

    def task_sizes(self) -> list[tuple[str, int]]:
        """(task, packs) of every loaded task holding packs, from the index
        sizes: no I/O, no lock (a scrape may see a count one commit old)."""
        return [(name, st.index.n) for name, st in list(self._tasks.items()) if st.index.n]

    def has_packs(self, task: str) -> bool:
        st = self._tasks.get(task)
        return st is not None and st.index.n > 0

    def list_tasks(self) -> list[str]:
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        out = []
        for fn in names:
            if fn.endswith(SUFFIX) and os.path.isfile(os.path.join(self.path, fn)):
                t = fn[: -len(SUFFIX)]
                if task_name_ok(t):
                    out.append(t)
        return sorted(out)

    def save_snapshot_later(self, st: TaskState) -> None:
        """Write a task's snapshot on a background thread (one at a time per task)."""
        self._background.start(st.task, st.save_snapshot)

    def close(self) -> None:
        """Save snapshots of tasks that grew by enough rows, then release files.
        A background snapshot still being written is waited for first, so no
        snapshot file appears after close() returned."""
        self._background.wait()
        for st in list(self._tasks.values()):
            if st.snapshot_due():
                st.save_snapshot()
            with st.lock:
                st.close_reader()
                st.file.close()

    # ------------------------------------------------------------------ append

    def prepare(self, records: Iterable[dict], check_free_finite: bool = False,
                normalized: bool = False, validated: bool = False) -> tuple[list[dict], list[bytes]]:
        """Normalise and validate a batch (docs/repository.md §4.1 steps 1-3).
        Raises InvalidArgumentError with every violation of every record.
        normalized=True: the records are already normalised (the wire decoder
        does it in the same pass); validated=True: the invariants were checked
        already (the builder's self-check runs the same ones)."""
        now = schema.utc_now()
        prepared: list[dict] = []
        lines: list[bytes] = []
        violations: list[Violation] = []
        for i, rec in enumerate(records):
            outcome = _record_line(i, rec, normalized, validated, check_free_finite, now)
            if isinstance(outcome, list):
                violations.extend(outcome)
                continue
            prepared.append(outcome[0])
            lines.append(outcome[1])
        if violations:
            first = violations[0]
            raise InvalidArgumentError(
                f"{len(violations)} invalid field(s); first: {first.message}", first.reason, violations)
        return prepared, lines

    def append_prepared(self, records: list[dict], lines: list[bytes]) -> list[AppendResult]:
        """Commit a prepared batch atomically; returns once it is durable."""
        return self.append_lines([(r["task_name"], r["pack_id"]) for r in records], lines, records)

    def append_lines(self, keys: list[tuple[str, str]], lines: list[bytes], records: list | None = None,
                     raws: list | None = None) -> list[AppendResult]:
        """Commit validated lines (with their (task, pack_id), and optionally
        their records and raw index rows) atomically; returns once durable."""
        if not keys:
            return []
        item = PendingAppend(keys, lines, records, raws)
        self._committer.submit(item)
        if item.error is not None:
            raise item.error
        assert item.results is not None
        return item.results

    def append_batch(self, records: Iterable[dict], check_free_finite: bool = False) -> list[AppendResult]:
        recs, lines = self.prepare(records, check_free_finite)
        return self.append_prepared(recs, lines)

    def _commit(self, items: list[Pending]) -> None:
        """The group committer's round (a method, so that tests can hold it)."""
        committer.commit(self, items)

    # ------------------------------------------------------------------ revisions

    def update_training_usage(self, task_name: str, update: Any) -> list[dict]:
        """docs/repository.md §3.4: append one revision line per pack whose wm_role or
        used_in_training_runs changes; all or nothing (any unknown id -> NOT_FOUND,
        nothing written). Returns {pack_id, status, revision} per pack."""
        return self.revise(task_name, update.pack_ids, _training_usage_change(update), "training_usage")

    def revise(self, task_name: str, pack_ids: Iterable[str], change: Change, reason: str) -> list[dict]:
        """Append a revision line (docs/repository.md §3.3) for every pack that
        change(pack_id, record) modifies in place; it returns the changed dotted
        paths ([] = unchanged, nothing written). The change is applied to the
        current revision under the task's write lock (by the group committer),
        so concurrent revisions of other fields are never undone. All packs must
        exist (else NOT_FOUND, nothing written); the lines of one call are made
        durable together. Returns {pack_id, status: "revised" | "unchanged",
        revision} per pack."""
        item = PendingRevision(check_task(task_name), list(pack_ids), change, reason)
        self._committer.submit(item)
        if item.error is not None:
            raise item.error
        assert item.results is not None
        return item.results

    # ------------------------------------------------------------------ reads

    @contextmanager
    def reading(self, task_name: str) -> Iterator[TaskState]:
        """A consistent read of one task: caught up with its file, and locked
        against concurrent index updates while the caller reads payloads."""
        st = self.read_task(check_task(task_name))
        with st.lock:
            yield st
