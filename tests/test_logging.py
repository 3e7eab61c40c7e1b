"""Structured logs with request ids (logs.py) and the optional OpenTelemetry
tracing (tracing.py): JSON lines that parse, carry the id the client got in
its metadata, and cannot be forged; tracing asked for but not installed is
one warning."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time

import grpc
import pytest
from .conftest import STORE, scaled
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_server.observability import logs
from datapack_server.observability import tracing
from datapack_server.service import facade as service_module
from datapack_server.api.app import ServerConfig, build_server

TOKEN = "rw-token-0123456789abcdef"
GENERATED = re.compile(r"[0-9a-f]{16}\Z")


@pytest.fixture
def json_log():
    """JSON log lines of the `datapack` loggers, as the server's handler writes them."""
    stream = io.StringIO()
    handler = logs.make_handler("json", stream)
    logger = logging.getLogger("datapack")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.fixture
def secured(data_root, tmp_path):
    token_file = tmp_path / "tokens"
    token_file.write_text(f"read-write {TOKEN} tests\n")
    os.chmod(token_file, 0o600)
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, token_file=str(token_file)))
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield running, spb_grpc.DataPackServiceStub(channel)
    channel.close()
    running.stop(0)


def lines_of(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def rid_of(metadata) -> str:
    ids = [v for k, v in metadata if k == logs.REQUEST_ID_HEADER]
    assert len(ids) == 1, metadata
    return ids[0]


def test_denied_call_logs_the_request_id_the_client_received(secured, json_log):
    _running, stub = secured
    with pytest.raises(grpc.RpcError) as denied:
        stub.ListTasks(spb.ListTasksRequest(store=STORE), timeout=10)
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    rid = rid_of(denied.value.trailing_metadata())
    assert GENERATED.match(rid)
    records = [r for r in lines_of(json_log) if r["logger"] == "datapack.security"]
    assert len(records) == 1
    r = records[0]
    assert r["level"] == "WARNING" and r["request_id"] == rid
    assert r["message"].startswith("denied /datapack.v1.DataPackService/ListTasks (TOKEN_MISSING")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"])


def test_client_request_ids_are_kept_cut_or_replaced(secured, json_log, data_root):
    _running, stub = secured
    (data_root / STORE).mkdir()  # ListTasks of an existing store answers (a missing one: NOT_FOUND)
    auth = ("authorization", "Bearer " + TOKEN)
    _, call = stub.ListTasks.with_call(spb.ListTasksRequest(store=STORE), timeout=10,
                                       metadata=[auth, ("x-request-id", "wf-42:step.7")])
    assert rid_of(call.trailing_metadata()) == "wf-42:step.7"
    _, call = stub.ListTasks.with_call(spb.ListTasksRequest(store=STORE), timeout=10,
                                       metadata=[auth, ("x-request-id", "a" * 100)])
    assert rid_of(call.trailing_metadata()) == "a" * 64
    for hostile in ("two words", "x\"}{\"level\":\"ERROR", "", "id\\with/slash"):
        _, call = stub.ListTasks.with_call(spb.ListTasksRequest(store=STORE), timeout=10,
                                           metadata=[auth, ("x-request-id", hostile)])
        assert GENERATED.match(rid_of(call.trailing_metadata())), hostile
    # Each call has its own id; nothing was logged without one (no handler ran outside an RPC).
    with pytest.raises(grpc.RpcError):
        stub.ListTasks(spb.ListTasksRequest(store=STORE), timeout=10, metadata=[("x-request-id", "denied-1")])
    assert [r["request_id"] for r in lines_of(json_log) if r["logger"] == "datapack.security"] == ["denied-1"]


def test_unexpected_error_is_one_json_line_with_its_traceback(secured, json_log, monkeypatch):
    """An INTERNAL error's traceback stays inside its record, whatever the
    exception text holds (newlines, a forged record, terminal escapes)."""
    _running, stub = secured

    def broken(self, store):
        raise RuntimeError('boom\n{"level": "ERROR", "message": "forged"}\x1b[2J\u202e')

    monkeypatch.setattr(service_module.DataPackService, "list_tasks", broken)
    with pytest.raises(grpc.RpcError) as failed:
        stub.ListTasks(spb.ListTasksRequest(store=STORE), timeout=10,
                       metadata=[("authorization", "Bearer " + TOKEN)])
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    rid = rid_of(failed.value.trailing_metadata())
    text = json_log.getvalue()
    assert "\x1b" not in text and "\u202e" not in text
    records = lines_of(json_log)
    assert len(records) == len(text.splitlines()) == 1
    r = records[0]
    assert (r["level"], r["logger"], r["message"], r["request_id"]) == ("ERROR", "datapack.server", "unexpected error",
                                                                         rid)
    assert "RuntimeError: boom\n" in r["exception"] and "\x1b[2J\u202e" in r["exception"]


def test_text_format_keeps_the_safe_line_and_adds_the_request_id():
    stream = io.StringIO()
    handler = logs.make_handler("text", stream)
    logger = logging.getLogger("datapack.test_logging")
    logger.addHandler(handler)
    token = logs.request_id.set("abc123")
    try:
        logger.warning("task %s refused", "x\r\nERROR datapack.server: forged")
    finally:
        logs.request_id.reset(token)
        logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING datapack\.test_logging: task "
                        r"x\\r\\nERROR datapack\.server: forged refused request_id=abc123", line), line


def test_auto_format_is_json_unless_stderr_is_a_terminal():
    assert logs.resolve_format("auto", io.StringIO()) == "json"
    with open(os.devnull, "w") as devnull:
        assert logs.resolve_format("auto", devnull) == "json"
    assert logs.resolve_format("text", io.StringIO()) == "text"
    with pytest.raises(ValueError):
        logs.resolve_format("xml")


def test_serve_logs_json_lines_when_stderr_is_a_pipe(tmp_path):
    """`datapack serve` with stderr to a pipe (the default `--log-format auto`)
    writes JSON lines: a denied call's line carries the id the client got."""
    data = tmp_path / "data"
    data.mkdir()
    token_file = tmp_path / "tokens"
    token_file.write_text(f"read-write {TOKEN}\n")
    os.chmod(token_file, 0o600)
    proc = subprocess.Popen([sys.executable, "-m", "datapack_server", "serve", "--data-dir", str(data), "--port", "0",
                             "--workers", "0", "--token-file", str(token_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.monotonic() + scaled(30)
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "the server exited"
            if line.startswith("datapack: serving on "):
                port = int(line.split()[3].rsplit(":", 1)[1])
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.RpcError) as denied:
                spb_grpc.DataPackServiceStub(ch).ListTasks(spb.ListTasksRequest(store=STORE), timeout=10)
        rid = rid_of(denied.value.trailing_metadata())
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=scaled(30))
    assert proc.returncode == 0
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    denials = [r for r in records if r["logger"] == "datapack.security"]
    assert len(denials) == 1 and denials[0]["request_id"] == rid and denials[0]["level"] == "WARNING"


def test_tracing_only_when_requested():
    assert not tracing.requested({})
    assert not tracing.requested({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    assert tracing.requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert tracing.requested({"OTEL_TRACES_EXPORTER": "console"})
    assert tracing.interceptor(("/x/",), {}) is None


def test_tracing_requested_without_the_sdk_is_one_warning(data_root, monkeypatch, caplog):
    """OTEL variables set, OpenTelemetry not importable: the server starts
    untraced and says why once."""
    for name in [m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import opentelemetry -> ImportError
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    (data_root / STORE).mkdir()  # ListTasks of an existing store answers (a missing one: NOT_FOUND)
    with caplog.at_level(logging.WARNING, logger="datapack.tracing"):
        running = build_server(ServerConfig(data_dir=str(data_root), port=0))
        try:
            assert running.tracer is None
            with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
                resp = spb_grpc.DataPackServiceStub(ch).ListTasks(spb.ListTasksRequest(store=STORE), timeout=10)
            assert list(resp.task_names) == []
        finally:
            running.stop(0)
    warnings = [r for r in caplog.records if r.name == "datapack.tracing"]
    assert len(warnings) == 1
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in warnings[0].getMessage()
    assert "pip install opentelemetry-sdk opentelemetry-exporter-otlp" in warnings[0].getMessage()
