"""Episode ingest (server-side building) and the seed's Phase B / Phase C,
SIMA/VLA and world-model flows, end to end against a server."""
from __future__ import annotations

import pytest

from datapack_client import connect
from datapack_client.errors import InvalidArgumentError

CREATED = "2025-06-01T12:00:00.000000+00:00"


def econ():
    from datapack_client.building.builder import EconParams
    return EconParams(price_per_unit=5.0, damage_cost=50.0, energy_Wh_per_attempt=5.0, time_step_s=60.0,
                      base_rate=2.0, p_min=0.02, k_err=0.12, q_speed=1.2, q_care=1.5, care_cost=0.25, max_steps=240,
                      max_catastrophic_errors=3, max_error_rate_sla=0.10, min_steps_for_sla=5,
                      zero_throughput_patience=10, preset="drawer_vase", vase_break_cost=50.0,
                      electricity_price_kWh=0.12)


def summary(i, mpl=15.0, error=0.03, ep=3.0, reason="success"):
    return {"termination_reason": reason, "mpl_episode": mpl, "ep_episode": ep, "error_rate_episode": error,
            "throughput_units_per_hour": mpl, "energy_Wh": 0.5, "energy_Wh_per_unit": 0.03, "energy_Wh_per_hour": 5.0,
            "limb_energy_Wh": {"shoulder": 0.2, "elbow": 0.15, "wrist": 0.1, "gripper": 0.05},
            "skill_energy_Wh": {"grasp": 0.2},
            "energy_per_limb": {"shoulder": {"Wh": 0.2, "fraction": 0.4}, "elbow": {"Wh": 0.15, "fraction": 0.3},
                                "wrist": {"Wh": 0.1, "fraction": 0.2}, "gripper": {"Wh": 0.05, "fraction": 0.1}},
            "energy_per_skill": {"grasp": {"Wh": 0.2, "fraction": 0.4}},
            "energy_per_joint": {"joint_0": {"Wh": 0.1}, "joint_1": {"Wh": 0.2}, "joint_2": {"Wh": 0.15}},
            "energy_per_effector": {"gripper": {"Wh": 0.05}}, "coordination_metrics": {"mean_active_joints": 2.5},
            "profit": 73.5, "episode_id": f"ep-{i}", "media_refs": {}, "wage_parity": 0.9}


def drawer_episode(i, vase_broken=False, sima=True):
    trace = [{"t": 0, "skill_id": 0, "params": {}, "duration": 10}, {"t": 10, "skill_id": 1, "params": {}, "duration": 15},
             {"t": 25, "skill_id": 3, "params": {"grasp_force": 0.5}, "duration": 20}]
    ep = {"episode_info": summary(i, mpl=15.0 - (i % 5) * 2.0), "env_type": "drawer_vase",
          "condition_profile": {"task": "drawer_vase", "engine_type": "pybullet", "vase_offset": [0.15 if i % 3 else 0.0, 0.0, 0.0],
                                "drawer_friction": 0.3 + 0.1 * (i % 4), "lighting_profile": "normal", "occlusion_level": 0.0},
          "agent_profile": {"policy": "scripted"}, "skill_trace": trace, "vase_broken": vase_broken,
          "vla_plan": {"instruction": "open the drawer carefully", "skill_sequence": [0, 1, 3], "confidence": [0.9, 0.85, 0.88]},
          "trust_score": 0.9 + 0.01 * (i % 10), "w_econ": 1.2, "created_at": CREATED}
    if sima:
        ep["sima_annotation"] = {"instruction": "open the drawer without hitting the vase",
                                 "step_narrations": ["Locating drawer handle", "Planning approach", "Grasping handle"],
                                 "derived_skill_plan": [0, 1, 3]}
    return ep


def test_ingest_rpc_builds_exactly_what_the_client_side_builder_builds(client, data_root):
    from datapack_client.building.builder import Baseline, build_datapack_meta_from_episode
    episodes = [drawer_episode(i, vase_broken=(i == 3)) for i in range(8)]
    results = client.ingest_episodes(episodes, econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    assert [r.status for r in results] == ["created"] * 8
    assert {r.bucket for r in results} == {"positive", "negative"}
    for r, ep in zip(results, episodes):
        args = dict(ep)
        local = build_datapack_meta_from_episode(args.pop("episode_info"), econ(), baseline=Baseline(10.0, 0.05, 2.0),
                                                 **args)
        served = client.get("drawer_vase", r.pack_id)
        assert served.to_dict() == local.to_dict()
        assert r.delta_j == local.attribution.delta_J and r.bucket == local.bucket
    again = client.ingest_episodes(episodes, econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    assert [r.status for r in again] == ["already_present"] * 8  # re-ingesting is idempotent


def test_named_baselines_and_baseline_errors(repo):
    names = repo.list_baselines()
    assert names["synthetic_nominal"]["mpl"] == 10.0 and names["synthetic_nominal"]["builtin"] is True
    stored = repo.put_baseline("scripted_v1", episodes=[summary(0, mpl=8.0, error=0.04, ep=1.5),
                                                        summary(1, mpl=12.0, error=0.06, ep=2.5)])
    assert (stored["mpl"], stored["error"], stored["ep"], stored["episode_count"]) == (10.0, 0.05, 2.0, 2)
    assert repo.list_baselines()["scripted_v1"]["episode_count"] == 2
    by_name = repo.ingest_episodes([drawer_episode(0)], econ(), "scripted_v1")
    by_value = repo.ingest_episodes([dict(drawer_episode(0), pack_id="explicit")], econ(),
                                    {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    assert by_name[0].delta_j == by_value[0].delta_j
    for baseline, reason in [("no_such_baseline", "BASELINE_UNKNOWN"), (None, "BASELINE_REQUIRED")]:
        with pytest.raises(InvalidArgumentError) as exc:
            repo.ingest_episodes([drawer_episode(1)], econ(), baseline)
        assert exc.value.reason == reason
    with pytest.raises(InvalidArgumentError) as exc:  # drawer_vase needs its HRL trace
        repo.ingest_episodes([dict(drawer_episode(2), skill_trace=None)], econ(), "scripted_v1")
    assert exc.value.reason == "SKILL_TRACE_EMPTY"


def test_phase_b_dishwashing_flow_against_a_server(server, data_root):
    """Seed 'Phase B': dishwashing episodes -> data/datapacks/phase_b."""
    repo = connect(f"127.0.0.1:{server.port}", store="phase_b")
    episodes = [{"episode_info": summary(i, mpl=10.0 + (i - 5), error=0.05, ep=2.0, reason="max_steps"),
                 "condition_profile": {"task": "dishwashing", "tags": []}, "agent_profile": {"policy": "ppo_baseline"},
                 "env_type": "dishwashing", "created_at": CREATED} for i in range(10)]
    results = repo.ingest_episodes(episodes, econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    assert len(results) == 10
    stats = repo.get_statistics("dishwashing")
    assert stats["total"] == 10 and stats["positive"] > 0 and stats["negative"] > 0
    assert stats["unique_skills"] == [0]  # the one-skill catalogue: the whole-episode trace
    assert repo.list_tasks() == ["dishwashing"]
    for p in repo.query("dishwashing", bucket="negative", limit=None):
        assert p.counterfactual_plan and p.counterfactual_source  # every negative pack carries a plan
    assert (data_root / "phase_b" / "dishwashing_datapacks.jsonl").exists()


def test_phase_c_flow_sima_vla_extraction_and_world_model(server):
    """Seed 'Phase C' + 'Querying SIMA data' + 'World Model Training', through the client."""
    repo = connect(f"127.0.0.1:{server.port}", store="phase_c")
    episodes = [drawer_episode(i, vase_broken=(i % 7 == 0), sima=(i % 2 == 0)) for i in range(20)]
    repo.ingest_episodes(episodes, econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})

    sima_packs = repo.query(task_name="drawer_vase", include_sima=True, limit=500)
    vla_samples = [{"instruction": dp.sima_annotation.instruction, "skill_sequence": dp.get_skill_ids(),
                    "narrations": dp.sima_annotation.step_narrations} for dp in sima_packs if dp.sima_annotation]
    assert len(vla_samples) == 10
    assert all(s["skill_sequence"] == [0, 1, 3] and len(s["narrations"]) == 3 for s in vla_samples)
    assert all(dp.sima_annotation.narration_count == 3 and dp.sima_annotation.average_narration_length == 18.0
               for dp in sima_packs)

    wm_train = repo.query(task_name="drawer_vase", source_type="real", min_trust=0.95, limit=1000)
    assert wm_train
    repo.update_training_usage("drawer_vase", [p.pack_id for p in wm_train], wm_role="wm_train",
                               add_training_runs=["wm_run_001"])
    marked = repo.query("drawer_vase", source_type="real", min_trust=0.95, limit=1000)
    assert all(p.attribution.wm_role == "wm_train" and p.attribution.used_in_training_runs == ["wm_run_001"]
               for p in marked)

    synthetic = [dict(drawer_episode(100 + i), source_type="synthetic", wm_model_id="wm_v1",
                      wm_role="wm_synth_target") for i in range(5)]
    repo.ingest_episodes(synthetic, econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    syn = repo.query("drawer_vase", source_type="synthetic", limit=None)
    assert len(syn) == 5 and all(p.attribution.wm_model_id == "wm_v1" and p.attribution.wm_role == "wm_synth_target"
                                 for p in syn)
    assert repo.get_statistics("drawer_vase")["source_types"] == {"real": 20, "synthetic": 5}
    by_model = repo.query("drawer_vase", wm_model_id="wm_v1", limit=None)
    assert [p.pack_id for p in by_model] == [p.pack_id for p in syn]
    assert len(repo.query("drawer_vase", wm_role="wm_train", limit=None)) == len(marked)
    assert repo.query("drawer_vase", wm_model_id="wm_v2") == []
    with pytest.raises(InvalidArgumentError):
        repo.query("drawer_vase", wm_role="policy_train")


def test_ingest_in_the_worker_pool_builds_the_same_packs(tmp_path):
    """Batches of >= 32 episodes are built in the server's worker processes:
    the stored packs equal the client-side builder's, byte for byte."""
    from datapack_client.building.builder import Baseline, build_datapack_meta_from_episode
    from .conftest import ServerProcess
    proc = ServerProcess(tmp_path / "data", "--create", "--workers", "2").start()
    try:
        repo = connect(proc.target, store="phase_c", timeout=30)
        episodes = [drawer_episode(i, vase_broken=(i % 9 == 0), sima=(i % 2 == 0)) for i in range(64)]
        results = repo.ingest_episodes(episodes, econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
        assert [r.index for r in results] == list(range(64)) and {r.status for r in results} == {"created"}
        for r, ep in zip(results, episodes):
            args = dict(ep)
            local = build_datapack_meta_from_episode(args.pop("episode_info"), econ(),
                                                     baseline=Baseline(10.0, 0.05, 2.0), **args)
            assert repo.get("drawer_vase", r.pack_id).to_json() == local.to_json()
            assert (r.bucket, r.delta_j) == (local.bucket, local.attribution.delta_J)
        with pytest.raises(InvalidArgumentError) as exc:  # a builder error in a worker reaches the client
            repo.ingest_episodes([dict(drawer_episode(i), pack_id=f"x{i}") for i in range(40)]
                                 + [dict(drawer_episode(99), skill_trace=None)], econ(), "synthetic_nominal")
        assert exc.value.reason == "SKILL_TRACE_EMPTY" and exc.value.violations[0].index == 40
        assert repo.get_statistics("drawer_vase")["total"] == 64  # the rejected batch wrote nothing
    finally:
        proc.kill()
