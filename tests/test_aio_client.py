"""The asyncio client (`connect_async`, datapack_client/aio/) in its own terms:
the streamed appender's futures, callbacks, rejections, reconnects (exactly
once) and give-up; queries as async iterators and their cancellation; errors
mapped to the synchronous client's classes; the adapter's analyses; tokens and
TLS. Everything else it shares with the synchronous API runs in the `repo`
fixture's "remote_async" mode (conftest.py, aio_bridge.py)."""
from __future__ import annotations

import asyncio
import inspect
import time

import pytest

from datapack_client import (
    AsyncSkillDataPackAdapter,
    DataPackError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    SkillDataPackAdapter,
    UnauthenticatedError,
    UnavailableError,
    connect,
    connect_async,
)
from datapack_client.aio import QueryStream
from datapack_client.aio.adapter import ANALYSES
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.service.facade import DataPackService

from .conftest import STORE, copy_fixture, make_pack, scaled
from .test_adapter_parity import CALLS, ERRORS, plain
from .test_security import RO_TOKEN, RW_TOKEN, pki, start, token_file  # noqa: F401 - fixtures

TASK = "drawer_vase"


def target_of(server) -> str:
    return f"127.0.0.1:{server.port}"


def error_key(err: DataPackError) -> tuple:
    return type(err), err.code, err.reason, err.violations


# ---------------------------------------------------------------------- the streamed appender

def test_async_appender_acknowledges_each_record_through_its_future(server):
    acked = []

    async def main():
        async with connect_async(target_of(server), STORE, timeout=20) as repo:
            async with repo.stream_appender(batch_size=16, max_in_flight=2, keep_results=50,
                                            on_ack=acked.append) as s:
                futures = [await s.append(make_pack(f"a{i}")) for i in range(200)]
            results = [await f for f in futures]
            assert s.counts == {"created": 200, "already_present": 0, "rejected": 0}
            assert s.results == results[-50:]  # bounded: the last keep_results
            assert s.unacknowledged() == [] and not s.errors and s.fatal_error is None
            stored = [dp.pack_id async for dp in repo.iter_all(TASK)]
            return results, stored

    results, stored = asyncio.run(main())
    assert [r.pack_id for r in results] == [f"a{i}" for i in range(200)]
    assert [r.status for r in results] == ["created"] * 200
    assert sorted(r.sequence for r in results) == list(range(200))  # each its own place in the task file
    assert [r.pack_id for r in acked] == [r.pack_id for r in results]
    assert stored == [f"a{i}" for i in range(200)]


def test_async_appender_sends_a_partial_batch_after_linger(server):
    async def main():
        async with connect_async(target_of(server), STORE, timeout=20) as repo:
            async with repo.stream_appender(batch_size=1000, linger=0.05) as s:
                fut = await s.append(make_pack("lone"))
                # Neither a full batch nor a flush: only the linger sends it.
                result = await asyncio.wait_for(fut, scaled(20))
                assert s.unacknowledged() == []
            return result

    assert asyncio.run(main()).status == "created"


def rejection_case() -> list:
    """Three batches of two: accepted; refused for its second record; refused for its second record."""
    bad = make_pack("bad-1")
    bad.bucket = "negative"  # disagrees with ΔJ > 0
    worse = make_pack("bad-2")
    worse.attribution.trust_score = float("nan")
    return [make_pack("ok-1"), make_pack("ok-2"), make_pack("x-1"), bad, make_pack("x-2"), worse]


def outcome_of(future_result) -> tuple:
    """(status) of an acknowledged pack, or its error's class, reason and violations."""
    try:
        return ("ok", future_result().status)
    except DataPackError as err:
        return error_key(err)


def test_async_appender_reports_rejections_as_the_synchronous_one(server):
    """The same records through StreamAppender and AsyncStreamAppender (each on
    its own store): the same outcome per record (BATCH_REJECTED for the valid
    record of a refused batch), the same on_reject calls, the same error at exit."""
    sync_rejected, async_rejected = [], []
    with connect(target_of(server), "sync_store", timeout=20) as c:
        with pytest.raises(InvalidArgumentError) as sync_exit:
            with c.stream_appender(batch_size=2, on_reject=lambda p, e: sync_rejected.append((p.pack_id, e))) as s:
                futures = [s.append(p) for p in rejection_case()]
        want = [outcome_of(f.result) for f in futures]

    async def main():
        async with connect_async(target_of(server), "async_store", timeout=20) as repo:
            s = repo.stream_appender(batch_size=2, on_reject=lambda p, e: async_rejected.append((p.pack_id, e)))
            with pytest.raises(InvalidArgumentError) as at_exit:
                async with s:
                    futures = [await s.append(p) for p in rejection_case()]
            got = []
            for f in futures:
                await asyncio.wait([f])
                got.append(outcome_of(f.result))
            return got, at_exit.value, s.counts, len(s.errors), await repo.get_statistics(TASK)

    got, async_exit, counts, n_errors, stats = asyncio.run(main())
    assert want[:2] == [("ok", "created")] * 2
    assert [w[2] for w in want[2:]] == ["BATCH_REJECTED", "BUCKET_SIGN_MISMATCH", "BATCH_REJECTED",
                                        "NUMBER_NOT_FINITE"]
    assert got == want
    assert [(pid, error_key(e)) for pid, e in async_rejected] == [(pid, error_key(e)) for pid, e in sync_rejected]
    assert [pid for pid, _e in async_rejected] == ["x-1", "bad-1", "x-2", "bad-2"]
    assert error_key(async_exit) == error_key(sync_exit.value)  # both rejections, together
    assert n_errors == 2 and counts == {"created": 2, "already_present": 0, "rejected": 4}
    assert stats["total"] == 2  # nothing of a refused batch is stored


def test_async_appender_resends_after_a_server_restart_exactly_once(data_root):
    """A server stopped while batches are in flight and started again on the
    same port: the appender waits for the connection, re-sends what was not
    acknowledged under the same writer id and batch numbers, and every record
    is stored once, each future resolved."""
    holder = {"server": build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16))}
    port = holder["server"].port

    def restart():
        holder["server"].stop(0)
        holder["server"] = build_server(ServerConfig(data_dir=str(data_root), port=port, max_workers=16))

    async def main():
        async with connect_async(f"127.0.0.1:{port}", STORE, timeout=20) as repo:
            async with repo.stream_appender(batch_size=25, max_in_flight=4, reconnect_timeout=scaled(30)) as s:
                futures = []
                for i in range(1500):
                    futures.append(await s.append(make_pack(f"s{i}")))
                    if i == 700:
                        restarting = asyncio.create_task(asyncio.to_thread(restart))
                await restarting
            results = [await f for f in futures]
            stored = [dp.pack_id async for dp in repo.iter_all(TASK)]
            assert asyncio.all_tasks() == {asyncio.current_task()}  # nothing left running by the reconnects
            return s, results, stored

    try:
        s, results, stored = asyncio.run(main())
    finally:
        holder["server"].stop(0)
    assert s.reconnects >= 1 and not s.errors
    assert [r.pack_id for r in results] == [f"s{i}" for i in range(1500)]
    assert {r.status for r in results} <= {"created", "already_present"}
    assert sorted(stored) == sorted(f"s{i}" for i in range(1500))  # each once


def test_async_appender_gives_up_without_a_connection_and_lists_what_was_not_acknowledged(data_root):
    running = build_server(ServerConfig(data_dir=str(data_root), port=0))
    port = running.port

    async def main():
        async with connect_async(f"127.0.0.1:{port}", STORE, timeout=5) as repo:
            s = repo.stream_appender(batch_size=2, reconnect_timeout=1.0)
            with pytest.raises(UnavailableError) as at_exit:
                async with s:
                    first = await s.append(make_pack("first"))
                    await s.append(make_pack("second"))
                    await s.flush(timeout=scaled(10))
                    await asyncio.to_thread(running.stop, 0)
                    later = [await s.append(make_pack(f"later{i}")) for i in range(3)]
                    with pytest.raises(UnavailableError):
                        await s.flush()
            with pytest.raises(UnavailableError):
                await s.append(make_pack("after"))  # the appender has ended
            return at_exit.value, (await first).status, later, s.unacknowledged()

    err, first_status, later, unacked = asyncio.run(main())
    assert first_status == "created" and (err.code, err.reason) == ("UNAVAILABLE", "SERVER_UNREACHABLE")
    assert [p.pack_id for p in unacked] == ["later0", "later1", "later2"]
    for f in later:
        assert f.done() and isinstance(f.exception(), UnavailableError)


def test_leaving_the_appender_on_an_exception_aborts_it(server, client):
    """An exception in the `async with` body: nothing more is sent, buffered
    records' futures are cancelled, in-flight ones fail (APPENDER_CLOSED) unless
    acknowledged first, and unacknowledged() lists what was not acknowledged."""
    client.append(make_pack("seed"))

    async def main():
        async with connect_async(target_of(server), STORE, timeout=20) as repo:
            s = repo.stream_appender(batch_size=4, linger=60.0)
            with pytest.raises(KeyError):
                async with s:
                    futures = [await s.append(make_pack(f"ab-{i}")) for i in range(6)]
                    raise KeyError("simulator crashed")
            await asyncio.wait(futures)
            stored = {dp.pack_id for dp in await repo.query(TASK, limit=None)}
            return futures, s.unacknowledged(), stored, asyncio.all_tasks()

    futures, unacked, stored, tasks = asyncio.run(main())
    assert futures[4].cancelled() and futures[5].cancelled()  # buffered: never sent
    assert [p.pack_id for p in unacked][-2:] == ["ab-4", "ab-5"]
    for i, f in enumerate(futures[:4]):  # the one batch sent: acknowledged, or failed and listed
        if f.exception() is None:
            assert f.result().pack_id == f"ab-{i}" and f"ab-{i}" in stored
        else:
            assert f.exception().reason == "APPENDER_CLOSED" and f"ab-{i}" in [p.pack_id for p in unacked]
    assert not {"ab-4", "ab-5"} & stored
    assert len(tasks) == 1


def test_async_appender_callback_error_is_logged_and_does_not_stop_it(server, caplog):
    def on_ack(result):
        raise RuntimeError(f"callback failed on {result.pack_id}")

    async def main():
        async with connect_async(target_of(server), STORE, timeout=20) as repo:
            async with repo.stream_appender(batch_size=1, on_ack=on_ack) as s:
                futures = [await s.append(make_pack(f"c-{i}")) for i in range(3)]
            return [(await f).status for f in futures], s.fatal_error

    with caplog.at_level("ERROR", logger="datapack_client.appender"):
        statuses, fatal = asyncio.run(main())
    assert statuses == ["created"] * 3 and fatal is None
    assert sum("callback failed on" in r.getMessage() or "callback" in r.getMessage() for r in caplog.records) == 3


# ---------------------------------------------------------------------- queries

def test_query_is_awaitable_and_an_async_iterator(server, client):
    for start_ in range(0, 3000, 1000):
        client.append_batch([make_pack(f"q{i}", delta_j=(i % 7) - 3.0) for i in range(start_, start_ + 1000)])
    want = [dp.to_dict() for dp in client.query(TASK, sort_by="delta_j", limit=None)]

    async def main():
        async with connect_async(target_of(server), STORE, timeout=20) as repo:
            stream = repo.query(TASK, sort_by="delta_j", limit=None)
            assert isinstance(stream, QueryStream)
            listed = await stream
            streamed = [dp async for dp in stream]  # sent again
            positive = [dp async for dp in repo.get_positive_for_skill(TASK, 1, top_k=5)]
            return listed, streamed, positive

    listed, streamed, positive = asyncio.run(main())
    assert [dp.to_dict() for dp in listed] == [dp.to_dict() for dp in streamed] == want
    assert [dp.pack_id for dp in positive] == [dp.pack_id for dp in client.get_positive_for_skill(TASK, 1, top_k=5)]


@pytest.mark.parametrize("how", ["cancel_task", "break"])
def test_leaving_an_async_query_mid_stream_stops_the_server(server, client, monkeypatch, how):
    """After the first pack of a 4000-pack query (encoding slowed to 0.5 ms a
    record): a cancelled task, or a loop left with break, cancels the call and
    the server stops encoding far from the whole result."""
    total = 4000
    for i in range(0, total, 1000):
        client.append_batch([make_pack(f"q{j}") for j in range(i, i + 1000)])
    encoded = []
    real = DataPackService._encoded

    def slow_encoded(self, st, ref, basic=False):
        encoded.append(1)
        time.sleep(0.0005)
        return real(self, st, ref, basic)

    monkeypatch.setattr(DataPackService, "_encoded", slow_encoded)

    async def main():
        async with connect_async(target_of(server), STORE, timeout=20) as repo:
            first = asyncio.Event()

            async def consume():
                async for _dp in repo.query(TASK, limit=None):
                    first.set()
                    if how == "break":
                        break
                    await asyncio.sleep(0)

            task = asyncio.create_task(consume())
            await asyncio.wait_for(first.wait(), scaled(20))
            if how == "cancel_task":
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            else:
                await task
            deadline = time.monotonic() + scaled(10)
            while server.gate.active and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert server.gate.active == 0, "the server call did not end"

    asyncio.run(main())
    done = len(encoded)
    time.sleep(0.3)
    assert len(encoded) == done < total // 2, (done, total)


# ---------------------------------------------------------------------- errors

def test_errors_are_the_synchronous_clients(server, client):
    client.append(make_pack("e-1"))
    bad = make_pack("e-bad")
    bad.attribution.trust_score = float("nan")
    calls = [("get", (TASK, "nope"), {}), ("get", ("../x", "e-1"), {}), ("query", (TASK,), {"limit": 0}),
             ("query", (TASK,), {"bucket": "maybe"}), ("append_batch", ([bad],), {}),
             ("append", (make_pack("e-1", delta_j=-2.0),), {}), ("get_history", (TASK, "nope"), {}),
             ("update_training_usage", (TASK, []), {}), ("put_baseline", ("b",), {}),
             ("get_statistics", (TASK,), {"min_trust": "high"}), ("export_portable", (TASK,), {"token_dim": 0})]
    sync_errors = []
    for name, args, kwargs in calls:
        with pytest.raises(DataPackError) as exc:
            getattr(client, name)(*args, **kwargs)
        sync_errors.append(error_key(exc.value))

    async def main():
        out = []
        async with connect_async(target_of(server), STORE, timeout=20) as repo:
            for name, args, kwargs in calls:
                with pytest.raises(DataPackError) as exc:
                    await getattr(repo, name)(*args, **kwargs)
                out.append(error_key(exc.value))
            with pytest.raises(NotFoundError):
                [dp async for dp in repo.iter_all("no_such_task")]
        return out

    assert asyncio.run(main()) == sync_errors
    with pytest.raises(InvalidArgumentError) as exc:
        connect_async("127.0.0.1:1", store="../up")
    assert exc.value.reason == "STORE_INVALID"


def test_unreachable_server_is_unavailable(data_root):
    running = build_server(ServerConfig(data_dir=str(data_root), port=0))
    port = running.port
    running.stop(0)

    async def main():
        async with connect_async(f"127.0.0.1:{port}", STORE, timeout=2) as repo:
            with pytest.raises(UnavailableError):
                await repo.wait_ready(timeout=0.5)
            with pytest.raises(UnavailableError):
                await repo.list_tasks()

    asyncio.run(main())


# ---------------------------------------------------------------------- the adapter

@pytest.fixture(scope="module")
def reference_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("aio_adapter")
    copy_fixture(root, "drawer_vase_datapacks.jsonl")
    running = build_server(ServerConfig(data_dir=str(root), port=0))
    yield root, running
    running.stop(0)


def test_async_adapter_has_every_analysis():
    public = {n for n, v in vars(SkillDataPackAdapter).items() if callable(v) and not n.startswith("_")}
    assert set(ANALYSES) | {"export_skill_report"} == public
    for name in public:
        assert inspect.iscoroutinefunction(getattr(AsyncSkillDataPackAdapter, name)), name


def test_async_adapter_answers_as_the_synchronous_one(reference_root, tmp_path):
    """Every call of the adapter parity test (test_adapter_parity.py compares
    the synchronous client with the embedded repository): the same results and
    errors through the asyncio client as through the synchronous one."""
    _root, running = reference_root
    with connect(f"127.0.0.1:{running.port}", STORE, timeout=60) as sync_client:
        sync = SkillDataPackAdapter(sync_client)
        calls = CALLS + ERRORS
        want = [outcome(getattr(sync, m), *a, **k) for m, a, k in calls]
        sync.export_skill_report("drawer_vase", tmp_path / "a.json")
    assert sum(w[0] == "error" for w in want) >= len(ERRORS)

    async def main():
        async with connect_async(f"127.0.0.1:{running.port}", STORE, timeout=60) as repo:
            adapter = AsyncSkillDataPackAdapter(repo)
            got = []
            for m, a, k in calls:
                try:
                    got.append(plain(await getattr(adapter, m)(*a, **k)))
                except DataPackError as err:
                    got.append(("error", type(err), err.reason, err.violations))
            await adapter.export_skill_report("drawer_vase", tmp_path / "b.json")
            with pytest.raises(InvalidArgumentError):
                await adapter.export_skill_report("drawer_vase", "")
            return got

    assert asyncio.run(main()) == want
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def outcome(method, *args, **kwargs) -> tuple:
    """A call's result in comparable form, or its error's class, reason and violations."""
    try:
        return plain(method(*args, **kwargs))
    except DataPackError as err:
        return ("error", type(err), err.reason, err.violations)


# ---------------------------------------------------------------------- tokens and TLS

def test_tokens_roles_and_tls(start, token_file, pki):  # noqa: F811 - fixtures
    running = start(token_file=str(token_file))
    target = f"127.0.0.1:{running.port}"

    async def with_tokens():
        async with connect_async(target, STORE, token=RW_TOKEN, timeout=10) as rw:
            async with rw.stream_appender(batch_size=4) as s:
                futures = [await s.append(make_pack(f"t-{i}")) for i in range(6)]
            assert [(await f).status for f in futures] == ["created"] * 6
        async with connect_async(target, STORE, token=RO_TOKEN, timeout=10) as ro:
            assert len(await ro.query(TASK, limit=None)) == 6
            with pytest.raises(PermissionDeniedError) as exc:
                await ro.append(make_pack("no"))
            assert exc.value.reason == "PERMISSION_READ_ONLY"
            # The server refuses the stream while requests are being written: grpc.aio alone
            # often reports that as INTERNAL; the appender reports the refusal, every time.
            for _ in range(10):
                with pytest.raises(PermissionDeniedError) as exc:
                    async with ro.stream_appender(batch_size=2) as s:
                        for i in range(4):
                            await s.append(make_pack(f"ro-{i}"))
                assert exc.value.reason == "PERMISSION_READ_ONLY"
                assert [p.pack_id for p in s.unacknowledged()] == [f"ro-{i}" for i in range(4)]
        async with connect_async(target, STORE, timeout=10) as anonymous:
            with pytest.raises(UnauthenticatedError) as exc:
                await anonymous.list_tasks()
            assert exc.value.reason == "TOKEN_MISSING"

    asyncio.run(with_tokens())
    tls = start(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca)

    async def with_tls():
        async with connect_async(f"127.0.0.1:{tls.port}", STORE, root_certificates=pki.ca,
                                 client_cert=pki.client_cert, client_key=pki.client_key, timeout=10) as c:
            await c.append(make_pack("mtls-1"))
            assert (await c.get_statistics(TASK))["total"] == 7
        async with connect_async(f"127.0.0.1:{tls.port}", STORE, root_certificates=pki.ca, timeout=3) as c:
            with pytest.raises(UnavailableError):
                await c.list_tasks()  # no client certificate

    asyncio.run(with_tls())
    with pytest.raises(ValueError, match="go together"):
        connect_async(target, client_cert=pki.client_cert)


def test_sync_and_async_clients_see_the_same_store(server, client):
    client.append_batch([make_pack(f"m{i}") for i in range(5)])

    async def main():
        async with connect_async(target_of(server), STORE, timeout=20) as repo:
            await repo.append_batch([make_pack(f"n{i}") for i in range(5)])
            return await repo.load_all(TASK)

    assert [dp.to_dict() for dp in asyncio.run(main())] == [dp.to_dict() for dp in client.load_all(TASK)]
