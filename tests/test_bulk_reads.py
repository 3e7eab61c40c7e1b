"""Bulk reads (query(limit=None), load_all, iter_query, iter_all): packs sent as
their stored lines and parsed when read, embedded and over gRPC (sync and
asyncio). Each read must serve exactly the records a per-pack read serves:
reference lines of the earlier library, legacy-shaped lines, NaN tokens,
revisions and lines without pack_id or created_at included."""
from __future__ import annotations

import json

import grpc
import pytest

from .jsoncheck import assert_json_same

try:
    from .conftest import FIXTURES, STORE, copy_fixture, make_pack, scaled
except ImportError:  # tests/ not a package
    from conftest import FIXTURES, STORE, copy_fixture, make_pack, scaled
from datapack_client import connect
from datapack_client.errors import InvalidArgumentError, NotFoundError
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_server import DataPackRepo
from datapack_server.engine.task_state import TaskState
from datapack_server.service.line_batches import batch_bounds

TASK = "drawer_vase"
DV = "drawer_vase_datapacks.jsonl"


def _odd_lines() -> list[str]:
    """Lines only hand-made or old files hold: legacy-shaped, no pack_id, no created_at, a NaN token."""
    legacy = json.loads((FIXTURES / "legacy_2_0_energy.json").read_text())[0]
    plain = make_pack("odd-nan").to_dict()
    plain["attribution"]["delta_mpl"] = float("nan")
    no_id = make_pack("gone").to_dict()
    del no_id["pack_id"]
    no_time = make_pack("no-time").to_dict()
    del no_time["created_at"]
    return [json.dumps(legacy), json.dumps(plain), json.dumps(no_id), json.dumps(no_time)]


@pytest.fixture
def mixed_task(data_root):
    """The reference drawer_vase file plus the odd lines, before any reader opens it."""
    path = copy_fixture(data_root, DV)
    with open(path, "a") as f:
        f.write("".join(line + "\n" for line in _odd_lines()))
    return path


def _same(a, b) -> None:
    assert a.pack_id == b.pack_id
    assert a.revision == b.revision
    assert a.omitted_fields == b.omitted_fields
    assert_json_same(a.to_dict(), b.to_dict())


def test_a_bulk_read_serves_exactly_what_a_per_pack_read_serves(repo, mixed_task):
    repo.update_training_usage(TASK, [repo.query(TASK, limit=1)[0].pack_id], add_training_runs=["run-1"])
    full = repo.query(TASK, limit=None, include_artifacts=True)
    assert len(full) > 20 and full[0].revision == 2
    for dp in full:
        _same(dp, repo.get(TASK, dp.pack_id))
    # The basic view leaves the heavy artifacts out, as the small-query path
    # (messages decoded field by field) does.
    basic = repo.query(TASK, limit=None)
    assert any(dp.omitted_fields for dp in basic)
    for a, b in zip(repo.query(TASK, limit=len(basic)), basic, strict=True):
        _same(a, b)
    assert [dp.pack_id for dp in repo.load_all(TASK)] == [dp.pack_id for dp in full]


def test_pack_id_is_read_without_parsing_the_line(repo, data_root):
    repo.append_batch([make_pack(f"p{i}") for i in range(5)])
    packs = repo.query(TASK, limit=None)
    assert [dp.pack_id for dp in packs] == [f"p{i}" for i in range(5)]
    # Not parsed yet: the record still holds its loader (a lazily decoded record's slot).
    assert all(object.__getattribute__(dp, "_load") is not None for dp in packs)
    assert packs[3].attribution.trust_score == pytest.approx(0.95)


@pytest.mark.parametrize("filters", [{}, {"bucket": "negative"}, {"sort_by": "delta_j", "sort_descending": False},
                                     {"skill_id": 3, "limit": 7}])
def test_iter_query_streams_what_query_returns(repo, mixed_task, filters):
    expect = repo.query(TASK, **{"limit": None, **filters})
    got = list(repo.iter_query(TASK, batch_size=3, **filters))
    assert [dp.pack_id for dp in got] == [dp.pack_id for dp in expect]
    for a, b in zip(got, expect):
        _same(a, b)


def test_iter_all_is_iter_query_with_artifacts(repo):
    repo.append_batch([make_pack(f"a{i}") for i in range(4)])
    it = repo.iter_all(TASK)
    assert not isinstance(it, list)
    assert [dp.pack_id for dp in it] == [f"a{i}" for i in range(4)]


def test_iter_query_is_one_consistent_read(repo):
    repo.append_batch([make_pack(f"c{i}") for i in range(6)])
    it = repo.iter_query(TASK, batch_size=2)
    first = next(it)
    repo.append_batch([make_pack("late")])
    repo.update_training_usage(TASK, ["c5"], add_training_runs=["r"])
    rest = list(it)
    assert [first.pack_id] + [dp.pack_id for dp in rest] == [f"c{i}" for i in range(6)]
    assert rest[-1].revision == 1  # the pack as it was when the read began


@pytest.mark.parametrize("bad", [0, -1, 65537, 2.0, "10", None])
def test_iter_query_refuses_a_bad_batch_size_naming_it(repo, bad):
    repo.append(make_pack("x"))
    with pytest.raises(InvalidArgumentError) as err:
        repo.iter_query(TASK, batch_size=bad)
    assert err.value.violations[0].field == "batch_size"


def test_iter_query_of_a_missing_task_is_not_found(repo):
    repo.append(make_pack("x"))
    with pytest.raises(NotFoundError):
        list(repo.iter_query("no_such_task"))
    with pytest.raises(InvalidArgumentError):
        repo.iter_query(TASK, bucket="sideways")


def test_an_embedded_iteration_reads_one_batch_at_a_time(data_root, monkeypatch):
    repo = DataPackRepo(str(data_root / STORE), create=True)
    repo.append_batch([make_pack(f"b{i:02d}") for i in range(20)])
    reads: list[int] = []
    real = TaskState.read_runs

    def counted(self, offs, lens):
        reads.append(len(offs))
        return real(self, offs, lens)

    monkeypatch.setattr(TaskState, "read_runs", counted)
    it = repo.iter_query(TASK, batch_size=6)
    next(it)
    assert reads == [6]
    assert len(list(it)) == 19 and reads == [6, 6, 6, 2]
    repo.close()


def test_batches_stop_at_the_byte_cap_with_at_least_one_line():
    assert batch_bounds([10] * 10, 4, max_bytes=25) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert batch_bounds([100, 5, 5], 10, max_bytes=50) == [(0, 1), (1, 3)]
    assert batch_bounds([], 10) == []


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("batch_size", 70000), ("encoding", 7)])
def test_the_wire_refuses_bad_read_options_naming_them(server, field, value):
    with connect(f"127.0.0.1:{server.port}", store=STORE) as c:
        c.append(make_pack("w"))
    req = spb.QueryDataPacksRequest(store=STORE, task_name=TASK, unlimited=True)
    setattr(req, field, value)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        with pytest.raises(grpc.RpcError) as err:
            list(spb_grpc.DataPackServiceStub(ch).QueryDataPacks(req, timeout=scaled(20)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in err.value.details()


def test_json_lines_on_the_wire_are_the_stored_bytes(server, data_root):
    with connect(f"127.0.0.1:{server.port}", store=STORE) as c:
        c.append_batch([make_pack(f"w{i}") for i in range(5)])
    req = spb.QueryDataPacksRequest(store=STORE, task_name=TASK, unlimited=True, batch_size=2,
                                    encoding=spb.RECORD_ENCODING_JSON_LINES)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        msgs = list(spb_grpc.DataPackServiceStub(ch).QueryDataPacks(req, timeout=scaled(20)))
    assert [len(m.json_lines.pack_ids) for m in msgs] == [2, 2, 1]
    assert b"".join(m.json_lines.lines for m in msgs) == (data_root / STORE / f"{TASK}_datapacks.jsonl").read_bytes()
    assert [n for m in msgs for n in m.json_lines.line_numbers] == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- one-message pages

def _page(port: int, **fields):
    req = spb.QueryDataPacksRequest(store=STORE, task_name=TASK, **fields)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return spb_grpc.DataPackServiceStub(ch).QueryDataPacksPage(spb.QueryDataPacksPageRequest(query=req), timeout=scaled(20))


def test_a_page_answers_a_limited_query_in_one_message(server):
    with connect(f"127.0.0.1:{server.port}", store=STORE) as c:
        c.append_batch([make_pack(f"g{i}", delta_j=float(i)) for i in range(8)])
        resp = _page(server.port, limit=3, sort_by="delta_j")
        assert [m.pack_id for m in resp.data_packs] == ["g7", "g6", "g5"]
        assert [dp.pack_id for dp in c.query(TASK, limit=3, sort_by="delta_j")] == ["g7", "g6", "g5"]


@pytest.mark.parametrize("fields,named", [({"unlimited": True}, "limit"), ({}, "limit"), ({"limit": 10_001}, "limit"),
                                          ({"limit": 5, "encoding": spb.RECORD_ENCODING_JSON_LINES}, "encoding")])
def test_a_page_refuses_what_it_does_not_answer_naming_the_field(server, fields, named):
    with connect(f"127.0.0.1:{server.port}", store=STORE) as c:
        c.append(make_pack("h"))
    with pytest.raises(grpc.RpcError) as err:
        _page(server.port, **fields)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in err.value.details()


def test_an_answer_too_large_for_one_message_is_streamed_instead(data_root):
    from datapack_server.api.app import build_server
    from datapack_server.api.config import ServerConfig

    (data_root / STORE).mkdir()
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_message_bytes=64 << 10))
    try:
        with connect(f"127.0.0.1:{running.port}", store=STORE) as c:
            c.max_message_bytes = 64 << 10
            c.append_batch([make_pack(f"big{i:02d}", episode_metrics={"pad": "x" * 4000}) for i in range(40)])
            with pytest.raises(grpc.RpcError) as err:
                _page(running.port, limit=40)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "RESPONSE_TOO_LARGE" in str(err.value.trailing_metadata()) or "limit" in err.value.details()
            assert [dp.pack_id for dp in c.query(TASK, limit=40)] == [f"big{i:02d}" for i in range(40)]
    finally:
        running.stop(0)


def test_a_line_already_in_served_form_is_served_as_parsed(mixed_task):
    """The shortcut of served_from_stored returns exactly what normalising the
    line returns (same keys in the same order, same values) whenever it applies."""
    import copy

    from datapack_client.records import jsonio, schema
    from datapack_client.records.stored import is_served_form, served_from_stored

    used = 0
    for no, line in enumerate(mixed_task.read_bytes().splitlines(), start=1):
        d = jsonio.loads(line)
        slow = schema.normalize_record(copy.deepcopy(d), pack_id="derived", created_at="1970")
        slow.pop("_revision", None)
        fast = served_from_stored(d, "derived", no, TASK)
        if is_served_form(jsonio.loads(line)):
            used += 1
            assert_json_same(fast, slow)
    assert used > 0
    assert not is_served_form(dict(make_pack("r").to_dict(), _revision={"revision": 2}))
    reordered = make_pack("o").to_dict()
    reordered = {"task_name": reordered.pop("task_name"), **reordered}
    assert not is_served_form(reordered)
