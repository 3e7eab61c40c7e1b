"""Where the time goes: cProfile of the service's hot paths, in-process.

    python -m bench.hotspots [--n 20000] [--top 12]

Not part of the table: a diagnostic for missed targets. Each section runs one
path single-threaded (no gRPC), prints its cost per unit and the functions
with the most own time:

* append: DataPackService.append of 256-pack batches (what a streamed
  AppendDataPacks message costs the server; fsync on);
* query (server): DataPackService.query of the timed query, warm (encoded
  cache hit) and cold (cache emptied);
* decode (client): message_to_record of the 100 result messages (what the
  public client does with each streamed record), and to_dict();
* index build: DataPackRepo(store) + first get_statistics, from scratch.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import tempfile
import time

import orjson

from . import datagen
from .queries import QUERIES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


SORT = "tottime"


def _profile(title: str, fn, reps: int, unit: str, per: int, top: int) -> None:
    fn()  # warm up
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    plain = (time.perf_counter() - t) / reps
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(reps):
        fn()
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats(SORT).print_stats(top)
    body = s.getvalue()
    body = body[body.find("   ncalls"):]
    print(f"\n=== {title}: {plain * 1e3:.2f} ms per call, {plain / per * 1e6:.1f} µs per {unit} "
          f"(unprofiled, {reps} calls) ===")
    print(body.rstrip())


def _write(path: str, n: int, seed: int, prefix: str = "dv") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for d in datagen.generate(n, seed, 0, prefix):
            f.write(orjson.dumps(d) + b"\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hotspots")
    p.add_argument("--n", type=int, default=20_000, help="packs in the store used for queries and index build")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    a = p.parse_args(argv)
    global SORT
    SORT = a.sort

    from datapack_client import DataPackMeta
    from datapack_client.client import message_to_record, record_to_message
    from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
    from datapack_client.records.query import make_query
    from datapack_server import DataPackRepo
    from datapack_server.service.encoded_cache import EncodedCache
    from datapack_server.service.facade import DataPackService

    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="hotspots-", dir=OUT)
    try:
        # append: 256-pack batches into a fresh durable store
        packs = [DataPackMeta.from_dict(d) for d in datagen.generate(256 * 21, 7, 0, "ap")]
        batches = [[record_to_message(p) for p in packs[i:i + 256]] for i in range(0, len(packs), 256)]
        svc = DataPackService(os.path.join(tmp, "append_root"), fsync=True, create=True)
        it = iter(batches)
        _profile("append (server, per 256-pack message)", lambda: svc.append("s", next(it)), 10, "pack", 256, a.top)
        svc.close()

        # query and decode on a store of n packs
        root = os.path.join(tmp, "query_root")
        _write(os.path.join(root, "s", datagen.FILE_NAME), a.n, 1)
        svc = DataPackService(root, fsync=False)
        spec = make_query(**QUERIES["timed"])
        out = svc.query("s", datagen.TASK, spec)
        _profile(f"query timed (server, warm, {a.n:,} packs)", lambda: svc.query("s", datagen.TASK, spec), 50,
                 "result", len(out), a.top)

        def cold():
            svc.cache = EncodedCache(64 << 20)
            svc.query("s", datagen.TASK, spec)
        _profile(f"query timed (server, encoded cache empty, {a.n:,} packs)", cold, 10, "result", len(out), a.top)
        msgs = [pb.DataPackMeta.FromString(b) for b in out]
        _profile("decode (client: FromString + message_to_record of 100 results)",
                 lambda: [message_to_record(pb.DataPackMeta.FromString(b)) for b in out], 20, "record", len(out),
                 a.top)
        recs = [message_to_record(m) for m in msgs]
        _profile("to_dict (client, 100 results)", lambda: [r.to_dict() for r in recs], 20, "record", len(recs), a.top)
        svc.close()

        # index build from scratch
        store_dir = os.path.join(root, "s")

        def build():
            shutil.rmtree(os.path.join(store_dir, ".datapack"), ignore_errors=True)
            r = DataPackRepo(store_dir, fsync=False)
            r.get_statistics(datagen.TASK)
            r.close()
        _profile(f"index build from scratch ({a.n:,} packs)", build, 2, "pack", a.n, a.top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
