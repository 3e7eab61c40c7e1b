"""`datapack serve` as a subprocess on 127.0.0.1, with startup timing and memory.

Every started server is registered; `stop_all()` (called by run.py in a
finally block and at exit) ends the ones still running.
"""
from __future__ import annotations

import atexit
import os
import queue
import subprocess
import sys
import threading
import time

import psutil

_LIVE: set["ServerProc"] = set()


class ServerProc:
    def __init__(self, data_dir: str, log_path: str, *extra: str):
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.startup_s = float("nan")  # process start -> "serving" line

    def start(self, timeout: float = 120.0) -> "ServerProc":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "datapack_server", "serve", "--data-dir", self.data_dir,
             "--host", "127.0.0.1", "--port", "0", *self.extra],
            stdout=subprocess.PIPE, stderr=log, env=env)
        log.close()
        _LIVE.add(self)
        lines: queue.Queue = queue.Queue()

        def pump(stream):  # keeps the pipe drained for the server's lifetime
            for raw in stream:
                lines.put(raw.decode(errors="replace"))
            lines.put(None)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("datapack: serving on "):
                self.startup_s = time.perf_counter() - t0
                self.port = int(line.split()[3].rsplit(":", 1)[1])
                return self
        self.kill()
        raise RuntimeError(f"server did not start within {timeout}s; see {self.log_path}")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def rss(self) -> int:
        return psutil.Process(self.proc.pid).memory_info().rss

    def tree_rss(self) -> int:
        """RSS of the server plus its worker processes (shared pages counted
        in each, so an upper bound)."""
        proc = psutil.Process(self.proc.pid)
        total = proc.memory_info().rss
        for k in proc.children(recursive=True):
            try:
                total += k.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the server and its live worker processes."""
        proc = psutil.Process(self.proc.pid)
        total = 0.0
        for p in [proc, *proc.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def peak_rss(self) -> int:
        """VmHWM: the highest resident set size so far."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _descendants(self) -> list:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def _end_descendants(self, kids: list) -> None:
        """The server's worker processes outlive a SIGKILLed server: end them (by pid)."""
        for k in kids:
            try:
                k.wait(5)
            except psutil.TimeoutExpired:
                k.kill()
            except psutil.NoSuchProcess:
                pass

    def stop(self, timeout: float = 60.0) -> None:
        """Graceful stop (SIGTERM), SIGKILL if it takes longer than timeout."""
        if self.proc is not None and self.proc.poll() is None:
            kids = self._descendants()
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self._end_descendants(kids)
        _LIVE.discard(self)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            kids = self._descendants()
            self.proc.kill()
            self.proc.wait(10)
            self._end_descendants(kids)
        _LIVE.discard(self)

    def __enter__(self) -> "ServerProc":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_all() -> None:
    for s in list(_LIVE):
        s.kill()


atexit.register(stop_all)
