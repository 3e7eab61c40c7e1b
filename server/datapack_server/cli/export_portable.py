"""`datapack export-portable`: embed the portable artifacts (docs/portable.md §7).

    datapack export-portable (--datapack-dir DIR | --data-dir ROOT [--store S] | --target HOST:PORT [--store S])
        --task T [--output-dir DIR | --output-store NAME]
        [--max-episodes N] [--stride-seconds S] [--source-fps F] [--store-temporal]
        [--token-dim D] [--pool-size H W] [--include-repr-tokens LIST] [--quiet] [--json]

The source store is named as for every verb (options.py). Without --output-dir /
--output-store the packs are revised in place (a revision with the artifacts and
raw_data_path null). --output-store NAME is a store next to the source: below
--data-dir, or on the server. With --target the export runs on that server (raw data
read there); `--datapack-dir DIR --target HOST:PORT` without --store, as the export
script of docs/portable.md §7 was first run, names the server store by the last folder
of DIR. The export script (`python -m scripts.export_portable_datapacks`) is this
command with the output store defaulting to `<source folder>_portable`.

The summary says what happened (written, already portable, skipped, not written) and
names each pack not written (conflicts, rejected_invalid) with its reason; --json
prints the summary object with them under "not_written".

Exit status (common.py): 0 done (skips allowed); 1 conflicts or rejected records, a
task without records, a store that does not exist; 2 usage.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import TextIO

from datapack_client.records.export import COUNTERS, NOT_WRITTEN_NAMED, make_export_args
from datapack_server.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    Parser,
    Progress,
    add_verb_parser,
    isatty,
)
from datapack_server.cli.options import (
    UsageError,
    add_location_arguments,
    check_location,
    run_guarded,
    store_folder,
)

SPEC_OUTPUT = "spec"  # output store default of the export script (docs/portable.md §7): <source folder>_portable
EXITS = "0 done (skips allowed); 1 conflicts or rejected records, a task without records, a missing store"
SHOWN_NOT_WRITTEN = 10  # packs named in the printed summary; --json has every named one


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_location_arguments(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--output-dir", default=None, metavar="DIR",
                     help="append the portable records to this store folder instead of revising the packs in place")
    out.add_argument("--output-store", default=None, metavar="NAME",
                     help="append them to this store next to the source: below --data-dir, or on --target")
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
    return add_arguments(Parser(prog=prog, description=DESCRIPTION, exits=EXITS))


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None,
        default_output: str | None = None) -> int:
    return run_guarded("export-portable", lambda a, o, e: _export(a, o, e, default_output), args, out, err)


def _resolve_locations(args: argparse.Namespace, default_output: str | None) -> tuple[str | None, str | None]:
    """(source folder or None with --target, output: a folder locally, a store name with --target)."""
    if args.target and args.datapack_dir and args.store is None:
        # The export script's first form: the server store named like the folder.
        args.store, args.datapack_dir = os.path.basename(os.path.normpath(args.datapack_dir)), None
    check_location(args)
    if args.target:
        if args.output_dir is not None:
            raise UsageError("with --target name the output with --output-store (a store on the server)")
        return None, args.output_store
    source = store_folder(args)
    output = args.output_dir
    if args.output_store is not None:
        if not args.data_dir:
            raise UsageError("--output-store names a store below --data-dir or on --target; "
                             "with --datapack-dir give --output-dir")
        output = os.path.join(args.data_dir, *args.output_store.split("/"))
    if output is None and default_output == SPEC_OUTPUT:
        output = source.rstrip("/") + "_portable"
    return source, output


def _export(args: argparse.Namespace, out: TextIO, err: TextIO, default_output: str | None) -> int:
    source, output = _resolve_locations(args, default_output)
    export_args = make_export_args(output, args.max_episodes, args.stride_seconds, args.source_fps,
                                   args.store_temporal, args.token_dim, tuple(args.pool_size),
                                   args.include_repr_tokens)
    bars: list[Progress] = []  # made at the first report, which knows the total

    def on_progress(summary: dict) -> None:
        if not bars:
            bars.append(Progress(err, summary["total"], "exporting", not args.quiet and isatty(err)))
        bars[0].update(summary["processed"])

    try:
        summary = _remote(args, export_args, on_progress) if source is None else \
            _local(args, source, export_args, on_progress)
    finally:
        if bars:
            bars[0].close()
    if args.json:
        print(json.dumps(summary), file=out)
    elif not args.quiet:
        print_summary(out, summary)
    return EXIT_FAILURE if summary["conflicts"] or summary["rejected_invalid"] else EXIT_OK


def _remote(args, export_args, on_progress) -> dict:
    from datapack_client.client import connect

    with connect(args.target, store=args.store or "", token_file=args.token_file,
                 root_certificates=args.tls_ca) as repo:
        return repo.export_portable(args.task, output_store=export_args.output_store,
                                    max_episodes=export_args.max_episodes, stride_seconds=export_args.stride_seconds,
                                    source_fps=export_args.source_fps, store_temporal=export_args.store_temporal,
                                    token_dim=export_args.token_dim, pool_size=export_args.pool_size,
                                    include_repr_tokens=export_args.repr_names, progress=on_progress)


def _local(args, source_dir: str, export_args, on_progress) -> dict:
    from datapack_server.engine.parsing import WorkerPool
    from datapack_server.engine.store import Store
    from datapack_server.portable.exporter import export_steps, options_of
    from datapack_server.service.stores import require_task

    require_task(source_dir, args.task, source_dir)  # TASK_NOT_FOUND as embedded and remote (service/stores.py)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    pool = WorkerPool(workers) if workers > 1 else None
    source = Store(source_dir)
    output = Store(export_args.output_store) if export_args.output_store is not None else None
    try:
        summary = None
        for summary in export_steps(source, args.task, options_of(export_args), output=output,
                                    max_episodes=export_args.max_episodes, pool=pool,
                                    source_name=source_dir, output_name=export_args.output_store):
            on_progress(summary.as_dict())
        return summary.as_dict()
    finally:
        if pool is not None:
            pool.close()
        source.close()
        if output is not None:
            output.close()


def outcome_line(s: dict) -> str:
    """What the export did, in words: a re-run that changed nothing says "0 written"."""
    written = s["created"] + s["revised"]
    skipped = s["skipped_missing_raw"] + s["skipped_missing_inputs"] + s["skipped_bad_inputs"]
    parts = [f"{written} written", f"{s['already_present']} already portable"]
    if skipped:
        parts.append(f"{skipped} skipped (no usable raw data)")
    not_written = s["conflicts"] + s["rejected_invalid"]
    if not_written:
        parts.append(f"{not_written} not written ({s['conflicts']} conflicts, "
                     f"{s['rejected_invalid']} rejected)")
    return ", ".join(parts)


def print_summary(out: TextIO, s: dict) -> None:
    print(f"task:    {s['task']}", file=out)
    print(f"source:  {s['source']}", file=out)
    print(f"output:  {s['output'] if s['output'] is not None else '(in place: revisions of the source packs)'}",
          file=out)
    print(f"packs:   {s['processed']} of {s['total']} looked at", file=out)
    print(f"result:  {outcome_line(s)}", file=out)
    for k in COUNTERS:
        if k == "repr_tokens_computed" and "repr_tokens" not in s:
            continue
        print(f"  {k:<24}{s[k]}", file=out)
    if "repr_tokens" in s:
        print(f"  repr_tokens             {','.join(s['repr_tokens'])}", file=out)
    named = s.get("not_written") or []
    if named:
        print("not written:", file=out)
    for e in named[:SHOWN_NOT_WRITTEN]:
        print(f"  {e['pack_id']}: {e['counter']}: {e['reason']}: {e['message']}", file=out)
    more = s["conflicts"] + s["rejected_invalid"] - min(len(named), SHOWN_NOT_WRITTEN)
    if named and more > 0:
        print(f"  ... {more} more (--json names the first {NOT_WRITTEN_NAMED})", file=out)


def main(argv: list[str] | None = None, default_output: str | None = None) -> int:
    prog = "datapack export-portable" if default_output is None else "export_portable_datapacks"
    args = build_parser(prog).parse_args(argv)
    return run(args, default_output=default_output)


def register(sub) -> argparse.ArgumentParser:
    p = add_verb_parser(sub, "export-portable", "embed the portable artifacts (scene tracks, RGB features, "
                        "slice labels) computed from the raw episode data", DESCRIPTION, exits=EXITS)
    add_arguments(p)
    p.set_defaults(func=run)
    return p


__all__ = ["SPEC_OUTPUT", "add_arguments", "build_parser", "main", "outcome_line", "print_summary", "register",
           "run"]
