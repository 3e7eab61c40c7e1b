"""The seeded synthetic generator and `datapack build` (docs/building.md §8, §9, §12 item 10)."""
from __future__ import annotations

import collections
import io
import json
import os
import pathlib
import subprocess
import sys
import uuid

import numpy as np
import pytest

from datapack_server.synthetic.episodes import (BaselineSpecError, IncompleteEpisodeError, build_pack,
                                       episode_to_builder_args, generate_synthetic_episodes,
                                       load_episode_files, resolve_baseline)
from datapack_server import DataPackRepo
from datapack_server.cli.main import main as datapack_main

ROOT = pathlib.Path(__file__).resolve().parent.parent
TASK = "drawer_vase"
DATAPACK_NS = uuid.UUID("9b9ead8b-d525-553f-a45f-749563df224f")
DERIVED_TAGS = ("vase_collision", "drawer_jam", "task_complete", "offset_vase", "high_friction",
                "partial_occlusion", "low_light", "fragile_glassware", "top_drawer")
DEFAULT_TRACE = [(0, 0, 10), (1, 10, 10), (2, 20, 20), (3, 40, 30), (4, 70, 40), (5, 110, 20)]
STAT_KEYS = ("total", "positive", "negative", "positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min",
             "delta_j_max", "trust_mean", "trust_std", "unique_skills", "engine_types", "source_types",
             "with_sima", "with_counterfactual")
SUMMARY_KEYS = ("episodes read", "packs built", "positive", "negative", "created", "already_present",
                "conflicts", "skipped_incomplete", "rejected_invalid")


def run_build(capsys, *argv: str) -> tuple[int, str, str]:
    """`datapack build ...` in-process through the command's main; (status, stdout, stderr)."""
    capsys.readouterr()
    rc = datapack_main(["build", *argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def summary_of(out: str) -> dict[str, str]:
    """The `key: value` lines of the printed summary (statistics lines are indented)."""
    d = {}
    for line in out.splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep:
            d.setdefault(key, value)
    return d


def read_lines(store: pathlib.Path) -> list[dict]:
    with open(store / f"{TASK}_datapacks.jsonl", "rb") as fh:
        return [json.loads(line) for line in fh]


def tree_bytes(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def cf_variant(pack: dict) -> str:
    plan = pack["counterfactual_plan"]
    vase = plan["source"] == "hrl_teacher" and plan["params"]["target_clearance"] == 0.25
    friction = plan["params"]["grasp_force"] == 0.7 and plan["params"]["approach_speed"] == 0.6
    return {(False, False): "default", (True, False): "vase", (False, True): "friction",
            (True, True): "vase+friction"}[(vase, friction)]


# ------------------------------------------------------------------------------------------------
# §9 generator


def replay_draws(n: int, seed: int) -> list[dict]:
    """The 23 draws of §9 made one call at a time, in the listed order."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        d = {"z": [rng.standard_normal() for _ in range(3)], "u_vase": rng.random(),
             "off": [rng.uniform(-0.12, 0.12), rng.uniform(-0.12, 0.12)], "friction": rng.uniform(0.2, 0.6),
             "u_light": rng.random(), "u_occ": rng.random(), "occ": rng.uniform(0.0, 0.6),
             "u_stuck": rng.random(), "u_source": rng.random(), "trust": rng.uniform(0.7, 1.0),
             "w_econ": rng.uniform(0.5, 1.5), "u_default": rng.random(),
             "include": [rng.random() < 0.75 for _ in range(6)], "dur": list(rng.integers(5, 41, size=6)),
             "u_retry": rng.random(), "u_sima": rng.random(), "energy": rng.uniform(0.1, 1.0),
             "f": list(rng.dirichlet([2, 2, 2, 2])), "g": list(rng.dirichlet([2, 2, 2])),
             "mean_active": rng.uniform(1.0, 4.0)}
        out.append(d)
    return out


def test_generator_makes_the_listed_draws_in_order_and_derives_values():
    eps = generate_synthetic_episodes(60, seed=11)
    for i, (e, d) in enumerate(zip(eps, replay_draws(60, 11))):
        z1, z2, z3 = d["z"]
        assert e["mpl_episode"] == 10 * (1 + 0.3 * z1)
        assert e["error_rate_episode"] == max(0.0, 0.05 + 0.02 * z2)
        assert e["ep_episode"] == 2 * (1 + 0.2 * z3)
        assert e["vase_broken"] is (d["u_vase"] < 0.1)
        assert e["vase_offset"] == [d["off"][0], d["off"][1], 0.0]
        assert e["drawer_friction"] == d["friction"]
        assert e["lighting_profile"] == ("normal" if d["u_light"] < 0.7 else
                                         "low_light" if d["u_light"] < 0.9 else "high_contrast")
        assert e["occlusion_level"] == (d["occ"] if d["u_occ"] >= 0.6 else 0.0)
        assert e["drawer_stuck"] is (d["u_stuck"] < 0.05)
        assert e["source_type"] == ("real" if d["u_source"] < 0.85 else
                                    "synthetic" if d["u_source"] < 0.95 else "hybrid")
        assert (e["trust_score"], e["w_econ"]) == (d["trust"], d["w_econ"])
        assert "lambda_budget" not in e
        assert e["energy_Wh"] == d["energy"]
        assert e["coordination_metrics"] == {"mean_active_joints": d["mean_active"]}
        ids = [t["skill_id"] for t in e["skill_trace"]]
        if d["u_default"] < 0.5:
            assert [(t["skill_id"], t["t"], t["duration"]) for t in e["skill_trace"]] == DEFAULT_TRACE
        else:
            expect = [k for k in range(6) if d["include"][k]] or [4]
            if d["u_retry"] < 0.15 and 3 in expect:
                expect.insert(expect.index(3) + 1, 3)
            assert ids == expect
            start = 0
            for t in e["skill_trace"]:
                assert t == {"t": start, "skill_id": t["skill_id"], "params": {},
                             "duration": int(d["dur"][t["skill_id"]])}
                start += t["duration"]
        assert ("instruction" in e) is (d["u_sima"] < 0.3)
        if "instruction" in e:
            assert e["instruction"] == "open the drawer without hitting the vase"
            assert len(e["narrations"]) == len(ids) and e["sima_agent_id"] == "sima_v1"
        limbs = dict(zip(("shoulder", "elbow", "wrist", "gripper"), d["f"]))
        assert e["energy_per_limb"] == {k: {"Wh": d["energy"] * f, "fraction": f} for k, f in limbs.items()}
        assert e["energy_per_joint"] == {f"joint_{j}": {"Wh": d["energy"] * g} for j, g in enumerate(d["g"])}
        assert e["energy_per_effector"] == {"gripper": {"Wh": d["energy"] * d["f"][3]}}
        fractions = [v["fraction"] for v in e["energy_per_skill"].values()]
        assert sum(fractions) == pytest.approx(1.0)
        assert e["episode_id"] == f"ep_{i:04d}" and e["pack_id"] == f"synthetic-s11-ep_{i:04d}"
        assert e["created_at"] == f"2025-01-01T00:00:{i:02d}.000000+00:00"
        assert e["wage_parity"] == e["mpl_episode"] / 20
        assert e["profit"] == 5.0 * e["mpl_episode"] * 0.1 - (50.0 if e["vase_broken"] else 0.0)
        success = not e["vase_broken"] and not e["drawer_stuck"] and e["error_rate_episode"] < 0.1
        assert e["success"] is success
        assert e["termination_reason"] == ("success" if success else
                                           "catastrophic_error" if e["vase_broken"] else "max_steps")
        assert e.get("failure_reason") == (
            "vase_collision+drawer_friction_jam" if e["vase_broken"] and e["drawer_stuck"] else
            "vase_collision" if e["vase_broken"] else "drawer_friction_jam" if e["drawer_stuck"] else None)


def test_generator_is_deterministic_and_prefix_stable():
    a = json.dumps(generate_synthetic_episodes(80, seed=5))
    assert a == json.dumps(generate_synthetic_episodes(80, seed=5))
    assert a != json.dumps(generate_synthetic_episodes(80, seed=6))
    long = generate_synthetic_episodes(120, seed=5)
    for k in (1, 17, 80):
        assert json.dumps(generate_synthetic_episodes(k, seed=5)) == json.dumps(long[:k])
    assert generate_synthetic_episodes(0) == []
    with pytest.raises(ValueError):
        generate_synthetic_episodes(-1)


def test_seed0_n200_packs_exercise_tags_sources_traces_and_sima():
    from datapack_client.building.builder import BASELINES

    eps = generate_synthetic_episodes(200, seed=0)
    packs = [build_pack(episode_to_builder_args(e, i, TASK, "pybullet"), BASELINES["synthetic_nominal"])
             for i, e in enumerate(eps)]
    tags = collections.Counter(t for p in packs for t in p.semantic_tags)
    assert all(tags[t] > 0 for t in DERIVED_TAGS), tags
    assert {p.attribution.source_type for p in packs} == {"real", "synthetic", "hybrid"}
    assert len({tuple(p.get_skill_ids()) for p in packs}) > 10
    sima = sum(1 for p in packs if p.sima_annotation is not None)
    assert 0.2 <= sima / 200 <= 0.4
    assert {p.bucket for p in packs} == {"positive", "negative"}
    for p, e in zip(packs, eps):
        assert p.pack_id == e["pack_id"] and p.episode_id == e["episode_id"]
        assert p.created_at == e["created_at"]
        if e["vase_broken"]:
            assert p.bucket == "negative"
        if p.sima_annotation is not None:
            assert p.sima_annotation.derived_skill_plan == p.get_skill_ids()
            assert p.sima_annotation.narration_count == len(p.get_skill_ids())
            assert p.sima_annotation.source_world == "pyb_drawer_vase_v1"


# ------------------------------------------------------------------------------------------------
# §8.2 episode → builder arguments


def test_episode_to_builder_args_condition_trace_and_outcome():
    e = {"mpl": 12, "error_rate": 0.04, "ep": 2.5, "vase_offset": [0.0, 0.02, 0.0], "fragile": True,
         "lighting_profile": "low_light", "actions": list(range(20)), "narrations": ["a", "bcd"],
         "trust_score": 0.95, "wm_horizon": 7, "wm_trust_over_horizon": [0.9, 0.8], "success": True}
    a = episode_to_builder_args(e, 3, "drawer_vase", "isaac")
    assert list(a["condition_profile"]) == ["task", "engine_type", "vase_offset", "drawer_friction",
                                            "lighting_profile", "occlusion_level", "objective_vector",
                                            "fragile", "has_offset"]
    assert a["condition_profile"]["engine_type"] == "isaac" and a["condition_profile"]["has_offset"] is True
    assert a["skill_trace"] == [{"t": 3 * k, "skill_id": k, "params": {}, "duration": 3} for k in range(6)]
    assert a["sima_annotation"]["instruction"] == "open the drawer without hitting the vase"
    assert a["sima_annotation"]["source_world"] == "isaac_drawer_vase_v1"
    assert a["sima_annotation"]["derived_skill_plan"] == [0, 1, 2, 3, 4, 5]
    info = a["episode_info"]
    assert list(info) == ["termination_reason", "mpl_episode", "ep_episode", "error_rate_episode",
                          "throughput_units_per_hour", "energy_Wh", "energy_Wh_per_unit", "energy_Wh_per_hour",
                          "limb_energy_Wh", "skill_energy_Wh", "energy_per_limb", "energy_per_skill",
                          "energy_per_joint", "energy_per_effector", "coordination_metrics", "profit",
                          "episode_id", "media_refs", "wage_parity"]
    assert info["termination_reason"] == "success" and info["episode_id"] == "3"
    assert info["throughput_units_per_hour"] == 12 and info["energy_per_limb"] == {} and info["profit"] == 0.0
    assert (a["world_model_horizon"], a["world_model_trust_over_horizon"]) == (7, [0.9, 0.8])
    assert a["wm_trust_over_horizon"] == [0.9, 0.8] and a["source_type"] == "real"
    assert "w_econ" not in a and a["trust_score"] == 0.95 and a["episode_index"] == 3
    assert a["econ_params"].preset == "drawer_vase" and a["econ_params"].electricity_price_kWh == 0.12
    b = episode_to_builder_args({"mpl_episode": 1.0, "error_rate_episode": 0.0, "ep_episode": 1.0}, 0,
                                "drawer_vase", "pybullet")
    assert [(t["skill_id"], t["t"], t["duration"]) for t in b["skill_trace"]] == DEFAULT_TRACE
    assert "has_offset" not in b["condition_profile"] and "sima_annotation" not in b
    assert b["episode_info"]["termination_reason"] == "unknown"
    assert b["vase_broken"] is False and b["success"] is None and b["failure_reason"] is None
    for bad in ({"mpl": 1.0, "error_rate": 0.1}, {"mpl": None, "error_rate": 0.1, "ep": 1.0}, [1, 2], 7):
        with pytest.raises(IncompleteEpisodeError):
            episode_to_builder_args(bad, 0, "drawer_vase", "pybullet")


def test_resolve_baseline_forms(tmp_path):
    b = resolve_baseline("mpl=10,error=0.05,ep=2,wage_parity=0.4")
    assert (b.mpl, b.error, b.ep, b.wage_parity) == (10.0, 0.05, 2.0, 0.4)
    n = resolve_baseline("synthetic_nominal")
    assert (n.mpl, n.error, n.ep, n.wage_parity) == (10.0, 0.05, 2.0, 0.5)
    (tmp_path / "one.json").write_text(json.dumps({"mpl": 8, "error": 0.1, "ep": 1.5}))
    (tmp_path / "eps.json").write_text(json.dumps([{"mpl_episode": 8.0, "error_rate_episode": 0.1, "ep_episode": 1.0},
                                                   {"mpl": 12.0, "error_rate": 0.3, "ep": 3.0}]))
    (tmp_path / "named.json").write_text(json.dumps({"a": {"mpl": 1, "error": 0, "ep": 1},
                                                     "b": [{"mpl": 4.0, "error_rate": 0.2, "ep": 2.0}]}))
    assert (resolve_baseline(str(tmp_path / "one.json")).mpl) == 8.0
    m = resolve_baseline(str(tmp_path / "eps.json"))
    assert (m.mpl, m.error, m.ep) == (10.0, pytest.approx(0.2), 2.0)
    assert resolve_baseline(str(tmp_path / "named.json") + "#b").mpl == 4.0
    for bad in ("mpl=10,error=0.05", "mpl=10,error=x,ep=2", "mpl=10,error=0.05,ep=2,zz=1", "mpl=nan,error=0,ep=1",
                "nominal", str(tmp_path / "missing.json"), str(tmp_path / "named.json"),
                str(tmp_path / "named.json") + "#c", ""):
        with pytest.raises(BaselineSpecError):
            resolve_baseline(bad)


def test_load_episode_files_order_and_selection(tmp_path):
    (tmp_path / "b_episode.json").write_text(json.dumps({"mpl": 1.0, "error": 0.0, "ep": 1.0}))
    (tmp_path / "a_EPISODES.json").write_text(json.dumps([{"x": 1}, 5, {"y": 2}]))
    (tmp_path / "c_episode.json").write_text("{not json")
    (tmp_path / "notes.json").write_text(json.dumps({"mpl": 1.0}))
    (tmp_path / "episode.txt").write_text(json.dumps({"mpl": 1.0}))
    (tmp_path / "d_episode.json").mkdir()
    got = load_episode_files(str(tmp_path))
    assert got.episodes == [{"x": 1}, 5, {"y": 2}, {"mpl": 1.0, "error": 0.0, "ep": 1.0}]
    assert [os.path.basename(p) for p, _ in got.unreadable] == ["c_episode.json"]
    with pytest.raises(OSError):
        load_episode_files(str(tmp_path / "nope"))


# ------------------------------------------------------------------------------------------------
# `datapack build`


@pytest.fixture(scope="module")
def synthetic_runs(tmp_path_factory):
    """`datapack build --generate-synthetic 1000 --seed 7` into two fresh stores, then again into the first."""
    base = tmp_path_factory.mktemp("synthetic")
    results = []
    for name in ("one", "two", "one"):
        out, err = io.StringIO(), io.StringIO()
        from datapack_server.cli.build import main as build_main
        rc = build_main(["--generate-synthetic", "1000", "--seed", "7", "--output-dir", str(base / name)],
                        out=out, err=err)
        results.append((rc, out.getvalue(), err.getvalue(), tree_bytes(base / name)))
    return base, results


def test_synthetic_build_is_byte_identical_and_idempotent(synthetic_runs):
    base, ((rc1, out1, err1, files1), (rc2, out2, _, files2), (rc3, out3, _, files3)) = synthetic_runs
    assert (rc1, rc2, rc3) == (0, 0, 0), err1
    assert f"{TASK}_datapacks.jsonl" in files1 and files1 == files2
    assert out1 == out2
    s1, s3 = summary_of(out1), summary_of(out3)
    assert s1["episodes read"] == "1000" and s1["packs built"] == "1000"
    assert (s1["created"], s1["already_present"], s1["conflicts"]) == ("1000", "0", "0")
    assert (s3["created"], s3["already_present"], s3["conflicts"]) == ("0", "1000", "0")
    assert files3 == files1  # re-run: nothing written
    stats = DataPackRepo(str(base / "one")).get_statistics(TASK)
    assert list(stats) == list(STAT_KEYS)
    for k in STAT_KEYS:
        assert k in s1
    assert s1["total"] == "1000" and s1["with_sima"] == str(stats["with_sima"])
    pos = int(s1["positive"].split()[0])
    assert s1["positive"] == f"{pos} ({100.0 * pos / 1000:.1f}%)"
    assert err1 == ""  # not a terminal: no progress bar


def test_synthetic_build_content(synthetic_runs):
    base, _ = synthetic_runs
    packs = read_lines(base / "one")
    assert len(packs) == 1000 and len({p["pack_id"] for p in packs}) == 1000
    assert [p["pack_id"] for p in packs[:2]] == ["synthetic-s7-ep_0000", "synthetic-s7-ep_0001"]
    buckets = collections.Counter(p["bucket"] for p in packs)
    assert 0.35 <= buckets["positive"] / 1000 <= 0.55, buckets  # ~45 % against synthetic_nominal
    tags = collections.Counter(t for p in packs for t in p["semantic_tags"])
    assert all(tags[t] > 0 for t in DERIVED_TAGS), tags
    negatives = [p for p in packs if p["bucket"] == "negative"]
    assert all(p["counterfactual_plan"] for p in negatives)
    variants = collections.Counter(cf_variant(p) for p in negatives)
    # Every plan variant of docs/building.md §7 (vase+friction from episodes where the vase broke and the drawer
    # jammed: the generator names both causes then).
    assert set(variants) == {"default", "vase", "friction", "vase+friction"}, variants
    assert all(p["counterfactual_plan"] is None for p in packs if p["bucket"] == "positive")
    sima = sum(1 for p in packs if p["sima_annotation"])
    assert 0.2 <= sima / 1000 <= 0.4
    assert len({tuple(e["skill_id"] for e in p["skill_trace"]) for p in packs}) > 10
    assert {p["attribution"]["source_type"] for p in packs} == {"real", "synthetic", "hybrid"}
    assert all(p["condition"]["econ_preset"] == "drawer_vase" and p["condition"]["world_id"] == "pyb_drawer_vase_v1"
               for p in packs)
    assert [p["episode_index"] for p in packs] == list(range(1000))


EPISODES_A = [
    {"mpl_episode": 15.0, "error_rate_episode": 0.03, "ep_episode": 3.0, "episode_id": "good-1",
     "success": True, "skill_trace": [{"t": 0, "skill_id": 0, "params": {}, "duration": 5},
                                      {"t": 5, "skill_id": 3, "params": {"grasp_force": 0.5}, "duration": 9}],
     "instruction": "open it", "narrations": ["Locating drawer handle", "Planning approach", "Grasping handle"]},
    {"mpl": 5, "error_rate": 0.2, "ep": 1, "episode_id": "neg-default"},
    {"mpl": 15.0, "error_rate": 0.03},                       # incomplete: no ep
    "not an episode",                                        # non-object
    {"mpl": 6.0, "error_rate": 0.1, "ep": 1.0, "episode_id": "neg-vase", "vase_broken": True,
     "failure_reason": "Vase collision", "vase_offset": [0.15, 0.0, 0.0], "actions": list(range(13))},
]
EPISODE_B = {"mpl": 6.0, "error_rate": 0.1, "ep": 1.0, "episode_id": "neg-friction", "drawer_stuck": True,
             "failure_reason": "high friction", "drawer_friction": 0.7, "fragile": True, "multi_object": False,
             "pack_id": "explicit-friction", "created_at": "2025-03-01T00:00:00.000000+00:00",
             "agent_profile": {"policy": "scripted"}, "source_type": "hybrid", "wm_model_id": "wm_v1"}
EPISODE_C = {"mpl": 6.0, "error_rate": 0.1, "ep": 1.0, "episode_id": "neg-both", "vase_broken": True,
             "failure_reason": "vase hit after high friction", "lighting_profile": "low_light",
             "occlusion_level": 0.5, "trust_score": 0.9, "w_econ": 1.2, "lambda_budget": 0.3}


def write_episode_dir(path: pathlib.Path) -> pathlib.Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "a_episodes.json").write_text(json.dumps(EPISODES_A))
    (path / "b_Episode.json").write_text(json.dumps(EPISODE_B))
    (path / "c_episode_both.json").write_text(json.dumps([EPISODE_C]))
    (path / "readme.json").write_text(json.dumps({"mpl": 1.0, "error_rate": 0.0, "ep": 1.0}))
    return path


def test_build_from_episode_files(tmp_path, capsys):
    data = write_episode_dir(tmp_path / "episodes")
    store = tmp_path / "store"
    argv = ["--data-dir", str(data), "--output-dir", str(store), "--task", TASK, "--engine", "pybullet",
            "--baseline", "mpl=10,error=0.05,ep=2", "--verbose"]
    rc, out, err = run_build(capsys, *argv)
    assert rc == 0, err
    s = summary_of(out)
    assert (s["episodes read"], s["packs built"], s["skipped_incomplete"], s["rejected_invalid"]) == ("7", "5", "2", "0")
    assert s["created"] == "5" and s["positive"] == "1 (20.0%)" and s["negative"] == "4 (80.0%)"
    packs = {p["episode_id"]: p for p in read_lines(store)}
    assert list(packs) == ["good-1", "neg-default", "neg-vase", "neg-friction", "neg-both"]
    assert [p["episode_index"] for p in packs.values()] == [0, 1, 4, 5, 6]
    good = packs["good-1"]
    assert good["pack_id"] == str(uuid.uuid5(DATAPACK_NS, "episode:drawer_vase:good-1"))
    assert good["pack_id"] in out  # --verbose lists the first packs
    assert good["bucket"] == "positive" and good["attribution"]["delta_J"] == 1.02
    assert good["sima_annotation"]["narration_count"] == 3
    assert good["sima_annotation"]["average_narration_length"] == 18.0
    assert good["sima_annotation"]["derived_skill_plan"] == [0, 3]
    assert [e["skill_id"] for e in packs["neg-default"]["skill_trace"]] == [0, 1, 2, 3, 4, 5]
    assert packs["neg-default"]["episode_metrics"]["mpl_episode"] == 5.0
    assert [(e["t"], e["duration"]) for e in packs["neg-vase"]["skill_trace"]] == [(2 * k, 2) for k in range(6)]
    assert list(packs["neg-vase"]["condition"]["tags"]) == [
        "task", "engine_type", "vase_offset", "drawer_friction", "lighting_profile", "occlusion_level",
        "objective_vector", "has_offset"]
    fr = packs["neg-friction"]
    assert fr["pack_id"] == "explicit-friction" and fr["created_at"] == "2025-03-01T00:00:00.000000+00:00"
    assert list(fr["condition"]["tags"])[-2:] == ["fragile", "multi_object"]
    assert fr["agent_profile"] == {"policy": "scripted"} and fr["attribution"]["source_type"] == "hybrid"
    assert fr["attribution"]["wm_model_id"] == "wm_v1"
    both = packs["neg-both"]
    assert both["attribution"]["trust_score"] == 0.9 and both["attribution"]["lambda_budget"] == 0.3
    assert both["attribution"]["econ_weight_final"] == pytest.approx(1.08)
    assert {t for t in both["semantic_tags"]} >= {"vase_collision", "low_light", "partial_occlusion"}
    variants = {k: cf_variant(p) for k, p in packs.items() if p["bucket"] == "negative"}
    assert variants == {"neg-default": "default", "neg-vase": "vase", "neg-friction": "friction",
                        "neg-both": "vase+friction"}
    before = (store / f"{TASK}_datapacks.jsonl").read_bytes()

    # Same input again: idempotent (even the packs without created_at).
    rc, out, _ = run_build(capsys, *argv)
    assert rc == 0 and summary_of(out)["already_present"] == "5" and summary_of(out)["created"] == "0"
    assert (store / f"{TASK}_datapacks.jsonl").read_bytes() == before

    # Another baseline changes every record: all conflict, nothing written, exit 1 (findings).
    rc, out, err = run_build(capsys, *argv[:-3], "--baseline", "mpl=9,error=0.05,ep=2")
    s = summary_of(out)
    assert rc == 1 and (s["conflicts"], s["created"], s["already_present"]) == ("5", "0", "0")
    assert "explicit-friction" in err
    assert (store / f"{TASK}_datapacks.jsonl").read_bytes() == before


def test_build_rejects_and_conflicts_within_a_batch(tmp_path, capsys):
    data = tmp_path / "episodes"
    data.mkdir()
    ok = {"mpl": 11.0, "error_rate": 0.05, "ep": 2.0, "episode_id": "same"}
    clash = dict(ok, mpl=12.0)  # same pack id, different content
    bad_trace = {"mpl": 11.0, "error_rate": 0.05, "ep": 2.0, "episode_id": "bad",
                 "skill_trace": [{"t": 5, "skill_id": 0}, {"t": 1, "skill_id": 1}]}
    (data / "episodes.json").write_text(json.dumps([ok, bad_trace, clash, dict(ok, episode_id="other")]))
    store = tmp_path / "store"
    rc, out, err = run_build(capsys, "--data-dir", str(data), "--output-dir", str(store),
                             "--baseline", "synthetic_nominal")
    s = summary_of(out)
    assert rc == 1  # rejected and conflicting episodes are findings (cli/common.py)
    assert (s["packs built"], s["rejected_invalid"], s["conflicts"], s["created"]) == ("3", "1", "1", "2")
    assert "episode 1 rejected" in err and "SKILL_TRACE_TIME_ORDER" in err
    assert [p["episode_id"] for p in read_lines(store)] == ["same", "other"]
    assert read_lines(store)[0]["episode_metrics"]["mpl_episode"] == 11.0


def test_usage_errors_exit_2(tmp_path, capsys):
    data = write_episode_dir(tmp_path / "episodes")
    store = tmp_path / "store"
    cases = [
        ["--data-dir", str(data), "--output-dir", str(store)],                             # no --baseline
        ["--data-dir", str(data), "--output-dir", str(store), "--baseline", "nominal"],    # unknown name
        ["--data-dir", str(data), "--output-dir", str(store), "--baseline", "mpl=1,ep=2"],
        ["--data-dir", str(tmp_path / "missing"), "--output-dir", str(store), "--baseline", "synthetic_nominal"],
        ["--data-dir", str(tmp_path), "--output-dir", str(store), "--baseline", "synthetic_nominal"],  # no files
        ["--generate-synthetic", "3", "--task", "a/b", "--output-dir", str(store)],
        ["--generate-synthetic", "3", "--baseline", "synthetic_nominal#x", "--output-dir", str(store)],
    ]
    for argv in cases:
        rc, out, err = run_build(capsys, *argv)
        assert rc == 2 and out == "" and "datapack build: error:" in err, (argv, out, err)
    assert not (store / f"{TASK}_datapacks.jsonl").exists()
    # argparse errors exit 2 as well, through the installed entry point
    proc = subprocess.run([sys.executable, "-m", "datapack_server", "build", "--engine", "mujoco"],
                          check=False, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "datapack_server", "build", "--data-dir", str(data),
                           "--output-dir", str(store)], check=False, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "--baseline" in proc.stderr


def test_argparse_exit_status_is_2(capsys):
    for argv in (["build", "--engine", "mujoco"], ["build", "--generate-synthetic", "-3"], ["build", "--bogus"]):
        with pytest.raises(SystemExit) as info:
            datapack_main(argv)
        assert info.value.code == 2


def test_progress_bar_only_on_a_terminal(tmp_path):
    from datapack_server.cli.build import main as build_main

    class Tty(io.StringIO):
        def isatty(self):
            return True

    for quiet, tty, expect_bar in ((False, True, True), (True, True, False), (False, False, False)):
        out, err = io.StringIO(), (Tty() if tty else io.StringIO())
        argv = ["--generate-synthetic", "40", "--output-dir", str(tmp_path / f"s{quiet}{tty}")]
        rc = build_main(argv + (["--quiet"] if quiet else []), out=out, err=err)
        assert rc == 0
        assert ("\r" in err.getvalue()) is expect_bar
        if expect_bar:
            assert "40/40" in err.getvalue() and err.getvalue().endswith("\n")
        assert (out.getvalue() == "") is quiet


def test_build_through_a_running_server(server, data_root, tmp_path, capsys):
    target = f"127.0.0.1:{server.port}"
    argv = ["--generate-synthetic", "60", "--seed", "3", "--target", target, "--store", "phase_c",
            "--task", "isaac_drawer", "--engine", "isaac"]
    rc, out, err = run_build(capsys, *argv)
    assert rc == 0, err
    s = summary_of(out)
    assert (s["created"], s["total"]) == ("60", "60")
    assert s["engine_types"] == json.dumps({"isaac": 60})
    remote_file = data_root / "phase_c" / "isaac_drawer_datapacks.jsonl"
    assert remote_file.exists()
    before = remote_file.read_bytes()
    rc, out, _ = run_build(capsys, *argv)
    assert rc == 0 and summary_of(out)["already_present"] == "60"
    assert remote_file.read_bytes() == before
    # The same records as an embedded build of the same episodes.
    rc, _, _ = run_build(capsys, *argv[:4], "--task", "isaac_drawer", "--engine", "isaac",
                         "--output-dir", str(tmp_path / "local"))
    assert rc == 0
    local = [json.loads(x) for x in (tmp_path / "local" / "isaac_drawer_datapacks.jsonl").read_bytes().splitlines()]
    remote = [json.loads(x) for x in before.splitlines()]
    assert local == remote
    assert all(p["condition"]["world_id"] == "isaac_isaac_drawer_v1" for p in remote)
    # An unreachable server is a failure (exit 1), not a crash.
    rc, _, err = run_build(capsys, "--generate-synthetic", "2", "--target", "127.0.0.1:1", "--store", "phase_c")
    assert rc == 1 and "UNAVAILABLE" in err
