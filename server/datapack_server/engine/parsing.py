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
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

import numpy as np
import orjson

from datapack_client.records.stored import is_legacy
from datapack_server.engine.memory import gc_paused
from datapack_server.engine.packids import raw_id_hash
from datapack_server.engine.rowblock import record_columns
from datapack_server.storage.lines import READ_MAX_DEPTH, CorruptLine, parse_line

# Kinds of the non-record entries of a parsed range.
BLANK, CORRUPT = 1, 2


class WorkerPool:
    """A lazily started process pool (size: the machine's cores)."""

    def __init__(self, workers: int | None = None, preload: tuple[str, ...] = ()):
        self.workers = workers or os.cpu_count() or 1
        # Modules the forkserver imports once, so that each worker starts with them
        # (the owners name the modules whose functions they submit).
        self.preload = ["datapack_server.engine.parsing", *preload]
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> Executor:
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

class _InlineExecutor(Executor):
    """Runs each submitted call at once, in the calling thread."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered by future.result(), as a pool's would be
            future.set_exception(exc)
        return future


class InProcessPool(WorkerPool):
    """The stand-in for a worker pool in a process without one: submitted
    calls (the range parser) run in the calling process, so a large file is
    indexed through the same chunked path as with workers: columns built per
    field for a few hundred records at a time and added in bulk, about a
    third less CPU than indexing line by line."""

    def __init__(self) -> None:
        super().__init__(workers=1)
        self._inline = _InlineExecutor()

    def executor(self) -> Executor:
        return self._inline

    def start(self) -> InProcessPool:
        return self

    def close(self) -> None:
        pass


IN_PROCESS = InProcessPool()
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")  # what bytes.strip() removes
# Records per columnar part of a range: parsed records are ~3x their line in
# memory, so a part bounds what is alive at once (a few MB) without making
# the per-column work per part noticeable.
_PART_RECORDS = 256


def _pack_id_of(d: dict) -> str | None:
    pid = d.get("pack_id")
    if type(pid) is not str or not pid:
        pid = None if pid is None or pid == "" else orjson.dumps(pid).decode()
    return pid


def _columnar_part(records: list[dict], rels: list[int]) -> dict:
    pids = [_pack_id_of(d) for d in records]
    raws = [p.encode("utf-8", "surrogatepass") if p is not None else b"" for p in pids]
    part = record_columns(records)
    part["rel"] = rels
    part["pid_blob"] = b"".join(raws)
    part["pid_len"] = [len(r) if p is not None else -1 for p, r in zip(pids, raws)]
    part["hashes"] = [raw_id_hash(r) if p is not None else 0 for p, r in zip(pids, raws)]
    part["needs_created"] = [c is None or c == "" for c in (d.get("created_at") for d in records)]
    return part


def _joined(parts: list[dict], offs: np.ndarray, lens: np.ndarray) -> dict:
    """One block from a range's parts: columns concatenated, local codes
    re-coded against one table per category. Pack ids travel as one UTF-8
    blob with a length per record (-1: the line has none), so that the owner
    creates no Python object per id."""
    rel = np.array([r for p in parts for r in p["rel"]], dtype=np.int64)
    block: dict[str, Any] = {
        "rel": rel + 1, "off": offs[rel], "len": lens[rel],
        "pid_blob": b"".join([p["pid_blob"] for p in parts]),
        "pid_len": np.array([x for p in parts for x in p["pid_len"]], dtype=np.int64),
        "hashes": np.array([x for p in parts for x in p["hashes"]], dtype=np.uint64),
        "needs_created": np.array([x for p in parts for x in p["needs_created"]], dtype=np.bool_),
        "energy_wh": np.concatenate([p["energy_wh"] for p in parts]),
        "cols": {}, "cats": {}}
    for name, first in parts[0]["cols"].items():
        arrays = [p["cols"][name] for p in parts]
        if name == "created":  # widths differ between parts: the widest
            arrays = [a.astype(f"S{max(x.dtype.itemsize for x in arrays)}") for a in arrays]
        block["cols"][name] = np.concatenate(arrays) if len(arrays) > 1 else first
    for name in parts[0]["cats"]:
        if len(parts) == 1:
            block["cats"][name] = parts[0]["cats"][name]
            continue
        table: dict = {}
        codes = []
        for p in parts:
            local_codes, local_table = p["cats"][name]
            mapping = np.array([table.setdefault(v, len(table)) for v in local_table], dtype=np.int32)
            codes.append(mapping[local_codes])
        block["cats"][name] = (np.concatenate(codes), list(table))
    return block


def _parsed(data: bytes, view: memoryview, a: int, b: int) -> dict:
    """storage.lines.parse_line of data[a:b], without copying the line in the
    common case: a line orjson reads as an object, with too few brackets to
    nest deeper than READ_MAX_DEPTH, is what parse_line returns for it; any
    other line goes through parse_line itself. Raises CorruptLine."""
    try:
        d = orjson.loads(view[a:b])
    except ValueError:  # orjson.JSONDecodeError; parse_line decides
        d = None
    if type(d) is dict and data.count(b"[", a, b) + data.count(b"{", a, b) <= READ_MAX_DEPTH:
        return d
    return parse_line(data[a:b])


def parse_range_columns(path: str, start: int, end: int, file_name: str, task: str):
    """Parse the complete lines of [start, end) (which starts at a line start
    and ends after a newline) into a columnar block that the owner adds in
    bulk (index.TaskIndex.add_parsed): numpy columns, categorical values coded
    locally with their tables, the energy values, and per record its relative
    line number, offset, length, pack_id (see _joined), id hash and whether
    created_at is missing.

    Returns (number of physical lines, non-record entries, block): an entry is
    (kind, relative line number, offset, length, payload), BLANK -> None,
    CORRUPT -> the reason; block is None when the range holds no record, or
    "sequential" when it holds a legacy line (whose mapping the owner does in
    order)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, end - start, start)
    finally:
        os.close(fd)
    view = memoryview(data)
    line_starts: list[int] = []
    others: list[tuple] = []
    parts: list[dict] = []
    records: list[dict] = []
    rels: list[int] = []
    pos, size = 0, len(data)
    with gc_paused():  # parsed JSON holds no cycles; see memory.gc_paused
        while pos < size:
            nl = data.find(b"\n", pos)
            rel = len(line_starts)
            line_starts.append(pos)
            a, pos = pos, nl + 1
            if (nl == a or data[a] in _WHITESPACE) and not data[a:nl].strip():
                others.append((BLANK, rel + 1, start + a, nl + 1 - a, None))
                continue
            try:
                d = _parsed(data, view, a, nl)
            except CorruptLine as exc:
                others.append((CORRUPT, rel + 1, start + a, nl + 1 - a, str(exc)))
                continue
            if "condition" not in d and is_legacy(d):
                # Legacy mapping may derive ids from the line number: let the owner do it.
                return len(line_starts), others, "sequential"
            records.append(d)
            rels.append(rel)
            if len(records) == _PART_RECORDS:
                parts.append(_columnar_part(records, rels))
                records, rels = [], []
        if records:
            parts.append(_columnar_part(records, rels))
        del records
    view.release()
    if not parts:
        return len(line_starts), others, None
    starts = np.array(line_starts + [size], dtype=np.int64)
    return len(line_starts), others, _joined(parts, starts[:-1] + start, np.diff(starts))
