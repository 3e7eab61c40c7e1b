"""The streamed appender (client/datapack_client/appender.py) over the wire:
per-pack futures and callbacks, every rejection reported, bounded memory, a
prompt and clear failure against a stopped server, no giving up on a server
that accepts connections, no thread growth over reconnects, and the short
kill -9 check of writer processes (the long one: python -m reliability.kill9_writers)."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from datapack_client import InvalidArgumentError, UnavailableError, connect
from datapack_client.channel import reconnect_options
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server

from .conftest import STORE, ServerProcess, hold_warm_up, make_pack, scaled

TASK = "drawer_vase"


@pytest.fixture
def thread_errors(monkeypatch):
    """Exceptions that escaped any thread during the test (none may)."""
    seen: list = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


def invalid_pack(pack_id: str):
    dp = make_pack(pack_id)
    dp.attribution.trust_score = "high"  # travels verbatim, refused by the server (FIELD_TYPE)
    return dp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_append_returns_a_future_per_pack_and_calls_on_ack(client, thread_errors):
    acks = []
    packs = [make_pack(f"f{i}") for i in range(10)]
    with client.stream_appender(batch_size=4, on_ack=acks.append) as s:
        futures = [s.append(p) for p in packs]
    results = [f.result(timeout=0) for f in futures]  # resolved before the with block ends
    assert [r.pack_id for r in results] == [p.pack_id for p in packs]
    assert {r.status for r in results} == {"created"} and len({r.sequence for r in results}) == 10
    assert sorted(r.pack_id for r in acks) == sorted(p.pack_id for p in packs)
    assert s.counts == {"created": 10, "already_present": 0, "rejected": 0}
    with client.stream_appender() as again:  # the same records again: acknowledged, not stored twice
        repeat = again.append(packs[3])
    assert (repeat.result().status, repeat.result().sequence) == ("already_present", results[3].sequence)
    assert len(client.load_all(TASK)) == 10
    assert thread_errors == []


def test_every_rejection_reported_per_pack_and_all_raised_at_exit(client, thread_errors):
    """Two rejected batches of three: on_reject and the futures name each pack
    (the invalid one with its own reason, its batch mates BATCH_REJECTED), and
    leaving the with block raises one error carrying both rejections."""
    rejected = []
    batches = [[make_pack("a0"), invalid_pack("bad1"), make_pack("a2")],
               [make_pack("g0"), make_pack("g1"), make_pack("g2")],
               [invalid_pack("bad2"), make_pack("c1"), make_pack("c2")]]
    with pytest.raises(InvalidArgumentError) as exc:
        with client.stream_appender(batch_size=3, on_reject=lambda p, e: rejected.append((p, e))) as s:
            futures = [s.append(p) for batch in batches for p in batch]
    assert {v.pack_id for v in exc.value.violations} == {"bad1", "bad2"}
    assert {v.reason for v in exc.value.violations} == {"FIELD_TYPE"}
    assert "2 batches rejected" in exc.value.message
    assert len(s.errors) == 2
    by_id = {p.pack_id: e for p, e in rejected}
    assert set(by_id) == {"a0", "bad1", "a2", "bad2", "c1", "c2"}
    assert by_id["bad1"].reason == "FIELD_TYPE" and by_id["bad1"].violations[0].pack_id == "bad1"
    assert "bad1" in by_id["bad1"].message and "trust_score" in by_id["bad1"].message
    assert by_id["a0"].reason == "BATCH_REJECTED" and by_id["a0"].violations[0].pack_id == "a0"
    assert all(isinstance(e, InvalidArgumentError) for e in by_id.values())
    for f, p in zip(futures, [p for batch in batches for p in batch]):
        if p.pack_id.startswith("g"):
            assert f.result().status == "created"
        else:
            assert f.exception() == by_id[p.pack_id]
    assert s.counts == {"created": 3, "already_present": 0, "rejected": 6}
    assert sorted(p.pack_id for p in client.load_all(TASK)) == ["g0", "g1", "g2"]
    assert thread_errors == []


def test_results_keep_only_the_last_acknowledgements(client):
    with client.stream_appender(batch_size=4, keep_results=5) as s:
        for i in range(23):
            s.append(make_pack(f"k{i}"))
    assert [r.pack_id for r in s.results] == [f"k{i}" for i in range(18, 23)]
    assert s.counts["created"] == 23
    with client.stream_appender(batch_size=4, keep_results=0) as s:
        futures = [s.append(make_pack(f"z{i}")) for i in range(9)]
    assert s.results == [] and s.counts["created"] == 9 and all(f.result().status == "created" for f in futures)


def test_a_failing_callback_is_logged_and_the_appender_goes_on(client, caplog, thread_errors):
    def explode(result):
        raise RuntimeError("callback bug")

    with client.stream_appender(batch_size=2, on_ack=explode) as s:
        futures = [s.append(make_pack(f"cb{i}")) for i in range(4)]
    assert [f.result().status for f in futures] == ["created"] * 4
    assert "callback bug" in caplog.text
    assert thread_errors == []


def test_a_stream_aimed_at_a_stopped_server_fails_promptly_and_hands_back_its_packs(thread_errors):
    """Nothing listens on the port: once `connect_timeout` of failed connection
    attempts has passed, every future fails with UnavailableError
    (SERVER_UNREACHABLE, naming the target and gRPC's reason), flush/append/close
    raise it, and unacknowledged() returns the packs in order."""
    target = f"127.0.0.1:{free_port()}"
    repo = connect(target, store=STORE, timeout=5)
    try:
        s = repo.stream_appender(batch_size=2, connect_timeout=0.5)
        packs = [make_pack(f"u{i}") for i in range(3)]
        futures = [s.append(p) for p in packs]
        with pytest.raises(UnavailableError) as exc:
            s.flush(timeout=scaled(60))  # would raise reason DEADLINE if the appender had not given up by itself
        err = exc.value
        assert err.reason == "SERVER_UNREACHABLE"
        assert target in err.message and "never connected" in err.message
        assert s.fatal_error is err
        assert all(f.exception(timeout=scaled(10)) is err for f in futures)
        assert s.unacknowledged() == packs
        with pytest.raises(UnavailableError):
            s.append(make_pack("later"))
        with pytest.raises(UnavailableError):
            s.close()
    finally:
        repo.close()
    assert thread_errors == []


def test_a_server_that_accepts_connections_is_never_given_up_on(data_root, monkeypatch, thread_errors):
    """While the server loads its stores it accepts connections and refuses
    every stream with UNAVAILABLE (STARTING), here for many times the
    appender's reconnect_timeout: the appender keeps retrying, then stores
    everything once the server serves."""
    (data_root / STORE).mkdir()
    DataPackRepo(str(data_root / STORE)).append_batch([make_pack(f"r{i}") for i in range(5)])
    loading, release = hold_warm_up(monkeypatch)
    running = build_server(ServerConfig(data_dir=str(data_root), port=0), wait_ready=False)
    c = connect(f"127.0.0.1:{running.port}", store=STORE, timeout=20)
    try:
        assert loading.wait(scaled(10))
        s = c.stream_appender(batch_size=2, reconnect_timeout=0.2, connect_timeout=0.2)
        futures = [s.append(make_pack(f"k{i}")) for i in range(4)]
        # 5 refused streams take at least 0.05 + 0.1 + 0.2 + 0.4 s (the appender's pause
        # between them): over three times reconnect_timeout without an answer.
        deadline = time.monotonic() + scaled(30)
        while time.monotonic() < deadline and s.reconnects < 5 and s.fatal_error is None:
            time.sleep(0.05)
        assert s.reconnects >= 5  # streams were refused and re-opened ...
        assert s.fatal_error is None and not any(f.done() for f in futures)  # ... without giving up
        release.set()
        s.flush(timeout=scaled(30))
        assert [f.result().status for f in futures] == ["created"] * 4
        s.close()
    finally:
        release.set()
        c.close()
        running.stop(0)
    assert thread_errors == []


def test_reconnects_after_kill_9_add_no_threads(data_root, thread_errors):
    """A server process SIGKILLed and restarted on its port 6 times under an
    open appender: each time the unacknowledged packs are re-sent and
    acknowledged, and the process's thread count comes back to what it was
    after the first connection (one appender thread, one sender per open stream)."""
    proc = ServerProcess(data_root).start()
    port = proc.port
    repo = connect(proc.target, store=STORE, timeout=10)
    try:
        s = repo.stream_appender(batch_size=5, reconnect_timeout=scaled(60))
        for i in range(5):
            s.append(make_pack(f"t0-{i}"))
        s.flush(timeout=scaled(30))
        baseline = threading.active_count()
        for k in range(1, 7):
            proc.kill()
            futures = [s.append(make_pack(f"t{k}-{i}")) for i in range(5)]  # sent while the server is down
            proc.start_on(port)
            s.flush(timeout=scaled(60))
            assert [f.result().status for f in futures] == ["created"] * 5
        assert s.reconnects >= 6
        deadline = time.monotonic() + scaled(10)  # gRPC's connectivity callbacks run on short-lived threads
        while threading.active_count() > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threading.active_count() <= baseline
        s.close()
    finally:
        repo.close()
        proc.kill()
    stored = [p.pack_id for p in DataPackRepo(str(data_root / STORE)).load_all(TASK)]
    assert len(stored) == len(set(stored)) == 35
    assert thread_errors == []


def test_kill_9_of_the_server_under_streaming_writer_processes(tmp_path):
    """The short variant of reliability/kill9_writers.py: 3 writer processes
    streaming appends, the server SIGKILLed 3 times after 1 s up-windows and
    restarted on the same port: no writer error, nothing acknowledged lost,
    nothing stored twice, every appended pack acknowledged, and every writer
    acknowledged again after the last restart. (The long run also bounds the
    serving time between acknowledgements, which needs an unloaded clock.)"""
    from reliability.kill9_writers import run
    figures = run(writers=3, kills=3, up=1.0, rate=100.0, work=str(tmp_path), out=lambda *_: None)
    assert figures["writer_errors"] == 0, figures.get("errors")
    assert figures["lost"] == figures["duplicated"] == figures["unacknowledged"] == 0
    assert figures["rejections"] == figures["partial_lines_visible"] == figures["unknown_packs"] == 0
    assert figures["appended"] == figures["acknowledged"] == figures["stored"] > 0
    assert figures["writers_acked_in_last_window"] == 3


def test_reconnect_backoff_is_bounded_and_settable(server):
    options = dict(reconnect_options(1.0))
    # gRPC adds up to 20 % jitter: the bound holds with it.
    assert options["grpc.max_reconnect_backoff_ms"] * 1.2 <= 1000
    assert options["grpc.initial_reconnect_backoff_ms"] <= options["grpc.max_reconnect_backoff_ms"]
    assert dict(reconnect_options(0.2))["grpc.max_reconnect_backoff_ms"] * 1.2 <= 200
    for bad in (0, -1.0, "1"):
        with pytest.raises(ValueError):
            connect(f"127.0.0.1:{server.port}", store=STORE, reconnect_backoff=bad)
    with connect(f"127.0.0.1:{server.port}", store=STORE, reconnect_backoff=0.5, timeout=20) as c:
        assert c.append(make_pack("rb")).status == "created"


def test_leaving_the_block_on_an_exception_cancels_what_was_not_sent(client, thread_errors):
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError):
        with client.stream_appender(batch_size=100, linger=60) as s:
            futures = [s.append(make_pack(f"x{i}")) for i in range(3)]
            raise RuntimeError("simulator crashed")
    assert all(f.cancelled() for f in futures)
    assert [p.pack_id for p in s.unacknowledged()] == ["x0", "x1", "x2"]
    with pytest.raises(ValueError):
        s.append(make_pack("after"))
    assert [t for t in threading.enumerate() if t.name == "datapack-appender" and t not in before] == []
    assert thread_errors == []


def test_closing_the_client_under_an_open_appender_fails_it_cleanly(server, thread_errors):
    """The client's channel closed while its appender is open (the appender
    never closed): the appender's next call raises UnavailableError
    (CHANNEL_CLOSED), its pending futures fail with it, and no thread prints
    a traceback."""
    c = connect(f"127.0.0.1:{server.port}", store=STORE, timeout=20)
    s = c.stream_appender(batch_size=2)
    assert s.append(make_pack("before")).result(timeout=scaled(20)).status == "created"
    c.close()
    futures = []
    with pytest.raises(UnavailableError) as exc:  # from append (if the appender saw it first) or from flush
        futures.append(s.append(make_pack("after")))
        s.flush(timeout=scaled(30))
    assert exc.value.reason == "CHANNEL_CLOSED" and s.fatal_error is exc.value
    assert all(f.exception(timeout=scaled(10)) is exc.value for f in futures)
    assert [p.pack_id for p in s.unacknowledged()] == ["after" for _ in futures]
    with pytest.raises(UnavailableError):
        s.close()
    assert thread_errors == []
