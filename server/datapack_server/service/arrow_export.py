"""Writing datapacks as one file (`datapack export`): Parquet, Arrow IPC, CSV or JSON lines.

Parquet, Arrow and CSV hold the table of datapack_client.records.frames (its
docstring documents the columns), written record batch by record batch as
they arrive (service/arrow_batches.py builds them from the task index and the
stored lines). Parquet is zstd-compressed. CSV has the same columns; a column
whose Arrow type is nested (the profiles, skill_ids, the lists and name ->
number maps) holds the JSON text of its Arrow value there: a struct as an
object of its fields (extra_json included, as a string), a map as an object,
a list as an array. JSON lines hold one served record per line, as a query
returns it (without the heavy artifacts unless they were asked for); a stored
line that already is its served record is copied as stored.

Every file is written next to its destination under a temporary name,
fsynced and renamed over the destination, so a reader never sees a partial
file and an interrupted export leaves the previous file in place.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any

import orjson

from datapack_client.records import jsonio
from datapack_client.records.frames import arrow_schema, require_extra, to_arrow
from datapack_client.records.stored import LineBatch, is_served_form, omitted_keys, served_from_stored

FORMATS = ("parquet", "arrow", "jsonl", "csv")
ARROW_FORMATS = ("parquet", "arrow", "csv")


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


def _check_format(fmt: str, formats: tuple[str, ...] = FORMATS) -> None:
    if fmt not in formats:
        raise ValueError(f"format must be one of {', '.join(formats)}, got {fmt!r}")


def write_table(table: Any, path: str, fmt: str) -> int:
    """Write `table` to `path` atomically (parent folders created); returns the file size."""
    _check_format(fmt, ("parquet", "arrow"))
    pa = require_extra("pyarrow")
    with _atomic(path) as tmp:
        if fmt == "parquet":
            import pyarrow.parquet as pq
            pq.write_table(table, tmp, compression="zstd")
        else:
            with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
    return os.path.getsize(path)


# ------------------------------------------------------------------------------ CSV

def _fixer(typ) -> Any:
    """A function turning an Arrow value of this type (as to_pylist gives it)
    into its JSON value in place (maps become objects), None if it already is."""
    pa = require_extra("pyarrow")
    if pa.types.is_map(typ):
        return lambda value: {k: v for k, v in value}  # map items are numbers: nothing nested to fix
    if pa.types.is_struct(typ):
        fixes = [(f.name, fix) for f in typ if (fix := _fixer(f.type)) is not None]
        if not fixes:
            return None

        def fix_struct(value: dict) -> dict:
            for name, fix in fixes:
                if value[name] is not None:
                    value[name] = fix(value[name])
            return value
        return fix_struct
    if pa.types.is_list(typ):
        item = _fixer(typ.value_type)
        return None if item is None else (lambda value: [None if v is None else item(v) for v in value])
    return None


def _nested(typ) -> bool:
    pa = require_extra("pyarrow")
    return pa.types.is_struct(typ) or pa.types.is_list(typ) or pa.types.is_map(typ)


def csv_schema(arrow: Any) -> Any:
    """The CSV columns of an export schema: nested columns become JSON text."""
    pa = require_extra("pyarrow")
    return pa.schema([pa.field(f.name, pa.string()) if _nested(f.type) else f for f in arrow])


def csv_batch(batch: Any, target: Any) -> Any:
    """A record batch with its nested columns as JSON text (csv_schema)."""
    pa = require_extra("pyarrow")
    arrays = []
    for field, arr in zip(batch.schema, batch.columns):
        if not _nested(field.type):
            arrays.append(arr)
            continue
        dumps, fix = orjson.dumps, _fixer(field.type)
        values = arr.to_pylist()
        if fix is not None:
            values = [None if v is None else fix(v) for v in values]
        arrays.append(pa.array([None if v is None else dumps(v) for v in values], type=pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def csv_bytes(ipc: bytes, header: bool) -> bytes:
    """The CSV text of the record batch in an Arrow IPC stream (csv_batch's
    columns), with the header line when asked. Pure, for worker processes."""
    pa = require_extra("pyarrow")
    import pyarrow.csv as pcsv

    batch = pa.ipc.open_stream(ipc).read_next_batch()
    target = csv_schema(batch.schema)
    sink = pa.BufferOutputStream()
    pcsv.write_csv(csv_batch(batch, target), sink, pcsv.WriteOptions(include_header=header))
    return sink.getvalue().to_pybytes()


def ipc_of(batch: Any) -> bytes:
    """A record batch as an Arrow IPC stream (to hand it to a worker process)."""
    pa = require_extra("pyarrow")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def export_text(chunks: Iterable[tuple[bytes, int]], path: str, fmt: str, columns: int | None) -> dict:
    """Write text already converted ((bytes, rows) chunks, in order) as one file."""
    rows = 0
    with _atomic(path) as tmp, open(tmp, "wb") as fh:
        for chunk, n in chunks:
            fh.write(chunk)
            rows += n
    return {"path": path, "format": fmt, "rows": rows, "columns": columns, "bytes": os.path.getsize(path)}


# ------------------------------------------------------------------------------ Arrow formats

class _BatchWriter:
    """One open file of an Arrow format, written batch by batch."""

    def __init__(self, tmp: str, arrow: Any, fmt: str):
        pa = require_extra("pyarrow")
        self.fmt, self.sink = fmt, None
        if fmt == "parquet":
            import pyarrow.parquet as pq
            self.schema = arrow
            self.writer = pq.ParquetWriter(tmp, arrow, compression="zstd")
        elif fmt == "arrow":
            self.schema = arrow
            self.sink = pa.OSFile(tmp, "wb")
            self.writer = pa.ipc.new_file(self.sink, arrow)
        else:
            import pyarrow.csv as pcsv
            self.schema = csv_schema(arrow)
            self.writer = pcsv.CSVWriter(tmp, self.schema)

    def write(self, batch: Any) -> None:
        if self.fmt == "csv":
            batch = csv_batch(batch, self.schema)
        self.writer.write_batch(batch)

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            if self.sink is not None:
                self.sink.close()


def export_batches(arrow: Any, batches: Iterable[Any], path: str, fmt: str) -> dict:
    """Write record batches of schema `arrow` as one Parquet, Arrow IPC or CSV
    file, each batch as it arrives. Returns {path, format, rows, columns, bytes}."""
    _check_format(fmt, ARROW_FORMATS)
    rows = 0
    with _atomic(path) as tmp:
        writer = _BatchWriter(tmp, arrow, fmt)
        try:
            for batch in batches:
                writer.write(batch)
                rows += batch.num_rows
        finally:
            writer.close()
    return {"path": path, "format": fmt, "rows": rows, "columns": len(arrow.names), "bytes": os.path.getsize(path)}


# ------------------------------------------------------------------------------ JSON lines

def served_lines(batch: LineBatch) -> bytes:
    """The JSON lines of a batch's served records (as a query returns them:
    normalised, without the artifacts the batch left out). A stored line whose
    object already is its served record (every line this service writes) is
    written as stored: the same JSON values, formatted as they were stored.
    Pure, so worker processes convert batches in parallel."""
    out = []
    masks = batch.omitted or [0] * len(batch.pack_ids)
    lines = batch.lines.split(b"\n")
    for line, pid, line_no, mask in zip(lines, batch.pack_ids, batch.line_numbers, masks):
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError:  # NaN tokens of an old line: kept as tokens (jsonio)
            d = jsonio.loads(line)
        else:
            if not mask and is_served_form(d):
                out.append(line)
                continue
        d = served_from_stored(d, pid, line_no, batch.task_name)
        for key in omitted_keys(mask) if mask else ():
            d.pop(key, None)
        out.append(jsonio.dumps(d))
    out.append(b"")
    return b"\n".join(out)


def export_lines(chunks: Iterable[bytes], path: str) -> dict:
    """Write JSON lines (chunks of complete lines) as one file. Returns {path, format, rows, bytes}."""
    return export_text(((chunk, chunk.count(b"\n")) for chunk in chunks), path, "jsonl", None)


# ------------------------------------------------------------------------------ records in hand

CHUNK = 2048


def export_packs(packs: Iterable[Any], path: str, fmt: str, omitted: Iterable[str] = (),
                 chunk: int = CHUNK) -> dict:
    """Write the packs (DataPackMeta or record dicts) as one file, converted
    `chunk` packs at a time; each converted pack is dropped from the list
    taken here, so memory holds the parsed records of one chunk, not all.
    omitted: artifact keys without a column (those a basic-view query left
    out). Returns {path, format, rows, columns, bytes}."""
    _check_format(fmt)
    packs = list(packs)  # the only reference left once the caller passes a temporary
    omitted = sorted(omitted)

    def pieces(convert):
        for start in range(0, len(packs), chunk):
            end = min(start + chunk, len(packs))
            yield convert(packs[start:end])
            packs[start:end] = [None] * (end - start)

    if fmt == "jsonl":
        def lines(part: list) -> bytes:
            objs = [p if type(p) is dict else p.json_object() for p in part]
            return b"".join(jsonio.dumps({k: v for k, v in o.items() if k not in omitted}) + b"\n" for o in objs)
        return export_lines(pieces(lines), path)
    arrow = arrow_schema(omitted)
    return export_batches(arrow, (b for t in pieces(lambda part: to_arrow(part, omitted=omitted))
                                  for b in t.to_batches()), path, fmt)


__all__ = ["ARROW_FORMATS", "CHUNK", "FORMATS", "csv_batch", "csv_bytes", "csv_schema", "export_batches",
           "export_lines", "export_packs", "export_text", "ipc_of", "served_lines", "write_table"]
