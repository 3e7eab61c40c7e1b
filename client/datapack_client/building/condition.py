"""The stored condition and the semantic tags (docs/building.md §6, §2.2 steps 6
and 10)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from datapack_client.building.inputs import BuildInputs, EconValues
from datapack_client.building.values import is_number, mapping_or_empty, number, plain, str_list
from datapack_client.errors import invalid
from datapack_client.records.model import Profile, copy_json

DEFAULT_ENERGY_PRICE_KWH = 0.12
WORLD_PREFIX = {"pybullet": "pyb", "isaac": "isaac", "ue5": "ue5"}
CONDITION_DEFAULTS = {"vase_offset": [0.0, 0.0, 0.0], "drawer_friction": 0.3, "lighting_profile": "normal",
                      "occlusion_level": 0.0}


def _checked_scene_values(cp: Mapping) -> dict[str, Any]:
    """vase_offset, drawer_friction, lighting_profile, occlusion_level of the
    condition profile (defaults when absent), checked."""
    values: dict[str, Any] = {}
    for key, default in CONDITION_DEFAULTS.items():
        v = cp.get(key)
        values[key] = copy_json(default) if v is None else plain(v)
    off = values["vase_offset"]
    if type(off) is not list or len(off) != 3 or not all(is_number(x) for x in off):
        raise invalid("condition.vase_offset", "FIELD_TYPE",
                      f"condition vase_offset must be 3 numbers, got {cp.get('vase_offset')!r}")
    for i, x in enumerate(off):
        if not math.isfinite(x):
            raise invalid(f"condition.vase_offset[{i}]", "NUMBER_NOT_FINITE",
                          f"condition vase_offset[{i}] must be a finite number, got {x!r}")
    for key in ("drawer_friction", "occlusion_level"):
        number(values[key], f"condition.{key}")
    if type(values["lighting_profile"]) is not str:
        raise invalid("condition.lighting_profile", "FIELD_TYPE",
                      f"condition lighting_profile must be a string, got {values['lighting_profile']!r}")
    return values


def stored_condition(cp: Mapping, env_type: str, econ: EconValues, alpha: list[float]) -> dict:
    """§2.2 step 6: the stored condition, fields in schema order."""
    engine = plain(cp.get("engine_type")) or "pybullet"
    world_id = plain(cp.get("world_id"))
    if not world_id:
        prefix = WORLD_PREFIX.get(engine, str(engine)) if type(engine) is str else str(engine)
        world_id = f"{prefix}_{env_type}_v1"
    values = _checked_scene_values(cp)
    return {
        "task_name": env_type,
        "engine_type": engine,
        "world_id": world_id,
        "vase_offset": values["vase_offset"],
        "drawer_friction": values["drawer_friction"],
        "lighting_profile": values["lighting_profile"],
        "occlusion_level": values["occlusion_level"],
        "econ_preset": plain(cp.get("econ_preset")) or econ.preset,
        "price_per_unit": econ.price_per_unit,
        "vase_break_cost": econ.vase_break_cost if econ.vase_break_cost > 0 else econ.damage_cost,
        "energy_price_kWh": econ.electricity_price_kWh if econ.electricity_price_kWh > 0 else DEFAULT_ENERGY_PRICE_KWH,
        "objective_vector": list(alpha),
        "tags": plain(dict(cp)),
    }


def derive_semantic_tags(condition: Any, env_type: str | None = None, *, vase_broken: bool = False,
                         drawer_stuck: bool = False, success: bool = False) -> list[str]:
    """The derived tags of docs/building.md §6, in table order, from a stored
    condition (dict or ConditionProfile) and the outcome. `env_type` defaults
    to the condition's `task_name`. Wrongly typed condition values count as
    their defaults."""
    c = condition.to_dict() if isinstance(condition, Profile) else mapping_or_empty(condition)
    if env_type is None:
        env_type = c.get("task_name")
    tags: list[str] = []
    if vase_broken:
        tags.append("vase_collision")
    if drawer_stuck:
        tags.append("drawer_jam")
    if success:
        tags.append("task_complete")
    offset = plain(c.get("vase_offset"))
    if not (type(offset) is list and len(offset) == 3 and all(is_number(x) for x in offset)):
        offset = CONDITION_DEFAULTS["vase_offset"]
    if abs(offset[0]) > 0.1 or abs(offset[1]) > 0.1:
        tags.append("offset_vase")
    friction = plain(c.get("drawer_friction"))
    if is_number(friction) and friction > 0.5:
        tags.append("high_friction")
    occlusion = plain(c.get("occlusion_level"))
    if is_number(occlusion) and occlusion > 0.3:
        tags.append("partial_occlusion")
    if c.get("lighting_profile") == "low_light":
        tags.append("low_light")
    if env_type == "drawer_vase":
        tags += ["fragile_glassware", "top_drawer"]
    return tags


def semantic_tags(given: BuildInputs, condition: dict, extra_tags: Any) -> list[str]:
    """§2.2 step 10: the condition profile's tags, then extra_tags, then the
    derived tags; each tag once, first occurrence kept."""
    tags = str_list(given.condition_profile.get("tags"), "condition_profile.tags") + str_list(extra_tags, "extra_tags")
    tags += derive_semantic_tags(condition, given.env_type, vase_broken=given.vase_broken,
                                 drawer_stuck=given.drawer_stuck, success=given.success)
    return list(dict.fromkeys(tags))
