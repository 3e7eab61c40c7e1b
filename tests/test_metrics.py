"""Prometheus metrics, /healthz and /readyz on the HTTP side port
(metrics.py, http_side.py): exact counts after a known workload, readiness
while the stores load, while the disk is full and while shutting down."""
from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import grpc
import pytest

pytest.importorskip("prometheus_client")  # the metrics extra (part of dev)
from .conftest import STORE, hold_warm_up, make_pack, scaled
from datapack_client import connect
from datapack_client.client import record_to_message
from datapack_client.errors import AlreadyExistsError, NotFoundError
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_server import DataPackRepo
from datapack_server.service import facade as service_module
from datapack_server.api.app import ServerConfig, build_server
from prometheus_client.parser import text_string_to_metric_families

TASK = "drawer_vase"
SVC = "datapack.v1.DataPackService/"


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one /metrics scrape."""
    status, text = http_get(port, "/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered(data_root):
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, metrics_port=0, max_workers=16))
    yield running
    running.stop(0)


def test_counts_of_a_known_workload(metered):
    """3 append batches of 10 (new, the same again, one with a conflicting
    id), 4 limited queries, a streamed read and a get of a missing pack: the exact counters, and
    histograms that observed each call once."""
    c = connect(f"127.0.0.1:{metered.port}", store=STORE, timeout=20)
    try:
        batch = [make_pack(f"m{i}", delta_j=0.1 * i - 0.3) for i in range(10)]
        assert {r.status for r in c.append_batch(batch)} == {"created"}
        assert {r.status for r in c.append_batch(batch)} == {"already_present"}
        conflicting = [make_pack(f"n{i}") for i in range(9)] + [make_pack("m3", delta_j=5.0)]
        with pytest.raises(AlreadyExistsError):
            c.append_batch(conflicting)
        for k in range(4):  # limited queries: one message each (QueryDataPacksPage)
            assert len(c.query(TASK, limit=k + 1)) == k + 1
        assert len(list(c.iter_query(TASK))) == 10  # a streamed read (QueryDataPacks)
        with pytest.raises(NotFoundError) as missing:
            c.get(TASK, "no-such-pack")
        assert missing.value.reason == "PACK_NOT_FOUND"  # the rich status beside the request id
    finally:
        c.close()
    m = scrape(metered.metrics_port)
    assert value(m, "datapack_appended_packs_total", task=TASK, status="created") == 10
    assert value(m, "datapack_appended_packs_total", task=TASK, status="already_present") == 10
    assert value(m, "datapack_appended_packs_total", task=TASK, status="rejected") == 10
    assert value(m, "datapack_ack_seconds_count", source="append") == 2  # the rejected batch is not acknowledged
    assert value(m, "datapack_fsync_seconds_count") == 1  # only the first batch wrote
    assert value(m, "datapack_rpc_seconds_count", method=SVC + "AppendDataPacksBatch") == 3
    assert value(m, "datapack_rpc_seconds_count", method=SVC + "QueryDataPacksPage") == 4
    assert value(m, "datapack_rpc_seconds_count", method=SVC + "QueryDataPacks") == 1
    assert value(m, "datapack_rpc_seconds_count", method=SVC + "GetDataPack") == 1
    assert value(m, "datapack_rpc_errors_total", method=SVC + "AppendDataPacksBatch", code="ALREADY_EXISTS") == 1
    assert value(m, "datapack_rpc_errors_total", method=SVC + "GetDataPack", code="NOT_FOUND") == 1
    errors = {k: v for k, v in m.items() if k[0] == "datapack_rpc_errors_total"}
    assert sum(errors.values()) == 2, errors
    assert value(m, "datapack_packs", store=STORE, task=TASK) == 10
    assert value(m, "datapack_open_streams", method=SVC + "QueryDataPacks") == 0
    # Histogram buckets are cumulative: the +Inf bucket holds every observation.
    assert value(m, "datapack_rpc_seconds_bucket", method=SVC + "QueryDataPacksPage", le="+Inf") == 4
    assert value(m, "datapack_fsync_seconds_sum") > 0


def test_rejected_records_of_unknown_tasks_keep_labels_bounded(metered):
    """A rejected record naming a task that holds no packs counts as
    task="(unknown)": random names cannot grow the label set."""
    c = connect(f"127.0.0.1:{metered.port}", store=STORE, timeout=20)
    try:
        c.append(make_pack("a1"))
        with pytest.raises(AlreadyExistsError):
            c.append_batch([make_pack("x1", task_name="never_stored"), make_pack("a1", delta_j=-2.0)])
    finally:
        c.close()
    m = scrape(metered.metrics_port)
    assert value(m, "datapack_appended_packs_total", task="(unknown)", status="rejected") == 1
    assert value(m, "datapack_appended_packs_total", task=TASK, status="rejected") == 1
    assert not [k for k in m if dict(k[1]).get("task") == "never_stored"]


def test_open_streams_and_stream_acknowledgements(metered):
    """An append stream is counted open while it lasts; each acknowledged
    batch is one acknowledgement observation."""
    requests: queue.Queue = queue.Queue()

    def outgoing():
        while (req := requests.get()) is not None:
            yield req

    with grpc.insecure_channel(f"127.0.0.1:{metered.port}") as ch:
        responses = spb_grpc.DataPackServiceStub(ch).AppendDataPacks(outgoing(), timeout=20)
        for k in range(2):
            requests.put(spb.AppendDataPacksRequest(
                store=STORE, batch_sequence=k,
                data_packs=[record_to_message(make_pack(f"s{k}-{i}")) for i in range(3)]))
            assert next(responses).batch_sequence == k
        m = scrape(metered.metrics_port)
        assert value(m, "datapack_open_streams", method=SVC + "AppendDataPacks") == 1
        assert value(m, "datapack_ack_seconds_count", source="append") == 2
        requests.put(None)
        assert list(responses) == []
    deadline = time.monotonic() + scaled(10)
    while time.monotonic() < deadline:
        m = scrape(metered.metrics_port)
        if value(m, "datapack_open_streams", method=SVC + "AppendDataPacks") == 0:
            break
        time.sleep(0.02)
    assert value(m, "datapack_open_streams", method=SVC + "AppendDataPacks") == 0
    assert value(m, "datapack_rpc_seconds_count", method=SVC + "AppendDataPacks") == 1
    assert value(m, "datapack_appended_packs_total", task=TASK, status="created") == 6


def test_readyz_follows_loading_disk_full_and_shutdown(data_root, monkeypatch):
    """/healthz is 200 throughout; /readyz is 503 while the stores load, 200
    once SERVING (saying so when writes are NOT_SERVING for a full disk), and
    503 again as soon as a shutdown starts, while calls still finish."""
    DataPackRepo(str(data_root / STORE), create=True).append_batch([make_pack(f"r{i}") for i in range(20)])
    loading, release = hold_warm_up(monkeypatch)
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, metrics_port=0), wait_ready=False)
    port = running.metrics_port
    stopper = None
    try:
        assert loading.wait(scaled(10))
        assert http_get(port, "/healthz")[0] == 200
        status, body = http_get(port, "/readyz")
        assert status == 503 and "loading" in body
        release.set()
        assert running.wait_ready(scaled(10))
        assert http_get(port, "/readyz") == (200, "SERVING\n")
        # Disk full: reads are served, so ready; the body names the write health.
        monkeypatch.setattr(running.service.space, "interval", 60.0)  # no probe recovers it during the test
        running.service.space.refused(str(data_root / STORE), 4096)
        status, body = http_get(port, "/readyz")
        assert status == 200 and "datapack.v1.DataPackService/write NOT_SERVING" in body
        # Shutdown: a call in progress holds the stop; /readyz already says 503.
        in_get, finish = threading.Event(), threading.Event()
        real_get = service_module.DataPackService.get

        def held_get(self, *args):
            in_get.set()
            finish.wait(20)
            return real_get(self, *args)

        monkeypatch.setattr(service_module.DataPackService, "get", held_get)
        c = connect(f"127.0.0.1:{running.port}", store=STORE, timeout=20)
        got = []
        getter = threading.Thread(target=lambda: got.append(c.get(TASK, "r1").pack_id))
        getter.start()
        assert in_get.wait(scaled(10))
        stopper = threading.Thread(target=running.stop, args=(scaled(20),))
        stopper.start()
        deadline = time.monotonic() + scaled(10)
        while running.readiness()[0] and time.monotonic() < deadline:
            time.sleep(0.01)
        status, body = http_get(port, "/readyz")
        assert status == 503 and "shutting down" in body
        assert http_get(port, "/healthz")[0] == 200
        finish.set()
        getter.join(scaled(20))
        c.close()
        assert got == ["r1"]
        stopper.join(scaled(30))
        with pytest.raises(OSError):  # the side port closes with the server
            http_get(port, "/healthz")
    finally:
        release.set()
        if stopper is None:
            running.stop(0)


def test_unknown_path_is_404(metered):
    assert http_get(metered.metrics_port, "/nope")[0] == 404


def test_serve_metrics_port_on_the_command_line(tmp_path):
    """`datapack serve --metrics-port 0` prints the bound side port, which
    answers /readyz and /metrics."""
    data = tmp_path / "data"
    data.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "datapack_server", "serve", "--data-dir", str(data), "--port", "0",
                             "--workers", "0", "--metrics-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        metrics_port = None
        deadline = time.monotonic() + scaled(30)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "the server exited"
            if line.startswith("datapack: metrics on http://127.0.0.1:"):
                metrics_port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
            if line.startswith("datapack: serving on "):
                break
        assert metrics_port
        assert http_get(metrics_port, "/readyz") == (200, "SERVING\n")
        status, text = http_get(metrics_port, "/metrics")
        assert status == 200 and "# TYPE datapack_rpc_seconds histogram" in text
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
