"""`datapack serve`: serve a data root over gRPC.

    datapack serve [--data-dir DIR [--create]] [--host H] [--port P] [--no-fsync] [--metrics-port P]
                   [--log-format auto|json|text] [--log-level L]
                   [--token-file PATH] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
                   [--raw-root DIR ...]

Prints `datapack: listening on HOST:PORT; loading stores` once the port is bound (health
NOT_SERVING, calls UNAVAILABLE while the stores load), then `datapack: serving on HOST:PORT`
once the service is healthy, and stops gracefully on SIGTERM/SIGINT: health turns NOT_SERVING
at once, in-flight calls finish within the grace period. A port already in use is said in one
line before anything starts.

Exit status (common.py): 0 stopped by a signal; 1 the server could not start (port in use, data
directory missing without --create (DATA_DIR_NOT_FOUND, named) or not writable, a store that
cannot be loaded, the metrics extra missing); 2 usage, including a token file,
certificate or key that cannot be used (api/security.py).
"""
from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading

from datapack_client.errors import DataPackError
from datapack_server.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, add_verb_parser


def address_in_use(host: str, port: int) -> bool:
    """Whether every address `host` resolves to already has a listener on `port` (gRPC
    starts when it can bind one of them). Port 0 and unresolvable hosts are left to
    gRPC, which says so itself."""
    if port == 0:
        return False
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        return False
    in_use = 0
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            # As gRPC binds: SO_REUSEADDR, so a connection in TIME_WAIT is not taken for a listener.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                in_use += exc.errno == errno.EADDRINUSE
    return bool(infos) and in_use == len(infos)


def _port_in_use_message(host: str, port: int) -> str:
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (f"datapack: cannot start: {address} is already in use (another server?); "
            f"pick another --port, or --port 0 for a free one")


def _serve(args: argparse.Namespace) -> int:
    from datapack_server.api.app import ServerConfig, build_server
    from datapack_server.api.security import SecurityConfigError, exposure_warnings

    config = ServerConfig(data_dir=args.data_dir, create_data_dir=args.create, host=args.host, port=args.port,
                          fsync=not args.no_fsync,
                          max_workers=args.max_workers, grace_seconds=args.grace,
                          workers=args.workers if args.workers is not None else (os.cpu_count() or 1),
                          token_file=args.token_file, tls_cert=args.tls_cert, tls_key=args.tls_key,
                          tls_client_ca=args.tls_client_ca, raw_roots=tuple(args.raw_root) if args.raw_root else None,
                          metrics_port=args.metrics_port)
    if args.metrics_port is not None:
        try:
            import prometheus_client  # noqa: F401 - the metrics extra
        except ImportError:
            print("datapack: --metrics-port needs prometheus-client: pip install 'datapack[metrics]'",
                  file=sys.stderr)
            return EXIT_FAILURE  # a missing extra, as for every verb
    if address_in_use(args.host, args.port):
        print(_port_in_use_message(args.host, args.port), file=sys.stderr)
        return EXIT_FAILURE
    for warning in exposure_warnings(config):
        print(f"datapack: warning: {warning}", file=sys.stderr, flush=True)
    try:
        running = build_server(config, wait_ready=False)
    except SecurityConfigError as err:
        print(f"datapack: {err}", file=sys.stderr)
        return EXIT_USAGE
    except DataPackError as err:
        print(f"datapack: {err.message}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as err:
        if err.errno == errno.EADDRINUSE:  # taken between the check above and the bind
            print(_port_in_use_message(args.host, args.port), file=sys.stderr)
        else:
            print(f"datapack: cannot start: {err}", file=sys.stderr)
        return EXIT_FAILURE
    return _run_until_signalled(running, config)


def _run_until_signalled(running, config) -> int:
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Port bound, health NOT_SERVING, datapack calls UNAVAILABLE while the stores load.
    print(f"datapack: listening on {config.host}:{running.port}; loading stores", flush=True)
    if running.metrics_port is not None:
        print(f"datapack: metrics on http://{config.host}:{running.metrics_port}/metrics "
              "(/healthz, /readyz)", flush=True)
    try:
        while not stop.is_set() and not running.wait_ready(0.2):
            pass
    except Exception as err:  # noqa: BLE001 - a failed start-up exits 1 with its message
        print(f"datapack: cannot start: {getattr(err, 'message', err)}", file=sys.stderr, flush=True)
        running.stop(0)
        return EXIT_FAILURE
    mode = ", ".join(m for m in ("mutual TLS" if config.tls_client_ca else "TLS" if config.tls_cert else "",
                                 "tokens" if config.token_file else "") if m) or "plaintext, no authentication"
    print(f"datapack: serving on {config.host}:{running.port} (data: {running.service.root}; {mode})", flush=True)
    stop.wait()
    print("datapack: shutting down", file=sys.stderr, flush=True)
    running.stop()
    print("datapack: stopped", file=sys.stderr, flush=True)
    return EXIT_OK


def register(sub) -> argparse.ArgumentParser:
    """Register `serve` on the `datapack` subparsers."""
    s = add_verb_parser(sub, "serve", "serve a data root over gRPC",
                        "Serve every store below the data root over gRPC (README: Command line, Lifecycle).",
                        exits="0 stopped by SIGTERM/SIGINT; 1 could not start (port in use, data directory "
                              "missing without --create or not writable); 2 also a token file, certificate or key "
                              "that cannot be used")
    s.add_argument("--data-dir", default="data/datapacks",
                   help="data root (stores are folders below it); it must exist unless --create")
    s.add_argument("--create", action="store_true",
                   help="create the data root if it does not exist (logged); without it a missing one exits 1")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=50051, help="port; 0 picks a free one")
    s.add_argument("--no-fsync", action="store_true",
                   help="acknowledge without fsync (bulk loads; an OS crash may lose acknowledged data)")
    s.add_argument("--max-workers", type=int, default=64, help="RPC threads (each open stream uses one)")
    s.add_argument("--grace", type=float, default=10.0, help="seconds in-flight calls get on shutdown")
    s.add_argument("--workers", type=int, default=None,
                   help="worker processes that decode appends and parse large files (default: one per core; 0: none)")
    sec = s.add_argument_group("security (README: Secure deployment)")
    sec.add_argument("--token-file", metavar="PATH",
                     help="require a bearer token: lines 'read-write|read-only TOKEN [label]' (chmod 600)")
    sec.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate (chain)")
    sec.add_argument("--tls-key", metavar="PEM", help="the certificate's private key (chmod 600)")
    sec.add_argument("--tls-client-ca", metavar="PEM",
                     help="mutual TLS: clients must present a certificate signed by this CA")
    sec.add_argument("--raw-root", metavar="DIR", action="append",
                     help="ExportPortable reads raw episode data only below DIR (repeatable; default: anywhere)")
    s.add_argument("--log-level", default="warning", choices=("debug", "info", "warning", "error"),
                   help="server log level (stderr; default warning)")
    s.add_argument("--log-format", default="auto", choices=("auto", "json", "text"),
                   help="log lines on stderr: one JSON object each, or text; auto (default): JSON unless "
                        "stderr is a terminal")
    s.add_argument("--metrics-port", type=int, metavar="P",
                   help="serve Prometheus /metrics, /healthz and /readyz over HTTP on this port of --host "
                        "(0 picks a free one; needs prometheus-client)")
    s.set_defaults(func=_serve)
    return s
