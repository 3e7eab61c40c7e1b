"""Domain façade of the server: data root, stores, encoded results.

Takes and returns domain values and protobuf messages (via the shared codec),
never grpc objects; the servicer only converts and delegates to it.
"""
from __future__ import annotations

import dataclasses
import errno
import fcntl
import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterator

from datapack_client.wire import codec

from datapack_client.records import schema
from datapack_client.errors import (AlreadyExistsError, FailedPreconditionError, InvalidArgumentError,
                                    ResourceExhaustedError, UnavailableError, invalid)
from datapack_client.records.export import ExportArgs
from datapack_client.records.query import FilterSpec, QuerySpec
from datapack_client.wire.episodes import baseline_values_from_proto, econ_from_proto, episodes_from_proto
from datapack_client.records.results import AppendResult, IngestResult
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.records.validation_rules import shown, store_ok, task_name_ok

from datapack_client.records.skills import catalogue_for

from datapack_server.analytics import analyses as analytics
from datapack_server.service.baselines import BaselineRegistry
from datapack_server.service.ingest import ingest, resolve_baseline
from datapack_server.portable.exporter import export_steps, options_of
from datapack_server.engine.store import (NO_OBSERVER, RecordRef, Store, StoreObserver, TaskState, history_refs, match, position_of,
                    query_positions, statistics)
from datapack_server.storage.taskfile import AUX_DIR, SUFFIX
from datapack_server.engine.parsing import WorkerPool
from datapack_server.service.preparation import prepare_ingest, prepare_records

POOL_MIN_BATCH = 32  # smaller batches are cheaper to prepare in-process than to ship
QUERY_BLOCK = 256  # records a streamed query encodes per hold of the task lock
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# A space probe writes what the refused write needed (at least a few pages, so
# that a disk with a few free bytes does not count as recovered), capped so the
# probe itself never fills a disk that is nearly full again.
PROBE_MIN_BYTES = 64 << 10
PROBE_MAX_BYTES = 8 << 20
log = logging.getLogger("datapack.server")
# The task label of rejected records whose task holds no packs (an unknown or
# malformed name): metrics stay bounded by the stored tasks. Not a valid task name.
UNKNOWN_TASK = "(unknown)"


def _task_of(raw: bytes) -> str:
    """The task named by a serialized DataPackMeta, "" when it does not parse."""
    try:
        return pb.DataPackMeta.FromString(raw).task_name
    except Exception:  # noqa: BLE001 - a malformed record has no task
        return ""


def probe_write(directory: str, nbytes: int, fsync: bool = True) -> None:
    """Write nbytes to a scratch file under `<directory>/.datapack/`, fsync and
    remove it: the filesystem accepts (and makes durable) that much. Raises
    OSError when it does not."""
    aux = os.path.join(directory, AUX_DIR)
    os.makedirs(aux, exist_ok=True)
    path = os.path.join(aux, f"write-probe.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(bytes(nbytes))
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[n:]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


class WriteWatch:
    """Whether the server can write. Lost at the first write a store's
    filesystem refuses for lack of space (ENOSPC, EDQUOT); back once a probe
    write of the refused size succeeds there (every `interval` seconds). It is
    probed rather than waiting for the next append to succeed, because clients
    that stop sending writes while the write health is NOT_SERVING would
    otherwise never see the recovery. Appends are not refused meanwhile: each
    one still tries (and fails cleanly, nothing half-written) while space is short."""

    def __init__(self, interval: float = 0.5, fsync: bool = True):
        self.interval = interval
        self.fsync = fsync
        self._full: dict[str, int] = {}  # directory -> bytes the refused write needed
        self._cv = threading.Condition()
        self._listeners: list[Callable[[bool], None]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def writable(self) -> bool:
        return not self._full

    def full_directories(self) -> list[str]:
        with self._cv:
            return sorted(self._full)

    def add_listener(self, fn: Callable[[bool], None]) -> None:
        """fn(writable) after each change (from the failing or the probing thread)."""
        self._listeners.append(fn)

    def refused(self, directory: str, nbytes: int) -> None:
        with self._cv:
            if self._closed:
                return
            was_writable = not self._full
            need = max(nbytes, self._full.get(directory, 0), PROBE_MIN_BYTES)
            self._full[directory] = min(need, PROBE_MAX_BYTES)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="datapack-space-probe", daemon=True)
                self._thread.start()
            self._cv.notify_all()
        if was_writable:
            log.error("no space left for %s: appends fail with RESOURCE_EXHAUSTED until space is freed", directory)
            self._notify(False)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._closed or self._full)
                deadline = time.monotonic() + self.interval
                while not self._closed and time.monotonic() < deadline:
                    self._cv.wait(deadline - time.monotonic())
                if self._closed:
                    return
                pending = dict(self._full)
            freed = []
            for directory, nbytes in pending.items():
                try:
                    probe_write(directory, nbytes, self.fsync)
                    freed.append(directory)
                except OSError as exc:
                    if exc.errno not in NO_SPACE:
                        log.warning("space probe in %s failed: %s", directory, exc)
            if freed:
                with self._cv:
                    for d in freed:
                        if self._full.get(d) == pending[d]:  # not refused again meanwhile
                            del self._full[d]
                    now_writable = not self._full
                if now_writable:
                    log.warning("space is available again: appends resume")
                    self._notify(True)

    def _notify(self, writable: bool) -> None:
        for fn in list(self._listeners):
            try:
                fn(writable)
            except Exception:  # noqa: BLE001 - a listener never breaks the write path
                log.exception("write-state listener failed")

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()


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
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # the pid is only informative (a full disk must not prevent serving reads)

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
    so a batch re-sent after a reconnect gets its original acknowledgement.

    A reconnecting writer re-sends only its unacknowledged batches (at most
    its in-flight window: 8 for stream_appender), so the last 64 per writer
    are plenty; an older re-sent batch is still stored once (its packs are
    ALREADY_PRESENT) but answered afresh. The bounds keep a long-running
    server's memory flat: the soak's 16 writers once held ~130 MB here with
    4096 batches each."""

    def __init__(self, per_writer: int = 64, writers: int = 1024):
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
                 exclusive: bool = True, workers: int = 0, skill_catalogues: dict | None = None,
                 raw_roots: tuple[str, ...] | None = None, observer: StoreObserver = NO_OBSERVER):
        self.root = os.path.abspath(data_root)
        self.observer = observer  # metrics hook (store.StoreObserver); a no-op unless metrics are served
        # Folders ExportPortable may read raw episode data from (None: anywhere).
        self.raw_roots = None if raw_roots is None else tuple(os.path.realpath(r) for r in raw_roots)
        self.fsync = fsync
        self.space = WriteWatch(fsync=fsync)
        self._closed = False
        self._check_root_writable()
        self._lock = DataRootLock(self.root) if exclusive else None
        self._stores: dict[str, Store] = {}
        self._stores_lock = threading.Lock()
        self.skill_catalogues = skill_catalogues  # {task: {id: name}} (adapter.md §1.2)
        self.cache = EncodedCache(cache_bytes)
        self.memo = WriterMemo()
        # workers > 0: a process pool for decoding appends and parsing large files
        # (Python runs one thread at a time; this is how the server uses more cores).
        self.pool = WorkerPool(workers, preload=("datapack_server.service.preparation",)).start() if workers > 0 else None

    def _check_root_writable(self) -> None:
        """Fail fast on a data root the server cannot write (read-only mount,
        immutable folder, permissions): otherwise it would serve reads and fail
        every append. A full disk is not a reason to refuse: reads are served and
        the write health stays NOT_SERVING until space is freed."""
        try:
            os.makedirs(self.root, exist_ok=True)
            probe_write(self.root, 4096, self.fsync)
        except OSError as exc:
            if exc.errno in NO_SPACE:
                self.space.refused(self.root, PROBE_MIN_BYTES)
                return
            self.space.close()
            raise FailedPreconditionError(
                f"the data directory {self.root} is not writable ({exc.strerror or exc}); the server appends "
                "and fsyncs there: mount it read-write, fix its permissions or choose another --data-dir",
                "DATA_DIR_NOT_WRITABLE") from None

    def preflight(self) -> list[str]:
        """The stores under the data root (store paths of the folders holding
        task files), after checking that each folder and task file is writable:
        a read-only or immutable one is refused at start-up, naming it, rather
        than failing appends later."""
        stores, problems = [], []
        for folder, subdirs, files in os.walk(self.root):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))  # .datapack; hidden = not a store
            tasks = sorted(f for f in files if f.endswith(SUFFIX) and task_name_ok(f[: -len(SUFFIX)]))
            rel = os.path.relpath(folder, self.root)
            path = "" if rel == "." else rel.replace(os.sep, "/")
            if not tasks or not store_ok(path):
                continue
            stores.append(path)
            problems += [p for p in [folder] + [os.path.join(folder, f) for f in tasks] if not os.access(p, os.W_OK)]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise FailedPreconditionError(
                f"{problems[0]}{more} is not writable (read-only or immutable); the server appends there: "
                "make it writable or serve a copy", "DATA_DIR_NOT_WRITABLE")
        return stores

    def warm(self, stores: list[str]) -> int:
        """Load the index of every task of the given stores (what the first
        request on each would otherwise do), so that a server reporting SERVING
        answers at once. Returns the number of tasks loaded; a task that cannot
        be read is logged and left to fail on use."""
        loaded = 0
        for path in stores:
            try:
                s = self.store(path)
                tasks = s.list_tasks()
            except Exception as exc:  # noqa: BLE001 - reported, the store stays lazily opened
                log.warning("cannot open store %r: %s", path, exc)
                continue
            for task in tasks:
                if self._closed:
                    return loaded
                try:
                    s.read_task(task)
                    loaded += 1
                except Exception as exc:  # noqa: BLE001 - reported; the task fails on use
                    log.warning("cannot load task %r of store %r: %s", task, path, exc)
        return loaded

    @property
    def writable(self) -> bool:
        return self.space.writable

    @contextmanager
    def _writing(self, s: Store, nbytes: int = 0):
        """Around a write to store s: a write refused for lack of space marks
        the server not writable (WriteWatch). A lack of space met outside the task
        file's own write (lock file, quarantine) is the same fault and
        RESOURCE_EXHAUSTED too, not INTERNAL."""
        try:
            yield
        except ResourceExhaustedError as err:
            if err.reason == "STORE_FULL":
                self.space.refused(s.path, nbytes)
            raise
        except OSError as exc:
            if exc.errno not in NO_SPACE:
                raise
            self.space.refused(s.path, nbytes)
            raise ResourceExhaustedError(f"the store could not make the batch durable: {exc.strerror or exc}",
                                         "STORE_FULL") from None

    def close(self) -> None:
        self._closed = True
        self.space.close()
        for s in list(self._stores.values()):
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
                    s = self._stores[path] = Store(folder, fsync=self.fsync, pool=self.pool,
                                                   observer=self.observer)
        return s

    def task_sizes(self) -> list[tuple[str, str, int]]:
        """(store, task, packs) of every loaded task holding packs (index sizes, no I/O)."""
        return [(path, task, n) for path, s in list(self._stores.items()) for task, n in s.task_sizes()]

    def _observe_results(self, results, source: str, t0: float) -> None:
        if self.observer is NO_OBSERVER:
            return
        for key, n in Counter((r.task_name, r.status) for r in results).items():
            self.observer.appended(key[0], key[1], n)
        self.observer.acknowledged(source, time.perf_counter() - t0)

    def _observe_rejected(self, s: Store, tasks: list[str]) -> None:
        """Rejected records, by their task when it exists (labels stay bounded by
        the stored tasks, whatever names a rejected record carries)."""
        for task, n in Counter(t if s.has_packs(t) else UNKNOWN_TASK for t in tasks).items():
            self.observer.appended(task, "rejected", n)

    # -- append

    def append(self, store: str, raw_records: list[bytes], writer_id: str = "",
               batch_sequence: int = 0) -> list[AppendResult]:
        """Append serialized DataPackMeta messages as one atomic batch. Decoding,
        validation and encoding run in the worker pool for large batches."""
        t0 = time.perf_counter()
        memo_key = (store, writer_id) if writer_id else None
        if memo_key is not None:
            seen = self.memo.get(memo_key, batch_sequence)
            if seen is not None:
                self.observer.acknowledged("append", time.perf_counter() - t0)  # packs counted the first time
                return seen
        s = self.store(store)  # validates the store path before any work
        if not raw_records:
            return []
        try:
            results = self._append(s, raw_records)
        except (InvalidArgumentError, AlreadyExistsError):
            if self.observer is not NO_OBSERVER:
                self._observe_rejected(s, [_task_of(raw) for raw in raw_records])
            raise
        self._observe_results(results, "append", t0)
        if memo_key is not None:
            self.memo.put(memo_key, batch_sequence, results)
        return results

    def _append(self, s: Store, raw_records: list[bytes]) -> list[AppendResult]:
        now = schema.utc_now()
        if self.pool is not None and len(raw_records) >= POOL_MIN_BATCH:
            prepared, violations = self.pool.executor().submit(prepare_records, raw_records, now).result()
        else:
            prepared, violations = prepare_records(raw_records, now)
        if violations:
            raise InvalidArgumentError(f"{len(violations)} invalid field(s); first: {violations[0].message}",
                                       violations[0].reason, violations)
        keys = [(task, pid) for task, pid, _line, _raw in prepared]
        lines = [p[2] for p in prepared]
        with self._writing(s, sum(map(len, lines))):
            return s.append_lines(keys, lines, raws=[p[3] for p in prepared])

    # -- reads (payloads as serialized DataPackMeta messages)

    def _encoded(self, st: TaskState, ref: RecordRef, basic: bool = False) -> bytes:
        """A pack as a serialized DataPackMeta. basic: the view without the
        heavy artifacts (those fields unset and named in omitted_fields); only
        asked for packs that store some."""
        key = (st.file.path, ref.file_ident, ref.offset, basic)
        b = self.cache.get(key)
        if b is None:
            rec = st.load(ref)
            omitted = [k for k in schema.ARTIFACT_KEYS if rec.get(k) is not None] if basic else []
            for k in omitted:
                rec[k] = None
            msg = codec.dict_to_message(rec)
            msg.revision = ref.revision
            msg.omitted_fields.extend(omitted)
            b = msg.SerializeToString()
            self.cache.put(key, b)
        return b

    def query(self, store: str, task_name: str, q: QuerySpec) -> list[bytes]:
        return list(self.iter_query(store, task_name, q))

    def iter_query(self, store: str, task_name: str, q: QuerySpec) -> Iterator[bytes]:
        """The query's records (serialized), encoded block by block as they are
        consumed, so a stream whose client has gone stops encoding at the next
        block. The result is one consistent read: where each matching record's
        line is, is taken under the task lock once; lines are immutable, so the
        blocks read later (re-taking the lock only to read) are those lines."""
        with self.store(store).reading(task_name) as st:
            positions = query_positions(st, q)
            v = st.index.view
            where = [v(c)[positions] for c in ("line_off", "line_len", "line_no", "revision")]
            heavy = None if q.include_artifacts else v("has_artifacts")[positions]
            ident = st.ident
        for start in range(0, len(positions), QUERY_BLOCK):
            offs, lens, nos, revs = (c[start:start + QUERY_BLOCK].tolist() for c in where)
            basic = heavy[start:start + QUERY_BLOCK].tolist() if heavy is not None else [False] * len(offs)
            with st.lock:
                if st.ident != ident or st.rfd is None:
                    raise UnavailableError(f"task {task_name!r} was replaced or closed during the query; retry",
                                           "TASK_FILE_REPLACED")
                block = [self._encoded(st, RecordRef(st.task, ident, off, ln, no, rev), h)
                         for off, ln, no, rev, h in zip(offs, lens, nos, revs, basic)]
            yield from block

    def get(self, store: str, task_name: str, pack_id: str) -> bytes:
        with self.store(store).reading(task_name) as st:
            return self._encoded(st, st.ref(position_of(st, pack_id)))

    def history(self, store: str, task_name: str, pack_id: str) -> list[tuple[int, dict | None, bytes]]:
        with self.store(store).reading(task_name) as st:
            return [(ref.revision, meta, self._encoded(st, ref)) for ref, meta in history_refs(st, pack_id)]

    def export_portable(self, store: str, task_name: str, args: ExportArgs) -> Iterator[dict]:
        """The running summaries of a portable export (portable/exporter.py),
        raw data read relative to the server's working directory, and only
        under raw_roots when they are set (records name the paths)."""
        source = self.store(store)
        output = None
        if args.output_store is not None:
            output = self.store(args.output_store)
            if output is source:
                raise invalid("output_store", "ARGUMENT_INVALID", "output_store must differ from store")
        with self._writing(output if output is not None else source):
            options = dataclasses.replace(options_of(args), raw_roots=self.raw_roots)
            for summary in export_steps(source, task_name, options, output=output,
                                        max_episodes=args.max_episodes, pool=self.pool, source_name=store,
                                        output_name=args.output_store):
                yield summary.as_dict()

    def statistics(self, store: str, task_name: str, spec: FilterSpec | None) -> dict:
        with self.store(store).reading(task_name) as st:
            return statistics(st.index, match(st.index, spec) if spec is not None else None)

    def baselines(self, store: str) -> BaselineRegistry:
        return BaselineRegistry(self.store(store).path, fsync=self.fsync)

    def put_baseline(self, store: str, name: str, values: dict) -> dict:
        s = self.store(store)
        with self._writing(s):
            return self.baselines(store).put(name, values)

    def ingest_request(self, request) -> list:
        """IngestEpisodes batch from the wire: built in the worker pool when there
        is one (the builder is pure Python and CPU-bound), else in-process."""
        t0 = time.perf_counter()
        memo_key = (request.store, "ingest:" + request.writer_id) if request.writer_id else None
        if memo_key is not None:
            seen = self.memo.get(memo_key, request.batch_sequence)
            if seen is not None:
                self.observer.acknowledged("ingest", time.perf_counter() - t0)
                return seen
        s = self.store(request.store)
        try:
            results = self._ingest(s, request)
        except (InvalidArgumentError, AlreadyExistsError):
            # An episode's task is known only once its pack is built.
            self.observer.appended(UNKNOWN_TASK, "rejected", len(request.episodes))
            raise
        if results:
            self._observe_results(results, "ingest", t0)
        if memo_key is not None:
            self.memo.put(memo_key, request.batch_sequence, results)
        return results

    def _ingest(self, s: Store, request) -> list:
        which = request.baseline.WhichOneof("source") if request.HasField("baseline") else None
        named = request.baseline.name if which == "name" else None
        values = (baseline_values_from_proto(request.baseline.values) if which == "values" else None)
        if self.pool is None or len(request.episodes) < POOL_MIN_BATCH:
            episodes = episodes_from_proto(request.episodes)
            with self._writing(s):
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
            lines = [p[2] for p in prepared]
            with self._writing(s, sum(map(len, lines))):
                appended = s.append_lines([(t, pid) for t, pid, _l, _r in prepared], lines,
                                          raws=[p[3] for p in prepared])
            results = [IngestResult(r.index, r.pack_id, r.task_name, r.status, bucket, dj, r.sequence)
                       for r, (bucket, dj) in zip(appended, outcomes)]
        return results

    def analyze(self, store: str, task_name: str, method: str, slice_spec, **args):
        """One adapter analysis (adapter.md) on a consistent read of the task."""
        with self.store(store).reading(task_name) as st:
            return analytics.analyze(st, method, slice_spec, catalogue_for(task_name, self.skill_catalogues), **args)

    def update_training_usage(self, store: str, task_name: str, update) -> list[dict]:
        s = self.store(store)
        with self._writing(s):
            return s.update_training_usage(task_name, update)

    def list_tasks(self, store: str) -> list[str]:
        return self.store(store).list_tasks()
