"""A full streaming read of a task: first pack, rate and the client's memory on the way."""
from __future__ import annotations

import gc
import time

import psutil

from .datagen import TASK

RSS_SAMPLES = 20  # client RSS readings over a full iteration


def error_text(exc: BaseException) -> str:
    """One line naming the exception: what a row shows for a call that failed."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:160]


def first_pack_seconds(repo, method: str) -> float:
    """Seconds from calling repo.<method>(task) to holding its first pack
    (its pack_id read); the iterator is closed outside the clock."""
    t = time.perf_counter()
    it = iter(getattr(repo, method)(TASK))
    _ = next(it).pack_id
    seconds = time.perf_counter() - t
    close = getattr(it, "close", None) or getattr(it, "cancel", None)
    if close is not None:
        close()
    return seconds


def stream_read(client, n: int) -> dict:
    """A full `iter_query` over the task (pack_id of each read): first pack
    (ms), packs/s, and the client's RSS every n/RSS_SAMPLES packs (MiB), or
    {'error': text} when the repository has no such iterator."""
    proc = psutil.Process()
    gc.collect()
    curve = [(0, proc.memory_info().rss / 2**20)]
    step = max(1, n // RSS_SAMPLES)
    count, first = 0, None
    try:
        t = time.perf_counter()
        for dp in client.iter_query(TASK):
            _ = dp.pack_id
            count += 1
            if first is None:
                first = time.perf_counter() - t
            if count % step == 0:
                curve.append((count, proc.memory_info().rss / 2**20))
        seconds = time.perf_counter() - t
    except Exception as exc:
        return {"error": error_text(exc)}
    try:
        first_all = first_pack_seconds(client, "iter_all") * 1e3
    except Exception as exc:
        first_all = error_text(exc)
    res = {"first_ms": (first or 0.0) * 1e3, "first_iter_all_ms": first_all,
           "packs_per_s": count / seconds if seconds else None, "count": count, "seconds": seconds, "rss_mib": curve}
    if count != n:
        res["check"] = f"WRONG count {count:,}, expected {n:,}"
    return res
