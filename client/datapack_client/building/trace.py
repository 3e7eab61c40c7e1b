"""What the agent did and said: the skill trace and the SIMA annotation
(docs/building.md §2.2 steps 11 and 12)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datapack_client.building.values import as_list, plain
from datapack_client.errors import invalid
from datapack_client.records.model import SimaAnnotation
from datapack_client.records.skills import catalogue_for


def whole_episode_trace(skill_id: int = 0) -> list[dict]:
    """The one-entry trace of a task whose catalogue has one skill."""
    return [{"t": 0, "skill_id": skill_id, "params": {"whole_episode": True}, "duration": 0}]


def skill_trace_or_default(skill_trace: Any, skill_catalogue: Any, env_type: str) -> Any:
    """§2.2 step 11: the given trace; without one, the whole-episode trace of a
    task whose catalogue (`skill_catalogue`, else the task's built-in one) has
    exactly one skill, else SKILL_TRACE_EMPTY."""
    trace = None if skill_trace is None else as_list(skill_trace)
    if trace:
        return trace
    if skill_catalogue is None:
        catalogue = catalogue_for(env_type)
    elif isinstance(skill_catalogue, Mapping):
        catalogue = dict(skill_catalogue)
    else:
        raise invalid("skill_catalogue", "ARGUMENT_INVALID", "skill_catalogue must be a dict {id: name}")
    if len(catalogue) != 1:
        raise invalid("skill_trace", "SKILL_TRACE_EMPTY",
                      f"a {env_type} pack must carry its skill trace: the task's catalogue has "
                      f"{len(catalogue)} skills, so there is no whole-episode default")
    return whole_episode_trace(plain(next(iter(catalogue))))


def sima_with_statistics(annotation: Any) -> dict | None:
    """A copy of a SIMA annotation (SimaAnnotation or dict) as its JSON object
    with `narration_count` = number of `step_narrations` and
    `average_narration_length` = their mean length in code points (0.0 when
    there are none). None or {} -> None (no annotation, docs/schema.md §4.9)."""
    if annotation is None:
        return None
    p = plain(annotation)
    if type(p) is not dict:
        raise invalid("sima_annotation", "FIELD_TYPE",
                      f"sima_annotation must be a SimaAnnotation or a dict, got {type(annotation).__name__}")
    if not p:
        return None
    d = SimaAnnotation.from_dict(p).to_dict()
    narrations = d["step_narrations"]
    if type(narrations) is not list or not all(type(s) is str for s in narrations):
        raise invalid("sima_annotation.step_narrations", "FIELD_TYPE",
                      "sima_annotation.step_narrations must be a list of strings")
    d["narration_count"] = len(narrations)
    d["average_narration_length"] = (sum(len(s) for s in narrations) / len(narrations)) if narrations else 0.0
    return d
