"""Data out in bulk: the service next to its peers on the same JSONL file, in one run.

One generated store of n packs (datagen.py). For each measure every service
figure (embedded `DataPackRepo` and remote, over gRPC to a bench server) is
printed next to every peer figure (peers.py) and divided by the best peer and
by the reference peer of that measure (the one users compare with):

* objects: every pack as Python objects, `pack_id` of each read:
  `query(task, limit=None)`, `load_all`, a full `iter_query` -- vs peers that
  build Arrow tables / frames / dicts of the whole file (reference: DuckDB
  `read_ndjson_auto` -> Arrow);
* first: milliseconds to the first pack of `iter_query` / `iter_all` (the
  iterator is closed right after) -- vs the first record of a DuckDB / Polars
  scan and of a plain file read;
* flat / columns: `query_arrow(task, columns=<flat filter columns>)` and
  `query_arrow(task)` -- vs the same reads of the source fields / every column;
* export: `datapack export` of every pack as parquet, arrow, jsonl and csv, the
  CLI run as a subprocess on the store folder (process start and store open
  included, as a user pays them) -- vs DuckDB `COPY ... TO parquet` from the
  JSONL file and Polars `write_parquet` (reading the file included).

Ratios are speed ratios (> 1: the service is faster): rate ÷ rate, or for the
first-pack times peer time ÷ service time. Each figure is the best of `reps`
runs. A call the service does not have yet (AttributeError, TypeError, an
unknown CLI format) or a peer that fails on this data is reported with its
error, never hidden and never fatal for the run.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import time

import orjson

from datapack_client import connect

from . import peers
from .datagen import FILE_NAME, TASK
from .open_store import snapshot_files, wait_snapshot_settled
from .per_size import ensure_data
from .report import row
from .stream import error_text, first_pack_seconds
from .util import progress

EXPORT_FORMATS = ("parquet", "arrow", "jsonl", "csv")
EXPORT_TIMEOUT = 3600.0

# measure -> (title, unit, higher is better, service target, reference peer, target vs the reference)
MEASURES = {
    "objects": ("bulk read into Python objects", "packs/s", True, (">=", 60_000),
                "DuckDB read_ndjson_auto -> Arrow", (">=", 2.0)),
    "first": ("first pack of a streaming read", "ms", False, ("<=", 100.0),
              "DuckDB read_ndjson_auto LIMIT 1", None),
    "flat": ("columnar read, flat filter columns", "packs/s", True, (">=", 200_000),
             "DuckDB read_ndjson_auto, source fields", None),
    "columns": ("columnar read, every column", "packs/s", True, (">=", 50_000),
                "DuckDB read_ndjson_auto -> Arrow", None),
    "export": ("export every pack to a file", "packs/s", True, None,
               "DuckDB COPY read_ndjson_auto TO parquet", (">=", 1.5)),
}


def best_of(fn, reps: int, expect: int | None) -> dict:
    """{'seconds': best, 'count': what fn returned} over reps runs, or
    {'error': text} when every run failed. A call missing from the service
    fails at once and is not tried again; a run that failed among runs that
    did not is said in 'flaky' (pyarrow.json's inference is such a case)."""
    best, count, errors = None, None, []
    for _ in range(reps):
        gc.collect()
        try:
            t = time.perf_counter()
            out = fn()
            seconds = time.perf_counter() - t
            count = peers.rows_of(out)
        except (AttributeError, TypeError) as exc:  # the service has no such call (yet)
            return {"error": error_text(exc)}
        except Exception as exc:  # a failing peer or service call is a result, not a crash
            errors.append(error_text(exc))
            continue
        del out
        best = seconds if best is None else min(best, seconds)
    if best is None:
        return {"error": errors[0]}
    res = {"seconds": best, "count": count}
    if errors:
        res["flaky"] = f"failed in {len(errors)} of {reps} runs: {errors[0]}"
    if expect is not None and count != expect:
        res["check"] = f"WRONG count {count:,}, expected {expect:,}"
    return res


# ------------------------------------------------------------------------------ service calls

def flat_columns() -> list[str]:
    """The flat filter columns of the export schema (datapack_client.frames),
    pack_id through the slice labels."""
    from datapack_client import frames

    names = list(getattr(frames, "FLAT_COLUMNS", None) or frames.column_names())
    return names[:names.index("motion_bucket") + 1] if "motion_bucket" in names else names


def _touch_all(packs) -> int:
    count = 0
    for dp in packs:
        _ = dp.pack_id
        count += 1
    return count


def _touch_parsed(packs) -> int:
    count = 0
    for dp in packs:
        _ = dp.attribution.delta_J
        count += 1
    return count


def service_calls(repo, flat: list[str]) -> dict:
    """measure -> [(label, fn)] for one repository (embedded or remote)."""
    return {
        "objects": [
            ("query(limit=None), pack_id read", lambda: _touch_all(repo.query(TASK, limit=None))),
            ("load_all, pack_id read", lambda: _touch_all(repo.load_all(TASK))),
            ("iter_query full, pack_id read", lambda: _touch_all(repo.iter_query(TASK))),
            ("iter_query full, attribution.delta_J read (parses each pack)",
             lambda: _touch_parsed(repo.iter_query(TASK))),
        ],
        "first": [
            ("iter_query", lambda: first_pack_seconds(repo, "iter_query")),
            ("iter_all", lambda: first_pack_seconds(repo, "iter_all")),
        ],
        "flat": [(f"query_arrow(columns=<{len(flat)} flat>)", lambda: repo.query_arrow(TASK, columns=flat))],
        "columns": [("query_arrow() every column", lambda: repo.query_arrow(TASK))],
    }


def _first_ms(fn, reps: int) -> dict:
    """Best time to the first pack (fn returns its own seconds), as {'seconds', 'count'}."""
    best = None
    for _ in range(reps):
        gc.collect()
        try:
            s = fn()
        except Exception as exc:
            return {"error": error_text(exc)}
        best = s if best is None else min(best, s)
    return {"seconds": best, "count": 1}


def measure_service(repo, where: str, n: int, reps: int, flat: list[str]) -> list[dict]:
    out = []
    for measure, calls in service_calls(repo, flat).items():
        for label, fn in calls:
            progress(f"  bulk {where}: {measure} {label}")
            res = _first_ms(fn, reps) if measure == "first" else best_of(fn, reps, n)
            out.append({"measure": measure, "who": f"{label}, {where}", "side": where, **res})
    return out


def run_embedded(store_dir: str, n: int, reps: int, flat: list[str]) -> list[dict]:
    from datapack_server import DataPackRepo

    repo = DataPackRepo(store_dir, fsync=False)
    try:
        repo.get_statistics(TASK)  # the task is loaded before any clock starts
        return measure_service(repo, "embedded", n, reps, flat)
    finally:
        repo.close()
        del repo
        gc.collect()
        wait_snapshot_settled(store_dir)


def run_remote(root: str, store: str, log_path: str, n: int, reps: int, flat: list[str]) -> list[dict]:
    from .server import ServerProc

    with ServerProc(root, log_path) as srv, connect(srv.target, store=store, timeout=600) as c:
        c.get_statistics(TASK)
        return measure_service(c, "remote", n, reps, flat)


def export_cli(store_dir: str, fmt: str, out_dir: str, n: int, reps: int) -> dict:
    """`datapack export --all --format fmt` of the store folder, as a subprocess."""
    out = os.path.join(out_dir, f"export.{fmt}")
    cmd = [sys.executable, "-m", "datapack_server", "export", "--datapack-dir", store_dir, "--task", TASK, "--all",
           "--format", fmt, "--out", out, "--json"]

    def once() -> int:
        p = subprocess.run(cmd, capture_output=True, timeout=EXPORT_TIMEOUT, check=False)
        if p.returncode != 0:
            raise RuntimeError((p.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1])
        return int(orjson.loads(p.stdout.strip().splitlines()[-1]).get("rows", -1))

    res = best_of(once, reps, n)
    if os.path.exists(out):
        res["bytes"] = os.path.getsize(out)
        os.remove(out)
    return {"measure": "export", "who": f"datapack export --format {fmt}", "side": "cli", **res}


def _process_start_seconds() -> float:
    """What a `datapack export` run pays before it reads anything: the command's --help."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "datapack_server", "export", "--help"], capture_output=True, timeout=120,
                   check=False)
    return time.perf_counter() - t


# ------------------------------------------------------------------------------ peers

def peer_ops(path: str, work: str, flat_src: list[str]) -> list[tuple[str, tuple[str, ...], object]]:
    """(peer name, measures it serves, fn). The export peers come first: they
    write the Parquet files the Parquet readers read."""
    dpq, ppq = os.path.join(work, "duckdb.parquet"), os.path.join(work, "polars.parquet")
    cols = lambda: peers.present(flat_src, dpq)  # noqa: E731 - the columns exist once DuckDB wrote its file
    return [
        ("DuckDB COPY read_ndjson_auto TO parquet", ("export",), lambda: peers.duckdb_copy_parquet(path, dpq)),
        ("Polars scan_ndjson(infer_schema_length=None) + write_parquet", ("export",),
         lambda: peers.polars_write_parquet(path, ppq)),
        ("DuckDB read_ndjson_auto -> Arrow", ("objects", "columns"), lambda: peers.duckdb_ndjson(path)),
        ("DuckDB read_parquet (its own file) -> Arrow", ("objects", "columns"), lambda: peers.duckdb_parquet(dpq)),
        ("Polars scan_ndjson, default inference", ("objects", "columns"), lambda: peers.polars_ndjson(path, False)),
        ("Polars scan_ndjson, infer_schema_length=None", ("objects", "columns"),
         lambda: peers.polars_ndjson(path, True)),
        ("Polars scan_parquet (its own file)", ("objects", "columns"), lambda: peers.polars_parquet(ppq)),
        ("pyarrow.json.read_json", ("objects", "columns"), lambda: peers.pyarrow_json(path)),
        ("pyarrow.parquet.read_table (DuckDB's file)", ("columns",), lambda: peers.pyarrow_parquet(dpq)),
        ("orjson.loads of every line (1 core)", ("objects",), lambda: peers.orjson_lines(path)),
        ("DuckDB read_ndjson_auto, source fields", ("flat",), lambda: peers.duckdb_ndjson(path, flat_src)),
        ("DuckDB read_parquet, source fields", ("flat",), lambda: peers.duckdb_parquet(dpq, cols())),
        ("Polars scan_parquet, source fields", ("flat",), lambda: peers.polars_parquet(ppq, cols())),
        ("pyarrow.parquet.read_table, source fields", ("flat",), lambda: peers.pyarrow_parquet(dpq, cols())),
        ("DuckDB read_ndjson_auto LIMIT 1", ("first",), lambda: peers.duckdb_first(path)),
        ("Polars scan_ndjson(infer_schema_length=None).head(1)", ("first",), lambda: peers.polars_first(path, True)),
        ("orjson.loads of the first line", ("first",), lambda: peers.orjson_first(path)),
    ]


def run_peers(path: str, work: str, n: int, reps: int) -> list[dict]:
    out = []
    for name, measures, fn in peer_ops(path, work, list(peers.FLAT_SOURCES)):
        progress(f"  bulk peer: {name}")
        res = best_of(fn, reps, None)
        if "error" not in res and measures != ("first",) and res["count"] != n:
            res["check"] = f"WRONG count {res['count']:,}, expected {n:,}"
        for m in measures:
            out.append({"measure": m, "who": name, "side": "peer", **res})
    return out


# ------------------------------------------------------------------------------ assembly

def _value(res: dict, unit: str, n: int) -> float | None:
    if "seconds" not in res or not res["seconds"]:
        return None
    return res["seconds"] * 1e3 if unit == "ms" else n / res["seconds"]


def _speed(value: float | None, higher_better: bool) -> float | None:
    if value is None or value <= 0:
        return None
    return value if higher_better else 1.0 / value


def _note(res: dict) -> str:
    parts = []
    if "error" in res:
        parts.append(("failed: " if res.get("side") == "peer" else "not available: ") + res["error"])
    for key in ("check", "flaky"):
        if res.get(key):
            parts.append(res[key])
    if res.get("bytes"):
        parts.append(f"{res['bytes'] / 1e6:,.0f} MB written")
    if res.get("context"):
        parts.append(res["context"])
    return "; ".join(parts)


def _ok(target, value) -> bool | None:
    if target is None:
        return None
    return row("", "", None, value, "", target).ok


def assemble(results: list[dict], n: int) -> tuple[list, list[dict]]:
    """Rows for results.json (figures and ratios) and the side-by-side blocks."""
    rows, blocks = [], []
    for measure, (title, unit, higher, target, ref_name, ref_target) in MEASURES.items():
        lines = [dict(r, value=_value(r, unit, n)) for r in results if r["measure"] == measure]
        peer_lines = [x for x in lines if x["side"] == "peer" and x["value"] is not None and not x.get("check")]
        best = max(peer_lines, key=lambda x: _speed(x["value"], higher), default=None)
        ref = next((x for x in peer_lines if x["who"] == ref_name), None)
        out_lines = []
        for x in lines:
            line = {"who": x["who"], "side": x["side"], "value": x["value"], "note": _note(x),
                    "ratio_best": None, "ratio_ref": None, "target": None, "ok": None}
            metric = f"{measure}: {x['who']}"
            if x["side"] != "peer":
                speed = _speed(x["value"], higher)
                if speed is not None and best is not None:
                    line["ratio_best"] = speed / _speed(best["value"], higher)
                if speed is not None and ref is not None:
                    line["ratio_ref"] = speed / _speed(ref["value"], higher)
                oks = [o for o in (_ok(target, x["value"]), _ok(ref_target, line["ratio_ref"])) if o is not None]
                line["ok"] = all(oks) if oks else None
                line["target"] = _target_text(unit, target, ref_target)
                rows.append(row("bulk", metric, n, x["value"], unit, target, note=line["note"]))
                rows.append(row("bulk", f"{metric} ÷ best peer", n, line["ratio_best"], "x",
                                note=f"best peer: {best['who']}" if best else "no peer succeeded"))
                rows.append(row("bulk", f"{metric} ÷ {ref_name}", n, line["ratio_ref"], "x", ref_target))
            else:
                rows.append(row("bulk", metric, n, x["value"], unit, note=line["note"]))
            out_lines.append(line)
        blocks.append({"measure": measure, "title": title, "unit": unit, "reference": ref_name,
                       "best_peer": best["who"] if best else None, "lines": out_lines})
    return rows, blocks


def _target_text(unit: str, target, ref_target) -> str:
    parts = []
    if target is not None:
        parts.append(f"{target[0]} {target[1]:,.0f} {unit}")
    if ref_target is not None:
        parts.append(f"{ref_target[0]} {ref_target[1]:g}x ref")
    return ", ".join(parts)


def run(n: int, root: str, work: str, seed: int, reps: int) -> tuple[list, dict, list[dict]]:
    """Every measure on a store of n packs: (rows, details, side-by-side blocks)."""
    progress(f"bulk {n}: data")
    store_dir, _ = ensure_data(root, n, seed)
    path = os.path.join(store_dir, FILE_NAME)
    out_dir = os.path.join(work, f"bulk_{n}")
    os.makedirs(out_dir, exist_ok=True)
    flat = flat_columns()
    results = run_peers(path, out_dir, n, reps)
    for name in os.listdir(out_dir):  # the Parquet files the peers wrote are not needed any more
        os.remove(os.path.join(out_dir, name))
    results += run_embedded(store_dir, n, reps, flat)
    snapshot = "from its index snapshot" if snapshot_files(store_dir) else "without an index snapshot"
    results += run_remote(os.path.dirname(store_dir), os.path.basename(store_dir), os.path.join(work, f"server_bulk_{n}.log"), n, reps,
                          flat)
    start = _process_start_seconds()
    for fmt in EXPORT_FORMATS:
        progress(f"  bulk export: {fmt}")
        results.append({**export_cli(store_dir, fmt, out_dir, n, reps),
                        "context": f"store opened {snapshot}; process start {start:.2f} s (export --help)"})
    rows, blocks = assemble(results, n)
    det = {"n": n, "reps": reps, "file_bytes": os.path.getsize(path), "flat_columns": flat,
           "store_open": snapshot, "results": results, "blocks": blocks}
    return rows, det, blocks
