"""Skill catalogues (docs/adapter.md §1).

The drawer/vase task has the built-in six-skill HRL catalogue; every other task
has, by default, the one-skill catalogue ``{0: "EPISODE"}`` (the whole episode
as one skill). A configuration ``{task: {id: name}}`` replaces the default for
the tasks it names. Pure data and lookups: no I/O.
"""
from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any


class SkillID(IntEnum):
    """The drawer/vase HRL skills. The ids are fixed across engines."""

    LOCATE_DRAWER = 0
    LOCATE_VASE = 1
    PLAN_SAFE_APPROACH = 2
    GRASP_HANDLE = 3
    OPEN_WITH_CLEARANCE = 4
    RETRACT_SAFE = 5


DRAWER_VASE_TASK = "drawer_vase"

# id -> name of the built-in drawer/vase catalogue (docs/adapter.md §1.1), ids ascending.
DRAWER_VASE_SKILLS: dict[int, str] = {int(s): s.name for s in SkillID}

SKILL_DESCRIPTIONS: dict[int, str] = {
    SkillID.LOCATE_DRAWER.value: "locate and orient towards the drawer handle",
    SkillID.LOCATE_VASE.value: "identify the vase position and estimate collision risk",
    SkillID.PLAN_SAFE_APPROACH.value: "compute a safe approach path avoiding fragile objects",
    SkillID.GRASP_HANDLE.value: "move to and grasp the drawer handle",
    SkillID.OPEN_WITH_CLEARANCE.value: "pull the drawer open while keeping clearance from the vase",
    SkillID.RETRACT_SAFE.value: "retract to a safe home position",
}

# Parameters passed from the high-level to the low-level policy, with their
# defaults (clearances in metres, the rest normalised to [0, 1]).
DEFAULT_SKILL_PARAMS: dict[str, float] = {
    "target_clearance": 0.15,
    "min_clearance_threshold": 0.08,
    "approach_speed": 0.8,
    "pull_speed": 0.6,
    "retract_speed": 0.5,
    "grasp_force": 0.5,
}

# The one-skill catalogue of every other task.
EPISODE_SKILLS: dict[int, str] = {0: "EPISODE"}

BUILTIN_CATALOGUES: dict[str, dict[int, str]] = {DRAWER_VASE_TASK: DRAWER_VASE_SKILLS}

UNKNOWN_SKILL = "UNKNOWN"


def _skill_key(k: Any) -> Any:
    """Catalogue keys from a configuration: ints (a SkillID becomes its int),
    and canonical decimal strings ("4", as JSON keys come back) as ints."""
    if isinstance(k, bool):
        return k
    if isinstance(k, int):
        return int(k)
    if type(k) is str and k.isascii() and k.isdigit() and (k == "0" or k[0] != "0"):
        return int(k)
    return k


def catalogue_for(task: str, overrides: Mapping[str, Mapping[Any, str]] | None = None) -> dict[int, str]:
    """The skill catalogue {id: name} of a task (a new dict, ids ascending).

    ``overrides`` is the configuration ``{task: {id: name}}``; a task it names
    gets that catalogue, every other task its default: the six drawer/vase
    skills for ``drawer_vase``, ``{0: "EPISODE"}`` otherwise.
    """
    if overrides is not None and task in overrides:
        cat = {_skill_key(k): str(v) for k, v in overrides[task].items()}
    else:
        cat = BUILTIN_CATALOGUES.get(task, EPISODE_SKILLS)
    ids = sorted(k for k in cat if type(k) is int)
    return {k: cat[k] for k in ids + [k for k in cat if type(k) is not int]}


def skill_name(task: str, skill_id: Any, overrides: Mapping[str, Mapping[Any, str]] | None = None) -> str:
    """Name of a skill id in the task's catalogue; "UNKNOWN" outside it."""
    if isinstance(skill_id, bool) or not isinstance(skill_id, int):
        return UNKNOWN_SKILL
    return catalogue_for(task, overrides).get(int(skill_id), UNKNOWN_SKILL)


def skill_description(skill_id: Any) -> str | None:
    """Description of a built-in drawer/vase skill (None for other ids)."""
    if isinstance(skill_id, bool) or not isinstance(skill_id, int):
        return None
    return SKILL_DESCRIPTIONS.get(int(skill_id))


__all__ = [
    "SkillID", "DRAWER_VASE_SKILLS", "SKILL_DESCRIPTIONS", "DEFAULT_SKILL_PARAMS", "EPISODE_SKILLS",
    "BUILTIN_CATALOGUES", "UNKNOWN_SKILL", "catalogue_for", "skill_name", "skill_description",
]
