"""The acknowledgements a server remembers per writer, so that a batch
re-sent after a reconnect is stored once and answered as the first time."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class WriterMemo:
    """Remembers the acknowledgement of recent batches per (store, writer id),
    so a batch re-sent after a reconnect gets its original acknowledgement.

    A reconnecting writer re-sends only its unacknowledged batches (at most
    its in-flight window: 8 for stream_appender), so the last 64 per writer
    are plenty; an older re-sent batch is still stored once (its packs are
    ALREADY_PRESENT) but answered afresh. The bounds keep a long-running
    server's memory flat: the soak's 16 writers once held ~130 MB here with
    4096 batches each."""

    def __init__(self, per_writer: int = 64, writers: int = 1024):
        self.per_writer = per_writer
        self.writers = writers
        self._by_writer: OrderedDict[Any, OrderedDict[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, seq: int) -> Any:
        with self._lock:
            m = self._by_writer.get(key)
            return None if m is None else m.get(seq)

    def put(self, key: Any, seq: int, results: Any) -> None:
        with self._lock:
            m = self._by_writer.get(key)
            if m is None:
                m = self._by_writer[key] = OrderedDict()
                while len(self._by_writer) > self.writers:
                    self._by_writer.popitem(last=False)
            else:
                self._by_writer.move_to_end(key)
            m[seq] = results
            while len(m) > self.per_writer:
                m.popitem(last=False)
