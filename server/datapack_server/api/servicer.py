"""DataPackService over gRPC: converts messages and delegates to service.py.

No business rules live here. Query and get responses are assembled from the
already-serialized records the domain façade returns (a repeated message field
on the wire is just tag + length + bytes), so hot records are never re-encoded.
"""
from __future__ import annotations

import grpc

from datapack_client.errors import DataPackError
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.errors import invalid
from datapack_client.records.export import export_from_proto, summary_to_proto
from datapack_client.records.query import UNSET, filter_from_proto, make_usage_update, query_from_proto

from datapack_client.wire.episodes import baseline_values_from_proto, summary_from_proto

from datapack_server.service.baselines import baseline_from_episodes
from datapack_server.api.envelope import AppendEnvelope
from datapack_server.api.interceptors import error_detail
from datapack_server.service.facade import DataPackService

SERVICE_NAME = "datapack.v1.DataPackService"
_STATUS = {"created": spb.APPEND_STATUS_CREATED, "already_present": spb.APPEND_STATUS_ALREADY_PRESENT}
_REVISION_STATUS = {"revised": spb.REVISION_STATUS_REVISED, "unchanged": spb.REVISION_STATUS_UNCHANGED}
# Records per streamed query message, and a byte bound so a message stays far
# below the message size limit (64 MiB by default) even for portable packs
# (~0.5 MB each); a server configured with a smaller limit uses half of it.
QUERY_CHUNK_RECORDS = 256
QUERY_CHUNK_BYTES = 4 << 20


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    """Wire bytes of a length-delimited field (any payload bytes)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _field1(payload: bytes) -> bytes:
    """Wire bytes of field 1 (length-delimited) holding payload (the hot path:
    the tag is a constant)."""
    return b"\x0a" + _varint(len(payload)) + payload


def chunked_field1(payloads, chunk_bytes: int):
    """Wire bytes of response messages whose field 1 (repeated) holds the
    payloads, many per message (gRPC Python pays per message) but at most
    QUERY_CHUNK_RECORDS and about chunk_bytes each. Lazy: a payload is
    produced only when its message is about to be sent."""
    chunk: list[bytes] = []
    size = 0
    for b in payloads:
        piece = _field1(b)
        if chunk and (len(chunk) >= QUERY_CHUNK_RECORDS or size + len(piece) > chunk_bytes):
            yield b"".join(chunk)
            chunk, size = [], 0
        chunk.append(piece)
        size += len(piece)
    if chunk:
        yield b"".join(chunk)


def _results(results) -> list:
    return [spb.AppendResult(index=r.index, pack_id=r.pack_id, task_name=r.task_name, status=_STATUS[r.status],
                             revision=r.revision, sequence=r.sequence) for r in results]


def _named(name: str, v: dict) -> spb.NamedBaseline:
    values = pb.BaselineValues(mpl=v["mpl"], error=v["error"], ep=v["ep"])
    if v.get("wage_parity") is not None:
        values.wage_parity = v["wage_parity"]
    return spb.NamedBaseline(name=name, values=values, episode_count=v.get("episode_count", 0),
                             builtin=v.get("builtin", False))


def _rejected(i: int, raw: bytes) -> spb.AppendResult:
    try:
        m = pb.DataPackMeta.FromString(raw)
        pack_id, task = m.pack_id, m.task_name
    except Exception:  # noqa: BLE001 - a malformed record still gets its REJECTED slot
        pack_id = task = ""
    return spb.AppendResult(index=i, pack_id=pack_id, task_name=task, status=spb.APPEND_STATUS_REJECTED)


def chunk_bytes_for(max_message_bytes: int) -> int:
    """Byte bound of a streamed message of many records under a message size limit."""
    return max(1, min(QUERY_CHUNK_BYTES, max_message_bytes // 2))


class DataPackServicer:
    def __init__(self, service: DataPackService, max_message_bytes: int = 64 << 20):
        self.service = service
        self.chunk_bytes = chunk_bytes_for(max_message_bytes)

    # Append requests arrive as AppendEnvelope (records still serialized).
    def AppendDataPacks(self, request_iterator, context):
        for req in request_iterator:
            try:
                results = self.service.append(req.store, list(req.data_packs), req.writer_id, req.batch_sequence)
            except DataPackError as err:
                if err.code not in ("INVALID_ARGUMENT", "ALREADY_EXISTS"):
                    raise  # a store fault ends the stream with its status
                yield spb.AppendDataPacksResponse(
                    batch_sequence=req.batch_sequence, rejection=error_detail(err),
                    results=[_rejected(i, raw) for i, raw in enumerate(req.data_packs)])
                continue
            yield spb.AppendDataPacksResponse(batch_sequence=req.batch_sequence, results=_results(results))

    def AppendDataPacksBatch(self, request, context):
        results = self.service.append(request.store, list(request.data_packs))
        return spb.AppendDataPacksBatchResponse(results=_results(results))

    def QueryDataPacks(self, request, context):
        q = query_from_proto(request)
        # Lazy: records are encoded as messages are sent, so a client that goes
        # away (cancel, deadline) stops the work at the next message.
        records = self.service.iter_query(request.store, request.task_name, q)
        yield from chunked_field1(records, self.chunk_bytes)

    def GetDataPack(self, request, context):
        return _field1(self.service.get(request.store, request.task_name, request.pack_id))

    def GetDataPackHistory(self, request, context):
        out = spb.GetDataPackHistoryResponse()
        for rev, meta, raw in self.service.history(request.store, request.task_name, request.pack_id):
            r = out.revisions.add(revision=rev, record=pb.DataPackMeta.FromString(raw))
            if meta:
                if isinstance(meta.get("reason"), str):
                    r.reason = meta["reason"]
                if isinstance(meta.get("revised_at"), str):
                    r.revised_at = meta["revised_at"]
                changed = meta.get("changed_fields")
                if isinstance(changed, list):
                    r.changed_fields.values.extend(str(c) for c in changed)
        return out

    def GetStatistics(self, request, context):
        spec = filter_from_proto(request.filter) if request.HasField("filter") else None
        s = self.service.statistics(request.store, request.task_name, spec)
        out = spb.GetStatisticsResponse(total=s["total"], positive=s["positive"], negative=s["negative"])
        if s["total"]:
            for k in ("positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max",
                      "trust_mean", "trust_std", "with_sima", "with_counterfactual"):
                setattr(out, k, s[k])
            out.unique_skills.extend(s["unique_skills"])
            out.engine_types.extend(spb.NamedCount(name=k, count=v) for k, v in s["engine_types"].items())
            out.source_types.extend(spb.NamedCount(name=k, count=v) for k, v in s["source_types"].items())
        return out

    def IngestEpisodes(self, request_iterator, context):
        for req in request_iterator:
            try:
                results = self.service.ingest_request(req)
            except DataPackError as err:
                if err.code not in ("INVALID_ARGUMENT", "ALREADY_EXISTS"):
                    raise  # a store fault ends the stream with its status
                yield spb.IngestEpisodesResponse(batch_sequence=req.batch_sequence, rejection=error_detail(err))
                continue
            yield spb.IngestEpisodesResponse(batch_sequence=req.batch_sequence, results=[
                spb.IngestResult(index=r.index, pack_id=r.pack_id, task_name=r.task_name, status=_STATUS[r.status],
                                 bucket=r.bucket, delta_j=r.delta_j, sequence=r.sequence) for r in results])

    def PutBaseline(self, request, context):
        which = request.WhichOneof("source")
        if which == "values":
            values = baseline_values_from_proto(request.values)
        elif which == "episodes":
            values = baseline_from_episodes([summary_from_proto(e) for e in request.episodes.episodes])
        else:
            raise invalid("source", "ARGUMENT_INVALID", "give the baseline's values or its episodes")
        stored = self.service.put_baseline(request.store, request.name, values)
        return spb.PutBaselineResponse(baseline=_named(request.name, stored))

    def ListBaselines(self, request, context):
        return spb.ListBaselinesResponse(baselines=[
            _named(name, v) for name, v in self.service.baselines(request.store).list()])

    def UpdateTrainingUsage(self, request, context):
        if request.HasField("wm_role") and request.clear_wm_role:
            raise invalid("wm_role", "ARGUMENT_INVALID", "wm_role and clear_wm_role are mutually exclusive")
        role = request.wm_role if request.HasField("wm_role") else (None if request.clear_wm_role else UNSET)
        update = make_usage_update(list(request.pack_ids), role, list(request.add_training_runs))
        results = self.service.update_training_usage(request.store, request.task_name, update)
        return spb.UpdateTrainingUsageResponse(results=[
            spb.TrainingUsageResult(pack_id=r["pack_id"], status=_REVISION_STATUS[r["status"]], revision=r["revision"])
            for r in results])

    def ListTasks(self, request, context):
        return spb.ListTasksResponse(task_names=self.service.list_tasks(request.store))

    def ExportPortable(self, request, context):
        args = export_from_proto(request)
        last = None
        for last in self.service.export_portable(request.store, request.task_name, args):
            yield summary_to_proto(last, done=False)
        yield summary_to_proto(last, done=True)


def _raw(x) -> bytes:
    return x if isinstance(x, bytes) else x.SerializeToString()


def add_servicer(server: grpc.Server, servicer: DataPackServicer) -> None:
    """Register the servicer. Like the generated add_..._to_server, except that
    responses may be pre-serialized bytes."""
    handlers = {
        "AppendDataPacks": grpc.stream_stream_rpc_method_handler(
            servicer.AppendDataPacks, AppendEnvelope.FromString, _raw),
        "AppendDataPacksBatch": grpc.unary_unary_rpc_method_handler(
            servicer.AppendDataPacksBatch, AppendEnvelope.FromString, _raw),
        "QueryDataPacks": grpc.unary_stream_rpc_method_handler(
            servicer.QueryDataPacks, spb.QueryDataPacksRequest.FromString, _raw),
        "GetDataPack": grpc.unary_unary_rpc_method_handler(
            servicer.GetDataPack, spb.GetDataPackRequest.FromString, _raw),
        "GetDataPackHistory": grpc.unary_unary_rpc_method_handler(
            servicer.GetDataPackHistory, spb.GetDataPackHistoryRequest.FromString, _raw),
        "GetStatistics": grpc.unary_unary_rpc_method_handler(
            servicer.GetStatistics, spb.GetStatisticsRequest.FromString, _raw),
        "IngestEpisodes": grpc.stream_stream_rpc_method_handler(
            servicer.IngestEpisodes, spb.IngestEpisodesRequest.FromString, _raw),
        "PutBaseline": grpc.unary_unary_rpc_method_handler(
            servicer.PutBaseline, spb.PutBaselineRequest.FromString, _raw),
        "ListBaselines": grpc.unary_unary_rpc_method_handler(
            servicer.ListBaselines, spb.ListBaselinesRequest.FromString, _raw),
        "UpdateTrainingUsage": grpc.unary_unary_rpc_method_handler(
            servicer.UpdateTrainingUsage, spb.UpdateTrainingUsageRequest.FromString, _raw),
        "ListTasks": grpc.unary_unary_rpc_method_handler(
            servicer.ListTasks, spb.ListTasksRequest.FromString, _raw),
        "ExportPortable": grpc.unary_stream_rpc_method_handler(
            servicer.ExportPortable, spb.ExportPortableRequest.FromString, _raw),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
