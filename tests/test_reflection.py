"""Server reflection is enough to use the service: a client that has no
generated code lists the services, reads every RPC's shape and calls the
service with message classes built from the reflected descriptors only
(what grpcurl, Postman or a dynamic client in another language do)."""
from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from datapack_client import SkillDataPackAdapter
from datapack_client.proto.datapack.v1 import datapack_service_pb2, skill_adapter_service_pb2

from .conftest import STORE, copy_fixture

TASK = "drawer_vase"
SERVICES = {"datapack.v1.DataPackService", "datapack.v1.SkillAdapterService", "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection"}

# DataPackService as the README documents it: RPC -> (request, response, client streams, server streams).
DATAPACK_RPCS = {
    "AppendDataPacks": ("AppendDataPacksRequest", "AppendDataPacksResponse", True, True),
    "AppendDataPacksBatch": ("AppendDataPacksBatchRequest", "AppendDataPacksBatchResponse", False, False),
    "QueryDataPacks": ("QueryDataPacksRequest", "QueryDataPacksResponse", False, True),
    "QueryDataPacksPage": ("QueryDataPacksPageRequest", "QueryDataPacksPageResponse", False, False),
    "QueryArrow": ("QueryArrowRequest", "QueryArrowResponse", False, True),
    "GetDataPack": ("GetDataPackRequest", "GetDataPackResponse", False, False),
    "GetDataPackHistory": ("GetDataPackHistoryRequest", "GetDataPackHistoryResponse", False, False),
    "GetStatistics": ("GetStatisticsRequest", "GetStatisticsResponse", False, False),
    "IngestEpisodes": ("IngestEpisodesRequest", "IngestEpisodesResponse", True, True),
    "PutBaseline": ("PutBaselineRequest", "PutBaselineResponse", False, False),
    "ListBaselines": ("ListBaselinesRequest", "ListBaselinesResponse", False, False),
    "UpdateTrainingUsage": ("UpdateTrainingUsageRequest", "UpdateTrainingUsageResponse", False, False),
    "ListTasks": ("ListTasksRequest", "ListTasksResponse", False, False),
    "ExportPortable": ("ExportPortableRequest", "ExportPortableResponse", False, True),
}


@pytest.fixture
def channel(server, data_root):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


@pytest.fixture
def reflected(channel):
    """A descriptor pool filled only from the server's reflection answers."""
    return descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))


def shapes(service) -> dict:
    return {m.name: (m.input_type.full_name, m.output_type.full_name, m.client_streaming, m.server_streaming)
            for m in service.methods}


def test_reflection_lists_every_service(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    [answer] = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                              timeout=10))
    assert {s.name for s in answer.list_services_response.service} == SERVICES
    assert set(ProtoReflectionDescriptorDatabase(channel).get_services()) == SERVICES


def test_reflection_describes_every_rpc(reflected):
    datapack = reflected.FindServiceByName("datapack.v1.DataPackService")
    assert shapes(datapack) == {name: (f"datapack.v1.{req}", f"datapack.v1.{resp}", cs, ss)
                                for name, (req, resp, cs, ss) in DATAPACK_RPCS.items()}
    adapter = reflected.FindServiceByName("datapack.v1.SkillAdapterService")
    generated = skill_adapter_service_pb2.DESCRIPTOR.services_by_name["SkillAdapterService"]
    assert len(adapter.methods) == 15
    assert shapes(adapter) == shapes(generated)
    assert shapes(adapter)["GenerateSkillCurriculum"][3] is True  # streamed, as documented

    # Each file the server reflects is the schema of protos/ (the generated
    # code is proven fresh by `make check-protos`), messages and fields alike.
    generated_files = {"datapack/v1/datapack.proto": datapack_service_pb2.DESCRIPTOR.dependencies[0],
                       "datapack/v1/datapack_service.proto": datapack_service_pb2.DESCRIPTOR,
                       "datapack/v1/skill_adapter_service.proto": skill_adapter_service_pb2.DESCRIPTOR}
    files = {}
    for name, generated_file in generated_files.items():
        got, want = descriptor_pb2.FileDescriptorProto(), descriptor_pb2.FileDescriptorProto()
        reflected.FindFileByName(name).CopyToProto(got)
        generated_file.CopyToProto(want)
        assert got == want, name
        files[name] = got
    [meta] = [m for m in files["datapack/v1/datapack.proto"].message_type if m.name == "DataPackMeta"]
    assert {n for r in meta.reserved_range for n in range(r.start, r.end)} == {28, 29, 31}
    pack = reflected.FindMessageTypeByName("datapack.v1.DataPackMeta")
    assert pack.fields_by_name["attribution"].message_type.fields_by_name["delta_j"].json_name == "delta_J"


def dynamic_call(channel, pool, method: str, request_fields: dict, stream: bool = False):
    """Calls `/service/RPC` with classes made from reflected descriptors only."""
    service_name, rpc = method.rsplit("/", 1)
    m = pool.FindServiceByName(service_name).methods_by_name[rpc]
    request_class = message_factory.GetMessageClass(m.input_type)
    response_class = message_factory.GetMessageClass(m.output_type)
    path = f"/{service_name}/{rpc}"
    kwargs = {"request_serializer": request_class.SerializeToString,
              "response_deserializer": response_class.FromString}
    call = channel.unary_stream(path, **kwargs) if stream else channel.unary_unary(path, **kwargs)
    result = call(request_class(**request_fields), timeout=20)
    return list(result) if stream else result


def test_calls_with_reflected_descriptors_only(channel, reflected, client):
    health = dynamic_call(channel, reflected, "grpc.health.v1.Health/Check", {"service": "datapack.v1.DataPackService"})
    serving = health.DESCRIPTOR.fields_by_name["status"].enum_type.values_by_name["SERVING"].number
    assert health.status == serving

    tasks = dynamic_call(channel, reflected, "datapack.v1.DataPackService/ListTasks", {"store": STORE})
    assert list(tasks.task_names) == client.list_tasks() == [TASK]

    stats = dynamic_call(channel, reflected, "datapack.v1.DataPackService/GetStatistics",
                         {"store": STORE, "task_name": TASK, "filter": {"bucket": "positive", "min_trust": 0.5}})
    expected = client.get_statistics(TASK, bucket="positive", min_trust=0.5)
    assert 0 < stats.total == expected["total"] < 600
    assert stats.positive == stats.total and stats.negative == 0
    assert stats.delta_j_mean == expected["delta_j_mean"] and list(stats.unique_skills) == expected["unique_skills"]

    messages = dynamic_call(channel, reflected, "datapack.v1.DataPackService/QueryDataPacks",
                            {"store": STORE, "task_name": TASK, "sort_by": "delta_j", "limit": 7}, stream=True)
    packs = [p for msg in messages for p in msg.data_packs]
    assert [(p.pack_id, p.attribution.delta_j) for p in packs] == [
        (dp.pack_id, dp.attribution.delta_J) for dp in client.query(TASK, sort_by="delta_j", limit=7)]

    skill = dynamic_call(channel, reflected, "datapack.v1.SkillAdapterService/GetSkillStatistics",
                         {"store": STORE, "task_name": TASK, "skill_id": 3})
    want = SkillDataPackAdapter(client).get_skill_statistics(TASK, 3)
    assert skill.statistics.total_usage == want["total_usage"] > 0
    assert skill.statistics.positive_count == want["positive_count"]


def test_reflected_request_errors_keep_their_status(channel, reflected):
    """A bad argument sent through dynamic classes is refused like any other call."""
    with pytest.raises(grpc.RpcError) as err:
        dynamic_call(channel, reflected, "datapack.v1.DataPackService/GetStatistics",
                     {"store": STORE, "task_name": "../etc"})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
