"""Graceful shutdown under load, and readiness while a large store loads.

    python -m reliability.shutdown [--quick] [--cycles N] [--packs N]

Part 1 (shutdown): 8 simulator threads stream realistic ~4 KB packs (bench
datagen) through StreamAppender into `datapack serve` (its own process, fsync
on, default worker processes). The server is stopped with SIGTERM several
times mid-stream and restarted on the same port; the simulators reconnect and
re-send what was not acknowledged. Per cycle: seconds from SIGTERM to a health
Watch seeing NOT_SERVING, seconds to exit (grace 10 s), exit status, and
whether every pack acknowledged before the exit is present after the restart.
At the end every pack must be stored exactly once.

Part 2 (readiness): a store of N realistic packs is written directly as JSONL
(no index snapshot: the first start builds the index; the second loads the
snapshot the first wrote). From the `listening on` line, health is polled and
an append attempted every 20 ms until SERVING: how long the server said
NOT_SERVING, how many appends were refused (UNAVAILABLE, STARTING), that none
was accepted before SERVING, and the first query's latency after it.

Pass: every cycle exits 0 within the grace period with NOT_SERVING seen within
1 s and nothing acknowledged lost; all packs stored once; no append accepted
while NOT_SERVING.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

STORE = "shutdown"
GRACE = 10.0


class Server:
    """`datapack serve` with its stdout lines timestamped."""

    def __init__(self, data_dir: str, port: int = 0, *extra: str):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "datapack_server", "serve", "--data-dir", data_dir, "--port", str(port),
             "--grace", str(GRACE), *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = port

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line))
        self.lines.put((time.monotonic(), None))

    def wait_line(self, prefix: str, timeout: float = 120.0) -> float:
        deadline = time.monotonic() + timeout
        while True:
            t, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"server exited ({self.proc.poll()}) before {prefix!r}")
            if line.startswith(prefix):
                self.port = int(line.split()[3].rstrip(";").rsplit(":", 1)[1])
                return t

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Writer(threading.Thread):
    """A simulator: appends ~640 packs/s until `stop`, keeping the ids
    acknowledged so far (`sent` appended in all)."""

    def __init__(self, target: str, k: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.target, self.k, self.stop = target, k, stop
        self.sent = 0
        self.acked: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        from bench import datagen
        from datapack_client import connect
        try:
            repo = connect(self.target, store=STORE, timeout=10)
            with repo.stream_appender(batch_size=32, max_in_flight=4, reconnect_timeout=60,
                                      on_ack=lambda r: self.acked.append(r.pack_id)) as s:
                for d in datagen.generate(200_000, seed=self.k, prefix=f"w{self.k}"):
                    if self.stop.is_set():
                        break
                    s.append(d)
                    self.sent += 1
                    if self.sent % 32 == 0:
                        time.sleep(0.05)
            repo.close()
        except BaseException as exc:  # noqa: BLE001 - reported
            self.error = exc


def shutdown_cycles(work: str, cycles: int) -> dict:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from bench import datagen
    from datapack_client import connect
    from datapack_server import DataPackRepo

    data = os.path.join(work, "cycles")
    os.makedirs(data)
    server = Server(data)
    server.wait_line("datapack: serving on ")
    port = server.port
    stop = threading.Event()
    writers = [Writer(server.target, k, stop) for k in range(8)]
    for w in writers:
        w.start()
    rows = []
    try:
        for cycle in range(cycles):
            time.sleep(1.5)  # streaming
            ch = grpc.insecure_channel(server.target)
            watch = health_pb2_grpc.HealthStub(ch).Watch(
                health_pb2.HealthCheckRequest(service="datapack.v1.DataPackService"), timeout=60)
            seen: list = []
            threading.Thread(target=lambda: _collect(watch, seen), daemon=True).start()
            t_wait = time.monotonic()
            while not seen and time.monotonic() - t_wait < 5:
                time.sleep(0.01)
            acked_at_signal = sum(len(w.acked) for w in writers)
            t0 = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            code = server.proc.wait(GRACE + 30)
            exit_s = time.monotonic() - t0
            acked_before = {p for w in writers for p in w.acked}
            ns = [t for t, s in seen if s == health_pb2.HealthCheckResponse.NOT_SERVING]
            ch.close()
            server = Server(data, port)
            t_restart = time.monotonic()
            server.wait_line("datapack: serving on ")
            restart_s = time.monotonic() - t_restart
            with connect(server.target, store=STORE, timeout=30) as c:
                present = {p.pack_id for p in c.wait_ready(30).iter_all(datagen.TASK)}
            rows.append({"cycle": cycle + 1, "acked_at_signal": acked_at_signal,
                         "not_serving_s": round(ns[0] - t0, 3) if ns else None, "exit_s": round(exit_s, 2),
                         "exit_code": code, "restart_s": round(restart_s, 2),
                         "acked_lost": len(acked_before - present)})
        time.sleep(1.0)
        stop.set()
        deadline = time.monotonic() + 300
        for w in writers:
            w.join(max(1.0, deadline - time.monotonic()))
    finally:
        server.kill()
    stored_repo = DataPackRepo(os.path.join(data, STORE))
    stored = [p.pack_id for p in stored_repo.iter_all(datagen.TASK)]
    stored_repo.close()
    acked = {p for w in writers for p in w.acked}
    total = sum(w.sent for w in writers)
    return {"rows": rows, "total": total, "stored": len(stored), "stored_twice": len(stored) - len(set(stored)),
            "acked": len(acked), "missing": total - len(set(stored)), "unacked": total - len(acked),
            "writer_errors": [repr(w.error) for w in writers if w.error is not None],
            "writers_alive": sum(w.is_alive() for w in writers)}


def _collect(watch, seen: list) -> None:
    import grpc
    try:
        for resp in watch:
            seen.append((time.monotonic(), resp.status))
    except grpc.RpcError:
        pass


def readiness(work: str, packs: int) -> list[dict]:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from bench import datagen
    from datapack_client import connect
    from datapack_client.errors import UnavailableError

    data = os.path.join(work, "ready")
    datagen.write_store(os.path.join(data, STORE), packs, seed=7)
    out = []
    extra = 0  # appends accepted once SERVING (they are in the store for the next start)
    for label in ("first start", "second start"):
        server = Server(data)
        try:
            t_listen = server.wait_line("datapack: listening on ")
            ch = grpc.insecure_channel(server.target)
            health = health_pb2_grpc.HealthStub(ch)
            c = connect(server.target, store=STORE, timeout=5)
            refused = accepted = early = polls = 0
            t_serving = None
            n = 0
            while time.monotonic() - t_listen < 120:
                polls += 1
                try:
                    c.append(next(datagen.generate(1, seed=1000 + n, start=10_000_000 + n, prefix="early")))
                    ok = True
                except UnavailableError as err:
                    refused += err.reason == "STARTING"
                    ok = False
                n += 1
                try:
                    status = health.Check(health_pb2.HealthCheckRequest(service="datapack.v1.DataPackService"),
                                          timeout=5).status
                except grpc.RpcError:
                    status = None  # not answering yet
                if ok:
                    # Accepted: health must already say SERVING (it turns SERVING before appends are let in).
                    accepted += status != health_pb2.HealthCheckResponse.SERVING
                    early += 1
                if status == health_pb2.HealthCheckResponse.SERVING:
                    t_serving = time.monotonic()
                    break
                time.sleep(0.02)
            q0 = time.perf_counter()
            stats = c.get_statistics(datagen.TASK)
            first_query_ms = (time.perf_counter() - q0) * 1000
            extra += early
            t_line = server.wait_line("datapack: serving on ")
            c.close()
            ch.close()
            out.append({"start": label, "packs": stats["total"],
                        "not_serving_s": round(t_serving - t_listen, 2) if t_serving else None,
                        "listening_after_s": round(t_listen - server.t0, 2),
                        "serving_line_after_s": round(t_line - server.t0, 2),
                        "appends_refused": refused, "appends_accepted_early": accepted, "expected": packs + extra,
                        "first_statistics_ms": round(first_query_ms, 1)})
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(GRACE + 30)
        finally:
            server.kill()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.shutdown", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 cycles, 20k-pack store")
    p.add_argument("--cycles", type=int, default=None, help="SIGTERM cycles (default 5, quick 2)")
    p.add_argument("--packs", type=int, default=None, help="readiness store size (default 200k, quick 20k)")
    a = p.parse_args(argv)
    cycles = a.cycles or (2 if a.quick else 5)
    packs = a.packs or (20_000 if a.quick else 200_000)
    work = tempfile.mkdtemp(prefix="shutdown-")
    try:
        sd = shutdown_cycles(work, cycles)
        rd = readiness(work, packs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"shutdown: 8 streams, SIGTERM x{cycles}, grace {GRACE:g} s")
    print(f"{'cycle':>5} {'acked@signal':>13} {'NOT_SERVING s':>14} {'exit s':>7} {'code':>5} {'restart s':>10} "
          f"{'acked lost':>11}")
    for r in sd["rows"]:
        print(f"{r['cycle']:>5} {r['acked_at_signal']:>13} {str(r['not_serving_s']):>14} {r['exit_s']:>7} "
              f"{r['exit_code']:>5} {r['restart_s']:>10} {r['acked_lost']:>11}")
    print(f"packs appended {sd['total']}: acknowledged {sd['acked']}, stored {sd['stored']}, stored twice "
          f"{sd['stored_twice']}, missing {sd['missing']}, writer errors {len(sd['writer_errors'])}")
    print(f"\nreadiness: store of {packs} packs")
    print(f"{'start':<22} {'listening s':>12} {'NOT_SERVING s':>14} {'serving line s':>15} {'refused':>8} "
          f"{'accepted early':>15} {'first stats ms':>15}")
    for r in rd:
        print(f"{r['start']:<22} {r['listening_after_s']:>12} {str(r['not_serving_s']):>14} "
              f"{r['serving_line_after_s']:>15} {r['appends_refused']:>8} {r['appends_accepted_early']:>15} "
              f"{r['first_statistics_ms']:>15}")
    failures = [f"cycle {r['cycle']}: {what}" for r in sd["rows"] for what, bad in (
        ("exit status", r["exit_code"] != 0), ("exit after the grace period", r["exit_s"] >= GRACE),
        ("acknowledged packs lost", r["acked_lost"] != 0),
        ("NOT_SERVING not seen within 1 s", r["not_serving_s"] is None or r["not_serving_s"] >= 1.0)) if bad]
    failures += [what for what, bad in (
        ("packs stored twice", sd["stored_twice"]), ("packs missing", sd["missing"]),
        ("packs never acknowledged", sd["unacked"]), (f"writer errors {sd['writer_errors']}", sd["writer_errors"]),
        ("writers still running", sd["writers_alive"])) if bad]
    failures += [f"{r['start']}: {what}" for r in rd for what, bad in (
        ("append accepted while NOT_SERVING", r["appends_accepted_early"]),
        (f"served {r['packs']} packs, expected {r['expected']}", r["packs"] != r["expected"])) if bad]
    ok = not failures
    print("result", "PASS" if ok else "FAIL: " + "; ".join(failures))
    figures = {
        "cycles": cycles, "grace_s": GRACE,
        "not_serving_s_max": max((99 if r["not_serving_s"] is None else r["not_serving_s"]) for r in sd["rows"]),
        "exit_s_max": max(r["exit_s"] for r in sd["rows"]),
        "restart_s_max": max(r["restart_s"] for r in sd["rows"]),
        "acked_lost": sum(r["acked_lost"] for r in sd["rows"]),
        "packs": sd["total"], "acked": sd["acked"], "stored_twice": sd["stored_twice"], "missing": sd["missing"],
        "writer_errors": sd["writer_errors"], "writers_alive": sd["writers_alive"],
        "readiness_served": [r["packs"] for r in rd], "readiness_expected": [r["expected"] for r in rd],
        "readiness_packs": packs,
        "not_serving_s_cold": rd[0]["not_serving_s"], "not_serving_s_snapshot": rd[1]["not_serving_s"],
        "appends_refused_cold": rd[0]["appends_refused"],
        "appends_accepted_early": sum(r["appends_accepted_early"] for r in rd),
        "first_statistics_ms_cold": rd[0]["first_statistics_ms"], "pass": ok, "failures": failures,
    }
    print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
