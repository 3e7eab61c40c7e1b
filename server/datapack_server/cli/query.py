"""`datapack query`: list the current revision of the packs matching the query filters.

    datapack query (--datapack-dir DIR | --data-dir ROOT [--store S] | --target HOST:PORT [--store S])
                   --task T [filters] [--sort-by F [--ascending]] [--limit N | --all]
                   [--include-artifacts] [--json] [--fields a,b.c]
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any, TextIO

from datapack_server.cli.common import EXIT_OK
from datapack_server.cli.options import (
    add_filter_arguments,
    add_location_arguments,
    add_output_arguments,
    add_verb,
    open_repo,
    selection_of,
)
from datapack_server.cli.tables import cell, format_table, json_line, terminal_width

QUERY_COLUMNS = ("pack_id", "bucket", "delta_J", "trust", "mvd", "engine", "source", "schema", "skills")


def _project(d: Any, path: str) -> Any:
    """The value at a dotted path (list positions as numbers: skill_trace.0.skill_id), None when absent."""
    for part in path.split("."):
        if type(d) is dict:
            d = d.get(part)
        elif type(d) is list and part.isdigit() and int(part) < len(d):
            d = d[int(part)]
        else:
            return None
    return d


def _summary_row(p) -> list[str]:
    """The QUERY_COLUMNS cells of a pack."""
    a = p.attribution
    return [cell(p.pack_id), cell(p.bucket), cell(a.delta_J), cell(a.trust_score), cell(a.mvd_score),
            cell(p.condition.engine_type), cell(a.source_type), cell(p.schema_version),
            ",".join(str(s) for s in p.get_skill_ids())]


def _query(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
    repo = open_repo(args)
    try:
        packs = repo.query(args.task, **selection_of(args))
    finally:
        repo.close()
    if args.json:
        for p in packs:
            d = p.to_dict()
            out.write(json_line({f: _project(d, f) for f in fields} if fields else d) + "\n")
        return EXIT_OK
    if fields:
        headers = fields
        rows = [[cell(_project(d, f)) for f in fields] for d in (p.to_dict() for p in packs)]
        right: Iterable[int] = ()
    else:
        headers = list(QUERY_COLUMNS)
        rows = [_summary_row(p) for p in packs]
        right = (2, 3, 4)
    keep = [headers.index("pack_id")] if "pack_id" in headers else []
    for text in format_table(headers, rows, terminal_width(out), right, keep):
        print(text, file=out)
    limited = "" if len(packs) < (args.limit or 100) or args.all else " (the limit; --all for every match)"
    if not args.quiet:
        print(f"{len(packs)} pack(s){limited}", file=err)
    return EXIT_OK


def register(sub) -> None:
    """Register `query` on the `datapack` subparsers."""
    q = add_verb(sub, "query", "list the packs matching the query filters",
                 "List the current revision of every pack matching the filters (the filters and sort keys of "
                 "query(): docs/repository.md §7): a table fitted to the terminal, or with --json one JSON "
                 "line per pack (the stored record; artifacts only with --include-artifacts). Ends quietly "
                 "(status 0) when the reader of its output leaves, as `| head` does.", _query,
                 exits="0 listed (also when nothing matches); 1 the store or task does not exist or cannot be read")
    add_location_arguments(q)
    add_filter_arguments(q)
    add_output_arguments(q)
    q.add_argument("--fields", metavar="A,B.C",
                   help="only these dotted paths, e.g. pack_id,attribution.delta_J,condition.engine_type")
