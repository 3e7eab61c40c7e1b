"""Episode results -> DataPackMeta (docs/building.md §1-§7).

    from datapack_client.building.builder import (Baseline, EconParams, EpisodeInfoSummary,
                                                  build_datapack_meta_from_episode)
    dp = build_datapack_meta_from_episode(summary, econ, {"engine_type": "pybullet"},
                                          {"policy": "scripted"}, env_type="drawer_vase",
                                          baseline=Baseline(10.0, 0.05, 2.0), skill_trace=trace)

Pure: no I/O, no clock reads other than the default `created_at`, no randomness
other than the `episode_id` default of a summary built from a dict without one.
Plain Python floats throughout (numpy scalars and arrays given by callers are
converted to plain JSON values). Every record returned passes the append
invariants (docs/repository.md §5, uniqueness aside); otherwise the builder
raises the InvalidArgumentError `append` would raise.

The steps of docs/building.md §2.2 live in the modules beside this one: inputs
(step 1-2), economics (3-5, 7), condition (6, 10), energy (8-9), trace (11-12),
counterfactuals (13), assembly (14-17). This module is the public face.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from datapack_client.building.assembly import (
    assemble_record,
    pack_id_for,
    schema_version_for,
    semantic_quality_of,
    validated_pack,
)
from datapack_client.building.condition import derive_semantic_tags, semantic_tags, stored_condition
from datapack_client.building.counterfactuals import counterfactual, generate_counterfactual_plan
from datapack_client.building.economics import (
    DEFAULT_OBJECTIVE_VECTOR,
    attribution_profile,
    delta_j,
    episode_outcome,
    normalize_objective_vector,
)
from datapack_client.building.energy import energy_driver_tags, energy_profile, infer_energy_driver_tags
from datapack_client.building.inputs import (
    BASELINES,
    ECON_PRESETS,
    SYNTHETIC_NOMINAL,
    Baseline,
    EconParams,
    EpisodeInfoSummary,
    build_inputs,
    resolve_baseline,
)
from datapack_client.building.trace import sima_with_statistics, skill_trace_or_default, whole_episode_trace
from datapack_client.records.model import DataPackMeta, SimaAnnotation

__all__ = [
    "EpisodeInfoSummary", "EconParams", "ECON_PRESETS", "Baseline", "BASELINES", "SYNTHETIC_NOMINAL", "SimaAnnotation",
    "build_datapack_meta_from_episode", "delta_j", "normalize_objective_vector", "infer_energy_driver_tags",
    "derive_semantic_tags", "generate_counterfactual_plan", "sima_with_statistics", "whole_episode_trace",
    "DEFAULT_OBJECTIVE_VECTOR",
]


def build_datapack_meta_from_episode(
    episode_info: Any, econ_params: Any, condition_profile: Mapping[str, Any] | None = None,
    agent_profile: Mapping[str, Any] | None = None, *,
    baseline: Baseline | None = None, baseline_mpl: float | None = None, baseline_error: float | None = None,
    baseline_ep: float | None = None, baseline_wage_parity: float | None = None,
    env_type: str = "dishwashing", pack_id: str | None = None, brick_id: str | None = None,
    extra_tags: Iterable[str] | None = None, semantic_energy_drivers: Iterable[str] | None = None,
    skill_trace: list[dict] | None = None,
    sima_annotation: SimaAnnotation | Mapping[str, Any] | None = None,  # type: ignore[valid-type]
    vla_plan: Mapping[str, Any] | None = None, objective_profile: Any = None, embodiment_profile: Any = None,
    econ_semantic_tags: Iterable[str] | None = None, semantic_quality: float | None = None,
    raw_data_path: str | None = None, scene_tracks_v1: Mapping[str, Any] | None = None,
    rgb_features_v1: Mapping[str, Any] | None = None, slice_labels_v1: Mapping[str, Any] | None = None,
    repr_tokens: Mapping[str, Any] | None = None, schema_version: str | None = None,
    trust_score: float | None = None, w_econ: float | None = None, lambda_budget: float | None = None,
    mvd_score: float | None = None, source_type: str = "real", wm_model_id: str | None = None,
    wm_role: str | None = None, wm_horizon_used: int | None = None, wm_branch_depth: int | None = None,
    wm_trust_over_horizon: list[float] | None = None, world_model_horizon: int = 0,
    world_model_trust_over_horizon: list[float] | None = None, vase_broken: bool = False,
    drawer_stuck: bool = False, success: bool | None = None, failure_reason: str | None = None,
    counterfactual_plan: Mapping[str, Any] | None = None, counterfactual_source: str | None = None,
    episode_index: int | None = None, created_at: str | None = None,
    skill_catalogue: Mapping[int, str] | None = None,
) -> DataPackMeta:
    """One DataPackMeta from one episode (docs/building.md §2.2 steps 1-17).

    Errors: InvalidArgumentError with reason BASELINE_REQUIRED,
    BASELINE_INVALID, OBJECTIVE_VECTOR_INVALID, TASK_NAME_INVALID,
    DELTA_J_NOT_FINITE, SKILL_TRACE_EMPTY, SCHEMA_VERSION_UNKNOWN,
    FIELD_TYPE / NUMBER_NOT_FINITE (wrongly typed or non-finite inputs),
    ARGUMENT_INVALID, or any append invariant (step 17). The steps run, and
    check their arguments, in step order: the first problem is the one raised."""
    given = build_inputs(episode_info, econ_params, condition_profile, agent_profile, env_type=env_type,
                         failure_reason=failure_reason, vase_broken=vase_broken, drawer_stuck=drawer_stuck,
                         success=success)
    base = resolve_baseline(baseline, baseline_mpl, baseline_error, baseline_ep, baseline_wage_parity)
    outcome = episode_outcome(given.summary, given.condition_profile.get("objective_vector"), base,
                              given.vase_broken)
    condition = stored_condition(given.condition_profile, env_type, given.econ, outcome.alpha)
    derived = {  # steps 5-16, evaluated in this order
        "bucket": outcome.bucket,
        "condition": condition,
        "attribution": attribution_profile(
            outcome, base, given.summary.wage_parity, trust_score=trust_score, w_econ=w_econ,
            lambda_budget=lambda_budget, mvd_score=mvd_score, source_type=source_type, wm_model_id=wm_model_id,
            wm_role=wm_role, wm_horizon_used=wm_horizon_used, wm_branch_depth=wm_branch_depth,
            wm_trust_over_horizon=wm_trust_over_horizon, world_model_horizon=world_model_horizon,
            world_model_trust_over_horizon=world_model_trust_over_horizon),
        "energy": energy_profile(given.summary),
        "energy_driver_tags": energy_driver_tags(semantic_energy_drivers, given.summary, econ_params),
        "semantic_tags": semantic_tags(given, condition, extra_tags),
        "skill_trace": skill_trace_or_default(skill_trace, skill_catalogue, env_type),
        "sima_annotation": sima_with_statistics(sima_annotation),
        **counterfactual(counterfactual_plan, counterfactual_source, outcome.bucket, given.failure_reason,
                         given.vase_broken),
        "schema_version": schema_version_for(schema_version, repr_tokens,
                                             (scene_tracks_v1, rgb_features_v1, slice_labels_v1)),
        "semantic_quality": semantic_quality_of(semantic_quality),
    }
    supplied = {"brick_id": brick_id, "vla_plan": vla_plan, "objective_profile": objective_profile,
                "embodiment_profile": embodiment_profile, "episode_index": episode_index,
                "raw_data_path": raw_data_path, "scene_tracks_v1": scene_tracks_v1,
                "rgb_features_v1": rgb_features_v1, "slice_labels_v1": slice_labels_v1, "repr_tokens": repr_tokens}
    record = assemble_record(given, derived, supplied, econ_semantic_tags=econ_semantic_tags, created_at=created_at,
                             pack_id=pack_id_for(pack_id, brick_id, env_type, given.summary.episode_id))
    return validated_pack(record)
