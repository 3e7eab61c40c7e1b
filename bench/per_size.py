"""Everything measured on one pre-generated store of n packs (items 1, 3-7).

Order: generate (or reuse with --keep) -> in-process index build from scratch
(no snapshot) -> in-process reopen if the engine wrote a snapshot -> server A
(start, first query = task load, memory, warm query/statistics loops) ->
server B (start, get_statistics, then the first run of each query kind: cold)
-> server C from scratch if a snapshot existed -> baselines on the file.
"""
from __future__ import annotations

import os
import time

import numpy as np

from datapack_client import connect

from . import adapter_timing, baselines, datagen, open_store, queries
from .report import row, top100_target
from .stream import stream_read
from .util import progress

SECTIONS = ("data", "open", "memory", "query", "statistics", "stream", "adapter", "baseline")
ADAPTER_TARGET_MS = 20.0  # every skill analysis at 1M packs and more ...
RESULT_BOUND_ITEMS = 10_000  # ... except those whose result has this many items: bound by its size


def _query_target(n: int) -> float:
    return top100_target(n)[1]


def ensure_data(root: str, n: int, seed: int, workers: int = 2) -> tuple[str, float | None]:
    """The store folder with n generated packs; seconds spent generating
    (None when an identical earlier store was reused)."""
    # Each size in a data root of its own: a server loads every store of its root,
    # so a shared root would add the other sizes' indexes to this size's memory.
    store_dir = os.path.join(root, f"r{n}", f"s{n}")
    marker = os.path.join(store_dir, f".bench-n{n}-seed{seed}-v1")
    path = os.path.join(store_dir, datagen.FILE_NAME)
    if os.path.exists(marker) and os.path.exists(path):
        return store_dir, None
    if os.path.exists(path):
        os.remove(path)
    open_store.drop_snapshot(store_dir)
    t = time.perf_counter()
    datagen.write_store(store_dir, n, seed, workers)
    seconds = time.perf_counter() - t
    open(marker, "w").close()
    return store_dir, seconds


def _memory_rows(n: int, res: dict, empty: tuple[int, int], tag: str) -> list:
    """Resident memory per pack: the server process (the target), and the
    server plus its worker processes (note)."""
    tree = (res["tree_rss"] - empty[1]) / n
    return [row("memory", f"server RSS per pack ({tag})", n, (res["rss"] - empty[0]) / n, "B/pack", ("<=", 500),
                note=f"RSS {res['rss'] / 2**20:,.0f} MiB, empty {empty[0] / 2**20:,.0f} MiB; "
                     f"with workers {tree:,.0f} B/pack"),
            row("memory", f"server peak RSS during load ({tag})", n, res["peak_rss"] / 2**20, "MiB")]


def run(n: int, root: str, work: str, seed: int, reps: int, rss_empty: tuple[int, int], baseline_reps: dict,
        with_baselines: bool = True) -> tuple[list, dict]:
    rows, det = [], {"n": n}
    store = f"s{n}"
    progress(f"size {n}: generating data")
    store_dir, gen_s = ensure_data(root, n, seed)
    root = os.path.dirname(store_dir)  # this size's own data root
    path = os.path.join(store_dir, datagen.FILE_NAME)
    size = os.path.getsize(path)
    if gen_s is not None:
        rows.append(row("data", "generate + write JSONL", n, n / gen_s, "packs/s"))
    rows.append(row("data", "file size", n, size / 1e6, "MB", note=f"mean {size / n:,.0f} B/pack"))

    # Index build in-process, from scratch; then reopen if a snapshot was written.
    progress(f"size {n}: in-process index build")
    open_store.drop_snapshot(store_dir)
    build_s, total = open_store.inprocess_open(store_dir)
    if total != n:
        raise RuntimeError(f"store holds {total} packs, expected {n}")
    snap = bool(open_store.snapshot_files(store_dir))
    det["snapshot_files"] = open_store.snapshot_files(store_dir)
    rows.append(row("open", "index build from scratch (in-process)", n, n / build_s, "packs/s",
                    note=f"{build_s:.2f} s; one process (the embedded repository has no worker pool)"))
    if snap:
        reopen_s, _ = open_store.inprocess_open(store_dir)
        rows.append(row("open", "reopen with snapshot (in-process)", n, reopen_s, "s",
                        note=f"{n / reopen_s:,.0f} packs/s"))

    # Server A: open (with the snapshot if any), memory, warm loops.
    tag = "with snapshot" if snap else "from scratch, no snapshot"
    progress(f"size {n}: server A ({tag})")
    srv, a = open_store.server_open(root, store, os.path.join(work, f"server_{store}_A.log"), "query")
    try:
        with connect(srv.target, store=store, timeout=120) as c:
            warm = queries.warm(c, srv.target, store, reps)
            top = [(dp.pack_id, dp.attribution.delta_J) for dp in queries.run_query(c, "timed")]
            progress(f"size {n}: adapter analyses")
            adapter_times = adapter_timing.run(c, max(5, reps // 10))
            det["rss_after_queries"] = srv.rss()
            progress(f"size {n}: full iter_query")
            det["stream"] = stream_read(c, n)
    finally:
        srv.stop()
    det["server_A"] = a
    rows.append(row("open", "server start -> 'serving'", n, a["startup_s"], "s"))
    rows.append(row("open", f"first query incl. task load ({tag})", n, a["first_s"], "s"))
    rows.append(row("open", f"reopen: start + first query ({tag})", n, a["startup_s"] + a["first_s"], "s",
                    ("<=", 2.0)))
    rows += _memory_rows(n, a, rss_empty, tag)

    qt = _query_target(n)
    for (kind, variant), res in warm.items():
        label = {"touch": "", "to_dict": " +to_dict", "raw": " raw stub, bytes only", "": ""}[variant]
        target = ("<=", qt) if variant == "touch" else None
        if isinstance(res, str):  # the service answered with an error
            rows.append(row("query", f"{kind}{label} p50", n, None, "ms", target, note=res))
            continue
        p50, p99, cnt = res
        if kind == "statistics":
            rows.append(row("statistics", "get_statistics p50", n, p50, "ms", ("<=", 1.0)))
            rows.append(row("statistics", "get_statistics p99", n, p99, "ms", note=f"{cnt} reps"))
            continue
        rows.append(row("query", f"{kind}{label} p50", n, p50, "ms", target))
        rows.append(row("query", f"{kind}{label} p99", n, p99, "ms", note=f"{cnt} reps"))
    det["warm"] = {f"{k}/{v}": x for (k, v), x in warm.items()}
    det["adapter"] = adapter_times
    rows += _adapter_rows(n, adapter_times)
    rows += _stream_rows(n, det["stream"])

    # Server B: cold first run of each query kind (task loaded by get_statistics).
    progress(f"size {n}: server B (cold queries)")
    srv, b = open_store.server_open(root, store, os.path.join(work, f"server_{store}_B.log"), "statistics")
    try:
        with connect(srv.target, store=store, timeout=120) as c:
            cold = queries.cold(c)
    finally:
        srv.stop()
    det["server_B"], det["cold"] = b, cold
    rows.append(row("open", f"first get_statistics incl. task load ({tag})", n, b["first_s"], "s"))
    for kind, s in cold.items():
        if isinstance(s, str):
            rows.append(row("query", f"{kind} cold (first run after start)", n, None, "ms", note=s))
        else:
            rows.append(row("query", f"{kind} cold (first run after start)", n, s * 1e3, "ms"))

    # Server C: from scratch, when A had a snapshot.
    if snap:
        progress(f"size {n}: server C (snapshot deleted)")
        open_store.drop_snapshot(store_dir)
        srv, cc = open_store.server_open(root, store, os.path.join(work, f"server_{store}_C.log"), "query")
        srv.stop()
        det["server_C"] = cc
        rows.append(row("open", "first query incl. task load (snapshot deleted)", n, cc["first_s"], "s",
                        note=f"{n / cc['first_s']:,.0f} packs/s"))
        rows.append(row("open", "reopen: start + first query (snapshot deleted)", n,
                        cc["startup_s"] + cc["first_s"], "s"))
        rows += _memory_rows(n, cc, rss_empty, "snapshot deleted")

    if with_baselines and not isinstance(warm[("timed", "touch")], str):
        rows += _baselines(n, path, top, warm[("timed", "touch")][0], baseline_reps, det)
    det["growth"] = growth_point(n, rows, det, rss_empty)
    return sorted(rows, key=lambda r: SECTIONS.index(r.section)), det


def _adapter_rows(n: int, times: dict) -> list:
    """One row per skill analysis; the 20 ms target applies from 1M packs on,
    except to an analysis whose result is large enough to bound its time."""
    rows = []
    for name, res in times.items():
        if isinstance(res, str):
            rows.append(row("adapter", f"{name} p50", n, None, "ms", ("<=", ADAPTER_TARGET_MS), note=res))
            continue
        p50, p99, cnt, items = res
        bound = items is not None and items >= RESULT_BOUND_ITEMS
        target = ("<=", ADAPTER_TARGET_MS) if n >= 1_000_000 and not bound else None
        note = f"p99 {p99:.1f} ms, {cnt} reps" + (f"; {items:,} items" if items is not None else "")
        rows.append(row("adapter", f"{name} p50", n, p50, "ms", target,
                        note=note + ("; bound by the size of its result" if bound else "")))
    return rows


def _stream_rows(n: int, res: dict) -> list:
    """A full remote iter_query: rate, first pack, and how much the client's RSS grew."""
    if "error" in res:
        note = "not available: " + res["error"]
        return [row("stream", "iter_query full (remote), pack_id read", n, None, "packs/s", (">=", 60_000),
                    note=note),
                row("stream", "first pack of iter_query (remote)", n, None, "ms", ("<=", 100.0), note=note)]
    curve = [m for _, m in res["rss_mib"]]
    return [row("stream", "iter_query full (remote), pack_id read", n, res["packs_per_s"], "packs/s",
                (">=", 60_000), note=f"{res['seconds']:.1f} s" + (f"; {res['check']}" if res.get("check") else "")),
            row("stream", "first pack of iter_query (remote)", n, res["first_ms"], "ms", ("<=", 100.0)),
            _first_all_row(n, res["first_iter_all_ms"]),
            row("stream", "client RSS growth over the iteration", n, max(curve) - curve[0], "MiB",
                note="client RSS MiB at each 5%: " + " ".join(f"{m:.0f}" for m in curve))]


def _first_all_row(n: int, ms) -> object:
    if isinstance(ms, str):
        return row("stream", "first pack of iter_all (remote)", n, None, "ms", ("<=", 100.0), note=ms)
    return row("stream", "first pack of iter_all (remote)", n, ms, "ms", ("<=", 100.0))


def _find(rows: list, metric: str) -> float | None:
    return next((r.value for r in rows if r.metric == metric), None)


def growth_point(n: int, rows: list, det: dict, rss_empty: tuple[int, int]) -> dict:
    """The figures of this size in the growth table (report.GROWTH)."""
    snap = bool(det.get("snapshot_files"))
    a, c = det.get("server_A") or {}, det.get("server_C") or {}
    scratch = c if snap else a
    stream = det.get("stream") or {}
    curve = [m for _, m in stream.get("rss_mib", [])]
    return {
        "n": n,
        "rss_snapshot": (a["rss"] - rss_empty[0]) / n if snap and a else None,
        "rss_scratch": (scratch["rss"] - rss_empty[0]) / n if scratch else None,
        "reopen_s": a["startup_s"] + a["first_s"] if snap and a else None,
        "reopen_scratch_s": scratch["startup_s"] + scratch["first_s"] if scratch else None,
        "build_rate": _find(rows, "index build from scratch (in-process)"),
        # The server builds with its worker processes while it starts (it serves once every
        # store is loaded): packs per second of start-up plus first answer, from scratch,
        # process start included (so a slight underestimate).
        "server_build_rate": n / (scratch["startup_s"] + scratch["first_s"]) if scratch else None,
        "top100_p50_ms": _find(rows, "timed p50"),
        "stats_p50_ms": _find(rows, "get_statistics p50"),
        "bulk_rate": stream.get("packs_per_s"),
        "first_ms": stream.get("first_ms"),
        "client_rss_growth_mib": max(curve) - curve[0] if curve else None,
    }


def _baselines(n: int, path: str, top: list, service_p50_ms: float, reps: dict, det: dict) -> list:
    rows = []
    progress(f"size {n}: DuckDB baseline")
    d_times, d_rows = baselines.duckdb_timed(path, reps["duckdb"])
    d_med = float(np.median(d_times))
    d_same = [round(x[1], 9) for x in d_rows] == [round(x[1], 9) for x in top]
    rows.append(row("baseline", "DuckDB read_ndjson, timed query", n, d_med, "s",
                    note=f"median of {len(d_times)}; top-100 ΔJ {'match' if d_same else 'DIFFER'}"))
    rows.append(row("baseline", "DuckDB / service p50", n, d_med * 1e3 / service_p50_ms, "x"))
    progress(f"size {n}: naive baseline ({reps['naive']} run(s))")
    n_times, n_rows = baselines.naive_timed(path, reps["naive"])
    n_med = float(np.median(n_times))
    n_same = n_rows == top
    rows.append(row("baseline", "naive re-read + json.loads, timed query", n, n_med, "s",
                    note=f"median of {len(n_times)}; top-100 ids {'match' if n_same else 'DIFFER'}"))
    rows.append(row("baseline", "naive / service p50", n, n_med * 1e3 / service_p50_ms, "x"))
    det["baselines"] = {"duckdb_s": d_times, "naive_s": n_times, "duckdb_match": d_same, "naive_match": n_same}
    return rows
