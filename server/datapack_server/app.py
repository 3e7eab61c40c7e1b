"""Server assembly: build_server(config) -> RunningServer (never blocks)."""
from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb

from .adapter_servicer import SERVICE_NAME as ADAPTER_SERVICE_NAME
from .adapter_servicer import SkillAdapterServicer, add_adapter_servicer
from . import security
from .interceptors import ErrorInterceptor
from .service import DataPackService
from .servicer import SERVICE_NAME, DataPackServicer, add_servicer

log = logging.getLogger("datapack.server")
MAX_MESSAGE_BYTES = 64 << 20  # repository.md §4.2: portable records reach ~0.5 MB each


@dataclass
class ServerConfig:
    data_dir: str = "data/datapacks"
    host: str = "127.0.0.1"
    port: int = 50051  # 0 picks a free port
    fsync: bool = True
    # A sync server gives each open stream one pool thread: size for the
    # simulators that stream concurrently plus the queries served beside them.
    max_workers: int = 64
    grace_seconds: float = 10.0
    cache_bytes: int = 64 << 20
    # Worker processes for decoding appends and parsing large files; 0 = none
    # (everything in the server process). The CLI defaults to the core count.
    workers: int = 0
    # {task: {skill id: name}} replacing the default catalogue of those tasks.
    skill_catalogues: dict | None = None
    # One server per data root (a second is refused). False lets several share
    # one (writes still serialise on the task locks); tests use it.
    exclusive: bool = True
    # Security (security.py). token_file: bearer tokens with roles; tls_cert +
    # tls_key: serve TLS only; tls_client_ca: also require client certificates
    # it signed (mutual TLS). All None: plaintext without authentication.
    token_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    service: DataPackService
    health: health.HealthServicer
    config: ServerConfig

    @property
    def address(self) -> str:
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def stop(self, grace: float | None = None) -> None:
        """Graceful stop: NOT_SERVING at once, in-flight calls finish within the
        grace period (appends are acknowledged or failed, never half-written)."""
        self.health.enter_graceful_shutdown()
        self.server.stop(self.config.grace_seconds if grace is None else grace).wait()
        self.service.close()


def build_server(config: ServerConfig) -> RunningServer:
    # Unusable tokens or keys fail here (SecurityConfigError), before anything starts.
    auth_interceptors, credentials = security.from_config(config)
    service = DataPackService(config.data_dir, fsync=config.fsync, cache_bytes=config.cache_bytes,
                              workers=config.workers, skill_catalogues=config.skill_catalogues,
                              exclusive=config.exclusive)
    try:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="datapack-rpc"),
            interceptors=[*auth_interceptors, ErrorInterceptor()],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.keepalive_time_ms", 60_000),
                ("grpc.keepalive_timeout_ms", 20_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.so_reuseport", 0),
            ],
        )
        add_servicer(server, DataPackServicer(service))
        add_adapter_servicer(server, SkillAdapterServicer(service))
        health_servicer = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (spb.DESCRIPTOR.services_by_name["DataPackService"].full_name, ADAPTER_SERVICE_NAME, health.SERVICE_NAME,
             reflection.SERVICE_NAME), server)
        address = f"[{config.host}]:{config.port}" if ":" in config.host else f"{config.host}:{config.port}"
        port = (server.add_secure_port(address, credentials) if credentials is not None
                else server.add_insecure_port(address))
        if port == 0:
            raise OSError(f"cannot bind {config.host}:{config.port}")
        server.start()
    except BaseException:
        service.close()
        raise
    for name in ("", SERVICE_NAME, ADAPTER_SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, service, health_servicer, config)
