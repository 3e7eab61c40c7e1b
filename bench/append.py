"""Durable streamed append throughput (item 2).

One fresh store per configuration on a server with fsync on. Each stream runs
in its own spawned process (client-side encoding is CPU-heavy); a process
builds all its input before the barrier, so the clock covers only sending and
acknowledgement: from the first process passing the barrier to the last
acknowledgement received by any of them.

* mode "client": DataPackMeta objects appended with the public client's
  `stream_appender(batch_size=256)`, then `flush()` (waits for every ack);
* mode "raw": `AppendDataPacksRequest` messages of 256 packs serialized in
  advance, streamed as bytes over a raw `AppendDataPacks` call (the server's
  capacity without client encoding cost).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time

from . import datagen
from .server import ServerProc
from .util import progress

BATCH = 256
STORE = "append"
METHOD = "/datapack.v1.DataPackService/AppendDataPacks"
TIMEOUT = 600.0


def _batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _worker(mode: str, target: str, n: int, seed: int, prefix: str, barrier, results) -> None:
    try:
        import grpc

        from datapack_client import DataPackMeta, connect
        from datapack_client.client import channel_options, record_to_message
        from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb

        packs = [DataPackMeta.from_dict(d) for d in datagen.generate(n, seed, 0, prefix)]
        if mode == "client":
            client = connect(target, store=STORE, timeout=TIMEOUT).wait_ready(30)
            barrier.wait(TIMEOUT)
            t0, c0 = time.monotonic(), time.process_time()
            appender = client.stream_appender(batch_size=BATCH)
            for p in packs:
                appender.append(p)
            appender.flush(timeout=TIMEOUT)
            acked = appender.counts["created"] + appender.counts["already_present"]  # results keeps only the last 10,000
            t1, c1 = time.monotonic(), time.process_time()
            errors = len(appender.errors)
            appender.close()
            client.close()
        else:
            reqs = [spb.AppendDataPacksRequest(store=STORE, data_packs=[record_to_message(p) for p in chunk],
                                               writer_id=prefix, batch_sequence=k + 1).SerializeToString()
                    for k, chunk in enumerate(_batches(packs, BATCH))]
            del packs
            channel = grpc.insecure_channel(target, options=channel_options())
            grpc.channel_ready_future(channel).result(timeout=30)
            call = channel.stream_stream(METHOD, request_serializer=None,
                                         response_deserializer=spb.AppendDataPacksResponse.FromString)
            barrier.wait(TIMEOUT)
            t0, c0 = time.monotonic(), time.process_time()
            acked = errors = 0
            for resp in call(iter(reqs), timeout=TIMEOUT):
                if resp.HasField("rejection"):
                    errors += 1
                else:
                    acked += len(resp.results)
            t1, c1 = time.monotonic(), time.process_time()
            channel.close()
        results.put((t0, t1, acked, errors, None, c1 - c0))
    except BaseException as exc:  # report, never hang the parent
        results.put((0.0, 0.0, 0, 0, f"{type(exc).__name__}: {exc}", 0.0))
        try:
            barrier.abort()
        except Exception:
            pass


def run_config(mode: str, streams: int, total: int, work_dir: str, seed: int) -> dict:
    """One configuration on a fresh store; returns packs/s and the checks."""
    from datapack_client import connect

    root = os.path.join(work_dir, f"append_{mode}_{streams}")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    per = total // streams
    ctx = mp.get_context("spawn")
    procs = []
    try:
        with ServerProc(root, os.path.join(work_dir, f"server_append_{mode}_{streams}.log")) as srv:
            cpu0 = srv.cpu_seconds()
            barrier = ctx.Barrier(streams)
            results = ctx.Queue()
            for s in range(streams):
                p = ctx.Process(target=_worker, daemon=True,
                                args=(mode, srv.target, per, seed + s, f"{mode}{streams}-s{s}", barrier, results))
                p.start()
                procs.append(p)
            outs = [results.get(timeout=TIMEOUT + 120) for _ in procs]
            for p in procs:
                p.join(30)
            failed = [o[4] for o in outs if o[4]]
            if failed:
                raise RuntimeError(f"append worker failed: {failed[0]}")
            start = min(o[0] for o in outs)
            end = max(o[1] for o in outs)
            acked = sum(o[2] for o in outs)
            rejected = sum(o[3] for o in outs)
            client_cpu = sum(o[5] for o in outs)
            server_cpu = srv.cpu_seconds() - cpu0  # includes connection setup, negligible
            with connect(srv.target, store=STORE) as c:
                stored = c.get_statistics(datagen.TASK)["total"]
            file_bytes = os.path.getsize(os.path.join(root, STORE, datagen.FILE_NAME))
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        shutil.rmtree(root, ignore_errors=True)
    expected = per * streams
    out = {"mode": mode, "streams": streams, "packs": expected, "seconds": end - start,
           "packs_per_s": expected / (end - start), "acked": acked, "rejected_batches": rejected,
           "stored_total": stored, "count_ok": stored == expected and acked == expected,
           "mb_per_s": file_bytes / (end - start) / 1e6, "server_cpu_us_per_pack": server_cpu / expected * 1e6,
           "client_cpu_us_per_pack": client_cpu / expected * 1e6}
    progress(f"append {mode} x{streams}: {out['packs_per_s']:,.0f} packs/s, stored {stored}/{expected}")
    return out


def run(total: int, work_dir: str, seed: int) -> list[dict]:
    return [run_config(mode, streams, total, work_dir, seed)
            for mode in ("client", "raw") for streams in (1, 8)]
