"""Episode inputs on the wire (IngestEpisodes, PutBaseline).

The same functions convert builder arguments to messages (client) and back
(server), so a pack built on the server from the wire is the pack the
client-side builder builds from the same arguments (a test checks this).
An episode is given as a dict of build_datapack_meta_from_episode arguments:
{"episode_info": summary, "condition_profile": {...}, "skill_trace": [...], ...}.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from . import codec, jsonio, packed
from .errors import invalid
from .proto.datapack.v1 import datapack_pb2 as pb
from .proto.datapack.v1 import datapack_service_pb2 as spb

_SUMMARY_SCALARS = ("termination_reason", "mpl_episode", "ep_episode", "error_rate_episode",
                    "throughput_units_per_hour", "energy_Wh", "energy_Wh_per_unit", "energy_Wh_per_hour",
                    "profit", "episode_id")
_SUMMARY_NAMED = ("limb_energy_Wh", "skill_energy_Wh", "coordination_metrics")
_SUMMARY_JSON = ("energy_per_limb", "energy_per_skill", "energy_per_joint", "energy_per_effector", "media_refs")


def _as_dict(x: Any) -> dict:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return x
    if hasattr(x, "_d"):  # a profile view
        return x._d
    raise TypeError(f"expected a dict or dataclass, got {type(x).__name__}")


_FIELDS: dict = {}


def _field(msg_cls, key: str) -> str:
    """Proto field name of a JSON key (json_name aware)."""
    names = _FIELDS.get(msg_cls)
    if names is None:
        names = _FIELDS[msg_cls] = {codec._key_of(fd): fd.name for fd in msg_cls.DESCRIPTOR.fields}
    return names[key]


def _num(path: str, v: Any) -> float:
    if type(v) not in (int, float) or not math.isfinite(v):
        raise invalid(path, "FIELD_TYPE" if type(v) not in (int, float) else "NUMBER_NOT_FINITE",
                      f"{path} must be a finite number, got {v!r}")
    return float(v)


# --------------------------------------------------------------------------- summary

def summary_to_proto(summary: Any) -> pb.EpisodeInfoSummary:
    s = _as_dict(summary)
    msg = pb.EpisodeInfoSummary()
    for key in _SUMMARY_SCALARS:
        if key in s and s[key] is not None:
            v = s[key]
            setattr(msg, _field(pb.EpisodeInfoSummary, key),
                    str(v) if key in ("termination_reason", "episode_id") else _num(f"episode_info.{key}", v))
    for key in _SUMMARY_NAMED:
        d = s.get(key) or {}
        getattr(msg, _field(pb.EpisodeInfoSummary, key)).extend(
            pb.NamedNumber(name=str(k), value=_num(f"episode_info.{key}.{k}", x)) for k, x in d.items())
    for key in _SUMMARY_JSON:
        if s.get(key) is not None:
            setattr(msg, key + "_json", jsonio.dumps_str(s[key]))
    if s.get("wage_parity") is not None:
        msg.wage_parity = _num("episode_info.wage_parity", s["wage_parity"])
    return msg


def summary_from_proto(msg: pb.EpisodeInfoSummary) -> dict:
    out: dict = {}
    for key in _SUMMARY_SCALARS:
        out[key] = getattr(msg, _field(pb.EpisodeInfoSummary, key))
    if not out["episode_id"]:
        del out["episode_id"]  # the builder gives a new UUID4, as for a dict without one
    if not out["termination_reason"]:
        out["termination_reason"] = "unknown"
    for key in _SUMMARY_NAMED:
        out[key] = {e.name: e.value for e in getattr(msg, _field(pb.EpisodeInfoSummary, key))}
    for key in _SUMMARY_JSON:
        f = key + "_json"
        out[key] = jsonio.loads_strict(getattr(msg, f)) if msg.HasField(f) else {}
    out["wage_parity"] = msg.wage_parity if msg.HasField("wage_parity") else None
    return out


# --------------------------------------------------------------------------- econ params, baselines

def econ_to_proto(econ: Any) -> pb.EconParams:
    e = _as_dict(econ)
    msg = pb.EconParams()
    for fd in pb.EconParams.DESCRIPTOR.fields:
        key = codec._key_of(fd)
        if key in e and e[key] is not None:
            v = e[key]
            setattr(msg, fd.name, v if fd.type == fd.TYPE_STRING else (int(v) if fd.type == fd.TYPE_INT64
                                                                           else _num(f"econ_params.{key}", v)))
    return msg


def econ_from_proto(msg: pb.EconParams) -> dict:
    out = {codec._key_of(fd): getattr(msg, fd.name) for fd in pb.EconParams.DESCRIPTOR.fields}
    if not out["preset"]:
        out["preset"] = "toy"
    return out


def baseline_to_proto(baseline: Any) -> pb.Baseline:
    """A Baseline object, a dict {mpl, error, ep[, wage_parity]}, or a name
    (None: no baseline, which the server rejects with BASELINE_REQUIRED)."""
    if baseline is None:
        return pb.Baseline()
    if isinstance(baseline, str):
        return pb.Baseline(name=baseline)
    b = _as_dict(baseline) if not hasattr(baseline, "mpl") else {
        "mpl": baseline.mpl, "error": baseline.error, "ep": baseline.ep,
        "wage_parity": getattr(baseline, "wage_parity", None)}
    values = pb.BaselineValues(mpl=_num("baseline.mpl", b.get("mpl")), error=_num("baseline.error", b.get("error")),
                               ep=_num("baseline.ep", b.get("ep")))
    if b.get("wage_parity") is not None:
        values.wage_parity = _num("baseline.wage_parity", b["wage_parity"])
    return pb.Baseline(values=values)


def baseline_values_from_proto(v: pb.BaselineValues) -> dict:
    return {"mpl": v.mpl, "error": v.error, "ep": v.ep,
            "wage_parity": v.wage_parity if v.HasField("wage_parity") else None}


# --------------------------------------------------------------------------- episodes

# Builder keyword arguments carried by EpisodeInput besides the summary, by kind.
_JSON_ARGS = ("condition_profile", "agent_profile", "vla_plan", "slice_labels_v1", "counterfactual_plan")
_PACKED_ARGS = ("scene_tracks_v1", "rgb_features_v1", "repr_tokens")
_SCALAR_ARGS = ("env_type", "pack_id", "brick_id", "semantic_quality", "raw_data_path", "schema_version",
                "trust_score", "w_econ", "lambda_budget", "mvd_score", "source_type", "wm_model_id", "wm_role",
                "wm_horizon_used", "wm_branch_depth", "world_model_horizon", "success", "failure_reason",
                "counterfactual_source", "episode_index", "created_at")
_BOOL_ARGS = ("vase_broken", "drawer_stuck")
_LIST_ARGS = ("semantic_energy_drivers", "econ_semantic_tags", "wm_trust_over_horizon")
_PROFILE_ARGS = {"sima_annotation": "SimaAnnotation", "objective_profile": "ObjectiveProfile",
                 "embodiment_profile": "EmbodimentProfileSummary"}
EPISODE_ARGS = frozenset(("episode_info", "extra_tags", "skill_trace", "world_model_trust_over_horizon",
                          *_JSON_ARGS, *_PACKED_ARGS, *_SCALAR_ARGS, *_BOOL_ARGS, *_LIST_ARGS, *_PROFILE_ARGS))


def episode_to_proto(args: dict) -> spb.EpisodeInput:
    unknown = set(args) - EPISODE_ARGS
    if unknown:
        raise invalid(f"episodes.{sorted(unknown)[0]}", "ARGUMENT_INVALID",
                      f"unknown episode argument(s) {sorted(unknown)} (ingest takes build_datapack_meta_from_episode "
                      "arguments except econ_params and the baseline)")
    if "episode_info" not in args:
        raise invalid("episodes.episode_info", "ARGUMENT_INVALID", "each episode needs its episode_info")
    msg = spb.EpisodeInput(summary=summary_to_proto(args["episode_info"]))
    for key in _JSON_ARGS:
        if args.get(key) is not None:
            setattr(msg, key + "_json", jsonio.dumps_str(_as_dict(args[key]) if key != "vla_plan" else args[key]))
    for key in _PACKED_ARGS:
        if args.get(key) is not None:
            value = _as_dict(args[key])
            if type(value) is not dict:
                raise invalid(f"episodes.{key}", "ARGUMENT_INVALID", f"{key} must be a JSON object")
            getattr(msg, key).CopyFrom(pb.PackedObject(**packed.pack_object(value)))
    for key in _SCALAR_ARGS:
        if args.get(key) is not None:
            setattr(msg, key, args[key])
    for key in _BOOL_ARGS:
        setattr(msg, key, bool(args.get(key, False)))
    for key in _LIST_ARGS:
        if args.get(key) is not None:
            getattr(msg, key).values.extend(args[key])
    if args.get("extra_tags"):
        msg.extra_tags.extend(args["extra_tags"])
    if args.get("world_model_trust_over_horizon"):
        msg.world_model_trust_over_horizon.extend(args["world_model_trust_over_horizon"])
    if args.get("skill_trace"):
        msg.skill_trace.extend(codec.dict_to_message(e, "SkillTraceEntry") for e in args["skill_trace"])
    for key, name in _PROFILE_ARGS.items():
        if args.get(key) is not None:
            getattr(msg, key).CopyFrom(codec.dict_to_message(_as_dict(args[key]), name))
    return msg


def episodes_from_proto(episodes) -> list[dict]:
    """episode_from_proto of each wire episode; JSON text that is not strict
    JSON or a non-finite packed number -> InvalidArgumentError naming
    episodes[i].<field>."""
    out = []
    for i, e in enumerate(episodes):
        try:
            out.append(episode_from_proto(e))
        except codec.JsonTextError as exc:
            raise invalid(f"episodes[{i}].{exc.field}", "FIELD_TYPE", str(exc)) from None
        except jsonio.JSONDecodeError as exc:
            raise invalid(f"episodes[{i}]", "FIELD_TYPE", f"a JSON field is not valid JSON: {exc}") from None
    return out


def episode_from_proto(msg: spb.EpisodeInput) -> dict:
    """Builder keyword arguments (plus episode_info) of a wire episode."""
    args: dict = {"episode_info": summary_from_proto(msg.summary)}
    for key in _JSON_ARGS:
        if msg.HasField(key + "_json"):
            args[key] = jsonio.loads_strict(getattr(msg, key + "_json"))
    for key in _PACKED_ARGS:
        if msg.HasField(key):
            args[key] = codec.unpack(getattr(msg, key), True, key)
    for key in _SCALAR_ARGS:
        if msg.HasField(key):
            args[key] = getattr(msg, key)
    for key in _BOOL_ARGS:
        args[key] = getattr(msg, key)
    for key in _LIST_ARGS:
        if msg.HasField(key):
            args[key] = list(getattr(msg, key).values)
    if msg.extra_tags:
        args["extra_tags"] = list(msg.extra_tags)
    if msg.world_model_trust_over_horizon:
        args["world_model_trust_over_horizon"] = list(msg.world_model_trust_over_horizon)
    if msg.skill_trace:
        args["skill_trace"] = [codec.message_to_dict(e, strict=True) for e in msg.skill_trace]
    for key in _PROFILE_ARGS:
        if msg.HasField(key):
            args[key] = codec.message_to_dict(getattr(msg, key), strict=True)
    return args
