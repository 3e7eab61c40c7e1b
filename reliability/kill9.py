"""kill -9 of the server during streamed appends: no acknowledged pack lost,
none stored twice, no partial line ever visible.

    python -m reliability.kill9 [--quick] [--writers 8] [--packs 5000] [--kills 20] [--seed S]

A `datapack serve` subprocess (fsync on, default worker pool) is SIGKILLed
`--kills` times while `--writers` writer processes append `--packs` packs each
into one task, and restarted on the same port each time. Writers use the public
client: even-numbered ones `connect(...).stream_appender()` (which reconnects
and re-sends unacknowledged batches under its writer id), odd-numbered ones
`append_batch` in batches of 20, retried until acknowledged (a re-sent batch
that was stored before the kill comes back ALREADY_PRESENT). Every writer logs
each pack id as soon as it is acknowledged.

Kill moments: the k-th kill comes when the total acknowledged count passes a
seeded random point in the k-th of `kills` equal slices of the first 70 % of
the work, plus a random 0-50 ms, so it lands while writers are mid-stream and
commits are in flight. After each kill, before the restart, the task file is read with an
embedded store: every pack acknowledged so far must be there exactly once,
and every complete line must be a whole record with a matching checksum (a
torn tail, bytes after the last newline, is never served and is counted
separately). At the end the same holds for all writers * packs.

Prints a table per kill and, as its last line, a JSON object of figures. Exit
status 1 if anything was lost, duplicated or partially visible.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STORE = "phase_c"
TASK = "drawer_vase"


def make_pack(pack_id: str, task: str = TASK):
    """A valid pack (same shape as the tests' make_pack)."""
    from datapack_client import DataPackMeta
    dp = DataPackMeta(pack_id=pack_id, task_name=task, bucket="positive",
                      skill_trace=[{"t": 10 * i, "skill_id": s, "params": {}, "duration": 10}
                                   for i, s in enumerate((0, 1, 3))])
    dp.attribution.delta_J = 1.0
    dp.attribution.trust_score = 0.95
    return dp


# ---------------------------------------------------------------------- writers (child processes)

def _writer(target: str, prefix: str, count: int, mode: str, acked_path: str) -> None:
    from datapack_client import connect
    from datapack_client.errors import DataPackError
    repo = connect(target, store=STORE, timeout=10)
    retries = 0
    with open(acked_path, "w") as out:
        if mode == "stream":
            # Each acknowledged id is logged as it arrives (on the appender's thread; a line at a time).
            def log(result):
                out.write(result.pack_id + "\n")
                out.flush()
            s = repo.stream_appender(batch_size=50, max_in_flight=4, reconnect_timeout=120, on_ack=log)
            for i in range(count):
                s.append(make_pack(f"{prefix}-{i}"))
            s.close()
            retries = s.reconnects
            if s.errors:
                raise SystemExit(f"{prefix}: rejections: {s.errors[:3]}")
        else:
            deadline = time.monotonic() + 600
            for start in range(0, count, 20):
                batch = [make_pack(f"{prefix}-{i}") for i in range(start, min(count, start + 20))]
                while True:
                    try:
                        res = repo.append_batch(batch)
                        break
                    except DataPackError as err:
                        if err.code not in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "UNKNOWN", "INTERNAL") \
                                or time.monotonic() > deadline:
                            raise
                        retries += 1
                        time.sleep(0.05)
                assert [r.pack_id for r in res] == [p.pack_id for p in batch]
                out.write("".join(r.pack_id + "\n" for r in res))
                out.flush()
    repo.close()
    with open(acked_path + ".retries", "w") as f:
        f.write(str(retries))


# ---------------------------------------------------------------------- the server

class Server:
    """`datapack serve` in a subprocess; restartable on the same port."""

    def __init__(self, data_dir: str, log_path: str, extra: tuple = ()):
        self.data_dir = data_dir
        self.extra = tuple(extra)
        self.log = open(log_path, "a")
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, port: int = 0, timeout: float = 60.0) -> float:
        t0 = time.monotonic()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "datapack_server", "serve", "--data-dir", self.data_dir,
                                      "--port", str(port), *self.extra], stdout=subprocess.PIPE, stderr=self.log, env=env,
                                     text=True)
        while time.monotonic() - t0 < timeout:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("datapack: serving on "):
                self.port = int(line.split()[3].rsplit(":", 1)[1])
                return time.monotonic() - t0
        self.kill()
        raise RuntimeError(f"server did not start (see {self.log.name})")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


# ---------------------------------------------------------------------- checks

def _acked(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        try:
            with open(p) as f:
                out.extend(f.read().split())
        except FileNotFoundError:
            pass
    return out


def _acked_count(paths: list[str]) -> int:
    n = 0
    for p in paths:
        try:
            with open(p, "rb") as f:
                n += f.read().count(b"\n")
        except FileNotFoundError:
            pass
    return n


def check_store(store_dir: str, acked: set[str], written: set[str]) -> dict:
    """Read the task file with an embedded store (the server is down): lost
    acknowledged packs, packs stored twice, complete lines that are not whole
    records (or fail their checksum), unknown packs, torn tail bytes."""
    from datapack_server.engine.store import Store
    s = Store(store_dir, fsync=False, snapshots=False)
    try:
        if not os.path.exists(os.path.join(store_dir, f"{TASK}_datapacks.jsonl")):
            return {"stored": 0, "lost": len(acked), "duplicated": 0, "partial": 0, "unknown": 0, "torn_bytes": 0}
        st = s.read_task(TASK)
        ids = [st.index.pack_id(i) for i in range(st.index.n)]
        report = s.verify(TASK)
        partial = sum(f.kind != "TORN_TAIL" for f in report.findings) + len(st.corrupt)
        torn = sum(f.length for f in report.findings if f.kind == "TORN_TAIL")
        # A line repeating an id is a duplicate even if readers skip it as redundant.
        dup = (len(ids) - len(set(ids))) + len(st.redundant) + len(st.changed_without_revision)
        return {"stored": len(set(ids)), "lost": len(acked - set(ids)), "duplicated": dup, "partial": partial,
                "unknown": len(set(ids) - written), "torn_bytes": torn}
    finally:
        s.close()


# ---------------------------------------------------------------------- the run

def run(writers: int, packs: int, kills: int, seed: int, work: str | None = None, out=print,
        server_args: tuple = ()) -> dict:
    rng = random.Random(seed)
    own = work is None
    work = work or tempfile.mkdtemp(prefix="kill9-")
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    server = Server(data, os.path.join(work, "server.log"), server_args)
    started = time.monotonic()
    restart_s = [server.start()]
    port = server.port
    ctx = multiprocessing.get_context("spawn")
    acked_paths = [os.path.join(work, f"acked{i}.txt") for i in range(writers)]
    modes = ["stream" if i % 2 == 0 else "batch" for i in range(writers)]
    procs = [ctx.Process(target=_writer, args=(server.target, f"w{i}", packs, modes[i], acked_paths[i]))
             for i in range(writers)]
    for p in procs:
        p.start()
    total = writers * packs
    written = {f"w{i}-{j}" for i in range(writers) for j in range(packs)}
    rows = []
    done_kills = 0
    store_dir = os.path.join(data, STORE)
    try:
        deadline = time.monotonic() + max(600.0, 0.05 * total)
        for k in range(kills):
            # Kills fall in the first 70 % of the work, so writers are still running.
            point = int(0.7 * total * (k + rng.uniform(0.2, 1.0)) / kills)
            while _acked_count(acked_paths) < point and time.monotonic() < deadline:
                if not any(p.is_alive() for p in procs):
                    break
                time.sleep(0.005)
            if not any(p.is_alive() for p in procs):
                break
            time.sleep(rng.uniform(0, 0.05))
            server.kill()
            done_kills += 1
            acked_now = set(_acked(acked_paths))
            c = check_store(store_dir, acked_now, written)
            restart_s.append(server.start(port))
            ready = time.monotonic()
            # Until the writers get acknowledgements again (the next kill needs progress anyway).
            before = _acked_count(acked_paths)
            while (_acked_count(acked_paths) == before and any(p.is_alive() for p in procs)
                   and time.monotonic() - ready < 120):
                time.sleep(0.005)
            rows.append({"kill": done_kills, "acked": len(acked_now), **c, "restart_s": round(restart_s[-1], 2),
                         "resume_s": round(time.monotonic() - ready, 2)})
            out(f"{done_kills:>4} {len(acked_now):>9} {c['stored']:>8} {c['lost']:>5} {c['duplicated']:>5} "
                f"{c['partial']:>7} {c['unknown']:>7} {c['torn_bytes']:>10} {restart_s[-1]:>9.2f} "
                f"{rows[-1]['resume_s']:>9.2f}")
        for p in procs:
            p.join(max(1.0, deadline - time.monotonic()))
        writer_failures = [i for i, p in enumerate(procs) if p.exitcode != 0]
    finally:
        server.stop()
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(10)
    acked_all = _acked(acked_paths)
    final = check_store(store_dir, set(acked_all), written)
    retries = 0
    for pth in acked_paths:
        try:
            with open(pth + ".retries") as f:
                retries += int(f.read() or 0)
        except (FileNotFoundError, ValueError):
            pass
    figures = {
        "writers": writers, "packs_per_writer": packs, "kills": done_kills, "kills_planned": kills,
        "acknowledged": len(set(acked_all)), "expected": total, "stored": final["stored"],
        "lost": final["lost"] + sum(r["lost"] for r in rows),
        "duplicated": final["duplicated"] + sum(r["duplicated"] for r in rows),
        "partial_lines_visible": final["partial"] + sum(r["partial"] for r in rows),
        "unknown_packs": final["unknown"] + sum(r["unknown"] for r in rows),
        "acked_twice_by_writers": len(acked_all) - len(set(acked_all)),
        "torn_tails_at_kills": sum(1 for r in rows if r["torn_bytes"]),
        "writer_failures": len(writer_failures), "client_retries": retries,
        "restart_s_mean": round(sum(restart_s[1:]) / max(1, len(restart_s) - 1), 2),
        # from 'serving' after a restart to the first acknowledgement
        "resume_s_max": max((r["resume_s"] for r in rows), default=0.0),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    figures["ok"] = (figures["lost"] == 0 and figures["duplicated"] == 0 and figures["partial_lines_visible"] == 0
                     and figures["unknown_packs"] == 0 and figures["writer_failures"] == 0
                     and figures["acknowledged"] == total and figures["stored"] == total
                     and figures["kills"] == kills)
    if own and figures["ok"]:
        shutil.rmtree(work, ignore_errors=True)
    elif not figures["ok"]:
        figures["work_dir"] = work
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.kill9", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 writers x 1000 packs, 3 kills")
    p.add_argument("--writers", type=int, default=None)
    p.add_argument("--packs", type=int, default=None, help="packs per writer")
    p.add_argument("--kills", type=int, default=None)
    p.add_argument("--seed", type=int, default=20251125)
    p.add_argument("--server-workers", type=int, default=None,
                   help="the server's --workers (default: its own default, one per core)")
    a = p.parse_args(argv)
    writers = a.writers or (4 if a.quick else 8)
    packs = a.packs or (1000 if a.quick else 5000)
    kills = a.kills if a.kills is not None else (3 if a.quick else 20)
    print(f"kill -9 during streamed appends: {writers} writers x {packs} packs, {kills} SIGKILLs (seed {a.seed})")
    print(f"{'kill':>4} {'acked':>9} {'stored':>8} {'lost':>5} {'dups':>5} {'partial':>7} {'unknown':>7} "
          f"{'torn bytes':>10} {'restart s':>9} {'resume s':>9}")
    extra = () if a.server_workers is None else ("--workers", str(a.server_workers))
    figures = run(writers, packs, kills, a.seed, server_args=extra)
    print()
    for key in ("kills", "acknowledged", "stored", "lost", "duplicated", "partial_lines_visible", "unknown_packs",
                "torn_tails_at_kills", "client_retries", "restart_s_mean", "resume_s_max", "elapsed_s"):
        print(f"{key:<24} {figures[key]}")
    print("result                   " + ("ok" if figures["ok"] else "FAILED"))
    print(json.dumps(figures))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
