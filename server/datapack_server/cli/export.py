"""`datapack export`: write the packs matching the filters as one Parquet or Arrow file.

    datapack export LOCATION --task T --format parquet|arrow --out PATH [filters] [--sort-by F] [--limit N]

Needs the extra datapack[export] (pyarrow).
"""
from __future__ import annotations

import argparse
from typing import TextIO

from datapack_client.records import schema
from datapack_server.cli.common import EXIT_OK
from datapack_server.cli.options import (
    add_filter_arguments,
    add_location_arguments,
    add_output_arguments,
    add_verb,
    open_repo,
    selection_of,
)
from datapack_server.cli.tables import json_line


def _export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from datapack_client.frames import require_extra
    from datapack_server.service.arrow_export import export_packs

    require_extra("pyarrow")  # before reading anything: the missing extra is a usage error
    repo = open_repo(args)
    try:
        # Passed on without a name here, so export_packs holds the only reference and frees each chunk.
        summary = export_packs(repo.query(args.task, **selection_of(args, default_all=True)), args.out, args.format,
                               omitted=() if args.include_artifacts else schema.ARTIFACT_KEYS)
    finally:
        repo.close()
    if args.json:
        out.write(json_line(summary) + "\n")
    elif not args.quiet:
        print(f"wrote {summary['rows']} pack(s), {summary['columns']} columns, to {summary['path']} "
              f"({summary['format']}, {summary['bytes']} bytes)", file=out)
    return EXIT_OK


def register(sub) -> None:
    """Register `export` on the `datapack` subparsers."""
    e = add_verb(sub, "export", "write the matching packs as a Parquet or Arrow file",
                 "Write the packs matching the filters (default: all of the task) as one table: flat filter "
                 "columns (delta_j, trust_score, engine_type, skill_ids, ...), the profiles as struct columns "
                 "and free-form objects as JSON text (datapack_client.frames). Written to a temporary file and "
                 "renamed. Needs the extra datapack[export]. Exit codes: 0 ok, 1 usage error.", _export)
    add_location_arguments(e)
    add_filter_arguments(e, default_all=True)
    e.add_argument("--format", required=True, choices=("parquet", "arrow"), help="arrow: the Arrow IPC file format")
    e.add_argument("--out", required=True, metavar="PATH")
    add_output_arguments(e)
