"""Counterfactual plans (docs/building.md §7, §2.2 step 13)."""
from __future__ import annotations

from typing import Any

from datapack_client.building.values import plain
from datapack_client.records import schema


def generate_counterfactual_plan(failure_reason: str | None = None, vase_broken: bool = False) -> dict:
    """The drawer/vase teacher plan of docs/building.md §7 with its two rules."""
    reason = (failure_reason if failure_reason is not None else "unknown").lower()
    plan: dict[str, Any] = {
        "skills": [0, 1, 2, 3, 4, 5],
        "waypoints": [[0.5, 0.0, 0.3], [0.5, 0.0, 0.35], [0.6, 0.0, 0.35]],
        "source": "scripted_teacher",
        "params": {"target_clearance": 0.15, "approach_speed": 0.8, "grasp_force": 0.5, "retract_speed": 0.5},
    }
    if "vase" in reason or vase_broken:
        plan["params"]["target_clearance"] = 0.25
        plan["source"] = "hrl_teacher"
    if "friction" in reason:
        plan["params"]["grasp_force"] = 0.7
        plan["params"]["approach_speed"] = 0.6
    return plan


def counterfactual(given_plan: Any, given_source: Any, bucket: str, failure_reason: str | None,
                   vase_broken: bool) -> dict:
    """§2.2 step 13: {"counterfactual_plan", "counterfactual_source"}. A given
    plan is kept (its source: the one given, else the plan's own "source" when
    it is a known one); a negative pack without one gets the teacher plan;
    a positive pack, none."""
    if given_plan is not None:
        plan = plain(given_plan)
        if given_source is not None:
            source = plain(given_source)
        else:
            s = plan.get("source") if type(plan) is dict else None
            source = s if type(s) is str and s in schema.COUNTERFACTUAL_SOURCES else None
    elif bucket == "negative":
        plan = generate_counterfactual_plan(failure_reason, vase_broken)
        source = plan["source"]
    else:
        plan = source = None
    return {"counterfactual_plan": plan, "counterfactual_source": source}
