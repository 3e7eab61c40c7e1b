"""Worker processes for the CPU-bound work one Python process would serialise
under the GIL: parsing file ranges into index rows (large loads) and decoding,
validating and encoding appended records (the append hot path).

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

import orjson

from datapack_client import codec, schema
from datapack_client.errors import DataPackError as DataPackErrorForWorkers
from datapack_client.errors import Violation
from datapack_client.fastdecode import decode_record
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb

from datapack_client import validation
from .index import raw_row
from .packids import id_hash
from .storage.lines import CorruptLine, is_legacy, parse_line, served_record

# Entry kinds of a parsed range.
RECORD, BLANK, CORRUPT = 0, 1, 2


class WorkerPool:
    """A lazily started process pool (size: the machine's cores)."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(["datapack_server.workers"])
                self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                                     initializer=_exit_with_owner, initargs=(os.getpid(),))
            return self._executor

    def start(self) -> "WorkerPool":
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
    out = []
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

    from .index import COLUMNS, CATEGORIES, COLUMN_NAMES

    count, entries = parse_range(path, start, end, file_name, task)
    records = [e for e in entries if e[0] == RECORD]
    others = [e for e in entries if e[0] != RECORD]
    if any(e[0] == LEGACY for e in others):
        return count, others, "sequential"
    if not records:
        return count, others, None
    rows = [e[4][2] for e in records]
    columns = list(zip(*rows))
    block = {"rel": np.array([e[1] for e in records], dtype=np.int64),
             "off": np.array([e[2] for e in records], dtype=np.int64),
             "len": np.array([e[3] for e in records], dtype=np.int64),
             "pids": [e[4][0] for e in records],
             "hashes": [e[4][1] for e in records],
             "needs_created": [e[4][3] for e in records],
             "cols": {}, "cats": {}, "energy": {}}
    for (name, dtype, width), values in zip(COLUMNS, columns):
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


# ---------------------------------------------------------------------- append batches

_PROFILE_FIELDS = ("condition", "attribution", "energy", "sima_annotation", "objective_profile",
                   "process_reward_profile", "embodiment_profile", "guidance_profile")


def has_verbatim(msg: pb.DataPackMeta) -> bool:
    """Whether any message of the record carries values outside its typed
    fields (then every field's JSON type must be checked)."""
    if msg.verbatim_json:
        return True
    for name in _PROFILE_FIELDS:
        if msg.HasField(name) and getattr(msg, name).verbatim_json:
            return True
    return any(e.verbatim_json for e in msg.skill_trace)


def prepare_records(raw_records: list[bytes], now: str) -> tuple[list, list]:
    """Decode, normalise, validate and encode serialized DataPackMeta messages.
    Returns (prepared, violations): prepared[i] = (task, pack_id, line, raw_row)."""
    prepared = []
    violations: list[Violation] = []
    for i, raw in enumerate(raw_records):
        try:
            msg = pb.DataPackMeta.FromString(raw)
        except Exception as exc:  # noqa: BLE001 - a malformed message is a bad argument
            violations.append(Violation(i, None, "", "FIELD_TYPE", f"not a DataPackMeta message: {exc}"))
            continue
        try:
            rec = decode_record(msg, strict=True, created_at=now)
        except codec.JsonTextError as exc:
            violations.append(Violation(i, msg.pack_id or None, exc.field, "FIELD_TYPE", str(exc)))
            continue
        vs = validation.record_violations(rec, i, typed=not has_verbatim(msg))
        if vs:
            violations.extend(vs)
            continue
        line = orjson.dumps(rec, option=orjson.OPT_NON_STR_KEYS) + b"\n"
        prepared.append((rec["task_name"], rec["pack_id"], line, raw_row(rec, 0, len(line), 0, 1)))
    return prepared, violations


__all__ = ["WorkerPool", "parse_range", "prepare_records", "RECORD", "BLANK", "CORRUPT", "LEGACY",
           "served_record", "schema"]


# ---------------------------------------------------------------------- episode ingest

def prepare_ingest(raw_request: bytes, now: str, baseline: dict) -> tuple[list, list, list]:
    """Build, validate and encode the episodes of a serialized
    IngestEpisodesRequest (baseline already resolved to values). Returns
    (prepared as in prepare_records, violations, [(bucket, delta_J)])."""
    from datapack_client.builder import Baseline
    from datapack_client.ingest import econ_from_proto, episodes_from_proto
    from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb

    from .ingest import build_episodes

    req = spb.IngestEpisodesRequest.FromString(raw_request)
    try:
        episodes = episodes_from_proto(req.episodes)
        packs = build_episodes(episodes, econ_from_proto(req.econ_params),
                               Baseline(baseline["mpl"], baseline["error"], baseline["ep"], baseline.get("wage_parity"),
                                        name=baseline.get("name")))
    except DataPackErrorForWorkers as err:
        return [], err.violations or [Violation(0, None, "", err.reason, err.message)], []
    prepared, outcomes = [], []
    for p in packs:
        rec = p._d
        line = orjson.dumps(rec, option=orjson.OPT_NON_STR_KEYS) + b"\n"
        prepared.append((rec["task_name"], rec["pack_id"], line, raw_row(rec, 0, len(line), 0, 1)))
        outcomes.append((p.bucket, p.attribution.delta_J))
    return prepared, [], outcomes
