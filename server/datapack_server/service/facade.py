"""The domain façade: the one set of repository operations that both the
embedded DataPackRepo and the gRPC servicers call.

It takes and returns domain values (records as JSON dicts or DataPackMeta,
FilterSpec / QuerySpec, episode batches, baseline values), never grpc objects.
Where the server sends records on as protobuf payloads it offers an encoded
variant that returns (or takes) serialized DataPackMeta messages: `append`,
`query` / `iter_query`, `get` and `history`, served from the encoded cache so
a hot record is never encoded twice.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from datapack_client.errors import AlreadyExistsError, InvalidArgumentError, UnavailableError
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.records import schema
from datapack_client.records.export import ExportArgs
from datapack_client.records.model import DataPackMeta
from datapack_client.records.query import FilterSpec, QuerySpec
from datapack_client.records.results import AppendResult, IngestResult
from datapack_client.records.skills import catalogue_for
from datapack_client.records.stored import LineBatch, batch_records
from datapack_server.analytics import analyses as analytics
from datapack_server.engine.parsing import WorkerPool
from datapack_server.engine.store import NO_OBSERVER, Store, StoreObserver
from datapack_server.engine.task_state import RecordRef, TaskState
from datapack_server.portable.exporter import export_steps, options_of
from datapack_server.query.filters import match
from datapack_server.query.lookups import history_refs, position_of, query_positions
from datapack_server.query.statistics import statistics
from datapack_server.service.baselines import BaselineRegistry, baseline_values
from datapack_server.service.data_root import DataRootLock, check_root_writable, writable_stores
from datapack_server.service.encoded_cache import EncodedCache, encode_record
from datapack_server.service.ingest import BuiltBatch, EpisodeBatch, build_here, resolve_baseline
from datapack_server.service.line_batches import (
    BATCH_BYTES,
    DEFAULT_BATCH_SIZE,
    batch_bounds,
    fixed_bounds,
    snapshot_rows,
    stripped_line,
    take_batch,
)
from datapack_server.service.memo import WriterMemo
from datapack_server.service.preparation import prepare_ingest, prepare_records
from datapack_server.service.space import WriteWatch
from datapack_server.service.stores import DataRootStores, FolderStores, require_data_dir

POOL_MIN_BATCH = 32  # smaller batches are cheaper to prepare in-process than to ship
QUERY_BLOCK = 256  # records a streamed query encodes per hold of the task lock
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


def revision_entry(ref: RecordRef, meta: dict | None, record: Any) -> dict:
    """One entry of a pack's history (docs/repository.md §3.5): its revision,
    why and when it was made and which fields it changed (None for the first
    revision, or where the revision line does not say), and the record."""
    meta = meta or {}
    reason, revised_at, changed = meta.get("reason"), meta.get("revised_at"), meta.get("changed_fields")
    return {"revision": ref.revision,
            "reason": reason if isinstance(reason, str) else None,
            "revised_at": revised_at if isinstance(revised_at, str) else None,
            "changed_fields": [str(c) for c in changed] if isinstance(changed, list) else None,
            "record": record}


class DataPackService:
    """The server's façade over the stores under data_root (store paths name
    folders under it). `DataPackService.embedded(folder)` is the embedded
    repository's, over one folder."""

    def __init__(self, data_root: str, *, fsync: bool = True, cache_bytes: int = 64 << 20,
                 exclusive: bool = True, workers: int = 0, skill_catalogues: dict | None = None,
                 raw_roots: tuple[str, ...] | None = None, observer: StoreObserver = NO_OBSERVER,
                 create: bool = False):
        root = os.path.abspath(data_root)
        # A missing data root is refused unless create (stores.require_data_dir).
        require_data_dir(root, create=create, field="data_dir", label="the data directory",
                         hint="create it, or pass --create to datapack serve; in-process: ServerConfig.create_data_dir")
        space = WriteWatch(fsync=fsync)
        check_root_writable(root, space, fsync)
        lock = DataRootLock(root) if exclusive else None
        # workers > 0: a process pool for decoding appends and parsing large files
        # (Python runs one thread at a time; this is how the server uses more cores).
        pool = WorkerPool(workers, preload=("datapack_server.service.preparation",)).start() if workers > 0 else None
        self._assemble(DataRootStores(root, fsync=fsync, pool=pool, observer=observer), space=space, lock=lock,
                       memo=WriterMemo(), cache=EncodedCache(cache_bytes), skill_catalogues=skill_catalogues,
                       raw_roots=None if raw_roots is None else tuple(os.path.realpath(r) for r in raw_roots))

    @classmethod
    def embedded(cls, folder: str, *, fsync: bool = True, skill_catalogues: dict | None = None,
                 create: bool = False) -> DataPackService:
        """The façade of an embedded repository on one store folder (store
        path ""; a missing folder is refused unless create): no data-root lock
        (several processes may share a folder; writes serialise on the task
        locks), no write watch (a full disk fails the write that meets it), no
        writer memo, raw export data read from anywhere, and no worker pool: a pool would re-import the caller's main
        module (forkserver), which a library must not impose (the `datapack
        export-portable` command and the server use one)."""
        require_data_dir(folder, create=create, field="base_dir", label="the repository folder",
                         hint="create it, or pass create=True")
        service = cls.__new__(cls)
        service._assemble(FolderStores(folder, fsync=fsync), space=None, lock=None, memo=None, cache=EncodedCache(0),
                          skill_catalogues=skill_catalogues, raw_roots=None)
        return service

    def _assemble(self, stores: DataRootStores, *, space: WriteWatch | None, lock: DataRootLock | None,
                  memo: WriterMemo | None, cache: EncodedCache, skill_catalogues: dict | None,
                  raw_roots: tuple[str, ...] | None) -> None:
        self._stores = stores
        self.root = stores.root
        self.fsync = stores.fsync
        self.pool: WorkerPool | None = stores.pool
        self.observer = stores.observer  # metrics hook (store.StoreObserver); a no-op unless metrics are served
        self.space = space
        self._lock = lock
        self.memo = memo
        self.cache = cache
        self.skill_catalogues = skill_catalogues  # {task: {id: name}} (docs/adapter.md §1.2)
        # Folders ExportPortable may read raw episode data from (None: anywhere).
        self.raw_roots = raw_roots
        self._closed = False

    # -- the stores

    def store(self, path: str) -> Store:
        return self._stores.get(path)

    def task_sizes(self) -> list[tuple[str, str, int]]:
        """(store, task, packs) of every loaded task holding packs (index sizes, no I/O)."""
        return [(path, task, n) for path, s in self._stores.loaded() for task, n in s.task_sizes()]

    def preflight(self) -> list[str]:
        """The stores under the data root, each folder and task file checked
        writable (data_root.writable_stores)."""
        return writable_stores(self.root)

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
        return self.space is None or self.space.writable

    def _writing(self, s: Store, nbytes: int = 0) -> AbstractContextManager[None]:
        """Around a write to store s (WriteWatch.writing; nothing embedded)."""
        return nullcontext() if self.space is None else self.space.writing(s.path, nbytes)

    def close(self) -> None:
        self._closed = True
        if self.space is not None:
            self.space.close()
        self._stores.close()
        if self.pool is not None:
            self.pool.close()
        if self._lock is not None:
            self._lock.release()

    # -- acknowledgements: metrics and the writer memo

    def _observe_results(self, results: list, source: str, t0: float) -> None:
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

    def _memo_key(self, store: str, writer_id: str) -> tuple[str, str] | None:
        return (store, writer_id) if writer_id and self.memo is not None else None

    def _remembered(self, key: tuple[str, str] | None, batch_sequence: int, source: str, t0: float) -> Any:
        """The acknowledgement already given to this batch of this writer, or None."""
        if key is None or self.memo is None:
            return None
        seen = self.memo.get(key, batch_sequence)
        if seen is not None:
            self.observer.acknowledged(source, time.perf_counter() - t0)  # packs counted the first time
        return seen

    def _remember(self, key: tuple[str, str] | None, batch_sequence: int, results: list) -> None:
        if key is not None and self.memo is not None:
            self.memo.put(key, batch_sequence, results)

    # -- append

    def append(self, store: str, raw_records: list[bytes], writer_id: str = "",
               batch_sequence: int = 0) -> list[AppendResult]:
        """Append serialized DataPackMeta messages as one atomic batch (the
        encoded variant of append_records). Decoding, validation and encoding
        run in the worker pool for large batches. A batch a writer re-sends
        (same writer_id and batch_sequence) gets its first acknowledgement."""
        t0 = time.perf_counter()
        memo_key = self._memo_key(store, writer_id)
        seen = self._remembered(memo_key, batch_sequence, "append", t0)
        if seen is not None:
            return seen
        s = self.store(store)  # validates the store path before any work
        if not raw_records:
            return []
        try:
            results = self._append_encoded(s, raw_records)
        except (InvalidArgumentError, AlreadyExistsError):
            if self.observer is not NO_OBSERVER:
                self._observe_rejected(s, [_task_of(raw) for raw in raw_records])
            raise
        self._observe_results(results, "append", t0)
        self._stores.announce_created(store, results)
        self._remember(memo_key, batch_sequence, results)
        return results

    def _append_encoded(self, s: Store, raw_records: list[bytes]) -> list[AppendResult]:
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

    def append_records(self, store: str, records: list[dict]) -> list[AppendResult]:
        """Append records (JSON objects) as one atomic batch."""
        t0 = time.perf_counter()
        s = self.store(store)
        try:
            prepared, lines = s.prepare(records, check_free_finite=True)
            with self._writing(s, sum(map(len, lines))):
                results = s.append_prepared(prepared, lines)
        except (InvalidArgumentError, AlreadyExistsError):
            if self.observer is not NO_OBSERVER:
                self._observe_rejected(s, [r.get("task_name", "") if type(r) is dict else "" for r in records])
            raise
        self._observe_results(results, "append", t0)
        self._stores.announce_created(store, results)
        return results

    # -- reads

    def _encoded(self, st: TaskState, ref: RecordRef, basic: bool = False) -> bytes:
        """A pack as a serialized DataPackMeta, from the encoded cache. basic:
        the view without the heavy artifacts; only asked for packs that store some."""
        key = (st.file.path, ref.file_ident, ref.offset, basic)
        b = self.cache.get(key)
        if b is None:
            b = encode_record(st.load(ref), ref.revision, basic)
            self.cache.put(key, b)
        return b

    def query(self, store: str, task_name: str, q: QuerySpec) -> list[bytes]:
        return list(self.iter_query(store, task_name, q))

    def iter_query(self, store: str, task_name: str, q: QuerySpec) -> Iterator[bytes]:
        """The query's records (serialized), encoded block by block as they are
        consumed (_blocks)."""
        def encode(st: TaskState, where: dict) -> list[bytes]:
            offs, lens, nos, revs = (where[c].tolist() for c in ("line_off", "line_len", "line_no", "revision"))
            basic = where["has_artifacts"].tolist() if not q.include_artifacts else [False] * len(offs)
            return [self._encoded(st, RecordRef(st.task, st.ident, off, ln, no, rev), h)
                    for off, ln, no, rev, h in zip(offs, lens, nos, revs, basic)]

        for block in self._blocks(store, task_name, q, lambda where: fixed_bounds(len(where["line_off"]), QUERY_BLOCK),
                                  encode):
            yield from block

    def encoded_records(self, store: str, task_name: str, packs: list[DataPackMeta]) -> Iterator[bytes]:
        """Records a read of this task returned (an analysis' packs), serialized
        as they are sent: from the encoded cache when the pack's current line
        is the record's revision (a hot pack is encoded once), else encoded
        from the record itself."""
        with self._stores.reading(store, task_name) as st:
            refs = [self._current_ref(st, dp) for dp in packs]
        for dp, ref in zip(packs, refs):
            if ref is None:
                yield encode_record(dp.json_object(), dp.revision, False)
                continue
            with st.lock:
                if st.ident != ref.file_ident or st.rfd is None:
                    raise UnavailableError(f"task {task_name!r} was replaced or closed during the read; retry",
                                           "TASK_FILE_REPLACED")
                yield self._encoded(st, ref)

    @staticmethod
    def _current_ref(st: TaskState, dp: DataPackMeta) -> RecordRef | None:
        """Where the record's own line is, when it is the pack's current revision."""
        pos = st.index.position(dp.pack_id) if type(dp.pack_id) is str and not dp.omitted_fields else None
        ref = st.ref(pos) if pos is not None else None
        return ref if ref is not None and ref.revision == dp.revision else None

    def query_records(self, store: str, task_name: str, q: QuerySpec) -> list[DataPackMeta]:
        """The query's records, each line parsed when the record is first read
        beyond its pack_id."""
        return [dp for batch in self.query_line_batches(store, task_name, q) for dp in batch_records(batch)]

    def query_line_batches(self, store: str, task_name: str, q: QuerySpec, batch_size: int = DEFAULT_BATCH_SIZE,
                           max_bytes: int = BATCH_BYTES) -> Iterator[LineBatch]:
        """The query's packs as their stored lines (service/line_batches.py),
        batch by batch as they are consumed (_blocks), each at most
        `batch_size` packs and `max_bytes` of lines (at least one line)."""
        def take(st: TaskState, where: dict) -> LineBatch:
            return take_batch(st, where, not q.include_artifacts, lambda off, line: self._stripped(st, off, line))

        return self._blocks(store, task_name, q, lambda where: batch_bounds(where["line_len"], batch_size, max_bytes),
                            take)

    def query_arrow(self, store: str, task_name: str, q: QuerySpec, columns: list[str] | None = None,
                    batch_size: int = DEFAULT_BATCH_SIZE,
                    executor: Executor | None = None) -> tuple[Any, Iterator[Any]]:
        """(Arrow schema, record batches) of the query's packs with the export
        columns (service/arrow_batches.py), `batch_size` rows a batch, built as
        they are consumed (_blocks): here, or by `executor` (a process pool,
        a few batches ahead).
        Unknown columns raise before anything is read."""
        from datapack_server.service import arrow_batches  # pyarrow: loaded by the first columnar read

        sch = arrow_batches.schema_for(columns, q.include_artifacts)
        if (executor is None and self.pool is not None and arrow_batches.reads_lines(sch)
                and (q.limit is None or q.limit > batch_size)):
            # Several batches whose columns are parsed from the lines: built in the worker processes.
            executor = self.pool.executor()
        blocks = self._blocks(store, task_name, q, lambda where: fixed_bounds(len(where["line_off"]), batch_size),
                              lambda st, where: arrow_batches.take_block(st, where, sch))
        return sch, arrow_batches.build_batches(blocks, sch, executor)

    def _blocks(self, store: str, task_name: str, q: QuerySpec, cut: Callable[[dict], list[tuple[int, int]]],
                take: Callable[[TaskState, dict], Any]) -> Iterator[Any]:
        """take(st, where) of each block of the query's matches, called with
        the task lock held, one block at a time as the caller consumes them (a
        client that goes away stops the work at the next block). One
        consistent read: `where` (line_batches.WHERE_COLUMNS of each match:
        its position and where its line was) is taken under the lock once;
        lines are immutable, so the blocks read later are those lines, and a
        revision made meanwhile is not seen. cut(where) gives the blocks'
        [start, stop)."""
        with self._stores.reading(store, task_name) as st:
            where = snapshot_rows(st, query_positions(st, q))
            ident = st.ident
        for start, stop in cut(where):
            with st.lock:
                if st.ident != ident or st.rfd is None:
                    raise UnavailableError(f"task {task_name!r} was replaced or closed during the query; retry",
                                           "TASK_FILE_REPLACED")
                block = take(st, {c: a[start:stop] for c, a in where.items()})
            yield block

    def _stripped(self, st: TaskState, off: int, line: bytes) -> tuple[bytes, int]:
        """A line without its heavy artifacts and their omitted bits, from the encoded cache."""
        key = (st.file.path, st.ident, off, "basic-line")
        cached = self.cache.get(key)
        if cached is None:
            line, mask = stripped_line(line)
            self.cache.put(key, bytes([mask]) + line)
            return line, mask
        return cached[1:], cached[0]

    def get(self, store: str, task_name: str, pack_id: str) -> bytes:
        with self._stores.reading(store, task_name) as st:
            return self._encoded(st, st.ref(position_of(st, pack_id)))

    def get_record(self, store: str, task_name: str, pack_id: str) -> DataPackMeta:
        with self._stores.reading(store, task_name) as st:
            ref = st.ref(position_of(st, pack_id))
            return DataPackMeta.wrap(st.load(ref), ref.revision)

    def history(self, store: str, task_name: str, pack_id: str) -> list[dict]:
        """Every revision of a pack, oldest first (revision_entry), each record serialized."""
        with self._stores.reading(store, task_name) as st:
            return [revision_entry(ref, meta, self._encoded(st, ref)) for ref, meta in history_refs(st, pack_id)]

    def history_records(self, store: str, task_name: str, pack_id: str) -> list[dict]:
        """Every revision of a pack, oldest first (revision_entry), each record a DataPackMeta."""
        with self._stores.reading(store, task_name) as st:
            return [revision_entry(ref, meta, DataPackMeta.wrap(st.load(ref), ref.revision))
                    for ref, meta in history_refs(st, pack_id)]

    def statistics(self, store: str, task_name: str, spec: FilterSpec | None) -> dict:
        """docs/repository.md §9, over every pack or over the slice spec selects."""
        with self._stores.reading(store, task_name) as st:
            return statistics(st.index, match(st.index, spec) if spec is not None else None)

    def analyze(self, store: str, task_name: str, method: str, slice_spec: FilterSpec | None, **args: Any) -> Any:
        """One adapter analysis (docs/adapter.md §3), arguments already
        validated, on a consistent read of the task."""
        with self._stores.reading(store, task_name) as st:
            return analytics.analyze(st, method, slice_spec, catalogue_for(task_name, self.skill_catalogues), **args)

    def list_tasks(self, store: str) -> list[str]:
        """The store's tasks (STORE_NOT_FOUND when it does not exist)."""
        return self._stores.existing(store).list_tasks()

    # -- ingest

    def ingest(self, store: str, batch: EpisodeBatch, baseline: Any, *, writer_id: str = "",
               batch_sequence: int = 0) -> list[IngestResult]:
        """Build datapacks from a batch of episodes and append them as one
        atomic batch. baseline: a builder Baseline, {mpl, error, ep[,
        wage_parity]} or the name of a baseline the store keeps. Large batches
        that can be shipped are built in the worker pool, others in-process.
        A batch a writer re-sends gets its first acknowledgement."""
        t0 = time.perf_counter()
        memo_key = self._memo_key(store, "ingest:" + writer_id if writer_id else "")
        seen = self._remembered(memo_key, batch_sequence, "ingest", t0)
        if seen is not None:
            return seen
        s = self.store(store)
        try:
            built = self._build(s, batch, baseline)
            with self._writing(s, sum(map(len, built.lines))):
                appended = s.append_lines(built.keys, built.lines, built.records, built.raws)
        except (InvalidArgumentError, AlreadyExistsError):
            # An episode's task is known only once its pack is built.
            self.observer.appended(UNKNOWN_TASK, "rejected", len(batch))
            raise
        results = [IngestResult(r.index, r.pack_id, r.task_name, r.status, bucket, dj, r.sequence)
                   for r, (bucket, dj) in zip(appended, built.outcomes)]
        if results:
            self._observe_results(results, "ingest", t0)
            self._stores.announce_created(store, results)
        self._remember(memo_key, batch_sequence, results)
        return results

    def _build(self, s: Store, batch: EpisodeBatch, baseline: Any) -> BuiltBatch:
        registry = self._registry(s)
        request = (batch.serialized_request() if self.pool is not None and len(batch) >= POOL_MIN_BATCH
                   else None)
        if self.pool is None or request is None:
            return build_here(s, registry, batch, baseline)
        # The builder is pure Python and CPU-bound: a worker decodes and builds.
        b = resolve_baseline(registry, baseline)
        values = {"mpl": b.mpl, "error": b.error, "ep": b.ep, "wage_parity": b.wage_parity, "name": b.name}
        prepared, violations, outcomes = self.pool.executor().submit(
            prepare_ingest, request, schema.utc_now(), values).result()
        if violations:
            raise InvalidArgumentError(f"{len(violations)} episode(s) could not be built; first: "
                                       f"{violations[0].message}", violations[0].reason, violations)
        return BuiltBatch([(task, pid) for task, pid, _line, _raw in prepared], [p[2] for p in prepared], None,
                          [p[3] for p in prepared], outcomes)

    # -- revisions, exports, baselines

    def update_training_usage(self, store: str, task_name: str, update: Any) -> list[dict]:
        """docs/repository.md §3.4: a revision per pack whose wm_role or
        training runs change (update: records.query.make_usage_update)."""
        s = self._stores.holding(store, task_name)  # a revision of a missing task creates nothing
        with self._writing(s):
            return s.update_training_usage(task_name, update)

    def export_portable(self, store: str, task_name: str, args: ExportArgs) -> Iterator[dict]:
        """The running summaries of a portable export (portable/exporter.py),
        raw data read relative to the working directory, and only under
        raw_roots when they are set (records name the paths)."""
        if args.output_store is not None:
            self._stores.check_output_name(args.output_store)
        source = self._stores.holding(store, task_name)
        with self._export_output(args.output_store, source) as output:
            with self._writing(output if output is not None else source):
                options = dataclasses.replace(options_of(args), raw_roots=self.raw_roots)
                for summary in export_steps(source, task_name, options, output=output,
                                            max_episodes=args.max_episodes, pool=self.pool,
                                            source_name=self._stores.name_of(store), output_name=args.output_store):
                    yield summary.as_dict()

    @contextmanager
    def _export_output(self, name: str | None, source: Store) -> Iterator[Store | None]:
        if name is None:
            yield None
        else:
            with self._stores.export_output(name, source) as output:
                yield output

    def _registry(self, s: Store) -> BaselineRegistry:
        return BaselineRegistry(s.path, fsync=self.fsync)

    def list_baselines(self, store: str) -> list[tuple[str, dict]]:
        """(name, values) of every baseline the store knows, built-in ones
        included, by name (STORE_NOT_FOUND when it does not exist)."""
        return self._registry(self._stores.existing(store)).list()

    def put_baseline(self, store: str, name: str, values: Any = None, *, episodes: Any = None) -> dict:
        """Register a named baseline: explicit values ({mpl, error, ep[,
        wage_parity]} or a Baseline) or the means of baseline episodes
        (baselines.baseline_values). Returns what is stored."""
        values = baseline_values(values, episodes)
        s = self.store(store)
        with self._writing(s):
            return self._registry(s).put(name, values)
