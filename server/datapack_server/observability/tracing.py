"""OpenTelemetry tracing, only when asked for by the standard environment.

Enabled when OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
or OTEL_TRACES_EXPORTER (other than "none") is set AND the OpenTelemetry SDK
is importable (`pip install opentelemetry-sdk opentelemetry-exporter-otlp`; not
a dependency of datapack). Then every RPC of the datapack services is a server
span named after its method, parented by the client's `traceparent` metadata
when present, with the request id and the final status code as attributes.
The SDK reads the rest of its configuration (OTEL_SERVICE_NAME, headers,
sampler, ...) from the environment itself. With the variables set but the SDK
missing, one warning is logged and the server runs untraced.
"""
from __future__ import annotations

import logging
import os

import grpc

from datapack_server.observability import logs

log = logging.getLogger("datapack.tracing")

TRIGGER_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER")


def requested(environ=None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(v, "").strip() for v in TRIGGER_VARIABLES)


def _exporter(env):
    """The span exporter OTEL_TRACES_EXPORTER names (default otlp, over gRPC
    unless OTEL_EXPORTER_OTLP_PROTOCOL says http/protobuf)."""
    kind = env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip().lower() or "otlp"
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        return ConsoleSpanExporter()
    if kind != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={kind!r} is not supported here (otlp, console, none)")
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"))
    if protocol.strip().lower().startswith("http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter,
        )
    return OTLPSpanExporter()


def interceptor(prefixes: tuple[str, ...], environ=None) -> grpc.ServerInterceptor | None:
    """A TracingInterceptor when tracing is requested and available, else None
    (with one warning when it is requested but cannot be set up)."""
    env = os.environ if environ is None else environ
    if not requested(env):
        return None
    try:
        from opentelemetry import propagate, trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        exporter = _exporter(env)
    except ImportError as exc:
        log.warning("OpenTelemetry variables are set (%s) but tracing is off: %s; install it with "
                    "pip install opentelemetry-sdk opentelemetry-exporter-otlp",
                    ", ".join(v for v in TRIGGER_VARIABLES if env.get(v)), exc)
        return None
    except ValueError as exc:
        log.warning("tracing is off: %s", exc)
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "datapack")}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return TracingInterceptor(provider.get_tracer("datapack_server"), propagate, trace, prefixes, provider)


class TracingInterceptor(grpc.ServerInterceptor):
    def __init__(self, tracer, propagate, trace, prefixes: tuple[str, ...], provider=None):
        self._tracer = tracer
        self._propagate = propagate
        self._trace = trace
        self._prefixes = prefixes
        self.provider = provider  # shut down with the server (flushes pending spans)

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or not method.startswith(self._prefixes):
            return handler
        carrier = {k: v for k, v in handler_call_details.invocation_metadata or () if isinstance(v, str)}
        service, _, name = method.lstrip("/").partition("/")
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
        kinds = ("unary_unary", "stream_unary", "unary_stream", "stream_stream")
        kind = next(k for k in kinds if getattr(handler, k) is not None)
        fn = getattr(handler, kind)
        start = self._start_span(method.lstrip("/"), carrier, attributes)
        wrapped = self._unary(fn, start) if kind in kinds[:2] else self._streaming(fn, start)
        return handler._replace(**{kind: wrapped})

    def _start_span(self, span_name, carrier, attributes):
        def start():
            ctx = self._propagate.extract(carrier)
            return self._tracer.start_as_current_span(span_name, context=ctx, kind=self._trace.SpanKind.SERVER,
                                                      attributes=attributes)
        return start

    def _finish(self, span, context) -> None:
        rid = logs.request_id.get()
        if rid is not None:
            span.set_attribute("datapack.request_id", rid)
        code = context.code()
        code = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code is not grpc.StatusCode.OK:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, code.name))

    def _unary(self, fn, start):
        def wrapped(request, context):
            with start() as span:
                try:
                    return fn(request, context)
                finally:
                    self._finish(span, context)
        return wrapped

    def _streaming(self, fn, start):
        def wrapped(request, context):
            with start() as span:
                try:
                    yield from fn(request, context)
                finally:
                    self._finish(span, context)
        return wrapped
