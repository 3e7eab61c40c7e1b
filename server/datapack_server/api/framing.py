"""Response bytes assembled from already-serialized records: a repeated
message field on the wire is just tag + length + bytes, so the records the
façade returns serialized (from its encoded cache) are framed, never
re-encoded, and streamed in messages bounded by count and bytes."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from google.protobuf.message import Message

from datapack_client.errors import ResourceExhaustedError

# Records per streamed query message, and a byte bound so a message stays far
# below the message size limit (64 MiB by default) even for portable packs
# (~0.5 MB each); a server configured with a smaller limit uses half of it.
QUERY_CHUNK_RECORDS = 256
QUERY_CHUNK_BYTES = 4 << 20


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    """Wire bytes of a length-delimited field (any payload bytes)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def field1(payload: bytes) -> bytes:
    """Wire bytes of field 1 (length-delimited) holding payload (the hot path:
    the tag is a constant)."""
    return b"\x0a" + _varint(len(payload)) + payload


def chunked_field1(payloads: Iterable[bytes], chunk_bytes: int,
                   max_records: int = QUERY_CHUNK_RECORDS) -> Iterator[bytes]:
    """Wire bytes of response messages whose field 1 (repeated) holds the
    payloads, many per message (gRPC Python pays per message) but at most
    max_records and about chunk_bytes each. Lazy: a payload is
    produced only when its message is about to be sent."""
    chunk: list[bytes] = []
    size = 0
    for b in payloads:
        piece = field1(b)
        if chunk and (len(chunk) >= max_records or size + len(piece) > chunk_bytes):
            yield b"".join(chunk)
            chunk, size = [], 0
        chunk.append(piece)
        size += len(piece)
    if chunk:
        yield b"".join(chunk)


def chunk_bytes_for(max_message_bytes: int) -> int:
    """Byte bound of a streamed message of many records under a message size limit."""
    return max(1, min(QUERY_CHUNK_BYTES, max_message_bytes // 2))


def response_bytes(response: bytes | Message) -> bytes:
    """The response serializer of handlers that may return pre-serialized
    bytes: bytes as they are, a message serialized."""
    return response if isinstance(response, bytes) else response.SerializeToString()


def json_lines_response(lines: bytes, rest: bytes) -> bytes:
    """A QueryDataPacksResponse whose json_lines (field 2) holds `lines`
    (JsonLinesBatch.lines, field 1) and the serialized other JsonLinesBatch
    fields `rest`: fields may come in any order, so the megabytes of lines are
    copied once into the response instead of into two messages in turn."""
    head = b"\x0a" + _varint(len(lines))
    return b"".join((b"\x12", _varint(len(head) + len(lines) + len(rest)), head, lines, rest))


def one_response(payloads: list[bytes], max_message_bytes: int) -> bytes:
    """A response message whose field 1 (repeated) holds every payload;
    RESOURCE_EXHAUSTED (RESPONSE_TOO_LARGE) when it would exceed the limit."""
    out = b"".join([field1(b) for b in payloads])
    if len(out) > max_message_bytes:
        raise ResourceExhaustedError(f"the answer is {len(out):,} bytes, over the message limit of "
                                     f"{max_message_bytes:,}; stream it (QueryDataPacks)", "RESPONSE_TOO_LARGE")
    return out
