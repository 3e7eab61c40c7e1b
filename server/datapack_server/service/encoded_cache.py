"""Serialized DataPackMeta messages kept for the records the server sends
most: a hot record is encoded once, then its bytes are reused."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from datapack_client.records import schema
from datapack_client.wire import codec


class EncodedCache:
    """LRU of serialized DataPackMeta messages keyed by where their line is.

    Lines are immutable (append-only files; a replaced file has a new inode),
    so entries never go stale; the bound is on bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Any, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Any) -> bytes | None:
        with self._lock:
            v = self._entries.get(key)
            if v is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return v

    def put(self, key: Any, value: bytes) -> None:
        if len(value) > self.max_bytes // 8:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = value
            self.bytes += len(value)
            while self.bytes > self.max_bytes:
                _, old = self._entries.popitem(last=False)
                self.bytes -= len(old)


def encode_record(rec: dict, revision: int, basic: bool) -> bytes:
    """A stored record as a serialized DataPackMeta. basic: the view without
    the heavy artifacts (those fields unset and named in omitted_fields)."""
    omitted = [k for k in schema.ARTIFACT_KEYS if rec.get(k) is not None] if basic else []
    for k in omitted:
        rec[k] = None
    msg = codec.dict_to_message(rec)
    msg.revision = revision
    msg.omitted_fields.extend(omitted)
    return msg.SerializeToString()
