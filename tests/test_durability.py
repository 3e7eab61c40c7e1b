"""Crash safety: torn tails, corrupt lines, kill -9 mid-stream, one server per
data directory, graceful shutdown, visibility across processes."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from datapack_client import connect
from datapack_client.errors import FailedPreconditionError
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server

from .conftest import STORE, ServerProcess, copy_fixture, make_pack, scaled

TASK_FILE = "drawer_vase_datapacks.jsonl"


def _lines(path):
    return path.read_bytes().split(b"\n")


def test_torn_tail_never_served_then_quarantined_on_next_append(data_root, server, client):
    path = copy_fixture(data_root, TASK_FILE)
    whole = path.read_bytes()
    first = whole.split(b"\n")[0]
    fragment = first[: len(first) // 2]
    with open(path, "ab") as f:
        f.write(fragment)  # a crash mid-write
    assert client.get_statistics("drawer_vase")["total"] == 600  # readable, fragment ignored
    assert path.read_bytes() == whole + fragment  # readers never modify the file
    res = client.append(make_pack("after-crash"))
    assert res.status == "created"
    data = path.read_bytes()
    assert data.startswith(whole) and data.endswith(b"\n")
    assert fragment not in data[len(whole):]
    assert client.get("drawer_vase", "after-crash").pack_id == "after-crash"
    assert client.get_statistics("drawer_vase")["total"] == 601
    q = data_root / STORE / ".datapack" / "quarantine" / "drawer_vase_datapacks.quarantine.jsonl"
    entry = json.loads(q.read_text().splitlines()[-1])
    assert list(entry) == ["file", "line", "byte_offset", "reason", "detected_at", "sha256", "raw_base64"]
    assert entry["reason"] == "TORN_TAIL" and entry["byte_offset"] == len(whole) and entry["line"] == 601
    assert base64.b64decode(entry["raw_base64"]) == fragment


@pytest.mark.parametrize("cut", [1, 7, 100, 2000, -1])
def test_torn_tail_at_various_offsets(tmp_path, cut):
    store = tmp_path / "s"
    store.mkdir()
    packs = [make_pack(f"t{i}") for i in range(3)]
    DataPackRepo(str(store)).append_batch(packs)
    path = store / TASK_FILE
    good = path.read_bytes()
    extra = make_pack("t3").to_json().encode()
    cut = len(extra) - 1 if cut == -1 else min(cut, len(extra) - 1)
    path.write_bytes(good + extra[:cut])
    repo = DataPackRepo(str(store))
    assert [p.pack_id for p in repo.load_all("drawer_vase")] == ["t0", "t1", "t2"]
    repo.append(make_pack("t4"))
    assert [p.pack_id for p in repo.load_all("drawer_vase")] == ["t0", "t1", "t2", "t4"]
    assert path.read_bytes().startswith(good) and path.read_bytes().endswith(b"\n")


def test_corrupt_middle_line_is_skipped_and_quarantined(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    repo = DataPackRepo(str(store))
    repo.append_batch([make_pack(f"c{i}") for i in range(5)])
    path = store / TASK_FILE
    lines = _lines(path)
    lines[2] = lines[2][:40] + b"#garbage#" + lines[2][60:]
    path.write_bytes(b"\n".join(lines))
    fresh = DataPackRepo(str(store))
    assert [p.pack_id for p in fresh.load_all("drawer_vase")] == ["c0", "c1", "c3", "c4"]
    fresh.append(make_pack("c5"))  # the writer copies the corrupt line to quarantine, leaves it in place
    assert _lines(path)[2].startswith(lines[2][:40])
    q = store / ".datapack" / "quarantine" / "drawer_vase_datapacks.quarantine.jsonl"
    entries = [json.loads(x) for x in q.read_text().splitlines()]
    # The store wrote the file, so its checksum sidecar names the damage precisely.
    assert [(e["line"], e["reason"]) for e in entries] == [(3, "CHECKSUM_MISMATCH")]
    fresh.append(make_pack("c6"))  # copied only once
    assert len(q.read_text().splitlines()) == 1
    assert [p.pack_id for p in fresh.load_all("drawer_vase")] == ["c0", "c1", "c3", "c4", "c5", "c6"]


def test_other_process_appends_are_visible_on_next_read(data_root, server, client):
    client.append(make_pack("from-server"))
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from datapack_server import DataPackRepo\n"
        "from tests.conftest import make_pack\n"
        "r = DataPackRepo(%r)\n"
        "assert r.get('drawer_vase', 'from-server').pack_id == 'from-server'\n"
        "r.append(make_pack('from-embedded'))\n" % (str(os.path.dirname(os.path.dirname(__file__))),
                                                      str(data_root / STORE)))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert client.get("drawer_vase", "from-embedded").pack_id == "from-embedded"
    assert client.get_statistics("drawer_vase")["total"] == 2


def test_second_server_on_same_data_dir_is_refused(data_root, server):
    with pytest.raises(FailedPreconditionError) as exc:
        build_server(ServerConfig(data_dir=str(data_root), port=0))
    assert exc.value.reason == "DATA_DIR_LOCKED"
    proc = subprocess.run([sys.executable, "-m", "datapack_server", "serve", "--data-dir", str(data_root),
                           "--port", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "another datapack server" in proc.stderr


def test_kill_9_mid_stream_loses_no_acknowledged_pack(tmp_path):
    """4 writer processes x 1000 packs (streamed and unary), the server
    SIGKILLed 3 times mid-stream and restarted on the same port: every
    acknowledged pack is stored exactly once and no partial line is visible,
    checked after each kill and at the end. The long variant (8 x 5000, 20
    kills, the server's worker pool) is `python -m reliability.kill9`."""
    from reliability.kill9 import run
    figures = run(writers=4, packs=1000, kills=3, seed=7, work=str(tmp_path), out=lambda *_: None,
                  server_args=("--workers", "0"))
    assert figures["kills"] == 3
    assert figures["acknowledged"] == figures["stored"] == 4000
    assert figures["lost"] == figures["duplicated"] == figures["partial_lines_visible"] == 0
    assert figures["unknown_packs"] == figures["writer_failures"] == 0
    assert figures["ok"]


def test_sigterm_stops_gracefully_and_keeps_everything(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    proc = ServerProcess(data).start()
    repo = connect(proc.target, store=STORE, timeout=10)
    with repo.stream_appender(batch_size=20) as s:
        for i in range(200):
            s.append(make_pack(f"g{i}"))
    assert len(s.results) == 200
    channel = grpc.insecure_channel(proc.target)
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(service="datapack.v1.DataPackService"),
                        timeout=scaled(10)).status == health_pb2.HealthCheckResponse.SERVING
    assert proc.terminate(30) == 0
    channel.close()
    stored = DataPackRepo(str(data / STORE)).get_statistics("drawer_vase")
    assert stored["total"] == 200


def test_worker_processes_exit_when_the_server_is_killed(tmp_path):
    """kill -9 of a server leaves no worker or forkserver process behind."""
    import psutil
    data = tmp_path / "data"
    data.mkdir()
    proc = ServerProcess(data, "--workers", "2").start()
    repo = connect(proc.target, store=STORE, timeout=10)
    repo.append_batch([make_pack(f"k{i}") for i in range(64)])  # the pool has prepared a batch
    children = psutil.Process(proc.proc.pid).children(recursive=True)
    assert len(children) >= 2
    proc.kill()
    gone, alive = psutil.wait_procs(children, timeout=scaled(10))
    for p in alive:
        p.kill()
    assert not alive, [p.cmdline() for p in alive]
