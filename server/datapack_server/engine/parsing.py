"""The worker pool for the CPU-bound work one Python process would serialise
under the GIL, and the range parser it runs for large loads (file ranges ->
index rows). The append path's preparation (decode, validate, encode) runs in
the same pool: service/preparation.py.

Workers are pure functions of their inputs (bytes in, lines and raw index rows
out) and never touch the store's files for writing: all state, locking, id
checks and writes stay in the owning process. The pool uses the `forkserver`
start method, so workers never inherit gRPC threads.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

from datapack_client.records.stored import is_legacy
from datapack_server.engine.index import raw_row
from datapack_server.engine.packids import id_hash
from datapack_server.storage.lines import CorruptLine, parse_line

# Entry kinds of a parsed range.
RECORD, BLANK, CORRUPT = 0, 1, 2


class WorkerPool:
    """A lazily started process pool (size: the machine's cores)."""

    def __init__(self, workers: int | None = None, preload: tuple[str, ...] = ()):
        self.workers = workers or os.cpu_count() or 1
        # Modules the forkserver imports once, so that each worker starts with them
        # (the owners name the modules whose functions they submit).
        self.preload = ["datapack_server.engine.parsing", *preload]
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(self.preload)
                self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                                     initializer=_exit_with_owner, initargs=(os.getpid(),))
            return self._executor

    def start(self) -> WorkerPool:
        """Start the workers now (servers do this before their RPC threads exist)."""
        list(self.executor().map(int, range(self.workers)))
        return self

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None


def _exit_with_owner(owner_pid: int) -> None:
    """Worker initializer: exit when the owning server process is gone. A
    SIGKILLed server cannot shut its pool down, and the workers would otherwise
    wait on their task queue forever (they hold its pipe ends themselves)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass
            if os.getppid() != parent:  # our forkserver died with the owner
                os._exit(0)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


# ---------------------------------------------------------------------- index builds

def parse_range(path: str, start: int, end: int, file_name: str, task: str) -> tuple[int, list]:
    """Parse the complete lines of [start, end) (which starts at a line start and
    ends after a newline). Returns (number of physical lines, entries), an entry
    being (kind, relative line number, offset, length, payload):
    RECORD -> (pack_id or None, id hash, raw_row with line_no 0, needs_created);
    CORRUPT -> reason; BLANK -> None."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, end - start, start)
    finally:
        os.close(fd)
    out: list[tuple] = []
    pos = 0
    rel = 0
    for raw in data.split(b"\n")[:-1]:
        off = start + pos
        length = len(raw) + 1
        pos += length
        rel += 1
        if not raw.strip():
            out.append((BLANK, rel, off, length, None))
            continue
        try:
            d = parse_line(raw)
        except CorruptLine as exc:
            out.append((CORRUPT, rel, off, length, str(exc)))
            continue
        if is_legacy(d):
            # Legacy mapping may derive ids from the line number: let the owner do it.
            out.append((CORRUPT + 1, rel, off, length, None))
            continue
        pid = d.get("pack_id")
        if type(pid) is not str or not pid:
            pid = None if pid is None or pid == "" else orjson.dumps(pid).decode()
        created = d.get("created_at")
        needs_created = created is None or created == ""
        row = raw_row(d, off, length, 0, 1)
        out.append((RECORD, rel, off, length, (pid, id_hash(pid) if pid is not None else 0, row, needs_created)))
    return rel, out


LEGACY = CORRUPT + 1


def parse_range_columns(path: str, start: int, end: int, file_name: str, task: str):
    """parse_range, with the chunk's records returned as columns (numpy arrays,
    categorical values interned locally with their tables, per-name energy
    arrays) so the owner adds them in bulk instead of unpickling a tuple per row.
    Returns (line count, non-record entries, block) where block is None when the
    chunk holds no record, or "sequential" when it holds a legacy line (whose
    mapping the owner does in order)."""
    import numpy as np

    from datapack_server.engine.index import CATEGORIES, COLUMN_NAMES, COLUMNS

    count, entries = parse_range(path, start, end, file_name, task)
    records = [e for e in entries if e[0] == RECORD]
    others = [e for e in entries if e[0] != RECORD]
    if any(e[0] == LEGACY for e in others):
        return count, others, "sequential"
    if not records:
        return count, others, None
    rows = [e[4][2] for e in records]
    columns = list(zip(*rows))
    block: dict[str, Any] = {"rel": np.array([e[1] for e in records], dtype=np.int64),
             "off": np.array([e[2] for e in records], dtype=np.int64),
             "len": np.array([e[3] for e in records], dtype=np.int64),
             "pids": [e[4][0] for e in records],
             "hashes": [e[4][1] for e in records],
             "needs_created": [e[4][3] for e in records],
             "cols": {}, "cats": {}, "energy": {}}
    for (name, dtype, _width), values in zip(COLUMNS, columns):
        if name in CATEGORIES:
            table: dict = {}
            codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int32, count=len(values))
            block["cats"][name] = (codes, list(table))
        elif name == "created":
            block["cols"][name] = np.array(values) if any(values) else np.zeros(len(values), dtype="S1")
        else:
            block["cols"][name] = np.array(values, dtype=dtype)
    energy = block["energy"]
    for i, breakdown in enumerate(columns[len(COLUMN_NAMES)]):
        for kind, name, wh in breakdown:
            arr = energy.get((kind, name))
            if arr is None:
                arr = energy[(kind, name)] = np.zeros(len(rows), dtype=np.float64)
            arr[i] += wh
    return count, others, block
