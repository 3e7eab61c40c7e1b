"""The PyBullet drawer + vase simulator (`datapack sim`): several simulator processes
stream real episodes into a server; the packs agree with the builder; their energy
accounts add up; their raw frames and tracks export as portable packs."""
from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import sys

import pytest
from datapack_client import connect
from datapack_client.building.builder import EpisodeInfoSummary, delta_j
from datapack_client.records.skills import DRAWER_VASE_SKILLS, SkillID
from datapack_server.synthetic.episodes import build_pack, generate_synthetic_episodes

from .conftest import STORE

needs_pybullet = pytest.mark.skipif(importlib.util.find_spec("pybullet") is None,
                                    reason="pybullet is not installed: pip install -e '.[sim]' (the sim extra)")
REL = 1e-9
ROOT = pathlib.Path(__file__).resolve().parent.parent


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-15)


def _check_energy(metrics: dict) -> None:
    total = metrics["energy_Wh"]
    joints = metrics["energy_per_joint"]
    assert len(joints) == 8 and total > 0
    by_limb: dict[str, float] = {}
    for j in joints.values():
        by_limb[j["limb"]] = by_limb.get(j["limb"], 0.0) + j["Wh"]
    assert set(by_limb) == set(metrics["limb_energy_Wh"])
    for limb, wh in metrics["limb_energy_Wh"].items():
        assert _close(by_limb[limb], wh), (limb, by_limb[limb], wh)
        assert metrics["energy_per_limb"][limb]["Wh"] == wh
    assert _close(math.fsum(j["Wh"] for j in joints.values()), total)
    assert _close(math.fsum(metrics["limb_energy_Wh"].values()), total)
    assert _close(math.fsum(metrics["skill_energy_Wh"].values()), total)
    assert metrics["energy_per_effector"]["gripper"]["Wh"] == metrics["limb_energy_Wh"]["gripper"]
    assert 0 < metrics["coordination_metrics"]["mean_active_joints"] <= 7
    assert metrics["coordination_metrics"]["peak_power"] > 0


@needs_pybullet
def test_two_simulator_processes_stream_into_a_server(server, tmp_path):
    from datapack_server.sim.episode import SIM_BASELINE
    from datapack_server.sim.runner import SimConfig, run_simulation

    target = f"127.0.0.1:{server.port}"
    raw = tmp_path / "raw"
    report = run_simulation(SimConfig(episodes=40, workers=2, target=target, store=STORE, seed=11,
                                      raw_dir=str(raw), narrate=True, keep_episodes=True))
    assert report.errors == []
    assert (report.episodes, report.created, report.workers) == (40, 40, 2)
    assert {m["worker"] for m in report.episode_results} == {0, 1}

    repo = connect(target, store=STORE, timeout=30)
    try:
        packs = {p.pack_id: p for p in repo.load_all("drawer_vase")}
        assert len(packs) == 40
        buckets = {p.bucket for p in packs.values()}
        assert buckets == {"positive", "negative"}, report.failures
        assert report.positive + report.negative == 40 and report.failures

        for msg in report.episode_results:
            stored = packs[msg["pack_id"]]
            d = stored.to_dict()
            metrics = d["episode_metrics"]
            _check_energy(metrics)
            # The trace is the executed skills in order, back to back, with real step counts.
            trace = d["skill_trace"]
            ids = [e["skill_id"] for e in trace]
            assert ids == [int(s) for s in SkillID][:len(ids)] and ids[0] == SkillID.LOCATE_DRAWER
            assert all(e["duration"] > 0 for e in trace)
            assert all(b["t"] == a["t"] + a["duration"] for a, b in zip(trace, trace[1:]))
            sim_steps = round(metrics["coordination_metrics"]["sim_seconds"] * 240)
            assert trace[-1]["t"] + trace[-1]["duration"] == sim_steps
            assert set(metrics["skill_energy_Wh"]) == {DRAWER_VASE_SKILLS[k] for k in ids}
            # Outcome and bucket agree.
            broken = "vase_collision" in d["semantic_tags"]
            if metrics["termination_reason"] == "success":
                assert not broken and metrics["mpl_episode"] > 0
            else:
                assert stored.bucket == "negative" and stored.counterfactual_plan is not None
            # ΔJ and bucket agree with the builder, from the worker's builder arguments ...
            rebuilt = build_pack(msg["builder_args"], SIM_BASELINE)
            assert rebuilt.attribution.delta_J == stored.attribution.delta_J == msg["delta_J"]
            assert rebuilt.bucket == stored.bucket and rebuilt.to_dict()["episode_metrics"] == metrics
            # ... and from the stored record alone.
            _, _, _, dj = delta_j(EpisodeInfoSummary.from_dict(metrics), SIM_BASELINE,
                                  d["condition"]["objective_vector"], vase_broken=broken)
            assert dj == stored.attribution.delta_J
            assert ("positive" if dj >= 0 else "negative") == stored.bucket
            sima = d["sima_annotation"]
            assert sima["derived_skill_plan"] == ids and len(sima["step_narrations"]) == len(ids)
            assert d["condition"]["engine_type"] == "pybullet" and 0.0 <= d["condition"]["occlusion_level"] <= 1.0
        occlusions = {round(p.condition.occlusion_level, 3) for p in packs.values()}
        assert len(occlusions) > 3  # measured per scene, not constant

        summary = repo.export_portable("drawer_vase")
        assert summary["exported"] == 40 and summary["skipped_missing_inputs"] == 0, summary
        assert summary["skipped_bad_inputs"] == 0 and summary["unstrided_no_fps"] == 0
        for pack in repo.load_all("drawer_vase"):
            d = pack.to_dict()
            assert d["schema_version"] == "2.1-portable"
            assert d["rgb_features_v1"]["encoder"] == "vision_rgb::deterministic_pool_v1"
            assert len(d["rgb_features_v1"]["features"]) == 64
            assert d["scene_tracks_v1"]["scene_tracks_v1/track_ids"] == ["vase", "drawer_handle", "end_effector"]
            assert d["slice_labels_v1"]["occlusion_level"] == d["condition"]["occlusion_level"]
    finally:
        repo.close()


@needs_pybullet
def test_sim_command_writes_a_local_store_deterministically(tmp_path, server, capsys):
    """Without --target the packs land in an embedded store; the same seed gives the same
    episodes whichever process simulated them (here: one worker vs. the server run)."""
    from datapack_server import DataPackRepo
    from datapack_server.cli.main import main
    from datapack_server.sim.runner import SimConfig, run_simulation

    out = tmp_path / "local"
    rc = main(["sim", "--episodes", "3", "--seed", "11", "--output-dir", str(out), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["episodes"] == 3 and summary["created"] == 3 and summary["errors"] == []
    with DataPackRepo(str(out)) as repo:
        local = {p.pack_id: p for p in repo.load_all("drawer_vase")}
    remote = run_simulation(SimConfig(episodes=3, workers=2, target=f"127.0.0.1:{server.port}", store=STORE,
                                      seed=11, keep_episodes=True))
    assert remote.errors == []
    for msg in remote.episode_results:
        assert local[msg["pack_id"]].attribution.delta_J == msg["delta_J"]


@needs_pybullet
def test_worlds_own_their_physics_clients():
    """Two worlds in one process do not share state (each call names its own client)."""
    from datapack_server.sim import env as W

    with W.DrawerVaseWorld() as a, W.DrawerVaseWorld() as b:
        assert a.cid != b.cid
        a.reset(W.Condition(vase_offset=(0.05, 0.0, 0.0)))
        b.reset(W.Condition(vase_offset=(-0.05, 0.1, 0.0), occluder=True, occluder_height=0.2))
        before = b.vase_pose()[0].copy()
        a.command_ee(a.ee_position() + [0.0, 0.0, 0.1])
        for _ in range(60):
            a.step()
        assert (b.vase_pose()[0] == before).all()
        assert abs(a.vase_pose()[0][1] - b.vase_pose()[0][1]) > 0.09
        assert b.vase_occlusion() > a.vase_occlusion()


def test_energy_meter_partitions_one_matrix():
    """Joint, limb, skill and effector totals are sums of the same per-step cells."""
    import numpy as np
    from datapack_server.sim.energy import LIMBS, EnergyMeter

    rng = np.random.default_rng(5)
    names = tuple(f"j{i}" for i in range(7)) + ("gripper_grasp",)
    meter = EnergyMeter(names, DRAWER_VASE_SKILLS, 1 / 240)
    expected = 0.0
    for step in range(500):
        skill = [0, 1, 2, 3, 4, 5][min(5, step // 90)]
        tau, qd = rng.normal(0, 20, 7), rng.normal(0, 0.5, 7)
        grip = rng.normal(0, 3) if skill == 4 else 0.0
        expected += (np.abs(tau * qd).sum() + abs(grip)) / 240 / 3600
        meter.add_step(skill, tau, qd, grip, skill == 4)
    t = meter.totals()
    assert math.isclose(t.energy_Wh, expected, rel_tol=1e-12)
    assert list(t.limb_energy_Wh) == list(LIMBS)
    assert _close(math.fsum(t.skill_energy_Wh.values()), t.energy_Wh)
    assert _close(math.fsum(t.limb_energy_Wh.values()), t.energy_Wh)
    assert _close(t.limb_energy_Wh["wrist"], sum(t.energy_per_joint[f"j{i}"]["Wh"] for i in (4, 5, 6)))
    assert t.energy_per_effector["gripper"]["activation_time"] == pytest.approx(90 / 240)
    assert list(t.skill_energy_Wh) == [DRAWER_VASE_SKILLS[k] for k in range(6)]


def test_example_simulator_client_streams_episode_results(client, server, tmp_path):
    """examples/simulator_client.py: the thin-client pattern an Isaac/UE5 process follows."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import simulator_client
    finally:
        sys.path.pop(0)
    episodes = generate_synthetic_episodes(12, seed=4)
    path = tmp_path / "isaac_episodes.json"
    path.write_text(json.dumps(episodes))
    rc = simulator_client.main([str(path), "--target", f"127.0.0.1:{server.port}", "--store", STORE,
                                "--engine", "isaac"])
    assert rc == 0
    stored = client.load_all("drawer_vase")
    assert len(stored) == 12 and {p.condition.engine_type for p in stored} == {"isaac"}
