"""DataPackClient: the remote repository, with the embedded repository's API.

    from datapack_client import connect
    repo = connect("localhost:50051", store="phase_c")
    repo.append(dp)
    best = repo.query("drawer_vase", bucket="positive", sort_by="delta_j", limit=10)

Needs only grpcio and protobuf. Every call has a deadline (`timeout`, default
30 s; queries and appends scale it with their size) except two long-lived
streams: `stream_appender` (open as long as the simulator appends; keepalive
detects a dead server) and `export_portable` (minutes of streamed progress).
Errors are the same DataPackError subclasses the embedded repository raises.
The channel's options are in channel.py, the message conversions in wire/.
"""
from __future__ import annotations

import itertools
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import grpc  # type: ignore[import-untyped]

from datapack_client.api import RepositoryAPI
from datapack_client.channel import channel_options, open_channel
from datapack_client.errors import DataPackError, UnavailableError, invalid
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_client.records.model import DataPackMeta
from datapack_client.records.query import check_task_name, make_filter
from datapack_client.records.results import AppendResult
from datapack_client.records.validation_rules import store_ok
from datapack_client.wire.episodes import baseline_to_proto, econ_to_proto, episode_to_proto, summary_to_proto
from datapack_client.wire.export import export_to_proto, summary_from_proto
from datapack_client.wire.query import filter_to_proto, query_to_proto
from datapack_client.wire.results import (
    append_result_from_proto,
    ingest_result_from_proto,
    message_to_record,
    record_to_message,
)
from datapack_client.wire.status import detail_to_error, from_rpc_error

_REVISION_STATUS = {spb.REVISION_STATUS_REVISED: "revised", spb.REVISION_STATUS_UNCHANGED: "unchanged"}


class DataPackClient(RepositoryAPI):
    """A remote repository on one store of a DataPack server."""

    def __init__(self, target: str, store: str = "", *, timeout: float = 30.0,
                 channel: grpc.Channel | None = None, credentials: grpc.ChannelCredentials | None = None):
        if not store_ok(store):
            raise invalid("store", "STORE_INVALID", f"store {store!r} is not a valid store path")
        self.target = target
        self.store = store
        self.timeout = timeout
        if channel is None:
            channel = (grpc.secure_channel(target, credentials, options=channel_options()) if credentials
                       else grpc.insecure_channel(target, options=channel_options()))
        self._channel = channel
        self._stub = spb_grpc.DataPackServiceStub(channel)
        self._adapter_stub: Any = None  # created on the first adapter call

    # -- plumbing

    def _call(self, method, request, timeout: float | None = None):
        try:
            return method(request, timeout=timeout or self.timeout)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def wait_ready(self, timeout: float = 10.0) -> DataPackClient:
        """Block until the channel is connected (or raise UnavailableError)."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise UnavailableError(f"no DataPack server at {self.target} within {timeout}s", "UNAVAILABLE") from None
        return self

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> DataPackClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing

    def append_batch(self, packs: Iterable[DataPackMeta | dict]) -> list[AppendResult]:
        """One atomic batch (all or nothing); returns when it is durable."""
        msgs = [record_to_message(p) for p in packs]
        if not msgs:
            return []
        resp = self._call(self._stub.AppendDataPacksBatch,
                          spb.AppendDataPacksBatchRequest(store=self.store, data_packs=msgs),
                          self.timeout + len(msgs) * 0.001)
        return [append_result_from_proto(r) for r in resp.results]

    def stream_appender(self, batch_size: int = 256, max_in_flight: int = 8, linger: float = 0.05,
                        reconnect_timeout: float = 30.0) -> StreamAppender:
        """A pipelined appender for simulators: `with repo.stream_appender() as s: s.append(dp)`."""
        return StreamAppender(self, batch_size=batch_size, max_in_flight=max_in_flight, linger=linger,
                              reconnect_timeout=reconnect_timeout)

    # -- reading

    def _query(self, task_name: str, q) -> list[DataPackMeta]:
        check_task_name(task_name)
        req = query_to_proto(self.store, task_name, q)
        timeout = self.timeout if q.limit is not None else max(self.timeout, 300.0)
        try:
            out: list[DataPackMeta] = []
            for resp in self._stub.QueryDataPacks(req, timeout=timeout):
                out.extend(message_to_record(m) for m in resp.data_packs)
            return out
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def get(self, task_name: str, pack_id: str) -> DataPackMeta:
        check_task_name(task_name)
        resp = self._call(self._stub.GetDataPack,
                          spb.GetDataPackRequest(store=self.store, task_name=task_name, pack_id=pack_id))
        return message_to_record(resp.data_pack)

    def get_history(self, task_name: str, pack_id: str) -> list[dict]:
        check_task_name(task_name)
        resp = self._call(self._stub.GetDataPackHistory,
                          spb.GetDataPackHistoryRequest(store=self.store, task_name=task_name, pack_id=pack_id))
        return [{"revision": r.revision,
                 "reason": r.reason if r.HasField("reason") else None,
                 "revised_at": r.revised_at if r.HasField("revised_at") else None,
                 "changed_fields": list(r.changed_fields.values) if r.HasField("changed_fields") else None,
                 "record": message_to_record(r.record)} for r in resp.revisions]

    def get_statistics(self, task_name: str, **filters) -> dict:
        check_task_name(task_name)
        req = spb.GetStatisticsRequest(store=self.store, task_name=task_name)
        if filters:
            req.filter.CopyFrom(filter_to_proto(make_filter(**filters)))
        s = self._call(self._stub.GetStatistics, req)
        out: dict = {"total": s.total, "positive": s.positive, "negative": s.negative}
        if s.HasField("positive_ratio"):
            for k in ("positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max",
                      "trust_mean", "trust_std"):
                out[k] = getattr(s, k)
            out["unique_skills"] = list(s.unique_skills)
            out["engine_types"] = {c.name: c.count for c in s.engine_types}
            out["source_types"] = {c.name: c.count for c in s.source_types}
            out["with_sima"] = s.with_sima
            out["with_counterfactual"] = s.with_counterfactual
        return out

    def _export_portable(self, task_name: str, args, progress) -> dict:
        req = export_to_proto(self.store, task_name, args)
        summary: Any = None  # the last response's summary (a server always sends at least one)
        try:
            # No overall deadline: a large export runs for minutes while progress streams in.
            for resp in self._stub.ExportPortable(req):
                summary = summary_from_proto(resp, task_name, self.store, args.output_store, args.repr_names)
                if progress is not None:
                    progress(summary)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return summary

    def _ingest(self, episodes: list, econ_params, baseline, offset: int) -> list:
        req = spb.IngestEpisodesRequest(store=self.store, econ_params=econ_to_proto(econ_params),
                                        baseline=baseline_to_proto(baseline),
                                        episodes=[episode_to_proto(e) for e in episodes])
        try:
            (resp,) = list(self._stub.IngestEpisodes(iter([req]), timeout=self.timeout + len(episodes) * 0.005))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        if resp.HasField("rejection"):
            raise detail_to_error(resp.rejection)
        return [ingest_result_from_proto(r, offset) for r in resp.results]

    def put_baseline(self, name: str, values=None, *, episodes=None) -> dict:
        """Register a named baseline in the store (values or the means of episodes)."""
        req = spb.PutBaselineRequest(store=self.store, name=name)
        if (values is None) == (episodes is None):
            raise invalid("values", "ARGUMENT_INVALID", "give either the baseline's values or its episodes")
        if episodes is not None:
            req.episodes.episodes.extend(summary_to_proto(e) for e in episodes)
        else:
            req.values.CopyFrom(baseline_to_proto(values).values)
        return _baseline_dict(self._call(self._stub.PutBaseline, req).baseline)[1]

    def list_baselines(self) -> dict:
        resp = self._call(self._stub.ListBaselines, spb.ListBaselinesRequest(store=self.store))
        return dict(_baseline_dict(b) for b in resp.baselines)

    def _update_training_usage(self, task_name: str, update) -> list[dict]:
        check_task_name(task_name)
        req = spb.UpdateTrainingUsageRequest(store=self.store, task_name=task_name, pack_ids=update.pack_ids,
                                             add_training_runs=update.add_training_runs)
        if update.set_role:
            if update.wm_role is None:
                req.clear_wm_role = True
            else:
                req.wm_role = update.wm_role
        resp = self._call(self._stub.UpdateTrainingUsage, req)
        return [{"pack_id": r.pack_id, "status": _REVISION_STATUS[r.status], "revision": r.revision}
                for r in resp.results]

    def _analyze(self, method: str, task_name: str, slice_spec, **args):
        """One SkillAdapterService call (the remote half of SkillDataPackAdapter)."""
        from datapack_client.proto.datapack.v1 import skill_adapter_service_pb2_grpc as apb_grpc
        from datapack_client.wire import adapter as adapter_wire
        check_task_name(task_name)
        if self._adapter_stub is None:
            self._adapter_stub = apb_grpc.SkillAdapterServiceStub(self._channel)
        rpc, streaming, _spec = adapter_wire.METHODS[method]
        req = adapter_wire.request_of(method, self.store, task_name,
                                      filter_to_proto(slice_spec) if slice_spec is not None else None, args)
        call = getattr(self._adapter_stub, rpc)
        if streaming:
            try:
                responses = call(req, timeout=max(self.timeout, 300.0))
                if method == "generate_skill_curriculum":
                    return adapter_wire.curriculum_from_messages(responses)
                return [adapter_wire.pack_from_proto(m) for resp in responses for m in resp.data_packs]
            except grpc.RpcError as exc:
                raise from_rpc_error(exc) from None
        return adapter_wire.decode(method, self._call(call, req, max(self.timeout, 120.0)))

    def list_tasks(self) -> list[str]:
        return list(self._call(self._stub.ListTasks, spb.ListTasksRequest(store=self.store)).task_names)


def _baseline_dict(b: spb.NamedBaseline) -> tuple[str, dict]:
    v = b.values
    return b.name, {"mpl": v.mpl, "error": v.error, "ep": v.ep,
                    "wage_parity": v.wage_parity if v.HasField("wage_parity") else None,
                    "episode_count": b.episode_count, "builtin": b.builtin}


def connect(target: str = "localhost:50051", store: str = "", *, timeout: float = 30.0,
            credentials: grpc.ChannelCredentials | None = None, token: str | None = None,
            token_file: str | os.PathLike | None = None, tls: bool = False,
            root_certificates: bytes | str | os.PathLike | None = None,
            client_cert: bytes | str | os.PathLike | None = None,
            client_key: bytes | str | os.PathLike | None = None) -> DataPackClient:
    """A remote repository on `store` of the server at `target`.

    Security (README "Secure deployment"):
    * token / token_file: sent as `authorization: Bearer <token>` with every
      call; token_file holds the token alone (its first line that is neither
      blank nor a `#` comment), so it can be kept out of code and shell history.
    * tls=True: TLS, the server checked against the system's root certificates;
      root_certificates: the CA that signed the server's certificate instead;
      client_cert + client_key: present a client certificate (mutual TLS).
      Each is PEM bytes or a file path; any of them implies TLS.
    * credentials: ready grpc.ChannelCredentials, instead of the TLS options.
    """
    channel = open_channel(target, credentials=credentials, token=token, token_file=token_file, tls=tls,
                           root_certificates=root_certificates, client_cert=client_cert, client_key=client_key)
    try:
        return DataPackClient(target, store, timeout=timeout, channel=channel)
    except BaseException:
        channel.close()
        raise


class StreamAppender:
    """Pipelined, acknowledged appends over one bidirectional stream.

    `append()` buffers records into batches of `batch_size` (a partial batch is
    sent after `linger` seconds), keeps at most `max_in_flight` batches
    unacknowledged (append blocks beyond that: backpressure), and tracks every
    acknowledgement. If the connection drops, it reconnects and re-sends only
    the unacknowledged batches, under the same writer id and batch sequence
    numbers, so the server answers a batch it already stored with its original
    acknowledgement. `flush()` waits for every acknowledgement; leaving the
    `with` block flushes and raises the first rejection, if any.
    """

    def __init__(self, client: DataPackClient, batch_size: int = 256, max_in_flight: int = 8,
                 linger: float = 0.05, reconnect_timeout: float = 30.0):
        if batch_size <= 0 or max_in_flight <= 0:
            raise ValueError("batch_size and max_in_flight must be positive")
        self._client = client
        self.batch_size = batch_size
        self.linger = linger
        self.reconnect_timeout = reconnect_timeout
        self.writer_id = uuid.uuid4().hex
        self.results: list[AppendResult] = []
        self.errors: list[DataPackError] = []
        self.reconnects = 0
        self._seq = itertools.count(1)
        self._buf: list[pb.DataPackMeta] = []
        self._buf_since = 0.0
        self._slots = threading.Semaphore(max_in_flight)
        self._lock = threading.Condition()
        self._unacked: dict[int, spb.AppendDataPacksRequest] = {}
        self._fatal: DataPackError | None = None
        self._closed = False
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._run, name="datapack-appender", daemon=True)
        self._reader.start()
        self._lingerer = threading.Thread(target=self._linger_loop, name="datapack-linger", daemon=True)
        self._lingerer.start()

    # -- public

    def append(self, pack: DataPackMeta | dict) -> None:
        msg = record_to_message(pack)
        with self._lock:
            self._raise_fatal()
            if not self._buf:
                self._buf_since = time.monotonic()
            self._buf.append(msg)
            full = len(self._buf) >= self.batch_size
        if full:
            self._send_buffer()

    def flush(self, timeout: float | None = None) -> list[AppendResult]:
        """Send what is buffered and wait until every batch is acknowledged."""
        self._send_buffer()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._unacked and self._fatal is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise UnavailableError(f"{len(self._unacked)} batch(es) not acknowledged in time", "DEADLINE")
                self._lock.wait(left if left is not None else 1.0)
            self._raise_fatal()
            return list(self.results)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
                self._lock.notify_all()
            self._queue.put(None)
            self._reader.join(timeout=5)

    def __enter__(self) -> StreamAppender:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            if self.errors:
                raise self.errors[0]
        else:
            with self._lock:
                self._closed = True
            self._queue.put(None)

    # -- internals

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def _linger_loop(self) -> None:
        while True:
            time.sleep(self.linger)
            with self._lock:
                if self._closed:
                    return
                due = self._buf and time.monotonic() - self._buf_since >= self.linger
            if due:
                self._send_buffer()

    def _send_buffer(self) -> None:
        with self._lock:
            if not self._buf:
                return
            batch, self._buf = self._buf, []
        # Backpressure: wait for an in-flight slot, but never past a stream failure
        # (its unacknowledged batches will not free their slots).
        while not self._slots.acquire(timeout=0.2):
            with self._lock:
                self._raise_fatal()
        req = spb.AppendDataPacksRequest(store=self._client.store, data_packs=batch, writer_id=self.writer_id,
                                         batch_sequence=next(self._seq))
        with self._lock:
            self._unacked[req.batch_sequence] = req
        self._queue.put(req)

    def _requests(self, q: queue.Queue) -> Iterator[spb.AppendDataPacksRequest]:
        while True:
            req = q.get()
            if req is None:
                return
            yield req

    def _run(self) -> None:
        q = self._queue
        down_since = None
        while True:
            call = self._client._stub.AppendDataPacks(self._requests(q))
            try:
                for resp in call:
                    down_since = None
                    self._on_response(resp)
                return  # the request iterator ended: closed
            except grpc.RpcError as exc:
                err = from_rpc_error(exc)
                with self._lock:
                    if self._closed and not self._unacked:
                        return
                if err.code not in ("UNAVAILABLE", "CANCELLED", "UNKNOWN", "DEADLINE_EXCEEDED"):
                    self._fail(err)
                    return
                now = time.monotonic()
                down_since = down_since or now
                if now - down_since > self.reconnect_timeout:
                    self._fail(UnavailableError(
                        f"server unreachable for {self.reconnect_timeout}s: {err.message}", "UNAVAILABLE"))
                    return
                time.sleep(min(1.0, 0.05 * (2 ** min(self.reconnects, 5))))
                self.reconnects += 1
                # New stream: re-send every unacknowledged batch, in order.
                q = self._queue = queue.Queue()
                with self._lock:
                    pending = [self._unacked[s] for s in sorted(self._unacked)]
                for req in pending:
                    q.put(req)

    def _on_response(self, resp: spb.AppendDataPacksResponse) -> None:
        with self._lock:
            if self._unacked.pop(resp.batch_sequence, None) is None:
                return  # an answer to a batch already acknowledged on an earlier stream
            if resp.HasField("rejection"):
                self.errors.append(detail_to_error(resp.rejection))
            else:
                self.results.extend(append_result_from_proto(r) for r in resp.results)
            self._lock.notify_all()
        self._slots.release()

    def _fail(self, err: DataPackError) -> None:
        with self._lock:
            self._fatal = err
            self._lock.notify_all()
