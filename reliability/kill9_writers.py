"""kill -9 of the server while writer processes stream appends, with short
up-windows: no writer gives up, nothing acknowledged is lost or stored twice,
and every writer is acknowledged again soon after each restart.

    python -m reliability.kill9_writers [--quick] [--writers 8] [--kills 20] [--up 1.0] [--rate 200]

A `datapack serve` subprocess (fsync on) is started, kept serving for `--up`
seconds, SIGKILLed and restarted on the same port, `--kills` times; then it
serves once more until the writers have finished. Each of `--writers` writer
processes appends through the public client, `connect(...).stream_appender()`
(default connection options: at most 1 s between connection attempts), about
`--rate` packs a second in batches of 20, until the harness tells it to stop;
it then flushes, closes, and writes every acknowledgement with the monotonic
time it arrived (its `on_ack` callback), plus any rejection or error.

Checks, from the harness's own timestamps (serving window k = from the
server's `serving on` line to its SIGKILL):
* writer errors: a writer that raised (gave up, rejection, anything) = 0;
* lost: an acknowledged pack missing from the task file = 0; duplicated: a
  pack stored twice = 0; every pack a writer appended is acknowledged;
* max gap: the longest stretch of *serving* time a writer went without an
  acknowledgement (from its first append to its stop signal) <= 3 s;
* threads after reconnects: each writer's threading.active_count() when told
  to stop (after every reconnect, its appender still open), beside its count
  after its first acknowledgement (no growth).

Prints a row per kill and, as its last line, a JSON object of figures. Exit
status 1 if a check fails.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time

from reliability.kill9 import STORE, TASK, Server, check_store, make_pack

MAX_GAP_SERVING_S = 3.0
BATCH = 20


# ---------------------------------------------------------------------- a writer (child process)

def _writer(target: str, prefix: str, rate: float, stop, out_path: str) -> None:
    """Append `prefix`-N packs until `stop` is set; then write a JSON report."""
    from datapack_client import connect

    acks: list[tuple[float, str]] = []
    report: dict = {"prefix": prefix, "error": None, "rejections": [], "appended": 0}
    repo = connect(target, store=STORE, timeout=10)
    try:
        s = repo.stream_appender(batch_size=BATCH, max_in_flight=4, linger=0.02, reconnect_timeout=120,
                                 on_ack=lambda r: acks.append((time.monotonic(), r.pack_id)),
                                 on_reject=lambda pack, err: report["rejections"].append(repr(err)))
        report["started"] = time.monotonic()
        n = 0
        while not stop.is_set():
            t0 = time.monotonic()
            for _ in range(BATCH):
                s.append(make_pack(f"{prefix}-{n}"))
                n += 1
            if "threads_first" not in report and acks:
                report["threads_first"] = threading.active_count()
            time.sleep(max(0.0, BATCH / rate - (time.monotonic() - t0)))
        report["stopped"] = time.monotonic()
        report["threads_at_stop"] = threading.active_count()  # after every reconnect, the appender still open
        report["appended"] = n
        s.close()
        report["reconnects"] = s.reconnects
        report["unacknowledged"] = len(s.unacknowledged())
    except BaseException as exc:  # noqa: BLE001 - reported to the harness, which fails the run
        report["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        repo.close()
        report["threads_end"] = threading.active_count()
        report["acks"] = acks
        with open(out_path, "w") as f:
            json.dump(report, f)


# ---------------------------------------------------------------------- serving time

def serving_overlap(start: float, end: float, windows: list[tuple[float, float]]) -> float:
    """Seconds of [start, end] during which the server was serving."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in windows)


def max_serving_gap(report: dict, windows: list[tuple[float, float]]) -> float:
    """The longest serving time between a writer's consecutive acknowledgements,
    counted from its first append to the moment it was told to stop."""
    points = [report["started"]] + sorted(t for t, _ in report["acks"] if t <= report["stopped"])
    points.append(report["stopped"])
    return max((serving_overlap(a, b, windows) for a, b in zip(points, points[1:])), default=0.0)


# ---------------------------------------------------------------------- the run

def run(writers: int, kills: int, up: float, rate: float, work: str | None = None, out=print) -> dict:
    own = work is None
    work = work or tempfile.mkdtemp(prefix="kill9-writers-")
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    server = Server(data, os.path.join(work, "server.log"))
    started = time.monotonic()
    server.start()
    port = server.port
    windows: list[tuple[float, float]] = []
    up_at = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    paths = [os.path.join(work, f"writer{i}.json") for i in range(writers)]
    procs = [ctx.Process(target=_writer, args=(server.target, f"w{i}", rate, stop, paths[i])) for i in range(writers)]
    for p in procs:
        p.start()
    try:
        time.sleep(2.0)  # the writers import the client and connect while the first server serves
        for k in range(kills):
            time.sleep(max(0.0, up - (time.monotonic() - up_at)))
            down_at = time.monotonic()
            server.kill()
            windows.append((up_at, down_at))
            restart_s = server.start(port)
            up_at = time.monotonic()
            out(f"{k + 1:>4} {down_at - windows[-1][0]:>8.2f} {restart_s:>9.2f} "
                f"{sum(p.is_alive() for p in procs):>7}")
        time.sleep(max(2.0, up))
        stop.set()
        for p in procs:
            p.join(300)
        windows.append((up_at, time.monotonic()))
    finally:
        stop.set()
        server.stop()
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(10)
    return _figures(writers, kills, up, rate, paths, procs, windows, data, time.monotonic() - started, work, own)


def _figures(writers, kills, up, rate, paths, procs, windows, data, elapsed, work, own) -> dict:
    reports = []
    for path in paths:
        try:
            with open(path) as f:
                reports.append(json.load(f))
        except (FileNotFoundError, json.JSONDecodeError):
            reports.append(None)
    ok_reports = [r for r in reports if r is not None]
    acked = [pid for r in ok_reports for _, pid in r["acks"]]
    written = {f"{r['prefix']}-{n}" for r in ok_reports for n in range(r["appended"])}
    final = check_store(os.path.join(data, STORE), set(acked), written)
    errors = [r["error"] for r in ok_reports if r["error"]] + [
        f"writer {i}: exit {p.exitcode}, no report" for i, (p, r) in enumerate(zip(procs, reports)) if r is None]
    gaps = [round(max_serving_gap(r, windows), 2) for r in ok_reports if "started" in r and "stopped" in r]
    figures = {
        "writers": writers, "kills": kills, "up_window_s": up, "rate_per_writer": rate,
        "appended": len(written), "acknowledged": len(set(acked)), "stored": final["stored"],
        "lost": final["lost"], "duplicated": final["duplicated"] + (len(acked) - len(set(acked))),
        "unacknowledged": len(written - set(acked)), "partial_lines_visible": final["partial"],
        "unknown_packs": final["unknown"],
        "writer_errors": len(errors), "rejections": sum(len(r["rejections"]) for r in ok_reports),
        "max_gap_serving_s": max(gaps, default=None), "gaps_serving_s": gaps,
        "writers_acked_in_last_window": sum(any(t >= windows[-1][0] for t, _ in r["acks"]) for r in ok_reports),
        "reconnects": sum(r.get("reconnects", 0) for r in ok_reports),
        "threads_first_ack": [r.get("threads_first") for r in ok_reports],
        "threads_at_stop": [r.get("threads_at_stop") for r in ok_reports],
        "threads_end": [r.get("threads_end") for r in ok_reports],
        "serving_s": round(sum(b - a for a, b in windows), 1), "elapsed_s": round(elapsed, 1),
    }
    if errors:
        figures["errors"] = errors[:8]
    figures["ok"] = (figures["writer_errors"] == 0 and figures["lost"] == 0 and figures["duplicated"] == 0
                     and figures["rejections"] == 0 and figures["unacknowledged"] == 0
                     and figures["partial_lines_visible"] == 0 and figures["unknown_packs"] == 0
                     and figures["stored"] == figures["appended"] > 0 and len(gaps) == writers
                     and max(gaps) <= MAX_GAP_SERVING_S)
    if own and figures["ok"]:
        shutil.rmtree(work, ignore_errors=True)
    elif not figures["ok"]:
        figures["work_dir"] = work
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.kill9_writers", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 writers, 5 kills")
    p.add_argument("--writers", type=int, default=None)
    p.add_argument("--kills", type=int, default=None)
    p.add_argument("--up", type=float, default=1.0, help="seconds the server serves between kills")
    p.add_argument("--rate", type=float, default=200.0, help="packs a second per writer")
    a = p.parse_args(argv)
    writers = a.writers or (4 if a.quick else 8)
    kills = a.kills if a.kills is not None else (5 if a.quick else 20)
    print(f"kill -9 with {a.up:g} s up-windows: {writers} streaming writers x {a.rate:g} packs/s, {kills} SIGKILLs "
          f"(task {TASK})")
    print(f"{'kill':>4} {'served s':>8} {'restart s':>9} {'writers':>7}")
    figures = run(writers, kills, a.up, a.rate)
    print()
    for key in ("writers", "kills", "appended", "acknowledged", "stored", "lost", "duplicated", "unacknowledged",
                "writer_errors", "rejections", "max_gap_serving_s", "writers_acked_in_last_window", "reconnects",
                "threads_first_ack", "threads_at_stop", "serving_s", "elapsed_s"):
        print(f"{key:<22} {figures[key]}")
    print("result                 " + ("ok" if figures["ok"] else "FAILED"))
    print(json.dumps(figures))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
