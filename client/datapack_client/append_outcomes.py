"""What a streamed append ends in: the Future of each appended pack, a
rejected pack's own error, all rejections of an appender as one error, and the
caller's callbacks (shared by StreamAppender and the asyncio appender)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from datapack_client.errors import DataPackError, Violation

LOG = logging.getLogger("datapack_client.appender")


class AppendFuture(Future):
    """The concurrent.futures.Future of one appended pack (its AppendResult).

    A plain Future builds a threading.Condition at once: about ten objects for
    the garbage collector per pack, which outlive a few collections while their
    batch is in flight, and made the collector the appender's largest CPU cost
    (+20 us a pack with 10,000 packs in memory). This one creates its condition
    on first use (a waiter, a callback, its result being set) and is otherwise
    a Future like any other (wait, as_completed, asyncio.wrap_future)."""

    _lazy_condition: threading.Condition

    def __init__(self) -> None:  # Future.__init__'s fields, but the condition
        self._state = "PENDING"
        self._result = None
        self._exception = None
        self._waiters: list = []
        self._done_callbacks: list = []

    @property
    def _condition(self) -> threading.Condition:  # type: ignore[override]
        try:
            return self._lazy_condition
        except AttributeError:
            with _CONDITION_CREATION:
                try:
                    return self._lazy_condition
                except AttributeError:
                    self._lazy_condition = threading.Condition()
                    return self._lazy_condition


_CONDITION_CREATION = threading.Lock()


def check_appender_settings(batch_size: int, max_in_flight: int, linger: float, reconnect_timeout: float,
                            connect_timeout: float, keep_results: int | None) -> None:
    """The settings every stream appender (sync or asyncio) refuses."""
    if batch_size <= 0 or max_in_flight <= 0:
        raise ValueError("batch_size and max_in_flight must be positive")
    if linger < 0 or reconnect_timeout < 0 or connect_timeout < 0:
        raise ValueError("linger, reconnect_timeout and connect_timeout must not be negative")
    if keep_results is not None and keep_results < 0:
        raise ValueError("keep_results must be >= 0 or None")


def combined_rejections(errors: list[DataPackError]) -> DataPackError | None:
    """Rejected batches' errors as one (StreamAppender.rejections_error; the
    asyncio appender's too)."""
    if len(errors) <= 1:
        return errors[0] if errors else None
    cls = type(errors[0]) if all(type(e) is type(errors[0]) for e in errors) else DataPackError
    shown = "; ".join(f"{e.reason}: {e.message}" for e in errors[:5])
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    return cls(f"{len(errors)} batches rejected: {shown}{more}", errors[0].reason,
               [v for e in errors for v in e.violations])


def pack_rejection(err: DataPackError, index: int, pack_id: str, violations: list[Violation] | None) -> DataPackError:
    """The error of one pack of a rejected batch: its own violations, or
    BATCH_REJECTED when another record of its atomic batch was the cause."""
    if violations:
        reasons = "; ".join(f"{v.field}: {v.reason}: {v.message}" if v.field else f"{v.reason}: {v.message}"
                            for v in violations)
        return type(err)(f"pack {pack_id!r} rejected: {reasons}", violations[0].reason, list(violations))
    message = f"pack {pack_id!r} not stored: its batch was rejected ({err.reason}: {err.message})"
    return type(err)(message, "BATCH_REJECTED", [Violation(index, pack_id or None, "", "BATCH_REJECTED", message)])


def settle_future(future: Future, result: Any, error: BaseException | None = None) -> None:
    """Set a future's outcome unless the caller cancelled it (its pack is still sent)."""
    try:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
    except InvalidStateError:
        pass


def chained(err: DataPackError, cause: BaseException) -> DataPackError:
    """`err` raised from `cause` (its traceback shown with the error)."""
    err.__cause__ = cause
    return err


def run_callback(fn: Callable, *args: Any) -> None:
    """Call a caller's on_ack/on_reject; an exception is logged, not raised."""
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - a caller's callback must not stop the appender (as in concurrent.futures)
        LOG.exception("datapack stream appender: callback %r raised", fn)
