"""The record schema of docs/schema.md as data.

One table per JSON object kind: (key, kind, default). Normalisation, append
validation, the Python model and the wire codec are all driven from these
tables, so a field is added in exactly two places: here and in the .proto.

Kinds (JSON types of docs/schema.md §1):
  str, num, int, bool        scalars
  str?, num?, int?           the same or null
  [num] [str] [int]          arrays;   [num]? [str]?  nullable arrays
  num3                       array of exactly 3 numbers (vase_offset)
  obj, obj?                  free object (any JSON object), nullable
  {num}                      object: name -> number
  {obj}                      object: name -> free object (energy breakdowns)
  contribs                   attribution.skill_contribs (skill id -> object)
  trace                      skill_trace (array of skill-trace entries)
  P:<Profile>, P?:<Profile>  a nested profile (required / optional)
"""
from __future__ import annotations

import copy
import uuid
from typing import Any

SCHEMA_VERSIONS = ("2.0-energy", "2.1-portable", "2.2-repr")
BUCKETS = ("positive", "negative")
ENGINE_TYPES = ("pybullet", "isaac", "ue5")
SOURCE_TYPES = ("real", "synthetic", "hybrid")
WM_ROLES = ("wm_train", "wm_eval", "wm_synth_source", "wm_synth_target")
# The embedded portable artifacts that reads leave out unless asked (they are
# 30-500 KB per pack; slice_labels_v1 is small and always served).
ARTIFACT_KEYS = ("scene_tracks_v1", "rgb_features_v1", "repr_tokens")
SLICE_BUCKETS = ("low", "mid", "high")
COUNTERFACTUAL_SOURCES = ("scripted_teacher", "hrl_teacher", "vla_planner", "sima_teacher")

# UUID5(URL namespace, "urn:datapack-service"), docs/schema.md §7.4.
DATAPACK_NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:datapack-service")


# One schema table: (JSON key, kind, default) per field, in serialisation order.
Table = tuple[tuple[str, str, Any], ...]

CONDITION: Table = (
    ("task_name", "str", "drawer_vase"),
    ("engine_type", "str", "pybullet"),
    ("world_id", "str", "pyb_drawer_v1"),
    ("vase_offset", "num3", [0.0, 0.0, 0.0]),
    ("drawer_friction", "num", 0.3),
    ("lighting_profile", "str", "normal"),
    ("occlusion_level", "num", 0.0),
    ("econ_preset", "str", "drawer_vase"),
    ("price_per_unit", "num", 5.0),
    ("vase_break_cost", "num", 50.0),
    ("energy_price_kWh", "num", 0.12),
    ("objective_vector", "[num]", [1.0, 1.0, 1.0, 0.5]),
    ("tags", "obj", {}),
)

ATTRIBUTION: Table = (
    ("delta_mpl", "num", 0.0),
    ("delta_error", "num", 0.0),
    ("delta_ep", "num", 0.0),
    ("delta_wage_parity", "num", 0.0),
    ("delta_J", "num", 0.0),
    ("trust_score", "num", 0.0),
    ("w_econ", "num", 0.0),
    ("lambda_budget", "num", 0.0),
    ("world_model_horizon", "int", 0),
    ("world_model_trust_over_horizon", "[num]", []),
    ("source_type", "str", "real"),
    ("wm_model_id", "str?", None),
    ("wm_horizon_used", "int?", None),
    ("wm_branch_depth", "int?", None),
    ("wm_trust_over_horizon", "[num]?", None),
    ("zv_stats", "obj?", None),
    ("mvd_score", "num?", None),
    ("econ_weight_final", "num?", None),
    ("used_in_training_runs", "[str]", []),
    ("wm_role", "str?", None),
    ("skill_contribs", "contribs", {}),
    ("delta_mpl_model", "num", 0.0),
    ("delta_mpl_data", "num", 0.0),
    ("delta_mpl_energy", "num", 0.0),
    ("rebate_pct", "num", 0.0),
    ("attributable_spread_capture", "num", 0.0),
    ("data_premium", "num", 0.0),
    ("tier", "int", 1),
    ("env_name", "str?", None),
    ("engine_type", "str?", None),
)

ENERGY: Table = (
    ("total_Wh", "num", 0.0),
    ("Wh_per_unit", "num", 0.0),
    ("Wh_per_hour", "num", 0.0),
    ("energy_per_limb", "{obj}", {}),
    ("energy_per_skill", "{obj}", {}),
    ("energy_per_joint", "{obj}", {}),
    ("energy_per_effector", "{obj}", {}),
    ("coordination_metrics", "{num}", {}),
    ("limb_energy_Wh", "{num}", {}),
    ("skill_energy_Wh", "{num}", {}),
)

SIMA: Table = (
    ("instruction", "str", ""),
    ("step_narrations", "[str]", []),
    ("sima_agent_id", "str", "sima_v1"),
    ("source_world", "str", "pyb_drawer_v1"),
    ("derived_skill_plan", "[int]", []),
    ("vla_references", "obj?", None),
    ("narration_count", "int", 0),
    ("average_narration_length", "num", 0.0),
)

OBJECTIVE: Table = (
    ("objective_vector", "[num]", [1.0, 1.0, 1.0, 1.0, 0.0]),
    ("wage_human", "num", 18.0),
    ("energy_price_kWh", "num", 0.12),
    ("market_region", "str", "US"),
    ("task_family", "str", "dishwashing"),
    ("customer_segment", "str", "balanced"),
    ("baseline_mpl_human", "num", 60.0),
    ("baseline_error_human", "num", 0.05),
    ("env_name", "str", "drawer_vase"),
    ("engine_type", "str", "pybullet"),
    ("task_type", "str", "fragility"),
    ("econ_profile_deltas", "[num]?", None),
    ("econ_params_effective", "obj?", None),
    ("reward_weights", "[num]?", None),
)

PROCESS_REWARD: Table = (
    ("phi_star_mean", "num", 0.0),
    ("phi_star_final", "num", 0.0),
    ("phi_star_delta", "num", 0.0),
    ("conf_mean", "num", 0.5),
    ("conf_p10", "num", 0.5),
    ("conf_min", "num", 0.5),
    ("r_shape_sum", "num", 0.0),
    ("disagreement_mean", "num", 0.0),
    ("disagreement_max", "num", 0.0),
    ("entropy_mean", "num", 0.0),
    ("entropy_max", "num", 0.0),
    ("phi_B_disabled", "bool", False),
    ("orchestrator_override", "obj?", None),
)

EMBODIMENT: Table = (
    ("w_embodiment", "num", 1.0),
    ("embodiment_quality_score", "num", 1.0),
    ("trust_override_candidate", "bool", False),
    ("physically_impossible_contacts", "int", 0),
    ("contact_coverage_pct", "num", 0.0),
    ("semantic_confidence_mean", "num", 0.0),
    ("drift_score", "num", 0.0),
    ("embodiment_profile_npz", "str?", None),
    ("affordance_graph_npz", "str?", None),
    ("skill_segments_npz", "str?", None),
    ("cost_breakdown_json", "str?", None),
    ("value_attribution_json", "str?", None),
    ("drift_report_json", "str?", None),
    ("calibration_targets_json", "str?", None),
    ("summary_jsonl", "str?", None),
    ("cost_summary", "obj?", None),
    ("value_summary", "obj?", None),
    ("diagnostics", "obj?", None),
)

GUIDANCE: Table = (
    ("is_good", "bool", False),
    ("quality_label", "str", ""),
    ("env_name", "str", ""),
    ("engine_type", "str", ""),
    ("task_type", "str", ""),
    ("customer_segment", "str", ""),
    ("objective_vector", "[num]", []),
    ("main_driver", "str", ""),
    ("delta_mpl", "num", 0.0),
    ("delta_error", "num", 0.0),
    ("delta_energy_Wh", "num", 0.0),
    ("delta_J", "num", 0.0),
    ("semantic_tags", "[str]", []),
    ("orchestrator_plan_id", "str?", None),
    ("orchestrator_step_index", "int?", None),
)

PROFILES: dict[str, Table] = {
    "ConditionProfile": CONDITION,
    "AttributionProfile": ATTRIBUTION,
    "EnergyProfile": ENERGY,
    "SimaAnnotation": SIMA,
    "ObjectiveProfile": OBJECTIVE,
    "ProcessRewardProfile": PROCESS_REWARD,
    "EmbodimentProfileSummary": EMBODIMENT,
    "GuidanceProfile": GUIDANCE,
}

# The 41 top-level keys in serialisation order (docs/schema.md §3). The defaults of
# pack_id, env_type and created_at depend on the record; see normalize_record.
TOP: Table = (
    ("schema_version", "str", "2.0-energy"),
    ("pack_id", "str", None),
    ("task_name", "str", "drawer_vase"),
    ("env_type", "str", None),
    ("brick_id", "str?", None),
    ("bucket", "str", "positive"),
    ("semantic_tags", "[str]", []),
    ("econ_semantic_tags", "[str]?", None),
    ("semantic_quality", "num?", None),
    ("energy_driver_tags", "[str]", []),
    ("condition", "P:ConditionProfile", None),
    ("attribution", "P:AttributionProfile", None),
    ("energy", "P:EnergyProfile", None),
    ("agent_profile", "obj", {}),
    ("skill_trace", "trace", []),
    ("episode_metrics", "obj", {}),
    ("sima_annotation", "P?:SimaAnnotation", None),
    ("vla_plan", "obj?", None),
    ("objective_profile", "P?:ObjectiveProfile", None),
    ("process_reward_profile", "P?:ProcessRewardProfile", None),
    ("embodiment_profile", "P?:EmbodimentProfileSummary", None),
    ("counterfactual_plan", "obj?", None),
    ("counterfactual_source", "str?", None),
    ("created_at", "str", None),
    ("episode_id", "str?", None),
    ("episode_index", "int?", None),
    ("raw_data_path", "str?", None),
    ("scene_tracks_v1", "obj?", None),
    ("rgb_features_v1", "obj?", None),
    ("slice_labels_v1", "obj?", None),
    ("repr_tokens", "obj?", None),
    ("guidance_profile", "P?:GuidanceProfile", None),
    ("vla_action_summary", "obj?", None),
    ("episode_embedding", "[num]?", None),
    ("epiplexity", "obj?", None),
    ("epiplexity_summary", "obj?", None),
    ("signal_bundle", "obj?", None),
    ("graph_summary_v1", "obj?", None),
    ("econ_tensor_v1", "obj?", None),
    ("regal_annotations", "obj?", None),
    ("regal_annotations_sha", "str?", None),
)

TOP_KEYS = tuple(k for k, _, _ in TOP)
REQUIRED_PROFILES = ("condition", "attribution", "energy")
OPTIONAL_PROFILES = ("sima_annotation", "objective_profile", "process_reward_profile",
                     "embodiment_profile", "guidance_profile")
PROFILE_OF_KEY = {k: kind.split(":", 1)[1] for k, kind, _ in TOP if kind.startswith("P")}

_IMMUTABLE = (str, int, float, bool, type(None))


def default_value(default: Any) -> Any:
    """A fresh copy of a table default (lists and dicts are never shared)."""
    return default if isinstance(default, _IMMUTABLE) else copy.deepcopy(default)


def default_profile(name: str) -> dict:
    return {k: default_value(d) for k, _, d in PROFILES[name]}


def normalize_profile(table, value: dict) -> dict:
    """A profile object with every modelled key of `table` present, in table
    order (missing keys get their defaults), then its unmodelled keys."""
    out = {}
    for key, _kind, default in table:
        out[key] = value[key] if key in value else default_value(default)
    if len(value) > len(out) or any(k not in out for k in value):
        for key, v in value.items():
            if key not in out:
                out[key] = v
    return out


def normalize_record(rec: dict, *, pack_id: str | None = None,
                     created_at: str | None = None) -> dict:
    """docs/schema.md §8.2: every modelled key present, in schema order, unmodelled
    keys after them in their original order; present values untouched.

    `pack_id` / `created_at` are the values to use when the record's own are
    missing, null or empty (derived for stored lines, generated for new ones).
    """
    out: dict = {}
    for key, kind, default in TOP:
        if key in rec:
            v = rec[key]
            if kind[0] == "P":
                if type(v) is dict:
                    if kind[1] == ":" or v:  # required profile, or non-empty optional
                        v = normalize_profile(PROFILES[PROFILE_OF_KEY[key]], v)
            out[key] = v
        elif kind.startswith("P:"):
            out[key] = default_profile(PROFILE_OF_KEY[key])
        elif key == "env_type":
            tn = rec.get("task_name")
            out[key] = tn if isinstance(tn, str) else "drawer_vase"
        else:
            out[key] = default_value(default)
    if pack_id is not None and not _present_str(out["pack_id"]):
        out["pack_id"] = pack_id
    if created_at is not None and not _present_str(out["created_at"]):
        out["created_at"] = created_at
    if len(rec) > len(TOP) or any(k not in out for k in rec):
        for key, v in rec.items():
            if key not in out:
                out[key] = v
    return out


def _present_str(v: Any) -> bool:
    return v is not None and v != ""


def derived_pack_id(file_name: str, line_number: int) -> str:
    """docs/schema.md §7.4: stable pack_id of a stored line that has none."""
    return str(uuid.uuid5(DATAPACK_NS, f"line:{file_name}:{line_number}"))


def derived_created_at(line_number: int) -> str:
    """docs/schema.md §7.4: 1970-01-01T00:00:00 UTC plus <line number> microseconds."""
    secs, micros = divmod(line_number, 1_000_000)
    import datetime as _dt
    t = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=secs)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}+00:00"


def utc_now() -> str:
    """Current UTC time as YYYY-MM-DDTHH:MM:SS.ffffff+00:00 (docs/schema.md §7.3)."""
    import datetime as _dt
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"
