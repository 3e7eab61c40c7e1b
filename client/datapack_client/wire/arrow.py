"""Arrow record batches on the wire (QueryArrow): the pieces of one Arrow IPC
stream, the schema first and then one record batch per message; joined in
order they are a complete stream any Arrow library reads. pyarrow is imported
only here, when a columnar read runs (the `export` extra)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from datapack_client.records.frames import require_extra


def ipc_pieces(schema: Any, batches: Iterable[Any]) -> Iterator[bytes]:
    """The IPC stream of these batches, one piece per message."""
    yield schema.serialize().to_pybytes()
    for batch in batches:
        yield batch.serialize().to_pybytes()


def table_from_pieces(pieces: Iterable[bytes]) -> Any:
    """The pyarrow.Table of an IPC stream received in pieces."""
    pa = require_extra("pyarrow")
    it = iter(pieces)
    schema = pa.ipc.read_schema(pa.py_buffer(next(it)))
    # Each batch stays over its received bytes (no copy).
    return pa.Table.from_batches([pa.ipc.read_record_batch(pa.py_buffer(p), schema) for p in it], schema=schema)
