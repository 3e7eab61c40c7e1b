"""The gRPC channel of a remote repository: message size limits, keepalive,
retries of idempotent reads, TLS and bearer-token options (README "Secure
deployment")."""
from __future__ import annotations

import collections
import ipaddress
import os
import re
from typing import Any

import grpc  # type: ignore[import-untyped]

from datapack_client.errors import invalid

MAX_MESSAGE_BYTES = 64 << 20
DEFAULT_PORT = 50051  # `datapack serve`'s port, also the port of a target that names none

# gRPC's own target forms (name resolvers), dialled as given.
_RESOLVER_SCHEMES = ("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:", "xds:", "google-c2p:")


def dial_target(target: str) -> str:
    """The gRPC target to dial for a `connect` target: a host without a port
    gets DEFAULT_PORT (gRPC alone would dial 443, the HTTPS port): `localhost`
    -> `localhost:50051`, `[::1]` or a bare `::1` -> `[::1]:50051`. `host:port`,
    `[v6]:port` and gRPC's resolver forms (`dns:`, `unix:`, `unix-abstract:`,
    `ipv4:`, `ipv6:`, `vsock:`, `xds:`, anything with `://`) are dialled as
    given. Empty or not a string -> INVALID_ARGUMENT on `target`."""
    if not isinstance(target, str) or not target.strip():
        raise invalid("target", "ARGUMENT_INVALID",
                      f"target must be host[:port] (port {DEFAULT_PORT} by default) or a gRPC target, got {target!r}")
    if "://" in target or target.lower().startswith(_RESOLVER_SCHEMES):
        return target
    if target.startswith("["):
        return target + f":{DEFAULT_PORT}" if target.endswith("]") else target
    host, colon, port = target.rpartition(":")
    if not colon:
        return f"{target}:{DEFAULT_PORT}"
    if ":" in host:  # more than one colon and no brackets: a bare IPv6 address, unless it parses otherwise
        try:
            return f"[{ipaddress.IPv6Address(target)}]:{DEFAULT_PORT}"
        except ValueError:
            return target
    return f"{host}:{DEFAULT_PORT}" if port == "" else target


# The longest wait between two connection attempts to a server that cannot be
# reached, by default (connect(reconnect_backoff=...)). gRPC's own default grows
# to 120 s, so a restarted server could go unnoticed for minutes.
DEFAULT_RECONNECT_BACKOFF = 1.0
RECONNECT_JITTER = 0.2  # gRPC spreads each backoff by +-20 %


def reconnect_options(reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF) -> list[tuple[str, Any]]:
    """Channel options bounding the time between connection attempts by
    `reconnect_backoff` seconds, gRPC's jitter included: the first retry after
    0.1 s (or sooner), then growing x1.6 up to the bound. A connection attempt
    that hangs (no answer at all, not a refusal) still runs until gRPC's connect
    timeout (20 s) before the next one starts."""
    if not (isinstance(reconnect_backoff, (int, float)) and 0.01 <= reconnect_backoff <= 3600):
        raise ValueError(f"reconnect_backoff is seconds between 0.01 and 3600, got {reconnect_backoff!r}")
    max_ms = max(10, int(reconnect_backoff * 1000 / (1 + RECONNECT_JITTER)))
    return [("grpc.initial_reconnect_backoff_ms", min(100, max_ms)), ("grpc.max_reconnect_backoff_ms", max_ms)]


def channel_options(reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF) -> list[tuple[str, Any]]:
    """The options of every channel a client opens (also used by tools that open their own)."""
    return [
        *reconnect_options(reconnect_backoff),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        # Rich error details travel in trailing metadata; a rejected batch of many
        # records lists every violation, which exceeds gRPC's 16 KiB default.
        ("grpc.max_metadata_size", 64 << 20),
        # Keepalive: detect a dead server on a long-lived simulator stream.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", _SERVICE_CONFIG),
    ]


# Retries only for idempotent unary reads, and only on UNAVAILABLE.
_SERVICE_CONFIG = """{"methodConfig": [{"name": [
  {"service": "datapack.v1.DataPackService", "method": "GetDataPack"},
  {"service": "datapack.v1.DataPackService", "method": "GetDataPackHistory"},
  {"service": "datapack.v1.DataPackService", "method": "GetStatistics"},
  {"service": "datapack.v1.DataPackService", "method": "ListTasks"}],
  "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1s",
                  "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"""


def open_channel(target: str, *, credentials: grpc.ChannelCredentials | None = None, token: str | None = None,
                 token_file: str | os.PathLike | None = None, tls: bool = False,
                 root_certificates: bytes | str | os.PathLike | None = None,
                 client_cert: bytes | str | os.PathLike | None = None,
                 client_key: bytes | str | os.PathLike | None = None,
                 reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF) -> grpc.Channel:
    """A channel to `target` with channel_options(reconnect_backoff) and the
    security options of `connect` (which documents them); a bad combination ->
    ValueError."""
    credentials, token = channel_security(credentials=credentials, token=token, token_file=token_file, tls=tls,
                                          root_certificates=root_certificates, client_cert=client_cert,
                                          client_key=client_key)
    target = dial_target(target)
    options = channel_options(reconnect_backoff)
    channel = (grpc.secure_channel(target, credentials, options=options) if credentials is not None
               else grpc.insecure_channel(target, options=options))
    if token is not None:
        # Per-call metadata through an interceptor rather than call credentials:
        # gRPC sends call credentials only over TLS, and a token on a plaintext
        # loopback (or behind a TLS-terminating proxy) is a supported setup.
        channel = grpc.intercept_channel(channel, _BearerToken(token))
    return channel


def channel_security(*, credentials: grpc.ChannelCredentials | None = None, token: str | None = None,
                     token_file: str | os.PathLike | None = None, tls: bool = False,
                     root_certificates: bytes | str | os.PathLike | None = None,
                     client_cert: bytes | str | os.PathLike | None = None,
                     client_key: bytes | str | os.PathLike | None = None,
                     ) -> tuple[grpc.ChannelCredentials | None, str | None]:
    """(channel credentials or None for plaintext, bearer token or None) of
    `connect`'s security options, checked (a bad combination -> ValueError);
    shared by the synchronous and the asyncio client."""
    if token is not None and token_file is not None:
        raise ValueError("give token or token_file, not both")
    if token_file is not None:
        token = _token_from_file(token_file)
    if token is not None and not (type(token) is str and _TOKEN_RE.match(token)):
        raise ValueError("a token is visible ASCII characters (what gRPC metadata can carry)")
    if (client_cert is None) != (client_key is None):
        raise ValueError("client_cert and client_key go together")
    tls_options = tls or root_certificates is not None or client_cert is not None
    if credentials is not None and tls_options:
        raise ValueError("give credentials or the TLS options (tls, root_certificates, client_cert), not both")
    if tls_options:
        credentials = grpc.ssl_channel_credentials(_pem(root_certificates), _pem(client_key), _pem(client_cert))
    return credentials, token


_TOKEN_RE = re.compile(r"[\x21-\x7e]+\Z")


def _token_from_file(path: str | os.PathLike) -> str:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                return line
    raise ValueError(f"{os.fspath(path)} holds no token")


def _pem(value: bytes | str | os.PathLike | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


class _CallDetails(collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials",
                                                              "wait_for_ready", "compression")),
                   grpc.ClientCallDetails):
    pass


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call of a channel."""

    def __init__(self, token: str):
        self._metadata = ("authorization", "Bearer " + token)

    def _details(self, d: grpc.ClientCallDetails) -> _CallDetails:
        return _CallDetails(d.method, d.timeout, [*(d.metadata or ()), self._metadata], d.credentials,
                            d.wait_for_ready, d.compression)

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)
