"""`datapack export`: write the packs matching the filters as one Parquet, Arrow, CSV or JSON-lines file.

    datapack export LOCATION --task T --out PATH [--format parquet|arrow|jsonl|csv] [filters] [--sort-by F]
                    [--limit N] [--workers N]

The format follows the extension of --out (FORMAT_OF_EXTENSION) unless --format names it. Parquet, Arrow
and CSV need the extra datapack[export] (pyarrow). On a local folder the table is built from the task
index and the stored lines, in worker processes for a large task (service/arrow_batches.py); through
--target it comes from the server's columnar read (query_arrow) or its bulk read (iter_query).
"""
from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Iterator
from itertools import chain
from typing import Any, TextIO

from datapack_server.cli.common import EXIT_OK
from datapack_server.cli.options import (
    UsageError,
    add_filter_arguments,
    add_location_arguments,
    add_output_arguments,
    add_verb,
    check_location,
    open_repo,
    selection_of,
    store_folder,
)
from datapack_server.cli.tables import json_line

FORMAT_OF_EXTENSION = {".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow",
                       ".ipc": "arrow", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
FORMATS = ("parquet", "arrow", "jsonl", "csv")
BLOCK = 4096  # packs a worker converts at a time
# A task file at least this large is exported by worker processes when --workers is not given
# (starting them costs about a second; below this the export is quicker in this process).
PARALLEL_MIN_BYTES = 64 << 20


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


def _workers(args: argparse.Namespace, folder: str) -> int:
    if args.workers is not None:
        return args.workers
    from datapack_server.storage.taskfile import SUFFIX

    try:
        size = os.path.getsize(os.path.join(folder, args.task + SUFFIX))
    except OSError:
        return 0  # the read says what is missing
    return (os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 0


def _local_export(args: argparse.Namespace, file_format: str) -> dict:
    """Export from a store folder through the façade, converting in worker processes when asked."""
    from datapack_client.records.query import make_query
    from datapack_server.engine.parsing import WorkerPool
    from datapack_server.service import arrow_export
    from datapack_server.service.facade import DataPackService

    folder = store_folder(args, False)
    workers = _workers(args, folder)
    pool = WorkerPool(workers, preload=("datapack_server.service.arrow_batches",
                                        "datapack_server.service.arrow_export")) if workers else None
    if pool is not None:
        # The workers start (and import pyarrow) while this process loads the task.
        threading.Thread(target=pool.start, name="export-workers", daemon=True).start()
    service = DataPackService.embedded(folder)
    try:
        executor = pool.executor() if pool is not None else None
        spec = make_query(**selection_of(args, default_all=True))
        if file_format == "jsonl":
            batches = service.query_line_batches("", args.task, spec, BLOCK)
            return arrow_export.export_lines(_in_order(batches, arrow_export.served_lines, executor), args.out)
        arrow, batches = service.query_arrow("", args.task, spec, None, BLOCK, executor)
        if file_format == "csv" and executor is not None:  # the JSON text of nested columns: by the workers too
            return arrow_export.export_text(_csv_chunks(arrow, batches, executor), args.out, "csv", len(arrow.names))
        return arrow_export.export_batches(arrow, batches, args.out, file_format)
    finally:
        if pool is not None:
            pool.close()
        service.close()


def _csv_chunks(arrow, batches, executor) -> Iterator[tuple[bytes, int]]:
    """(CSV text, rows) of each batch, converted by the workers; the header comes with the first
    (alone when nothing matched)."""
    from datapack_client.frames import require_extra
    from datapack_server.service.arrow_export import csv_bytes, ipc_of

    pa = require_extra("pyarrow")
    batches = iter(batches)
    first = next(batches, None)
    batches = chain([first] if first is not None else [pa.RecordBatch.from_pylist([], schema=arrow)], batches)

    def convert(item: tuple[int, Any]) -> tuple[Any, int]:
        i, batch = item
        return executor.submit(csv_bytes, ipc_of(batch), i == 0), batch.num_rows

    pending: list = []
    for item in enumerate(batches):
        pending.append(convert(item))
        if len(pending) >= 4:
            fut, n = pending.pop(0)
            yield fut.result(), n
    for fut, n in pending:
        yield fut.result(), n


def _in_order(items, convert, executor, window: int = 4) -> Iterator[Any]:
    """convert(item) of each item, in order: here, or by executor a few items ahead."""
    if executor is None:
        for item in items:
            yield convert(item)
        return
    pending: list = []
    for item in items:
        pending.append(executor.submit(convert, item))
        if len(pending) >= window:
            yield pending.pop(0).result()
    while pending:
        yield pending.pop(0).result()


def _remote_export(args: argparse.Namespace, file_format: str) -> dict:
    """Export through a server: its columnar read for the Arrow formats, its bulk read for JSON lines."""
    from datapack_client.records import jsonio
    from datapack_server.service import arrow_export

    repo = open_repo(args)
    try:
        selection = selection_of(args, default_all=True)
        if file_format == "jsonl":
            packs = repo.iter_query(args.task, batch_size=BLOCK, **selection)
            lines = (jsonio.dumps(p.json_object()) + b"\n" for p in packs)
            return arrow_export.export_lines(lines, args.out)
        table = repo.query_arrow(args.task, batch_size=BLOCK, **selection)
        return arrow_export.export_batches(table.schema, table.to_batches(), args.out, file_format)
    finally:
        repo.close()


def _export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    file_format = format_of(args.out, args.format)
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {args.workers}")
    check_location(args)
    if file_format != "jsonl":
        from datapack_client.frames import require_extra
        require_extra("pyarrow")  # before reading anything: a missing extra is said at once
    summary = _remote_export(args, file_format) if args.target else _local_export(args, file_format)
    if args.json:
        out.write(json_line(summary) + "\n")
    elif not args.quiet:
        columns = f"{summary['columns']} columns, " if summary["columns"] is not None else ""
        print(f"wrote {summary['rows']} pack(s), {columns}to {summary['path']} "
              f"({summary['format']}, {summary['bytes']} bytes)", file=out)
    return EXIT_OK


def register(sub) -> None:
    """Register `export` on the `datapack` subparsers."""
    e = add_verb(sub, "export", "write the matching packs as a Parquet, Arrow, CSV or JSON-lines file",
                 "Write the packs matching the filters (default: all of the task) as one file. Parquet "
                 "(zstd), Arrow IPC and CSV hold one table: flat filter columns (delta_j, trust_score, "
                 "engine_type, skill_ids, ...), the profiles as struct columns and free-form objects as JSON "
                 "text (datapack_client.frames); in CSV every nested column (profiles, lists, name -> number "
                 "maps, skill_ids) is the JSON text of its value. JSON lines (.jsonl) hold one record per "
                 "line as a query returns it. Written to a temporary file and renamed. The format follows "
                 "the extension of --out (.parquet/.pq, .arrow/.feather/.ipc, .csv, .jsonl/.ndjson) unless "
                 "--format names it. Parquet, Arrow and CSV need the extra datapack[export].", _export,
                 exits="0 written (also an empty table when nothing matches); 1 the store or task does not exist, "
                       "the extra is missing or the file cannot be written")
    add_location_arguments(e)
    add_filter_arguments(e, default_all=True)
    e.add_argument("--format", choices=FORMATS,
                   help="arrow: the Arrow IPC file format; jsonl: JSON lines (default: from the extension of --out)")
    e.add_argument("--out", required=True, metavar="PATH")
    e.add_argument("--workers", type=int, metavar="N",
                   help="worker processes converting packs on a local folder (0: none; default: one per core "
                        f"for a task file of {PARALLEL_MIN_BYTES >> 20} MiB or more, else none)")
    add_output_arguments(e)
