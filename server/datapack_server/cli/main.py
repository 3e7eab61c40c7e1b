"""The `datapack` command.

    datapack serve [--data-dir DIR] [--host H] [--port P] [--no-fsync] [--metrics-port P]
                   [--log-format auto|json|text] [--log-level L]
                   [--token-file PATH] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
                   [--raw-root DIR ...]
    datapack build [--generate-synthetic N] [--seed S] [--data-dir DIR] [--output-dir DIR]
                   [--task T] [--engine E] [--baseline SPEC] [--verbose]
                   [--target HOST:PORT] [--store NAME] [--quiet] [--raw-dir DIR]
    datapack export-portable --datapack-dir DIR --task T [--target HOST:PORT] [...]
    datapack verify --data-dir DIR [--store S] [--task T]
    datapack query|stats|export ... / validate ... / import FILE ...   (data.py)
    datapack report --task T --out DIR [--data-dir DIR] [--store S] [--target HOST:PORT]
    datapack health [--target HOST:PORT] [--service NAME]
    datapack sim --episodes N [--workers W] [--target HOST:PORT | --output-dir DIR] [...] (cli/sim.py)

`serve` prints `datapack: listening on HOST:PORT; loading stores` once the port
is bound (health NOT_SERVING, calls UNAVAILABLE while the stores load), then
`datapack: serving on HOST:PORT` once the service is healthy, and stops
gracefully on SIGTERM/SIGINT: health turns NOT_SERVING at once, in-flight calls finish within the grace period.
Exit codes: 0 ok, 1 runtime failure, 2 usage error (including a token file,
certificate or key that cannot be used: api/security.py).
`build` (build.py, docs/building.md §8) has the builder script's exit codes:
0 ok, 1 usage error or no episodes, 2 an episode rejected or a pack id conflict.
`export-portable` (export_portable.py, docs/portable.md §7): 0 ok, 1 usage error or no
records, 2 conflicts or rejected records.
`verify` (verify.py over storage/verify.py, storage/FORMAT.md): checks every line against its
checksum, read-only; 0 clean, 1 usage error, 2 findings.
`query`, `stats`, `validate`, `import`, `export` (data.py, one module per verb): 0 ok, 1 usage
error, 2 findings (validate) or rejected records (import).
`report` (report.py): PNG plots and index.html of a task; 0 written, 1 usage
error, no packs, matplotlib missing or the store unreadable.
`health` (health.py): the gRPC health status; 0 SERVING, 1 otherwise.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from datapack_client.errors import DataPackError
from datapack_server.cli.build import register as register_build
from datapack_server.cli.data import register as register_data
from datapack_server.cli.export_portable import register as register_export
from datapack_server.cli.health import register as register_health
from datapack_server.cli.report import register as register_report
from datapack_server.cli.sim import register as register_sim
from datapack_server.cli.verify import register as register_verify


def _serve(args: argparse.Namespace) -> int:
    from datapack_server.api.app import ServerConfig, build_server
    from datapack_server.api.security import SecurityConfigError, exposure_warnings

    config = ServerConfig(data_dir=args.data_dir, host=args.host, port=args.port, fsync=not args.no_fsync,
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
            return 2
    for warning in exposure_warnings(config):
        print(f"datapack: warning: {warning}", file=sys.stderr, flush=True)
    try:
        running = build_server(config, wait_ready=False)
    except SecurityConfigError as err:
        print(f"datapack: {err}", file=sys.stderr)
        return 2
    except DataPackError as err:
        print(f"datapack: {err.message}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"datapack: cannot start: {err}", file=sys.stderr)
        return 1
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
        return 1
    mode = ", ".join(m for m in ("mutual TLS" if config.tls_client_ca else "TLS" if config.tls_cert else "",
                                 "tokens" if config.token_file else "") if m) or "plaintext, no authentication"
    print(f"datapack: serving on {config.host}:{running.port} (data: {running.service.root}; {mode})", flush=True)
    stop.wait()
    print("datapack: shutting down", file=sys.stderr, flush=True)
    running.stop()
    print("datapack: stopped", file=sys.stderr, flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="datapack", description="DataPack service and tools")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a data root over gRPC")
    s.add_argument("--data-dir", default="data/datapacks", help="data root (stores are folders below it)")
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
    register_build(sub)
    register_export(sub)
    register_verify(sub)
    register_data(sub)
    register_report(sub)
    register_health(sub)
    register_sim(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    from datapack_server.observability.safe_text import SafeFormatter
    handler = logging.StreamHandler()
    # Request data can reach a log message (a name in an error); the formatter
    # escapes control and bidi characters so no record can forge another.
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    if argv[:1] == ["build"]:  # its own parser, so that every usage error exits 1 (docs/building.md §8.4)
        from datapack_server.cli.build import main as build_main
        return build_main(argv[1:])
    args = build_parser().parse_args(argv)
    if getattr(args, "log_format", None):
        from datapack_server.observability.logs import configure
        configure(args.log_format)  # same escaping guarantees as the handler above (observability/logs.py)
    if getattr(args, "log_level", None):
        logging.getLogger().setLevel(args.log_level.upper())
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
