"""Memory tuning for bulk parsing: the cyclic GC paused while lines are
parsed, freed C-heap memory handed back to the OS afterwards, and index
arrays resized without a second copy."""
from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

_gc_lock = threading.Lock()
_gc_pausers = 0


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        import ctypes
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
        return trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_malloc_trim()


def release_free_memory() -> None:
    """Return freed C-heap memory to the OS (glibc malloc_trim). Bulk parsing
    frees gigabytes of short-lived line buffers; without this the process keeps
    them resident."""
    if _malloc_trim is not None:
        _malloc_trim(0)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while bulk-parsing lines: parsed JSON has no cycles,
    and gen-2 scans over a growing index otherwise dominate the load time.
    Nested and concurrent pauses count: the GC runs again when the last ends."""
    global _gc_pausers
    with _gc_lock:
        _gc_pausers += 1
        if _gc_pausers == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0:
                gc.enable()


def resize_entry(holder: dict, key: str, rows: int) -> None:
    """Give the array holder[key] `rows` rows (new rows zero). In place when
    nothing else refers to it: realloc, which for large arrays moves pages
    instead of copying them and, when shrinking, frees the tail at once.
    Otherwise (a reader still holds a view of it) a copy, so the reader's
    view stays valid."""
    arr = holder.pop(key)  # the only reference left, unless a reader holds one
    try:
        try:
            arr.resize((rows,) + arr.shape[1:], refcheck=True)
        except ValueError:
            new = np.zeros((rows,) + arr.shape[1:], dtype=arr.dtype)
            keep = min(rows, len(arr))
            new[:keep] = arr[:keep]
            arr = new
    finally:
        holder[key] = arr
