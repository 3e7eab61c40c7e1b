"""The episode -> datapack builder (docs/building.md §1-§7, checklist §12 items 1-9),
the skill catalogues it relies on (docs/adapter.md §1) and its self-check against the
append invariants (docs/repository.md §5)."""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import uuid

import pytest

from datapack_client import DataPackMeta, InvalidArgumentError
from datapack_client.building.builder import (BASELINES, SYNTHETIC_NOMINAL, Baseline, EconParams, EpisodeInfoSummary,
                                     SimaAnnotation, build_datapack_meta_from_episode, delta_j, derive_semantic_tags,
                                     generate_counterfactual_plan, infer_energy_driver_tags,
                                     normalize_objective_vector)
from datapack_client.records.model import ConditionProfile
from datapack_client.records.schema import DATAPACK_NS, TOP_KEYS
from datapack_client.records.skills import (DEFAULT_SKILL_PARAMS, SKILL_DESCRIPTIONS, SkillID, catalogue_for,
                                    skill_name)
from datapack_client.records.validation import record_violations
from datapack_server import DataPackRepo

# -- inputs ------------------------------------------------------------------------------------------

# The episode_metrics of the docs/schema.md §9 example line (the 19 summary fields).
SUMMARY_9 = {
    "termination_reason": "success", "mpl_episode": 15.0, "ep_episode": 3.0, "error_rate_episode": 0.03,
    "throughput_units_per_hour": 15.0, "energy_Wh": 0.5, "energy_Wh_per_unit": 0.03333333333333333,
    "energy_Wh_per_hour": 5.0,
    "limb_energy_Wh": {"shoulder": 0.2, "elbow": 0.15, "wrist": 0.1, "gripper": 0.05},
    "skill_energy_Wh": {"grasp": 0.2, "lift": 0.15, "place": 0.15},
    "energy_per_limb": {"shoulder": {"Wh": 0.2, "fraction": 0.4}, "elbow": {"Wh": 0.15, "fraction": 0.3},
                        "wrist": {"Wh": 0.1, "fraction": 0.2}, "gripper": {"Wh": 0.05, "fraction": 0.1}},
    "energy_per_skill": {"grasp": {"Wh": 0.2, "fraction": 0.4}, "lift": {"Wh": 0.15, "fraction": 0.3},
                         "place": {"Wh": 0.15, "fraction": 0.3}},
    "energy_per_joint": {"joint_0": {"Wh": 0.1, "torque_integral": 5.0}, "joint_1": {"Wh": 0.2, "torque_integral": 8.0},
                         "joint_2": {"Wh": 0.15, "torque_integral": 6.0}},
    "energy_per_effector": {"gripper": {"Wh": 0.05, "activation_time": 2.0}},
    "coordination_metrics": {"mean_active_joints": 2.5, "peak_power": 10.0},
    "profit": 73.5, "episode_id": "3f1c2a9e-5b7d-4e21-9c0a-8d6f4b2e1a70", "media_refs": {}, "wage_parity": 0.9,
}
SUMMARY_FIELDS = list(SUMMARY_9)  # the 19 fields in the order of docs/building.md §1.1

# A summary that triggers no energy-driver rule (§5): every rule test changes one thing.
QUIET = {
    "termination_reason": "max_steps", "mpl_episode": 15.0, "ep_episode": 3.0, "error_rate_episode": 0.03,
    "throughput_units_per_hour": 15.0, "energy_Wh": 0.1, "energy_Wh_per_unit": 0.5, "energy_Wh_per_hour": 1.0,
    "limb_energy_Wh": {}, "skill_energy_Wh": {},
    "energy_per_limb": {"shoulder": {"Wh": 0.25}, "elbow": {"Wh": 0.5}, "wrist": {"Wh": 0.25}},
    "energy_per_skill": {}, "energy_per_joint": {}, "energy_per_effector": {"gripper": {"Wh": 0.0}},
    "coordination_metrics": {"mean_active_joints": 2.0}, "profit": 1.0, "episode_id": "quiet-1",
}

# The builder script's preset (docs/building.md §8.2).
ECON = EconParams(price_per_unit=5.0, damage_cost=50.0, energy_Wh_per_attempt=5.0, time_step_s=60.0, base_rate=2.0,
                  p_min=0.02, k_err=0.12, q_speed=1.2, q_care=1.5, care_cost=0.25, max_steps=240,
                  max_catastrophic_errors=3, max_error_rate_sla=0.10, min_steps_for_sla=5,
                  zero_throughput_patience=10, preset="drawer_vase", vase_break_cost=50.0,
                  electricity_price_kWh=0.12)
# Only the fifteen required fields: preset "toy", every other default.
ECON_TOY = EconParams(5.0, 50.0, 5.0, 60.0, 2.0, 0.02, 0.12, 1.2, 1.5, 0.25, 240, 3, 0.1, 5, 10)

BASE = Baseline(10.0, 0.05, 2.0)
TRACE = [{"t": 0, "skill_id": 0, "params": {}, "duration": 10},
         {"t": 10, "skill_id": 1, "params": {}, "duration": 15},
         {"t": 25, "skill_id": 3, "params": {"grasp_force": 0.5}, "duration": 20, "local_metrics": {"delta_mpl": 1.2}}]
CREATED = "2025-06-01T12:00:00.000000+00:00"
TEMPLATE_PLAN = {"skills": [0, 1, 2, 3, 4, 5], "waypoints": [[0.5, 0.0, 0.3], [0.5, 0.0, 0.35], [0.6, 0.0, 0.35]],
                 "source": "scripted_teacher",
                 "params": {"target_clearance": 0.15, "approach_speed": 0.8, "grasp_force": 0.5, "retract_speed": 0.5}}


def summary(**over) -> dict:
    s = copy.deepcopy(SUMMARY_9)
    s.update(over)
    return s


def build(episode=None, condition=None, agent=None, **kw) -> DataPackMeta:
    """The builder on the §9 inputs: drawer_vase, baseline (10, 0.05, 2), a 3-entry trace."""
    kw.setdefault("env_type", "drawer_vase")
    if not any(k.startswith("baseline") for k in kw):
        kw["baseline"] = BASE
    kw.setdefault("skill_trace", copy.deepcopy(TRACE))
    kw.setdefault("created_at", CREATED)
    return build_datapack_meta_from_episode(summary() if episode is None else episode, kw.pop("econ", ECON),
                                            condition, agent, **kw)


def raises(reason: str, fn, *args, **kw) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError) as ei:
        fn(*args, **kw)
    err = ei.value
    assert err.code == "INVALID_ARGUMENT"
    assert err.reason == reason, (err.reason, err.message)
    assert err.violations and err.violations[0].reason == reason
    return err


# -- §3 the canonical ΔJ (checklist 1) -------------------------------------------------------------

@pytest.mark.parametrize("alpha, vase, dj, bucket", [
    (None, False, 1.02, "positive"),
    ([1.0, 1.0, 1.0, 0.5], True, -3.98, "negative"),
    ([1.0, 1.0, 1.0], False, 1.02, "positive"),
    ([2, 10, 0.5, 1], False, 1.45, "positive"),
])
def test_worked_delta_j_examples(alpha, vase, dj, bucket):
    cond = {} if alpha is None else {"objective_vector": alpha}
    dp = build(condition=cond, vase_broken=vase)
    a = dp.attribution
    assert (a.delta_mpl, a.delta_error, a.delta_ep, a.delta_J) == (0.5, -0.020000000000000004, 0.5, dj)
    assert all(type(x) is float for x in (a.delta_mpl, a.delta_error, a.delta_ep, a.delta_J))
    assert dp.bucket == bucket
    # The stored deltas are exactly the inputs of ΔJ.
    alpha4 = normalize_objective_vector(alpha)
    recomputed = (alpha4[0] * a.delta_mpl - alpha4[1] * a.delta_error + alpha4[2] * a.delta_ep
                  + alpha4[3] * (-10.0 if vase else 0.0))
    assert recomputed == a.delta_J
    assert delta_j(summary(), BASE, alpha, vase) == (0.5, -0.020000000000000004, 0.5, dj)
    assert dp.condition.objective_vector == alpha4 and len(alpha4) == 4


def test_delta_j_is_summed_in_the_order_written():
    # mpl 11, error 0.01, ep 2.6: ((0.1 + 0.04) + 0.30000000000000004) + 0.0 = 0.44000000000000006,
    # while summing ΔEP before Δerror would give 0.44.
    d = delta_j(summary(mpl_episode=11.0, error_rate_episode=0.01, ep_episode=2.6), BASE)
    assert d == (0.1, -0.04, 0.30000000000000004, 0.44000000000000006)
    assert d[0] + d[2] - d[1] == 0.44  # the other order differs, so this test pins the order
    assert build(summary(mpl_episode=11.0, error_rate_episode=0.01, ep_episode=2.6)).attribution.delta_J == \
        0.44000000000000006


def test_objective_vector_normalisation():
    assert normalize_objective_vector(None) == [1.0, 1.0, 1.0, 0.5]
    assert normalize_objective_vector((1, 2, 3)) == [1.0, 2.0, 3.0, 0.5]
    assert normalize_objective_vector([2, 10, 0.5, 1]) == [2.0, 10.0, 0.5, 1.0]
    for bad in ([1.0, 1.0], [1.0] * 5, [], [1.0, float("nan"), 1.0], [1.0, 1.0, float("inf"), 0.5],
                [1.0, "1", 1.0], [True, 1.0, 1.0], "1111", 3.0):
        raises("OBJECTIVE_VECTOR_INVALID", build, condition={"objective_vector": bad})
    # The condition's 3-element vector is stored as a 4-vector; condition.tags keeps the caller's dict.
    dp = build(condition={"objective_vector": [1.0, 1.0, 1.0]})
    assert dp.condition.objective_vector == [1.0, 1.0, 1.0, 0.5]
    assert dp.condition.tags == {"objective_vector": [1.0, 1.0, 1.0]}


def test_delta_j_zero_is_positive_and_just_below_is_negative():
    dp = build(summary(mpl_episode=10.0, error_rate_episode=0.05, ep_episode=2.0))
    assert dp.attribution.delta_J == 0.0 and dp.bucket == "positive"
    assert dp.counterfactual_plan is None and dp.counterfactual_source is None
    dp = build(summary(mpl_episode=10.0, error_rate_episode=0.06, ep_episode=2.0))
    assert dp.attribution.delta_J < 0 and dp.bucket == "negative"
    assert dp.counterfactual_plan is not None


def test_broken_vase_term_and_outcome():
    dp = build(vase_broken=True)
    assert dp.attribution.delta_J == -3.98 and dp.bucket == "negative"
    assert "vase_collision" in dp.semantic_tags
    assert dp.counterfactual_source == "hrl_teacher"
    # α_safety scales the -10 safety bonus: α_safety 0 removes it.
    dp = build(condition={"objective_vector": [1.0, 1.0, 1.0, 0.0]}, vase_broken=True)
    assert dp.attribution.delta_J == 1.02 and dp.bucket == "positive"


def test_zero_and_tiny_baselines_divide_by_1e6():
    dp = build(baseline=Baseline(0.0, 0.0, 0.0))
    assert dp.attribution.delta_mpl == 15000000.0
    assert dp.attribution.delta_ep == 3000000.0
    assert dp.attribution.delta_error == 0.03
    assert dp.attribution.delta_J == 15000000.0 - 0.03 + 3000000.0
    # A negative baseline MPL also divides by 1e-6.
    d_mpl, _, _, _ = delta_j(summary(), Baseline(-5.0, 0.05, 2.0))
    assert d_mpl == (15.0 + 5.0) / 1e-6
    # A baseline just above 1e-6 divides by itself.
    d_mpl, _, _, _ = delta_j(summary(mpl_episode=4e-6), Baseline(2e-6, 0.05, 2.0))
    assert d_mpl == (4e-6 - 2e-6) / 2e-6


@pytest.mark.parametrize("field", ["mpl_episode", "error_rate_episode", "ep_episode"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_metrics_give_delta_j_not_finite(field, value):
    err = raises("DELTA_J_NOT_FINITE", build, summary(**{field: value}))
    assert err.violations[0].field == "attribution.delta_J"
    assert field in err.message
    with pytest.raises(InvalidArgumentError) as ei:
        delta_j(summary(**{field: value}), BASE)
    assert ei.value.reason == "DELTA_J_NOT_FINITE"


def test_overflow_gives_delta_j_not_finite():
    err = raises("DELTA_J_NOT_FINITE", build, summary(mpl_episode=1.7e308), baseline=Baseline(0.0, 0.05, 2.0))
    assert "overflow" in err.message


@pytest.mark.parametrize("over, field", [
    ({"energy_Wh": float("nan")}, "energy.total_Wh"),
    ({"energy_Wh_per_unit": float("inf")}, "energy.Wh_per_unit"),
    ({"profit": float("nan")}, "episode_metrics.profit"),
    ({"energy_per_joint": {"joint_0": {"Wh": float("nan")}}}, "energy.energy_per_joint.joint_0.Wh"),
    ({"coordination_metrics": {"mean_active_joints": float("inf")}}, "energy.coordination_metrics.mean_active_joints"),
    ({"wage_parity": float("nan")}, "episode_metrics.wage_parity"),
])
def test_other_non_finite_summary_values_are_rejected_never_stored(over, field):
    err = raises("NUMBER_NOT_FINITE", build, summary(**over), baseline=Baseline(10.0, 0.05, 2.0, 0.5))
    assert field in {v.field for v in err.violations}


@pytest.mark.parametrize("kw, field", [
    ({"trust_score": float("nan")}, "attribution.trust_score"),
    ({"w_econ": float("inf")}, "attribution.w_econ"),
    ({"lambda_budget": float("nan")}, "attribution.lambda_budget"),
    ({"mvd_score": float("-inf")}, "attribution.mvd_score"),
    ({"semantic_quality": float("nan")}, "semantic_quality"),
    ({"semantic_quality": float("inf")}, "semantic_quality"),
    ({"condition": {"drawer_friction": float("nan")}}, "condition.drawer_friction"),
    ({"condition": {"occlusion_level": float("inf")}}, "condition.occlusion_level"),
    ({"condition": {"vase_offset": [0.0, float("nan"), 0.0]}}, "condition.vase_offset[1]"),
    ({"econ": EconParams(float("nan"), 50.0, 5.0, 60.0, 2.0, 0.02, 0.12, 1.2, 1.5, 0.25, 240, 3, 0.1, 5, 10)},
     "econ_params.price_per_unit"),
    ({"econ": EconParams(5.0, 50.0, 5.0, 60.0, 2.0, 0.02, 0.12, 1.2, 1.5, 0.25, 240, 3, 0.1, 5, 10,
                         vase_break_cost=float("nan"))}, "econ_params.vase_break_cost"),
    ({"econ": EconParams(5.0, 50.0, 5.0, 60.0, 2.0, 0.02, 0.12, 1.2, 1.5, 0.25, 240, 3, 0.1, 5, 10,
                         electricity_price_kWh=float("inf"))}, "econ_params.electricity_price_kWh"),
    ({"agent": {"lr": float("nan")}}, "agent_profile.lr"),
    ({"vla_plan": {"confidence": [0.9, float("nan")]}}, "vla_plan.confidence[1]"),
])
def test_non_finite_arguments_are_rejected(kw, field):
    err = raises("NUMBER_NOT_FINITE", build, **kw)
    assert field in {v.field for v in err.violations}


def test_wrongly_typed_arguments_are_rejected():
    raises("FIELD_TYPE", build, trust_score="high")
    raises("FIELD_TYPE", build, w_econ=True)
    raises("FIELD_TYPE", build, summary(mpl_episode="15"))
    raises("FIELD_TYPE", build, summary(energy_per_limb=[1, 2]))
    raises("FIELD_TYPE", build, summary(termination_reason=1))
    raises("FIELD_TYPE", build, condition={"vase_offset": [0.0, 0.0]})
    raises("FIELD_TYPE", build, condition={"lighting_profile": 3})
    raises("FIELD_TYPE", build, condition={"tags": "not-a-list"})
    raises("FIELD_TYPE", build, extra_tags=[1])
    raises("ARGUMENT_INVALID", build, condition=["engine_type", "pybullet"])
    raises("ARGUMENT_INVALID", build, episode=42)
    raises("ARGUMENT_INVALID", build, failure_reason=3, vase_broken=True)
    raises("ARGUMENT_INVALID", build, failure_reason=["vase"])


# -- §1.3 / §2.2 step 2 baselines (checklist 2) ----------------------------------------------------

def test_baseline_required_and_invalid_combinations():
    args = (summary(), ECON, None, None)
    kw = {"env_type": "drawer_vase", "skill_trace": TRACE}
    err = raises("BASELINE_REQUIRED", build_datapack_meta_from_episode, *args, **kw)
    assert err.violations[0].field == "baseline"
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline_mpl=10.0, baseline_error=0.05, **kw)
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline_ep=2.0, **kw)
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline=BASE, baseline_mpl=10.0,
           baseline_error=0.05, baseline_ep=2.0, **kw)
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline=BASE, baseline_wage_parity=0.5, **kw)
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline_wage_parity=0.5, **kw)
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline_mpl=float("nan"),
           baseline_error=0.05, baseline_ep=2.0, **kw)
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline_mpl=10.0, baseline_error=0.05,
           baseline_ep=float("inf"), **kw)
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline_mpl=10.0, baseline_error=0.05,
           baseline_ep=2.0, baseline_wage_parity=float("nan"), **kw)
    raises("BASELINE_INVALID", build_datapack_meta_from_episode, *args, baseline={"mpl": 10, "error": 0.05, "ep": 2},
           **kw)


def test_baseline_numbers_equal_baseline_object():
    a = build(baseline_mpl=10, baseline_error=0.05, baseline_ep=2, baseline_wage_parity=0.5)
    b = build(baseline=Baseline(10.0, 0.05, 2.0, 0.5))
    assert a.to_dict() == b.to_dict()
    assert a.attribution.delta_wage_parity == 0.9 - 0.5 == 0.4


def test_baseline_constructor_validation():
    b = Baseline(10, 0, 2)
    assert (b.mpl, b.error, b.ep, b.wage_parity, b.name) == (10.0, 0.0, 2.0, None, None)
    assert type(b.mpl) is float
    for bad in ((float("nan"), 0.05, 2.0), (10.0, float("inf"), 2.0), (10.0, 0.05, float("-inf")),
                ("10", 0.05, 2.0), (None, 0.05, 2.0), (True, 0.05, 2.0)):
        err = raises("BASELINE_INVALID", Baseline, *bad)
        assert err.violations[0].field.startswith("baseline.")
    raises("BASELINE_INVALID", Baseline, 10.0, 0.05, 2.0, float("nan"))


def test_baseline_from_episodes_means():
    eps = [{"mpl_episode": 8.0, "error_rate_episode": 0.04, "ep_episode": 1.5, "wage_parity": 0.4},
           {"mpl": 12.0, "error_rate": 0.06, "ep": 2.5, "wage_parity": 0.6},
           {"mpl_episode": 13.0, "mpl": 999.0, "error_rate_episode": 0.08, "ep_episode": 3.0, "wage_parity": 0.8}]
    b = Baseline.from_episodes(eps, name="policy_v0")
    assert b.mpl == (8.0 + 12.0 + 13.0) / 3 == 11.0      # mpl_episode wins over mpl
    assert b.error == (0.04 + 0.06 + 0.08) / 3
    assert b.ep == (1.5 + 2.5 + 3.0) / 3
    assert b.wage_parity == (0.4 + 0.6 + 0.8) / 3
    assert b.name == "policy_v0" and b.episode_count == 3
    two = Baseline.from_episodes(eps[:2])
    assert (two.mpl, two.error, two.ep, two.wage_parity, two.name) == (10.0, 0.05, 2.0, 0.5, None)
    # wage parity only when every episode has one
    assert Baseline.from_episodes([eps[0], {"mpl": 12.0, "error_rate": 0.06, "ep": 2.5}]).wage_parity is None
    # summaries work too
    s = EpisodeInfoSummary.from_dict(summary())
    b2 = Baseline.from_episodes([s, EpisodeInfoSummary.from_dict(summary(mpl_episode=5.0, wage_parity=None))])
    assert (b2.mpl, b2.error, b2.ep, b2.wage_parity) == (10.0, 0.03, 3.0, None)
    # used by the builder
    dp = build(baseline=Baseline.from_episodes(eps[:2]))
    assert dp.attribution.delta_J == 1.02 and dp.attribution.delta_wage_parity == 0.9 - 0.5


@pytest.mark.parametrize("eps", [
    [],
    [{"mpl": 10.0, "error_rate": 0.05}],
    [{"mpl_episode": 10.0, "error_rate_episode": 0.05, "ep_episode": 2.0}, {"mpl": 10.0, "ep": 2.0}],
    [{"mpl_episode": None, "error_rate_episode": 0.05, "ep_episode": 2.0}],
    [{"mpl_episode": float("nan"), "error_rate_episode": 0.05, "ep_episode": 2.0}],
    [{"mpl_episode": "ten", "error_rate_episode": 0.05, "ep_episode": 2.0}],
    ["not an episode"],
])
def test_baseline_from_episodes_invalid(eps):
    raises("BASELINE_INVALID", Baseline.from_episodes, eps)


def test_builtin_baselines():
    assert set(BASELINES) == {"synthetic_nominal"}
    b = BASELINES["synthetic_nominal"]
    assert b is SYNTHETIC_NOMINAL
    assert (b.mpl, b.error, b.ep, b.wage_parity, b.name) == (10.0, 0.05, 2.0, 0.5, "synthetic_nominal")
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.mpl = 11.0  # frozen: a built-in cannot be changed by a caller


# -- §2.2 step 7 attribution (checklist 3) ---------------------------------------------------------

def test_trust_and_w_econ_give_weight_and_mvd():
    a = build(trust_score=0.9, w_econ=1.2, lambda_budget=0.25).attribution
    assert a.delta_J == 1.02
    assert (a.trust_score, a.w_econ, a.lambda_budget) == (0.9, 1.2, 0.25)
    assert a.econ_weight_final == 1.08
    assert a.mvd_score == 1.1016000000000001


def test_absent_frozen_model_outputs():
    a = build().attribution
    assert (a.trust_score, a.w_econ, a.lambda_budget, a.econ_weight_final, a.mvd_score) == (0.0, 0.0, 0.0, None, None)
    assert type(a.trust_score) is float
    # only one of trust / w_econ: no weight, no mvd
    a = build(trust_score=0.9).attribution
    assert (a.trust_score, a.w_econ, a.econ_weight_final, a.mvd_score) == (0.9, 0.0, None, None)
    a = build(w_econ=1.2).attribution
    assert (a.trust_score, a.w_econ, a.econ_weight_final, a.mvd_score) == (0.0, 1.2, None, None)


def test_caller_mvd_score_wins():
    a = build(trust_score=0.9, w_econ=1.2, mvd_score=7.5).attribution
    assert a.mvd_score == 7.5 and a.econ_weight_final == 1.08
    a = build(mvd_score=-2.0).attribution
    assert a.mvd_score == -2.0 and a.econ_weight_final is None


def test_world_model_and_source_fields_copied():
    a = build(source_type="hybrid", wm_model_id="wm-7", wm_role="wm_train", wm_horizon_used=8, wm_branch_depth=2,
              wm_trust_over_horizon=[0.9, 0.8], world_model_horizon=16,
              world_model_trust_over_horizon=[1.0, 0.95]).attribution
    assert (a.source_type, a.wm_model_id, a.wm_role, a.wm_horizon_used, a.wm_branch_depth) == (
        "hybrid", "wm-7", "wm_train", 8, 2)
    assert a.wm_trust_over_horizon == [0.9, 0.8]
    assert (a.world_model_horizon, a.world_model_trust_over_horizon) == (16, [1.0, 0.95])
    d = build().attribution
    assert (d.source_type, d.world_model_horizon, d.world_model_trust_over_horizon, d.wm_role) == ("real", 0, [], None)
    assert d.delta_wage_parity == 0.0  # baseline without wage parity
    err = raises("ENUM_INVALID", build, source_type="simulated")
    assert err.violations[0].field == "attribution.source_type"
    raises("ENUM_INVALID", build, wm_role="policy_train")


# -- §5 energy-driver tags (checklist 4) -----------------------------------------------------------

def test_energy_tag_example_of_schema_line():
    expected = ["energy_driver:joint_dominated:joint_1", "energy_driver:effector:gripper",
                "energy_driver:coordination:high_multi_joint_activity"]
    assert infer_energy_driver_tags(summary(), ECON) == expected
    assert build().energy_driver_tags == expected


def test_quiet_summary_has_no_energy_tags():
    assert infer_energy_driver_tags(QUIET, ECON) == []


def q(**over) -> dict:
    s = copy.deepcopy(QUIET)
    s.update(over)
    return s


@pytest.mark.parametrize("over, expected", [
    # 1. shoulder fraction > 0.5
    ({"energy_per_limb": {"shoulder": {"Wh": 0.6}, "elbow": {"Wh": 0.4}}}, ["energy_driver:long_reach"]),
    ({"energy_per_limb": {"shoulder": {"Wh": 0.5}, "elbow": {"Wh": 0.5}}}, []),
    # 2. wrist fraction > 0.3
    ({"energy_per_limb": {"wrist": {"Wh": 0.4}, "elbow": {"Wh": 0.6}}}, ["energy_driver:high_friction"]),
    ({"energy_per_limb": {"wrist": {"Wh": 0.3}, "elbow": {"Wh": 0.7}}}, []),
    # 3. the joint with the largest Wh, only when the limbs have energy
    ({"energy_per_joint": {"j_a": {"Wh": 0.1}, "j_b": {"Wh": 0.3}, "j_c": {"Wh": 0.2}}},
     ["energy_driver:joint_dominated:j_b"]),
    ({"energy_per_joint": {"j_a": {"Wh": 0.0}, "j_b": {"torque": 3.0}}}, []),
    ({"energy_per_limb": {}, "energy_per_joint": {"j_a": {"Wh": 0.3}}}, []),
    # 4. mpl < 10 and energy > 0.2
    ({"mpl_episode": 9.0, "energy_Wh": 0.3}, ["energy_driver:fragility_cautious"]),
    ({"mpl_episode": 9.0, "energy_Wh": 0.2}, []),
    ({"mpl_episode": 10.0, "energy_Wh": 0.3}, []),
    # 5. mpl > 80 and Wh per unit > energy_Wh_per_attempt (5.0)
    ({"mpl_episode": 81.0, "energy_Wh_per_unit": 5.5}, ["energy_driver:throughput_push"]),
    ({"mpl_episode": 81.0, "energy_Wh_per_unit": 5.0}, []),
    ({"mpl_episode": 80.0, "energy_Wh_per_unit": 5.5}, []),
    # 6. every effector with energy, in dict order
    ({"energy_per_effector": {"suction": {"Wh": 0.1}, "gripper": {"Wh": 0.0}, "wrist_cam": {"Wh": 0.2}}},
     ["energy_driver:effector:suction", "energy_driver:effector:wrist_cam"]),
    # 7. mean active joints > 2
    ({"coordination_metrics": {"mean_active_joints": 2.01}}, ["energy_driver:coordination:high_multi_joint_activity"]),
    ({"coordination_metrics": {}}, []),
])
def test_each_energy_rule(over, expected):
    assert infer_energy_driver_tags(q(**over), ECON) == expected


def test_energy_rules_follow_econ_attempt_energy():
    s = q(mpl_episode=90.0, energy_Wh_per_unit=3.0)
    assert infer_energy_driver_tags(s, ECON) == []
    low = EconParams(5.0, 50.0, 2.0, 60.0, 2.0, 0.02, 0.12, 1.2, 1.5, 0.25, 240, 3, 0.1, 5, 10)
    assert infer_energy_driver_tags(s, low) == ["energy_driver:throughput_push"]


def test_joint_tie_names_the_first_joint():
    s = q(energy_per_joint={"joint_0": {"Wh": 0.05}, "joint_1": {"Wh": 0.2}, "joint_2": {"Wh": 0.2}})
    assert infer_energy_driver_tags(s, ECON) == ["energy_driver:joint_dominated:joint_1"]


def test_all_rules_in_order():
    s = q(mpl_episode=5.0, energy_Wh=1.0,
          energy_per_limb={"shoulder": {"Wh": 0.6}, "wrist": {"Wh": 0.35}, "elbow": {"Wh": 0.05}},
          energy_per_joint={"joint_3": {"Wh": 0.5}}, energy_per_effector={"gripper": {"Wh": 0.1}},
          coordination_metrics={"mean_active_joints": 3.0})
    assert infer_energy_driver_tags(s, ECON) == [
        "energy_driver:long_reach", "energy_driver:high_friction", "energy_driver:joint_dominated:joint_3",
        "energy_driver:fragility_cautious", "energy_driver:effector:gripper",
        "energy_driver:coordination:high_multi_joint_activity"]


def test_explicit_energy_driver_tags_are_kept_even_empty():
    assert build(semantic_energy_drivers=[]).energy_driver_tags == []
    assert build(semantic_energy_drivers=("energy_driver:custom",)).energy_driver_tags == ["energy_driver:custom"]


# -- §6 derived semantic tags, §2.2 steps 6 and 10 (checklist 5) -----------------------------------

COMMON = ["fragile_glassware", "top_drawer"]


@pytest.mark.parametrize("kw, tag", [
    ({"vase_broken": True}, "vase_collision"),
    ({"drawer_stuck": True}, "drawer_jam"),
    ({"condition": {"vase_offset": [0.11, 0.0, 0.0]}}, "offset_vase"),
    ({"condition": {"vase_offset": (0.0, -0.12, 0.0)}}, "offset_vase"),
    ({"condition": {"drawer_friction": 0.51}}, "high_friction"),
    ({"condition": {"occlusion_level": 0.31}}, "partial_occlusion"),
    ({"condition": {"lighting_profile": "low_light"}}, "low_light"),
])
def test_each_derived_tag(kw, tag):
    dp = build(summary(termination_reason="max_steps"), **kw)
    assert dp.semantic_tags == [tag] + COMMON


@pytest.mark.parametrize("cond", [
    {"vase_offset": [0.1, -0.1, 0.5]}, {"drawer_friction": 0.5}, {"occlusion_level": 0.3},
    {"lighting_profile": "high_contrast"}, {},
])
def test_boundaries_give_no_derived_tag(cond):
    assert build(summary(termination_reason="max_steps"), condition=cond).semantic_tags == COMMON


def test_task_complete_follows_success_or_termination_reason():
    assert build(summary(termination_reason="success")).semantic_tags == ["task_complete"] + COMMON
    assert build(summary(termination_reason="success"), success=False).semantic_tags == COMMON
    assert build(summary(termination_reason="max_steps"), success=True).semantic_tags == ["task_complete"] + COMMON


def test_fragile_glassware_and_top_drawer_only_for_drawer_vase():
    dp = build(env_type="dishwashing", skill_trace=None, vase_broken=True, drawer_stuck=True,
               condition={"vase_offset": [0.2, 0.0, 0.0], "drawer_friction": 0.6, "occlusion_level": 0.5,
                          "lighting_profile": "low_light"})
    assert dp.semantic_tags == ["vase_collision", "drawer_jam", "task_complete", "offset_vase", "high_friction",
                                "partial_occlusion", "low_light"]
    assert build(env_type="isaac_drawer", skill_trace=None).semantic_tags == ["task_complete"]


def test_tag_order_and_first_occurrence():
    dp = build(summary(termination_reason="max_steps"), condition={"tags": ["low_light", "test"]},
               extra_tags=["test", "night_shift", "fragile_glassware"], vase_broken=True)
    assert dp.semantic_tags == ["low_light", "test", "night_shift", "fragile_glassware", "vase_collision",
                                "top_drawer"]


def test_derive_semantic_tags_helper():
    cond = {"task_name": "drawer_vase", "vase_offset": [0.0, 0.2, 0.0], "drawer_friction": 0.9,
            "occlusion_level": 0.0, "lighting_profile": "low_light"}
    assert derive_semantic_tags(cond) == ["offset_vase", "high_friction", "low_light"] + COMMON
    assert derive_semantic_tags(cond, "dishwashing", vase_broken=True, drawer_stuck=True, success=True) == [
        "vase_collision", "drawer_jam", "task_complete", "offset_vase", "high_friction", "low_light"]
    assert derive_semantic_tags(ConditionProfile(task_name="drawer_vase", occlusion_level=0.4)) == [
        "partial_occlusion"] + COMMON
    # wrongly typed stored values count as their defaults
    assert derive_semantic_tags({"vase_offset": None, "drawer_friction": "high"}, "dishwashing") == []


def test_condition_fields_and_defaults():
    c = build(env_type="drawer_vase").condition
    assert c.to_dict() == {
        "task_name": "drawer_vase", "engine_type": "pybullet", "world_id": "pyb_drawer_vase_v1",
        "vase_offset": [0.0, 0.0, 0.0], "drawer_friction": 0.3, "lighting_profile": "normal", "occlusion_level": 0.0,
        "econ_preset": "drawer_vase", "price_per_unit": 5.0, "vase_break_cost": 50.0, "energy_price_kWh": 0.12,
        "objective_vector": [1.0, 1.0, 1.0, 0.5], "tags": {}}
    assert build(condition={"engine_type": "isaac"}).condition.world_id == "isaac_drawer_vase_v1"
    assert build(condition={"engine_type": "ue5"}).condition.world_id == "ue5_drawer_vase_v1"
    assert build(env_type="dishwashing", skill_trace=None).condition.world_id == "pyb_dishwashing_v1"
    cond = {"task": "drawer_vase", "engine_type": "isaac", "world_id": "isaac_kitchen_3", "vase_offset": [0.05, 0.0, 0.01],
            "drawer_friction": 0.45, "lighting_profile": "high_contrast", "occlusion_level": 0.2,
            "econ_preset": "realistic", "tags": ["test"], "novelty": 0.3}
    c = build(condition=cond).condition
    assert (c.engine_type, c.world_id, c.vase_offset, c.drawer_friction, c.lighting_profile, c.occlusion_level,
            c.econ_preset) == ("isaac", "isaac_kitchen_3", (0.05, 0.0, 0.01), 0.45, "high_contrast", 0.2, "realistic")
    assert c.tags == cond and c.tags is not cond
    err = raises("ENUM_INVALID", build, condition={"engine_type": "unity"})
    assert err.violations[0].field == "condition.engine_type"


def test_econ_mapping_into_condition():
    c = build(econ=ECON_TOY).condition
    assert (c.econ_preset, c.price_per_unit, c.vase_break_cost, c.energy_price_kWh) == ("toy", 5.0, 50.0, 0.12)
    e = EconParams(7.0, 40.0, 5.0, 60.0, 2.0, 0.02, 0.12, 1.2, 1.5, 0.25, 240, 3, 0.1, 5, 10, preset="realistic",
                   vase_break_cost=80.0, electricity_price_kWh=0.3)
    c = build(econ=e).condition
    assert (c.econ_preset, c.price_per_unit, c.vase_break_cost, c.energy_price_kWh) == ("realistic", 7.0, 80.0, 0.3)
    assert build(econ=e, condition={"econ_preset": "drawer_vase"}).condition.econ_preset == "drawer_vase"
    # econ params as a dict
    assert build(econ=ECON.to_dict()).to_dict() == build().to_dict()


# -- §7 counterfactual plans (checklist 6) ---------------------------------------------------------

NEG = {"episode": summary(mpl_episode=5.0, ep_episode=2.0, termination_reason="max_steps")}  # ΔJ -0.48


def test_negative_pack_with_unknown_reason_gets_the_template():
    dp = build(**NEG)
    assert dp.bucket == "negative"
    assert dp.counterfactual_plan == TEMPLATE_PLAN
    assert list(dp.counterfactual_plan) == ["skills", "waypoints", "source", "params"]
    assert dp.counterfactual_source == "scripted_teacher"
    assert build(**NEG, failure_reason="unknown").counterfactual_plan == TEMPLATE_PLAN


def test_vase_reason_case_insensitive():
    plan = build(**NEG, failure_reason="Vase collision").counterfactual_plan
    assert plan["source"] == "hrl_teacher"
    assert plan["params"] == {"target_clearance": 0.25, "approach_speed": 0.8, "grasp_force": 0.5,
                              "retract_speed": 0.5}
    assert list(plan) == ["skills", "waypoints", "source", "params"]
    assert list(plan["params"]) == ["target_clearance", "approach_speed", "grasp_force", "retract_speed"]
    dp = build(**NEG, vase_broken=True)
    assert dp.counterfactual_plan == plan and dp.counterfactual_source == "hrl_teacher"


def test_friction_reason():
    dp = build(**NEG, failure_reason="high friction")
    assert dp.counterfactual_plan["source"] == "scripted_teacher" == dp.counterfactual_source
    assert dp.counterfactual_plan["params"] == {"target_clearance": 0.15, "approach_speed": 0.6, "grasp_force": 0.7,
                                                "retract_speed": 0.5}
    assert list(dp.counterfactual_plan["params"]) == ["target_clearance", "approach_speed", "grasp_force",
                                                      "retract_speed"]


def test_both_rules():
    dp = build(**NEG, failure_reason="drawer FRICTION pushed the VASE")
    assert dp.counterfactual_plan["source"] == "hrl_teacher" == dp.counterfactual_source
    assert dp.counterfactual_plan["params"] == {"target_clearance": 0.25, "approach_speed": 0.6, "grasp_force": 0.7,
                                                "retract_speed": 0.5}
    assert generate_counterfactual_plan("friction", vase_broken=True) == dp.counterfactual_plan


def test_positive_pack_has_no_plan():
    dp = build(failure_reason="vase_collision")
    assert dp.bucket == "positive"
    assert dp.counterfactual_plan is None and dp.counterfactual_source is None


def test_caller_plan_is_kept_for_either_bucket():
    plan = {"skills": [0, 2, 4], "source": "vla_planner", "note": "custom"}
    for kw in ({}, NEG):
        dp = build(**kw, counterfactual_plan=plan, failure_reason="vase")
        assert dp.counterfactual_plan == plan and dp.counterfactual_plan is not plan
        assert dp.counterfactual_source == "vla_planner"
    assert build(**NEG, counterfactual_plan=plan, counterfactual_source="sima_teacher").counterfactual_source == \
        "sima_teacher"
    assert build(**NEG, counterfactual_plan={"skills": [1], "source": "oracle"}).counterfactual_source is None
    assert build(**NEG, counterfactual_plan={"skills": [1]}).counterfactual_source is None
    raises("ENUM_INVALID", build, **NEG, counterfactual_plan={"skills": [1]}, counterfactual_source="oracle")
    raises("COUNTERFACTUAL_REQUIRED", build, **NEG, counterfactual_plan={})


def test_other_tasks_get_the_template_when_negative():
    dp = build(**NEG, env_type="dishwashing", skill_trace=None)
    assert dp.bucket == "negative" and dp.counterfactual_plan == TEMPLATE_PLAN


# -- step 12 SIMA (checklist 7) ----------------------------------------------------------------------

def test_sima_statistics_example():
    ann = {"instruction": "open the drawer without hitting the vase",
           "step_narrations": ["Locating drawer handle", "Planning approach", "Grasping handle"],
           "sima_agent_id": "sima_v1", "source_world": "pyb_drawer_v1", "derived_skill_plan": [0, 1, 3],
           "narration_count": 0, "average_narration_length": 0.0}
    original = copy.deepcopy(ann)
    s = build(sima_annotation=ann).sima_annotation
    assert (s.narration_count, s.average_narration_length) == (3, 18.0)
    assert type(s.narration_count) is int and type(s.average_narration_length) is float
    assert (s.instruction, s.step_narrations, s.derived_skill_plan) == (
        ann["instruction"], ann["step_narrations"], [0, 1, 3])
    assert ann == original  # the caller's annotation is not changed


def test_sima_empty_narrations_and_profile_input():
    s = build(sima_annotation=SimaAnnotation(instruction="open", narration_count=5,
                                             average_narration_length=2.0)).sima_annotation
    assert (s.narration_count, s.average_narration_length) == (0, 0.0)
    assert s.instruction == "open"
    # Code points, not bytes.
    s = build(sima_annotation={"step_narrations": ["café", "naïve!"]}).sima_annotation
    assert (s.narration_count, s.average_narration_length) == (2, 5.0)
    assert build().sima_annotation is None
    assert build(sima_annotation={}).sima_annotation is None
    raises("FIELD_TYPE", build, sima_annotation={"step_narrations": "one long narration"})
    raises("FIELD_TYPE", build, sima_annotation="annotation")


# -- step 11 skill traces and catalogues (checklist 8) ---------------------------------------------

def test_drawer_vase_needs_a_trace():
    err = raises("SKILL_TRACE_EMPTY", build, skill_trace=None)
    assert err.violations[0].field == "skill_trace"
    raises("SKILL_TRACE_EMPTY", build, skill_trace=[])


def test_dishwashing_gets_the_whole_episode_trace():
    whole = [{"t": 0, "skill_id": 0, "params": {"whole_episode": True}, "duration": 0}]
    assert build(env_type="dishwashing", skill_trace=None).skill_trace == whole
    assert build(env_type="dishwashing", skill_trace=[]).skill_trace == whole
    # the catalogue decides, not the task name
    assert build(skill_catalogue={0: "EPISODE"}, skill_trace=None).skill_trace == whole
    raises("SKILL_TRACE_EMPTY", build, env_type="isaac_drawer", skill_trace=None,
           skill_catalogue=catalogue_for("drawer_vase"))
    # a given trace is used as given, for every task
    assert build(env_type="dishwashing").skill_trace == TRACE


def test_given_trace_is_copied_and_skill_ids_become_ints():
    trace = [{"t": 0, "skill_id": SkillID.LOCATE_DRAWER, "params": {}, "duration": 5},
             {"t": 5, "skill_id": SkillID.GRASP_HANDLE, "params": {"grasp_force": 0.5}, "duration": 7}]
    dp = build(skill_trace=trace)
    assert dp.skill_trace == [{"t": 0, "skill_id": 0, "params": {}, "duration": 5},
                              {"t": 5, "skill_id": 3, "params": {"grasp_force": 0.5}, "duration": 7}]
    assert all(type(e["skill_id"]) is int for e in dp.skill_trace)
    assert dp.get_skill_ids() == [0, 3]
    trace[0]["duration"] = 99
    assert dp.skill_trace[0]["duration"] == 5


def test_invalid_traces_fail_the_self_check():
    err = raises("SKILL_TRACE_TIME_ORDER", build, skill_trace=[{"t": 5, "skill_id": 0}, {"t": 2, "skill_id": 1}])
    assert err.violations[0].field == "skill_trace[1].t"
    raises("SKILL_ID_INVALID", build, skill_trace=[{"t": 0, "skill_id": 1.0}])
    raises("SKILL_ID_INVALID", build, skill_trace=[{"t": 0, "skill_id": True}])


def test_skill_catalogues():
    assert [int(s) for s in SkillID] == [0, 1, 2, 3, 4, 5]
    assert catalogue_for("drawer_vase") == {0: "LOCATE_DRAWER", 1: "LOCATE_VASE", 2: "PLAN_SAFE_APPROACH",
                                            3: "GRASP_HANDLE", 4: "OPEN_WITH_CLEARANCE", 5: "RETRACT_SAFE"}
    assert catalogue_for("dishwashing") == {0: "EPISODE"} == catalogue_for("isaac_drawer")
    over = {"isaac_drawer": catalogue_for("drawer_vase"), "bricklaying": {"1": "LAY", "0": "PICK"}}
    assert catalogue_for("isaac_drawer", over) == catalogue_for("drawer_vase")
    assert catalogue_for("bricklaying", over) == {0: "PICK", 1: "LAY"}
    assert catalogue_for("dishwashing", over) == {0: "EPISODE"}
    catalogue_for("drawer_vase")[0] = "CHANGED"  # a new dict every time
    assert skill_name("drawer_vase", 0) == "LOCATE_DRAWER"
    assert skill_name("drawer_vase", SkillID.RETRACT_SAFE) == "RETRACT_SAFE"
    assert skill_name("drawer_vase", 6) == "UNKNOWN"
    assert skill_name("drawer_vase", -1) == "UNKNOWN"
    assert skill_name("drawer_vase", True) == "UNKNOWN"
    assert skill_name("dishwashing", 0) == "EPISODE"
    assert skill_name("dishwashing", 1) == "UNKNOWN"
    assert skill_name("bricklaying", 1, over) == "LAY"
    assert SKILL_DESCRIPTIONS[SkillID.PLAN_SAFE_APPROACH] == "compute a safe approach path avoiding fragile objects"
    assert DEFAULT_SKILL_PARAMS == {"target_clearance": 0.15, "min_clearance_threshold": 0.08, "approach_speed": 0.8,
                                    "pull_speed": 0.6, "retract_speed": 0.5, "grasp_force": 0.5}


# -- steps 1, 14-16: inputs, identity, versions, other fields ---------------------------------------

def test_summary_fields_and_dict_coercion():
    assert [f for f in EpisodeInfoSummary.__dataclass_fields__] == SUMMARY_FIELDS
    s = EpisodeInfoSummary.from_dict({"mpl_episode": 12, "limb_energy_Wh": {"shoulder": 1}})
    assert s.termination_reason == "unknown"
    assert s.mpl_episode == 12.0 and type(s.mpl_episode) is float
    assert (s.ep_episode, s.error_rate_episode, s.energy_Wh, s.profit) == (0.0, 0.0, 0.0, 0.0)
    assert (s.energy_per_limb, s.coordination_metrics, s.media_refs) == ({}, {}, {})
    assert s.limb_energy_Wh == {"shoulder": 1}
    assert s.wage_parity is None
    assert uuid.UUID(s.episode_id).version == 4
    assert EpisodeInfoSummary.from_dict({}).episode_id != EpisodeInfoSummary.from_dict({}).episode_id
    assert list(s.to_dict()) == SUMMARY_FIELDS
    with pytest.raises(TypeError):
        EpisodeInfoSummary("success", 1.0)  # the first 16 fields are required


def test_episode_metrics_holds_the_19_fields_in_order():
    dp = build(summary(mpl_episode=15))
    assert list(dp.episode_metrics) == SUMMARY_FIELDS
    assert dp.episode_metrics == summary()  # 15 -> 15.0
    assert type(dp.episode_metrics["mpl_episode"]) is float
    ep = EpisodeInfoSummary(**summary())
    assert build(ep).to_dict() == build(summary()).to_dict()


def test_econ_params_fields():
    names = list(EconParams.__dataclass_fields__)
    assert names == ["price_per_unit", "damage_cost", "energy_Wh_per_attempt", "time_step_s", "base_rate", "p_min",
                     "k_err", "q_speed", "q_care", "care_cost", "max_steps", "max_catastrophic_errors",
                     "max_error_rate_sla", "min_steps_for_sla", "zero_throughput_patience", "preset", "value_per_unit",
                     "vase_break_cost", "electricity_price_kWh", "other_costs_per_hr", "allowable_risk_tolerance",
                     "fragility_penalty_coeff"]
    assert (ECON_TOY.preset, ECON_TOY.value_per_unit, ECON_TOY.vase_break_cost, ECON_TOY.electricity_price_kWh,
            ECON_TOY.other_costs_per_hr, ECON_TOY.allowable_risk_tolerance, ECON_TOY.fragility_penalty_coeff) == (
        "toy", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(TypeError):
        EconParams(5.0, 50.0, 5.0, 60.0, 2.0, 0.02, 0.12, 1.2, 1.5, 0.25, 240, 3, 0.1, 5)  # 14 of 15
    d = ECON_TOY.to_dict()
    del d["zero_throughput_patience"]
    raises("ARGUMENT_INVALID", EconParams.from_dict, d)


def test_env_type_must_be_a_task_name():
    for bad in ("../etc", "a/b", "drawer vase", "a..b", "", "x" * 129, None):
        raises("TASK_NAME_INVALID", build, env_type=bad)
    dp = build(env_type="test.v2", skill_trace=None)
    assert (dp.task_name, dp.env_type, dp.condition.task_name) == ("test.v2", "test.v2", "test.v2")


def test_pack_id_uuid5_example_and_identity():
    dp = build()
    assert dp.pack_id == "470b8300-c128-5ac6-9c37-f291712a856d"
    assert dp.pack_id == str(uuid.uuid5(DATAPACK_NS, "episode:drawer_vase:3f1c2a9e-5b7d-4e21-9c0a-8d6f4b2e1a70"))
    assert dp.episode_id == "3f1c2a9e-5b7d-4e21-9c0a-8d6f4b2e1a70"
    assert (dp.episode_index, dp.brick_id, dp.created_at) == (None, None, CREATED)
    # the id depends on the task too
    assert build(env_type="dishwashing").pack_id == str(
        uuid.uuid5(DATAPACK_NS, "episode:dishwashing:3f1c2a9e-5b7d-4e21-9c0a-8d6f4b2e1a70"))
    assert build(pack_id="explicit-1", brick_id="brick-9").pack_id == "explicit-1"
    dp = build(brick_id="brick-9", episode_index=7)
    assert (dp.pack_id, dp.brick_id, dp.episode_index) == ("brick-9", "brick-9", 7)
    assert build(brick_id="").pack_id == "470b8300-c128-5ac6-9c37-f291712a856d"
    # a dict without episode_id gets a random UUID4, copied to the record
    s = summary()
    del s["episode_id"]
    dp = build(s)
    assert uuid.UUID(dp.episode_id).version == 4 and dp.episode_metrics["episode_id"] == dp.episode_id
    assert dp.pack_id == str(uuid.uuid5(DATAPACK_NS, f"episode:drawer_vase:{dp.episode_id}"))


def test_created_at_defaults_to_utc_now():
    dp = build(created_at=None)
    assert dp.created_at.endswith("+00:00") and len(dp.created_at) == len(CREATED)


def test_schema_versions():
    assert build().schema_version == "2.0-energy"
    tracks = {"scene_tracks_v1/version": ["v1"]}
    assert build(scene_tracks_v1=tracks).schema_version == "2.1-portable"
    assert build(rgb_features_v1={"dim": 2, "features": [0.1, 0.2]}).schema_version == "2.1-portable"
    assert build(slice_labels_v1={"is_occluded": False}).schema_version == "2.1-portable"
    dp = build(scene_tracks_v1=tracks, repr_tokens={"vision_rgb": {"version": "vision_rgb::v1", "error": "x"}})
    assert dp.schema_version == "2.2-repr" and dp.scene_tracks_v1 == tracks
    assert build(schema_version="2.1-portable").schema_version == "2.1-portable"
    err = raises("SCHEMA_VERSION_UNKNOWN", build, schema_version="2.3-x")
    assert err.violations[0].field == "schema_version"


def test_other_fields_as_given():
    obj = {"objective_vector": [1.0, 1.0, 1.0, 1.0, 0.0], "wage_human": 20.0}
    emb = {"w_embodiment": 0.8}
    dp = build(semantic_quality=1.5, econ_semantic_tags=["cheap"], vla_plan={"skill_sequence": [0, 1, 3]},
               objective_profile=obj, embodiment_profile=emb, raw_data_path="data/raw/ep1.npz",
               agent={"policy": "scripted"})
    assert dp.semantic_quality == 1.0
    assert dp.econ_semantic_tags == ["cheap"]
    assert dp.vla_plan == {"skill_sequence": [0, 1, 3]}
    assert dp.objective_profile.wage_human == 20.0 and dp.embodiment_profile.w_embodiment == 0.8
    assert dp.raw_data_path == "data/raw/ep1.npz" and dp.agent_profile == {"policy": "scripted"}
    assert build(semantic_quality=-0.2).semantic_quality == 0.0
    assert build(semantic_quality=0.7).semantic_quality == 0.7
    d = build().to_dict()
    assert list(d) == list(TOP_KEYS)
    assert d["semantic_quality"] is None and d["agent_profile"] == {} and d["guidance_profile"] is None


def test_inputs_are_not_modified_and_results_are_deterministic():
    s, cond, trace = summary(), {"tags": ["a"], "vase_offset": (0.2, 0.0, 0.0)}, copy.deepcopy(TRACE)
    before = copy.deepcopy((s, cond, trace))
    first = build(s, condition=cond, skill_trace=trace, extra_tags=["b"], vase_broken=True)
    assert (s, cond, trace) == before
    second = build(s, condition=cond, skill_trace=trace, extra_tags=["b"], vase_broken=True)
    assert first.to_json() == second.to_json()
    first.condition.tags["tags"].append("mutated")
    assert cond["tags"] == ["a"]


def test_numpy_values_become_plain_json():
    np = pytest.importorskip("numpy")
    s = summary(mpl_episode=np.float64(15.0), ep_episode=np.float32(3.0),
                energy_per_joint={"joint_0": {"Wh": np.float64(0.1)}, "joint_1": {"Wh": np.float32(0.25)}})
    trace = [{"t": np.int64(0), "skill_id": np.int64(2), "params": {"gain": np.float32(0.5)}, "duration": np.int32(3)}]
    dp = build(s, condition={"vase_offset": np.array([0.0, 0.2, 0.0])}, skill_trace=trace, trust_score=np.float64(0.9),
               w_econ=np.float32(1.0))
    assert dp.attribution.delta_mpl == 0.5 and dp.skill_trace[0]["skill_id"] == 2
    assert type(dp.skill_trace[0]["t"]) is int and "offset_vase" in dp.semantic_tags
    assert dp.energy_driver_tags[0] == "energy_driver:joint_dominated:joint_1"
    json.loads(dp.to_json())


# -- self-check and append (checklist 9, docs/schema.md §9) -----------------------------------------------

def variety() -> list[DataPackMeta]:
    """Packs covering every branch of the builder."""
    neg = summary(mpl_episode=5.0, ep_episode=2.0, termination_reason="catastrophic_error", episode_id="ep-neg")
    return [
        build(),
        build(summary(episode_id="ep-vase"), vase_broken=True, failure_reason="vase_collision",
              condition={"engine_type": "isaac", "vase_offset": [0.2, 0.0, 0.0], "objective_vector": [1, 1, 1]}),
        build(neg, drawer_stuck=True, failure_reason="drawer_friction_jam", trust_score=0.95, w_econ=0.8,
              lambda_budget=0.1, source_type="synthetic", wm_model_id="wm-1", wm_role="wm_synth_target",
              wm_horizon_used=5, wm_branch_depth=1, wm_trust_over_horizon=[0.9, 0.8], world_model_horizon=5),
        build(summary(episode_id="ep-dish"), env_type="dishwashing", skill_trace=None,
              condition={"task": "dishwashing", "tags": []}, agent={"policy": "ppo_baseline"},
              baseline_mpl=20.0, baseline_error=0.01, baseline_ep=1.0),
        build(summary(episode_id="ep-sima"), sima_annotation={"instruction": "open", "step_narrations": ["a", "bb"]},
              vla_plan={"instruction": "open", "skill_sequence": [0, 1, 3], "confidence": [0.9, 0.8, 0.7]},
              semantic_quality=2.0, econ_semantic_tags=["x"], pack_id="explicit-sima", episode_index=3),
        build(summary(episode_id="ep-port"), scene_tracks_v1={"scene_tracks_v1/version": ["v1"]},
              repr_tokens={"vision_rgb": {"version": "vision_rgb::v1", "dim": 1, "features": [0.5]}},
              baseline=Baseline(0.0, 0.0, 0.0)),
        build(summary(episode_id="ep-neg-dish", mpl_episode=1.0), env_type="dishwashing", skill_trace=None,
              counterfactual_plan={"skills": [0], "source": "vla_planner"}),
    ]


def test_every_built_pack_passes_append(tmp_path):
    packs = variety()
    for p in packs:
        assert record_violations(p.to_dict(), check_free_finite=True) == []
    assert {p.bucket for p in packs} == {"positive", "negative"}
    repo = DataPackRepo(str(tmp_path / "store"), fsync=False, create=True)
    try:
        results = repo.append_batch(packs)
        assert [r.status for r in results] == ["created"] * len(packs)
        for p in packs:
            assert repo.get(p.task_name, p.pack_id).to_dict() == p.to_dict()
        assert repo.append(build()).status == "already_present"
    finally:
        repo.close()


def test_rebuilding_the_same_summary_gives_the_same_pack_id(tmp_path):
    a = build(created_at=None)
    b = build(created_at=None, trust_score=0.9)
    assert a.pack_id == b.pack_id == "470b8300-c128-5ac6-9c37-f291712a856d"
    s = EpisodeInfoSummary.from_dict(summary(episode_id="ep-42"))
    assert build(s).pack_id == build(s).pack_id == build(summary(episode_id="ep-42")).pack_id
    repo = DataPackRepo(str(tmp_path / "store"), fsync=False, create=True)
    try:
        assert repo.append(build(s)).status == "created"
        assert repo.append(build(s)).status == "already_present"  # identical rebuild: idempotent
    finally:
        repo.close()


def test_self_check_raises_what_append_would():
    with pytest.raises(InvalidArgumentError) as ei:
        build(condition={"engine_type": "unity"}, source_type="simulated", created_at=5)
    err = ei.value
    fields = [v.field for v in err.violations]
    assert {"condition.engine_type", "attribution.source_type", "created_at"} <= set(fields)
    assert all(v.index == 0 and v.pack_id == "470b8300-c128-5ac6-9c37-f291712a856d" for v in err.violations)
    assert err.message.startswith(f"{len(err.violations)} invalid field(s); first: ")


def test_schema_example_inputs():
    """The inputs of the docs/schema.md §9 line built by this service."""
    dp = build_datapack_meta_from_episode(
        summary(), ECON_TOY, {"task": "drawer_vase", "tags": ["test"], "engine_type": "pybullet"},
        {"policy": "scripted", "version": "v1"}, env_type="drawer_vase", brick_id="drawer_vase_scripted_0001",
        baseline_mpl=10.0, baseline_error=0.05, baseline_ep=2.0, trust_score=0.9, skill_trace=TRACE,
        sima_annotation={"instruction": "open the drawer without hitting the vase",
                         "step_narrations": ["Locating drawer handle", "Planning approach", "Grasping handle"],
                         "sima_agent_id": "sima_v1", "source_world": "pyb_drawer_v1", "derived_skill_plan": [0, 1, 3]},
        vla_plan={"instruction": "open the drawer carefully", "skill_sequence": [0, 1, 3],
                  "confidence": [0.9, 0.85, 0.88]},
        created_at=CREATED)
    a = dp.attribution
    assert (a.delta_mpl, a.delta_error, a.delta_ep, a.delta_J) == (0.5, -0.020000000000000004, 0.5, 1.02)
    assert dp.bucket == "positive" and dp.pack_id == "drawer_vase_scripted_0001"
    assert dp.energy_driver_tags == ["energy_driver:joint_dominated:joint_1", "energy_driver:effector:gripper",
                                     "energy_driver:coordination:high_multi_joint_activity"]
    assert dp.episode_id == "3f1c2a9e-5b7d-4e21-9c0a-8d6f4b2e1a70"
    assert dp.semantic_tags == ["test", "task_complete", "fragile_glassware", "top_drawer"]
    assert dp.condition.objective_vector == [1.0, 1.0, 1.0, 0.5] and dp.condition.econ_preset == "toy"
    assert dp.condition.tags == {"task": "drawer_vase", "tags": ["test"], "engine_type": "pybullet"}
    assert (dp.sima_annotation.narration_count, dp.sima_annotation.average_narration_length) == (3, 18.0)
    e = dp.energy
    assert (e.total_Wh, e.Wh_per_unit, e.Wh_per_hour) == (0.5, 0.03333333333333333, 5.0)
    assert e.energy_per_joint == SUMMARY_9["energy_per_joint"] and e.limb_energy_Wh == SUMMARY_9["limb_energy_Wh"]
    assert (a.trust_score, a.w_econ, a.econ_weight_final, a.mvd_score) == (0.9, 0.0, None, None)
    assert not math.isnan(a.delta_J)
