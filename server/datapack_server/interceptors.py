"""One place where domain errors become gRPC statuses.

Every DataPackError leaves the server as a google.rpc.Status with an ErrorInfo
(reason, domain), a BadRequest (field violations) when there are violations,
and a datapack.v1.ErrorDetail carrying the violations in full. Anything else
is INTERNAL and logged with its traceback.
"""
from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from datapack_client.errors import DataPackError, InternalError
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb

log = logging.getLogger("datapack.server")
DOMAIN = "datapack.v1"
BAD_REQUEST_MAX = 100


def error_detail(err: DataPackError) -> spb.ErrorDetail:
    return spb.ErrorDetail(code=err.code, reason=err.reason, message=err.message, violations=[
        spb.FieldViolation(index=v.index, pack_id=v.pack_id or "", field=v.field, reason=v.reason,
                           message=v.message) for v in err.violations])


def to_status(err: DataPackError) -> grpc.Status:
    details = []
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=err.reason or err.code, domain=DOMAIN))
    details.append(info)
    if err.violations:
        # Generic clients get at most BAD_REQUEST_MAX entries (gRPC's default trailer
        # limit is 16 KiB); datapack.v1.ErrorDetail below always carries all of them.
        bad = any_pb2.Any()
        bad.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field=(f"data_packs[{v.index}].{v.field}" if v.pack_id is not None or v.index else v.field),
                description=f"{v.reason}: {v.message}") for v in err.violations[:BAD_REQUEST_MAX]]))
        details.append(bad)
    own = any_pb2.Any()
    own.Pack(error_detail(err))
    details.append(own)
    code = getattr(code_pb2, err.code, code_pb2.UNKNOWN)
    return rpc_status.to_status(status_pb2.Status(code=code, message=err.message, details=details))


def _abort(context: grpc.ServicerContext, exc: BaseException) -> None:
    if isinstance(exc, DataPackError):
        err = exc
    else:
        log.exception("unexpected error")
        err = InternalError(f"internal error: {type(exc).__name__}: {exc}", "INTERNAL")
    context.abort_with_status(to_status(err))


class ErrorInterceptor(grpc.ServerInterceptor):
    """Wraps every handler so a raised DataPackError ends the call with its
    rich status (unary and streaming alike)."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        if handler.unary_unary:
            return handler._replace(unary_unary=self._wrap_unary(handler.unary_unary))
        if handler.unary_stream:
            return handler._replace(unary_stream=self._wrap_stream(handler.unary_stream))
        if handler.stream_unary:
            return handler._replace(stream_unary=self._wrap_unary(handler.stream_unary))
        if handler.stream_stream:
            return handler._replace(stream_stream=self._wrap_stream(handler.stream_stream))
        return handler

    @staticmethod
    def _wrap_unary(fn):
        def wrapped(request, context):
            try:
                return fn(request, context)
            except Exception as exc:  # noqa: BLE001 - converted to a status
                if isinstance(exc, grpc.RpcError) or context.code() is not None:
                    raise
                _abort(context, exc)
        return wrapped

    @staticmethod
    def _wrap_stream(fn):
        def wrapped(request, context):
            try:
                yield from fn(request, context)
            except Exception as exc:  # noqa: BLE001 - converted to a status
                if isinstance(exc, grpc.RpcError) or context.code() is not None:
                    raise
                _abort(context, exc)
        return wrapped
