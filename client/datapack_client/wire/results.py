"""Append and ingest results on the wire, and records as the messages a client
sends and receives."""
from __future__ import annotations

from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.model import DataPackMeta
from datapack_client.records.query import UsageUpdate
from datapack_client.records.results import AppendResult, IngestResult
from datapack_client.wire import codec
from datapack_client.wire.fastdecode import record_from_message

APPEND_STATUS_NAMES = {spb.APPEND_STATUS_CREATED: "created", spb.APPEND_STATUS_ALREADY_PRESENT: "already_present"}
REVISION_STATUS_NAMES = {spb.REVISION_STATUS_REVISED: "revised", spb.REVISION_STATUS_UNCHANGED: "unchanged"}


def record_to_message(pack: DataPackMeta | dict) -> pb.DataPackMeta:
    """The message of a record given as DataPackMeta or as its JSON object."""
    d = pack.json_object() if isinstance(pack, DataPackMeta) else pack
    if type(d) is not dict:
        raise TypeError("a datapack must be a DataPackMeta or a dict")
    return codec.dict_to_message(d)


def message_to_record(msg: pb.DataPackMeta) -> DataPackMeta:
    """A received record at its served revision, decoded lazily."""
    return record_from_message(msg, msg.revision or 1)


def append_result_from_proto(r: spb.AppendResult) -> AppendResult:
    return AppendResult(r.index, r.pack_id, r.task_name, APPEND_STATUS_NAMES[r.status], r.revision, r.sequence)


def ingest_result_from_proto(r: spb.IngestResult, offset: int) -> IngestResult:
    """`offset`: the index of the request's first episode among all the caller's episodes."""
    return IngestResult(r.index + offset, r.pack_id, r.task_name, APPEND_STATUS_NAMES[r.status], r.bucket,
                        r.delta_j, r.sequence)


def history_from_proto(resp: spb.GetDataPackHistoryResponse) -> list[dict]:
    """get_history's answer: one dict per revision, oldest first."""
    return [{"revision": r.revision,
             "reason": r.reason if r.HasField("reason") else None,
             "revised_at": r.revised_at if r.HasField("revised_at") else None,
             "changed_fields": list(r.changed_fields.values) if r.HasField("changed_fields") else None,
             "record": message_to_record(r.record)} for r in resp.revisions]


def usage_update_to_proto(store: str, task_name: str, update: UsageUpdate) -> spb.UpdateTrainingUsageRequest:
    req = spb.UpdateTrainingUsageRequest(store=store, task_name=task_name, pack_ids=update.pack_ids,
                                         add_training_runs=update.add_training_runs)
    if update.set_role:
        if update.wm_role is None:
            req.clear_wm_role = True
        else:
            req.wm_role = update.wm_role
    return req


def usage_results_from_proto(resp: spb.UpdateTrainingUsageResponse) -> list[dict]:
    return [{"pack_id": r.pack_id, "status": REVISION_STATUS_NAMES[r.status], "revision": r.revision}
            for r in resp.results]
