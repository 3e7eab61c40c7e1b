"""Prometheus metrics of one server (`datapack serve --metrics-port P`).

Each server has its own CollectorRegistry (never the process-wide default), so
several servers in one process (tests) keep separate counts. Served on the
HTTP side port with /healthz and /readyz (http_side.py).

    datapack_appended_packs_total{task,status}   packs acknowledged (created,
                                                  already_present) or rejected;
                                                  rejected records whose task holds
                                                  no packs count as task="(unknown)"
    datapack_ack_seconds{source}                  per append / ingest batch, from its
                                                  receipt by the service to its durable
                                                  acknowledgement
    datapack_fsync_seconds                        per task and group commit: write and
                                                  fsync of the lines and their checksum
                                                  entries (the fsyncs dominate)
    datapack_rpc_seconds{method}                  every RPC of DataPackService and
                                                  SkillAdapterService, whole call
                                                  (streams: until their last message)
    datapack_rpc_errors_total{method,code}        calls that ended with a status other than OK
    datapack_open_streams{method}                 streaming calls in progress
    datapack_packs{store,task}                    packs of every loaded task, read from
                                                  the index sizes at each scrape

Label values are bounded: methods come from the registered services, tasks
from the stored ones, statuses and codes from fixed sets.

Needs prometheus-client (`pip install 'datapack[metrics]'`); only imported when
a metrics port is configured.
"""
from __future__ import annotations

import time

import grpc
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from datapack_server.engine.store import StoreObserver

# Acknowledgement and fsync latencies: fsync on local disks takes 0.1-30 ms,
# a stalled disk seconds. RPCs span sub-millisecond gets to minute-long streams.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
               60.0, 300.0)


class _PacksCollector:
    """datapack_packs from the loaded tasks' index sizes, computed per scrape."""

    def __init__(self, service):
        self._service = service

    def collect(self):
        family = GaugeMetricFamily("datapack_packs", "Packs stored per loaded task", labels=("store", "task"))
        for store, task, n in self._service.task_sizes():
            family.add_metric((store, task), n)
        yield family


class ServerMetrics(StoreObserver):
    """The metrics of one server: the store's observer (appends, fsync,
    acknowledgements) plus what the interceptor records per RPC."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.appended_packs = Counter("datapack_appended_packs", "Packs appended, by task and status",
                                      ("task", "status"), registry=r)
        self.ack_seconds = Histogram("datapack_ack_seconds",
                                     "Per append or ingest batch: receipt to durable acknowledgement",
                                     ("source",), buckets=LATENCY_BUCKETS, registry=r)
        self.fsync_seconds = Histogram("datapack_fsync_seconds",
                                       "Write + fsync of one task's lines and checksum entries per group commit",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.rpc_seconds = Histogram("datapack_rpc_seconds", "RPC duration (streams: whole call)", ("method",),
                                     buckets=RPC_BUCKETS, registry=r)
        self.rpc_errors = Counter("datapack_rpc_errors", "RPCs that ended with a status other than OK",
                                  ("method", "code"), registry=r)
        self.open_streams = Gauge("datapack_open_streams", "Streaming RPCs in progress", ("method",), registry=r)

    def watch(self, service) -> None:
        """Report the packs per loaded task of `service` at each scrape."""
        self.registry.register(_PacksCollector(service))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # -- StoreObserver

    def fsync(self, seconds: float) -> None:
        self.fsync_seconds.observe(seconds)

    def appended(self, task: str, status: str, n: int) -> None:
        self.appended_packs.labels(task, status).inc(n)

    def acknowledged(self, source: str, seconds: float) -> None:
        self.ack_seconds.labels(source).observe(seconds)


class MetricsInterceptor(grpc.ServerInterceptor):
    """Duration, final status and open streams of every call whose method
    starts with one of `prefixes`. Placed outermost, so calls refused by the
    authentication or the start-up gate are counted with their codes too."""

    def __init__(self, metrics: ServerMetrics, prefixes: tuple[str, ...]):
        self._m = metrics
        self._prefixes = prefixes

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or not method.startswith(self._prefixes):
            return handler
        label = method.lstrip("/")
        seconds = self._m.rpc_seconds.labels(label)
        if handler.unary_unary:
            return handler._replace(unary_unary=self._unary(handler.unary_unary, label, seconds))
        if handler.stream_unary:
            return handler._replace(stream_unary=self._unary(handler.stream_unary, label, seconds))
        streams = self._m.open_streams.labels(label)
        if handler.unary_stream:
            return handler._replace(unary_stream=self._streaming(handler.unary_stream, label, seconds, streams))
        if handler.stream_stream:
            return handler._replace(stream_stream=self._streaming(handler.stream_stream, label, seconds, streams))
        return handler

    def _failed(self, label: str, context) -> None:
        code = context.code()
        if isinstance(code, grpc.StatusCode):
            name = code.name
        else:  # ended without a status: the client left, or the handler raised outside the error interceptor
            name = "UNKNOWN" if context.is_active() else "CANCELLED"
        if name != "OK":
            self._m.rpc_errors.labels(label, name).inc()

    def _unary(self, fn, label, seconds):
        def wrapped(request, context):
            t0 = time.perf_counter()
            try:
                response = fn(request, context)
            except BaseException:
                self._failed(label, context)
                raise
            finally:
                seconds.observe(time.perf_counter() - t0)
            if context.code() not in (None, grpc.StatusCode.OK):  # set_code without raising
                self._failed(label, context)
            return response
        return wrapped

    def _streaming(self, fn, label, seconds, streams):
        def wrapped(request, context):
            t0 = time.perf_counter()
            streams.inc()
            try:
                yield from fn(request, context)
            except GeneratorExit:
                # The transport closed the stream: its client cancelled or ran out of time.
                self._m.rpc_errors.labels(label, "CANCELLED").inc()
                raise
            except BaseException:
                self._failed(label, context)
                raise
            else:
                if context.code() not in (None, grpc.StatusCode.OK):
                    self._failed(label, context)
            finally:
                streams.dec()
                seconds.observe(time.perf_counter() - t0)
        return wrapped
