"""One WARNING line per refused append batch, rate-limited.

A client whose batches the server refuses (invalid records, pack-id
conflicts, an unknown store...) learns why from the status; the operator
learns it from this line: the store, the task when the batch names one, the
number of records, the status code and the first violation (the request id
comes with every line, logs.py). A client sending nothing but bad batches must
not be able to flood the log, so at most `burst` lines are written per
`period` seconds; the batches past that are counted and the count is given in
the next line written. Only refused batches reach this code: an accepted
append costs nothing here.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from datapack_client.errors import DataPackError

log = logging.getLogger("datapack.server")

REJECTION_LOG_BURST = 20  # lines per period
REJECTION_LOG_PERIOD = 60.0  # seconds


class RejectionLog:
    """Logs refused append batches (see the module docstring). Thread-safe;
    one per server."""

    def __init__(self, burst: int = REJECTION_LOG_BURST, period: float = REJECTION_LOG_PERIOD,
                 clock: Callable[[], float] = time.monotonic, logger: logging.Logger = log):
        self.burst = burst
        self.period = period
        self._clock = clock
        self._log = logger
        self._lock = threading.Lock()
        self._window_start = float("-inf")
        self._written = 0  # lines written in the current window
        self.unlogged = 0  # refused batches not logged since the last line written

    def _admit(self) -> int | None:
        """None when this batch is over the limit (counted), else the number
        of batches left unlogged before it."""
        with self._lock:
            now = self._clock()
            if now - self._window_start >= self.period:
                self._window_start, self._written = now, 0
            if self._written >= self.burst:
                self.unlogged += 1
                return None
            self._written += 1
            skipped, self.unlogged = self.unlogged, 0
            return skipped

    def refused(self, rpc: str, store: str, task: str | None, records: int, err: DataPackError) -> bool:
        """Log one refused batch of `records` records (True when a line was written)."""
        skipped = self._admit()
        if skipped is None:
            return False
        first = err.violations[0] if err.violations else None
        where = ""
        if first is not None:
            where = f" on {first.field or 'a record'}" + (f" of pack {_short(first.pack_id)}" if first.pack_id else "")
        more = f" (+{len(err.violations) - 1} more violation(s))" if len(err.violations) > 1 else ""
        unlogged = f"; {skipped} earlier refused batch(es) not logged (rate limit)" if skipped else ""
        self._log.warning("%s refused: store=%s task=%s records=%d %s %s%s: %s%s%s", rpc, _short(store),
                          _short(task) if task else "(unknown)", records, err.code, err.reason or err.code, where,
                          _cut(first.message if first is not None else err.message), more, unlogged)
        return True


def _short(name: str, limit: int = 160) -> str:
    """A client-given name for the log, quoted and cut (names are checked
    after this line may be written, so one can be of any length)."""
    return repr(name) if len(name) <= limit else repr(name[:limit]) + "..."


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
