"""A datapack store: one folder of task files, served through in-memory indexes.

`Store` is the domain engine shared by the embedded DataPackRepo and the gRPC
server. It works on JSON objects (the stored line layout), never on protobuf or
grpc types.

Reads: before every read a task catches up with its file (new complete lines
are parsed incrementally; a replaced or shrunk file is reloaded), so every
append acknowledged by anyone is visible (repository.md §6.1).

Appends: validated, then committed by a group committer: concurrent appenders
queue their batches; one of them (the leader) takes the task locks, catches up,
checks pack_id uniqueness, writes every queued line with one write per task,
fsyncs once, updates the indexes and wakes the others. Acknowledged = fsynced.
"""
from __future__ import annotations

import gc
import hashlib
import logging
import math
import os
import threading
import time
import zipfile
from zlib import crc32
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import orjson

from datapack_client.records import jsonio

from datapack_client.records import schema
from datapack_client.errors import (AlreadyExistsError, InternalError, InvalidArgumentError, NotFoundError,
                                    ResourceExhaustedError, Violation, invalid)
from datapack_client.records.model import copy_json, json_equal
from datapack_client.records.query import FilterSpec, QuerySpec
from datapack_client.records.results import AppendResult
from datapack_client.records.validation_rules import PACK_ID_MAX_CHARS, shown, task_name_ok

from datapack_client.records import validation
from datapack_server.engine.packids import id_hash
from datapack_server.engine.index import BUCKET_CODES, SNAPSHOT_VERSION, TaskIndex, cosine_match
from datapack_server.storage import checksums
from datapack_server.storage.checksums import entries_for_lines
from datapack_server.storage.lines import CorruptLine, is_legacy, line_blocks, parse_line, served_record
from datapack_server.storage.taskfile import AUX_DIR, FULL_ERRNOS, SUFFIX, StoreWriteError, TaskFile
from datapack_server.storage.verify import VerifyReport, verify_file

READ_CHUNK = 4 << 20
PARALLEL_MIN_BYTES = 32 << 20  # catch-ups larger than this are parsed by the worker pool
PARALLEL_CHUNK = 8 << 20
SNAPSHOT_MIN_ROWS = 50_000  # smaller tasks index from scratch in well under a second
log = logging.getLogger("datapack.store")

_gc_lock = threading.Lock()
_gc_pausers = 0


def _load_malloc_trim():
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_malloc_trim()


def release_free_memory() -> None:
    """Return freed C-heap memory to the OS (glibc malloc_trim). Bulk parsing
    frees gigabytes of short-lived line buffers; without this the process keeps
    them resident."""
    if _malloc_trim is not None:
        _malloc_trim(0)


@contextmanager
def gc_paused():
    """Pause the cyclic GC while bulk-parsing lines: parsed JSON has no cycles,
    and gen-2 scans over a growing index otherwise dominate the load time."""
    global _gc_pausers
    with _gc_lock:
        _gc_pausers += 1
        if _gc_pausers == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0:
                gc.enable()


@dataclass(frozen=True)
class RecordRef:
    """Where the current revision of a served pack lives (for readers that
    fetch payloads lazily)."""

    task: str
    file_ident: tuple
    offset: int
    length: int
    line_no: int
    revision: int


def durability_error(exc: OSError, what: str):
    """The domain error of a failed write or fsync: RESOURCE_EXHAUSTED when the
    disk or quota is full, INTERNAL otherwise. Nothing was acknowledged."""
    if exc.errno in FULL_ERRNOS:
        return ResourceExhaustedError(f"{what}: {exc}", "STORE_FULL")
    return InternalError(f"{what}: {exc}", "STORE_IO_ERROR")


def check_task(task_name: Any) -> str:
    if not task_name_ok(task_name):
        raise invalid("task_name", "TASK_NAME_INVALID",
                      f"task_name {shown(task_name)} must be 1-128 characters of [A-Za-z0-9_.-] without '..'")
    return task_name


def _strip_for_compare(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "created_at" and k != "_revision"}


def records_identical(a: dict, b: dict) -> bool:
    """repository.md §3.2: equal JSON values ignoring created_at and _revision."""
    return json_equal(_strip_for_compare(a), _strip_for_compare(b))


class TaskState:
    """The in-memory view of one task file."""

    def __init__(self, store: "Store", task: str):
        self.store = store
        self.task = task
        self.file = TaskFile(store.path, task, fsync=store.fsync)
        self.lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self.generation = getattr(self, "generation", 0) + 1  # snapshots taken before a reset are dropped
        self.file.sums.reset("missing")
        self.sums_seen: tuple | None = None  # (data inode, size) the sidecar was last read for
        self.needs_rebuild = False  # a served line failed its checksum: re-index without it
        self.index = TaskIndex()
        self.scanned = 0  # bytes of complete lines processed
        self.lines = 0  # physical lines processed
        self.ident: tuple | None = None
        self.rfd: int | None = None
        self.corrupt: list[tuple[int, int, int, str]] = []  # (line_no, offset, length, why)
        self.redundant: list[tuple[int, int]] = []  # (line_no, position) redundant duplicate lines
        self.changed_without_revision: list[tuple[int, int]] = []
        self.torn: tuple[int, int] | None = None  # (offset, length) of an unterminated tail
        self.snapshot_rows = 0  # rows covered by the snapshot on disk

    # -- catch-up

    def refresh(self) -> None:
        """Catch up with the file: parse complete lines appended since the last
        look; reload if the file was replaced or shrank."""
        with self.lock:
            if self.needs_rebuild:
                self._close_rfd()
                self._reset()
                self._drop_snapshot()
            try:
                st = os.stat(self.file.path)
            except FileNotFoundError:
                if self.ident is not None or self.index.n:
                    self._close_rfd()
                    self._reset()
                return
            ident = (st.st_dev, st.st_ino)
            if self.ident is not None and (ident != self.ident or st.st_size < self.scanned):
                self._close_rfd()
                self._reset()
            if self.rfd is None:
                self.rfd = os.open(self.file.path, os.O_RDONLY)
                self.ident = (os.fstat(self.rfd).st_dev, os.fstat(self.rfd).st_ino)
                if self.ident != ident:  # replaced between stat and open: next call catches up
                    return
                if self.store.snapshots:
                    self._load_snapshot()
            size = os.fstat(self.rfd).st_size
            if self.sums_seen != (self.ident[1], size):
                # Read after the size: see Checksums.load.
                self.file.sums.load(self.rfd, size)
                self.sums_seen = (self.ident[1], size)
            if size != self.scanned + (self.torn[1] if self.torn else 0):
                if size > self.scanned:
                    self._ingest_from(self.scanned, size)
                else:  # a writer cut the torn tail off
                    self.torn = None
            self.file.sums.trim(self.scanned)

    def _close_rfd(self) -> None:
        if self.rfd is not None:
            os.close(self.rfd)
            self.rfd = None

    def _ingest_from(self, start: int, end: int) -> None:
        before = self.index.n
        with gc_paused():
            self._ingest_range(start, end)
        if end - start >= 64 << 20:
            release_free_memory()  # parsing leaves its garbage in the C heap
        if self.store.snapshots and self.index.n - self.snapshot_rows >= max(
                self.store.snapshot_min_rows, (self.index.n - before) and self.index.n // 4):
            self.store.save_snapshot_later(self)

    def _ingest_range(self, start: int, end: int) -> None:
        if self.store.pool is not None and end - start >= PARALLEL_MIN_BYTES:
            end_complete = self._last_line_end(start, end)
            if end_complete > start:
                self._ingest_parallel(start, end_complete)
            if end > end_complete:
                self.torn = (end_complete, end - end_complete)
            return
        self._ingest_sequential(start, end)

    def _last_line_end(self, start: int, end: int) -> int:
        """Offset just after the last newline in [start, end) (start if none)."""
        pos = end
        while pos > start:
            lo = max(start, pos - (1 << 16))
            block = os.pread(self.rfd, pos - lo, lo)
            nl = block.rfind(b"\n")
            if nl >= 0:
                return lo + nl + 1
            pos = lo
        return start

    def _chunk_bounds(self, start: int, end: int) -> list[int]:
        bounds = [start]
        pos = start
        while end - pos > PARALLEL_CHUNK:
            probe_at = pos + PARALLEL_CHUNK
            while True:
                block = os.pread(self.rfd, 1 << 16, probe_at)
                nl = block.find(b"\n")
                if nl >= 0 or not block:
                    break
                probe_at += len(block)
            pos = min(end, probe_at + nl + 1)
            bounds.append(pos)
        if bounds[-1] != end:
            bounds.append(end)
        return bounds

    def _ingest_parallel(self, start: int, end: int) -> None:
        """Parse [start, end) (complete lines) in worker processes; results are
        applied in file order, so ids, revisions and line numbers are exactly
        those of the sequential path."""
        from datapack_server.engine import parsing as workers
        bounds = self._chunk_bounds(start, end)
        executor = self.store.pool.executor()
        file_name, path, task = self.file.file_name, self.file.path, self.task
        window = 2 * self.store.pool.workers
        pending: list = []
        chunks = list(zip(bounds, bounds[1:]))
        nxt = 0
        sums = self.file.sums
        while nxt < len(chunks) or pending:
            while nxt < len(chunks) and len(pending) < window:
                a, b = chunks[nxt]
                crc = executor.submit(checksums.scan_range, path, a, b) if a < sums.end else None
                pending.append((a, b, executor.submit(workers.parse_range_columns, path, a, b, file_name, task), crc))
                nxt += 1
            chunk_start, chunk_end, fut, crc = pending.pop(0)
            count, others, block = fut.result()
            if (block == "sequential" or (crc is not None and not sums.all_match(*crc.result()))
                    or (block is not None and not self._apply_block(block, others))):
                # A checksum mismatch is found and reported line by line by the sequential path.
                # A legacy line or a repeated pack_id: this chunk is indexed in order by this process.
                self._ingest_sequential(chunk_start, chunk_end)
                continue
            self._apply_parsed(others)
            self.lines += count
            self.scanned = chunk_end

    def _apply_block(self, block: dict, others: list) -> bool:
        """Add a chunk's records in bulk; False (nothing changed) when a pack_id
        repeats (within the chunk or against the index): the caller falls back."""
        base = self.lines
        file_name = self.file.file_name
        pids, hashes = list(block["pids"]), list(block["hashes"])
        rels = block["rel"]
        for i, pid in enumerate(pids):
            if pid is None:
                pids[i] = schema.derived_pack_id(file_name, int(base + rels[i]))
                hashes[i] = id_hash(pids[i])
        if len(set(pids)) != len(pids):
            return False
        ids = self.index.ids
        if any(ids.get(p, h) is not None for p, h in zip(pids, hashes)):
            return False
        created = block["cols"]["created"]
        for i, needs in enumerate(block["needs_created"]):
            if needs:
                value = schema.derived_created_at(int(base + rels[i])).encode()
                if len(value) > created.dtype.itemsize:
                    created = created.astype(f"S{len(value)}")
                created[i] = value
        block["cols"]["created"] = created
        self.index.add_block(pids, hashes, base + rels, block)
        return True

    def _apply_parsed(self, entries: list) -> None:
        """Record a chunk's corrupt lines (blank lines only count as lines)."""
        from datapack_server.engine.parsing import CORRUPT
        base = self.lines
        for kind, rel, off, length, payload in entries:
            if kind == CORRUPT:
                line_no = base + rel
                self.corrupt.append((line_no, off, length, payload))
                self.store.on_corrupt(self.task, line_no, off, payload)

    def _ingest_sequential(self, start: int, end: int) -> None:
        self.torn = None
        for block, base, complete in line_blocks(self.rfd, start, end, READ_CHUNK):
            if complete:
                self._ingest_lines(block, base)
            else:
                self.torn = (self.scanned, len(block))

    def _ingest_lines(self, data: bytes, base: int) -> None:
        sums = self.file.sums
        covered = sums.end
        expected = sums.expected(base, base + len(data)) if base < covered else None
        pos = 0
        for raw in data.split(b"\n")[:-1]:
            off = base + pos
            length = len(raw) + 1
            pos += length
            self.lines += 1
            line_no = self.lines
            if off < covered and expected is not None:
                e = expected.get(off)  # the common case inline: one dict lookup and one crc per line
                if e is None or e[0] != length or e[1] != crc32(b"\n", crc32(raw)):
                    why = sums.mismatch(expected, off, length, raw)  # moved lines, the report
                    if why is not None:
                        self.corrupt.append((line_no, off, length, why))
                        self.store.on_corrupt(self.task, line_no, off, why)
                        continue
            if not raw.strip():
                continue
            try:
                d = parse_line(raw)
            except CorruptLine as exc:
                self.corrupt.append((line_no, off, length, str(exc)))
                self.store.on_corrupt(self.task, line_no, off, str(exc))
                continue
            self._ingest_record(d, off, length, line_no)
        self.scanned = base + len(data)

    def _ingest_record(self, d: dict, off: int, length: int, line_no: int) -> None:
        """Index one parsed line: a new pack, a revision, or a redundant duplicate."""
        file_name = self.file.file_name
        if is_legacy(d):
            d = served_record(d, file_name, line_no, self.task)
        pid = d.get("pack_id")
        if type(pid) is not str or not pid:
            pid = schema.derived_pack_id(file_name, line_no) if pid is None or pid == "" else jsonio.dumps_str(pid)
        created = d.get("created_at")
        if created is None or created == "":
            d["created_at"] = schema.derived_created_at(line_no)
        h = id_hash(pid)
        p = self.index.ids.get(pid, h)
        if p is None:
            self.index.add(pid, d, off, length, line_no, h)
        else:
            self._ingest_repeat(p, d, off, length, line_no)

    def _ingest_repeat(self, p: int, d: dict, off: int, length: int, line_no: int) -> None:
        current = self.load(self.ref(p))
        new = served_record(d, self.file.file_name, line_no, self.task)
        if records_identical(current, new):
            self.redundant.append((line_no, p))
            return
        if "_revision" not in d:
            self.changed_without_revision.append((line_no, p))
        self.index.revise(p, d, off, length, line_no)

    # -- payloads

    def ref(self, pos: int) -> RecordRef:
        v = self.index.view
        return RecordRef(self.task, self.ident, int(v("line_off")[pos]), int(v("line_len")[pos]),
                         int(v("line_no")[pos]), int(v("revision")[pos]))

    def read_raw(self, off: int, length: int, verify: bool = True) -> bytes:
        """The bytes of an indexed line, checked against its checksum: a line
        that changed on disk since it was indexed is never served. It is
        reported, and the task is re-indexed without it on its next read."""
        raw = os.pread(self.rfd, length, off)
        if verify:
            why = self.file.sums.check_line(off, raw)
            if why is not None:
                self._corrupt_payload(off, length, why)
        return raw

    def _corrupt_payload(self, off: int, length: int, why: str) -> None:
        v = self.index.view
        rows = np.flatnonzero(v("line_off") == off)
        line_no = int(v("line_no")[rows[0]]) if len(rows) else 0
        if not line_no:
            for hist in self.index.history.values():
                line_no = next((ln for o, _l, ln in hist if o == off), 0)
                if line_no:
                    break
        if not any(c[1] == off for c in self.corrupt):
            self.corrupt.append((line_no, off, length, why))
            self.store.on_corrupt(self.task, line_no, off, why)
        self.needs_rebuild = True
        raise InternalError(f"task {self.task!r}: the record at line {line_no} (byte offset {off}) of "
                            f"{self.file.file_name} is corrupt ({why}); it is no longer served",
                            "RECORD_CORRUPT")

    def load(self, ref: RecordRef) -> dict:
        """The served record of a line (fresh objects on every call)."""
        raw = self.read_raw(ref.offset, ref.length)
        return served_record(parse_line(raw), self.file.file_name, ref.line_no, self.task)

    def commit_entries(self, lines: list[bytes]) -> bytes:
        """Checksum entries of lines about to be appended at the end of the file."""
        return entries_for_lines(lines, self.scanned)

    def committed(self, entries: bytes) -> None:
        """Lines with these entries were made durable at the end of the file:
        the caller indexes them; here the reader side is brought along."""
        if self.rfd is None:  # this write created the file
            self.rfd = os.open(self.file.path, os.O_RDONLY)
            fs = os.fstat(self.rfd)
            self.ident = (fs.st_dev, fs.st_ino)
        self.file.sums.extend_bytes(entries)
        self.sums_seen = (self.ident[1], self.file.sums.end)

    # -- index snapshot: `<store>/.datapack/index/<task>.snapshot.npz`

    def _snapshot_path(self) -> str:
        return os.path.join(self.store.path, AUX_DIR, "index", f"{self.task}.snapshot.npz")

    def _drop_snapshot(self) -> None:
        """Delete the snapshot (a cache): it may index a line that is corrupt."""
        try:
            os.unlink(self._snapshot_path())
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not delete index snapshot %s: %s", self._snapshot_path(), exc)
        self.snapshot_rows = 0

    def _fingerprint(self, upto: int) -> str:
        """Hash of the first and last 4 KiB of the covered bytes: a snapshot is
        trusted only for the file whose prefix it indexed."""
        head = os.pread(self.rfd, min(4096, upto), 0)
        start = max(0, upto - 4096)
        tail = os.pread(self.rfd, upto - start, start)
        return hashlib.sha256(head + b"|" + tail).hexdigest()

    def _load_snapshot(self) -> None:
        path = self._snapshot_path()
        folder = os.path.dirname(path)
        try:
            for fn in os.listdir(folder):  # temp files of writers that died mid-write
                if fn.startswith(os.path.basename(path) + ".") and fn.endswith(".tmp"):
                    pid = fn[len(os.path.basename(path)) + 1:].split(".", 1)[0]
                    if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                        os.unlink(os.path.join(folder, fn))
        except OSError:
            pass
        try:
            with np.load(path, allow_pickle=False) as z:
                state = {k: z[k] for k in z.files}
            meta = orjson.loads(state.pop("meta").tobytes())
            if meta.get("version") != SNAPSHOT_VERSION or meta.get("file") != self.file.file_name:
                return
            scanned = meta["scanned"]
            if os.fstat(self.rfd).st_size < scanned or self._fingerprint(scanned) != meta["fingerprint"]:
                log.info("index snapshot of %s does not match the file; rebuilding", self.file.path)
                return
            index = TaskIndex.from_state(state)
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable index snapshot %s: %s", path, exc)
            return
        self.index = index
        self.scanned, self.lines = scanned, meta["lines"]
        self.corrupt = [tuple(x) for x in meta["corrupt"]]
        self.redundant = [tuple(x) for x in meta["redundant"]]
        self.changed_without_revision = [tuple(x) for x in meta["changed_without_revision"]]
        self.snapshot_rows = index.n

    def save_snapshot(self) -> bool:
        """Write the index snapshot atomically (temp file + rename)."""
        with self.lock:
            if self.rfd is None or self.index.n == self.snapshot_rows:
                return False
            state = self.index.state()
            meta = {"version": SNAPSHOT_VERSION, "file": self.file.file_name, "scanned": self.scanned,
                    "lines": self.lines, "fingerprint": self._fingerprint(self.scanned), "corrupt": self.corrupt,
                    "redundant": self.redundant, "changed_without_revision": self.changed_without_revision}
            rows = self.index.n
            generation = self.generation
        state["meta"] = np.frombuffer(orjson.dumps(meta), dtype=np.uint8)
        path = self._snapshot_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **state)
            with self.lock:
                if self.generation != generation:
                    # Re-indexed meanwhile (a line failed its checksum): this index is
                    # older than the one that dropped its snapshot; do not bring it back.
                    os.unlink(tmp)
                    return False
                os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not write index snapshot %s: %s", path, exc)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        with self.lock:
            self.snapshot_rows = max(self.snapshot_rows, rows)
        return True

    # -- writer-side recovery (caller holds the write lock and has refreshed)

    def recover_for_write(self) -> None:
        """Before new lines are written: quarantine and cut a torn tail, copy
        corrupt lines to quarantine once, bring the checksum sidecar in line
        with the complete lines. Raises StoreWriteError."""
        if self.torn is not None:
            off, length = self.torn
            tail = self.read_raw(off, length, verify=False)
            self.file.truncate_torn_tail(off, tail, self.lines + 1)
            self.torn = None
        if self.corrupt:
            done = self.file.quarantined()
            for line_no, off, length, why in self.corrupt:
                if (line_no, off) not in done:
                    reason = "CHECKSUM_MISMATCH" if why.startswith("CHECKSUM_MISMATCH") else "CORRUPT_LINE"
                    try:
                        self.file.quarantine(line_no, off, reason, self.read_raw(off, length, verify=False))
                    except OSError as exc:
                        raise StoreWriteError(exc.errno or 5, f"quarantine of {self.file.file_name}: {exc}") from exc
        self.file.sync_checksums(self.scanned)


class GroupCommitter:
    """Leader/follower group commit: concurrent submitters share one commit
    (one write and one fsync per task) instead of one each."""

    def __init__(self, commit: Callable[[list], None]):
        self._commit = commit
        self._cv = threading.Condition()
        self._queue: list = []
        self._busy = False

    def submit(self, item) -> None:
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


class _PendingAppend:
    """One batch waiting for the group commit: per record its (task, pack_id),
    its line, and optionally the record itself and its raw index row (records
    prepared by a worker come without the dict; it is parsed back from the
    line only if an id collision needs a comparison)."""

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


class Store:
    """One store folder (e.g. data/datapacks/phase_c)."""

    def __init__(self, path: str, fsync: bool = True, on_corrupt: Callable | None = None,
                 snapshots: bool = True, snapshot_min_rows: int = SNAPSHOT_MIN_ROWS, pool=None,
                 observer: StoreObserver = NO_OBSERVER):
        self.path = os.path.abspath(path)
        self.observer = observer
        self.pool = pool  # a workers.WorkerPool for large loads, or None (sequential)
        self.fsync = fsync
        self.snapshots = snapshots
        self.snapshot_min_rows = snapshot_min_rows
        self._saving: set[str] = set()
        self._saving_threads: set[threading.Thread] = set()
        self._saving_lock = threading.Lock()
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
        with self._saving_lock:
            if st.task in self._saving:
                return
            self._saving.add(st.task)

        def run():
            try:
                st.save_snapshot()
            finally:
                with self._saving_lock:
                    self._saving.discard(st.task)
                    self._saving_threads.discard(threading.current_thread())

        # Not a daemon: an exiting process finishes the snapshot it started.
        t = threading.Thread(target=run, name=f"snapshot-{st.task}", daemon=False)
        with self._saving_lock:
            self._saving_threads.add(t)
        t.start()

    def close(self) -> None:
        """Save snapshots of tasks that grew by enough rows, then release files.
        A background snapshot still being written is waited for first, so no
        snapshot file appears after close() returned."""
        with self._saving_lock:
            pending = list(self._saving_threads)
        for t in pending:
            t.join()
        for st in list(self._tasks.values()):
            if self.snapshots and st.index.n - st.snapshot_rows >= self.snapshot_min_rows:
                st.save_snapshot()
            with st.lock:
                st._close_rfd()
                st.file.close()

    # ------------------------------------------------------------------ append

    def prepare(self, records: Iterable[dict], check_free_finite: bool = False,
                normalized: bool = False, validated: bool = False) -> tuple[list[dict], list[bytes]]:
        """Normalise and validate a batch (repository.md §4.1 steps 1-3).
        Raises InvalidArgumentError with every violation of every record.
        normalized=True: the records are already normalised (the wire decoder
        does it in the same pass); validated=True: the invariants were checked
        already (the builder's self-check runs the same ones)."""
        now = schema.utc_now()
        prepared: list[dict] = []
        lines: list[bytes] = []
        violations: list[Violation] = []
        for i, rec in enumerate(records):
            if type(rec) is not dict:
                violations.append(Violation(i, None, "", "FIELD_TYPE", "a record must be a JSON object"))
                continue
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
                violations.extend(vs)
                continue
            try:
                line = orjson.dumps(norm, option=orjson.OPT_NON_STR_KEYS) + b"\n"
            except TypeError as exc:
                violations.append(Violation(i, norm.get("pack_id"), "", "FIELD_TYPE",
                                            f"record is not JSON-serialisable: {exc}"))
                continue
            prepared.append(norm)
            lines.append(line)
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
        item = _PendingAppend(keys, lines, records, raws)
        self._committer.submit(item)
        if item.error is not None:
            raise item.error
        return item.results  # type: ignore[return-value]

    def append_batch(self, records: Iterable[dict], check_free_finite: bool = False) -> list[AppendResult]:
        recs, lines = self.prepare(records, check_free_finite)
        return self.append_prepared(recs, lines)

    def _commit(self, items: list[_PendingAppend]) -> None:
        try:
            self._commit_locked(items)
        except BaseException as exc:  # never leave a submitter waiting
            for it in items:
                if not it.done:
                    it.error = exc if isinstance(exc, Exception) else InternalError(str(exc), "INTERNAL")
                    it.done = True
            if not isinstance(exc, Exception):
                raise

    def _commit_locked(self, items: list[_PendingAppend]) -> None:
        names = sorted({task for it in items for task, _ in it.keys})
        states = {n: self.task(n) for n in names}
        with ExitStack() as stack:
            try:
                for n in names:
                    stack.enter_context(states[n].file.write_lock())
                for n in names:
                    st = states[n]
                    st.lock.acquire()
                    stack.callback(st.lock.release)
                    st.refresh()
                    st.recover_for_write()
            except OSError as exc:  # lock folder, catch-up read, quarantine, sidecar repair
                raise durability_error(exc, "the store could not prepare the task file for writing") from None
            # Uniqueness (repository.md §3.2) against the store and the items before it.
            # tentative[task][pid] = (item, index in item, sequence) of records planned this round
            tentative: dict[str, dict[str, tuple[_PendingAppend, int, int]]] = {n: {} for n in names}
            out_lines: dict[str, list[bytes]] = {n: [] for n in names}
            out_recs: dict[str, list[tuple[str, _PendingAppend, int]]] = {n: [] for n in names}
            plans = []
            for it in items:
                results: list[AppendResult] = []
                conflicts: list[Violation] = []
                mine: dict[tuple[str, str], int] = {}
                new: list[tuple[str, str, int]] = []
                for i, (task, pid) in enumerate(it.keys):
                    st = states[task]
                    seen = None
                    if (task, pid) in mine:
                        seen = it.record(mine[(task, pid)])
                    elif pid in tentative[task]:
                        other, j, _seq = tentative[task][pid]
                        seen = other.record(j)
                    if seen is not None:
                        if records_identical(seen, it.record(i)):
                            results.append(AppendResult(i, pid, task, "already_present", 1, -1))
                        else:
                            conflicts.append(Violation(i, pid, "pack_id", "PACK_ID_CONFLICT",
                                                       f"pack_id {pid!r} is already used by a different record"))
                        continue
                    p = st.index.position(pid)
                    if p is not None:
                        if self._identical_to_stored(st, p, it.record(i)):
                            results.append(AppendResult(i, pid, task, "already_present",
                                                        int(st.index.view("revision")[p]), p))
                        else:
                            conflicts.append(Violation(i, pid, "pack_id", "PACK_ID_CONFLICT",
                                                       f"pack_id {pid!r} is already used by a different record"))
                        continue
                    mine[(task, pid)] = i
                    results.append(AppendResult(i, pid, task, "created", 1, -1))
                    new.append((task, pid, i))
                if conflicts:
                    it.error = AlreadyExistsError(conflicts[0].message, "PACK_ID_CONFLICT", conflicts)
                    continue
                for task, pid, i in new:
                    seq = states[task].index.n + len(out_lines[task])
                    tentative[task][pid] = (it, i, seq)
                    out_lines[task].append(it.lines[i])
                    out_recs[task].append((pid, it, i))
                plans.append((it, results))
            # Write and fsync each task once; on failure roll back every task of this round.
            written: dict[str, tuple[tuple[int, int], bytes]] = {}
            try:
                for n in names:
                    if out_lines[n]:
                        st = states[n]
                        entries = st.commit_entries(out_lines[n])
                        t0 = time.perf_counter()
                        written[n] = (st.file.append(b"".join(out_lines[n]), entries, st.scanned), entries)
                        if self.fsync:
                            self.observer.fsync(time.perf_counter() - t0)
            except StoreWriteError as exc:
                for n, (token, _entries) in written.items():
                    states[n].file.rollback(token)
                err = durability_error(exc, "the store could not make the batch durable")
                for it, _ in plans:
                    it.error = err
                for it in items:
                    it.done = True
                return
            # Durable: index the new lines and acknowledge.
            for n, ((off, _ssize), entries) in written.items():
                st = states[n]
                st.committed(entries)
                for (pid, it, i), line in zip(out_recs[n], out_lines[n]):
                    st.lines += 1
                    raw = it.raws[i] if it.raws is not None else None
                    if raw is not None:
                        st.index.add_raw(pid, (off, len(line), st.lines, 1) + raw[4:])
                    else:
                        st.index.add(pid, it.records[i], off, len(line), st.lines)
                    off += len(line)
                st.scanned = off
                if self.snapshots and st.index.n - st.snapshot_rows >= max(self.snapshot_min_rows,
                                                                           st.index.n // 4):
                    self.save_snapshot_later(st)
            for it, results in plans:
                for r in results:
                    if r.sequence == -1:
                        r.sequence = tentative[r.task_name][r.pack_id][2]
                        st = states[r.task_name]
                        r.revision = int(st.index.view("revision")[r.sequence])
                it.results = results
            for it in items:
                it.done = True

    def _identical_to_stored(self, st: TaskState, p: int, rec: dict) -> bool:
        current = st.load(st.ref(p))
        if records_identical(current, rec):
            return True
        hist = st.index.history.get(p)
        if hist:
            off, length, line_no = hist[0]
            first = st.load(RecordRef(st.task, st.ident, off, length, line_no, 1))
            return records_identical(first, rec)
        return False

    # ------------------------------------------------------------------ reads

    def update_training_usage(self, task_name: str, update) -> list[dict]:
        """repository.md §3.4: append one revision line per pack whose wm_role or
        used_in_training_runs changes; all or nothing (any unknown id -> NOT_FOUND,
        nothing written). Returns {pack_id, status, revision} per pack."""

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

        return self.revise(task_name, update.pack_ids, change, "training_usage")

    def revise(self, task_name: str, pack_ids, change, reason: str) -> list[dict]:
        """Append a revision line (repository.md §3.3) for every pack that
        change(pack_id, record) modifies in place; it returns the changed dotted
        paths ([] = unchanged, nothing written). The change is applied to the
        current revision under the task's write lock, so concurrent revisions of
        other fields are never undone. All packs must exist (else NOT_FOUND,
        nothing written); the lines of one call are made durable together.
        Returns {pack_id, status: "revised" | "unchanged", revision} per pack."""
        st = self.task(check_task(task_name))
        with ExitStack() as stack:
            try:
                stack.enter_context(st.file.write_lock())
                stack.enter_context(st.lock)
                st.refresh()
            except OSError as exc:
                raise durability_error(exc, "the store could not lock and read the task file") from None
            missing = [pid for pid in pack_ids if st.index.position(pid) is None]
            if missing:
                raise NotFoundError(f"{len(missing)} pack(s) not found in task {task_name!r}: "
                                    f"{', '.join(shown(pid) for pid in missing[:5])}", "PACK_NOT_FOUND",
                                    [Violation(0, _echoed(pid), "pack_ids", "PACK_NOT_FOUND",
                                               f"unknown pack_id {shown(pid)}") for pid in missing])
            try:
                st.recover_for_write()
            except OSError as exc:
                raise durability_error(exc, "the store could not recover the task file for writing") from None
            now = schema.utc_now()
            planned: list[tuple[int, dict, bytes]] = []
            results = []
            for pid in pack_ids:
                p = st.index.position(pid)
                ref = st.ref(p)
                rec = st.load(ref)
                changed = change(pid, rec)
                if not changed:
                    results.append({"pack_id": pid, "status": "unchanged", "revision": ref.revision})
                    continue
                rec["_revision"] = {"number": ref.revision + 1, "reason": reason, "revised_at": now,
                                    "changed_fields": list(changed)}
                planned.append((p, rec, jsonio.dumps(rec) + b"\n"))
                results.append({"pack_id": pid, "status": "revised", "revision": ref.revision + 1})
            if planned:
                lines = [line for _, _, line in planned]
                entries = st.commit_entries(lines)
                try:
                    off, _ssize = st.file.append(b"".join(lines), entries, st.scanned)
                except StoreWriteError as exc:
                    raise durability_error(exc, "the store could not make the revisions durable") from None
                st.committed(entries)
                for p, rec, line in planned:
                    st.lines += 1
                    st.index.revise(p, rec, off, len(line), st.lines)
                    off += len(line)
                st.scanned = off
            return results

    @contextmanager
    def reading(self, task_name: str):
        """A consistent read of one task: caught up with its file, and locked
        against concurrent index updates while the caller reads payloads."""
        st = self.read_task(check_task(task_name))
        with st.lock:
            yield st


def position_of(st: TaskState, pack_id: Any) -> int:
    p = st.index.position(pack_id) if type(pack_id) is str else None
    if p is None:
        raise NotFoundError(f"pack {shown(pack_id)} not found in task {st.task!r}", "PACK_NOT_FOUND",
                            [Violation(0, _echoed(pack_id), "pack_id", "PACK_NOT_FOUND",
                                       f"unknown pack_id {shown(pack_id)}")])
    return p


def _echoed(pack_id: Any) -> str | None:
    """A looked-up id as error details carry it: not one that no record can
    have (status trailers have a size limit; the message shows it shortened)."""
    return pack_id if type(pack_id) is str and len(pack_id) <= PACK_ID_MAX_CHARS else None


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


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    """numpy's mean and population std; when finite values near the double
    limit overflow the sums, the same computed on values scaled by their
    largest magnitude (exact mean and std exist, inf/NaN would be wrong)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(np.mean(x)), float(np.std(x))
        if not (math.isfinite(mean) and math.isfinite(std)) and np.isfinite(x).all():
            scale = float(np.max(np.abs(x)))
            y = x / scale
            mean, std = float(np.mean(y)) * scale, float(np.std(y)) * scale
    return mean, std


def query_positions(st: TaskState, q: QuerySpec) -> np.ndarray:
    """Positions of the matching packs in result order."""
    return order(st.index, match(st.index, q.filter), q.sort_by, q.sort_descending, q.limit)


def query_refs(st: TaskState, q: QuerySpec) -> list[RecordRef]:
    return [st.ref(p) for p in query_positions(st, q).tolist()]


# ---------------------------------------------------------------------- query evaluation

def _per_value(interner, fn) -> np.ndarray:
    """Evaluate fn once per distinct interned value -> lookup table of booleans."""
    return np.fromiter((fn(v) for v in interner.values), dtype=np.bool_, count=len(interner.values))


def _cond_tags(interner) -> list[dict]:
    return [orjson.loads(v) for v in interner.values]


def match(ix: TaskIndex, f: FilterSpec) -> np.ndarray:
    n = ix.n
    v = ix.view
    mask = np.ones(n, dtype=np.bool_)
    if f.bucket is not None:
        mask &= v("bucket") == BUCKET_CODES[f.bucket]
    if f.engine_type is not None:
        code = ix.cats["engine"].codes.get(f.engine_type)
        mask &= (v("engine") == code) if code is not None else False
    if f.skill_id is not None:
        sid = f.skill_id
        table = _per_value(ix.cats["trace"], lambda t: sid in t)
        mask &= table[v("trace")] if len(table) else False
    mask &= v("trust") >= f.min_trust
    if f.min_delta_j is not None:
        mask &= v("delta_j") >= f.min_delta_j
    if f.max_delta_j is not None:
        mask &= v("delta_j") <= f.max_delta_j
    if f.min_mvd_score is not None:
        mask &= v("mvd_present") & (v("mvd") >= f.min_mvd_score)
    if f.source_type is not None:
        code = ix.cats["source"].codes.get(f.source_type)
        mask &= (v("source") == code) if code is not None else False
    if f.objective_vector is not None:
        mask &= cosine_match(v("c_objective"), v("c_objective_ok"), f.objective_vector,
                             f.objective_similarity_threshold)
    if f.condition_filters:
        for op in f.condition_filters:
            mask &= _condition_mask(ix, op)
    for value, col in ((f.wm_model_id, "wm_model"), (f.wm_role, "wm_role"), (f.schema_version, "schema"),
                       (f.occlusion_bucket, "sl_occ_bucket"), (f.motion_bucket, "sl_motion_bucket")):
        if value is not None:
            code = ix.cats[col].codes.get(value)
            mask &= (v(col) == code) if code is not None else False
    for value, col in ((f.is_occluded, "sl_occluded"), (f.is_dynamic, "sl_dynamic"), (f.is_static, "sl_static")):
        if value is not None:
            mask &= v(col) == (1 if value else 0)
    if f.include_sima:
        mask &= v("has_sima")
    if f.include_counterfactual:
        mask &= (v("bucket") != BUCKET_CODES["negative"]) | v("has_cf")
    return np.flatnonzero(mask)


_STR_ATTR_COLS = {"task_name": "c_task", "engine_type": "engine", "world_id": "c_world",
                  "lighting_profile": "c_light", "econ_preset": "c_preset"}
_NUM_ATTR_COLS = {"drawer_friction": "c_friction", "occlusion_level": "c_occlusion", "price_per_unit": "c_price",
                  "vase_break_cost": "c_break", "energy_price_kWh": "c_energy_price"}


def _json_scalar_equal(a: Any, b: Any) -> bool:
    """Filter equality: booleans equal only booleans, numbers compare by value."""
    if type(a) is bool or type(b) is bool:
        return type(a) is bool and type(b) is bool and a == b
    if type(a) in (int, float) and type(b) in (int, float):
        return a == b
    if type(b) is tuple:
        return (type(a) is list and len(a) == len(b)
                and all(type(x) in (int, float) and type(x) is not bool and x == y for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


def _condition_mask(ix: TaskIndex, op) -> np.ndarray:
    v = ix.view
    if op.kind == "tag":
        tables = _cond_tags(ix.cats["condtags"])
        table = np.fromiter((op.name in t and _json_scalar_equal(t[op.name], op.value) for t in tables),
                            dtype=np.bool_, count=len(tables))
        return table[v("condtags")] if len(table) else np.zeros(ix.n, np.bool_)
    if op.kind == "str":
        col = _STR_ATTR_COLS[op.name]
        code = ix.cats[col if col != "engine" else "engine"].codes.get(op.value)
        return v(col) == code if code is not None else np.zeros(ix.n, np.bool_)
    if op.kind in ("num", "min", "max"):
        col = v(_NUM_ATTR_COLS[op.name])
        return col == op.value if op.kind == "num" else (col >= op.value if op.kind == "min" else col <= op.value)
    if op.kind == "vec":
        if op.name == "vase_offset":
            if len(op.value) != 3:
                return np.zeros(ix.n, np.bool_)
            return np.all(v("c_offset") == np.array(op.value), axis=1)
        # objective_vector: compare the stored array (3 or 4 numbers) element-wise.
        lens = v("c_objective_len")
        vec = v("c_objective")
        want = np.array(op.value + (0.0,) * (4 - len(op.value)))[: 4] if len(op.value) <= 4 else None
        if want is None:
            return np.zeros(ix.n, np.bool_)
        k = len(op.value)
        return (lens == k) & np.all(vec[:, :k] == want[:k], axis=1)
    if op.kind == "flag":
        name, want = op.name, op.value
        tables = _cond_tags(ix.cats["condtags"])
        has = np.fromiter((name in t for t in tables), dtype=np.bool_, count=len(tables))
        eq = np.fromiter((name in t and _json_scalar_equal(t[name], want) for t in tables), dtype=np.bool_,
                         count=len(tables))
        sem = _per_value(ix.cats["semtags"], lambda tags: (name in tags) == want)
        codes = v("condtags")
        in_tags = has[codes] if len(has) else np.zeros(ix.n, np.bool_)
        by_tags = eq[codes] if len(eq) else np.zeros(ix.n, np.bool_)
        by_sem = sem[v("semtags")] if len(sem) else np.zeros(ix.n, np.bool_)
        return np.where(in_tags, by_tags, by_sem)
    raise AssertionError(op.kind)


def order(ix: TaskIndex, idx: np.ndarray, sort_by: str | None, descending: bool, limit: int | None) -> np.ndarray:
    if sort_by is None or len(idx) <= 1:
        return idx if limit is None else idx[:limit]
    if sort_by == "created_at":
        return _order_by_created(ix, idx, descending, limit)
    else:
        col = {"delta_j": "delta_j", "trust_score": "trust", "mvd_score": "mvd"}[sort_by]
        keys = ix.view(col)[idx]
    if descending:
        keys = -keys  # NaN stays NaN and sorts last either way; ties keep append order (stable)
    if limit is not None and len(idx) > 4 * limit:
        # Top-k: keep every key <= the k-th smallest (ties included), then sort those stably.
        kth = np.partition(keys, limit - 1)[limit - 1]
        if not math.isnan(kth):
            cand = np.flatnonzero(keys <= kth)
            order = cand[np.argsort(keys[cand], kind="stable")]
            return idx[order[:limit]]
    order = np.argsort(keys, kind="stable")
    if limit is not None:
        order = order[:limit]
    return idx[order]


def _order_by_created(ix: TaskIndex, idx: np.ndarray, descending: bool, limit: int | None) -> np.ndarray:
    """Sort by the created_at strings (code point order == UTF-8 byte order)
    without comparing strings: each key is viewed as big-endian 64-bit words,
    whose lexicographic order is the strings' order; bitwise NOT reverses it
    for descending. Stable in both directions (np.lexsort is stable)."""
    created = ix.view("created")[idx]
    width = created.dtype.itemsize
    if width % 8:
        created = created.astype(f"S{width + 8 - width % 8}")
    words = created.view(">u8").reshape(len(idx), -1)
    if descending:
        words = ~words
    cand = None
    if limit is not None and len(idx) > 4 * limit:
        # Top-k: on the first word that varies, keep every row <= the k-th value.
        for j in range(words.shape[1]):
            col = words[:, j]
            if col.min() != col.max():
                kth = np.partition(col, limit - 1)[limit - 1]
                cand = np.flatnonzero(col <= kth)
                break
    sub = words if cand is None else words[cand]
    order = np.lexsort(sub.T[::-1])  # lexsort's last key is the primary one
    if cand is not None:
        order = cand[order]
    if limit is not None:
        order = order[:limit]
    return idx[order]


def statistics(ix: TaskIndex, idx: np.ndarray | None) -> dict:
    """repository.md §9 over every pack (idx None) or the given positions.
    Linear-time (bincounts, no sorting); unfiltered results are cached per
    index version, so repeated calls on an unchanged task cost nothing."""
    if idx is None:
        key = (ix.n, ix.version)
        if ix.stats_cache is not None and ix.stats_cache[0] == key:
            return copy_json(ix.stats_cache[1])
    n = ix.n if idx is None else len(idx)
    if n == 0:
        return {"total": 0, "positive": 0, "negative": 0}

    def col(name):
        c = ix.view(name)
        return c if idx is None else c[idx]

    bucket = col("bucket")
    positive = int(np.count_nonzero(bucket == 0))
    negative = int(np.count_nonzero(bucket == 1))
    dj = col("delta_j")
    trust = col("trust")
    traces = ix.cats["trace"].values
    present = np.flatnonzero(np.bincount(col("trace"), minlength=len(traces)))
    skills: set = set()
    for code in present.tolist():
        skills.update(traces[code])
    dj_mean, dj_std = _mean_std(dj)
    trust_mean, trust_std = _mean_std(trust)
    out = {
        "total": n,
        "positive": positive,
        "negative": negative,
        "positive_ratio": positive / n,
        "delta_j_mean": dj_mean,
        "delta_j_std": dj_std,
        "delta_j_min": float(np.min(dj)),
        "delta_j_max": float(np.max(dj)),
        "trust_mean": trust_mean,
        "trust_std": trust_std,
        "unique_skills": sorted(skills),
        "engine_types": _counts_in_order(col("engine"), ix.cats["engine"].values),
        "source_types": _counts_in_order(col("source"), ix.cats["source"].values),
        "with_sima": int(np.count_nonzero(col("has_sima"))),
        "with_counterfactual": int(np.count_nonzero((bucket == 1) & col("has_cf"))),
    }
    if idx is None:
        ix.stats_cache = ((ix.n, ix.version), copy_json(out))
    return out


def _counts_in_order(codes: np.ndarray, values: list) -> dict:
    """value -> count, keys in order of first appearance (append order)."""
    counts = np.bincount(codes, minlength=len(values))
    present = np.flatnonzero(counts)
    if len(present) <= 64:  # the usual case (a few engines, sources): one pass per value
        first = [int(np.argmax(codes == c)) for c in present.tolist()]
        order = present[np.argsort(first, kind="stable")]
    else:
        uniq, first_idx = np.unique(codes, return_index=True)
        order = uniq[np.argsort(first_idx, kind="stable")]
    return {values[c]: int(counts[c]) for c in order.tolist()}
