"""Lifecycle: graceful shutdown under load, readiness while stores load.

The long variants (repeated SIGTERM cycles, readiness on a real large store)
are `python -m reliability.shutdown`."""
from __future__ import annotations

import json
import signal
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from datapack_client import connect
from datapack_client.errors import UnavailableError
from datapack_server import DataPackRepo
from datapack_server.api.app import WRITE_HEALTH_NAME, ServerConfig, build_server

from .conftest import STORE, ServerProcess, hold_warm_up, make_pack, scaled

TASK = "drawer_vase"
SERVICE = "datapack.v1.DataPackService"
ADAPTER = "datapack.v1.SkillAdapterService"
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def _check(port: int, name: str) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=name),
                                                    timeout=scaled(10)).status


class _Writer(threading.Thread):
    """A simulator: streams `count` packs through the stream appender (which
    reconnects and re-sends what was not acknowledged), keeping the ids
    acknowledged so far."""

    def __init__(self, target: str, k: int, count: int):
        super().__init__(daemon=True)
        self.target, self.k, self.count = target, k, count
        self.acked: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            repo = connect(self.target, store=STORE, timeout=10)
            with repo.stream_appender(batch_size=10, max_in_flight=2, reconnect_timeout=60) as s:
                for i in range(self.count):
                    s.append(make_pack(f"w{self.k}-{i}"))
                    self.acked = [r.pack_id for r in s.results]
                    time.sleep(0.002)  # a simulator between episodes: the streams stay busy, not saturated
            self.acked = [r.pack_id for r in s.results]
            repo.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_sigterm_during_8_streams(tmp_path):
    """SIGTERM while 8 simulators stream: health turns NOT_SERVING at once (a
    Watch sees it), the server exits 0 well within its grace period, every pack
    acknowledged before the exit is present after a restart on the same port;
    the simulators reconnect to it and finish: all packs stored exactly once."""
    data = tmp_path / "data"
    data.mkdir()
    grace = scaled(5.0)  # a loaded machine drains 8 streams more slowly; the exit must still come before it
    proc = ServerProcess(data, "--grace", str(grace), "--workers", "0").start()
    port = proc.port
    channel = grpc.insecure_channel(proc.target)
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=SERVICE),
                                                      timeout=scaled(120))
    seen: list[tuple[float, int]] = []

    def watching():
        try:
            for resp in watch:
                seen.append((time.monotonic(), resp.status))
        except grpc.RpcError:
            pass

    watcher = threading.Thread(target=watching, daemon=True)
    watcher.start()
    per_writer = 400
    writers = [_Writer(proc.target, k, per_writer) for k in range(8)]
    for w in writers:
        w.start()
    try:
        deadline = time.monotonic() + scaled(60)
        while sum(len(w.acked) for w in writers) < 400 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(w.is_alive() for w in writers), "writers finished before the signal"
        assert seen and seen[-1][1] == SERVING
        t0 = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.proc.wait(grace + 10)
        exited = time.monotonic() - t0
        acked_before = {pid for w in writers for pid in w.acked}
        assert code == 0
        assert exited < grace, f"exit took {exited:.2f}s (grace {grace}s)"
        not_serving = [t for t, s in seen if s == NOT_SERVING]
        assert not_serving and not_serving[0] - t0 < scaled(1.0), seen
        assert len(acked_before) < 8 * per_writer  # the signal came mid-stream
        proc = ServerProcess(data, "--workers", "0").start_on(port)
        with connect(proc.target, store=STORE, timeout=20) as c:
            # The writers' failed reconnects put the shared subchannel in backoff: wait it out.
            present = {p.pack_id for p in c.wait_ready(20).load_all(TASK)}
        assert acked_before <= present, f"{len(acked_before - present)} acknowledged pack(s) lost"
        for w in writers:
            w.join(max(1.0, deadline - time.monotonic()))
        assert not any(w.is_alive() for w in writers)
        assert [w.error for w in writers] == [None] * 8
    finally:
        channel.close()
        proc.kill()
    stored = [json.loads(line)["pack_id"] for line in (data / STORE / f"{TASK}_datapacks.jsonl").read_bytes()
              .split(b"\n")[:-1]]
    assert len(stored) == len(set(stored)) == 8 * per_writer
    assert {pid for w in writers for pid in w.acked} == set(stored)


def test_stop_cancels_idle_streams_without_waiting_for_the_grace_period(data_root):
    """An open append stream waiting for its next batch and a health Watch do
    not hold a stop for the grace period: once no call is working, stop()
    cancels them; the stream's client sees a retryable status."""
    grace = 60.0
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, grace_seconds=grace))
    c = connect(f"127.0.0.1:{running.port}", store=STORE, timeout=20)
    s = c.stream_appender(batch_size=5, reconnect_timeout=0.5)
    for i in range(5):
        s.append(make_pack(f"i{i}"))
    assert len(s.flush(timeout=20)) == 5  # the stream is open and idle
    ch = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=SERVICE), timeout=60)
    assert next(watch).status == SERVING
    t0 = time.monotonic()
    running.stop()
    assert time.monotonic() - t0 < min(scaled(5.0), grace / 2)  # not the grace period
    statuses = []
    try:
        for r in watch:
            statuses.append(r.status)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAVAILABLE  # the stopped server cancelled the Watch
    assert statuses == [NOT_SERVING]  # told at once, then the Watch ends
    s.close()  # nothing unacknowledged: it ends without a server
    ch.close()
    c.close()
    assert DataPackRepo(str(data_root / STORE)).get_statistics(TASK)["total"] == 5


def test_not_serving_and_unavailable_while_stores_load(data_root, monkeypatch):
    """While the stores found under the data root are loaded (here: a load
    held until released), every health name is NOT_SERVING and appends and
    reads are refused with UNAVAILABLE (STARTING), nothing written; then
    SERVING, the existing packs are served and appends work."""
    DataPackRepo(str(data_root / STORE), create=True).append_batch([make_pack(f"r{i}") for i in range(50)])
    loading, release = hold_warm_up(monkeypatch)
    running = build_server(ServerConfig(data_dir=str(data_root), port=0), wait_ready=False)
    c = connect(f"127.0.0.1:{running.port}", store=STORE, timeout=20)
    try:
        assert loading.wait(scaled(10))
        for name in ("", SERVICE, ADAPTER, WRITE_HEALTH_NAME):
            assert _check(running.port, name) == NOT_SERVING, name
        with pytest.raises(UnavailableError) as exc:
            c.append(make_pack("during-load"))
        assert exc.value.reason == "STARTING"
        with pytest.raises(UnavailableError):
            c.get_statistics(TASK)
        assert not running.wait_ready(0.1)
        release.set()
        assert running.wait_ready(scaled(10))
        for name in ("", SERVICE, ADAPTER, WRITE_HEALTH_NAME):
            assert _check(running.port, name) == SERVING, name
        assert c.get_statistics(TASK)["total"] == 50
        assert c.append(make_pack("after-load")).status == "created"
        ids = {p.pack_id for p in c.load_all(TASK)}
        assert "after-load" in ids and "during-load" not in ids and len(ids) == 51
    finally:
        release.set()
        c.close()
        running.stop(0)
