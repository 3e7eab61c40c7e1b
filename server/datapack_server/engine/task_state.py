"""The in-memory view of one task file and how it catches up with the file.

Before every read a task catches up (docs/repository.md §6.1): complete lines
appended since the last look are parsed and indexed (sequentially, or by the
worker pool for large ranges, applied in file order so both give the same
index); a replaced or shrunk file is reloaded from scratch. Lines that fail
their checksum or do not parse are reported and never served.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Protocol
from zlib import crc32

import numpy as np

from datapack_client.errors import InternalError
from datapack_client.records import jsonio, schema
from datapack_client.records.model import json_equal
from datapack_client.records.stored import is_legacy
from datapack_server.engine import parsing
from datapack_server.engine.index import TaskIndex
from datapack_server.engine.memory import gc_paused, release_free_memory
from datapack_server.engine.packids import id_hash
from datapack_server.engine.snapshots import (
    drop_snapshot,
    fingerprint,
    read_snapshot,
    snapshot_meta,
    snapshot_path,
    write_snapshot,
)
from datapack_server.storage import checksums
from datapack_server.storage.checksums import entries_for_lines
from datapack_server.storage.lines import CorruptLine, line_blocks, parse_line, served_record
from datapack_server.storage.taskfile import StoreWriteError, TaskFile

READ_CHUNK = 4 << 20
PARALLEL_MIN_BYTES = 32 << 20  # catch-ups larger than this are parsed by the worker pool
PARALLEL_CHUNK = 8 << 20
RELEASE_MEMORY_AFTER = 64 << 20  # catch-ups at least this large hand freed memory back


def _strip_for_compare(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "created_at" and k != "_revision"}


def records_identical(a: dict, b: dict) -> bool:
    """docs/repository.md §3.2: equal JSON values ignoring created_at and _revision."""
    return json_equal(_strip_for_compare(a), _strip_for_compare(b))


@dataclass(frozen=True)
class RecordRef:
    """Where the current revision of a served pack lives (for readers that
    fetch payloads lazily)."""

    task: str
    file_ident: tuple | None
    offset: int
    length: int
    line_no: int
    revision: int


class TaskOwner(Protocol):
    """What a task needs from the store that holds it."""

    @property
    def path(self) -> str: ...

    @property
    def fsync(self) -> bool: ...

    @property
    def pool(self) -> parsing.WorkerPool | None: ...

    @property
    def snapshots(self) -> bool: ...

    @property
    def snapshot_min_rows(self) -> int: ...

    def on_corrupt(self, task: str, line_no: int, offset: int, why: str) -> None: ...

    def save_snapshot_later(self, st: TaskState) -> None: ...


class TaskState:
    """The in-memory view of one task file."""

    def __init__(self, store: TaskOwner, task: str):
        self.store = store
        self.task = task
        self.file = TaskFile(store.path, task, fsync=store.fsync)
        self.snapshot_path = snapshot_path(store.path, task)
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

    @property
    def reader(self) -> int:
        """The read descriptor of the task file (open once a catch-up found the file)."""
        assert self.rfd is not None, "the task file is not open"
        return self.rfd

    # -- catch-up

    def refresh(self) -> None:
        """Catch up with the file: parse complete lines appended since the last
        look; reload if the file was replaced or shrank."""
        with self.lock:
            if self.needs_rebuild:
                self.close_reader()
                self._reset()
                self.drop_snapshot()
            try:
                st = os.stat(self.file.path)
            except FileNotFoundError:
                if self.ident is not None or self.index.n:
                    self.close_reader()
                    self._reset()
                return
            ident = (st.st_dev, st.st_ino)
            if self.ident is not None and (ident != self.ident or st.st_size < self.scanned):
                self.close_reader()
                self._reset()
            if self.rfd is None:
                self.rfd = os.open(self.file.path, os.O_RDONLY)
                self.ident = (os.fstat(self.rfd).st_dev, os.fstat(self.rfd).st_ino)
                if self.ident != ident:  # replaced between stat and open: next call catches up
                    return
                if self.store.snapshots:
                    self._load_snapshot()
            size = os.fstat(self.rfd).st_size
            if self.sums_seen != (ident[1], size):
                # Read after the size: see Checksums.load.
                self.file.sums.load(self.rfd, size)
                self.sums_seen = (ident[1], size)
            if size != self.scanned + (self.torn[1] if self.torn else 0):
                if size > self.scanned:
                    self._ingest_from(self.scanned, size)
                else:  # a writer cut the torn tail off
                    self.torn = None
            self.file.sums.trim(self.scanned)

    def close_reader(self) -> None:
        """Close the read descriptor (reopened by the next catch-up)."""
        if self.rfd is not None:
            os.close(self.rfd)
            self.rfd = None

    def _ingest_from(self, start: int, end: int) -> None:
        before = self.index.n
        with gc_paused():
            self._ingest_range(start, end)
        if end - start >= RELEASE_MEMORY_AFTER:
            self.index.compact()  # a bulk load leaves up to half its column capacity unused
            release_free_memory()  # parsing leaves its garbage in the C heap
        if self.store.snapshots and self.index.n - self.snapshot_rows >= max(
                self.store.snapshot_min_rows, (self.index.n - before) and self.index.n // 4):
            self.store.save_snapshot_later(self)

    def _ingest_range(self, start: int, end: int) -> None:
        if end - start >= PARALLEL_MIN_BYTES:  # in chunks, by the pool or else in this process
            end_complete = self._last_line_end(start, end)
            if end_complete > start:
                self._ingest_parallel(self.store.pool or parsing.IN_PROCESS, start, end_complete)
            if end > end_complete:
                self.torn = (end_complete, end - end_complete)
            return
        self._ingest_sequential(start, end)

    def _last_line_end(self, start: int, end: int) -> int:
        """Offset just after the last newline in [start, end) (start if none)."""
        pos = end
        while pos > start:
            lo = max(start, pos - (1 << 16))
            block = os.pread(self.reader, pos - lo, lo)
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
                block = os.pread(self.reader, 1 << 16, probe_at)
                nl = block.find(b"\n")
                if nl >= 0 or not block:
                    break
                probe_at += len(block)
            pos = min(end, probe_at + nl + 1)
            bounds.append(pos)
        if bounds[-1] != end:
            bounds.append(end)
        return bounds

    def _ingest_parallel(self, pool: parsing.WorkerPool, start: int, end: int) -> None:
        """Parse [start, end) (complete lines) in worker processes; results are
        applied in file order, so ids, revisions and line numbers are exactly
        those of the sequential path."""
        bounds = self._chunk_bounds(start, end)
        executor = pool.executor()
        file_name, path, task = self.file.file_name, self.file.path, self.task
        window = 2 * pool.workers
        pending: list = []
        chunks = list(zip(bounds, bounds[1:]))
        nxt = 0
        sums = self.file.sums
        while nxt < len(chunks) or pending:
            while nxt < len(chunks) and len(pending) < window:
                a, b = chunks[nxt]
                crc = executor.submit(checksums.scan_range, path, a, b) if a < sums.end else None
                pending.append((a, b, executor.submit(parsing.parse_range_columns, path, a, b, file_name, task), crc))
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
        return self.index.add_parsed(block, self.lines, self.file.file_name)

    def _apply_parsed(self, entries: list) -> None:
        """Record a chunk's corrupt lines (blank lines only count as lines)."""
        base = self.lines
        for kind, rel, off, length, payload in entries:
            if kind == parsing.CORRUPT:
                line_no = base + rel
                self.corrupt.append((line_no, off, length, payload))
                self.store.on_corrupt(self.task, line_no, off, payload)

    def _ingest_sequential(self, start: int, end: int) -> None:
        self.torn = None
        for block, base, complete in line_blocks(self.reader, start, end, READ_CHUNK):
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
        raw = os.pread(self.reader, length, off)
        if verify:
            why = self.file.sums.check_line(off, raw)
            if why is not None:
                self._corrupt_payload(off, length, why)
        return raw

    def read_runs(self, offs: np.ndarray, lens: np.ndarray) -> list[bytes]:
        """The bytes of indexed lines, in the given order, as read_raw checks
        them, with one read per run of adjacent lines (a bulk read in append
        order is a few large reads, not one per line). Returns one bytes
        object per run: the run's lines concatenated."""
        n = len(offs)
        if n == 0:
            return []
        ends = offs + lens
        cuts = (np.flatnonzero(offs[1:] != ends[:-1]) + 1).tolist()
        runs = []
        for a, b in zip([0, *cuts], [*cuts, n]):
            lo, hi = int(offs[a]), int(ends[b - 1])
            data = os.pread(self.reader, hi - lo, lo)
            view = memoryview(data)
            rel, ln = (offs[a:b] - lo).tolist(), lens[a:b].tolist()
            crcs = np.array([crc32(view[r:r + m]) for r, m in zip(rel, ln)], dtype=np.uint32)
            if len(data) != hi - lo or not self.file.sums.all_match(offs[a:b], lens[a:b], crcs):
                for r, m, off in zip(rel, ln, offs[a:b].tolist()):  # find and report the bad line
                    why = self.file.sums.check_line(off, data[r:r + m])
                    if why is not None:
                        self._corrupt_payload(off, m, why)
            runs.append(data)
        return runs

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

    # -- the writer side (the group committer; caller holds the write lock and has refreshed)

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
        self.sums_seen = (self.ident[1] if self.ident else None, self.file.sums.end)

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

    # -- index snapshot (engine/snapshots.py)

    def _load_snapshot(self) -> None:
        snap = read_snapshot(self.snapshot_path, self.file.path, self.file.file_name, self.reader)
        if snap is None:
            return
        self.index = snap.index
        self.scanned, self.lines = snap.scanned, snap.lines
        self.corrupt = snap.corrupt
        self.redundant = snap.redundant
        self.changed_without_revision = snap.changed_without_revision
        self.snapshot_rows = snap.index.n

    def drop_snapshot(self) -> None:
        """Delete the snapshot (a cache): it may index a line that is corrupt."""
        drop_snapshot(self.snapshot_path)
        self.snapshot_rows = 0

    def snapshot_due(self) -> bool:
        """Enough rows were added since the last snapshot to write a new one."""
        return self.store.snapshots and self.index.n - self.snapshot_rows >= self.store.snapshot_min_rows

    def save_snapshot(self) -> bool:
        """Write the index snapshot atomically (temp file + rename)."""
        with self.lock:
            if self.rfd is None or self.index.n == self.snapshot_rows:
                return False
            state = self.index.state()
            meta = snapshot_meta(self.file.file_name, self.scanned, self.lines, fingerprint(self.rfd, self.scanned),
                                 self.corrupt, self.redundant, self.changed_without_revision)
            rows = self.index.n
            generation = self.generation
        # Re-indexed meanwhile (a line failed its checksum): this index is older
        # than the one that dropped its snapshot; do not bring it back.
        if not write_snapshot(self.snapshot_path, state, meta, self.lock, lambda: self.generation == generation):
            return False
        with self.lock:
            self.snapshot_rows = max(self.snapshot_rows, rows)
        return True
