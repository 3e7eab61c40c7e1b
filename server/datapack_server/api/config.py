"""ServerConfig: everything `datapack serve` (or an in-process caller of
app.build_server) sets about a server."""
from __future__ import annotations

from dataclasses import dataclass

MAX_MESSAGE_BYTES = 64 << 20  # docs/repository.md §4.2: portable records reach ~0.5 MB each


@dataclass
class ServerConfig:
    data_dir: str = "data/datapacks"
    # A missing data_dir is refused at start-up (NotFoundError, DATA_DIR_NOT_FOUND)
    # unless this is set (`datapack serve --create`): then it is made, and logged.
    create_data_dir: bool = False
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
    # Folders ExportPortable may read raw episode data from (records name the
    # paths; nothing outside is read). None: anywhere the process can read.
    raw_roots: tuple[str, ...] | None = None
    # Largest message received or sent (a larger one: RESOURCE_EXHAUSTED, the
    # channel stays usable). Clients use 64 MiB; streamed results adapt.
    max_message_bytes: int = MAX_MESSAGE_BYTES
    # Load every task found under the data root before reporting SERVING.
    warm_up: bool = True
    # HTTP side port with /metrics (Prometheus; needs prometheus-client),
    # /healthz and /readyz, bound to `host`; 0 picks a free one, None: none.
    metrics_port: int | None = None

    @property
    def address(self) -> str:
        """host:port as gRPC binds it (an IPv6 host in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
