"""The group committer: the only path by which lines reach a task file.

Every durable write (appended records, revision lines) is an item submitted
to one GroupCommitter per store. Concurrent submitters queue their items; one
of them (the leader) commits the whole queue as one round: it takes the task
locks (file write lock, then task lock, in task-name order), catches each task
up, recovers it for writing, plans every item against the current state (pack
id uniqueness for appends, the change applied to the current revision for
revisions), writes each task's lines with one write and one fsync, updates the
indexes and wakes the others. Acknowledged = fsynced; a failed write or fsync
rolls back every task of the round and acknowledges nothing.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Protocol

import orjson

from datapack_client.errors import AlreadyExistsError, InternalError, NotFoundError, Violation
from datapack_client.records import jsonio, schema
from datapack_client.records.results import AppendResult
from datapack_client.records.validation_rules import shown
from datapack_server.engine.errors import durability_error, echoed_pack_id
from datapack_server.engine.task_state import RecordRef, TaskState, records_identical
from datapack_server.storage.lines import parse_line, served_record
from datapack_server.storage.taskfile import StoreWriteError

# change(pack_id, record) edits the record in place and returns the changed dotted paths ([] = unchanged).
Change = Callable[[str, dict], list[str]]


class PendingAppend:
    """One batch of new records waiting for the group commit: per record its
    (task, pack_id), its line, and optionally the record itself and its raw
    index row (records prepared by a worker come without the dict; it is
    parsed back from the line only if an id collision needs a comparison)."""

    __slots__ = ("keys", "lines", "records", "raws", "results", "error", "done")

    def __init__(self, keys: list[tuple[str, str]], lines: list[bytes], records: list | None = None,
                 raws: list | None = None):
        self.keys = keys
        self.lines = lines
        self.records = records if records is not None else [None] * len(keys)
        self.raws = raws
        self.results: list[AppendResult] | None = None
        self.error: Exception | None = None
        self.done = False

    def record(self, i: int) -> dict:
        rec = self.records[i]
        if rec is None:
            rec = self.records[i] = orjson.loads(self.lines[i])
        return rec


class PendingRevision:
    """One revise() call waiting for the group commit: the change is applied to
    the current revision of each pack when the round plans it."""

    __slots__ = ("task", "pack_ids", "change", "reason", "results", "error", "done")

    def __init__(self, task: str, pack_ids: list, change: Change, reason: str):
        self.task = task
        self.pack_ids = pack_ids
        self.change = change
        self.reason = reason
        self.results: list[dict] | None = None
        self.error: Exception | None = None
        self.done = False


Pending = PendingAppend | PendingRevision


class GroupCommitter:
    """Leader/follower group commit: concurrent submitters share one commit
    (one write and one fsync per task) instead of one each."""

    def __init__(self, commit: Callable[[list], None]):
        self._commit = commit
        self._cv = threading.Condition()
        self._queue: list = []
        self._busy = False

    def submit(self, item: Pending) -> None:
        with self._cv:
            self._queue.append(item)
            while self._busy and not item.done:
                self._cv.wait()
            if item.done:
                return
            self._busy = True
            batch, self._queue = self._queue, []
        try:
            self._commit(batch)
        finally:
            with self._cv:
                self._busy = False
                self._cv.notify_all()


class CommitObserver(Protocol):
    def fsync(self, seconds: float) -> None: ...


class CommitTarget(Protocol):
    """What a commit round needs from the store it writes to."""

    @property
    def fsync(self) -> bool: ...

    @property
    def observer(self) -> CommitObserver: ...

    @property
    def snapshots(self) -> bool: ...

    @property
    def snapshot_min_rows(self) -> int: ...

    def task(self, name: str) -> TaskState: ...

    def save_snapshot_later(self, st: TaskState) -> None: ...


def commit(store: CommitTarget, items: list[Pending]) -> None:
    """Commit one round of queued items; every item ends done, with results or
    an error (never leave a submitter waiting)."""
    try:
        CommitRound(store, items).run()
    except BaseException as exc:
        for it in items:
            if not it.done:
                it.error = exc if isinstance(exc, Exception) else InternalError(str(exc), "INTERNAL")
                it.done = True
        if not isinstance(exc, Exception):
            raise


def _conflict(i: int, pid: str) -> Violation:
    return Violation(i, pid, "pack_id", "PACK_ID_CONFLICT", f"pack_id {pid!r} is already used by a different record")


class CommitRound:
    """The leader's work for one batch of queued items (see the module doc)."""

    def __init__(self, store: CommitTarget, items: list[Pending]):
        self.store = store
        self.items = items
        tasks = {task for it in items if isinstance(it, PendingAppend) for task, _ in it.keys}
        self.append_tasks = tasks
        self.names = sorted(tasks | {it.task for it in items if isinstance(it, PendingRevision)})
        self.states = {n: store.task(n) for n in self.names}
        self.recovered: set[str] = set()
        # tentative[task][pid] = (item, index in item, sequence) of records planned this round
        self.tentative: dict[str, dict[str, tuple[PendingAppend, int, int]]] = {n: {} for n in self.names}
        self.added = dict.fromkeys(self.names, 0)  # new packs planned per task
        # Per task, in write order: the lines and what indexing each one does once durable:
        # ("add", pid, item, i) for a new pack, ("revise", position, record) for a revision.
        self.out_lines: dict[str, list[bytes]] = {n: [] for n in self.names}
        self.out_actions: dict[str, list[tuple]] = {n: [] for n in self.names}
        # (task, position) -> (line, line_no, revision) of a revision planned this round: a later
        # revision of the same pack in the round starts from it.
        self.revised: dict[tuple[str, int], tuple[bytes, int, int]] = {}
        self.append_plans: list[tuple[PendingAppend, list[AppendResult]]] = []
        self.revision_plans: list[tuple[PendingRevision, list[dict]]] = []
        self.written: dict[str, tuple[tuple[int, int], bytes]] = {}  # task -> (append token, checksum entries)

    def run(self) -> None:
        with ExitStack() as stack:
            self._lock_and_prepare(stack)
            for it in self.items:
                if isinstance(it, PendingRevision):
                    self._plan_revision(it)
                else:
                    self._plan_append(it)
            if self._write():
                self._index_written()
                self._acknowledge()
            for it in self.items:
                it.done = True

    def _lock_and_prepare(self, stack: ExitStack) -> None:
        """Lock every task of the round, catch it up, and recover the tasks
        that receive appends for writing (revised tasks recover once a revision
        was found to name only known packs)."""
        try:
            for n in self.names:
                stack.enter_context(self.states[n].file.write_lock())
            for n in self.names:
                st = self.states[n]
                st.lock.acquire()
                stack.callback(st.lock.release)
                st.refresh()
                if n in self.append_tasks:
                    st.recover_for_write()
                    self.recovered.add(n)
        except OSError as exc:  # lock folder, catch-up read, quarantine, sidecar repair
            raise durability_error(exc, "the store could not prepare the task file for writing") from None

    # -- planning

    def _plan_append(self, it: PendingAppend) -> None:
        """Uniqueness (docs/repository.md §3.2) against the store and the items before it."""
        results: list[AppendResult] = []
        conflicts: list[Violation] = []
        mine: dict[tuple[str, str], int] = {}
        new: list[tuple[str, str, int]] = []
        for i, (task, pid) in enumerate(it.keys):
            st = self.states[task]
            seen = None
            if (task, pid) in mine:
                seen = it.record(mine[(task, pid)])
            elif pid in self.tentative[task]:
                other, j, _seq = self.tentative[task][pid]
                seen = other.record(j)
            if seen is not None:
                if records_identical(seen, it.record(i)):
                    results.append(AppendResult(i, pid, task, "already_present", 1, -1))
                else:
                    conflicts.append(_conflict(i, pid))
                continue
            p = st.index.position(pid)
            if p is not None:
                if self._identical_to_stored(st, p, it.record(i)):
                    results.append(AppendResult(i, pid, task, "already_present", int(st.index.view("revision")[p]), p))
                else:
                    conflicts.append(_conflict(i, pid))
                continue
            mine[(task, pid)] = i
            results.append(AppendResult(i, pid, task, "created", 1, -1))
            new.append((task, pid, i))
        if conflicts:
            it.error = AlreadyExistsError(conflicts[0].message, "PACK_ID_CONFLICT", conflicts)
            return
        for task, pid, i in new:
            self.tentative[task][pid] = (it, i, self.states[task].index.n + self.added[task])
            self.added[task] += 1
            self.out_lines[task].append(it.lines[i])
            self.out_actions[task].append(("add", pid, it, i))
        self.append_plans.append((it, results))

    @staticmethod
    def _identical_to_stored(st: TaskState, p: int, rec: dict) -> bool:
        current = st.load(st.ref(p))
        if records_identical(current, rec):
            return True
        hist = st.index.history.get(p)
        if hist:
            off, length, line_no = hist[0]
            first = st.load(RecordRef(st.task, st.ident, off, length, line_no, 1))
            return records_identical(first, rec)
        return False

    def _plan_revision(self, it: PendingRevision) -> None:
        """A revision line (docs/repository.md §3.3) for every pack the change
        modifies, computed from its current revision; all packs must exist
        (else NOT_FOUND and nothing planned). An error fails this item only."""
        st = self.states[it.task]
        missing = [pid for pid in it.pack_ids if st.index.position(pid) is None]
        if missing:
            it.error = NotFoundError(
                f"{len(missing)} pack(s) not found in task {it.task!r}: "
                f"{', '.join(shown(pid) for pid in missing[:5])}", "PACK_NOT_FOUND",
                [Violation(0, echoed_pack_id(pid), "pack_ids", "PACK_NOT_FOUND", f"unknown pack_id {shown(pid)}")
                 for pid in missing])
            return
        if it.task not in self.recovered:
            try:
                st.recover_for_write()
            except OSError as exc:
                it.error = durability_error(exc, "the store could not recover the task file for writing")
                return
            self.recovered.add(it.task)
        try:
            planned, results = self._revisions_of(st, it)
        except Exception as exc:  # a corrupt current line, or the change itself failed
            it.error = exc
            return
        for p, rec, line, line_no, revision in planned:
            self.out_lines[it.task].append(line)
            self.out_actions[it.task].append(("revise", p, rec))
            self.revised[(it.task, p)] = (line, line_no, revision)
        self.revision_plans.append((it, results))

    def _current(self, st: TaskState, p: int, staged: dict) -> tuple[dict, int]:
        """A fresh copy of the current record of position p and its revision,
        counting revisions planned earlier in this round."""
        earlier = staged.get(p) or self.revised.get((st.task, p))
        if earlier is None:
            ref = st.ref(p)
            return st.load(ref), ref.revision
        line, line_no, revision = earlier
        return served_record(parse_line(line), st.file.file_name, line_no, st.task), revision

    def _revisions_of(self, st: TaskState, it: PendingRevision) -> tuple[list[tuple], list[dict]]:
        now = schema.utc_now()
        planned: list[tuple[int, dict, bytes, int, int]] = []
        staged: dict[int, tuple[bytes, int, int]] = {}
        results = []
        next_line_no = st.lines + len(self.out_lines[it.task]) + 1
        for pid in it.pack_ids:
            p = st.index.position(pid)
            assert p is not None  # checked by the caller under the same locks
            rec, revision = self._current(st, p, staged)
            changed = it.change(pid, rec)
            if not changed:
                results.append({"pack_id": pid, "status": "unchanged", "revision": revision})
                continue
            rec["_revision"] = {"number": revision + 1, "reason": it.reason, "revised_at": now,
                                "changed_fields": list(changed)}
            line = jsonio.dumps(rec) + b"\n"
            planned.append((p, rec, line, next_line_no, revision + 1))
            staged[p] = (line, next_line_no, revision + 1)
            next_line_no += 1
            results.append({"pack_id": pid, "status": "revised", "revision": revision + 1})
        return planned, results

    # -- writing, indexing, acknowledging

    def _write(self) -> bool:
        """Write and fsync each task once; on failure roll back every task of
        this round, fail every item that had something to write, and return False."""
        try:
            for n in self.names:
                if self.out_lines[n]:
                    st = self.states[n]
                    entries = st.commit_entries(self.out_lines[n])
                    t0 = time.perf_counter()
                    self.written[n] = (st.file.append(b"".join(self.out_lines[n]), entries, st.scanned), entries)
                    if self.store.fsync:
                        self.store.observer.fsync(time.perf_counter() - t0)
        except StoreWriteError as exc:
            for n, (token, _entries) in self.written.items():
                self.states[n].file.rollback(token)
            err = durability_error(exc, "the store could not make the batch durable")
            for it, _ in self.append_plans:
                it.error = err
            for rev, results in self.revision_plans:
                if any(r["status"] == "revised" for r in results):
                    rev.error = durability_error(exc, "the store could not make the revisions durable")
                else:  # wrote nothing: its answer holds
                    rev.results = results
            return False
        return True

    def _index_written(self) -> None:
        """Durable: index the new lines, in file order."""
        store = self.store
        for n, ((off, _ssize), entries) in self.written.items():
            st = self.states[n]
            st.committed(entries)
            for action, line in zip(self.out_actions[n], self.out_lines[n]):
                st.lines += 1
                if action[0] == "revise":
                    st.index.revise(action[1], action[2], off, len(line), st.lines)
                else:
                    _kind, pid, it, i = action
                    raw = it.raws[i] if it.raws is not None else None
                    if raw is not None:
                        st.index.add_raw(pid, (off, len(line), st.lines, 1) + raw[4:])
                    else:
                        st.index.add(pid, it.records[i], off, len(line), st.lines)
                off += len(line)
            st.scanned = off
            if self.added[n] and store.snapshots and st.index.n - st.snapshot_rows >= max(
                    store.snapshot_min_rows, st.index.n // 4):
                store.save_snapshot_later(st)

    def _acknowledge(self) -> None:
        for it, results in self.append_plans:
            for r in results:
                if r.sequence == -1:
                    r.sequence = self.tentative[r.task_name][r.pack_id][2]
                    st = self.states[r.task_name]
                    r.revision = int(st.index.view("revision")[r.sequence])
            it.results = results
        for rev, revision_results in self.revision_plans:
            rev.results = revision_results

