"""Exactly-once appends across reconnects and restarts: a writer that re-sends
what it already had acknowledged (writer_id + batch_sequence) gets the
original acknowledgement back and nothing is stored twice; after a restart
(the server's memo of recent batches is gone) the store itself recognises the
records (ALREADY_PRESENT, same sequence)."""
from __future__ import annotations

import grpc

from datapack_client.client import record_to_message
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server

from .conftest import STORE, make_pack

TASK_FILE = "drawer_vase_datapacks.jsonl"
ROUNDS = 20
BATCHES = 10  # per round, and re-sent after each reconnect
PER_BATCH = 10


def _stream(port: int, requests: list) -> list:
    """One AppendDataPacks stream on a fresh channel (a reconnect)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return list(spb_grpc.DataPackServiceStub(ch).AppendDataPacks(iter(requests), timeout=30))


def _key(resp) -> list:
    return [(r.index, r.pack_id, r.task_name, r.status, r.revision, r.sequence) for r in resp.results]


def test_resent_batches_after_reconnects_and_a_restart_are_stored_once(data_root):
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16))
    try:
        original: dict[int, list] = {}
        requests: dict[int, spb.AppendDataPacksRequest] = {}
        seq = 0
        duplicates = 0
        for rnd in range(ROUNDS):
            batch_reqs = []
            for _ in range(BATCHES):
                seq += 1
                msgs = [record_to_message(make_pack(f"x{seq}-{i}")) for i in range(PER_BATCH)]
                batch_reqs.append(spb.AppendDataPacksRequest(store=STORE, writer_id="sim-1", batch_sequence=seq,
                                                             data_packs=msgs))
            for resp in _stream(running.port, batch_reqs):
                assert not resp.HasField("rejection")
                original[resp.batch_sequence] = _key(resp)
                assert {r.status for r in resp.results} == {spb.APPEND_STATUS_CREATED}
            requests.update((r.batch_sequence, r) for r in batch_reqs)
            # Reconnect and re-send the last 100 acknowledged packs.
            again = _stream(running.port, batch_reqs)
            duplicates += sum(len(r.data_packs) for r in batch_reqs)
            assert [r.batch_sequence for r in again] == [r.batch_sequence for r in batch_reqs]
            for resp in again:
                assert _key(resp) == original[resp.batch_sequence], rnd  # the original acknowledgement
        assert duplicates == ROUNDS * BATCHES * PER_BATCH == 2000
        path = data_root / STORE / TASK_FILE
        size = path.stat().st_size
        assert path.read_bytes().count(b"\n") == 2000  # no line was written twice
    finally:
        running.stop(0)

    # A restart forgets the acknowledgements; the store still knows the records.
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16))
    try:
        last = [requests[s] for s in range(seq - BATCHES + 1, seq + 1)]
        again = _stream(running.port, last)
        for resp in again:
            orig = original[resp.batch_sequence]
            got = _key(resp)
            assert [g[3] for g in got] == [spb.APPEND_STATUS_ALREADY_PRESENT] * PER_BATCH
            # same pack, task, revision and append-order sequence as first acknowledged
            assert [(g[0], g[1], g[2], g[4], g[5]) for g in got] == [(o[0], o[1], o[2], o[4], o[5]) for o in orig]
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:  # unary, no writer id
            out = spb_grpc.DataPackServiceStub(ch).AppendDataPacksBatch(spb.AppendDataPacksBatchRequest(
                store=STORE, data_packs=list(requests[1].data_packs)), timeout=30)
        assert {r.status for r in out.results} == {spb.APPEND_STATUS_ALREADY_PRESENT}
        assert [r.sequence for r in out.results] == [r[5] for r in original[1]]
        assert path.stat().st_size == size
    finally:
        running.stop(0)
    stored = [p.pack_id for p in DataPackRepo(str(data_root / STORE)).load_all("drawer_vase")]
    assert len(stored) == len(set(stored)) == 2000


def test_stream_appender_resends_after_a_server_restart_without_duplicates(data_root):
    """The public StreamAppender: a server stopped while batches are in flight
    and started again on the same port; the appender reconnects, re-sends what
    was not acknowledged, and every pack is stored exactly once."""
    import threading
    from datapack_client import connect
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16))
    port = running.port
    repo = connect(f"127.0.0.1:{port}", store=STORE, timeout=10)
    s = repo.stream_appender(batch_size=25, max_in_flight=4, reconnect_timeout=30)
    restarted = threading.Event()
    holder = {}

    def restart():
        running.stop(0)
        holder["server"] = build_server(ServerConfig(data_dir=str(data_root), port=port, max_workers=16))
        restarted.set()

    try:
        for i in range(1500):
            s.append(make_pack(f"s{i}"))
            if i == 700:
                threading.Thread(target=restart).start()
        assert restarted.wait(30)
        s.close()
        assert not s.errors
        assert s.reconnects >= 1
        ids = [r.pack_id for r in s.results]
        assert sorted(ids) == sorted(f"s{i}" for i in range(1500))
    finally:
        repo.close()
        if "server" in holder:
            holder["server"].stop(0)
        else:
            running.stop(0)
    stored = [p.pack_id for p in DataPackRepo(str(data_root / STORE)).load_all("drawer_vase")]
    assert len(stored) == len(set(stored)) == 1500
