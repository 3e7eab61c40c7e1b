"""Domain errors the engine raises that are built the same way in several places."""
from __future__ import annotations

from typing import Any

from datapack_client.errors import DataPackError, InternalError, ResourceExhaustedError
from datapack_client.records.validation_rules import PACK_ID_MAX_CHARS
from datapack_server.storage.taskfile import FULL_ERRNOS


def durability_error(exc: OSError, what: str) -> DataPackError:
    """The domain error of a failed write or fsync: RESOURCE_EXHAUSTED when the
    disk or quota is full, INTERNAL otherwise. Nothing was acknowledged."""
    if exc.errno in FULL_ERRNOS:
        return ResourceExhaustedError(f"{what}: {exc}", "STORE_FULL")
    return InternalError(f"{what}: {exc}", "STORE_IO_ERROR")


def echoed_pack_id(pack_id: Any) -> str | None:
    """A looked-up id as error details carry it: not one that no record can
    have (status trailers have a size limit; the message shows it shortened)."""
    return pack_id if type(pack_id) is str and len(pack_id) <= PACK_ID_MAX_CHARS else None
