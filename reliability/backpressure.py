"""Backpressure: streaming clients facing a stalled writer block; the server does not buffer.

    python -m reliability.backpressure [--quick] [--streams 8] [--seconds 10] [--batch 256] [--workers 0]

The server runs in this process (fsync on) with a stalled disk: every fsync of
a task file blocks until released, under the task's write lock, as a hung
device would. N client processes each stream realistic ~4 KB packs (bench
datagen) as fast as gRPC lets them, through the raw AppendDataPacks stream with
an endless request generator (no client-side window: the worst case). After the
stall the disk resumes, the clients stop producing, and every batch the server
took is committed and acknowledged.

Measured: the server's resident memory during the stall (growth over the
baseline taken with the clients connected), the requests the server took off
the streams, the bytes the clients' senders got rid of (what gRPC flow control
let through), how long a GetStatistics on the stalled task and on another task
take meanwhile, the drain time once the disk resumes, and that every
acknowledged pack is stored exactly once. Pass: RSS growth < 64 MB, at most
one request taken per stream during the stall, 0 acknowledged packs lost.

Why it holds: each stream's handler processes its requests one at a time (the
next message is only read once the previous batch is acknowledged), so a
stalled commit leaves the rest in gRPC's per-stream flow-control window and
the client's sender blocks; nothing in the server queues requests.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time

import psutil

TASK_SUFFIX = "_datapacks.jsonl"
STORE = "bp"


def _client(k: int, target: str, batch: int, stop, pulled, pulled_bytes, out_path: str) -> None:
    """One client process: an endless request stream until `stop`, then the
    acknowledged pack ids to out_path (one per line)."""
    import grpc

    from bench import datagen
    from datapack_client.wire import codec
    from datapack_client.client import channel_options
    from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
    from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc

    template = [codec.dict_to_message(d) for d in datagen.generate(batch, seed=k, prefix=f"c{k}")]

    def requests():
        n = 0
        while not stop.is_set():
            n += 1
            for i, m in enumerate(template):
                m.pack_id = f"c{k}-{n:06d}-{i:04d}"
            req = spb.AppendDataPacksRequest(store=STORE, data_packs=template, writer_id=f"c{k}", batch_sequence=n)
            pulled[k] += 1
            pulled_bytes[k] += req.ByteSize()
            yield req

    acked = []
    with grpc.insecure_channel(target, options=channel_options()) as ch:
        stub = spb_grpc.DataPackServiceStub(ch)
        try:
            for resp in stub.AppendDataPacks(requests(), timeout=600):
                acked.extend(r.pack_id for r in resp.results)
        except grpc.RpcError as exc:
            print(f"client {k}: {exc.code().name}: {exc.details()}", file=sys.stderr)
    with open(out_path, "w") as f:
        f.write("".join(p + "\n" for p in acked))


def _stall_fsync(release: threading.Event, stalled: list):
    """os.fsync that blocks on task files until `release` (a hung disk)."""
    real = os.fsync

    def fsync(fd):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if path.endswith(TASK_SUFFIX) and not release.is_set():
            stalled.append(time.monotonic())
            release.wait()
        return real(fd)
    return real, fsync


def _timed_stats(client, task: str) -> str:
    t0 = time.perf_counter()
    try:
        client.get_statistics(task)
        return f"{(time.perf_counter() - t0) * 1000:.1f} ms"
    except Exception as exc:  # noqa: BLE001 - reported as the figure
        return f"{type(exc).__name__} after {(time.perf_counter() - t0) * 1000:.0f} ms"


def run(streams: int, seconds: float, batch: int, workers: int) -> dict:
    from bench import datagen
    from datapack_client import connect
    from datapack_server import DataPackRepo
    from datapack_server.api.app import ServerConfig, build_server
    from datapack_server.service.facade import DataPackService

    work = tempfile.mkdtemp(prefix="bp-")
    me = psutil.Process()
    try:
        other_task = "other_task"
        repo = DataPackRepo(os.path.join(work, "data", STORE), create=True)
        repo.append_batch([{**d, "task_name": other_task} for d in datagen.generate(16, seed=99, prefix="other")])
        repo.close()
        running = build_server(ServerConfig(data_dir=os.path.join(work, "data"), port=0, workers=workers))
        target = f"127.0.0.1:{running.port}"
        taken = []
        real_append = DataPackService.append
        DataPackService.append = lambda self, *a, **kw: taken.append(1) or real_append(self, *a, **kw)
        release = threading.Event()
        stalled: list = []
        real_fsync, stalled_fsync = _stall_fsync(release, stalled)
        reader = connect(target, store=STORE, timeout=3)
        reader.get_statistics(other_task)  # warm the reader's channel

        ctx = mp.get_context("spawn")
        stop = ctx.Event()
        pulled = ctx.Array("q", streams, lock=False)
        pulled_bytes = ctx.Array("q", streams, lock=False)
        outs = [os.path.join(work, f"acked{k}.txt") for k in range(streams)]
        procs = [ctx.Process(target=_client, args=(k, target, batch, stop, pulled, pulled_bytes, outs[k]))
                 for k in range(streams)]
        os.fsync = stalled_fsync
        base = me.memory_info().rss  # before any client connects: growth includes their connections
        for p in procs:
            p.start()
        t_wait = time.monotonic()
        while len(taken) < streams and time.monotonic() - t_wait < 60:
            time.sleep(0.05)
        # The stall is timed from when every stream has brought its first batch.
        t0 = time.monotonic()
        samples = []
        taken_at_start = len(taken)
        while time.monotonic() - t0 < seconds:
            time.sleep(0.25)
            samples.append((time.monotonic() - t0, me.memory_info().rss - base, sum(pulled)))
        taken_during = len(taken)
        stats_stalled = _timed_stats(reader, datagen.TASK)
        stats_other = _timed_stats(reader, other_task)
        pulled_mb = [b / 2**20 for b in pulled_bytes]
        # Resume: the disk comes back, clients stop producing and drain.
        stop.set()
        t_release = time.monotonic()
        release.set()
        for p in procs:
            p.join(300)
        drain_s = time.monotonic() - t_release
        os.fsync = real_fsync
        DataPackService.append = real_append
        reader.close()
        running.stop(5)
        acked = []
        for path in outs:
            with open(path) as f:
                acked += f.read().split()
        stored_repo = DataPackRepo(os.path.join(work, "data", STORE))
        stored = [p.pack_id for p in stored_repo.iter_all(datagen.TASK)]
        stored_repo.close()
        growth = [g for _, g, _ in samples]
        half = [g for t, g, _ in samples if t >= seconds / 2]
        return {
            "streams": streams, "stall_seconds": seconds, "batch_packs": batch, "workers": workers,
            "rss_baseline_mb": round(base / 2**20, 1),
            "rss_growth_peak_mb": round(max(growth) / 2**20, 1),
            "rss_growth_second_half_mb": round((max(half) - min(half)) / 2**20, 1) if half else 0.0,
            "requests_taken_during_stall": taken_during, "requests_taken_at_baseline": taken_at_start,
            "client_sent_mb_per_stream_max": round(max(pulled_mb), 1),
            "client_sent_mb_total": round(sum(pulled_mb), 1),
            "client_requests_total": int(sum(pulled)),
            "stats_stalled_task": stats_stalled, "stats_other_task": stats_other,
            "drain_seconds": round(drain_s, 2),
            "acked": len(acked), "stored": len(stored), "acked_lost": len(set(acked) - set(stored)),
            "stored_twice": len(stored) - len(set(stored)),
            "samples": [(round(t, 2), round(g / 2**20, 1), n) for t, g, n in samples],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.backpressure", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 s stall instead of 10 s")
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--seconds", type=float, default=None, help="stall duration (default 10, quick 3)")
    p.add_argument("--batch", type=int, default=256, help="packs per request")
    p.add_argument("--workers", type=int, default=0, help="server worker processes")
    a = p.parse_args(argv)
    seconds = a.seconds if a.seconds is not None else (3.0 if a.quick else 10.0)
    r = run(a.streams, seconds, a.batch, a.workers)
    ok = r["rss_growth_peak_mb"] < 64 and r["requests_taken_during_stall"] <= a.streams and r["acked_lost"] == 0 \
        and r["stored_twice"] == 0 and r["acked"] > 0
    print(f"backpressure: {a.streams} streams into a stalled disk for {seconds:g} s "
          f"({a.batch} packs/request, server workers {a.workers})")
    print(f"{'t (s)':>7} {'RSS growth (MB)':>16} {'requests sent by clients':>25}")
    for t, g, n in r["samples"][:: max(1, len(r["samples"]) // 12)]:
        print(f"{t:>7.2f} {g:>16.1f} {n:>25}")
    rows = [
        ("server RSS baseline", f"{r['rss_baseline_mb']} MB"),
        ("server RSS growth, peak (limit 64 MB)", f"{r['rss_growth_peak_mb']} MB"),
        ("server RSS growth within the second half", f"{r['rss_growth_second_half_mb']} MB"),
        ("requests taken by the server during the stall", f"{r['requests_taken_during_stall']} (limit {a.streams})"),
        ("bytes the clients got rid of, per stream max / total",
         f"{r['client_sent_mb_per_stream_max']} / {r['client_sent_mb_total']} MB"),
        ("GetStatistics during the stall: stalled task", r["stats_stalled_task"]),
        ("GetStatistics during the stall: another task", r["stats_other_task"]),
        ("drain after the disk resumed", f"{r['drain_seconds']} s"),
        ("acknowledged / stored / lost / stored twice",
         f"{r['acked']} / {r['stored']} / {r['acked_lost']} / {r['stored_twice']}"),
        ("result", "PASS" if ok else "FAIL"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    r.pop("samples")
    r["pass"] = ok
    print(json.dumps(r))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
