"""The energy profile and the energy-driver tags (docs/building.md §5, §2.2 steps
8 and 9)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datapack_client.building.inputs import EpisodeInfoSummary, econ_values, summary_of
from datapack_client.building.values import as_list, is_number, mapping_or_empty, plain


def _wh(x: Any) -> float:
    """x["Wh"]; missing, or not a number -> 0."""
    if isinstance(x, Mapping):
        v = plain(x.get("Wh", 0.0))
        if is_number(v):
            return float(v)
    return 0.0


def infer_energy_driver_tags(summary: Any, econ_params: Any) -> list[str]:
    """The energy-driver tags of docs/building.md §5, in rule order."""
    s = summary_of(summary)
    attempt = econ_values(econ_params).energy_Wh_per_attempt
    tags: list[str] = []
    limbs = mapping_or_empty(s.energy_per_limb)
    total = 0.0
    for x in limbs.values():
        total += _wh(x)

    def fraction(limb: str) -> float:
        return _wh(limbs.get(limb)) / max(total, 1e-6) if total > 0 else 0.0

    if fraction("shoulder") > 0.5:
        tags.append("energy_driver:long_reach")
    if fraction("wrist") > 0.3:
        tags.append("energy_driver:high_friction")
    if total > 0:
        best_name, best_wh = None, 0.0
        for name, x in mapping_or_empty(s.energy_per_joint).items():
            w = _wh(x)
            if w > 0 and (best_name is None or w > best_wh):
                best_name, best_wh = name, w
        if best_name is not None:
            tags.append(f"energy_driver:joint_dominated:{best_name}")
    if s.mpl_episode < 10 and s.energy_Wh > 0.2:
        tags.append("energy_driver:fragility_cautious")
    if s.mpl_episode > 80 and s.energy_Wh_per_unit > attempt:
        tags.append("energy_driver:throughput_push")
    for name, x in mapping_or_empty(s.energy_per_effector).items():
        if _wh(x) > 0:
            tags.append(f"energy_driver:effector:{name}")
    maj = plain(mapping_or_empty(s.coordination_metrics).get("mean_active_joints"))
    if is_number(maj) and maj > 2:
        tags.append("energy_driver:coordination:high_multi_joint_activity")
    return tags


def energy_profile(summary: EpisodeInfoSummary) -> dict:
    """§2.2 step 8: the stored energy profile, from the summary."""
    return {
        "total_Wh": summary.energy_Wh,
        "Wh_per_unit": summary.energy_Wh_per_unit,
        "Wh_per_hour": summary.energy_Wh_per_hour,
        "energy_per_limb": plain(summary.energy_per_limb),
        "energy_per_skill": plain(summary.energy_per_skill),
        "energy_per_joint": plain(summary.energy_per_joint),
        "energy_per_effector": plain(summary.energy_per_effector),
        "coordination_metrics": plain(summary.coordination_metrics),
        "limb_energy_Wh": plain(summary.limb_energy_Wh),
        "skill_energy_Wh": plain(summary.skill_energy_Wh),
    }


def energy_driver_tags(given_tags: Any, summary: EpisodeInfoSummary, econ_params: Any) -> Any:
    """§2.2 step 9: the caller's semantic_energy_drivers when given, else the
    inferred ones."""
    if given_tags is not None:
        return as_list(given_tags)
    return infer_energy_driver_tags(summary, econ_params)
