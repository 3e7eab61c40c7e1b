"""Server assembly: build_server(config) -> RunningServer.

Lifecycle (health service names: "" and each service's full name for the
process; WRITE_HEALTH_NAME for writes):
  starting  port bound, every name NOT_SERVING, datapack calls refused with
            UNAVAILABLE (STARTING) while the stores found under the data root
            are loaded (ServerConfig.warm_up), so no client sees a half-loaded
            store; then SERVING.
  serving   WRITE_HEALTH_NAME turns NOT_SERVING while a store's disk is full
            (appends fail with RESOURCE_EXHAUSTED, reads are served) and
            SERVING again once a probe write succeeds (service/space.py WriteWatch).
  stopping  stop(): every name NOT_SERVING at once; request streams end with
            UNAVAILABLE (SHUTTING_DOWN) before their next message; calls doing
            work finish within the grace period; then the rest is cancelled.
"""
from __future__ import annotations

import errno
import logging
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_server.api import security
from datapack_server.api.adapter_servicer import SERVICE_NAME as ADAPTER_SERVICE_NAME
from datapack_server.api.adapter_servicer import SkillAdapterServicer, add_adapter_servicer
from datapack_server.api.config import ServerConfig
from datapack_server.api.interceptors import DRAINING, STARTING, CallGate, ErrorInterceptor
from datapack_server.api.message_limits import MessageSizeInterceptor, receive_ceiling
from datapack_server.api.servicer import SERVICE_NAME, DataPackServicer, add_servicer
from datapack_server.observability import tracing
from datapack_server.observability.logs import RequestIdInterceptor
from datapack_server.service.facade import DataPackService

if TYPE_CHECKING:  # prometheus-client is optional: imported only when metrics are served
    from datapack_server.observability.metrics import ServerMetrics

log = logging.getLogger("datapack.server")
WRITE_HEALTH_NAME = SERVICE_NAME + "/write"
PREFIXES = ("/" + SERVICE_NAME + "/", "/" + ADAPTER_SERVICE_NAME + "/")  # the calls the interceptors handle
ANNOUNCE_SECONDS = 0.2  # at least this long between NOT_SERVING and cancelling calls (within the grace period)


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    service: DataPackService
    health: health.HealthServicer
    config: ServerConfig
    gate: CallGate
    _ready: threading.Event = field(default_factory=threading.Event)
    _start_error: BaseException | None = None
    _health_lock: threading.Lock = field(default_factory=threading.Lock)
    _up: bool = False  # loaded: health may say SERVING
    _stopping: bool = False
    metrics: object | None = None  # metrics.ServerMetrics when a metrics port is served
    side: object | None = None  # http_side.SideServer
    tracer: object | None = None  # tracing.TracingInterceptor when OTEL_* asked for tracing

    @property
    def metrics_port(self) -> int | None:
        """The bound HTTP side port (/metrics, /healthz, /readyz), None without one."""
        return self.side.port if self.side is not None else None

    def readiness(self) -> tuple[bool, str]:
        """(ready, why) as /readyz reports it: ready while the health name ""
        is SERVING (loaded, not shutting down); writes may still be refused."""
        with self._health_lock:
            up, stopping = self._up, self._stopping
        if stopping or self.gate.state == DRAINING:
            return False, "NOT_SERVING: shutting down"
        if not up or self.gate.state == STARTING:
            return False, "NOT_SERVING: loading stores"
        if not self.service.writable:
            return True, f"SERVING; {WRITE_HEALTH_NAME} NOT_SERVING: no space left, appends are refused"
        return True, "SERVING"

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once SERVING (False if timeout passed first); raises what made
        the start-up fail."""
        if not self._ready.wait(timeout):
            return False
        if self._start_error is not None:
            raise self._start_error
        return True

    def load(self, stores: list[str]) -> None:
        """Warm the stores up, then report SERVING (start-up errors go to wait_ready)."""
        try:
            if self.config.warm_up:
                n = self.service.warm(stores)
                log.info("loaded %d task(s) of %d store(s)", n, len(stores))
            # Health first, then the gate: an append is never accepted while
            # health still says NOT_SERVING.
            with self._health_lock:
                self._up = True
                for name in ("", SERVICE_NAME, ADAPTER_SERVICE_NAME):
                    self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
            self.write_state_changed()
            self.gate.serve()
        except BaseException as exc:  # noqa: BLE001 - handed to wait_ready()
            self._start_error = exc
        finally:
            self._ready.set()

    def write_state_changed(self, _writable: bool | None = None) -> None:
        """Set the write health name (a WriteWatch listener)."""
        # Recomputed from the current state under a lock (never from the
        # argument), so concurrent changes cannot leave a stale status behind.
        with self._health_lock:
            ok = self._up and self.service.writable
            self.health.set(WRITE_HEALTH_NAME, health_pb2.HealthCheckResponse.SERVING if ok
                            else health_pb2.HealthCheckResponse.NOT_SERVING)

    @property
    def address(self) -> str:
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def stop(self, grace: float | None = None) -> None:
        """Graceful stop: NOT_SERVING at once, in-flight calls finish within the
        grace period (appends are acknowledged or failed, never half-written).
        Request streams waiting for their next message hold nothing
        unacknowledged: once no call is working they are cancelled rather than
        kept until the grace period ends, so a stop takes what the work needs."""
        grace = self.config.grace_seconds if grace is None else grace
        t0 = time.monotonic()
        with self._health_lock:
            self._stopping = True
        self.health.enter_graceful_shutdown()
        self.gate.drain()
        self.server.stop(grace)  # no new calls; cancels whatever is left when the grace period ends
        self.gate.wait_idle(grace)
        # Health watchers get NOT_SERVING on their stream before it is cancelled.
        time.sleep(max(0.0, min(grace, ANNOUNCE_SECONDS) - (time.monotonic() - t0)))
        self.server.stop(None).wait()
        self.service.close()
        if self.side is not None:
            self.side.stop()
        if self.tracer is not None:
            self.tracer.provider.shutdown()


def build_server(config: ServerConfig, wait_ready: bool = True) -> RunningServer:
    """Bind and start; the stores are loaded on a background thread with every
    health name NOT_SERVING. wait_ready=True returns once SERVING (what
    in-process users want); the CLI passes False to report the bound port first.
    Raises NotFoundError (DATA_DIR_NOT_FOUND) when the data directory does not
    exist and config.create_data_dir is not set, FailedPreconditionError when
    it (or a store or task file in it) cannot be written, before binding anything."""
    # Unusable tokens or keys fail here (SecurityConfigError), before anything starts.
    auth_interceptors, credentials = security.from_config(config)
    metrics = _metrics(config)
    service = DataPackService(config.data_dir, fsync=config.fsync, cache_bytes=config.cache_bytes,
                              workers=config.workers, skill_catalogues=config.skill_catalogues,
                              exclusive=config.exclusive, raw_roots=config.raw_roots, create=config.create_data_dir,
                              **({"observer": metrics} if metrics is not None else {}))
    side = tracer = None
    try:
        stores = service.preflight()
        gate = CallGate(PREFIXES)
        observing, tracer = _observing_interceptors(service, metrics)
        server = _grpc_server(config, [*observing, *auth_interceptors, ErrorInterceptor(),
                                       MessageSizeInterceptor(config.max_message_bytes), gate])
        health_servicer = _add_services(server, service, config)
        port = _bind(server, config, credentials)
        running = RunningServer(server, port, service, health_servicer, config, gate, metrics=metrics,
                                tracer=tracer)
        if metrics is not None:
            from datapack_server.observability.http_side import SideServer
            side = SideServer(config.host, config.metrics_port, running.readiness, metrics.exposition)
        server.start()
        if side is not None:
            running.side = side.start()
    except BaseException:
        if side is not None:
            side.stop()
        if tracer is not None:
            tracer.provider.shutdown()
        service.close()
        raise
    _start_loading(running, stores, wait_ready)
    return running


def _metrics(config: ServerConfig) -> ServerMetrics | None:
    """The Prometheus metrics when a metrics port is asked for."""
    if config.metrics_port is None:
        return None
    try:
        from datapack_server.observability.metrics import ServerMetrics
    except ImportError as exc:  # prometheus-client is optional (the metrics extra)
        raise ImportError(f"metrics_port needs prometheus-client: pip install 'datapack[metrics]' ({exc})") from exc
    return ServerMetrics()


def _observing_interceptors(service: DataPackService, metrics: ServerMetrics | None
                            ) -> tuple[list[grpc.ServerInterceptor], Any]:
    """Outermost first: the request id, the tracing and the metrics see every
    call, including those refused by the authentication or the start-up gate."""
    observing: list[grpc.ServerInterceptor] = [RequestIdInterceptor(PREFIXES)]
    tracer = tracing.interceptor(PREFIXES)
    if tracer is not None:
        observing.append(tracer)
    if metrics is not None:
        from datapack_server.observability.metrics import MetricsInterceptor
        metrics.watch(service)
        observing.append(MetricsInterceptor(metrics, PREFIXES))
    return observing, tracer


def _grpc_server(config: ServerConfig, interceptors: list[grpc.ServerInterceptor]) -> grpc.Server:
    return grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="datapack-rpc"),
        interceptors=interceptors,
        options=[
            # Up to the ceiling gRPC hands requests over the limit to MessageSizeInterceptor, which
            # refuses them with a status naming the limit and logs them (message_limits.py).
            ("grpc.max_receive_message_length", receive_ceiling(config.max_message_bytes)),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.keepalive_time_ms", 60_000),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.so_reuseport", 0),
            # Backpressure: a stream's handler takes its next request only once the
            # previous batch is durable, so a stalled writer leaves the rest to HTTP/2
            # flow control. A fixed 1 MiB receive window per stream (instead of one
            # grown by BDP probing, measured at ~6 MB a stream) bounds what the server
            # buffers: 8 streams into a stalled disk grew RSS by ~40 MB instead of
            # ~63 MB (reliability/backpressure.py); localhost throughput unchanged.
            ("grpc.http2.bdp_probe", 0),
            ("grpc.http2.lookahead_bytes", 1 << 20),
        ],
    )


def _add_services(server: grpc.Server, service: DataPackService, config: ServerConfig) -> health.HealthServicer:
    """The datapack and adapter servicers, health (every name NOT_SERVING
    until loaded) and reflection."""
    add_servicer(server, DataPackServicer(service, config.max_message_bytes))
    add_adapter_servicer(server, SkillAdapterServicer(service, config.max_message_bytes))
    health_servicer = health.HealthServicer()
    for name in ("", SERVICE_NAME, ADAPTER_SERVICE_NAME, WRITE_HEALTH_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (spb.DESCRIPTOR.services_by_name["DataPackService"].full_name, ADAPTER_SERVICE_NAME, health.SERVICE_NAME,
         reflection.SERVICE_NAME), server)
    return health_servicer


def _bind(server: grpc.Server, config: ServerConfig, credentials: grpc.ServerCredentials | None) -> int:
    try:
        port = (server.add_secure_port(config.address, credentials) if credentials is not None
                else server.add_insecure_port(config.address))
    except RuntimeError:  # newer grpcio raises where older ones returned 0
        port = 0
    if port == 0:
        raise OSError(errno.EADDRINUSE, f"cannot bind {config.address}: the address is in use or not available")
    return port


def _start_loading(running: RunningServer, stores: list[str], wait_ready: bool) -> None:
    """Load the stores on a background thread (health follows the disks'
    write state from then on); wait_ready: until SERVING."""
    if running.service.space is not None:
        running.service.space.add_listener(running.write_state_changed)
    threading.Thread(target=running.load, args=(stores,), name="datapack-warm-up", daemon=True).start()
    if wait_ready:
        try:
            running.wait_ready()
        except BaseException:
            running.stop(0)
            raise
