"""Soak: many writers stream into one server at a fixed rate for a long time.

    python -m reliability.soak [--minutes 30] [--writers 16] [--rate 20] [--batch 10] [--quick]

Each writer is a thread with its own channel and StreamAppender (the path
simulators use); every 1/rate·batch seconds it appends one batch and waits for
its acknowledgement (the acknowledgement latency). The server is `datapack
serve` in its own process (fsync on); its resident memory (server + worker
processes) is sampled every few seconds. Pass criteria (the issue's): 0
errors, p99 acknowledgement latency of the last minutes within 2x of the first
minutes, every acknowledged pack stored exactly once, and memory flat after
warm-up apart from the in-memory index, which grows with every stored pack:
at the end the server may hold at most 64 MB more than a fresh server that
opens the same data.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import psutil

from bench.server import ServerProc
from datapack_client import DataPackMeta, connect

TASK = "soak"
STORE = "soak"


def make_record(writer: int, n: int) -> DataPackMeta:
    dj = ((writer * 7919 + n * 104729) % 2001 - 1000) / 500.0
    bucket = "positive" if dj >= 0 else "negative"
    dp = DataPackMeta(
        pack_id=f"w{writer:02d}-{n:08d}", task_name=TASK, bucket=bucket,
        skill_trace=[{"t": 10 * i, "skill_id": s, "params": {}, "duration": 10} for i, s in enumerate((0, 1, 3, 4))],
        counterfactual_plan={"skills": [0, 1, 2, 3, 4, 5]} if bucket == "negative" else None,
        counterfactual_source="scripted_teacher" if bucket == "negative" else None,
        semantic_tags=["soak", f"writer_{writer}"])
    dp.attribution.delta_J = dj
    dp.attribution.trust_score = 0.5 + (n % 50) / 100.0
    return dp


def _rss_mb(pid: int) -> float:
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run(minutes: float, writers: int, rate: float, batch: int, sample_s: float = 5.0) -> dict:
    root = tempfile.mkdtemp(prefix="datapack-soak-")
    server = ServerProc(os.path.join(root, "data"), os.path.join(root, "server.log"), "--create").start()
    target = f"127.0.0.1:{server.port}"
    period = batch / rate
    stop_at = time.monotonic() + minutes * 60
    t0 = time.monotonic()
    latencies: list[list[tuple[float, float]]] = [[] for _ in range(writers)]
    acked = [0] * writers
    errors: list[str] = []
    rss: list[tuple[float, float]] = []

    def writer(w: int) -> None:
        client = connect(target, store=STORE, timeout=60)
        n = 0
        next_t = time.monotonic() + (w / writers) * period  # spread the writers over one period
        try:
            with client.stream_appender(batch_size=batch, max_in_flight=2, linger=0.01) as app:
                while True:
                    now = time.monotonic()
                    if now >= stop_at:
                        break
                    if next_t > now:
                        time.sleep(next_t - now)
                    sent = time.monotonic()
                    for _ in range(batch):
                        app.append(make_record(w, n))
                        n += 1
                    app.flush()
                    latencies[w].append((sent - t0, time.monotonic() - sent))
                    acked[w] = n
                    next_t += period
                    if app.errors:
                        errors.extend(f"writer {w}: {e}" for e in app.errors)
                        app.errors.clear()
        except Exception as exc:  # noqa: BLE001 - every failure is a finding, reported below
            errors.append(f"writer {w}: {type(exc).__name__}: {exc}")
        finally:
            client.close()

    def sampler() -> None:
        while time.monotonic() < stop_at:
            rss.append((time.monotonic() - t0, _rss_mb(server.proc.pid)))
            time.sleep(sample_s)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(writers)]
    threads.append(threading.Thread(target=sampler, daemon=True))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=minutes * 60 + 120)
        client = connect(target, store=STORE, timeout=120)
        stored = client.get_statistics(TASK)["total"]
        rss_end = _rss_mb(server.proc.pid)
        ids = {p.pack_id for p in client.query(TASK, limit=None)}
        client.close()
        server.stop()
        # The same data opened by a fresh server: what the index of that many
        # packs costs. What the long-running server held beyond it is what a
        # leak (or an unbounded cache) would look like.
        fresh = ServerProc(os.path.join(root, "data"), os.path.join(root, "server2.log")).start()
        c2 = connect(f"127.0.0.1:{fresh.port}", store=STORE, timeout=120)
        c2.get_statistics(TASK)
        c2.close()
        rss_fresh = _rss_mb(fresh.proc.pid)
        fresh.stop()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    total_acked = sum(acked)
    expected = {f"w{w:02d}-{i:08d}" for w in range(writers) for i in range(acked[w])}
    all_lat = [(t, lat) for per in latencies for t, lat in per]
    duration = minutes * 60
    window = min(180.0, duration / 4)  # "first minutes" / "last minutes"
    warm = min(120.0, duration / 5)
    first = [lat for t, lat in all_lat if warm <= t < warm + window] or [lat for t, lat in all_lat if t < window]
    last = [lat for t, lat in all_lat if t >= duration - window]
    rss_after_warm = [m for t, m in rss if t >= warm]
    per_minute = []
    for m in range(int(duration // 60) + 1):
        lats = [lat for t, lat in all_lat if m * 60 <= t < (m + 1) * 60]
        mem = [mb for t, mb in rss if m * 60 <= t < (m + 1) * 60]
        if lats:
            per_minute.append({"minute": m, "batches": len(lats), "p50_ms": _pct(lats, 0.5) * 1e3,
                               "p99_ms": _pct(lats, 0.99) * 1e3, "rss_mb": max(mem) if mem else float("nan")})
    figures = {
        "minutes": minutes, "writers": writers, "rate_per_writer": rate, "batch": batch,
        "acked_packs": total_acked, "stored_packs": stored, "lost": len(expected - ids),
        "unexpected": len(ids - expected), "errors": len(errors),
        "p50_ms_first": _pct(first, 0.5) * 1e3, "p99_ms_first": _pct(first, 0.99) * 1e3,
        "p99_ms_last": _pct(last, 0.99) * 1e3,
        "p99_ratio_last_vs_first": _pct(last, 0.99) / _pct(first, 0.99) if first and last else float("nan"),
        "rss_mb_after_warmup_min": min(rss_after_warm) if rss_after_warm else float("nan"),
        "rss_mb_after_warmup_max": max(rss_after_warm) if rss_after_warm else float("nan"),
        "rss_mb_growth_after_warmup": (rss_after_warm[-1] - rss_after_warm[0]) if len(rss_after_warm) > 1 else 0.0,
        "rss_mb_end": rss_end,
        "rss_mb_fresh_server_same_data": rss_fresh,
        "rss_mb_retained_beyond_fresh": rss_end - rss_fresh,
        "rss_bytes_per_stored_pack_growth": ((rss_after_warm[-1] - rss_after_warm[0]) * 2**20 / max(1, stored)
                                             if len(rss_after_warm) > 1 else 0.0),
        "first_errors": errors[:5],
    }
    figures["pass"] = (figures["errors"] == 0 and figures["lost"] == 0 and figures["unexpected"] == 0
                       and stored == total_acked and figures["p99_ratio_last_vs_first"] <= 2.0
                       and figures["rss_mb_retained_beyond_fresh"] < 64)
    figures["per_minute"] = per_minute
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--writers", type=int, default=16)
    p.add_argument("--rate", type=float, default=20.0, help="packs per second per writer")
    p.add_argument("--batch", type=int, default=10, help="packs per acknowledged batch")
    p.add_argument("--quick", action="store_true", help="2 minutes, 8 writers")
    args = p.parse_args(argv)
    if args.quick:
        args.minutes, args.writers = 2.0, 8
    f = run(args.minutes, args.writers, args.rate, args.batch)
    print(f"{'minute':>6} {'batches':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8}")
    for row in f["per_minute"]:
        print(f"{row['minute']:>6} {row['batches']:>8} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['rss_mb']:>8.1f}")
    for k, v in f.items():
        if k != "per_minute":
            print(f"{k:<28} {v}")
    print(json.dumps({k: v for k, v in f.items() if k != "per_minute"}))
    return 0 if f["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
