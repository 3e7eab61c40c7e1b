"""Bulk reads: the packs of a query as their stored lines (records.stored.LineBatch).

A bulk read (query(limit=None), load_all, iter_query, the wire's
RECORD_ENCODING_JSON_LINES) sends each pack's line as it is stored: the server
neither parses nor re-encodes it, and a reader parses a line only when it
reads more of the pack than its pack_id. Lines of a batch that are adjacent
in the file are read with one read. A basic-view read (no heavy artifacts)
sends a pack that stores artifacts as its line without them, re-encoded once
and then kept in the encoded cache.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from datapack_client.records import jsonio, schema
from datapack_client.records.query import MAX_BATCH_SIZE
from datapack_client.records.stored import LineBatch, omitted_mask
from datapack_server.engine.task_state import TaskState
from datapack_server.storage.lines import parse_line

DEFAULT_BATCH_SIZE = 1024  # packs per batch when the reader does not say
# A batch stops growing at this many bytes of lines (at least one line): each
# batch is one message of a streamed read, well under the 64 MiB message limit.
BATCH_BYTES = 4 << 20


def batch_bounds(lens: np.ndarray, batch_size: int, max_bytes: int = BATCH_BYTES) -> list[tuple[int, int]]:
    """[start, stop) of consecutive batches over lines of these lengths: each
    at most batch_size lines and max_bytes bytes, and at least one line."""
    cum = np.concatenate(([0], np.cumsum(lens, dtype=np.int64)))
    n, out, start = len(lens), [], 0
    while start < n:
        stop = min(start + batch_size, n)
        if cum[stop] - cum[start] > max_bytes:
            stop = max(start + 1, int(np.searchsorted(cum, cum[start] + max_bytes, side="right")) - 1)
        out.append((start, stop))
        start = stop
    return out


def fixed_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) of consecutive blocks of `size` over n items."""
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def stripped_line(raw: bytes) -> tuple[bytes, int]:
    """A line (without its newline) without its heavy artifacts, and the
    omitted bits of the keys that held a value (docs/portable.md: what a
    basic-view read leaves out)."""
    d = parse_line(raw)
    mask = omitted_mask([k for k in schema.ARTIFACT_KEYS if d.get(k) is not None])
    for key in schema.ARTIFACT_KEYS:
        d.pop(key, None)
    return jsonio.dumps(d), mask  # NaN tokens of an old line stay NaN tokens


def split_lines(data: bytes, lens: np.ndarray) -> list[bytes]:
    """The lines (without their newlines) of consecutive indexed lines of these lengths."""
    lines = data.split(b"\n")
    lines.pop()  # after the last newline
    if len(lines) == len(lens):
        return lines
    ends = np.cumsum(lens).tolist()  # not reached for indexed lines (one newline each, at the end)
    return [data[a:b - 1] for a, b in zip([0, *ends[:-1]], ends)]


# What a consistent read keeps of each match when it begins (snapshot_rows).
WHERE_COLUMNS = ("line_off", "line_len", "line_no", "revision", "has_artifacts")


def snapshot_rows(st: TaskState, positions: np.ndarray) -> dict[str, np.ndarray]:
    """Each match's position and where its current line is (caller holds st.lock)."""
    v = st.index.view
    return {"position": positions, **{c: v(c)[positions] for c in WHERE_COLUMNS}}


def take_batch(st: TaskState, where: dict[str, np.ndarray], basic: bool,
               stripped: Callable[[int, bytes], tuple[bytes, int]]) -> LineBatch:
    """The batch of these matches (snapshot_rows; caller holds st.lock).
    basic: leave the heavy artifacts out; stripped(offset, line) gives a line
    without them (lines without their newlines)."""
    offs, lens = where["line_off"], where["line_len"]
    runs = st.read_runs(offs, lens)
    omitted = None
    heavy = where["has_artifacts"]
    if basic and heavy.any():
        lines = split_lines(b"".join(runs), lens)
        omitted = [0] * len(lines)
        for i in np.flatnonzero(heavy).tolist():
            lines[i], omitted[i] = stripped(int(offs[i]), lines[i])
        runs = [b"\n".join(lines), b"\n"]
    pack_id = st.index.pack_id
    return LineBatch(st.task, b"".join(runs), [pack_id(p) for p in where["position"].tolist()],
                     where["revision"].tolist(), where["line_no"].tolist(), omitted)


__all__ = ["DEFAULT_BATCH_SIZE", "MAX_BATCH_SIZE", "BATCH_BYTES", "WHERE_COLUMNS", "batch_bounds", "fixed_bounds",
           "snapshot_rows", "split_lines", "stripped_line", "take_batch"]
