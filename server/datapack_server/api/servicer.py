"""DataPackService over gRPC: each method converts its request
(api/conversions.py, datapack_client.wire), calls the domain façade
(service/facade.py) and converts the answer. No business rules live here.

Query and get responses are framed from the already-serialized records the
façade returns (api/framing.py), so hot records are never re-encoded.
"""
from __future__ import annotations

from collections.abc import Iterator

import grpc

from datapack_client.errors import DataPackError
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.wire.arrow import ipc_pieces
from datapack_client.wire.export import export_from_proto, summary_to_proto
from datapack_client.wire.query import (
    check_page_request,
    filter_from_proto,
    line_batch_to_proto,
    query_from_proto,
    read_options_from_proto,
)
from datapack_server.api.conversions import (
    WireEpisodes,
    append_results_to_proto,
    baseline_from_proto,
    baseline_source_from_proto,
    history_to_proto,
    ingest_results_to_proto,
    named_baseline_to_proto,
    rejected_results,
    rejection,
    statistics_to_proto,
    training_usage_to_proto,
    usage_update_from_proto,
)
from datapack_server.api.envelope import AppendEnvelope
from datapack_server.api.framing import (
    QUERY_CHUNK_RECORDS,
    chunk_bytes_for,
    chunked_field1,
    field1,
    json_lines_response,
    one_response,
    response_bytes,
)
from datapack_server.observability.rejections import RejectionLog
from datapack_server.service.facade import DataPackService
from datapack_server.service.line_batches import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE

SERVICE_NAME = "datapack.v1.DataPackService"


def refused_task(raw_records, err: DataPackError) -> str | None:
    """The task named by the record a refused batch's first violation is
    about (else by its first record), for the log: one record parsed, and only
    for a refused batch."""
    if not raw_records:
        return None
    index = err.violations[0].index if err.violations else 0
    try:
        return pb.DataPackMeta.FromString(raw_records[index if 0 <= index < len(raw_records) else 0]).task_name
    except Exception:  # noqa: BLE001 - a record that does not parse names no task
        return None


class DataPackServicer:
    def __init__(self, service: DataPackService, max_message_bytes: int = 64 << 20):
        self.service = service
        self.max_message_bytes = max_message_bytes
        self.chunk_bytes = chunk_bytes_for(max_message_bytes)
        self.rejections = RejectionLog()  # one rate-limited WARNING per refused append batch

    # Append requests arrive as AppendEnvelope (records still serialized).
    def AppendDataPacks(self, request_iterator, context) -> Iterator[spb.AppendDataPacksResponse]:
        for req in request_iterator:
            try:
                results = self.service.append(req.store, list(req.data_packs), req.writer_id, req.batch_sequence)
            except DataPackError as err:
                self.rejections.refused("AppendDataPacks", req.store, refused_task(req.data_packs, err),
                                        len(req.data_packs), err)
                yield spb.AppendDataPacksResponse(batch_sequence=req.batch_sequence, rejection=rejection(err),
                                                  results=rejected_results(req.data_packs))
                continue
            yield spb.AppendDataPacksResponse(batch_sequence=req.batch_sequence,
                                              results=append_results_to_proto(results))

    def AppendDataPacksBatch(self, request, context):
        try:
            results = self.service.append(request.store, list(request.data_packs))
        except DataPackError as err:
            self.rejections.refused("AppendDataPacksBatch", request.store, refused_task(request.data_packs, err),
                                    len(request.data_packs), err)
            raise
        return spb.AppendDataPacksBatchResponse(results=append_results_to_proto(results))

    def QueryDataPacks(self, request, context) -> Iterator[bytes]:
        # Lazy: records are encoded as messages are sent, so a client that goes
        # away (cancel, deadline) stops the work at the next message.
        q = query_from_proto(request)
        json_lines, batch_size = read_options_from_proto(request, MAX_BATCH_SIZE)
        if json_lines:
            batches = self.service.query_line_batches(request.store, request.task_name, q,
                                                      batch_size or DEFAULT_BATCH_SIZE, self.chunk_bytes)
            for batch in batches:
                yield json_lines_response(batch.lines, line_batch_to_proto(batch, with_lines=False).SerializeToString())
            return
        records = self.service.iter_query(request.store, request.task_name, q)
        yield from chunked_field1(records, self.chunk_bytes, batch_size or QUERY_CHUNK_RECORDS)

    def QueryDataPacksPage(self, request, context) -> bytes:
        query = request.query
        q = query_from_proto(query)
        check_page_request(query)
        return one_response(self.service.query(query.store, query.task_name, q), self.max_message_bytes)

    def QueryArrow(self, request, context) -> Iterator[bytes]:
        q = query_from_proto(request.query)
        _, batch_size = read_options_from_proto(request.query, MAX_BATCH_SIZE)
        schema, batches = self.service.query_arrow(request.query.store, request.query.task_name, q,
                                                   list(request.columns) or None, batch_size or DEFAULT_BATCH_SIZE)
        for piece in ipc_pieces(schema, batches, self.chunk_bytes):
            yield field1(piece)

    def GetDataPack(self, request, context) -> bytes:
        return field1(self.service.get(request.store, request.task_name, request.pack_id))

    def GetDataPackHistory(self, request, context):
        return history_to_proto(self.service.history(request.store, request.task_name, request.pack_id))

    def GetStatistics(self, request, context):
        spec = filter_from_proto(request.filter) if request.HasField("filter") else None
        return statistics_to_proto(self.service.statistics(request.store, request.task_name, spec))

    def IngestEpisodes(self, request_iterator, context) -> Iterator[spb.IngestEpisodesResponse]:
        for req in request_iterator:
            try:
                results = self.service.ingest(req.store, WireEpisodes(req), baseline_from_proto(req),
                                              writer_id=req.writer_id, batch_sequence=req.batch_sequence)
            except DataPackError as err:
                yield spb.IngestEpisodesResponse(batch_sequence=req.batch_sequence, rejection=rejection(err))
                continue
            yield spb.IngestEpisodesResponse(batch_sequence=req.batch_sequence,
                                             results=ingest_results_to_proto(results))

    def PutBaseline(self, request, context):
        values, episodes = baseline_source_from_proto(request)
        stored = self.service.put_baseline(request.store, request.name, values, episodes=episodes)
        return spb.PutBaselineResponse(baseline=named_baseline_to_proto(request.name, stored))

    def ListBaselines(self, request, context):
        return spb.ListBaselinesResponse(baselines=[
            named_baseline_to_proto(name, v) for name, v in self.service.list_baselines(request.store)])

    def UpdateTrainingUsage(self, request, context):
        update = usage_update_from_proto(request)
        return training_usage_to_proto(self.service.update_training_usage(request.store, request.task_name, update))

    def ListTasks(self, request, context):
        return spb.ListTasksResponse(task_names=self.service.list_tasks(request.store))

    def ExportPortable(self, request, context) -> Iterator[spb.ExportPortableResponse]:
        last = None
        for last in self.service.export_portable(request.store, request.task_name, export_from_proto(request)):
            yield summary_to_proto(last, done=False)
        yield summary_to_proto(last, done=True)


def add_servicer(server: grpc.Server, servicer: DataPackServicer) -> None:
    """Register the servicer. Like the generated add_..._to_server, except that
    responses may be pre-serialized bytes."""
    unary, server_streams, both_stream = (grpc.unary_unary_rpc_method_handler, grpc.unary_stream_rpc_method_handler,
                                          grpc.stream_stream_rpc_method_handler)
    handlers = {
        "AppendDataPacks": both_stream(servicer.AppendDataPacks, AppendEnvelope.FromString, response_bytes),
        "AppendDataPacksBatch": unary(servicer.AppendDataPacksBatch, AppendEnvelope.FromString, response_bytes),
        "QueryDataPacks": server_streams(servicer.QueryDataPacks, spb.QueryDataPacksRequest.FromString,
                                         response_bytes),
        "QueryDataPacksPage": unary(servicer.QueryDataPacksPage, spb.QueryDataPacksPageRequest.FromString,
                                    response_bytes),
        "QueryArrow": server_streams(servicer.QueryArrow, spb.QueryArrowRequest.FromString, response_bytes),
        "GetDataPack": unary(servicer.GetDataPack, spb.GetDataPackRequest.FromString, response_bytes),
        "GetDataPackHistory": unary(servicer.GetDataPackHistory, spb.GetDataPackHistoryRequest.FromString,
                                    response_bytes),
        "GetStatistics": unary(servicer.GetStatistics, spb.GetStatisticsRequest.FromString, response_bytes),
        "IngestEpisodes": both_stream(servicer.IngestEpisodes, spb.IngestEpisodesRequest.FromString, response_bytes),
        "PutBaseline": unary(servicer.PutBaseline, spb.PutBaselineRequest.FromString, response_bytes),
        "ListBaselines": unary(servicer.ListBaselines, spb.ListBaselinesRequest.FromString, response_bytes),
        "UpdateTrainingUsage": unary(servicer.UpdateTrainingUsage, spb.UpdateTrainingUsageRequest.FromString,
                                     response_bytes),
        "ListTasks": unary(servicer.ListTasks, spb.ListTasksRequest.FromString, response_bytes),
        "ExportPortable": server_streams(servicer.ExportPortable, spb.ExportPortableRequest.FromString,
                                         response_bytes),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
