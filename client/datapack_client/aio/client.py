"""AsyncDataPackClient: the remote repository on grpc.aio.

The methods, arguments, results and errors of DataPackClient, as coroutines:
the argument checks are RepositoryArguments' (api.py), shared with the
synchronous repositories, and run when a method is called, before anything is
sent; the messages are converted by the same wire/ functions. A query answers
with a QueryStream: `await` it for the list, or `async for` over it to get the
packs as they arrive. Deadlines are DataPackClient's (`timeout`, scaled by
size for appends and ingests, at least 300 s for unlimited queries and streamed
analyses, none on the appender's stream and on export_portable's progress).
"""
from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, cast

import grpc  # type: ignore[import-untyped]

from datapack_client.aio.appender import AsyncStreamAppender
from datapack_client.api import RepositoryArguments, episode_batches
from datapack_client.channel import (
    DEFAULT_RECONNECT_BACKOFF,
    MAX_MESSAGE_BYTES,
    channel_options,
    channel_security,
    dial_target,
)
from datapack_client.errors import DataPackError, UnavailableError, invalid
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_client.proto.datapack.v1 import skill_adapter_service_pb2_grpc as apb_grpc
from datapack_client.records.model import DataPackMeta
from datapack_client.records.query import QuerySpec, check_task_name, make_filter
from datapack_client.records.results import AppendResult
from datapack_client.records.stored import batch_records
from datapack_client.records.validation_rules import store_ok
from datapack_client.wire import adapter as adapter_wire
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


class QueryStream:
    """The packs a query matches, streamed: `await stream` gives the list (as
    DataPackClient.query); `async for dp in stream` yields each pack as its
    message arrives. Leaving the loop early (break, an exception, a cancelled
    task) cancels the call, and the server stops reading. Each `await` or
    `async for` sends the query anew."""

    def __init__(self, open_call: Callable[[], Any], task_name: str = "", open_page: Callable[[], Any] | None = None):
        self._open_call = open_call
        self._task_name = task_name  # the task of packs that arrive as stored lines
        self._open_page = open_page  # a one-message answer for `await` (QueryDataPacksPage), when it fits

    def __await__(self):
        return self._collect().__await__()

    def __aiter__(self) -> AsyncIterator[DataPackMeta]:
        return self._packs()

    async def _collect(self) -> list[DataPackMeta]:
        if self._open_page is not None:
            try:
                page = await self._open_page()
                return [message_to_record(m) for m in page.data_packs]
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:  # too large for one message: stream it
                    raise from_rpc_error(exc) from None
        return [dp async for dp in self._packs()]

    async def _packs(self) -> AsyncIterator[DataPackMeta]:
        call = self._open_call()
        try:
            async for resp in call:
                if resp.HasField("json_lines"):
                    for dp in batch_records(line_batch_from_proto(resp.json_lines, self._task_name)):
                        yield dp
                for msg in resp.data_packs:
                    yield message_to_record(msg)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()  # a no-op once the call has ended


class AsyncDataPackClient(RepositoryArguments):
    """A remote repository on one store of a DataPack server, for asyncio.
    Create it (connect_async) and use it in one event loop."""

    # As DataPackClient.max_message_bytes: the largest request append_batch sends.
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def __init__(self, target: str, store: str = "", *, channel: grpc.aio.Channel, timeout: float = 30.0,
                 token: str | None = None):
        if not store_ok(store):
            raise invalid("store", "STORE_INVALID", f"store {store!r} is not a valid store path")
        self.target = target
        self.store = store
        self.timeout = timeout
        self.channel = channel
        # The bearer token goes with every call as metadata (see channel.open_channel for why not credentials).
        self.metadata = (("authorization", "Bearer " + token),) if token is not None else None
        self.stub = spb_grpc.DataPackServiceStub(channel)
        self._adapter_stub = apb_grpc.SkillAdapterServiceStub(channel)

    # -- plumbing

    async def _call(self, method, request, timeout: float | None = None):
        try:
            return await method(request, timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None

    async def wait_ready(self, timeout: float = 10.0) -> AsyncDataPackClient:
        """Wait until the channel is connected (or raise UnavailableError)."""
        try:
            await asyncio.wait_for(self.channel.channel_ready(), timeout)
        except TimeoutError:
            raise UnavailableError(f"no DataPack server at {self.target} within {timeout}s", "UNAVAILABLE") from None
        return self

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncDataPackClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # -- writing

    async def append(self, pack: DataPackMeta | dict) -> AppendResult:
        """Append one record (append_batch of one); returns its AppendResult."""
        return (await self.append_batch([pack]))[0]

    async def append_batch(self, packs: Iterable[DataPackMeta | dict]) -> list[AppendResult]:
        """DataPackClient.append_batch: any number of records, sent as requests
        under `max_message_bytes`, each stored atomically, in input order."""
        msgs = [record_to_message(p) for p in packs]
        results: list[AppendResult] = []
        for part in split_batch(self.store, msgs, min(self.max_message_bytes, MAX_MESSAGE_BYTES)):
            try:
                resp = await self._call(self.stub.AppendDataPacksBatch, part.request,
                                        append_deadline(self.timeout, part.count))
            except DataPackError as err:
                raise part_error(err, part, len(msgs)) from None
            results.extend(part_results(part, [append_result_from_proto(r) for r in resp.results]))
        return results

    def stream_appender(self, batch_size: int = 256, max_in_flight: int = 8, linger: float = 0.05,
                        reconnect_timeout: float = 30.0, *, connect_timeout: float = 5.0,
                        keep_results: int | None = 10_000, on_ack=None, on_reject=None) -> AsyncStreamAppender:
        """A pipelined appender: `async with repo.stream_appender() as s: future = await s.append(dp)`;
        the options of DataPackClient.stream_appender (AsyncStreamAppender has the rest)."""
        return AsyncStreamAppender(self, batch_size=batch_size, max_in_flight=max_in_flight, linger=linger,
                                   reconnect_timeout=reconnect_timeout, connect_timeout=connect_timeout,
                                   keep_results=keep_results, on_ack=on_ack, on_reject=on_reject)

    async def ingest_episodes(self, episodes, econ_params, baseline, *, batch_size: int = 256) -> list:
        """DataPackClient.ingest_episodes: datapacks built on the server from
        episodes, each batch of `batch_size` episodes atomic; one IngestResult
        per episode."""
        out = []
        for start, batch in episode_batches(episodes, batch_size):
            out.extend(await self._ingest(batch, econ_params, baseline, start))
        return out

    async def _ingest(self, episodes: list, econ_params, baseline, offset: int) -> list:
        req = ingest_request(self.store, episodes, econ_params, baseline)
        try:
            call = self.stub.IngestEpisodes(iter([req]), timeout=ingest_deadline(self.timeout, len(episodes)),
                                            metadata=self.metadata)
            (resp,) = [r async for r in call]
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        if resp.HasField("rejection"):
            raise detail_to_error(resp.rejection)
        return [ingest_result_from_proto(r, offset) for r in resp.results]

    async def put_baseline(self, name: str, values=None, *, episodes=None) -> dict:
        """Register a named baseline in the store (values or the means of episodes)."""
        req = put_baseline_request(self.store, name, values, episodes)
        return named_baseline_from_proto((await self._call(self.stub.PutBaseline, req)).baseline)[1]

    async def list_baselines(self) -> dict:
        resp = await self._call(self.stub.ListBaselines, spb.ListBaselinesRequest(store=self.store))
        return dict(named_baseline_from_proto(b) for b in resp.baselines)

    async def _update_training_usage(self, task_name: str, update) -> list[dict]:
        check_task_name(task_name)
        req = usage_update_to_proto(self.store, task_name, update)
        return usage_results_from_proto(await self._call(self.stub.UpdateTrainingUsage, req))

    async def _export_portable(self, task_name: str, args, progress) -> dict:
        """progress: a function, or a coroutine function (awaited before the next message is read)."""
        req = export_to_proto(self.store, task_name, args)
        summary: Any = None  # the last response's summary (a server always sends at least one)
        try:
            # No overall deadline: a large export runs for minutes while progress streams in.
            async for resp in self.stub.ExportPortable(req, metadata=self.metadata):
                summary = summary_from_proto(resp, task_name, self.store, args.output_store, args.repr_names)
                if progress is not None:
                    answer = progress(summary)
                    if inspect.isawaitable(answer):
                        await answer
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return summary

    # -- reading

    def _query(self, task_name: str, spec: QuerySpec) -> QueryStream:
        check_task_name(task_name)
        bulk = spec.limit is None or spec.limit > BULK_READ_MIN  # as DataPackClient._query
        req = query_to_proto(self.store, task_name, spec, json_lines=bulk)
        timeout = max(self.timeout, 300.0) if bulk else self.timeout
        page = None
        if not bulk and not spec.include_artifacts:  # as DataPackClient._query
            page_req = spb.QueryDataPacksPageRequest(query=req)
            page = lambda: self.stub.QueryDataPacksPage(page_req, timeout=timeout, metadata=self.metadata)  # noqa: E731
        return QueryStream(lambda: self.stub.QueryDataPacks(req, timeout=timeout, metadata=self.metadata), task_name,
                           page)

    async def _query_arrow(self, task_name: str, spec: QuerySpec, columns: list[str] | None, batch_size: int) -> Any:
        req = spb.QueryArrowRequest(query=query_to_proto(self.store, task_name, spec, batch_size=batch_size),
                                    columns=columns or ())
        try:
            pieces = [resp.arrow_ipc async for resp in
                      self.stub.QueryArrow(req, timeout=max(self.timeout, 300.0), metadata=self.metadata)]
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return table_from_pieces(pieces)

    def _iter_query(self, task_name: str, spec: QuerySpec, batch_size: int) -> QueryStream:
        req = query_to_proto(self.store, task_name, spec, json_lines=True, batch_size=batch_size)
        return QueryStream(lambda: self.stub.QueryDataPacks(req, metadata=self.metadata), task_name)

    def iter_all(self, task_name: str) -> QueryStream:
        """Every pack of the task with its artifacts, as they arrive: `async for dp in repo.iter_all(task)`."""
        # iter_query is annotated with the synchronous result; here it is _iter_query's QueryStream.
        return cast(QueryStream, self.iter_query(task_name, include_artifacts=True))

    async def get(self, task_name: str, pack_id: str) -> DataPackMeta:
        check_task_name(task_name)
        resp = await self._call(self.stub.GetDataPack,
                                spb.GetDataPackRequest(store=self.store, task_name=task_name, pack_id=pack_id))
        return message_to_record(resp.data_pack)

    async def get_history(self, task_name: str, pack_id: str) -> list[dict]:
        check_task_name(task_name)
        resp = await self._call(self.stub.GetDataPackHistory,
                                spb.GetDataPackHistoryRequest(store=self.store, task_name=task_name, pack_id=pack_id))
        return history_from_proto(resp)

    async def get_statistics(self, task_name: str, **filters) -> dict:
        check_task_name(task_name)
        req = statistics_request(self.store, task_name, make_filter(**filters) if filters else None)
        return statistics_from_proto(await self._call(self.stub.GetStatistics, req))

    async def list_tasks(self) -> list[str]:
        return list((await self._call(self.stub.ListTasks, spb.ListTasksRequest(store=self.store))).task_names)

    async def _analyze(self, method: str, task_name: str, slice_spec, **args):
        """One SkillAdapterService call (the remote half of the adapter's analyses)."""
        check_task_name(task_name)
        req = adapter_wire.analysis_request(method, self.store, task_name, slice_spec, args)
        call = getattr(self._adapter_stub, adapter_wire.METHODS[method][0])
        if adapter_wire.is_streamed(method):
            try:
                responses = call(req, timeout=max(self.timeout, 300.0), metadata=self.metadata)
                return adapter_wire.decode_stream(method, [r async for r in responses])
            except grpc.aio.AioRpcError as exc:
                raise from_rpc_error(exc) from None
        return adapter_wire.decode(method, await self._call(call, req, max(self.timeout, 120.0)))


def connect_async(target: str = "localhost:50051", store: str = "", *, timeout: float = 30.0,
                  credentials: grpc.ChannelCredentials | None = None, token: str | None = None,
                  token_file: str | os.PathLike | None = None, tls: bool = False,
                  root_certificates: bytes | str | os.PathLike | None = None,
                  client_cert: bytes | str | os.PathLike | None = None,
                  client_key: bytes | str | os.PathLike | None = None,
                  reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF) -> AsyncDataPackClient:
    """A remote repository on `store` of the server at `target`, for asyncio:
    `connect` (which documents the target and the options) on grpc.aio. Call it
    in the event loop that will use the client; `async with connect_async(...)
    as repo:` closes it."""
    credentials, token = channel_security(credentials=credentials, token=token, token_file=token_file, tls=tls,
                                          root_certificates=root_certificates, client_cert=client_cert,
                                          client_key=client_key)
    dialled = dial_target(target)  # a host alone: port 50051, as `connect`
    options = channel_options(reconnect_backoff)
    if not store_ok(store):  # before a channel exists, so nothing is left to close
        raise invalid("store", "STORE_INVALID", f"store {store!r} is not a valid store path")
    channel = (grpc.aio.secure_channel(dialled, credentials, options=options) if credentials is not None
               else grpc.aio.insecure_channel(dialled, options=options))
    return AsyncDataPackClient(dialled, store, channel=channel, timeout=timeout, token=token)
