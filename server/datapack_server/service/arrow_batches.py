"""Arrow record batches of a task's packs (`query_arrow`, `datapack export`).

The schema is the export schema of datapack_client.records.frames (its
docstring documents the columns), narrowed to the columns asked for. A batch
is built in two steps so that the task lock is held only to copy:

* `take_block(st, positions, schema)` (caller holds st.lock) copies what the
  batch needs: the index values of the flat filter columns for those
  positions (numpy gathers, no Python per row), the interned values their
  codes name, and the packs' stored lines (checked against their checksums)
  only when a requested column is not in the index. The filter columns alone
  read no line, except bucket for the rare pack whose stored bucket is
  neither "positive" nor "negative" (the index keeps only "other").
* `build_batch(block, schema)` (no lock) turns the block into a
  pyarrow.RecordBatch: index columns by vectorised Arrow/numpy operations,
  the record part by parsing the lines and converting column by column
  (service/arrow_columns.py). `build_batches` does the same for a stream of
  blocks, in worker processes when given an executor.

Values are those of frames.to_arrow over the served records of the same
packs (the index keeps the same defaults for null or wrongly typed values as
frames' filter columns; tests/test_arrow_batches.py checks them column by
column). One difference is inherent to the index: created_at is kept as
bytes in a fixed-width column, so trailing NUL characters of a stored
created_at are not kept.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from typing import Any

import numpy as np
import orjson

from datapack_client.errors import invalid
from datapack_client.records.frames import arrow_schema, created_utc, flat_row, require_extra
from datapack_client.records.schema import ARTIFACT_KEYS
from datapack_client.records.stored import is_legacy
from datapack_server.engine.memory import gc_paused
from datapack_server.engine.task_state import TaskState
from datapack_server.service import arrow_columns as ac
from datapack_server.service.line_batches import split_lines
from datapack_server.storage.lines import parse_line, served_record

# Flat columns the index holds, and the index columns each is made of.
INDEX_SOURCES: dict[str, tuple[str, ...]] = {
    "pack_id": (), "bucket": ("bucket",), "revision": ("revision",), "delta_j": ("delta_j",),
    "trust_score": ("trust",), "mvd_score": ("mvd", "mvd_present"), "source_type": ("source",),
    "engine_type": ("engine",), "wm_role": ("wm_role",), "wm_model_id": ("wm_model",), "schema_version": ("schema",),
    "created_at": ("created",), "created_at_utc": ("created",), "skill_ids": ("trace",), "has_sima": ("has_sima",),
    "has_counterfactual": ("has_cf",), "is_occluded": ("sl_occluded",), "is_dynamic": ("sl_dynamic",),
    "is_static": ("sl_static",), "occlusion_bucket": ("sl_occ_bucket",), "motion_bucket": ("sl_motion_bucket",),
    "task_name": ("task_name",),
}
_INTERNED = frozenset(("source", "engine", "wm_role", "wm_model", "schema", "trace", "sl_occ_bucket",
                       "sl_motion_bucket", "task_name"))
_OTHER_BUCKET = 2  # index code of a bucket that is neither positive nor negative (engine/index.py)


# ------------------------------------------------------------------------------ schema

def schema_for(columns: list[str] | None, include_artifacts: bool):
    """The export schema (without the artifact columns unless include_artifacts),
    narrowed to `columns` in the given order (None: every column)."""
    full = arrow_schema(() if include_artifacts else ARTIFACT_KEYS)
    if columns is None:
        return full
    names = full.names
    seen: set[str] = set()
    for name in columns:
        if name not in names or name in seen:
            why = "is named twice" if name in seen else "is not a column"
            hint = "" if include_artifacts or name not in ARTIFACT_KEYS else " without include_artifacts"
            raise invalid("columns", "COLUMN_UNKNOWN",
                          f"column {name!r} {why}{hint}; the columns are: {', '.join(names)}")
        seen.add(name)
    return require_extra("pyarrow").schema([full.field(name) for name in columns])


def reads_lines(schema) -> bool:
    """Whether a batch of this schema needs every pack's line (a column the index does not hold)."""
    return any(name not in INDEX_SOURCES for name in schema.names)


# ------------------------------------------------------------------------------ under the lock

def _gather_ids(st: TaskState, positions: np.ndarray) -> tuple[bytes, np.ndarray]:
    """(UTF-8 bytes, int32 offsets) of the pack ids at these positions."""
    ids = st.index.ids
    starts = ids.offsets[positions]
    lens = ids.offsets[positions + 1] - starts
    out = np.zeros(len(positions) + 1, dtype=np.int64)
    np.cumsum(lens, out=out[1:])
    if len(positions) and positions[-1] - positions[0] == len(positions) - 1 and (np.diff(positions) == 1).all():
        blob = bytes(ids.blob[int(starts[0]):int(starts[0]) + int(out[-1])])  # a contiguous range: one slice
    else:
        view = np.frombuffer(ids.blob, dtype=np.uint8)
        try:
            blob = view[np.repeat(starts - out[:-1], lens) + np.arange(out[-1])].tobytes()
        finally:
            del view  # the blob grows in place: no view of it may outlive the lock
    return blob, out.astype(np.int32)


def _compact_codes(codes: np.ndarray, values: list) -> tuple[np.ndarray, list]:
    """The codes renumbered over the interned values they use, and those values."""
    used, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int32), [values[c] for c in used.tolist()]


def take_block(st: TaskState, where, schema) -> dict:
    """What build_batch needs for these packs (caller holds st.lock). where:
    their index positions, or a snapshot of them taken earlier in the same read
    (line_batches.snapshot_rows: `position` and where each line was then); a
    pack revised since that snapshot is built from the line of the snapshot."""
    if isinstance(where, dict):
        positions = np.asarray(where["position"], dtype=np.int64)
        offs, lens, line_nos, revisions = (where[c] for c in ("line_off", "line_len", "line_no", "revision"))
        stale = np.flatnonzero(st.index.view("line_off")[positions] != offs)
    else:
        positions = np.asarray(where, dtype=np.int64)
        offs, lens, line_nos, revisions = (st.index.view(c)[positions]
                                           for c in ("line_off", "line_len", "line_no", "revision"))
        stale = np.zeros(0, dtype=np.int64)
    view, names = st.index.view, schema.names
    cols: dict[str, Any] = {}
    tables: dict[str, list] = {}
    for name in names:
        for source in INDEX_SOURCES.get(name, ()):
            if source not in cols:
                cols[source] = revisions.copy() if source == "revision" else view(source)[positions]
                if source in _INTERNED:
                    cols[source], tables[source] = _compact_codes(cols[source], st.index.cats[source].values)
    if reads_lines(schema) or (len(stale) and len(cols)):
        rows = None  # every row
    elif "bucket" in cols and (cols["bucket"] == _OTHER_BUCKET).any():
        rows = np.flatnonzero(cols["bucket"] == _OTHER_BUCKET)
    else:
        rows = np.zeros(0, dtype=np.int64)
    lines = None
    if rows is None or len(rows):
        at = slice(None) if rows is None else rows
        lines = (b"".join(st.read_runs(offs[at], lens[at])), lens[at].astype(np.int64), line_nos[at].tolist(), rows)
    return {"n": len(positions), "cols": cols, "tables": tables, "lines": lines,
            "ids": _gather_ids(st, positions) if "pack_id" in names else None,
            "stale": stale if len(stale) else None, "file_name": st.file.file_name, "task": st.task}


# ------------------------------------------------------------------------------ lines

def _parsed(line: bytes) -> dict:
    try:
        d = orjson.loads(line)
    except orjson.JSONDecodeError:
        d = None
    # An indexed line parsed once (parse_line); its checksum says it is the same
    # line, so only NaN tokens of old lines need the lenient parser again.
    return d if type(d) is dict else parse_line(line)


def _record_columns(block: dict) -> tuple[list, list | None]:
    """(the served records' TOP values as per-key columns, per line its
    unmodelled top-level keys or None; None when no line has any)."""
    data, lens, line_nos, _rows = block["lines"]
    lines = split_lines(data, lens)
    try:
        dicts = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        dicts = [_parsed(line) for line in lines]
    del lines
    rows = ac.modelled_rows(dicts)  # every key modelled, so no legacy line (it has no `condition`)
    if rows is not None:
        return ac.columns_of(rows), None
    file_name, task = block["file_name"], block["task"]
    values, extras = [], []
    for d, line_no in zip(dicts, line_nos):
        if type(d) is not dict:
            d = parse_line(b"null")  # raises CorruptLine, as the read of a non-object line would
        if "condition" not in d and is_legacy(d):
            v, e = ac.served_values(served_record(d, file_name, line_no, task))
        else:
            v, e = ac.record_values(d)
        values.append(v)
        extras.append(e)
    return ac.columns_of(values), (extras if any(e is not None for e in extras) else None)


# ------------------------------------------------------------------------------ index columns

def _strings_of_codes(pa, codes: np.ndarray, table: list):
    return pa.array(table, type=pa.string()).take(pa.array(codes))


def _skill_ids(pa, codes: np.ndarray, table: list):
    lens_t = np.fromiter(map(len, table), dtype=np.int64, count=len(table))
    flat = np.fromiter((s for t in table for s in t), dtype=np.int64, count=int(lens_t.sum()))
    starts_t = np.concatenate(([0], np.cumsum(lens_t)[:-1])).astype(np.int64)
    lens = lens_t[codes]
    offsets = np.zeros(len(codes) + 1, dtype=np.int32)
    np.cumsum(lens, out=offsets[1:])
    values = flat[np.repeat(starts_t[codes] - offsets[:-1], lens) + np.arange(offsets[-1])]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.int64()))


def _created(pa, created: np.ndarray):
    return pa.array(created, type=pa.binary(), mask=created == b"").cast(pa.string())


# ISO 8601 times of one fixed shape, naive or at UTC, with a valid hour, minute and second:
# datetime.fromisoformat and Arrow's cast read them alike (an impossible date fails both).
_PLAIN_TIME = (r"^([1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}"
               r"(\+00:00)?$")


def _created_utc(pa, created):
    import pyarrow.compute as pc  # loaded with arrow_columns

    typ = pa.timestamp("us", tz="UTC")
    if created.null_count < len(created) and pc.all(pc.match_substring_regex(created, _PLAIN_TIME)).as_py():
        try:
            return pc.utf8_slice_codeunits(created, 0, 26).cast(pa.timestamp("us")).cast(typ)
        except pa.ArrowInvalid:
            pass
    return pa.array([created_utc(v) for v in created.to_pylist()], type=typ)


def _flag(pa, codes: np.ndarray):
    return pa.array(codes == 1, type=pa.bool_(), mask=codes == -1)


def _index_column(pa, name: str, block: dict, typ):
    cols, tables = block["cols"], block["tables"]
    if name == "pack_id":
        blob, offsets = block["ids"]
        return pa.StringArray.from_buffers(block["n"], pa.py_buffer(offsets), pa.py_buffer(blob))
    if name in ("revision", "delta_j", "trust_score", "has_sima", "has_counterfactual"):
        return pa.array(cols[INDEX_SOURCES[name][0]], type=typ)
    if name == "mvd_score":
        return pa.array(cols["mvd"], type=typ, mask=~cols["mvd_present"])
    if name == "created_at":
        return _created(pa, cols["created"])
    if name == "created_at_utc":
        return _created_utc(pa, _created(pa, cols["created"]))
    if name == "skill_ids":
        return _skill_ids(pa, cols["trace"], tables["trace"])
    if name in ("is_occluded", "is_dynamic", "is_static"):
        return _flag(pa, cols[INDEX_SOURCES[name][0]])
    if name == "bucket":
        return _bucket(pa, block)
    source = INDEX_SOURCES[name][0]
    return _strings_of_codes(pa, cols[source], tables[source])


def _bucket(pa, block: dict):
    codes = block["cols"]["bucket"]
    col = pa.array(["positive", "negative", None], type=pa.string()).take(pa.array(np.minimum(codes, 2)))
    other = np.flatnonzero(codes == _OTHER_BUCKET)
    if not len(other):
        return col
    data, lens, line_nos, rows = block["lines"]
    lines = split_lines(data, lens)
    line_of = {r: i for i, r in enumerate(range(len(codes)) if rows is None else rows.tolist())}
    out = col.to_pylist()
    for r in other.tolist():
        i = line_of[r]
        d = _parsed(lines[i])
        if "condition" not in d and is_legacy(d):
            v = served_record(d, block["file_name"], line_nos[i], block["task"])["bucket"]
        else:
            v = ac.record_values(d)[0][ac.top_index("bucket")]  # a missing bucket reads as its default
        out[r] = v if type(v) is str else None
    return pa.array(out, type=pa.string())


# ------------------------------------------------------------------------------ batches

# Lines parsed and converted at a time: the parsed objects of this many lines
# stay in the CPU caches while they are converted (and freed), which is
# measurably faster than a whole large batch at once.
SUB_BLOCK = 1024


def _sub_block(block: dict, a: int, b: int) -> dict:
    data, lens, line_nos, rows = block["lines"]
    cum = block.setdefault("_line_ends", np.concatenate(([0], np.cumsum(lens))))
    lines = (data[int(cum[a]):int(cum[b])], lens[a:b], line_nos[a:b], rows)
    sub = {"n": b - a, "lines": lines, "file_name": block["file_name"], "task": block["task"]}
    return sub


def _record_arrays(pa, block: dict, fields: list) -> list:
    """The record-part columns (those read from the lines) of a block whose every line was read."""
    columns, extras = _record_columns(block)
    arrays = []
    for f in fields:
        name = f.name
        if name == "extra_json":
            arrays.append(ac.json_column(extras) if extras is not None else pa.nulls(block["n"], pa.string()))
        elif name == "task_name":
            arrays.append(ac.string_column(columns[ac.top_index(name)]))
        else:
            arrays.append(ac.record_column(name, columns[ac.top_index(name)], f.type))
    return arrays


def _restaled(pa, block: dict, index: dict) -> dict:
    """The flat columns of packs revised since the read's snapshot, from the
    lines of the snapshot (the index holds the newer revision's values)."""
    data, lens, line_nos, _rows = block["lines"]
    lines = split_lines(data, lens)
    revisions = block["cols"]["revision"]
    names = arrow_schema().names
    out = {}
    for name, arr in index.items():
        out[name] = arr.to_pylist()
    for r in block["stale"].tolist():
        rec = served_record(_parsed(lines[r]), block["file_name"], line_nos[r], block["task"])
        values = dict(zip(names, flat_row(rec, int(revisions[r]))))
        for name in out:
            if name != "pack_id":  # the pack's identity, the same in every revision
                out[name][r] = values[name]
    return {name: pa.array(values, type=index[name].type) for name, values in out.items()}


def sub_batches(block: dict, schema) -> list:
    """The block as record batches of at most SUB_BLOCK rows each when its lines
    are read (one batch otherwise), rows in order."""
    pa = require_extra("pyarrow")
    with gc_paused():  # many acyclic objects: collections would only rescan them
        index = {f.name: _index_column(pa, f.name, block, f.type) for f in schema if f.name in INDEX_SOURCES}
        if block["stale"] is not None and index:
            index = _restaled(pa, block, index)
        from_lines = [f for f in schema if f.name not in INDEX_SOURCES]
        n = block["n"]
        if not from_lines:
            return [pa.RecordBatch.from_arrays([index[f.name] for f in schema], schema=schema)]
        out = []
        for a in range(0, n, SUB_BLOCK) if n else [0]:
            b = min(n, a + SUB_BLOCK)
            sub = _sub_block(block, a, b) if n > SUB_BLOCK else block
            record = dict(zip([f.name for f in from_lines], _record_arrays(pa, sub, from_lines)))
            del sub  # its parsed lines are freed here, while collections are paused
            out.append(pa.RecordBatch.from_arrays(
                [record[f.name] if f.name in record else index[f.name].slice(a, b - a) for f in schema],
                schema=schema))
    return out


def build_batch(block: dict, schema):
    """The pyarrow.RecordBatch of a block (rows: the block's positions in order)."""
    batches = sub_batches(block, schema)
    if len(batches) == 1:
        return batches[0]
    return require_extra("pyarrow").concat_batches(batches)


def build_ipc(block: dict, schema) -> bytes:
    """build_batch(block) as an Arrow IPC stream (what a worker process returns)."""
    pa = require_extra("pyarrow")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(build_batch(block, schema))
    return sink.getvalue().to_pybytes()


def batch_of_ipc(data: bytes):
    """The record batch of build_ipc's stream (no copy: it reads from `data`)."""
    return require_extra("pyarrow").ipc.open_stream(data).read_next_batch()


def build_batches(blocks: Iterable[dict], schema, executor: Executor | None = None,
                  window: int = 4) -> Iterator:
    """The record batch of each block, in order: built here, or by `executor`
    (a process pool) with up to `window` blocks in flight."""
    if executor is None:
        for block in blocks:
            yield build_batch(block, schema)
        return
    pending: list = []
    for block in blocks:
        pending.append(executor.submit(build_ipc, block, schema))
        if len(pending) >= window:
            yield batch_of_ipc(pending.pop(0).result())
    while pending:
        yield batch_of_ipc(pending.pop(0).result())


__all__ = ["INDEX_SOURCES", "SUB_BLOCK", "batch_of_ipc", "build_batch", "build_batches", "build_ipc", "reads_lines",
           "schema_for", "sub_batches", "take_block"]
