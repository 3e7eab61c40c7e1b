"""`datapack export`: write the packs matching the filters as one Parquet or Arrow file.

    datapack export LOCATION --task T --out PATH [--format parquet|arrow] [filters] [--sort-by F] [--limit N]

The format follows the extension of --out (FORMAT_OF_EXTENSION) unless --format names it. Needs the
extra datapack[export] (pyarrow).
"""
from __future__ import annotations

import argparse
import os
from typing import TextIO

from datapack_client.records import schema
from datapack_server.cli.common import EXIT_OK
from datapack_server.cli.options import (
    UsageError,
    add_filter_arguments,
    add_location_arguments,
    add_output_arguments,
    add_verb,
    open_repo,
    selection_of,
)
from datapack_server.cli.tables import json_line

FORMAT_OF_EXTENSION = {".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow",
                       ".ipc": "arrow"}


def format_of(out: str, given: str | None) -> str:
    """The file format: --format when given, else the one the extension of --out names;
    a usage error when neither says, or when they disagree."""
    extension = os.path.splitext(out)[1].lower()
    implied = FORMAT_OF_EXTENSION.get(extension)
    if given is None:
        if implied is None:
            known = ", ".join(FORMAT_OF_EXTENSION)
            raise UsageError(f"cannot tell the format of --out {out!r} from its extension ({known}): give --format")
        return implied
    if implied is not None and implied != given:
        raise UsageError(f"--format {given} does not match --out {out!r}, a {implied} file name")
    return given


def _export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from datapack_client.frames import require_extra
    from datapack_server.service.arrow_export import export_packs

    file_format = format_of(args.out, args.format)
    require_extra("pyarrow")  # before reading anything: a missing extra is said at once
    repo = open_repo(args)
    try:
        # Passed on without a name here, so export_packs holds the only reference and frees each chunk.
        summary = export_packs(repo.query(args.task, **selection_of(args, default_all=True)), args.out, file_format,
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
                 "renamed. The format follows the extension of --out (.parquet/.pq, .arrow/.feather/.ipc) unless "
                 "--format names it. Needs the extra datapack[export].", _export,
                 exits="0 written (also an empty table when nothing matches); 1 the store or task does not exist, "
                       "the extra is missing or the file cannot be written")
    add_location_arguments(e)
    add_filter_arguments(e, default_all=True)
    e.add_argument("--format", choices=("parquet", "arrow"),
                   help="arrow: the Arrow IPC file format (default: from the extension of --out)")
    e.add_argument("--out", required=True, metavar="PATH")
    add_output_arguments(e)
