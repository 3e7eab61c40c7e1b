"""An append batch split into requests under a message limit (docs/repository.md §4.2).

A server refuses a request over its `max_message_bytes` (RESOURCE_EXHAUSTED), so the client's
`append_batch` sends a batch of any size as consecutive `AppendDataPacksBatch` requests, each
under the limit, in input order. Each part is one atomic batch on the server; the helpers here
make the parts, and turn one part's results and errors back into those of the whole batch.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from datapack_client.errors import DataPackError, ResourceExhaustedError, Violation
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.results import AppendResult

MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"


# Per-record allowances on top of a call's base deadline: a large append or
# ingest takes proportionally longer on the server, and must not time out for it.
SECONDS_PER_APPENDED_RECORD = 0.001
SECONDS_PER_INGESTED_EPISODE = 0.005


def append_deadline(base: float, records: int) -> float:
    return base + records * SECONDS_PER_APPENDED_RECORD


def ingest_deadline(base: float, episodes: int) -> float:
    return base + episodes * SECONDS_PER_INGESTED_EPISODE


def varint_size(n: int) -> int:
    """Bytes of `n` as a protobuf varint."""
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def field_size(payload: int) -> int:
    """Bytes of one length-delimited field (tag below 16) whose payload has `payload` bytes."""
    return 1 + varint_size(payload) + payload


@dataclasses.dataclass
class AppendPart:
    """One request of a split batch: records [start, start + len(request.data_packs))."""

    start: int
    request: spb.AppendDataPacksBatchRequest

    @property
    def count(self) -> int:
        return len(self.request.data_packs)


def split_batch(store: str, msgs: list[pb.DataPackMeta], max_message_bytes: int) -> Iterator[AppendPart]:
    """The batch as requests of at most `max_message_bytes` serialized bytes each, in input order.

    Raises ResourceExhaustedError (MESSAGE_TOO_LARGE, one violation per record) before anything is
    made if a single record cannot fit in a request: no server with this limit could take it."""
    base = field_size(len(store.encode())) if store else 0
    sizes = [field_size(m.ByteSize()) for m in msgs]
    too_large = [i for i, s in enumerate(sizes) if base + s > max_message_bytes]
    if too_large:
        raise ResourceExhaustedError(
            f"{len(too_large)} record(s) are larger than the message limit of {max_message_bytes:,} bytes "
            f"on their own (the first, data_packs[{too_large[0]}], is {sizes[too_large[0]]:,} bytes); "
            f"nothing was sent", MESSAGE_TOO_LARGE,
            [Violation(i, msgs[i].pack_id or None, "", MESSAGE_TOO_LARGE,
                       f"record of {sizes[i]:,} bytes; the message limit is {max_message_bytes:,} bytes")
             for i in too_large])
    start, used = 0, base
    for i, size in enumerate(sizes):
        if used + size > max_message_bytes:
            yield AppendPart(start, spb.AppendDataPacksBatchRequest(store=store, data_packs=msgs[start:i]))
            start, used = i, base
        used += size
    if start < len(msgs):
        yield AppendPart(start, spb.AppendDataPacksBatchRequest(store=store, data_packs=msgs[start:]))


def part_results(part: AppendPart, results: list[AppendResult]) -> list[AppendResult]:
    """A part's results indexed within the whole batch."""
    if part.start:
        for r in results:
            r.index += part.start
    return results


def part_error(err: DataPackError, part: AppendPart, total: int) -> DataPackError:
    """The error of a failed part as the whole batch's error: the same class and reason, its
    violations indexed within the whole batch and, when earlier parts were stored, a message that
    says which records are stored and that retrying the whole call is safe."""
    if not part.start:
        return err
    end = part.start + part.count
    message = (f"{err.message} (records {part.start}..{end - 1} of this batch of {total}, sent as one "
               f"part under the message limit; records 0..{part.start - 1} before it are stored, "
               f"records from {part.start} on are not acknowledged: retrying the whole batch stores "
               f"each record once, those already stored answer already_present)")
    violations = [dataclasses.replace(v, index=v.index + part.start) for v in err.violations]
    return type(err)(message, err.reason, violations)
