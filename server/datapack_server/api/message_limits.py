"""The request size limit (ServerConfig.max_message_bytes), refused with a status that says what to do.

gRPC's own check refuses a request over its receive limit before any handler runs: the client gets
"Received message larger than max (N vs. L)" and the server sees nothing, so it cannot log it. The
server therefore sets gRPC's receive limit to `receive_ceiling(limit)`, twice the configured one,
and MessageSizeInterceptor refuses requests between the two itself: RESOURCE_EXHAUSTED
(MESSAGE_TOO_LARGE) naming the limit and how to send the data instead (parts under the limit, or
the AppendDataPacks stream), and one log line with the method, the size, the limit and the peer
(at most one line per LOG_INTERVAL seconds; the next line counts those left out). A request over
the ceiling is still refused by gRPC unread, which bounds the memory a caller can make the server
hold; its client gets gRPC's message, naming the ceiling.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from datapack_client.errors import ResourceExhaustedError

log = logging.getLogger("datapack.server")
MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
READ_BEYOND_LIMIT = 2  # requests up to this multiple of the limit are read, refused and logged by us
LOG_INTERVAL = 10.0  # seconds between two log lines about refused requests
_GRPC_MAX = 2**31 - 1  # gRPC's limits are C ints

_APPEND_ADVICE = {
    "AppendDataPacksBatch": "send the batch as several requests under the limit (the Python client's "
                            "append_batch does this), or stream it over AppendDataPacks in batches under the limit",
    "AppendDataPacks": "send smaller batches on the stream: each AppendDataPacks message is one batch and must be "
                       "under the limit",
    "IngestEpisodes": "send fewer episodes per IngestEpisodes message (ingest_episodes' batch_size)",
}


def receive_ceiling(limit: int) -> int:
    """gRPC's receive limit for a server whose configured limit is `limit`."""
    return min(limit * READ_BEYOND_LIMIT, _GRPC_MAX) if limit > 0 else limit


class OversizeRequest:
    """What the deserializer hands on instead of a request over the limit (never parsed)."""

    __slots__ = ("size",)

    def __init__(self, size: int):
        self.size = size


class RefusalLog:
    """Log lines about refused requests, at most one per `interval` seconds."""

    def __init__(self, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._next = float("-inf")
        self._left_out = 0

    def refused(self, method: str, size: int, limit: int, peer: str) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._left_out += 1
                return
            left_out, self._left_out, self._next = self._left_out, 0, now + self._interval
        more = f" ({left_out} more refused since the previous line)" if left_out else ""
        log.warning("refused %s from %s: request message of %d bytes is over the limit of %d bytes "
                    "(max_message_bytes)%s", method, peer, size, limit, more)


class MessageSizeInterceptor(grpc.ServerInterceptor):
    """Refuses every request message over `limit` bytes (module docstring): placed inside the
    ErrorInterceptor, which turns the raised ResourceExhaustedError into the call's status."""

    def __init__(self, limit: int, refusals: RefusalLog | None = None):
        self.limit = limit
        self.refusals = refusals or RefusalLog()

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or self.limit <= 0:
            return handler
        method = handler_call_details.method or ""
        handler = handler._replace(request_deserializer=self._deserializer(handler.request_deserializer))
        if handler.unary_unary:
            return handler._replace(unary_unary=self._unary(handler.unary_unary, method))
        if handler.unary_stream:
            return handler._replace(unary_stream=self._unary(handler.unary_stream, method))
        if handler.stream_unary:
            return handler._replace(stream_unary=self._streamed(handler.stream_unary, method))
        if handler.stream_stream:
            return handler._replace(stream_stream=self._streamed(handler.stream_stream, method))
        return handler

    def _deserializer(self, parse: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
        limit = self.limit

        def deserialize(data: bytes) -> Any:
            if len(data) > limit:
                return OversizeRequest(len(data))
            return parse(data) if parse is not None else data
        return deserialize

    def refusal(self, method: str, size: int, context) -> ResourceExhaustedError:
        """The error that ends a call whose request was over the limit (and its log line)."""
        self.refusals.refused(method, size, self.limit, context.peer())
        name = method.rsplit("/", 1)[-1]
        advice = _APPEND_ADVICE.get(name, "send less per request")
        return ResourceExhaustedError(
            f"{name}: the request message of {size:,} bytes is over this server's message limit of "
            f"{self.limit:,} bytes; {advice}", MESSAGE_TOO_LARGE)

    def _unary(self, fn, method: str):
        # Unary-request handlers (unary or streamed responses) return or yield what fn does:
        # the refusal is raised before fn is called, so a plain wrapper serves both.
        def wrapped(request, context):
            if isinstance(request, OversizeRequest):
                raise self.refusal(method, request.size, context)
            return fn(request, context)
        return wrapped

    def _streamed(self, fn, method: str):
        def wrapped(request_iterator, context):
            return fn(self._checked(request_iterator, method, context), context)
        return wrapped

    def _checked(self, requests: Iterator[Any], method: str, context) -> Iterator[Any]:
        """The request stream, ending with the refusal at the first message over the limit
        (the messages before it have been handled and answered)."""
        for request in requests:
            if isinstance(request, OversizeRequest):
                raise self.refusal(method, request.size, context)
            yield request
