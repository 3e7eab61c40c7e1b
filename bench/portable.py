"""Portable datapacks (docs/portable.md): export throughput and query latency with
and without the artifacts.

Export: `datapack build --generate-synthetic N --raw-dir` writes N synthetic
drawer_vase packs with small raw episodes (30 frames of 32x32 RGB, 3 scene
tracks; raw_data_path absolute). Each way exports its own copy of that store
in place (one revision line per pack, fsync on):

* CLI: `datapack export-portable --workers <cores>` as a subprocess (local
  worker pool); the wall time includes the process start, whose cost alone
  (`--help`) is given in the note;
* wire: `ExportPortable` on a server (port 0) whose data root holds the copy;
  the server computes the artifacts with its worker pool. The task is loaded
  (get_statistics) before the clock starts.

Each is run a second time: an idempotent re-run that writes nothing
(already_present); also given as packs/s.

Query: the exported portable records (current revisions, via load_all) are
replicated with new pack ids to a store of M packs (append_batch, fsync off),
and the same records as 2.0-energy (artifact keys and slice_labels_v1 null)
to a second store. One server (port 0) serves both; each query is run
3 times untimed, then timed up to `reps` times. Every result is touched: the
basic view reads slice_labels_v1 and attribution.delta_J, the full view
(include_artifacts=True) also len(scene_tracks_v1) and
rgb_features_v1["features"]. The note gives the same query over a raw stub
(responses received as bytes, not decoded: server + transport, p50 of up to
20 calls) and the wire bytes per pack (the serialized QueryDataPacksResponse
messages of one call divided by the packs returned); the difference to the
touched p50 is the client's decoding.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import grpc
import orjson
from datapack_client import connect
from datapack_client.client import channel_options
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.query import make_query
from datapack_client.wire.query import query_to_proto

from .queries import QUERY_METHOD
from .report import row
from .server import ServerProc
from .util import latencies, pct_ms, progress, timed

TASK = "drawer_vase"
FILE_NAME = TASK + "_datapacks.jsonl"
ARTIFACTS = ("scene_tracks_v1", "rgb_features_v1", "repr_tokens")
TIMEOUT = 600.0

# name -> (store, query kwargs, full view touch)
QUERIES = {
    "limit=100 basic": ("p21", dict(limit=100), False),
    "limit=100 +artifacts": ("p21", dict(limit=100, include_artifacts=True), True),
    "limit=1000 basic": ("p21", dict(limit=1000), False),
    "limit=1000 +artifacts": ("p21", dict(limit=1000, include_artifacts=True), True),
    "slice is_dynamic limit=100 basic": ("p21", dict(schema_version="2.1-portable", is_dynamic=True, limit=100), False),
    "2.0 store limit=100": ("p20", dict(limit=100), False),
    "2.0 store limit=1000": ("p20", dict(limit=1000), False),
}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "datapack_server", *args]


def _check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")


def build_source(work: str, n: int, seed: int) -> tuple[str, float]:
    """A store folder of n synthetic packs with raw episodes; seconds spent."""
    store, raw = os.path.join(work, "src"), os.path.join(work, "raw")
    t = time.perf_counter()
    p = subprocess.run(_cmd("build", "--generate-synthetic", str(n), "--seed", str(seed), "--output-dir", store,
                            "--raw-dir", raw, "--quiet"), capture_output=True, timeout=TIMEOUT, check=False)
    _check(p, "datapack build --generate-synthetic")
    return store, time.perf_counter() - t


def _summary_ok(s: dict, n: int, rerun: bool) -> str:
    """'' when the export summary is what an (idempotent re-)export of n packs gives, else a note."""
    want = {"processed": n, "exported": n, "revised": 0 if rerun else n, "already_present": n if rerun else 0}
    bad = {k: s.get(k) for k, v in want.items() if s.get(k) != v}
    bad.update({k: s[k] for k in ("conflicts", "rejected_invalid", "skipped_missing_raw", "skipped_bad_inputs")
                if s.get(k)})
    return "" if not bad else "UNEXPECTED " + ", ".join(f"{k}={v}" for k, v in bad.items())


def export_cli(src: str, root: str, n: int, workers: int) -> dict:
    store = os.path.join(root, "cli")
    shutil.copytree(src, store)
    cmd = _cmd("export-portable", "--datapack-dir", store, "--task", TASK, "--workers", str(workers),
               "--json", "--quiet")
    startup, _ = timed(subprocess.run, _cmd("export-portable", "--help"), capture_output=True, timeout=60,
                         check=False)
    out = {"way": "cli", "workers": workers, "startup_s": startup}
    for key in ("first", "rerun"):
        secs, p = timed(subprocess.run, cmd, capture_output=True, timeout=TIMEOUT, check=False)
        _check(p, "datapack export-portable")
        summary = orjson.loads(p.stdout.strip().splitlines()[-1])
        out[key] = {"seconds": secs, "packs_per_s": n / secs, "summary": summary,
                    "check": _summary_ok(summary, n, key == "rerun")}
    out["store"] = store
    return out


def export_wire(src: str, root: str, work: str, n: int) -> dict:
    store = os.path.join(root, "wire")
    shutil.copytree(src, store)
    out = {"way": "wire"}
    with ServerProc(root, os.path.join(work, "server_portable_export.log")) as srv, \
            connect(srv.target, store="wire", timeout=120) as c:
        c.get_statistics(TASK)  # the task is loaded before the clock starts
        for key in ("first", "rerun"):
            cpu0 = srv.cpu_seconds()
            secs, summary = timed(c.export_portable, TASK)
            out[key] = {"seconds": secs, "packs_per_s": n / secs, "summary": summary,
                        "server_cpu_s": srv.cpu_seconds() - cpu0,
                        "check": _summary_ok(summary, n, key == "rerun")}
    return out


def _to_20(d: dict) -> dict:
    d = dict(d)
    d["schema_version"] = "2.0-energy"
    for k in (*ARTIFACTS, "slice_labels_v1"):
        d[k] = None
    return d


def build_query_stores(exported: str, root: str, m: int) -> dict:
    """Stores p21 (portable) and p20 (2.0-energy) under root, m packs each,
    replicated from the exported store's current records."""
    from datapack_server import DataPackRepo

    t = time.perf_counter()
    with DataPackRepo(exported, fsync=False) as repo:
        base = [p.to_dict() for p in repo.load_all(TASK)]
    base = [d for d in base if d.get("schema_version") == "2.1-portable"]
    if not base:
        raise RuntimeError("the export produced no 2.1-portable records")
    load_s = time.perf_counter() - t
    out = {"base_records": len(base), "load_s": load_s}
    for name, conv in (("p21", None), ("p20", _to_20)):
        t = time.perf_counter()
        with DataPackRepo(os.path.join(root, name), fsync=False, create=True) as repo:
            for start in range(0, m, 1000):
                batch = []
                for i in range(start, min(m, start + 1000)):
                    d = dict(base[i % len(base)])
                    d["pack_id"] = f"{d['pack_id']}-r{i // len(base):03d}"
                    batch.append(conv(d) if conv else d)
                res = repo.append_batch(batch)
                if any(r.status != "created" for r in res):
                    raise RuntimeError(f"replication into {name}: not all created")
            total = repo.get_statistics(TASK)["total"]
        if total != m:
            raise RuntimeError(f"store {name} holds {total} packs, expected {m}")
        size = os.path.getsize(os.path.join(root, name, FILE_NAME))
        out[name] = {"write_s": time.perf_counter() - t, "jsonl_bytes": size, "bytes_per_pack": size / m}
    return out


def _touch(res: list, full: bool) -> None:
    for p in res:
        _ = p.slice_labels_v1, p.attribution.delta_J
        if full:
            _ = len(p.scene_tracks_v1), p.rgb_features_v1["features"]


def _raw(target: str, store: str, kw: dict, reps: int, max_seconds: float) -> dict:
    """The query over a raw stub (responses received as bytes, not decoded):
    server + transport latency, and the bytes of the response messages."""
    channel = grpc.insecure_channel(target, options=channel_options())
    try:
        call = channel.unary_stream(QUERY_METHOD, request_serializer=spb.QueryDataPacksRequest.SerializeToString,
                                    response_deserializer=None)
        req = query_to_proto(store, TASK, make_query(**kw))
        raw = list(call(req, timeout=120))
        packs = sum(len(spb.QueryDataPacksResponse.FromString(b).data_packs) for b in raw)
        nbytes = sum(len(b) for b in raw)
        s = latencies(lambda: list(call(req, timeout=120)), reps, warmup=2, max_seconds=max_seconds)
        return {"wire_bytes": nbytes, "wire_bytes_per_pack": nbytes / packs if packs else float("nan"),
                "raw_p50_ms": pct_ms(s, 50), "raw_reps": len(s)}
    finally:
        channel.close()


def query_latency(root: str, work: str, reps: int, max_seconds: float) -> dict:
    out: dict = {}
    with ServerProc(root, os.path.join(work, "server_portable_query.log")) as srv:
        out["startup_s"] = srv.startup_s
        conns = {s: connect(srv.target, store=s, timeout=120) for s in ("p21", "p20")}
        try:
            for s, c in conns.items():  # the first query loads the task
                out[f"first_{s}_s"] = timed(c.query, TASK, limit=1)[0]
            for name, (store, kw, full) in QUERIES.items():
                c = conns[store]
                got = len(c.query(TASK, **kw))
                s = latencies(lambda c=c, kw=kw, full=full: _touch(c.query(TASK, **kw), full), reps, warmup=3, max_seconds=max_seconds)
                out[name] = {"store": store, "returned": got, "p50_ms": pct_ms(s, 50), "p95_ms": pct_ms(s, 95),
                             "reps": len(s), **_raw(srv.target, store, kw, 20, max_seconds / 4)}
                progress(f"  portable query {name}: p50 {out[name]['p50_ms']:.1f} ms, "
                         f"p95 {out[name]['p95_ms']:.1f} ms ({len(s)} reps, {got} packs)")
        finally:
            for c in conns.values():
                c.close()
    return out


def run(work_dir: str, n_export: int, n_store: int, seed: int, reps: int, quick: bool) -> tuple[list, dict]:
    work = os.path.join(work_dir, "portable")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    rows, det = [], {"export_packs": n_export, "store_packs": n_store}
    try:
        progress(f"portable: building {n_export} synthetic packs with raw episodes")
        src, build_s = build_source(work, n_export, seed)
        det["build_s"] = build_s
        rows.append(row("portable", "build synthetic + raw episodes (datapack build)", n_export, n_export / build_s,
                        "packs/s", note=f"{build_s:.2f} s"))
        exp_root = os.path.join(work, "exp")
        workers = os.cpu_count() or 1
        progress("portable: export, CLI with worker pool")
        cli = export_cli(src, exp_root, n_export, workers)
        progress(f"  CLI: {cli['first']['packs_per_s']:.0f} packs/s, re-run {cli['rerun']['packs_per_s']:.0f} packs/s")
        progress("portable: export over the wire")
        wire = export_wire(src, exp_root, work, n_export)
        progress(f"  wire: {wire['first']['packs_per_s']:.0f} packs/s, "
                 f"re-run {wire['rerun']['packs_per_s']:.0f} packs/s")
        det["export"] = {"cli": {k: v for k, v in cli.items() if k != "store"}, "wire": wire}
        for res, label in ((cli, f"CLI, {workers} workers, in place"), (wire, "over the wire, server pool, in place")):
            for key, what in (("first", ""), ("rerun", " re-run (nothing written)")):
                r = res[key]
                note = f"{r['seconds']:.2f} s"
                if "startup_s" in res:
                    note += f" incl. process start ({res['startup_s']:.2f} s for --help)"
                if "server_cpu_s" in r:
                    note += f"; server CPU {r['server_cpu_s'] / n_export * 1e3:.1f} ms/pack"
                if r["check"]:
                    note += "; " + r["check"]
                rows.append(row("portable", f"export {label}{what}", n_export, r["packs_per_s"], "packs/s",
                                note=note))

        progress(f"portable: building query stores of {n_store} packs")
        qroot = os.path.join(work, "q")
        stores = build_query_stores(cli["store"], qroot, n_store)
        det["stores"] = stores
        shutil.rmtree(exp_root, ignore_errors=True)
        rows.append(row("portable", "JSONL bytes per pack, 2.1-portable", n_store, stores["p21"]["bytes_per_pack"],
                        "B/pack", note=f"2.0-energy: {stores['p20']['bytes_per_pack']:,.0f} B/pack; "
                                       f"replicated from {stores['base_records']} exported packs in "
                                       f"{stores['p21']['write_s'] + stores['p20']['write_s']:.1f} s"))
        progress("portable: query latency")
        q = query_latency(qroot, work, reps, 5.0 if quick else 12.0)
        det["query"] = q
        rows.append(row("portable", "first query incl. task load, 2.1-portable", n_store, q["first_p21_s"], "s",
                        note=f"2.0-energy: {q['first_p20_s']:.2f} s; server start {q['startup_s']:.2f} s"))
        for name in QUERIES:
            r = q[name]
            note = (f"p95 {r['p95_ms']:.1f} ms, {r['reps']} reps, {r['returned']} packs; raw stub (not decoded) "
                    f"p50 {r['raw_p50_ms']:.1f} ms; wire {r['wire_bytes_per_pack']:,.0f} B/pack")
            rows.append(row("portable", f"query {name} p50", n_store, r["p50_ms"], "ms", note=note))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows, det
