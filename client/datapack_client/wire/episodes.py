"""Episode inputs on the wire (IngestEpisodes, PutBaseline).

The same functions convert builder arguments to messages (client) and back
(server), so a pack built on the server from the wire is the pack the
client-side builder builds from the same arguments (a test checks this).
An episode is given as a dict of build_datapack_meta_from_episode arguments:
{"episode_info": summary, "condition_profile": {...}, "skill_trace": [...], ...}.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from datapack_client.building.inputs import episode_as_dict, is_object_input
from datapack_client.errors import invalid
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records import jsonio
from datapack_client.records.validation_rules import shown
from datapack_client.wire import codec, packed

_SUMMARY_SCALARS = ("termination_reason", "mpl_episode", "ep_episode", "error_rate_episode",
                    "throughput_units_per_hour", "energy_Wh", "energy_Wh_per_unit", "energy_Wh_per_hour",
                    "profit", "episode_id")
_SUMMARY_NAMED = ("limb_energy_Wh", "skill_energy_Wh", "coordination_metrics")
_SUMMARY_JSON = ("energy_per_limb", "energy_per_skill", "energy_per_joint", "energy_per_effector", "media_refs")


def _carry(field_: str, put: Callable[..., Any], *args: Any, reason: str = "FIELD_TYPE") -> None:
    """put(*args), which sets a message field; a value protobuf cannot hold
    (wrong type, an integer beyond 64 bits, text that is not valid Unicode) is
    the caller's bad argument, refused before anything is sent."""
    try:
        put(*args)
    except (TypeError, ValueError, OverflowError) as exc:
        raise invalid(field_, reason, f"{field_} cannot be sent as given: {shown(str(exc), 200)}") from None


def _set_econ_field(msg: pb.EconParams, fd: Any, v: Any) -> None:
    setattr(msg, fd.name, int(v) if fd.type == fd.TYPE_INT64 else v)


def _copy_packed(target: Any, v: Any) -> None:
    target.CopyFrom(pb.PackedObject(**packed.pack_object(episode_as_dict(v))))


def _copy_message(target: Any, d: dict, name: str) -> None:
    target.CopyFrom(codec.dict_to_message(d, name))


def _append_message(target: Any, d: dict, name: str) -> None:
    target.append(codec.dict_to_message(d, name))


def _json_text(field_: str, value: Any) -> str:
    """JSON text of a free value; the server's builder checks its shape, so the
    embedded repository and the client report the same problems."""
    bad = jsonio.nonfinite_path(value)
    if bad is not None:  # strict JSON on the wire; the builder would say the same
        where = f"{field_}{'' if bad.startswith('[') or not bad else '.'}{bad}"
        raise invalid(where, "NUMBER_NOT_FINITE", f"{where} must be a finite number")
    try:
        return jsonio.dumps_str(value)
    except (TypeError, ValueError) as exc:
        raise invalid(field_, "FIELD_TYPE", f"{field_} is not a JSON value: {shown(str(exc), 200)}") from None


_FIELDS: dict = {}


def _field(msg_cls, key: str) -> str:
    """Proto field name of a JSON key (json_name aware)."""
    names = _FIELDS.get(msg_cls)
    if names is None:
        names = _FIELDS[msg_cls] = {codec.key_of(fd): fd.name for fd in msg_cls.DESCRIPTOR.fields}
    return names[key]


def _num(path: str, v: Any) -> float:
    if type(v) not in (int, float) or not math.isfinite(v):
        raise invalid(path, "FIELD_TYPE" if type(v) not in (int, float) else "NUMBER_NOT_FINITE",
                      f"{path} must be a finite number, got {v!r}")
    return float(v)


# --------------------------------------------------------------------------- summary

def summary_to_proto(summary: Any) -> pb.EpisodeInfoSummary:
    s = episode_as_dict(summary, "episode_info")
    msg = pb.EpisodeInfoSummary()
    for key in _SUMMARY_SCALARS:
        if key in s and s[key] is not None:
            v = s[key]
            value = str(v) if key in ("termination_reason", "episode_id") else _num(f"episode_info.{key}", v)
            _carry(f"episode_info.{key}", setattr, msg, _field(pb.EpisodeInfoSummary, key), value)
    for key in _SUMMARY_NAMED:
        d = s.get(key) or {}
        if not isinstance(d, dict):
            raise invalid(f"episode_info.{key}", "FIELD_TYPE", f"episode_info.{key} must be an object of numbers")
        entries = [pb.NamedNumber(name=str(k), value=_num(f"episode_info.{key}.{k}", x)) for k, x in d.items()]
        _carry(f"episode_info.{key}", getattr(msg, _field(pb.EpisodeInfoSummary, key)).extend, entries)
    for key in _SUMMARY_JSON:
        if s.get(key) is not None:
            setattr(msg, key + "_json", _json_text(f"episode_info.{key}", s[key]))
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
    e = episode_as_dict(econ, "econ_params")
    msg = pb.EconParams()
    for fd in pb.EconParams.DESCRIPTOR.fields:
        key = codec.key_of(fd)
        if key in e and e[key] is not None:
            v = e[key]
            if fd.type not in (fd.TYPE_STRING, fd.TYPE_INT64):
                v = _num(f"econ_params.{key}", v)
            _carry(f"econ_params.{key}", _set_econ_field, msg, fd, v)
    return msg


def econ_from_proto(msg: pb.EconParams) -> dict:
    out = {codec.key_of(fd): getattr(msg, fd.name) for fd in pb.EconParams.DESCRIPTOR.fields}
    if not out["preset"]:
        out["preset"] = "toy"
    return out


def baseline_to_proto(baseline: Any) -> pb.Baseline:
    """A Baseline object, a dict {mpl, error, ep[, wage_parity]}, or a name
    (None: no baseline, which the server rejects with BASELINE_REQUIRED)."""
    if baseline is None:
        return pb.Baseline()
    if isinstance(baseline, str):
        _carry("baseline", lambda: pb.Baseline(name=baseline))
        return pb.Baseline(name=baseline)
    b = episode_as_dict(baseline, "baseline", "BASELINE_INVALID") if not hasattr(baseline, "mpl") else {
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


def put_baseline_request(store: str, name: str, values: Any, episodes: Any) -> spb.PutBaselineRequest:
    """put_baseline's request: the baseline's values, or the episode summaries
    whose means it is (exactly one of them)."""
    req = spb.PutBaselineRequest(store=store, name=name)
    if (values is None) == (episodes is None):
        raise invalid("values", "ARGUMENT_INVALID", "give either the baseline's values or its episodes")
    if episodes is not None:
        req.episodes.episodes.extend(summary_to_proto(e) for e in episodes)
    else:
        req.values.CopyFrom(baseline_to_proto(values).values)
    return req


def named_baseline_from_proto(b: spb.NamedBaseline) -> tuple[str, dict]:
    """(name, {mpl, error, ep, wage_parity, episode_count, builtin}) of a stored baseline."""
    return b.name, {**baseline_values_from_proto(b.values), "episode_count": b.episode_count, "builtin": b.builtin}


def ingest_request(store: str, episodes: list, econ_params: Any, baseline: Any) -> spb.IngestEpisodesRequest:
    """One IngestEpisodes batch (the economics first, then the baseline, then
    each episode: the first bad argument in that order is the one reported)."""
    econ = econ_to_proto(econ_params)
    base = baseline_to_proto(baseline)
    return spb.IngestEpisodesRequest(store=store, econ_params=econ, baseline=base,
                                     episodes=[episode_to_proto(e) for e in episodes])


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
    """The wire form of one episode's builder arguments. Values of the wrong
    shape that the wire can still carry (a free value as JSON text) are sent and
    refused by the server's builder exactly as the embedded repository refuses
    them; values the wire cannot carry at all are refused here, as
    InvalidArgumentError naming the argument."""
    if not isinstance(args, dict):
        raise invalid("episodes", "ARGUMENT_INVALID",
                      f"an episode must be a dict of builder arguments, got {type(args).__name__}")
    unknown = set(args) - EPISODE_ARGS
    if unknown:
        raise invalid(f"episodes.{sorted(map(str, unknown))[0]}", "ARGUMENT_INVALID",
                      f"unknown episode argument(s) {shown(sorted(map(str, unknown)))} (ingest takes "
                      "build_datapack_meta_from_episode arguments except econ_params and the baseline)")
    if "episode_info" not in args:
        raise invalid("episodes.episode_info", "ARGUMENT_INVALID", "each episode needs its episode_info")
    msg = spb.EpisodeInput(summary=summary_to_proto(args["episode_info"]))
    for key in _JSON_ARGS:
        v = args.get(key)
        if v is not None:
            text = _json_text(f"episodes.{key}", episode_as_dict(v) if is_object_input(v) else v)
            setattr(msg, key + "_json", text)
    for key in _PACKED_ARGS:
        v = args.get(key)
        if v is not None:
            if not is_object_input(v):
                raise invalid(f"episodes.{key}", "FIELD_TYPE", f"{key} must be an object")
            _carry(f"episodes.{key}", _copy_packed, getattr(msg, key), v)
    for key in _SCALAR_ARGS:
        if args.get(key) is not None:
            _carry(f"episodes.{key}", setattr, msg, key, args[key],
                   reason="PACK_ID_REQUIRED" if key == "pack_id" else "FIELD_TYPE")
    for key in _BOOL_ARGS:
        setattr(msg, key, bool(args.get(key, False)))
    for key in (*_LIST_ARGS, "extra_tags", "world_model_trust_over_horizon"):
        v = args.get(key)
        if v is None:
            continue
        if type(v) not in (list, tuple):  # a string would be sent as its characters
            raise invalid(f"episodes.{key}", "FIELD_TYPE", f"{key} must be a list")
        target = getattr(msg, key)
        _carry(f"episodes.{key}", (target.values if key in _LIST_ARGS else target).extend, v)
    trace = args.get("skill_trace")
    if trace:
        if type(trace) not in (list, tuple):
            raise invalid("episodes.skill_trace", "FIELD_TYPE", "skill_trace must be a list of entries")
        for j, e in enumerate(trace):
            if not isinstance(e, dict):
                raise invalid(f"episodes.skill_trace[{j}]", "SKILL_ID_INVALID", f"skill_trace[{j}] must be an object")
            _carry(f"episodes.skill_trace[{j}]", _append_message, msg.skill_trace, e, "SkillTraceEntry")
    for key, name in _PROFILE_ARGS.items():
        v = args.get(key)
        if v is not None:
            d = episode_as_dict(v, f"episodes.{key}", "FIELD_TYPE")
            _carry(f"episodes.{key}", _copy_message, getattr(msg, key), d, name)
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
