"""The Node.js client (clients/node/append_and_query.js, @grpc/grpc-js loading
protos/ at run time) against a real server on port 0: every streamed batch is
acknowledged, records arrive intact, query results and statistics equal what
the Python client sees, a bad batch comes back rejected with its field
violation, re-sent records are written once, and the bearer token travels as
call metadata.

Skipped only when node or npm is missing; a missing or outdated
clients/node/node_modules is installed with `npm ci` (as `make test` does)."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from datapack_client import connect
from datapack_client.errors import NotFoundError
from datapack_server.api.app import ServerConfig, build_server

ROOT = pathlib.Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "clients" / "node"
SCRIPT = NODE_DIR / "append_and_query.js"
TASK = "drawer_vase"
TOKEN = "node-client-token-0123456789abcdef"


def _dependencies_installed() -> bool:
    """Every pinned dependency of package.json is in node_modules at its version."""
    wanted = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    for name, version in wanted.items():
        manifest = NODE_DIR / "node_modules" / name / "package.json"
        if not manifest.exists() or json.loads(manifest.read_text()).get("version") != version:
            return False
    return True


@pytest.fixture(scope="module")
def node() -> str:
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if node_bin is None or npm_bin is None:
        pytest.skip("node and npm are not installed: the Node.js client (clients/node) cannot be tested")
    if not _dependencies_installed():
        proc = subprocess.run([npm_bin, "ci", "--no-audit", "--no-fund", "--prefer-offline"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"npm ci in clients/node failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return node_bin


def run_node(node: str, target: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([node, str(SCRIPT), "--target", target, "--task", TASK, *args],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})))


def summary_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"node exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


def test_node_streams_appends_then_queries_what_python_sees(node, server, client):
    out = summary_of(run_node(node, f"127.0.0.1:{server.port}", "--store", "phase_c", "--count", "30",
                              "--batch-size", "8", "--prefix", "n1"))

    # Every batch acknowledged, in order, one CREATED result per record.
    assert out["batches_sent"] == 4 and out["problems"] == [] and out["rejections"] == []
    assert [a["batch_sequence"] for a in out["acks"]] == [1, 2, 3, 4]
    assert [len(a["statuses"]) for a in out["acks"]] == [8, 8, 8, 6]
    assert {s for a in out["acks"] for s in a["statuses"]} == {"APPEND_STATUS_CREATED"}
    assert out["append"] == {"created": 30, "already_present": 0, "rejected": 0}

    # The records as Python reads them back: built in JS, stored intact.
    stored = {dp.pack_id: dp.to_dict() for dp in client.load_all(TASK)}
    assert sorted(stored) == [f"n1-{i:04d}" for i in range(30)]
    first = stored["n1-0000"]
    assert first["skill_trace"] == [{"t": 0, "skill_id": 0, "params": {"grasp_force": 0.5}, "duration": 20},
                                    {"t": 20, "skill_id": 1, "params": {"grasp_force": 0.5}, "duration": 20},
                                    {"t": 40, "skill_id": 2, "params": {"grasp_force": 0.5}, "duration": 20}]
    assert first["condition"]["engine_type"] == "pybullet" and first["condition"]["tags"] == {"client": "node"}
    assert first["sima_annotation"]["instruction"] == "open the drawer without touching the vase"
    assert first["created_at"] == "2026-01-01T00:00:00.000Z"
    negatives = [d for d in stored.values() if d["bucket"] == "negative"]
    assert negatives and all(d["attribution"]["delta_J"] < 0 for d in negatives)
    assert all(d["counterfactual_plan"] == {"skills": [0, 1, 2, 3, 4, 5], "source": "scripted_teacher"}
               for d in negatives)

    # The query: same filter, sort and limit through the Python client.
    q = out["query"]
    assert q["filter"] == {"bucket": "positive", "min_trust": 0.6} and q["sort_by"] == "delta_j"
    expected = client.query(TASK, bucket="positive", min_trust=0.6, sort_by="delta_j", limit=10)
    assert len(expected) == 10
    assert [(p["pack_id"], p["delta_j"], p["trust_score"], p["engine_type"]) for p in q["packs"]] == [
        (dp.pack_id, dp.attribution.delta_J, dp.attribution.trust_score, dp.condition.engine_type)
        for dp in expected]
    deltas = [p["delta_j"] for p in q["packs"]]
    assert deltas == sorted(deltas, reverse=True)
    assert all(p["bucket"] == "positive" and p["trust_score"] >= 0.6 and p["revision"] == 1 for p in q["packs"])

    # Statistics of the whole task and of the slice, field for field.
    assert out["statistics"]["all"] == client.get_statistics(TASK)
    assert out["statistics"]["slice"] == client.get_statistics(TASK, bucket="positive", min_trust=0.6)
    assert out["statistics"]["all"]["total"] == 30
    assert out["statistics"]["all"]["negative"] == len(negatives)
    assert out["statistics"]["all"]["engine_types"] == {"pybullet": 10, "isaac": 10, "ue5": 10}


def test_node_resent_records_are_written_once(node, server, client):
    target = f"127.0.0.1:{server.port}"
    args = ("--count", "12", "--batch-size", "5", "--prefix", "again")
    first = summary_of(run_node(node, target, *args, "--writer-id", "rig-1"))
    assert first["append"] == {"created": 12, "already_present": 0, "rejected": 0}
    # The same writer re-sending its batches (a retry after a lost connection):
    # each batch is recognised and answered with its first acknowledgement.
    replay = summary_of(run_node(node, target, *args, "--writer-id", "rig-1"))
    assert replay["acks"] == first["acks"] and replay["append"] == first["append"]
    # Another writer sending the same records: each is already present.
    other = summary_of(run_node(node, target, *args, "--writer-id", "rig-2"))
    assert other["append"] == {"created": 0, "already_present": 12, "rejected": 0}
    assert other["statistics"]["all"] == first["statistics"]["all"] == client.get_statistics(TASK)
    assert client.get_statistics(TASK)["total"] == len(client.load_all(TASK)) == 12


def test_node_rejected_batch_carries_the_field_violation(node, server, client):
    out = summary_of(run_node(node, f"127.0.0.1:{server.port}", "--count", "5", "--prefix", "rej",
                              "--invalid-batch"))
    assert out["batches_sent"] == 2 and out["problems"] == []
    valid, rejected = out["acks"]
    assert valid == {"batch_sequence": 1, "statuses": ["APPEND_STATUS_CREATED"] * 5, "rejected": False}
    assert rejected == {"batch_sequence": 2, "statuses": ["APPEND_STATUS_REJECTED"] * 2, "rejected": True}
    [rejection] = out["rejections"]
    assert rejection["batch_sequence"] == 2 and rejection["code"] == "INVALID_ARGUMENT"
    assert {"index": 1, "pack_id": "rej-invalid-batch-0002", "field": "counterfactual_plan",
            "reason": "COUNTERFACTUAL_REQUIRED"} in rejection["violations"]
    # The batch is atomic: its valid record was not written either, and the stream went on.
    for pack_id in ("rej-invalid-batch-0001", "rej-invalid-batch-0002"):
        with pytest.raises(NotFoundError):
            client.get(TASK, pack_id)
    assert out["statistics"]["all"]["total"] == client.get_statistics(TASK)["total"] == 5


def test_node_sends_the_bearer_token_as_call_metadata(node, data_root, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"read-write {TOKEN} node-ci\n")
    tokens.chmod(0o600)
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16, token_file=str(tokens)))
    try:
        target = f"127.0.0.1:{running.port}"
        refused = run_node(node, target, "--count", "3", "--prefix", "tok", env={"DATAPACK_TOKEN": ""})
        assert refused.returncode == 2 and refused.stdout == ""
        assert json.loads(refused.stderr)["error"] == "UNAUTHENTICATED"

        token_file = tmp_path / "node-token"
        token_file.write_text(TOKEN + "\n")
        for how, env_token in ((["--token-file", str(token_file)], ""), ([], TOKEN)):
            out = summary_of(run_node(node, target, "--count", "3", "--prefix", "tok", *how,
                                      env={"DATAPACK_TOKEN": env_token}))
            assert out["statistics"]["all"]["total"] == 3
        with connect(target, "phase_c", token=TOKEN, timeout=10) as c:
            assert sorted(dp.pack_id for dp in c.load_all(TASK)) == ["tok-0000", "tok-0001", "tok-0002"]
    finally:
        running.stop(0)


def test_node_usage_error_exits_1(node):
    proc = subprocess.run([node, str(SCRIPT), "--count", "0"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "usage:" in proc.stderr and proc.stdout == ""
    proc = subprocess.run([node, str(SCRIPT), "--no-such-option"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "usage:" in proc.stderr
