"""Store open, index build and resident memory (items 5 and 6).

The engine may keep an index snapshot under `<store>/.datapack/index*`
(written in the background after a load and on close). These helpers find,
wait for and delete it, so a run can measure opening with and without it.
"""
from __future__ import annotations

import gc
import glob
import os
import shutil
import threading
import time

from datapack_client import connect

from .datagen import FILE_NAME, TASK
from .queries import run_query
from .server import ServerProc


def snapshot_files(store_dir: str) -> list[str]:
    out = []
    for p in glob.glob(os.path.join(store_dir, ".datapack", "index*")):
        out.extend(glob.glob(os.path.join(p, "**", "*"), recursive=True) if os.path.isdir(p) else [p])
    return sorted(f for f in out if os.path.isfile(f))


def drop_snapshot(store_dir: str) -> None:
    for p in glob.glob(os.path.join(store_dir, ".datapack", "index*")):
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


def wait_snapshot_settled(store_dir: str, appear_s: float = 3.0, timeout: float = 120.0) -> None:
    """Wait until no snapshot is being written: no temp file, and either a
    snapshot exists or none appeared within appear_s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        files = snapshot_files(store_dir)
        writing = any(f.endswith(".tmp") for f in files)
        if not writing and (files or time.monotonic() - t0 > appear_s):
            return
        time.sleep(0.05)


def _join_snapshot_threads(timeout: float = 120.0) -> None:
    for t in threading.enumerate():
        if t.name.startswith("snapshot-"):
            t.join(timeout)


def inprocess_open(store_dir: str) -> tuple[float, int]:
    """DataPackRepo(store) then the first get_statistics: (seconds, packs)."""
    from datapack_server import DataPackRepo

    gc.collect()
    t = time.perf_counter()
    repo = DataPackRepo(store_dir, fsync=False)
    stats = repo.get_statistics(TASK)
    seconds = time.perf_counter() - t
    _join_snapshot_threads()
    repo.close()
    _join_snapshot_threads()
    del repo
    gc.collect()
    return seconds, stats["total"]


def server_open(root: str, store: str, log_path: str, first: str = "query") -> tuple[ServerProc, dict]:
    """Start a server and make the first call (the timed query, or
    get_statistics), which loads the task. The caller stops the server."""
    srv = ServerProc(root, log_path).start()
    try:
        with connect(srv.target, store=store, timeout=600) as c:
            t = time.perf_counter()
            if first == "query":
                run_query(c, "timed")
            else:
                c.get_statistics(TASK)
            first_s = time.perf_counter() - t
        wait_snapshot_settled(os.path.join(root, store))
        return srv, {"startup_s": srv.startup_s, "first_s": first_s, "rss": srv.rss(), "tree_rss": srv.tree_rss(),
                     "peak_rss": srv.peak_rss()}
    except BaseException:
        srv.kill()
        raise


def empty_rss(work_dir: str) -> tuple[int, int]:
    """RSS of a server whose store is empty, after serving a few calls:
    (server process, server plus its worker processes)."""
    root = os.path.join(work_dir, "empty_root")
    # A store and a task with no packs: the server refuses a store or task that does not exist.
    os.makedirs(os.path.join(root, "empty"), exist_ok=True)
    open(os.path.join(root, "empty", FILE_NAME), "wb").close()
    try:
        with ServerProc(root, os.path.join(work_dir, "server_empty.log")) as srv:
            with connect(srv.target, store="empty") as c:
                for _ in range(3):
                    c.get_statistics(TASK)
                    c.query(TASK, bucket="positive", skill_id=3, min_trust=0.9, sort_by="delta_j", limit=100)
            return srv.rss(), srv.tree_rss()
    finally:
        shutil.rmtree(root, ignore_errors=True)
