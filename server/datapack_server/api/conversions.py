"""DataPackService messages <-> the façade's domain values (the server's
side; datapack_client.wire holds the conversions both sides share)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from datapack_client.errors import DataPackError, invalid
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.query import UNSET, UsageUpdate, make_usage_update
from datapack_client.wire.episodes import (
    baseline_values_from_proto,
    econ_from_proto,
    episodes_from_proto,
    summary_from_proto,
)
from datapack_server.api.interceptors import error_detail

APPEND_STATUS = {"created": spb.APPEND_STATUS_CREATED, "already_present": spb.APPEND_STATUS_ALREADY_PRESENT}
REVISION_STATUS = {"revised": spb.REVISION_STATUS_REVISED, "unchanged": spb.REVISION_STATUS_UNCHANGED}
# Errors that refuse a streamed batch for what it holds: the stream answers
# with a rejection and goes on. Any other error (a store fault) ends it.
REJECTION_CODES = ("INVALID_ARGUMENT", "ALREADY_EXISTS")
STATISTICS_FIELDS = ("positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max",
                     "trust_mean", "trust_std", "with_sima", "with_counterfactual")


def rejection(err: DataPackError) -> spb.ErrorDetail:
    """The rejection of a streamed batch; re-raises an error that is not one."""
    if err.code not in REJECTION_CODES:
        raise err
    return error_detail(err)


# ---------------------------------------------------------------------- append, ingest

def append_results_to_proto(results: Iterable) -> list[spb.AppendResult]:
    return [spb.AppendResult(index=r.index, pack_id=r.pack_id, task_name=r.task_name, status=APPEND_STATUS[r.status],
                             revision=r.revision, sequence=r.sequence) for r in results]


def rejected_results(raw_records: Sequence[bytes]) -> list[spb.AppendResult]:
    """A REJECTED result per record of a refused batch, naming the record's
    pack and task when it parses."""
    out = []
    for i, raw in enumerate(raw_records):
        try:
            m = pb.DataPackMeta.FromString(raw)
            pack_id, task = m.pack_id, m.task_name
        except Exception:  # noqa: BLE001 - a malformed record still gets its REJECTED slot
            pack_id = task = ""
        out.append(spb.AppendResult(index=i, pack_id=pack_id, task_name=task, status=spb.APPEND_STATUS_REJECTED))
    return out


def ingest_results_to_proto(results: Iterable) -> list[spb.IngestResult]:
    return [spb.IngestResult(index=r.index, pack_id=r.pack_id, task_name=r.task_name, status=APPEND_STATUS[r.status],
                             bucket=r.bucket, delta_j=r.delta_j, sequence=r.sequence) for r in results]


class WireEpisodes:
    """The episodes of an IngestEpisodesRequest as the façade's EpisodeBatch:
    decoded here when they are built in this process; a worker process
    decodes the serialized request itself."""

    def __init__(self, request: spb.IngestEpisodesRequest):
        self.request = request

    def __len__(self) -> int:
        return len(self.request.episodes)

    def builder_inputs(self) -> tuple[list[dict], dict]:
        return episodes_from_proto(self.request.episodes), econ_from_proto(self.request.econ_params)

    def serialized_request(self) -> bytes | None:
        return self.request.SerializeToString()


def baseline_from_proto(request: spb.IngestEpisodesRequest) -> str | dict | None:
    """An ingest's baseline: its name, its values, or None when not given."""
    if not request.HasField("baseline"):
        return None
    which = request.baseline.WhichOneof("source")
    if which == "name":
        return request.baseline.name
    return baseline_values_from_proto(request.baseline.values) if which == "values" else None


# ---------------------------------------------------------------------- baselines

def baseline_source_from_proto(request: spb.PutBaselineRequest) -> tuple[dict | None, list[dict] | None]:
    """(values, episode summaries) of a PutBaseline request, None where unset."""
    which = request.WhichOneof("source")
    if which == "values":
        return baseline_values_from_proto(request.values), None
    if which == "episodes":
        return None, [summary_from_proto(e) for e in request.episodes.episodes]
    return None, None


def named_baseline_to_proto(name: str, v: dict) -> spb.NamedBaseline:
    values = pb.BaselineValues(mpl=v["mpl"], error=v["error"], ep=v["ep"])
    if v.get("wage_parity") is not None:
        values.wage_parity = v["wage_parity"]
    return spb.NamedBaseline(name=name, values=values, episode_count=v.get("episode_count", 0),
                             builtin=v.get("builtin", False))


# ---------------------------------------------------------------------- reads, revisions

def history_to_proto(entries: Iterable[dict]) -> spb.GetDataPackHistoryResponse:
    """The façade's history entries (records serialized) as the response."""
    out = spb.GetDataPackHistoryResponse()
    for e in entries:
        r = out.revisions.add(revision=e["revision"], record=pb.DataPackMeta.FromString(e["record"]))
        if e["reason"] is not None:
            r.reason = e["reason"]
        if e["revised_at"] is not None:
            r.revised_at = e["revised_at"]
        if e["changed_fields"] is not None:
            r.changed_fields.values.extend(e["changed_fields"])
    return out


def statistics_to_proto(s: dict) -> spb.GetStatisticsResponse:
    out = spb.GetStatisticsResponse(total=s["total"], positive=s["positive"], negative=s["negative"])
    if s["total"]:
        for k in STATISTICS_FIELDS:
            setattr(out, k, s[k])
        out.unique_skills.extend(s["unique_skills"])
        out.engine_types.extend(spb.NamedCount(name=k, count=v) for k, v in s["engine_types"].items())
        out.source_types.extend(spb.NamedCount(name=k, count=v) for k, v in s["source_types"].items())
    return out


def usage_update_from_proto(request: spb.UpdateTrainingUsageRequest) -> UsageUpdate:
    """wm_role set: that role; clear_wm_role: cleared (None); neither: kept."""
    has_role = request.HasField("wm_role")
    if has_role and request.clear_wm_role:
        raise invalid("wm_role", "ARGUMENT_INVALID", "wm_role and clear_wm_role are mutually exclusive")
    role: Any = request.wm_role if has_role else (None if request.clear_wm_role else UNSET)
    return make_usage_update(list(request.pack_ids), role, list(request.add_training_runs))


def training_usage_to_proto(results: Iterable[dict]) -> spb.UpdateTrainingUsageResponse:
    return spb.UpdateTrainingUsageResponse(results=[
        spb.TrainingUsageResult(pack_id=r["pack_id"], status=REVISION_STATUS[r["status"]], revision=r["revision"])
        for r in results])
