"""Small shared helpers: progress output, timing loops, percentiles."""
from __future__ import annotations

import sys
import time

import numpy as np

_TTY = sys.stderr.isatty()
_T0 = time.monotonic()


def progress(msg: str) -> None:
    """A progress line on stderr, only when stderr is a terminal."""
    if _TTY:
        print(f"[{time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def latencies(fn, reps: int, warmup: int = 5, max_seconds: float = 120.0) -> np.ndarray:
    """Seconds per call of fn() over up to `reps` calls (after `warmup` calls),
    stopping early once `max_seconds` have been spent."""
    for _ in range(warmup):
        fn()
    out = []
    deadline = time.monotonic() + max_seconds
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
        if time.monotonic() > deadline:
            break
    return np.array(out)


def pct_ms(samples: np.ndarray, q: float) -> float:
    return float(np.percentile(samples, q) * 1e3)
