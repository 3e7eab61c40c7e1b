"""Adapter results <-> SkillAdapterService messages (docs/adapter.md §4).

Used by the server (encode) and the client (decode), so every analysis returns
the same Python values, key orders and types through either transport. Packs
travel as typed DataPackMeta messages; free-form values as JSON text.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import skill_adapter_service_pb2 as apb
from datapack_client.records import jsonio
from datapack_client.records.model import DataPackMeta
from datapack_client.records.query import FilterSpec
from datapack_client.records.results import SkillValueMatrix
from datapack_client.wire import codec
from datapack_client.wire.fastdecode import record_from_message
from datapack_client.wire.query import filter_to_proto

_STAT_OPTIONAL = ("success_rate", "delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max", "trust_mean",
                  "w_econ_mean", "skill_delta_mpl_mean", "skill_delta_error_mean")


def pack_to_proto(dp: DataPackMeta) -> pb.DataPackMeta:
    msg = codec.dict_to_message(dp.json_object())
    msg.revision = dp.revision
    return msg


def pack_from_proto(msg: pb.DataPackMeta) -> DataPackMeta:
    return record_from_message(msg, msg.revision or 1)


def _j(v: Any) -> str:
    return jsonio.dumps_str(v)


def _unj(s: str) -> Any:
    return jsonio.loads(s)


# ---------------------------------------------------------------------- skill statistics

def stats_to_proto(d: dict) -> apb.SkillStatistics:
    msg = apb.SkillStatistics(skill_id=d["skill_id"], skill_name=d["skill_name"], total_usage=d["total_usage"],
                              positive_count=d["positive_count"], negative_count=d["negative_count"],
                              used="success_rate" in d)
    for k in _STAT_OPTIONAL:
        if d.get(k) is not None:
            setattr(msg, k, d[k])
    return msg


def stats_from_proto(msg: apb.SkillStatistics) -> dict:
    d = {"skill_id": msg.skill_id, "skill_name": msg.skill_name, "total_usage": msg.total_usage,
         "positive_count": msg.positive_count, "negative_count": msg.negative_count}
    if msg.used:
        for k in _STAT_OPTIONAL:
            d[k] = getattr(msg, k) if msg.HasField(k) else None
    return d


# ---------------------------------------------------------------------- per-method encoders / decoders

def encode(method: str, result: Any):
    """The response message of an analysis result."""
    if method == "get_skill_statistics":
        return apb.GetSkillStatisticsResponse(statistics=stats_to_proto(result))
    if method == "get_all_skills_performance":
        return apb.GetAllSkillsPerformanceResponse(skills=[stats_to_proto(v) for v in result.values()])
    if method == "get_skill_training_data":
        return apb.GetSkillTrainingDataResponse(samples=[apb.TrainingSample(
            pack_id=s["pack_id"], skill_id=s["skill_id"], params_json=_j(s["params"]),
            duration_json=_j(s["duration"]), local_metrics_json=_j(s["local_metrics"]), delta_j=s["delta_j"],
            trust_score=s["trust_score"], w_econ=s["w_econ"], condition_json=_j(s["condition"]),
            semantic_tags=s["semantic_tags"]) for s in result])
    if method == "get_skill_failure_modes":
        out = apb.GetSkillFailureModesResponse()
        for f in result:
            m = out.failure_modes.add(pack_id=f["pack_id"], delta_j=f["delta_j"], semantic_tags=f["semantic_tags"],
                                      condition_json=_j(f["condition"]), counterfactual_json=_j(f["counterfactual"]),
                                      skill_entry_json=_j(f["skill_entry"]))
            if f["counterfactual_source"] is not None:
                m.counterfactual_source = f["counterfactual_source"]
        return out
    if method == "get_skill_sequence_patterns":
        return apb.GetSkillSequencePatternsResponse(patterns=[
            apb.SequencePattern(skill_ids=list(k), count=v) for k, v in result.items()])
    if method == "compute_skill_value_matrix":
        return apb.ComputeSkillValueMatrixResponse(matrix=apb.SkillValueMatrix(
            skill_ids=result.skill_ids, skill_names=result.skill_names, conditions=result.conditions,
            rows=[apb.SkillValueRow(values=v, counts=c) for v, c in zip(result.values, result.counts)],
            skipped_entries=result.skipped_entries))
    if method == "recommend_skill_for_condition":
        return apb.RecommendSkillForConditionResponse(recommendations=[
            apb.SkillRecommendation(skill_id=s, mean_delta_j=m) for s, m in result])
    if method == "extract_contrastive_pairs":
        return apb.ExtractContrastivePairsResponse(pairs=[
            apb.ContrastivePair(positive=pack_to_proto(p), negative=pack_to_proto(n)) for p, n in result])
    if method == "get_env_type_statistics":
        return apb.GetEnvTypeStatisticsResponse(env_types=[apb.EnvTypeStatistics(env_type=k, **v)
                                                           for k, v in result.items()])
    if method == "get_datapack_ids_for_skill":
        return apb.GetDatapackIdsForSkillResponse(pack_ids=result)
    if method == "summarize_energy_usage":
        out = apb.SummarizeEnergyUsageResponse(n_packs=result["n_packs"])
        if result["n_packs"]:
            for k in ("total_wh_mean", "total_wh_std", "wh_per_unit_mean", "wh_per_unit_std"):
                setattr(out, k, result[k])
            out.limb_totals.extend(pb.NamedNumber(name=k, value=v) for k, v in result["limb_totals"].items())
            out.skill_totals.extend(pb.NamedNumber(name=k, value=v) for k, v in result["skill_totals"].items())
        return out
    if method == "skill_report":
        return apb.ExportSkillReportResponse(report_json=_j(result))
    raise KeyError(method)


def curriculum_messages(levels: list, chunk: int = 256):
    """GenerateSkillCurriculum responses: each level in chunks of its packs."""
    for lv in levels:
        summary = lv["conditions_summary"]
        packs = lv["datapacks"]
        for start in range(0, max(len(packs), 1), chunk):
            yield apb.GenerateSkillCurriculumResponse(level=apb.CurriculumLevel(
                level=lv["level"], difficulty=lv["difficulty"], n_samples=lv["n_samples"],
                datapacks=[pack_to_proto(p) for p in packs[start:start + chunk]], avg_offset=summary["avg_offset"],
                avg_friction=summary["avg_friction"], avg_occlusion=summary["avg_occlusion"]))


def curriculum_from_messages(messages) -> list:
    levels: list = []
    for msg in messages:
        lv = msg.level
        if not levels or levels[-1]["level"] != lv.level:
            levels.append({"level": lv.level, "difficulty": lv.difficulty, "n_samples": lv.n_samples,
                           "datapacks": [], "conditions_summary": {"avg_offset": lv.avg_offset,
                                                                   "avg_friction": lv.avg_friction,
                                                                   "avg_occlusion": lv.avg_occlusion}})
        levels[-1]["datapacks"].extend(pack_from_proto(p) for p in lv.datapacks)
    return levels


def decode(method: str, msg) -> Any:
    """The Python result of an analysis response (the embedded repo's shape)."""
    if method == "get_skill_statistics":
        return stats_from_proto(msg.statistics)
    if method == "get_all_skills_performance":
        return {s.skill_id: stats_from_proto(s) for s in msg.skills}
    if method == "get_skill_training_data":
        return [{"pack_id": s.pack_id, "skill_id": s.skill_id, "params": _unj(s.params_json),
                 "duration": _unj(s.duration_json), "local_metrics": _unj(s.local_metrics_json), "delta_j": s.delta_j,
                 "trust_score": s.trust_score, "w_econ": s.w_econ, "condition": _unj(s.condition_json),
                 "semantic_tags": list(s.semantic_tags)} for s in msg.samples]
    if method == "get_skill_failure_modes":
        return [{"pack_id": f.pack_id, "delta_j": f.delta_j, "semantic_tags": list(f.semantic_tags),
                 "condition": _unj(f.condition_json), "counterfactual": _unj(f.counterfactual_json),
                 "counterfactual_source": f.counterfactual_source if f.HasField("counterfactual_source") else None,
                 "skill_entry": _unj(f.skill_entry_json)} for f in msg.failure_modes]
    if method == "get_skill_sequence_patterns":
        return {tuple(p.skill_ids): p.count for p in msg.patterns}
    if method == "compute_skill_value_matrix":
        m = msg.matrix
        return SkillValueMatrix(skill_ids=list(m.skill_ids), skill_names=list(m.skill_names),
                                conditions=list(m.conditions), values=[list(r.values) for r in m.rows],
                                counts=[list(r.counts) for r in m.rows], skipped_entries=m.skipped_entries)
    if method == "recommend_skill_for_condition":
        return [(r.skill_id, r.mean_delta_j) for r in msg.recommendations]
    if method == "extract_contrastive_pairs":
        return [(pack_from_proto(p.positive), pack_from_proto(p.negative)) for p in msg.pairs]
    if method == "get_env_type_statistics":
        fields = [f.name for f in apb.EnvTypeStatistics.DESCRIPTOR.fields if f.name != "env_type"]
        return {e.env_type: {k: getattr(e, k) for k in fields} for e in msg.env_types}
    if method == "get_datapack_ids_for_skill":
        return list(msg.pack_ids)
    if method == "summarize_energy_usage":
        if not msg.n_packs:
            return {"n_packs": 0}
        return {"n_packs": msg.n_packs, "total_wh_mean": msg.total_wh_mean, "total_wh_std": msg.total_wh_std,
                "wh_per_unit_mean": msg.wh_per_unit_mean, "wh_per_unit_std": msg.wh_per_unit_std,
                "limb_totals": {e.name: e.value for e in msg.limb_totals},
                "skill_totals": {e.name: e.value for e in msg.skill_totals}}
    if method == "skill_report":
        return _unj(msg.report_json)
    raise KeyError(method)


# ---------------------------------------------------------------------- requests

# method -> (RPC name, streaming, [(argument, kind)]). Kinds: int, int?, float?, str?, bool,
# strs (repeated string), ints? (Int64List or absent), limit (optional int64 + `unlimited`).
_RANGES = [(f"{b}_delta_{k}", "float?") for k in ("mpl", "error", "ep") for b in ("min", "max")]
METHODS: dict[str, tuple[str, bool, list[tuple[str, str]]]] = {
    "get_skill_statistics": ("GetSkillStatistics", False, [("skill_id", "int")]),
    "get_all_skills_performance": ("GetAllSkillsPerformance", False, []),
    "get_skill_training_data": ("GetSkillTrainingData", False,
                                [("skill_id", "int"), ("bucket", "str?"), ("min_trust", "float?"), ("top_k", "limit")]),
    "get_skill_failure_modes": ("GetSkillFailureModes", False, [("skill_id", "int"), ("top_k", "limit")]),
    "get_skill_sequence_patterns": ("GetSkillSequencePatterns", False, [("bucket", "str?"), ("top_k", "limit")]),
    "compute_skill_value_matrix": ("ComputeSkillValueMatrix", False, [("skill_ids", "ints?")]),
    "recommend_skill_for_condition": ("RecommendSkillForCondition", False, [("condition_tags", "strs")]),
    "extract_contrastive_pairs": ("ExtractContrastivePairs", False, [("skill_id", "int"), ("n_pairs", "limit")]),
    "generate_skill_curriculum": ("GenerateSkillCurriculum", True, [("skill_id", "int"), ("n_levels", "int?")]),
    "query_by_energy_driver_tags": ("QueryByEnergyDriverTags", True,
                                    [("energy_tags", "strs"), ("bucket", "str?"), ("match_all", "bool"),
                                     ("limit", "limit")]),
    "query_by_attribution_ranges": ("QueryByAttributionRanges", True,
                                    [*_RANGES, ("min_trust", "float?"), ("max_trust", "float?"), ("bucket", "str?"),
                                     ("limit", "limit")]),
    "get_env_type_statistics": ("GetEnvTypeStatistics", False, []),
    "get_datapack_ids_for_skill": ("GetDatapackIdsForSkill", False, [("skill_id", "int"), ("bucket", "str?")]),
    "summarize_energy_usage": ("SummarizeEnergyUsage", False, []),
    "skill_report": ("ExportSkillReport", False, []),
}
RPC_TO_METHOD = {rpc: m for m, (rpc, _s, _a) in METHODS.items()}


def request_of(method: str, store: str, task_name: str, slice_msg, args: dict):
    rpc, _streaming, spec = METHODS[method]
    req = getattr(apb, rpc + "Request")(store=store, task_name=task_name)
    if slice_msg is not None:
        req.slice.CopyFrom(slice_msg)
    for name, kind in spec:
        if name not in args:
            continue
        v = args[name]
        if kind == "limit":
            if v is None:
                req.unlimited = True
            else:
                setattr(req, name, v)
        elif kind == "strs":
            getattr(req, name).extend(v)
        elif kind == "ints?":
            if v is not None:
                getattr(req, name).values.extend(v)
        elif v is not None:
            setattr(req, name, v)
    return req


def analysis_request(method: str, store: str, task_name: str, slice_spec: FilterSpec | None, args: dict):
    """The request of one analysis: `request_of` with the slice as a DataPackFilter."""
    return request_of(method, store, task_name, filter_to_proto(slice_spec) if slice_spec is not None else None,
                      args)


def is_streamed(method: str) -> bool:
    """Whether the analysis answers with a stream of messages (decode it with decode_stream)."""
    return METHODS[method][1]


def decode_stream(method: str, messages: Iterable) -> Any:
    """The result of a streamed analysis from its response messages."""
    if method == "generate_skill_curriculum":
        return curriculum_from_messages(messages)
    return [pack_from_proto(m) for resp in messages for m in resp.data_packs]


def args_of(method: str, req, unset) -> dict:
    """Arguments of a request; absent optional values are `unset` (the
    adapter's validation then applies the method's default)."""
    _rpc, _streaming, spec = METHODS[method]
    args: dict = {}
    for name, kind in spec:
        if kind == "limit":
            args[name] = None if req.unlimited else (getattr(req, name) if req.HasField(name) else unset)
        elif kind == "strs":
            args[name] = list(getattr(req, name))
        elif kind == "ints?":
            args[name] = list(getattr(req, name).values) if req.HasField(name) else None
        elif kind in ("int", "bool"):
            args[name] = getattr(req, name)
        else:
            args[name] = getattr(req, name) if req.HasField(name) else unset
    return args
