"""Domain façade of the server: data root, stores, encoded results.

Takes and returns domain values and protobuf messages (via the shared codec),
never grpc objects; the servicer only converts and delegates to it.
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections import OrderedDict
from typing import Iterator

from datapack_client import codec, schema
from datapack_client.errors import FailedPreconditionError, InvalidArgumentError, invalid
from datapack_client.export import ExportArgs
from datapack_client.query import FilterSpec, QuerySpec
from datapack_client.ingest import baseline_values_from_proto, econ_from_proto, episodes_from_proto
from datapack_client.results import AppendResult, IngestResult
from datapack_client.validation_rules import shown, store_ok

from datapack_client.skills import catalogue_for

from . import analytics
from .baselines import BaselineRegistry
from .ingest import ingest, resolve_baseline
from .portable.exporter import export_steps, options_of
from .store import RecordRef, Store, TaskState, history_refs, match, position_of, query_positions, statistics
from .storage.taskfile import AUX_DIR
from .workers import WorkerPool, prepare_ingest, prepare_records

POOL_MIN_BATCH = 32  # smaller batches are cheaper to prepare in-process than to ship


class DataRootLock:
    """One server process per data root: an exclusive, non-blocking flock on
    `<root>/.datapack/server.lock`, released when the process exits."""

    def __init__(self, root: str):
        aux = os.path.join(root, AUX_DIR)
        os.makedirs(aux, exist_ok=True)
        self.path = os.path.join(aux, "server.lock")
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise FailedPreconditionError(
                f"another datapack server (pid {holder}) is serving {root}; "
                "stop it or choose another --data-dir", "DATA_DIR_LOCKED") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class EncodedCache:
    """LRU of serialized DataPackMeta messages keyed by where their line is.

    Lines are immutable (append-only files; a replaced file has a new inode),
    so entries never go stale; the bound is on bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return v

    def put(self, key, value: bytes) -> None:
        if len(value) > self.max_bytes // 8:
            return
        with self._lock:
            if key in self._d:
                return
            self._d[key] = value
            self.bytes += len(value)
            while self.bytes > self.max_bytes:
                _, old = self._d.popitem(last=False)
                self.bytes -= len(old)


class WriterMemo:
    """Remembers the acknowledgement of recent batches per (store, writer id),
    so a batch re-sent after a reconnect gets its original acknowledgement."""

    def __init__(self, per_writer: int = 4096, writers: int = 4096):
        self.per_writer = per_writer
        self.writers = writers
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, seq):
        with self._lock:
            m = self._d.get(key)
            return None if m is None else m.get(seq)

    def put(self, key, seq, results) -> None:
        with self._lock:
            m = self._d.get(key)
            if m is None:
                m = self._d[key] = OrderedDict()
                while len(self._d) > self.writers:
                    self._d.popitem(last=False)
            else:
                self._d.move_to_end(key)
            m[seq] = results
            while len(m) > self.per_writer:
                m.popitem(last=False)


class DataPackService:
    def __init__(self, data_root: str, *, fsync: bool = True, cache_bytes: int = 64 << 20,
                 exclusive: bool = True, workers: int = 0, skill_catalogues: dict | None = None):
        self.root = os.path.abspath(data_root)
        os.makedirs(self.root, exist_ok=True)
        self._lock = DataRootLock(self.root) if exclusive else None
        self.fsync = fsync
        self._stores: dict[str, Store] = {}
        self._stores_lock = threading.Lock()
        self.skill_catalogues = skill_catalogues  # {task: {id: name}} (adapter.md §1.2)
        self.cache = EncodedCache(cache_bytes)
        self.memo = WriterMemo()
        # workers > 0: a process pool for decoding appends and parsing large files
        # (Python runs one thread at a time; this is how the server uses more cores).
        self.pool = WorkerPool(workers).start() if workers > 0 else None

    def close(self) -> None:
        for s in self._stores.values():
            s.close()
        if self.pool is not None:
            self.pool.close()
        if self._lock is not None:
            self._lock.release()

    def store(self, path: str) -> Store:
        s = self._stores.get(path)
        if s is None:
            if not store_ok(path):
                raise invalid("store", "STORE_INVALID",
                              f"store {shown(path)} must be '' or '/'-separated names of [A-Za-z0-9_.-] (at most "
                              "256 characters; no segment starting with '.' or naming a Windows device)")
            folder = os.path.join(self.root, *path.split("/")) if path else self.root
            # The names are checked; a symbolic link among the folders (put there
            # by someone with write access to the data root) could still lead
            # requests' reads and writes outside it, so such a store is refused.
            real_root = os.path.realpath(self.root)
            if os.path.commonpath([real_root, os.path.realpath(folder)]) != real_root:
                raise FailedPreconditionError(f"store {path!r} leads outside the data directory (a symbolic link); "
                                              "it is not served", "STORE_OUTSIDE_DATA_DIR")
            with self._stores_lock:
                s = self._stores.get(path)
                if s is None:
                    s = self._stores[path] = Store(folder, fsync=self.fsync, pool=self.pool)
        return s

    # -- append

    def append(self, store: str, raw_records: list[bytes], writer_id: str = "",
               batch_sequence: int = 0) -> list[AppendResult]:
        """Append serialized DataPackMeta messages as one atomic batch. Decoding,
        validation and encoding run in the worker pool for large batches."""
        memo_key = (store, writer_id) if writer_id else None
        if memo_key is not None:
            seen = self.memo.get(memo_key, batch_sequence)
            if seen is not None:
                return seen
        s = self.store(store)  # validates the store path before any work
        if not raw_records:
            return []
        now = schema.utc_now()
        if self.pool is not None and len(raw_records) >= POOL_MIN_BATCH:
            prepared, violations = self.pool.executor().submit(prepare_records, raw_records, now).result()
        else:
            prepared, violations = prepare_records(raw_records, now)
        if violations:
            raise InvalidArgumentError(f"{len(violations)} invalid field(s); first: {violations[0].message}",
                                       violations[0].reason, violations)
        keys = [(task, pid) for task, pid, _line, _raw in prepared]
        results = s.append_lines(keys, [p[2] for p in prepared], raws=[p[3] for p in prepared])
        if memo_key is not None:
            self.memo.put(memo_key, batch_sequence, results)
        return results

    # -- reads (payloads as serialized DataPackMeta messages)

    def _encoded(self, st: TaskState, ref: RecordRef) -> bytes:
        key = (st.file.path, ref.file_ident, ref.offset)
        b = self.cache.get(key)
        if b is None:
            msg = codec.dict_to_message(st.load(ref))
            msg.revision = ref.revision
            b = msg.SerializeToString()
            self.cache.put(key, b)
        return b

    def _encoded_basic(self, st: TaskState, ref: RecordRef) -> bytes:
        """The basic view of a pack that stores heavy artifacts: those fields
        unset and named in omitted_fields."""
        key = (st.file.path, ref.file_ident, ref.offset, "basic")
        b = self.cache.get(key)
        if b is None:
            rec = st.load(ref)
            omitted = [k for k in schema.ARTIFACT_KEYS if rec.get(k) is not None]
            for k in omitted:
                rec[k] = None
            msg = codec.dict_to_message(rec)
            msg.revision = ref.revision
            msg.omitted_fields.extend(omitted)
            b = msg.SerializeToString()
            self.cache.put(key, b)
        return b

    def query(self, store: str, task_name: str, q: QuerySpec) -> list[bytes]:
        with self.store(store).reading(task_name) as st:
            positions = query_positions(st, q)
            if q.include_artifacts:
                return [self._encoded(st, st.ref(p)) for p in positions.tolist()]
            heavy = st.index.view("has_artifacts")[positions].tolist()
            return [(self._encoded_basic if h else self._encoded)(st, st.ref(p))
                    for p, h in zip(positions.tolist(), heavy)]

    def get(self, store: str, task_name: str, pack_id: str) -> bytes:
        with self.store(store).reading(task_name) as st:
            return self._encoded(st, st.ref(position_of(st, pack_id)))

    def history(self, store: str, task_name: str, pack_id: str) -> list[tuple[int, dict | None, bytes]]:
        with self.store(store).reading(task_name) as st:
            return [(ref.revision, meta, self._encoded(st, ref)) for ref, meta in history_refs(st, pack_id)]

    def export_portable(self, store: str, task_name: str, args: ExportArgs) -> Iterator[dict]:
        """The running summaries of a portable export (portable/exporter.py),
        raw data read relative to the server's working directory."""
        source = self.store(store)
        output = None
        if args.output_store is not None:
            output = self.store(args.output_store)
            if output is source:
                raise invalid("output_store", "ARGUMENT_INVALID", "output_store must differ from store")
        for summary in export_steps(source, task_name, options_of(args), output=output,
                                    max_episodes=args.max_episodes, pool=self.pool, source_name=store,
                                    output_name=args.output_store):
            yield summary.as_dict()

    def statistics(self, store: str, task_name: str, spec: FilterSpec | None) -> dict:
        with self.store(store).reading(task_name) as st:
            return statistics(st.index, match(st.index, spec) if spec is not None else None)

    def baselines(self, store: str) -> BaselineRegistry:
        return BaselineRegistry(self.store(store).path, fsync=self.fsync)

    def ingest_request(self, request) -> list:
        """IngestEpisodes batch from the wire: built in the worker pool when there
        is one (the builder is pure Python and CPU-bound), else in-process."""
        memo_key = (request.store, "ingest:" + request.writer_id) if request.writer_id else None
        if memo_key is not None:
            seen = self.memo.get(memo_key, request.batch_sequence)
            if seen is not None:
                return seen
        s = self.store(request.store)
        which = request.baseline.WhichOneof("source") if request.HasField("baseline") else None
        named = request.baseline.name if which == "name" else None
        values = (baseline_values_from_proto(request.baseline.values) if which == "values" else None)
        if self.pool is None or len(request.episodes) < POOL_MIN_BATCH:
            episodes = episodes_from_proto(request.episodes)
            results = ingest(s, self.baselines(request.store), episodes, econ_from_proto(request.econ_params),
                             named if named is not None else values)
        else:
            b = resolve_baseline(self.baselines(request.store), named if named is not None else values)
            baseline = {"mpl": b.mpl, "error": b.error, "ep": b.ep, "wage_parity": b.wage_parity, "name": named}
            prepared, violations, outcomes = self.pool.executor().submit(
                prepare_ingest, request.SerializeToString(), schema.utc_now(), baseline).result()
            if violations:
                raise InvalidArgumentError(f"{len(violations)} episode(s) could not be built; first: "
                                           f"{violations[0].message}", violations[0].reason, violations)
            appended = s.append_lines([(t, pid) for t, pid, _l, _r in prepared], [p[2] for p in prepared],
                                      raws=[p[3] for p in prepared])
            results = [IngestResult(r.index, r.pack_id, r.task_name, r.status, bucket, dj, r.sequence)
                       for r, (bucket, dj) in zip(appended, outcomes)]
        if memo_key is not None:
            self.memo.put(memo_key, request.batch_sequence, results)
        return results

    def analyze(self, store: str, task_name: str, method: str, slice_spec, **args):
        """One adapter analysis (adapter.md) on a consistent read of the task."""
        with self.store(store).reading(task_name) as st:
            return analytics.analyze(st, method, slice_spec, catalogue_for(task_name, self.skill_catalogues), **args)

    def update_training_usage(self, store: str, task_name: str, update) -> list[dict]:
        return self.store(store).update_training_usage(task_name, update)

    def list_tasks(self, store: str) -> list[str]:
        return self.store(store).list_tasks()
