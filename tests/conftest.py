"""Shared fixtures: real servers on port 0, and one `repo` fixture that runs a
test three times: against the embedded DataPackRepo, through the client against
a server, and through the asyncio client against a server (behind a synchronous
bridge, aio_bridge.py) (docs/repository.md §11.3 parity)."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

import pytest

from datapack_client import DataPackMeta, connect
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server

try:
    from .aio_bridge import AsyncClientBridge
except ImportError:  # tests/ not a package
    from aio_bridge import AsyncClientBridge

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "reference"
STORE = "phase_c"


# ------------------------------------------------------------------ timing on a loaded machine
# A test must hold on a machine at load 6 (`make test` beside other work). Where
# it relies on time (a deadline it sets, a timeout it waits for something with),
# the seconds that suffice on an idle machine go through `scaled`.
MAX_SLOWDOWN = 8.0


def load_factor() -> float:
    """How many times slower than idle this machine may run now: the 1-minute
    load average per CPU, at least 1 and at most MAX_SLOWDOWN;
    DATAPACK_TEST_SLOWDOWN=N sets it (e.g. under an emulator)."""
    forced = os.environ.get("DATAPACK_TEST_SLOWDOWN")
    if forced:
        return max(1.0, float(forced))
    try:
        per_cpu = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        per_cpu = 1.0
    return min(MAX_SLOWDOWN, max(1.0, per_cpu))


def scaled(seconds: float) -> float:
    """`seconds` (enough on an idle machine) for the load now. The load
    average trails a sudden load by about a minute, so callers give idle
    values with room to spare (several times what an idle run needs)."""
    return seconds * load_factor()


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def server(data_root):
    """An in-process server on 127.0.0.1:0 over data_root (fsync on)."""
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=32))
    yield running
    running.stop(0)


@pytest.fixture
def client(server):
    c = connect(f"127.0.0.1:{server.port}", store=STORE, timeout=20)
    yield c
    c.close()


@pytest.fixture(params=["embedded", "remote", "remote_async"])
def repo(request, data_root):
    """The same repository API, in-process or over gRPC (the client, or the asyncio
    client behind aio_bridge.py), on <data_root>/phase_c
    (an existing, empty store folder on both sides: reads of its tasks before
    any append raise TASK_NOT_FOUND alike)."""
    (data_root / STORE).mkdir(exist_ok=True)
    if request.param == "embedded":
        r = DataPackRepo(str(data_root / STORE))
        yield r
        r.close()
    else:
        running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=32))
        open_client = connect if request.param == "remote" else AsyncClientBridge
        c = open_client(f"127.0.0.1:{running.port}", store=STORE, timeout=20)
        yield c
        c.close()
        running.stop(0)


def hold_warm_up(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Make a server's start-up load of its stores wait: returns (loading,
    release); `loading` is set once the warm-up thread reached a task, which
    then waits (at most 30 s) until `release` is set."""
    from datapack_server.engine.task_state import TaskState

    loading, release = threading.Event(), threading.Event()
    real_refresh = TaskState.refresh

    def slow_refresh(self):
        if threading.current_thread().name == "datapack-warm-up":
            loading.set()
            release.wait(30)
        return real_refresh(self)

    monkeypatch.setattr(TaskState, "refresh", slow_refresh)
    return loading, release


def copy_fixture(data_root: pathlib.Path, name: str, store: str = STORE) -> pathlib.Path:
    dest = data_root / store
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / name, dest / name)
    return dest / name


def make_pack(pack_id: str | None = None, task_name: str = "drawer_vase", delta_j: float = 1.0,
              trust: float = 0.95, skills=(0, 1, 3), **fields) -> DataPackMeta:
    """A valid pack: bucket from the sign of ΔJ, a counterfactual plan when negative."""
    bucket = "positive" if delta_j >= 0 else "negative"
    dp = DataPackMeta(
        pack_id=pack_id or f"p-{time.perf_counter_ns()}", task_name=task_name, bucket=bucket,
        skill_trace=[{"t": 10 * i, "skill_id": s, "params": {}, "duration": 10} for i, s in enumerate(skills)],
        counterfactual_plan=({"skills": [0, 1, 2, 3, 4, 5], "source": "scripted_teacher"} if bucket == "negative"
                             else None),
        counterfactual_source="scripted_teacher" if bucket == "negative" else None,
        **fields)
    dp.attribution.delta_J = float(delta_j)
    dp.attribution.trust_score = float(trust)
    return dp


class ServerProcess:
    """`datapack serve` in a subprocess (for kill -9 and signal tests)."""

    def __init__(self, data_dir: pathlib.Path, *extra: str):
        self.data_dir = data_dir
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        return self.start_on(0, timeout)

    def start_on(self, port: int, timeout: float = 30.0) -> "ServerProcess":
        """Start on `port` (0 = a free one, read back from the ready line)."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "datapack_server", "serve", "--data-dir", str(self.data_dir), "--port",
             str(port), *self.extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("datapack: serving on "):
                self.port = int(line.split()[3].rsplit(":", 1)[1])
                return self
        err = self.proc.stderr.read() if self.proc.poll() is not None else ""
        self.kill()
        raise RuntimeError(f"server did not start: {err}")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.terminate()
        return self.proc.wait(scaled(timeout))
