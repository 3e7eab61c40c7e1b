"""gRPC errors -> the shared DataPackError hierarchy (same class, reason and
violations the embedded repository raises)."""
from __future__ import annotations

import grpc  # type: ignore[import-untyped]
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

from datapack_client.errors import ERROR_CLASSES, DataPackError, UnavailableError, Violation
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb


def detail_to_error(d: spb.ErrorDetail) -> DataPackError:
    cls = ERROR_CLASSES.get(d.code, DataPackError)
    return cls(d.message, d.reason, [Violation(v.index, v.pack_id or None, v.field, v.reason, v.message)
                                     for v in d.violations])


def from_rpc_error(exc: grpc.RpcError) -> DataPackError:
    try:
        status = rpc_status.from_call(exc) if hasattr(exc, "trailing_metadata") else None
    except ValueError:  # a call cancelled here after the server's status arrived: the local code (CANCELLED) wins
        status = None
    if status is not None:
        reason = ""
        for any_ in status.details:
            if any_.Is(spb.ErrorDetail.DESCRIPTOR):
                d = spb.ErrorDetail()
                any_.Unpack(d)
                return detail_to_error(d)
            if any_.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                any_.Unpack(info)
                reason = info.reason
        code = exc.code().name
        return ERROR_CLASSES.get(code, DataPackError)(status.message, reason or code)
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    message = exc.details() if hasattr(exc, "details") and exc.details() else str(exc)
    cls = ERROR_CLASSES.get(code.name, DataPackError)
    if cls is DataPackError and code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN):
        cls = UnavailableError
    return cls(message, code.name)
