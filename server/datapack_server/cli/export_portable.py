"""`datapack export-portable`: embed the portable artifacts (docs/portable.md §7).

    datapack export-portable --datapack-dir data/datapacks/phase_c --task drawer_vase
        [--target HOST:PORT [--store NAME]] [--output-dir DIR | --output-store NAME]
        [--max-episodes N] [--stride-seconds S] [--source-fps F] [--store-temporal]
        [--token-dim D] [--pool-size H W] [--include-repr-tokens LIST] [--quiet] [--json]

Without --output-dir / --output-store the packs are revised in place (a
revision with the artifacts and raw_data_path null). With --target the export
runs on that server (raw data read there) on the store --store, by default
the last folder name of --datapack-dir (phase_c). The export script of
docs/portable.md §7 (`python -m scripts.export_portable_datapacks`) is this command
with the output store defaulting to `<datapack-dir>_portable`.

Exit status: 0 done (skips allowed), 1 usage error or no records, 2 conflicts
or rejected records.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

from datapack_client.errors import DataPackError
from datapack_client.records.export import COUNTERS, make_export_args
from datapack_server.cli.common import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, Parser, Progress, isatty, set_usage_status

SPEC_OUTPUT = "spec"  # output store default of the export script (docs/portable.md §7): <datapack-dir>_portable


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--datapack-dir", default="data/datapacks", metavar="DIR", help="source store (folder)")
    p.add_argument("--task", required=True, metavar="NAME", help="task to export")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--output-dir", default=None, metavar="DIR",
                     help="append the portable records to this store instead of revising the packs in place")
    out.add_argument("--output-store", default=None, metavar="NAME",
                     help="with --target: the server store that receives the portable records")
    p.add_argument("--target", default=None, metavar="HOST:PORT", help="run the export on this server")
    p.add_argument("--store", default=None, metavar="NAME",
                   help="with --target: the source store on the server (default: basename of --datapack-dir)")
    p.add_argument("--max-episodes", type=int, default=None, metavar="N", help="stop after N exported packs")
    p.add_argument("--stride-seconds", type=float, default=1.0, metavar="S",
                   help="temporal stride of the RGB features (applied when the frame rate is known)")
    p.add_argument("--source-fps", type=float, default=None, metavar="F",
                   help="frame rate of the RGB frames (overrides the raw metadata's fps)")
    p.add_argument("--store-temporal", action="store_true", help="also store features_temporal")
    p.add_argument("--token-dim", type=int, default=64, metavar="D", help="token dimension (default 64)")
    p.add_argument("--pool-size", type=int, nargs=2, default=(4, 4), metavar=("H", "W"), help="pooling grid")
    p.add_argument("--include-repr-tokens", default="", metavar="LIST",
                   help="comma-separated representation names, e.g. vision_rgb")
    p.add_argument("--workers", type=int, default=None,
                   help="processes computing the artifacts locally (default: one per core; 0: none)")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


DESCRIPTION = ("embed the portable artifacts (scene tracks, RGB features, slice labels, optional "
               "representation tokens) computed from each pack's raw episode data (docs/portable.md §7)")


def build_parser(prog: str = "datapack export-portable") -> argparse.ArgumentParser:
    return add_arguments(Parser(prog=prog, description=DESCRIPTION))


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None,
        default_output: str | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if args.output_dir is None and default_output == SPEC_OUTPUT and not args.target:
        args.output_dir = args.datapack_dir.rstrip("/") + "_portable"
    if args.output_store is not None and not args.target:
        print("datapack export-portable: error: --output-store needs --target (use --output-dir locally)", file=err)
        return EXIT_USAGE
    if args.target and args.output_dir is not None:
        print("datapack export-portable: error: with --target name the output with --output-store", file=err)
        return EXIT_USAGE
    try:
        export_args = make_export_args(args.output_store if args.target else args.output_dir, args.max_episodes,
                                       args.stride_seconds, args.source_fps, args.store_temporal, args.token_dim,
                                       tuple(args.pool_size), args.include_repr_tokens)
        bars: list[Progress] = []  # made at the first report, which knows the total

        def on_progress(summary: dict) -> None:
            if not bars:
                bars.append(Progress(err, summary["total"], "exporting", not args.quiet and isatty(err)))
            bars[0].update(summary["processed"])

        try:
            summary = (_remote if args.target else _local)(args, export_args, on_progress)
        finally:
            if bars:
                bars[0].close()
    except DataPackError as exc:
        print(f"datapack export-portable: error: {exc.message}", file=err)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(summary), file=out)
    elif not args.quiet:
        _print_summary(out, summary)
    return EXIT_REJECTED if summary["conflicts"] or summary["rejected_invalid"] else EXIT_OK


def _remote(args, export_args, on_progress) -> dict:
    from datapack_client.client import connect

    store = args.store if args.store is not None else os.path.basename(os.path.normpath(args.datapack_dir))
    with connect(args.target, store=store) as repo:
        return repo.export_portable(args.task, output_store=export_args.output_store,
                                    max_episodes=export_args.max_episodes, stride_seconds=export_args.stride_seconds,
                                    source_fps=export_args.source_fps, store_temporal=export_args.store_temporal,
                                    token_dim=export_args.token_dim, pool_size=export_args.pool_size,
                                    include_repr_tokens=export_args.repr_names, progress=on_progress)


def _local(args, export_args, on_progress) -> dict:
    from datapack_server.engine.parsing import WorkerPool
    from datapack_server.engine.store import Store
    from datapack_server.portable.exporter import export_steps, options_of

    if not os.path.isdir(args.datapack_dir):
        raise _usage(f"--datapack-dir {args.datapack_dir!r} is not a folder")
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    pool = WorkerPool(workers) if workers > 1 else None
    source = Store(args.datapack_dir)
    output = Store(export_args.output_store) if export_args.output_store is not None else None
    try:
        summary = None
        for summary in export_steps(source, args.task, options_of(export_args), output=output,
                                    max_episodes=export_args.max_episodes, pool=pool,
                                    source_name=args.datapack_dir, output_name=export_args.output_store):
            on_progress(summary.as_dict())
        return summary.as_dict()
    finally:
        if pool is not None:
            pool.close()
        source.close()
        if output is not None:
            output.close()


def _usage(message: str) -> DataPackError:
    from datapack_client.errors import invalid
    return invalid("arguments", "ARGUMENT_INVALID", message)


def _print_summary(out: TextIO, s: dict) -> None:
    print(f"task:    {s['task']}", file=out)
    print(f"source:  {s['source']}", file=out)
    print(f"output:  {s['output'] if s['output'] is not None else '(in place: revisions of the source packs)'}",
          file=out)
    print(f"packs:   {s['processed']} of {s['total']} looked at", file=out)
    for k in COUNTERS:
        if k == "repr_tokens_computed" and "repr_tokens" not in s:
            continue
        print(f"  {k:<24}{s[k]}", file=out)
    if "repr_tokens" in s:
        print(f"  repr_tokens             {','.join(s['repr_tokens'])}", file=out)


def main(argv: list[str] | None = None, default_output: str | None = None) -> int:
    prog = "datapack export-portable" if default_output is None else "export_portable_datapacks"
    args = build_parser(prog).parse_args(argv)
    return run(args, default_output=default_output)


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("export-portable", help="embed the portable artifacts (scene tracks, RGB features, "
                       "slice labels) computed from the raw episode data", description=DESCRIPTION)
    set_usage_status(p)
    add_arguments(p)
    p.set_defaults(func=run)
    return p
