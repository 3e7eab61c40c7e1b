"""Server-side episode ingest throughput (the pipeline issue's note item).

Each stream runs in its own spawned process: it generates seeded synthetic
episodes (docs/building.md §9), turns them into IngestEpisodes requests of 256
episodes, serialized before the clock starts, and streams them over a raw
IngestEpisodes call; the server builds (ΔJ, tags, counterfactuals), validates
and durably appends every pack. Figure: episodes/s from the first stream's
start to the last acknowledgement, fsync on.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time

from .server import ServerProc
from .util import progress

BATCH = 256
STORE = "ingest"
METHOD = "/datapack.v1.DataPackService/IngestEpisodes"
TIMEOUT = 600.0


def _worker(target: str, n: int, seed: int, barrier, results) -> None:
    try:
        import grpc

        from datapack_client.client import channel_options
        from datapack_client.wire.episodes import econ_to_proto, episode_to_proto
        from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
        from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
        from datapack_server.synthetic.episodes import episode_to_builder_args, generate_synthetic_episodes

        episodes = []
        for i, e in enumerate(generate_synthetic_episodes(n, seed)):
            args = episode_to_builder_args(e, i, "drawer_vase", "pybullet")
            econ = args.pop("econ_params")
            episodes.append(args)
        reqs = [spb.IngestEpisodesRequest(
            store=STORE, econ_params=econ_to_proto(econ), baseline=pb.Baseline(name="synthetic_nominal"),
            episodes=[episode_to_proto(a) for a in episodes[k:k + BATCH]], writer_id=f"ingest-{seed}",
            batch_sequence=k // BATCH + 1).SerializeToString() for k in range(0, len(episodes), BATCH)]
        channel = grpc.insecure_channel(target, options=channel_options())
        grpc.channel_ready_future(channel).result(timeout=30)
        call = channel.stream_stream(METHOD, request_serializer=None,
                                     response_deserializer=spb.IngestEpisodesResponse.FromString)
        barrier.wait(TIMEOUT)
        t0 = time.monotonic()
        built = errors = 0
        for resp in call(iter(reqs), timeout=TIMEOUT):
            if resp.HasField("rejection"):
                errors += 1
            else:
                built += len(resp.results)
        results.put((t0, time.monotonic(), built, errors, None))
        channel.close()
    except BaseException as exc:  # report, never hang the parent
        results.put((0.0, 0.0, 0, 0, f"{type(exc).__name__}: {exc}"))
        try:
            barrier.abort()
        except Exception:
            pass


def run_config(streams: int, total: int, work_dir: str, seed: int) -> dict:
    from datapack_client import connect

    root = os.path.join(work_dir, f"ingest_{streams}")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    per = total // streams
    ctx = mp.get_context("spawn")
    procs = []
    try:
        with ServerProc(root, os.path.join(work_dir, f"server_ingest_{streams}.log")) as srv:
            barrier = ctx.Barrier(streams)
            results = ctx.Queue()
            for s in range(streams):
                p = ctx.Process(target=_worker, daemon=True, args=(srv.target, per, seed + s, barrier, results))
                p.start()
                procs.append(p)
            outs = [results.get(timeout=TIMEOUT + 120) for _ in procs]
            failed = [o[4] for o in outs if o[4]]
            if failed:
                raise RuntimeError(f"ingest worker failed: {failed[0]}")
            start, end = min(o[0] for o in outs), max(o[1] for o in outs)
            built, rejected = sum(o[2] for o in outs), sum(o[3] for o in outs)
            with connect(srv.target, store=STORE) as c:
                stored = c.get_statistics("drawer_vase")["total"]
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        shutil.rmtree(root, ignore_errors=True)
    expected = per * streams
    out = {"streams": streams, "episodes": expected, "seconds": end - start, "episodes_per_s": expected / (end - start),
           "built": built, "rejected_batches": rejected, "stored_total": stored,
           "count_ok": stored == expected == built}
    progress(f"ingest x{streams}: {out['episodes_per_s']:,.0f} episodes/s, stored {stored}/{expected}")
    return out


def run(total: int, work_dir: str, seed: int) -> list[dict]:
    return [run_config(streams, total, work_dir, seed) for streams in (1, 8)]
