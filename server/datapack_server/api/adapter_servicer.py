"""SkillAdapterService over gRPC: each RPC runs the public SkillDataPackAdapter
method (so arguments are validated and defaulted exactly as in-process) on a
repository shim whose `_analyze` computes on the server's store, then encodes
the result with the shared adapter_wire module. No business rules here."""
from __future__ import annotations

import grpc

from datapack_client.adapter import SkillDataPackAdapter
from datapack_client.proto.datapack.v1 import skill_adapter_service_pb2 as apb
from datapack_client.records.query import UNSET
from datapack_client.wire import adapter as adapter_wire
from datapack_client.wire.query import filter_from_proto
from datapack_server.api.framing import chunk_bytes_for, chunked_field1, response_bytes
from datapack_server.service.facade import DataPackService

SERVICE_NAME = "datapack.v1.SkillAdapterService"


class _StoreRepo:
    """The repository an adapter call sees on the server: one store, the
    request's slice applied to every analysis."""

    def __init__(self, service: DataPackService, store: str, slice_spec):
        self._service, self._store, self._slice = service, store, slice_spec

    def _analyze(self, method: str, task_name: str, slice_spec, **args):
        return self._service.analyze(self._store, task_name, method, self._slice, **args)


class SkillAdapterServicer:
    def __init__(self, service: DataPackService, max_message_bytes: int = 64 << 20):
        self.service = service
        self.chunk_bytes = chunk_bytes_for(max_message_bytes)

    def _run(self, method: str, request):
        slice_spec = filter_from_proto(request.slice) if request.HasField("slice") else None
        if method == "skill_report":
            return self.service.analyze(request.store, request.task_name, "skill_report", slice_spec)
        args = {k: v for k, v in adapter_wire.args_of(method, request, UNSET).items() if v is not UNSET}
        repo = _StoreRepo(self.service, request.store, slice_spec)
        return getattr(SkillDataPackAdapter(repo), method)(request.task_name, **args)

    def unary(self, method: str):
        def handler(request, context):
            return adapter_wire.encode(method, self._run(method, request))
        return handler

    def streaming(self, method: str, response_cls):
        def handler(request, context):
            if method == "generate_skill_curriculum":
                yield from adapter_wire.curriculum_messages(self._run(method, request))
                return
            packs = self._run(method, request)
            # Packs are encoded as messages are sent (a client that goes away
            # stops the work at the next message), in messages bounded by count
            # and bytes (field 1 = data_packs), so large portable packs never
            # make a message exceed the size limit.
            yield from chunked_field1(self.service.encoded_records(request.store, request.task_name, packs),
                                      self.chunk_bytes)
        return handler


def add_adapter_servicer(server: grpc.Server, servicer: SkillAdapterServicer) -> None:
    handlers = {}
    for method, (rpc, streaming, _args) in adapter_wire.METHODS.items():
        req_cls = getattr(apb, rpc + "Request")
        resp_cls = getattr(apb, rpc + "Response")
        if streaming:
            handlers[rpc] = grpc.unary_stream_rpc_method_handler(
                servicer.streaming(method, resp_cls), req_cls.FromString, response_bytes)
        else:
            handlers[rpc] = grpc.unary_unary_rpc_method_handler(
                servicer.unary(method), req_cls.FromString, resp_cls.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
