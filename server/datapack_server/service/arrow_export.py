"""Writing datapacks as a Parquet or Arrow IPC file (`datapack export`).

The table is datapack_client.records.frames.to_arrow (its docstring documents
the columns), built and written a chunk of packs at a time. The file is
written next to its destination under a temporary name, fsynced and renamed
over the destination, so a reader never sees a partial file and an
interrupted export leaves the previous file in place.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any

from datapack_client.records.frames import arrow_schema, require_extra, to_arrow

FORMATS = ("parquet", "arrow")


@contextmanager
def _atomic(path: str):
    """A temporary file beside `path`, fsynced and renamed over it when the
    block succeeds, removed when it fails."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; an export is an ordinary file
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)  # the rename itself survives a crash
    finally:
        os.close(dfd)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def write_table(table: Any, path: str, fmt: str) -> int:
    """Write `table` to `path` atomically (parent folders created); returns the file size."""
    _check_format(fmt)
    pa = require_extra("pyarrow")
    with _atomic(path) as tmp:
        if fmt == "parquet":
            import pyarrow.parquet as pq
            pq.write_table(table, tmp, compression="zstd")
        else:
            with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
    return os.path.getsize(path)


CHUNK = 2048


def export_packs(packs: Iterable[Any], path: str, fmt: str, omitted: Iterable[str] = (),
                 chunk: int = CHUNK) -> dict:
    """Write the packs (DataPackMeta or record dicts) as one table, converted
    `chunk` packs at a time; each converted pack is dropped from the list
    taken here, so memory holds the parsed records of one chunk, not all.
    omitted: artifact keys without a column (those a basic-view query left
    out). Returns {path, format, rows, columns, bytes}."""
    _check_format(fmt)
    pa = require_extra("pyarrow")
    packs = list(packs)  # the only reference left once the caller passes a temporary
    omitted = sorted(omitted)
    schema = arrow_schema(omitted)
    with _atomic(path) as tmp:
        if fmt == "parquet":
            import pyarrow.parquet as pq
            writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            sink = None
        else:
            sink = pa.OSFile(tmp, "wb")
            writer = pa.ipc.new_file(sink, schema)
        try:
            for start in range(0, len(packs), chunk):
                end = min(start + chunk, len(packs))
                writer.write_table(to_arrow(packs[start:end], omitted=omitted))
                packs[start:end] = [None] * (end - start)
        finally:
            writer.close()
            if sink is not None:
                sink.close()
    return {"path": path, "format": fmt, "rows": len(packs), "columns": len(schema.names),
            "bytes": os.path.getsize(path)}


__all__ = ["CHUNK", "FORMATS", "export_packs", "write_table"]
