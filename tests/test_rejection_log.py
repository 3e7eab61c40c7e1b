"""The server logs each refused append batch once (observability/rejections.py):
a WARNING with the request id, store, task, record count and first reason,
rate-limited so a client sending only bad batches cannot flood the log, and
nothing on the accepted path."""
from __future__ import annotations

import functools
import io
import json
import logging

import grpc
import pytest

from datapack_client.client import record_to_message
from datapack_client.errors import AlreadyExistsError, InvalidArgumentError
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_server.api import servicer as servicer_module
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.observability import logs
from datapack_server.observability.rejections import RejectionLog

from .conftest import STORE, make_pack


@pytest.fixture
def json_log():
    """JSON lines of the `datapack` loggers, as the server's handler writes them."""
    stream = io.StringIO()
    handler = logs.make_handler("json", stream)
    logger = logging.getLogger("datapack")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def refusals(stream: io.StringIO) -> list[dict]:
    return [r for r in map(json.loads, stream.getvalue().splitlines()) if " refused: " in r["message"]]


def bad_pack(pack_id: str, task: str = "drawer_vase"):
    dp = make_pack(pack_id, task_name=task)
    dp.attribution.trust_score = "high"  # travels verbatim, refused by the server
    return dp


def test_a_refused_batch_is_one_warning_with_store_task_count_and_reason(client, json_log):
    with pytest.raises(InvalidArgumentError):
        client.append_batch([make_pack("g0"), bad_pack("b1", task="dishwashing"), bad_pack("b2")])
    (line,) = refusals(json_log)
    assert line["level"] == "WARNING" and line["logger"] == "datapack.server" and line["request_id"]
    assert line["message"].startswith(
        "AppendDataPacksBatch refused: store='phase_c' task='dishwashing' records=3 INVALID_ARGUMENT FIELD_TYPE "
        "on attribution.trust_score of pack 'b1': ")
    assert line["message"].endswith("(+1 more violation(s))")


def test_the_request_id_is_the_one_the_client_got(server, json_log):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        with pytest.raises(grpc.RpcError) as exc:
            spb_grpc.DataPackServiceStub(ch).AppendDataPacksBatch(
                spb.AppendDataPacksBatchRequest(store=STORE, data_packs=[record_to_message(bad_pack("r0"))]),
                timeout=30, metadata=[("x-request-id", "sim-7:batch-12")])
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(exc.value.trailing_metadata())["x-request-id"] == "sim-7:batch-12"
    assert [r["request_id"] for r in refusals(json_log)] == ["sim-7:batch-12"]


def test_streamed_refusals_and_conflicts_are_logged_and_accepted_batches_are_not(client, json_log):
    with client.stream_appender(batch_size=2) as s:
        for i in range(6):
            s.append(make_pack(f"s{i}"))
    assert refusals(json_log) == []  # accepted: nothing logged
    with pytest.raises(AlreadyExistsError):
        client.append(make_pack("s1", delta_j=5.0))  # same id, other content
    with pytest.raises(InvalidArgumentError):
        with client.stream_appender(batch_size=2, linger=3600) as s:  # one batch of both, however slow
            s.append(make_pack("t0"))
            s.append(bad_pack("t1"))
    conflict, streamed = refusals(json_log)
    assert conflict["message"].startswith("AppendDataPacksBatch refused: store='phase_c' task='drawer_vase' "
                                          "records=1 ALREADY_EXISTS PACK_ID_CONFLICT")
    assert "'s1'" in conflict["message"]
    assert streamed["message"].startswith("AppendDataPacks refused: store='phase_c' task='drawer_vase' records=2 "
                                          "INVALID_ARGUMENT FIELD_TYPE on attribution.trust_score of pack 't1'")


def test_the_accepted_path_never_reaches_the_rejection_log(client, monkeypatch):
    calls = []
    monkeypatch.setattr(RejectionLog, "refused", lambda self, *a: calls.append(a))
    monkeypatch.setattr(servicer_module, "refused_task", lambda *a: calls.append(a))
    client.append_batch([make_pack(f"a{i}") for i in range(50)])
    with client.stream_appender(batch_size=10) as s:
        for i in range(50):
            s.append(make_pack(f"st{i}"))
    assert calls == []


def test_a_flood_of_refused_batches_is_rate_limited(data_root, json_log, monkeypatch):
    """200 refused batches on one stream: `burst` lines (a window that does
    not end during the test), each a valid record, and the server answers
    every batch."""
    monkeypatch.setattr(servicer_module, "RejectionLog", functools.partial(RejectionLog, burst=5, period=3600))
    running = build_server(ServerConfig(data_dir=str(data_root), port=0))
    try:
        bad = record_to_message(bad_pack("x"))
        reqs = (spb.AppendDataPacksRequest(store=STORE, batch_sequence=n, data_packs=[bad]) for n in range(1, 201))
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
            out = list(spb_grpc.DataPackServiceStub(ch).AppendDataPacks(reqs, timeout=300))
    finally:
        running.stop(0)
    assert len(out) == 200 and all(r.rejection.code == "INVALID_ARGUMENT" for r in out)
    lines = refusals(json_log)
    assert len(lines) == 5 and all(r["message"].startswith("AppendDataPacks refused: ") for r in lines)


def test_the_limit_counts_what_it_skipped_and_reopens_after_the_period():
    now = [0.0]
    stream = io.StringIO()
    logger = logging.getLogger("datapack.test_rejection_log")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        limit = RejectionLog(burst=2, period=10.0, clock=lambda: now[0], logger=logger)
        err = InvalidArgumentError("bad", "FIELD_TYPE")
        assert [limit.refused("AppendDataPacks", "s", "t", 1, err) for _ in range(5)] == [True, True, False, False,
                                                                                          False]
        assert limit.unlogged == 3
        now[0] = 9.9
        assert not limit.refused("AppendDataPacks", "s", "t", 1, err)
        now[0] = 10.0
        assert limit.refused("AppendDataPacks", "s", None, 1, err)
        assert limit.unlogged == 0
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[2] == ("AppendDataPacks refused: store='s' task=(unknown) records=1 INVALID_ARGUMENT FIELD_TYPE: "
                        "bad; 4 earlier refused batch(es) not logged (rate limit)")


def test_hostile_names_are_cut_in_the_line(client, json_log):
    with pytest.raises(InvalidArgumentError):
        client.append(bad_pack("h0", task="t" * 5000))
    (line,) = refusals(json_log)
    assert len(line["message"]) < 1000 and "'" + "t" * 160 + "'..." in line["message"]
