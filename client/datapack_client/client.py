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

import os
from collections.abc import Iterable, Iterator
from typing import Any

import grpc  # type: ignore[import-untyped]

from datapack_client.api import RepositoryAPI
from datapack_client.appender import StreamAppender
from datapack_client.channel import (
    DEFAULT_RECONNECT_BACKOFF,
    MAX_MESSAGE_BYTES,
    channel_options,
    dial_target,
    open_channel,
)
from datapack_client.errors import DataPackError, UnavailableError, invalid
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_client.records.model import DataPackMeta
from datapack_client.records.query import check_task_name, make_filter
from datapack_client.records.results import AppendResult
from datapack_client.records.stored import batch_records
from datapack_client.records.validation_rules import store_ok
from datapack_client.wire.append_parts import append_deadline, ingest_deadline, part_error, part_results, split_batch
from datapack_client.wire.arrow import table_from_pieces
from datapack_client.wire.episodes import ingest_request, named_baseline_from_proto, put_baseline_request
from datapack_client.wire.export import export_to_proto, summary_from_proto
from datapack_client.wire.query import (
    BULK_READ_MIN,
    line_batch_from_proto,
    query_to_proto,
    statistics_from_proto,
    statistics_request,
)
from datapack_client.wire.results import (
    append_result_from_proto,
    history_from_proto,
    ingest_result_from_proto,
    message_to_record,
    record_to_message,
    usage_results_from_proto,
    usage_update_to_proto,
)
from datapack_client.wire.status import detail_to_error, from_rpc_error


class DataPackClient(RepositoryAPI):
    """A remote repository on one store of a DataPack server."""

    def __init__(self, target: str, store: str = "", *, timeout: float = 30.0,
                 channel: grpc.Channel | None = None, credentials: grpc.ChannelCredentials | None = None):
        if not store_ok(store):
            raise invalid("store", "STORE_INVALID", f"store {store!r} is not a valid store path")
        self.target = target = dial_target(target)
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

    # The largest request append_batch sends: the server's limit (ServerConfig.max_message_bytes,
    # `datapack serve` uses 64 MiB), which is also this client's channel limit. Lower it on a client
    # of a server configured with less; a larger value is capped at the channel's limit.
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def append_batch(self, packs: Iterable[DataPackMeta | dict]) -> list[AppendResult]:
        """Append records of any tasks, any number of them; returns when all are durable.

        Over gRPC a batch is sent as consecutive requests under the message limit
        (`max_message_bytes`), in input order, each stored atomically (docs/repository.md §4.2):
        * a batch that fits in one message (up to 64 MiB, about 16,000 synthetic packs) is one
          request: all or nothing, as in the embedded repository;
        * a larger one is split into parts; the parts are stored one after the other, so records
          keep their input order in the task files, and the results are one per record, in input
          order, as for one batch;
        * a part that fails stops the call: the parts before it are stored, the rest are not
          acknowledged (a part refused for an invalid record, a PACK_ID_CONFLICT or a full disk is
          not stored; one whose answer was lost to a dropped connection or a deadline may be), and
          the error, its violations indexed in the whole batch, says which records are stored.
          Retrying the whole call is safe: records already stored answer `already_present` with
          their original sequence, so nothing is stored twice;
        * a record that alone exceeds the limit is refused before anything is sent
          (RESOURCE_EXHAUSTED, MESSAGE_TOO_LARGE).
        """
        msgs = [record_to_message(p) for p in packs]
        limit = min(self.max_message_bytes, MAX_MESSAGE_BYTES)
        results: list[AppendResult] = []
        for part in split_batch(self.store, msgs, limit):
            try:
                resp = self._call(self._stub.AppendDataPacksBatch, part.request,
                                  append_deadline(self.timeout, part.count))
            except DataPackError as err:
                raise part_error(err, part, len(msgs)) from None
            results.extend(part_results(part, [append_result_from_proto(r) for r in resp.results]))
        return results

    def stream_appender(self, batch_size: int = 256, max_in_flight: int = 8, linger: float = 0.05,
                        reconnect_timeout: float = 30.0, *, connect_timeout: float = 5.0,
                        keep_results: int | None = 10_000, on_ack=None, on_reject=None) -> StreamAppender:
        """A pipelined appender for simulators: `with repo.stream_appender() as s: future = s.append(dp)`.

        batch_size records per batch (a partial one leaves after `linger` s);
        max_in_flight unacknowledged batches before append() blocks;
        reconnect_timeout / connect_timeout: seconds the channel may fail to
        connect (after / before its first connection) before the appender gives
        up with UnavailableError (SERVER_UNREACHABLE); keep_results: how many of
        the last acknowledgements `results` keeps (None: all); on_ack(result),
        on_reject(pack, error): called for each pack (appender.py has the rest).
        """
        return StreamAppender(self._channel, self.store, target=self.target, batch_size=batch_size,
                              max_in_flight=max_in_flight, linger=linger, reconnect_timeout=reconnect_timeout,
                              connect_timeout=connect_timeout, keep_results=keep_results, on_ack=on_ack,
                              on_reject=on_reject)

    # -- reading

    def _query(self, task_name: str, q) -> list[DataPackMeta]:
        check_task_name(task_name)
        if q.limit is None or q.limit > BULK_READ_MIN:
            # A bulk read: stored lines, parsed when a pack is read (cheaper than decoding messages).
            req = query_to_proto(self.store, task_name, q, json_lines=True)
            return list(self._stream(req, task_name, max(self.timeout, 300.0)))
        req = query_to_proto(self.store, task_name, q)
        try:
            if not q.include_artifacts:  # one message, unless the answer is too large for one
                try:
                    page = self._stub.QueryDataPacksPage(spb.QueryDataPacksPageRequest(query=req), timeout=self.timeout)
                    return [message_to_record(m) for m in page.data_packs]
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
            out: list[DataPackMeta] = []
            for resp in self._stub.QueryDataPacks(req, timeout=self.timeout):
                out.extend(message_to_record(m) for m in resp.data_packs)
            return out
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def _query_arrow(self, task_name: str, q, columns: list[str] | None, batch_size: int) -> Any:
        req = spb.QueryArrowRequest(query=query_to_proto(self.store, task_name, q, batch_size=batch_size),
                                    columns=columns or ())
        try:
            return table_from_pieces(resp.arrow_ipc for resp in
                                     self._stub.QueryArrow(req, timeout=max(self.timeout, 300.0)))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def _iter_query(self, task_name: str, q, batch_size: int) -> Iterator[DataPackMeta]:
        # No deadline: the stream lasts as long as the caller iterates (keepalive watches the server).
        return self._stream(query_to_proto(self.store, task_name, q, json_lines=True, batch_size=batch_size),
                            task_name, None)

    def _stream(self, req, task_name: str, timeout: float | None) -> Iterator[DataPackMeta]:
        call = self._stub.QueryDataPacks(req, timeout=timeout)
        try:
            for resp in call:
                yield from batch_records(line_batch_from_proto(resp.json_lines, task_name))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()  # a no-op once the call has ended; stops the server when the caller left early

    def get(self, task_name: str, pack_id: str) -> DataPackMeta:
        check_task_name(task_name)
        resp = self._call(self._stub.GetDataPack,
                          spb.GetDataPackRequest(store=self.store, task_name=task_name, pack_id=pack_id))
        return message_to_record(resp.data_pack)

    def get_history(self, task_name: str, pack_id: str) -> list[dict]:
        check_task_name(task_name)
        resp = self._call(self._stub.GetDataPackHistory,
                          spb.GetDataPackHistoryRequest(store=self.store, task_name=task_name, pack_id=pack_id))
        return history_from_proto(resp)

    def get_statistics(self, task_name: str, **filters) -> dict:
        check_task_name(task_name)
        req = statistics_request(self.store, task_name, make_filter(**filters) if filters else None)
        return statistics_from_proto(self._call(self._stub.GetStatistics, req))

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
        req = ingest_request(self.store, episodes, econ_params, baseline)
        try:
            (resp,) = list(self._stub.IngestEpisodes(iter([req]), timeout=ingest_deadline(self.timeout, len(episodes))))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        if resp.HasField("rejection"):
            raise detail_to_error(resp.rejection)
        return [ingest_result_from_proto(r, offset) for r in resp.results]

    def put_baseline(self, name: str, values=None, *, episodes=None) -> dict:
        """Register a named baseline in the store (values or the means of episodes)."""
        req = put_baseline_request(self.store, name, values, episodes)
        return named_baseline_from_proto(self._call(self._stub.PutBaseline, req).baseline)[1]

    def list_baselines(self) -> dict:
        resp = self._call(self._stub.ListBaselines, spb.ListBaselinesRequest(store=self.store))
        return dict(named_baseline_from_proto(b) for b in resp.baselines)

    def _update_training_usage(self, task_name: str, update) -> list[dict]:
        check_task_name(task_name)
        req = usage_update_to_proto(self.store, task_name, update)
        return usage_results_from_proto(self._call(self._stub.UpdateTrainingUsage, req))

    def _analyze(self, method: str, task_name: str, slice_spec, **args):
        """One SkillAdapterService call (the remote half of SkillDataPackAdapter)."""
        from datapack_client.proto.datapack.v1 import skill_adapter_service_pb2_grpc as apb_grpc
        from datapack_client.wire import adapter as adapter_wire
        check_task_name(task_name)
        if self._adapter_stub is None:
            self._adapter_stub = apb_grpc.SkillAdapterServiceStub(self._channel)
        req = adapter_wire.analysis_request(method, self.store, task_name, slice_spec, args)
        call = getattr(self._adapter_stub, adapter_wire.METHODS[method][0])
        if adapter_wire.is_streamed(method):
            try:
                return adapter_wire.decode_stream(method, call(req, timeout=max(self.timeout, 300.0)))
            except grpc.RpcError as exc:
                raise from_rpc_error(exc) from None
        return adapter_wire.decode(method, self._call(call, req, max(self.timeout, 120.0)))

    def list_tasks(self) -> list[str]:
        return list(self._call(self._stub.ListTasks, spb.ListTasksRequest(store=self.store)).task_names)


def connect(target: str = "localhost:50051", store: str = "", *, timeout: float = 30.0,
            credentials: grpc.ChannelCredentials | None = None, token: str | None = None,
            token_file: str | os.PathLike | None = None, tls: bool = False,
            root_certificates: bytes | str | os.PathLike | None = None,
            client_cert: bytes | str | os.PathLike | None = None,
            client_key: bytes | str | os.PathLike | None = None,
            reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF) -> DataPackClient:
    """A remote repository on `store` of the server at `target`: `host:port`,
    `[v6]:port`, a host alone (port 50051, channel.dial_target) or a gRPC
    target (`dns:///host:port`, `unix:/path`, ...).

    Security (README "Secure deployment"):
    * token / token_file: sent as `authorization: Bearer <token>` with every
      call; token_file holds the token alone (its first line that is neither
      blank nor a `#` comment), so it can be kept out of code and shell history.
    * tls=True: TLS, the server checked against the system's root certificates;
      root_certificates: the CA that signed the server's certificate instead;
      client_cert + client_key: present a client certificate (mutual TLS).
      Each is PEM bytes or a file path; any of them implies TLS.
    * credentials: ready grpc.ChannelCredentials, instead of the TLS options.

    Connection:
    * timeout: the deadline of each call, in seconds (queries and appends
      scale it with their size; stream_appender has none, see its docstring).
    * reconnect_backoff: the longest wait, in seconds, between two attempts to
      connect to a server that cannot be reached (default 1.0; gRPC's own would
      grow to 120 s), so a restarted server is found within about that time.
      A stream_appender's calls wait for the connection (wait-for-ready) and
      give up only after its reconnect_timeout of failed attempts.
    """
    channel = open_channel(target, credentials=credentials, token=token, token_file=token_file, tls=tls,
                           root_certificates=root_certificates, client_cert=client_cert, client_key=client_key,
                           reconnect_backoff=reconnect_backoff)
    try:
        return DataPackClient(target, store, timeout=timeout, channel=channel)
    except BaseException:
        channel.close()
        raise
