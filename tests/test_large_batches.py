"""Batches of any size and messages over the limit (docs/repository.md §4.2).

A server here has a small message limit (LIMIT) and its clients know it (max_message_bytes), so a
few hundred packs make a batch of several messages: append_batch sends it in parts under the
limit, each stored atomically, in order; a retry stores nothing twice; a part that fails leaves
the parts before it stored and says so. A message over the limit from a client that does not
split (a raw stub) is refused with RESOURCE_EXHAUSTED naming the limit and what to do instead,
and logged. `datapack build --target` appends any number of packs.
"""
from __future__ import annotations

import io
import json
import logging

import grpc
import pytest

from datapack_client import connect
from datapack_client.channel import channel_options
from datapack_client.client import DataPackClient
from datapack_client.errors import InvalidArgumentError, ResourceExhaustedError
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_client.wire.append_parts import split_batch
from datapack_client.wire.results import record_to_message
from datapack_client.wire.status import from_rpc_error
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.api.message_limits import RefusalLog
from datapack_server.api.servicer import DataPackServicer
from datapack_server.cli.main import main as datapack_main
from datapack_server.synthetic.episodes import (
    build_pack,
    episode_to_builder_args,
    generate_synthetic_episodes,
    resolve_baseline,
)

from .aio_bridge import AsyncClientBridge
from .conftest import STORE, make_pack

TASK = "drawer_vase"
LIMIT = 64 << 10  # make_pack records are ~0.5 KB: ~130 per message
N = 1_000


@pytest.fixture
def request_sizes(monkeypatch) -> list[int]:
    """The size of every AppendDataPacksBatch request a server built afterwards receives."""
    sizes: list[int] = []
    real = DataPackServicer.AppendDataPacksBatch

    def recording(self, request, context):
        sizes.append(request.ByteSize())
        return real(self, request, context)

    monkeypatch.setattr(DataPackServicer, "AppendDataPacksBatch", recording)
    return sizes


@pytest.fixture
def small_server(data_root, request_sizes):
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16, max_message_bytes=LIMIT))
    yield running
    running.stop(0)


@pytest.fixture(params=["embedded", "remote", "remote_async"])
def big_repo(request, data_root, request_sizes):
    """The repository API on <data_root>/phase_c: embedded (no limit), or a client of a server
    whose limit is LIMIT, told that limit."""
    (data_root / STORE).mkdir(exist_ok=True)
    if request.param == "embedded":
        r = DataPackRepo(str(data_root / STORE))
        yield r
        r.close()
        return
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16, max_message_bytes=LIMIT))
    target = f"127.0.0.1:{running.port}"
    if request.param == "remote":
        c = connect(target, store=STORE, timeout=60)
        c.max_message_bytes = LIMIT
    else:
        c = AsyncClientBridge(target, store=STORE, timeout=60)
        c.client.max_message_bytes = LIMIT
    yield c
    c.close()
    running.stop(0)


def packs(n: int, prefix: str = "big") -> list:
    return [make_pack(f"{prefix}-{i:05d}", delta_j=(i % 7) - 3.0) for i in range(n)]


def wire_size(batch: list) -> int:
    return spb.AppendDataPacksBatchRequest(store=STORE, data_packs=[record_to_message(p) for p in batch]).ByteSize()


def task_lines(data_root) -> list[dict]:
    return [json.loads(line) for line in (data_root / STORE / f"{TASK}_datapacks.jsonl").read_bytes().splitlines()]


def is_remote(repo) -> bool:
    return not isinstance(repo, DataPackRepo)


# -------------------------------------------------------------------- append_batch of any size

def test_a_batch_over_the_limit_is_sent_in_parts_and_stored_in_order(big_repo, data_root, request_sizes):
    batch = packs(N)
    assert wire_size(batch) > 4 * LIMIT  # one message would be refused, even unread (over twice the limit)
    results = big_repo.append_batch(batch)
    assert [(r.index, r.pack_id, r.status, r.sequence) for r in results] == [
        (i, p.pack_id, "created", i) for i, p in enumerate(batch)]
    assert [p["pack_id"] for p in task_lines(data_root)] == [p.pack_id for p in batch]  # file order = input order
    assert [p.pack_id for p in big_repo.load_all(TASK)] == [p.pack_id for p in batch]
    if is_remote(big_repo):
        assert len(request_sizes) >= 4 and max(request_sizes) <= LIMIT and sum(request_sizes) >= wire_size(batch)


def test_a_retried_big_batch_stores_nothing_twice(big_repo, data_root):
    batch = packs(N)
    first = big_repo.append_batch(batch)
    again = big_repo.append_batch(batch)
    assert [r.status for r in again] == ["already_present"] * N
    assert [(r.index, r.pack_id, r.sequence) for r in again] == [(r.index, r.pack_id, r.sequence) for r in first]
    lines = task_lines(data_root)
    assert len(lines) == N and len({p["pack_id"] for p in lines}) == N


def test_a_failing_part_leaves_the_parts_before_it_stored_and_a_retry_completes(big_repo, data_root):
    """Remote: the parts before the failing one are stored, it and the rest are not, the violation
    is indexed in the whole batch and the message says what is stored. Embedded: one batch,
    nothing stored. Either way the corrected batch, retried whole, stores each record once."""
    batch = packs(N)
    parts = list(split_batch(STORE, [record_to_message(p) for p in batch], LIMIT))
    assert len(parts) >= 4
    bad_index = parts[3].start + 5
    bucket, batch[bad_index].bucket = batch[bad_index].bucket, "sideways"
    with pytest.raises(InvalidArgumentError) as info:
        big_repo.append_batch(batch)
    err = info.value
    assert [(v.index, v.pack_id) for v in err.violations] == [(bad_index, batch[bad_index].pack_id)]
    stored = parts[3].start if is_remote(big_repo) else 0
    if stored:
        assert f"records 0..{stored - 1} before it are stored" in err.message
        assert [p["pack_id"] for p in task_lines(data_root)] == [p.pack_id for p in batch[:stored]]
    else:
        assert not (data_root / STORE / f"{TASK}_datapacks.jsonl").exists()
    batch[bad_index].bucket = bucket
    results = big_repo.append_batch(batch)
    assert [r.status for r in results] == ["already_present"] * stored + ["created"] * (N - stored)
    assert [r.sequence for r in results] == list(range(N))
    assert [p["pack_id"] for p in task_lines(data_root)] == [p.pack_id for p in batch]


def test_a_record_over_the_limit_on_its_own_is_refused_before_anything_is_sent(small_server, data_root,
                                                                              request_sizes):
    c = connect(f"127.0.0.1:{small_server.port}", store=STORE, timeout=60)
    c.max_message_bytes = LIMIT
    try:
        batch = packs(300)
        batch[250].semantic_tags = [f"tag-{i:06d}-" + "x" * 40 for i in range(2_000)]  # ~100 KB alone
        with pytest.raises(ResourceExhaustedError) as info:
            c.append_batch(batch)
        assert info.value.reason == "MESSAGE_TOO_LARGE" and f"{LIMIT:,} bytes" in info.value.message
        assert [(v.index, v.pack_id) for v in info.value.violations] == [(250, batch[250].pack_id)]
        assert request_sizes == [] and not (data_root / STORE).exists()
    finally:
        c.close()


# -------------------------------------------------------------------- a message over the limit

def test_an_oversize_message_is_refused_with_the_limit_named_and_logged(small_server, data_root, caplog):
    """A raw stub that does not split: RESOURCE_EXHAUSTED (MESSAGE_TOO_LARGE) naming the limit and
    the alternatives, one log line with the method, the size and the limit, nothing stored, and
    the channel still serves. Over twice the limit gRPC refuses the message itself, unread."""
    caplog.set_level(logging.WARNING, logger="datapack.server")
    channel = grpc.insecure_channel(f"127.0.0.1:{small_server.port}",
                                    options=[("grpc.max_send_message_length", -1)])
    stub = spb_grpc.DataPackServiceStub(channel)
    try:
        msgs = [record_to_message(p) for p in packs(200, "raw")]
        request = spb.AppendDataPacksBatchRequest(store=STORE, data_packs=msgs)
        size = request.ByteSize()
        assert LIMIT < size < 2 * LIMIT
        with pytest.raises(grpc.RpcError) as info:
            stub.AppendDataPacksBatch(request, timeout=60)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = info.value.details()
        assert f"{size:,} bytes" in details and f"limit of {LIMIT:,} bytes" in details
        assert "AppendDataPacks" in details and "append_batch" in details
        err = from_rpc_error(info.value)
        assert isinstance(err, ResourceExhaustedError) and err.reason == "MESSAGE_TOO_LARGE"
        logged = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(logged) == 1
        assert "AppendDataPacksBatch" in logged[0] and str(size) in logged[0] and str(LIMIT) in logged[0]
        assert not (data_root / STORE).exists()

        # On the stream: the batch before is acknowledged, the oversize one ends the stream.
        small = spb.AppendDataPacksRequest(store=STORE, data_packs=msgs[:10], batch_sequence=1)
        big = spb.AppendDataPacksRequest(store=STORE, data_packs=msgs, batch_sequence=2)
        answers = []
        with pytest.raises(grpc.RpcError) as info:
            for answer in stub.AppendDataPacks(iter([small, big]), timeout=60):
                answers.append(answer)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"limit of {LIMIT:,} bytes" in info.value.details() and "smaller batches" in info.value.details()
        assert [(a.batch_sequence, len(a.results)) for a in answers] == [(1, 10)]
        assert [p["pack_id"] for p in task_lines(data_root)] == [m.pack_id for m in msgs[:10]]

        # Over twice the limit: refused by gRPC before it is read.
        huge = spb.AppendDataPacksBatchRequest(store=STORE, data_packs=msgs * 3)
        with pytest.raises(grpc.RpcError) as info:
            stub.AppendDataPacksBatch(huge, timeout=60)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The channel still serves.
        resp = stub.AppendDataPacksBatch(spb.AppendDataPacksBatchRequest(store=STORE, data_packs=msgs[10:20]),
                                         timeout=60)
        assert len(resp.results) == 10
        assert len(task_lines(data_root)) == 20
    finally:
        channel.close()


def test_refusal_log_lines_are_rate_limited(caplog):
    caplog.set_level(logging.WARNING, logger="datapack.server")
    now = [100.0]
    refusals = RefusalLog(interval=10.0, clock=lambda: now[0])
    for _ in range(5):
        refusals.refused("/datapack.v1.DataPackService/AppendDataPacksBatch", 200_000, 131_072, "ipv4:x")
    now[0] += 10.0
    refusals.refused("/datapack.v1.DataPackService/AppendDataPacks", 300_000, 131_072, "ipv4:y")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "AppendDataPacksBatch" in lines[0] and "200000 bytes" in lines[0] and "131072" in lines[0]
    assert "AppendDataPacks from" in lines[1] and "(4 more refused since the previous line)" in lines[1]


# -------------------------------------------------------------------- datapack build --target

def test_build_target_appends_more_packs_than_a_message_holds(data_root, request_sizes, monkeypatch, capsys):
    """2,500 synthetic packs (~10 MB) through a server whose limit is 1 MiB: each pack stored once,
    the summary exact; with records of different content under two of the ids (in different
    chunks) those two are conflicts and every other pack is created."""
    limit = 1 << 20
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16, max_message_bytes=limit))
    monkeypatch.setattr(DataPackClient, "max_message_bytes", limit)
    target = f"127.0.0.1:{running.port}"
    n = 2_500
    try:
        episodes = generate_synthetic_episodes(n, seed=5)
        baseline = resolve_baseline("synthetic_nominal")
        clashing = [build_pack(episode_to_builder_args(episodes[i], i, TASK, "pybullet"), baseline)
                    for i in (7, 2_100)]
        for p in clashing:
            p.attribution.trust_score = 0.5
        with connect(target, store=STORE, timeout=60) as c:
            c.append_batch(clashing)
        capsys.readouterr()
        rc = datapack_main(["build", "--generate-synthetic", str(n), "--seed", "5", "--target", target,
                            "--store", STORE])
        out, err = capsys.readouterr()
        summary = dict(line.strip().split(": ", 1) for line in out.splitlines() if ": " in line)
        assert rc == 1  # conflicts are findings
        assert (summary["created"], summary["already_present"], summary["conflicts"]) == (str(n - 2), "0", "2")
        assert err.count("conflict: pack_id") == 2
        assert clashing[0].pack_id in err and clashing[1].pack_id in err
        lines = task_lines(data_root)
        assert len(lines) == n and len({p["pack_id"] for p in lines}) == n
        assert max(request_sizes) <= limit and sum(request_sizes) > 8 * limit
        # A re-run: every pack already_present, nothing written.
        before = (data_root / STORE / f"{TASK}_datapacks.jsonl").read_bytes()
        rc = datapack_main(["build", "--generate-synthetic", str(n), "--seed", "5", "--target", target,
                            "--store", STORE, "--quiet"])
        assert rc == 1 and (data_root / STORE / f"{TASK}_datapacks.jsonl").read_bytes() == before
    finally:
        running.stop(0)


def test_build_target_shows_its_appending_progress_on_a_terminal(server, monkeypatch):
    from datapack_server.cli.build import main as build_main

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("datapack_server.cli.build.TARGET_CHUNK", 25)
    err = Tty()
    rc = build_main(["--generate-synthetic", "60", "--target", f"127.0.0.1:{server.port}", "--store", STORE],
                    out=io.StringIO(), err=err)
    assert rc == 0, err.getvalue()
    assert "appending" in err.getvalue() and "60/60" in err.getvalue()


def test_channel_options_limit_is_the_clients_default_part_size():
    """The client splits under its own channel limit, which is the server's default limit."""
    from datapack_server.api.config import MAX_MESSAGE_BYTES as SERVER_LIMIT

    sends = dict(channel_options())["grpc.max_send_message_length"]
    assert DataPackClient.max_message_bytes == sends == SERVER_LIMIT
