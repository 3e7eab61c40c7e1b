"""Query arguments on the wire: FilterSpec / QuerySpec <-> DataPackFilter /
QueryDataPacksRequest. What arrives is validated by the same functions the
embedded repository uses (`records.query.make_filter` / `make_query`)."""
from __future__ import annotations

from typing import Any

from datapack_client.errors import invalid
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.query import (
    SLICE_LABEL_BUCKETS,
    SLICE_LABEL_FLAGS,
    UNSET,
    FilterSpec,
    QuerySpec,
    make_filter,
    make_query,
)
from datapack_client.records.stored import LineBatch
from datapack_client.records.validation_rules import shown

# Queries that may return more packs than this (or every match) ask for the
# stored JSON lines: no decoding on either side until a pack is read, where
# messages cost a protobuf parse per pack (cheaper for a few packs read whole).
BULK_READ_MIN = 1000


def filter_to_proto(f: FilterSpec) -> spb.DataPackFilter:
    msg = spb.DataPackFilter(include_sima=f.include_sima, include_counterfactual=f.include_counterfactual)
    for name in ("bucket", "engine_type", "skill_id", "min_delta_j", "max_delta_j", "min_mvd_score", "source_type",
                 "wm_model_id", "wm_role", "schema_version", *SLICE_LABEL_FLAGS, *SLICE_LABEL_BUCKETS):
        v = getattr(f, name)
        if v is not None:
            setattr(msg, name, v)
    msg.min_trust = f.min_trust
    msg.objective_similarity_threshold = f.objective_similarity_threshold
    if f.objective_vector is not None:
        msg.objective_vector.values.extend(f.objective_vector)
    for op in f.condition_filters:
        cf = msg.condition_filters.add(key=op.key)
        v = op.value
        if type(v) is bool:
            cf.bool_value = v
        elif type(v) in (int, float):
            cf.number_value = v
        elif type(v) is str:
            cf.string_value = v
        else:
            cf.number_list.values.extend(v)
    return msg


def filter_from_proto(msg: spb.DataPackFilter) -> FilterSpec:
    """Validate a filter that arrived over the wire (same rules as make_filter)."""
    def opt(name):
        return getattr(msg, name) if msg.HasField(name) else None

    cond = None
    if msg.condition_filters:
        cond = {}
        for cf in msg.condition_filters:
            which = cf.WhichOneof("value")
            if which is None:
                raise invalid(f"condition_filters.{cf.key}", "CONDITION_FILTER_INVALID",
                              f"condition filter {shown(cf.key)} has no value")
            v = getattr(cf, which)
            cond[cf.key] = list(v.values) if which == "number_list" else v
    return make_filter(
        bucket=opt("bucket"), engine_type=opt("engine_type"), skill_id=opt("skill_id"),
        min_trust=msg.min_trust if msg.HasField("min_trust") else 0.0,
        min_delta_j=opt("min_delta_j"), max_delta_j=opt("max_delta_j"), min_mvd_score=opt("min_mvd_score"),
        source_type=opt("source_type"),
        objective_vector=list(msg.objective_vector.values) if msg.HasField("objective_vector") else None,
        objective_similarity_threshold=(msg.objective_similarity_threshold
                                        if msg.HasField("objective_similarity_threshold") else 0.9),
        condition_filters=cond, include_sima=msg.include_sima,
        include_counterfactual=msg.include_counterfactual, wm_model_id=opt("wm_model_id"), wm_role=opt("wm_role"),
        schema_version=opt("schema_version"), is_occluded=opt("is_occluded"), is_dynamic=opt("is_dynamic"),
        is_static=opt("is_static"), occlusion_bucket=opt("occlusion_bucket"), motion_bucket=opt("motion_bucket"))


def query_to_proto(store: str, task_name: str, q: QuerySpec, *, json_lines: bool = False,
                   batch_size: int | None = None) -> spb.QueryDataPacksRequest:
    """The request of a query; json_lines: the packs travel as their stored
    lines (bulk reads), batch_size packs per message at most."""
    req = spb.QueryDataPacksRequest(store=store, task_name=task_name, filter=filter_to_proto(q.filter),
                                    sort_descending=q.sort_descending,
                                    view=spb.DATA_PACK_VIEW_FULL if q.include_artifacts else spb.DATA_PACK_VIEW_BASIC)
    if json_lines:
        req.encoding = spb.RECORD_ENCODING_JSON_LINES
    if batch_size is not None:
        req.batch_size = batch_size
    if q.sort_by is not None:
        req.sort_by = q.sort_by
    if q.limit is None:
        req.unlimited = True
    else:
        req.limit = min(q.limit, 2 ** 63 - 1)  # "at most n": beyond int64 it means the same as 2^63-1
    return req


def query_from_proto(req: spb.QueryDataPacksRequest) -> QuerySpec:
    f = filter_from_proto(req.filter)
    if req.HasField("limit") and req.unlimited:
        raise invalid("limit", "LIMIT_INVALID", "limit and unlimited are mutually exclusive")
    limit: Any = None if req.unlimited else (req.limit if req.HasField("limit") else UNSET)
    sort_by = req.sort_by if req.HasField("sort_by") else None
    q = make_query(sort_by=sort_by, sort_descending=req.sort_descending if req.HasField("sort_descending") else True,
                   limit=limit)
    if req.view not in (spb.DATA_PACK_VIEW_UNSPECIFIED, spb.DATA_PACK_VIEW_BASIC, spb.DATA_PACK_VIEW_FULL):
        raise invalid("view", "ARGUMENT_INVALID", f"view {req.view} is not a DataPackView")
    return QuerySpec(f, q.sort_by, q.sort_descending, q.limit, req.view == spb.DATA_PACK_VIEW_FULL)


def read_options_from_proto(req: spb.QueryDataPacksRequest, max_batch: int) -> tuple[bool, int | None]:
    """(whether the packs travel as JSON lines, packs per message or None:
    the server's choice) of a query request."""
    if req.encoding not in (spb.RECORD_ENCODING_UNSPECIFIED, spb.RECORD_ENCODING_PROTO,
                            spb.RECORD_ENCODING_JSON_LINES):
        raise invalid("encoding", "ARGUMENT_INVALID", f"encoding {req.encoding} is not a RecordEncoding")
    if req.HasField("batch_size") and not 1 <= req.batch_size <= max_batch:
        raise invalid("batch_size", "ARGUMENT_INVALID", f"batch_size must be in [1, {max_batch}], got {req.batch_size}")
    return req.encoding == spb.RECORD_ENCODING_JSON_LINES, req.batch_size if req.HasField("batch_size") else None


# The largest limit QueryDataPacksPage answers (in one message).
PAGE_MAX_LIMIT = 10_000


def check_page_request(req: spb.QueryDataPacksRequest) -> None:
    """QueryDataPacksPage's own rules: a limit of at most PAGE_MAX_LIMIT, messages."""
    if req.unlimited or not req.HasField("limit") or req.limit > PAGE_MAX_LIMIT:
        raise invalid("limit", "LIMIT_INVALID",
                      f"QueryDataPacksPage answers a limit of at most {PAGE_MAX_LIMIT} packs; use QueryDataPacks")
    if req.encoding == spb.RECORD_ENCODING_JSON_LINES:
        raise invalid("encoding", "ARGUMENT_INVALID", "QueryDataPacksPage sends DataPackMeta messages only: encoding "
                      "must be RECORD_ENCODING_PROTO")


def line_batch_to_proto(b: LineBatch, with_lines: bool = True) -> spb.JsonLinesBatch:
    """The batch's message (without its lines: for a sender that frames them itself)."""
    return spb.JsonLinesBatch(lines=b.lines if with_lines else b"", pack_ids=b.pack_ids, revisions=b.revisions,
                              line_numbers=b.line_numbers, omitted=b.omitted or ())


def line_batch_from_proto(msg: spb.JsonLinesBatch, task_name: str) -> LineBatch:
    return LineBatch(task_name, msg.lines, list(msg.pack_ids), list(msg.revisions), list(msg.line_numbers),
                     list(msg.omitted) or None)


def statistics_request(store: str, task_name: str, f: FilterSpec | None) -> spb.GetStatisticsRequest:
    """get_statistics' request; `f` None: every pack of the task."""
    req = spb.GetStatisticsRequest(store=store, task_name=task_name)
    if f is not None:
        req.filter.CopyFrom(filter_to_proto(f))
    return req


_STATISTICS_NUMBERS = ("positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max", "trust_mean",
                       "trust_std")


def statistics_from_proto(s: spb.GetStatisticsResponse) -> dict:
    """get_statistics' answer: the counts, and the rest only when a pack matched."""
    out: dict = {"total": s.total, "positive": s.positive, "negative": s.negative}
    if s.HasField("positive_ratio"):
        for k in _STATISTICS_NUMBERS:
            out[k] = getattr(s, k)
        out["unique_skills"] = list(s.unique_skills)
        out["engine_types"] = {c.name: c.count for c in s.engine_types}
        out["source_types"] = {c.name: c.count for c in s.source_types}
        out["with_sima"] = s.with_sima
        out["with_counterfactual"] = s.with_counterfactual
    return out
