"""Transport security of the server: bearer tokens with roles and TLS / mutual
TLS credentials. (Log lines that request data cannot forge are
observability/safe_text.py's; SafeFormatter is re-exported here for the
callers that import it from this module.)

Token file (`datapack serve --token-file PATH`), one token per line:

    # role        token                                      label (optional)
    read-write    6f1c0e0b0c9a4d1d8c1f4b7e2a9d3c5e7b1a0f2e   simulators
    read-only     Zq3J9v_4XkP2m8RtW1yN6bLc0sD5hGfE          dashboards

Blank lines and lines starting with "#" are ignored. A token is 16-512
visible ASCII characters (what gRPC metadata can carry; make them random,
e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`). The
label names the client in the server's log; tokens are never logged. The
file must not be accessible to "others" nor writable by the group
(chmod 600 or 640), as ssh demands of its keys.

Clients send `authorization: Bearer <token>` metadata on every call. A
read-only token may call every reading RPC; the writing RPCs (WRITE_METHODS)
need a read-write token. Health checking and reflection stay open so load
balancers and grpcurl work without a token: they reveal that the server is up
and its (public) schema, nothing stored.

This module is transport: the domain code never sees a token.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import stat
import threading
import time
from dataclasses import dataclass

import grpc

from datapack_client.errors import DataPackError, PermissionDeniedError, UnauthenticatedError
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import skill_adapter_service_pb2 as apb
from datapack_server.api.interceptors import to_status
from datapack_server.observability.safe_text import SafeFormatter as SafeFormatter  # re-exported
from datapack_server.observability.safe_text import printable

log = logging.getLogger("datapack.security")

READ_WRITE = "read-write"
READ_ONLY = "read-only"
ROLES = (READ_WRITE, READ_ONLY)
TOKEN_MIN_CHARS, TOKEN_MAX_CHARS = 16, 512
_TOKEN_RE = re.compile(r"[\x21-\x7e]+\Z")

_DATAPACK = "/" + spb.DESCRIPTOR.services_by_name["DataPackService"].full_name + "/"
_ADAPTER = "/" + apb.DESCRIPTOR.services_by_name["SkillAdapterService"].full_name + "/"
# Every RPC that writes to a store. Any method not listed in READ_METHODS
# needs a read-write token too (a new RPC is denied to read-only tokens until
# it is classified; a test checks every RPC is).
WRITE_METHODS = frozenset(_DATAPACK + m for m in (
    "AppendDataPacks", "AppendDataPacksBatch", "IngestEpisodes", "PutBaseline", "UpdateTrainingUsage",
    "ExportPortable"))
READ_METHODS = frozenset([_DATAPACK + m for m in (
    "QueryDataPacks", "QueryDataPacksPage", "QueryArrow", "GetDataPack", "GetDataPackHistory", "GetStatistics",
    "ListTasks", "ListBaselines")]
    + [_ADAPTER + m.name for m in apb.DESCRIPTOR.services_by_name["SkillAdapterService"].methods])
# Served without a token (see the module doc).
OPEN_SERVICES = frozenset(("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                           "grpc.reflection.v1.ServerReflection"))


class SecurityConfigError(ValueError):
    """A token file, certificate or key cannot be used; the server does not start."""


# ---------------------------------------------------------------------- files


def _read_private(path: str, what: str) -> bytes:
    """A secret's bytes, refused when others may read it or the group may change it."""
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            data = f.read()
    except OSError as exc:
        raise SecurityConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXO | stat.S_IWGRP):
        raise SecurityConfigError(f"the {what} {path} is accessible to other users (mode {stat.filemode(mode)}); "
                                  f"chmod 600 {path}")
    return data


def _read_public(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise SecurityConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class Token:
    role: str
    label: str
    digest: bytes  # sha256 of the token: compared in constant time and fixed length


def parse_tokens(text: str, source: str = "token file") -> list[Token]:
    """The tokens of a token file's text (format in the module doc)."""
    tokens: list[Token] = []
    seen: set[bytes] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2 or parts[0] not in ROLES:
            raise SecurityConfigError(f"{source} line {n}: expected 'read-write|read-only TOKEN [label]'")
        role, token = parts[0], parts[1]
        if not (TOKEN_MIN_CHARS <= len(token) <= TOKEN_MAX_CHARS and _TOKEN_RE.match(token)):
            raise SecurityConfigError(f"{source} line {n}: a token is {TOKEN_MIN_CHARS}-{TOKEN_MAX_CHARS} "
                                      "visible ASCII characters")
        digest = hashlib.sha256(token.encode()).digest()
        if digest in seen:
            raise SecurityConfigError(f"{source} line {n}: the token is listed twice")
        seen.add(digest)
        tokens.append(Token(role, parts[2].strip() if len(parts) > 2 else f"line {n}", digest))
    if not tokens:
        raise SecurityConfigError(f"{source} holds no token")
    return tokens


def load_tokens(path: str) -> list[Token]:
    data = _read_private(path, "token file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecurityConfigError(f"the token file {path} is not UTF-8 text") from None
    return parse_tokens(text, f"token file {path}")


def server_credentials(cert_file: str, key_file: str, client_ca_file: str | None = None) -> grpc.ServerCredentials:
    """TLS credentials; with client_ca_file, clients must present a certificate it signed (mutual TLS)."""
    cert = _read_public(cert_file, "TLS certificate")
    key = _read_private(key_file, "TLS key")
    if b"-----BEGIN CERTIFICATE-----" not in cert:
        raise SecurityConfigError(f"{cert_file} holds no PEM certificate")
    if b"PRIVATE KEY-----" not in key:
        raise SecurityConfigError(f"{key_file} holds no PEM private key")
    ca = None
    if client_ca_file:
        ca = _read_public(client_ca_file, "client CA certificate")
        if b"-----BEGIN CERTIFICATE-----" not in ca:
            raise SecurityConfigError(f"{client_ca_file} holds no PEM certificate")
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


def from_config(config) -> tuple[list[grpc.ServerInterceptor], grpc.ServerCredentials | None]:
    """The interceptors and port credentials a config.ServerConfig asks for
    (token_file, tls_cert, tls_key, tls_client_ca)."""
    if bool(config.tls_cert) != bool(config.tls_key):
        raise SecurityConfigError("a TLS certificate and its key go together (--tls-cert and --tls-key)")
    if config.tls_client_ca and not config.tls_cert:
        raise SecurityConfigError("mutual TLS (--tls-client-ca) needs the server's own --tls-cert and --tls-key")
    interceptors = [AuthInterceptor(load_tokens(config.token_file))] if config.token_file else []
    credentials = (server_credentials(config.tls_cert, config.tls_key, config.tls_client_ca)
                   if config.tls_cert else None)
    return interceptors, credentials


def exposure_warnings(config) -> list[str]:
    """What an operator should know about how the configured server is exposed."""
    loopback = config.host in ("127.0.0.1", "::1", "localhost") or config.host.startswith("127.")
    out = []
    if not loopback and not config.token_file and not config.tls_client_ca:
        out.append(f"serving {config.host} without authentication: anyone who can reach the port can read and "
                   "write every store (see --token-file, --tls-client-ca)")
    if not loopback and getattr(config, "raw_roots", None) is None:
        out.append("portable exports read raw data wherever records say (see --raw-root)")
    if not loopback and not config.tls_cert:
        out.append(f"serving {config.host} without TLS: records" + (" and tokens" if config.token_file else "")
                   + " cross the network in clear text (see --tls-cert)")
    return out


# ---------------------------------------------------------------------- authentication


class _DenialLog:
    """At most `burst` warnings per `window` seconds, then one count of the
    suppressed ones: a client guessing tokens must not flood the log."""

    def __init__(self, burst: int = 20, window: float = 60.0):
        self.burst, self.window = burst, window
        self._lock = threading.Lock()
        self._start = 0.0
        self._logged = self._suppressed = 0

    def warn(self, fmt: str, *args) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.window:
                if self._suppressed:
                    log.warning("%d more denied call(s) not logged in the last %.0f s", self._suppressed, self.window)
                self._start, self._logged, self._suppressed = now, 0, 0
            if self._logged >= self.burst:
                self._suppressed += 1
                return
            self._logged += 1
        log.warning(fmt, *args)


class AuthInterceptor(grpc.ServerInterceptor):
    """Checks the bearer token of every call except health and reflection;
    a denied call ends with UNAUTHENTICATED (TOKEN_MISSING, TOKEN_INVALID) or
    PERMISSION_DENIED (PERMISSION_READ_ONLY), with the same rich status as
    every other error, before any handler runs."""

    def __init__(self, tokens: list[Token]):
        if not tokens:
            raise SecurityConfigError("authentication needs at least one token")
        self._tokens = list(tokens)
        self._denials = _DenialLog()

    def role_of(self, metadata) -> tuple[Token | None, DataPackError | None]:
        """The token presented in `metadata`, or why there is none."""
        values = [v for k, v in (metadata or ()) if k == "authorization"]
        if not values:
            return None, UnauthenticatedError("this server requires a token: authorization: Bearer <token>",
                                              "TOKEN_MISSING")
        scheme, _, presented = (values[0] if isinstance(values[0], str) else "").partition(" ")
        if len(values) != 1 or scheme.lower() != "bearer" or not presented:
            return None, UnauthenticatedError("the authorization metadata must be one 'Bearer <token>'",
                                              "TOKEN_INVALID")
        digest = hashlib.sha256(presented.strip().encode()).digest()
        found = None
        for t in self._tokens:  # every token is compared: the time does not tell which one matched
            if hmac.compare_digest(digest, t.digest):
                found = t
        if found is None:
            return None, UnauthenticatedError("the token is not valid on this server", "TOKEN_INVALID")
        return found, None

    def check(self, method: str, metadata) -> tuple[Token | None, DataPackError | None]:
        token, err = self.role_of(metadata)
        if err is None and token.role != READ_WRITE and method not in READ_METHODS:
            err = PermissionDeniedError(f"a {token.role} token cannot call {method.rsplit('/', 1)[-1]}",
                                        "PERMISSION_READ_ONLY")
        return token, err

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method or ""
        if method.lstrip("/").split("/", 1)[0] in OPEN_SERVICES:
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None  # an unknown method: UNIMPLEMENTED, whoever asks
        token, err = self.check(method, handler_call_details.invocation_metadata)
        if err is None:
            return handler
        return self._denied(handler, method, token, err)

    def _denied(self, handler, method: str, token: Token | None, err: DataPackError):
        status = to_status(err)
        who = token.label if token is not None else "no valid token"

        def deny(_request, context):
            # Names come from a fixed table or the token file; printable() still
            # guards the peer string, which the transport fills in.
            self._denials.warn("denied %s (%s, %s) from %s", method, err.reason, printable(who),
                               printable(context.peer()))
            context.abort_with_status(status)

        kinds = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
        kind = next(k for k in kinds if getattr(handler, k) is not None)
        return handler._replace(**{kind: deny})
