"""The `datapack` command.

    datapack serve [--data-dir DIR] [--host H] [--port P] [--no-fsync]
    datapack build [--generate-synthetic N] [--seed S] [--data-dir DIR] [--output-dir DIR]
                   [--task T] [--engine E] [--baseline SPEC] [--verbose]
                   [--target HOST:PORT] [--store NAME] [--quiet] [--raw-dir DIR]
    datapack export-portable --datapack-dir DIR --task T [--target HOST:PORT] [...]

`serve` prints `datapack: serving on HOST:PORT` once the port is bound and the
service is healthy, and stops gracefully on SIGTERM/SIGINT: health turns
NOT_SERVING at once, in-flight calls finish within the grace period.
Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`build` (build_cli.py, building.md §8) has the builder script's exit codes:
0 ok, 1 usage error or no episodes, 2 an episode rejected or a pack id conflict.
`export-portable` (export_cli.py, portable.md §7): 0 ok, 1 usage error or no
records, 2 conflicts or rejected records.
"""
from __future__ import annotations

import argparse
import os
import logging
import signal
import sys
import threading

from datapack_client.errors import DataPackError

from .build_cli import register as register_build
from .export_cli import register as register_export


def _serve(args: argparse.Namespace) -> int:
    from .app import ServerConfig, build_server

    config = ServerConfig(data_dir=args.data_dir, host=args.host, port=args.port, fsync=not args.no_fsync,
                          max_workers=args.max_workers, grace_seconds=args.grace,
                          workers=args.workers if args.workers is not None else (os.cpu_count() or 1))
    try:
        running = build_server(config)
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
    print(f"datapack: serving on {config.host}:{running.port} (data: {running.service.root})", flush=True)
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
    s.set_defaults(func=_serve)
    register_build(sub)
    register_export(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["build"]:  # its own parser, so that every usage error exits 1 (building.md §8.4)
        from .build_cli import main as build_main
        return build_main(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
