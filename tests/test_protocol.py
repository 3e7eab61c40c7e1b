"""The wire protocol itself: health, reflection, rich status details, the
bidirectional append stream, exactly-once re-sends, chunked query streams."""
from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from datapack_client.wire import codec
from datapack_client.client import record_to_message
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc

from .conftest import STORE, make_pack


@pytest.fixture
def channel(server):
    ch = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield ch
    ch.close()


@pytest.fixture
def stub(channel):
    return spb_grpc.DataPackServiceStub(channel)


def test_health_serving_then_not_serving_on_shutdown(data_root):
    from datapack_server.api.app import ServerConfig, build_server
    running = build_server(ServerConfig(data_dir=str(data_root), port=0))
    ch = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    health = health_pb2_grpc.HealthStub(ch)
    for name in ("", "datapack.v1.DataPackService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status == \
            health_pb2.HealthCheckResponse.SERVING
    running.health.enter_graceful_shutdown()
    assert health.Check(health_pb2.HealthCheckRequest(service="datapack.v1.DataPackService"),
                        timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING
    running.stop(0)
    ch.close()


def test_reflection_lists_and_describes_the_service(channel):
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = list(refl.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="datapack.v1.DataPackService"),
    ]), timeout=5))
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"datapack.v1.DataPackService", "grpc.health.v1.Health"} <= names
    assert responses[1].file_descriptor_response.file_descriptor_proto


def test_invalid_record_gives_rich_status_with_field_violations(stub):
    bad = make_pack("bad")
    bad.attribution.trust_score = "high"  # travels verbatim, rejected by the server
    with pytest.raises(grpc.RpcError) as exc:
        stub.AppendDataPacksBatch(spb.AppendDataPacksBatchRequest(store=STORE, data_packs=[
            record_to_message(make_pack("good")), record_to_message(bad)]), timeout=5)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(exc.value)
    kinds = {}
    for d in status.details:
        for cls in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, spb.ErrorDetail):
            if d.Is(cls.DESCRIPTOR):
                msg = cls()
                d.Unpack(msg)
                kinds[cls.__name__] = msg
    assert kinds["ErrorInfo"].reason == "FIELD_TYPE" and kinds["ErrorInfo"].domain == "datapack.v1"
    assert [v.field for v in kinds["BadRequest"].field_violations] == ["data_packs[1].attribution.trust_score"]
    assert kinds["ErrorDetail"].violations[0].index == 1
    # nothing of the batch was written: not even the store exists (a read of it is NOT_FOUND, issue 13)
    with pytest.raises(grpc.RpcError) as exc:
        stub.GetStatistics(spb.GetStatisticsRequest(store=STORE, task_name="drawer_vase"), timeout=5)
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND


def test_invalid_json_text_is_rejected_naming_the_field(stub):
    msg = record_to_message(make_pack("j"))
    msg.agent_profile_json = '{"policy": NaN}'
    with pytest.raises(grpc.RpcError) as exc:
        stub.AppendDataPacksBatch(spb.AppendDataPacksBatchRequest(store=STORE, data_packs=[msg]), timeout=5)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "agent_profile" in exc.value.details()


def test_append_stream_acks_rejects_and_goes_on(stub):
    reqs = [
        spb.AppendDataPacksRequest(store=STORE, batch_sequence=1,
                                   data_packs=[record_to_message(make_pack(f"a{i}")) for i in range(3)]),
        spb.AppendDataPacksRequest(store=STORE, batch_sequence=2, data_packs=[
            record_to_message(make_pack("b0")), _negative_without_plan("b1")]),
        spb.AppendDataPacksRequest(store=STORE, batch_sequence=3,
                                   data_packs=[record_to_message(make_pack("a1"))]),  # identical re-send
        spb.AppendDataPacksRequest(store=STORE, batch_sequence=4,
                                   data_packs=[record_to_message(make_pack("a2", delta_j=5.0))]),  # conflict
        spb.AppendDataPacksRequest(store=STORE, batch_sequence=5,
                                   data_packs=[record_to_message(make_pack("c0"))]),
    ]
    out = list(stub.AppendDataPacks(iter(reqs), timeout=10))
    assert [r.batch_sequence for r in out] == [1, 2, 3, 4, 5]
    assert [r.status for r in out[0].results] == [spb.APPEND_STATUS_CREATED] * 3
    assert [r.sequence for r in out[0].results] == [0, 1, 2]
    assert out[1].rejection.code == "INVALID_ARGUMENT"
    assert out[1].rejection.reason == "COUNTERFACTUAL_REQUIRED"
    assert out[1].rejection.violations[0].index == 1
    assert [r.status for r in out[1].results] == [spb.APPEND_STATUS_REJECTED] * 2
    assert out[2].results[0].status == spb.APPEND_STATUS_ALREADY_PRESENT and out[2].results[0].sequence == 1
    assert out[3].rejection.code == "ALREADY_EXISTS" and out[3].rejection.reason == "PACK_ID_CONFLICT"
    assert out[4].results[0].status == spb.APPEND_STATUS_CREATED and out[4].results[0].sequence == 3
    ids = [m.pack_id for r in stub.QueryDataPacks(spb.QueryDataPacksRequest(
        store=STORE, task_name="drawer_vase", unlimited=True), timeout=5) for m in r.data_packs]
    assert ids == ["a0", "a1", "a2", "c0"]


def _negative_without_plan(pack_id):
    dp = make_pack(pack_id, delta_j=-1.0)
    dp.counterfactual_plan = None
    dp.counterfactual_source = None
    return record_to_message(dp)


def test_resent_batch_with_writer_id_gets_original_ack(stub):
    batch = [record_to_message(make_pack(f"w{i}")) for i in range(4)]
    first = list(stub.AppendDataPacks(iter([spb.AppendDataPacksRequest(
        store=STORE, writer_id="sim-1", batch_sequence=7, data_packs=batch)]), timeout=5))
    again = list(stub.AppendDataPacks(iter([spb.AppendDataPacksRequest(
        store=STORE, writer_id="sim-1", batch_sequence=7, data_packs=batch)]), timeout=5))
    assert [r.status for r in first[0].results] == [spb.APPEND_STATUS_CREATED] * 4
    assert list(again[0].results) == list(first[0].results)  # the original acknowledgement
    other = list(stub.AppendDataPacks(iter([spb.AppendDataPacksRequest(
        store=STORE, writer_id="sim-2", batch_sequence=7, data_packs=batch)]), timeout=5))
    assert [r.status for r in other[0].results] == [spb.APPEND_STATUS_ALREADY_PRESENT] * 4


def test_query_streams_large_results_in_chunks(client, stub):
    client.append_batch([make_pack(f"q{i:04d}") for i in range(600)])
    msgs = list(stub.QueryDataPacks(spb.QueryDataPacksRequest(store=STORE, task_name="drawer_vase",
                                                              unlimited=True), timeout=10))
    assert len(msgs) >= 3  # many packs per message, not one message for all
    assert sum(len(m.data_packs) for m in msgs) == 600
    assert [p.pack_id for p in client.load_all("drawer_vase")] == [f"q{i:04d}" for i in range(600)]
    assert [p.revision for p in client.query("drawer_vase", limit=3)] == [1, 1, 1]


def test_limit_and_unlimited_together_is_invalid(stub):
    with pytest.raises(grpc.RpcError) as exc:
        list(stub.QueryDataPacks(spb.QueryDataPacksRequest(store=STORE, task_name="drawer_vase", limit=3,
                                                           unlimited=True), timeout=5))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("store", ["../x", "a/../b", "/abs", "a//b", "a b", "x" * 129])
def test_unsafe_store_paths_are_rejected(stub, store, data_root):
    before = sorted(p.name for p in data_root.parent.rglob("*"))
    with pytest.raises(grpc.RpcError) as exc:
        stub.AppendDataPacksBatch(spb.AppendDataPacksBatchRequest(
            store=store, data_packs=[record_to_message(make_pack("s"))]), timeout=5)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(p.name for p in data_root.parent.rglob("*")) == before


def test_unknown_pack_is_not_found(stub):
    with pytest.raises(grpc.RpcError) as exc:
        stub.GetDataPack(spb.GetDataPackRequest(store=STORE, task_name="drawer_vase", pack_id="nope"), timeout=5)
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND


def test_codec_round_trip_every_reference_line():
    import orjson
    from datapack_client.records import schema
    from datapack_client.wire.fastdecode import decode_record
    from .conftest import FIXTURES
    for name in ("drawer_vase_datapacks.jsonl", "dishwashing_datapacks.jsonl"):
        for line in (FIXTURES / name).read_bytes().splitlines():
            d = orjson.loads(line)
            msg = type(codec.dict_to_message(d)).FromString(codec.dict_to_message(d).SerializeToString())
            generic = schema.normalize_record(codec.message_to_dict(msg))
            fast = decode_record(msg)
            assert orjson.dumps(generic) == orjson.dumps(d) and list(generic) == list(d)
            assert orjson.dumps(fast) == orjson.dumps(d) and list(fast) == list(d)


def test_lazily_decoded_records_behave_like_materialised_ones(client):
    """Received records decode keys on first use; views handed out before full
    materialisation stay connected, and the result equals an eager decode."""
    import orjson
    from .conftest import FIXTURES
    lines = (FIXTURES / "drawer_vase_datapacks.jsonl").read_bytes().splitlines()[:50]
    originals = [orjson.loads(x) for x in lines]
    for d in originals:
        msg = codec.dict_to_message(d)
        from datapack_client.wire.fastdecode import record_from_message
        lazy = record_from_message(type(msg).FromString(msg.SerializeToString()))
        assert lazy.pack_id == d["pack_id"]
        attribution = lazy.attribution
        attribution.wm_role = "wm_eval"  # a view over the partially decoded key
        assert lazy.get_skill_ids() == [e["skill_id"] for e in d["skill_trace"]]
        full = lazy.to_dict()
        d["attribution"]["wm_role"] = "wm_eval"
        assert orjson.dumps(full) == orjson.dumps(d) and list(full) == list(d)
        assert lazy.attribution is attribution and lazy.attribution.wm_role == "wm_eval"


def test_stream_appender_raises_instead_of_hanging_when_the_server_is_gone(data_root):
    """A dead server ends the appender with UnavailableError (after its
    reconnect window), rather than blocking append() forever."""
    import time as _time
    from datapack_client import UnavailableError, connect
    from datapack_server.api.app import ServerConfig, build_server
    running = build_server(ServerConfig(data_dir=str(data_root), port=0))
    repo = connect(f"127.0.0.1:{running.port}", store=STORE, timeout=5)
    s = repo.stream_appender(batch_size=2, max_in_flight=1, reconnect_timeout=1.0)
    s.append(make_pack("first"))
    s.append(make_pack("second"))
    s.flush(timeout=10)
    running.stop(0)
    started = _time.monotonic()
    with pytest.raises(UnavailableError):
        for i in range(50):
            s.append(make_pack(f"later{i}"))
        s.flush(timeout=30)
    assert _time.monotonic() - started < 30
