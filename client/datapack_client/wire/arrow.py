"""Arrow record batches on the wire (QueryArrow): the pieces of one Arrow IPC
stream, the schema first and then one record batch per message; joined in
order they are a complete stream any Arrow library reads. pyarrow is imported
only here, when a columnar read runs (the `export` extra)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from datapack_client.records.frames import require_extra


def ipc_pieces(schema: Any, batches: Iterable[Any], max_bytes: int | None = None) -> Iterator[bytes]:
    """The IPC stream of these batches, one piece per message; a batch whose
    piece exceeds max_bytes is sent as smaller slices (down to one row)."""
    yield schema.serialize().to_pybytes()
    for batch in batches:
        yield from _batch_pieces(batch, max_bytes)


def _batch_pieces(batch: Any, max_bytes: int | None) -> Iterator[bytes]:
    piece = batch.serialize().to_pybytes()
    if max_bytes is None or len(piece) <= max_bytes or batch.num_rows <= 1:
        yield piece
        return
    half = batch.num_rows // 2
    yield from _batch_pieces(batch.slice(0, half), max_bytes)
    yield from _batch_pieces(batch.slice(half), max_bytes)


def table_from_pieces(pieces: Iterable[bytes]) -> Any:
    """The pyarrow.Table of an IPC stream received in pieces."""
    pa = require_extra("pyarrow")
    it = iter(pieces)
    schema = pa.ipc.read_schema(pa.py_buffer(next(it)))
    # Each batch stays over its received bytes (no copy).
    return pa.Table.from_batches([pa.ipc.read_record_batch(pa.py_buffer(p), schema) for p in it], schema=schema)
