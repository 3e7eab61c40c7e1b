"""One place where domain errors become gRPC statuses.

Every DataPackError leaves the server as a google.rpc.Status with an ErrorInfo
(reason, domain), a BadRequest (field violations) when there are violations,
and a datapack.v1.ErrorDetail carrying the violations in full. Anything else
is INTERNAL and logged with its traceback.

CallGate (below) admits, counts and drains the datapack calls: start-up
readiness, graceful shutdown, calls whose client has gone.
"""
from __future__ import annotations

import logging
import threading

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from datapack_client.errors import DataPackError, DeadlineExceededError, InternalError, UnavailableError
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb

log = logging.getLogger("datapack.server")
DOMAIN = "datapack.v1"
BAD_REQUEST_MAX = 100


def error_detail(err: DataPackError) -> spb.ErrorDetail:
    return spb.ErrorDetail(code=err.code, reason=err.reason, message=err.message, violations=[
        spb.FieldViolation(index=v.index, pack_id=v.pack_id or "", field=v.field, reason=v.reason,
                           message=v.message) for v in err.violations])


def _request_field(v) -> str:
    """The violation's field within the request: data_packs[i].<path> for a
    record's field, data_packs[i] for a record that could not be decoded at all
    (no field), the argument's name for an argument (no index, no pack id)."""
    if not v.field:
        return f"data_packs[{v.index}]"
    return f"data_packs[{v.index}].{v.field}" if v.pack_id is not None or v.index else v.field


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
                field=_request_field(v),
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


STARTING, SERVING, DRAINING = "starting", "serving", "draining"


class CallGate(grpc.ServerInterceptor):
    """Admission and drain for the calls of the given services (by method
    prefix; health and reflection pass through untouched).

    * Starting (stores still loading): every call is refused with UNAVAILABLE
      (STARTING), so no client ever sees a half-loaded store.
    * Draining (shutdown): a request stream ends with UNAVAILABLE
      (SHUTTING_DOWN) instead of taking its next message, so a client re-sends
      what was not acknowledged to the next server; calls not yet started are
      refused the same way. Calls already working finish.
    * A call whose client is already gone (cancelled, or its deadline passed
      while it waited for a thread) is not started.
    * `busy` counts calls doing work: unary calls and response streams for
      their whole life, request streams except while they wait for their next
      message. Shutdown waits for busy == 0 (within the grace period) and then
      cancels what is left: idle streams, which hold nothing unacknowledged.
    """

    def __init__(self, prefixes: tuple[str, ...]):
        self._prefixes = prefixes
        self._cv = threading.Condition()
        self.state = STARTING
        self.busy = 0
        self.active = 0  # calls in progress, busy or waiting for a message

    # -- state

    @property
    def serving(self) -> bool:
        return self.state == SERVING

    def serve(self) -> None:
        with self._cv:
            if self.state == STARTING:
                self.state = SERVING

    def drain(self) -> None:
        with self._cv:
            self.state = DRAINING
            self._cv.notify_all()

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until no call is doing work; False if timeout passed first."""
        with self._cv:
            return self._cv.wait_for(lambda: self.busy == 0, timeout)

    def _refusal(self) -> UnavailableError | None:
        if self.state == STARTING:
            return UnavailableError("the server is starting (loading its stores); retry shortly", "STARTING")
        if self.state == DRAINING:
            return UnavailableError("the server is shutting down; retry on its successor", "SHUTTING_DOWN")
        return None

    def _admit(self, context) -> None:
        err = self._refusal()
        if err is not None:
            raise err
        if not context.is_active():
            raise DeadlineExceededError("the client left before the call started", "CLIENT_GONE")

    def _add(self, busy: int, active: int) -> None:
        with self._cv:
            self.busy += busy
            self.active += active
            if self.busy == 0:
                self._cv.notify_all()

    # -- wrapping

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(self._prefixes):
            return handler
        if handler.unary_unary:
            return handler._replace(unary_unary=self._unary(handler.unary_unary, False))
        if handler.unary_stream:
            return handler._replace(unary_stream=self._streaming(handler.unary_stream, False))
        if handler.stream_unary:
            return handler._replace(stream_unary=self._unary(handler.stream_unary, True))
        if handler.stream_stream:
            return handler._replace(stream_stream=self._streaming(handler.stream_stream, True))
        return handler

    def _requests(self, iterator):
        """The request stream, idle while waiting for a message, ending with
        UNAVAILABLE once draining (before or after a message arrives: one that
        arrived is not processed, so its sender re-sends it elsewhere)."""
        while True:
            self._add(-1, 0)
            try:
                if self.state == DRAINING:
                    raise self._refusal()
                request = next(iterator, _END)
            finally:
                self._add(1, 0)
            if request is _END:
                return
            if self.state == DRAINING:
                raise self._refusal()
            yield request

    def _unary(self, fn, request_streaming: bool):
        def wrapped(request, context):
            self._admit(context)
            self._add(1, 1)
            try:
                return fn(self._requests(request) if request_streaming else request, context)
            finally:
                self._add(-1, -1)
        return wrapped

    def _streaming(self, fn, request_streaming: bool):
        def wrapped(request, context):
            self._admit(context)
            self._add(1, 1)
            try:
                yield from fn(self._requests(request) if request_streaming else request, context)
            finally:
                self._add(-1, -1)
        return wrapped


_END = object()
