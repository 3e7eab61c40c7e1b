"""DataPack service benchmark.

    python -m bench.run [--sizes 100000,1000000] [--quick] [--keep] [--reps N] [--append-packs N]
                        [--only SECTIONS] [--portable-export N] [--portable-store N]
                        [--bulk-size N] [--bulk-reps N]

Prints one table (stdout), then the bulk section side by side with its peers
(bulk.py) and the growth table (one row per store size), and writes
bench/out/results.json (every row, ratios included, and the details). Servers run as
subprocesses on 127.0.0.1 (port 0) and are always stopped; generated data
lives in a temporary folder under bench/out/ and is deleted unless --keep
(which keeps it in bench/out/data/ and reuses it on the next run).
See the modules for what each figure means: append.py, queries.py,
open_store.py, baselines.py, per_size.py, stream.py, bulk.py, peers.py,
portable.py. `--only portable` (or append, ingest, sizes, bulk;
comma-separated) runs only those sections.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
SECTIONS = ("append", "ingest", "sizes", "bulk", "portable")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=None, help="store sizes, comma-separated (default 100000,1000000)")
    p.add_argument("--quick", action="store_true", help="--sizes 20000, fewer repetitions (about a minute)")
    p.add_argument("--keep", action="store_true", help="keep generated stores in bench/out/data/ (and reuse them)")
    p.add_argument("--reps", type=int, default=None, help="timed repetitions per query (default 200, quick 50)")
    p.add_argument("--append-packs", type=int, default=None,
                   help="packs per append configuration (default 50000, quick 10000)")
    p.add_argument("--seed", type=int, default=20251125)
    p.add_argument("--no-append", action="store_true", help="skip the append benchmark")
    p.add_argument("--no-baselines", action="store_true", help="skip DuckDB and the naive baseline")
    p.add_argument("--only", default=None, metavar="SECTIONS",
                   help=f"run only these sections, comma-separated: {','.join(SECTIONS)}")
    p.add_argument("--no-portable", action="store_true", help="skip the portable export/query benchmark")
    p.add_argument("--portable-export", type=int, default=None, metavar="N",
                   help="raw episodes exported per way (default 2000, quick 300)")
    p.add_argument("--portable-store", type=int, default=None, metavar="N",
                   help="portable packs in the query store (default 10000, quick 2000)")
    p.add_argument("--bulk-size", type=int, default=None, metavar="N",
                   help="packs in the store of the bulk section (default 100000, quick 20000)")
    p.add_argument("--bulk-reps", type=int, default=None, metavar="N",
                   help="runs of each bulk measure, the best counts (default 2, quick 1)")
    a = p.parse_args(argv)
    only = set(SECTIONS) if a.only is None else {s.strip() for s in a.only.split(",") if s.strip()}
    if only - set(SECTIONS):
        p.error(f"--only: unknown section(s) {','.join(sorted(only - set(SECTIONS)))}; choose from {','.join(SECTIONS)}")
    a.run_append = "append" in only and not a.no_append
    a.run_ingest = "ingest" in only and not a.no_append
    a.run_sizes = "sizes" in only
    a.run_portable = "portable" in only and not a.no_portable
    a.run_bulk = "bulk" in only
    a.bulk_size = a.bulk_size or (20_000 if a.quick else 100_000)
    a.bulk_reps = a.bulk_reps or (1 if a.quick else 2)
    a.portable_export = a.portable_export or (300 if a.quick else 2000)
    a.portable_store = a.portable_store or (2000 if a.quick else 10_000)
    a.sizes = [int(s) for s in (a.sizes or ("20000" if a.quick else "100000,1000000")).split(",") if s.strip()]
    a.reps = a.reps or (50 if a.quick else 200)
    a.append_packs = a.append_packs or (10_000 if a.quick else 50_000)
    return a


def code_version() -> str:
    """What was measured: `git describe --always --dirty` of the checkout the
    service package is imported from, or that folder when it is not a checkout
    (e.g. a `git archive` copy put first on PYTHONPATH)."""
    import datapack_server

    where = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(datapack_server.__file__))))
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                             timeout=10, cwd=where)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return where


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.monotonic()
    load_start = os.getloadavg()
    version = code_version()
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="run-", dir=OUT)
    root = os.path.join(OUT, "data") if args.keep else os.path.join(work, "data")
    os.makedirs(root, exist_ok=True)

    from . import append, bulk, ingest, open_store, per_size, portable, report, server
    from .util import progress

    rows, details, texts = [], {}, []
    completed = False
    try:
        if args.run_append:
            progress("append benchmark")
            results = append.run(args.append_packs, work, args.seed + 1000)
            details["append"] = results
            for r in results:
                what = "stream_appender" if r["mode"] == "client" else "pre-encoded, raw stub"
                target = (">=", 20_000) if r["streams"] == 8 else None
                rows.append(report.row("append", f"durable, {r['streams']} stream(s), {what}", None,
                                       r["packs_per_s"], "packs/s", target,
                                       note=f"{r['packs']:,} packs in {r['seconds']:.2f} s; CPU µs/pack: server+workers "
                                            f"{r['server_cpu_us_per_pack']:.0f}, clients "
                                            f"{r['client_cpu_us_per_pack']:.0f}; count "
                                            f"{'ok' if r['count_ok'] else 'WRONG ' + str(r['stored_total'])}"))
        if args.run_ingest:
            progress("ingest benchmark")
            results = ingest.run(args.append_packs // 2, work, args.seed + 2000)
            details["ingest"] = results
            for r in results:
                rows.append(report.row("ingest", f"IngestEpisodes, {r['streams']} stream(s), built + durable", None,
                                       r["episodes_per_s"], "episodes/s", None,
                                       note=f"{r['episodes']:,} episodes in {r['seconds']:.2f} s; count "
                                            f"{'ok' if r['count_ok'] else 'WRONG ' + str(r['stored_total'])}"))
        if args.run_sizes:
            progress("empty-store server RSS")
            rss_empty = open_store.empty_rss(work)
            details["rss_empty"] = rss_empty
            for n in args.sizes:
                naive = 1 if (args.quick or n >= 1_000_000) else 2
                duck = 2 if args.quick else 3
                size_rows, det = per_size.run(n, root, work, args.seed, args.reps, rss_empty,
                                              {"duckdb": duck, "naive": naive}, not args.no_baselines)
                rows += size_rows
                details[f"size_{n}"] = det
            details["growth"] = [details[f"size_{n}"]["growth"] for n in args.sizes]
            texts.append(report.growth_table(details["growth"]))
        if args.run_bulk:
            progress(f"bulk section, {args.bulk_size} packs")
            bulk_rows, det, blocks = bulk.run(args.bulk_size, root, work, args.seed, args.bulk_reps)
            rows += bulk_rows
            details["bulk"] = det
            texts.insert(0, report.side_by_side(blocks, args.bulk_size, args.bulk_reps, det["file_bytes"] / 1e6))
        if args.run_portable:
            progress("portable benchmark")
            port_rows, det = portable.run(work, args.portable_export, args.portable_store, args.seed + 3000,
                                          30, args.quick)
            rows += port_rows
            details["portable"] = det
        completed = True
    finally:
        server.stop_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        if completed:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"bench: failed; server logs kept in {work}", file=sys.stderr)

    wall = time.monotonic() - t_start
    if code_version() != version:
        version += f" (changed during the run to {code_version()})"
    meta = {"argv": sys.argv[1:], "sizes": args.sizes, "reps": args.reps, "append_packs": args.append_packs,
            "portable_export": args.portable_export if args.run_portable else None,
            "portable_store": args.portable_store if args.run_portable else None,
            "bulk_size": args.bulk_size if args.run_bulk else None, "bulk_reps": args.bulk_reps,
            "load_average_start": load_start, "load_average_end": os.getloadavg(),
            "seed": args.seed, "code": version, "wall_seconds": wall, "python": platform.python_version(),
            "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    # The bulk rows are printed side by side with their peers below (and are in results.json).
    main_rows = [r for r in rows if r.section != "bulk"]
    if main_rows:
        print(report.table(main_rows))
    for text in texts:
        print("\n" + text)
    failed = [r for r in rows if r.ok is False]
    print(f"\n{sum(r.ok is True for r in rows)} targets met, {len(failed)} missed; code {version}; "
          f"wall time {wall:.0f} s; load average {load_start[0]:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end")
    report.write_json(os.path.join(OUT, "results.json"), meta, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
