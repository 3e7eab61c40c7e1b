"""Append behaviour, run against the embedded repository and through the client.

docs/repository.md §14 items 1-3 and 6 (append invariants of §5, atomic batches,
identity and idempotency of §3.2, results are copies §6.3), docs/schema.md §12
item 8 (schema version / FIELD_TYPE / NUMBER_NOT_FINITE) and the task-name rule
of docs/schema.md §7.1.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib

import pytest

from .jsoncheck import assert_json_same

try:
    from .conftest import STORE, make_pack
except ImportError:  # tests/ not a package
    from conftest import STORE, make_pack
from datapack_client import DataPackMeta
from datapack_client.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from datapack_server import DataPackRepo

TASK = "drawer_vase"

# docs/schema.md §9, verbatim (4,939 bytes with the final newline).
EXAMPLE_LINE = '{"schema_version": "2.0-energy", "pack_id": "drawer_vase_scripted_0001", "task_name": "drawer_vase", "env_type": "drawer_vase", "brick_id": "drawer_vase_scripted_0001", "bucket": "positive", "semantic_tags": ["test"], "econ_semantic_tags": null, "semantic_quality": null, "energy_driver_tags": ["energy_driver:joint_dominated:joint_0", "energy_driver:effector:gripper", "energy_driver:coordination:high_multi_joint_activity"], "condition": {"task_name": "drawer_vase", "engine_type": "pybullet", "world_id": "pyb_drawer_vase_v1", "vase_offset": [0.0, 0.0, 0.0], "drawer_friction": 0.3, "lighting_profile": "normal", "occlusion_level": 0.0, "econ_preset": "toy", "price_per_unit": 5.0, "vase_break_cost": 50.0, "energy_price_kWh": 0.12, "objective_vector": [1.0, 1.0, 1.0], "tags": {"task": "drawer_vase", "tags": ["test"], "engine_type": "pybullet"}}, "attribution": {"delta_mpl": 5.0, "delta_error": -0.020000000000000004, "delta_ep": 1.0, "delta_wage_parity": 0.0, "delta_J": 5.3, "trust_score": 0.9, "w_econ": 0.0, "lambda_budget": 0.0, "world_model_horizon": 0, "world_model_trust_over_horizon": [], "source_type": "real", "wm_model_id": null, "wm_horizon_used": null, "wm_branch_depth": null, "wm_trust_over_horizon": null, "zv_stats": null, "mvd_score": null, "econ_weight_final": null, "used_in_training_runs": [], "wm_role": null, "skill_contribs": {}, "delta_mpl_model": 0.0, "delta_mpl_data": 0.0, "delta_mpl_energy": 0.0, "rebate_pct": 0.0, "attributable_spread_capture": 0.0, "data_premium": 0.0, "tier": 1, "env_name": null, "engine_type": null}, "energy": {"total_Wh": 0.5, "Wh_per_unit": 0.03333333333333333, "Wh_per_hour": 5.0, "energy_per_limb": {"shoulder": {"Wh": 0.2, "fraction": 0.4}, "elbow": {"Wh": 0.15, "fraction": 0.3}, "wrist": {"Wh": 0.1, "fraction": 0.2}, "gripper": {"Wh": 0.05, "fraction": 0.1}}, "energy_per_skill": {"grasp": {"Wh": 0.2, "fraction": 0.4}, "lift": {"Wh": 0.15, "fraction": 0.3}, "place": {"Wh": 0.15, "fraction": 0.3}}, "energy_per_joint": {"joint_0": {"Wh": 0.1, "torque_integral": 5.0}, "joint_1": {"Wh": 0.2, "torque_integral": 8.0}, "joint_2": {"Wh": 0.15, "torque_integral": 6.0}}, "energy_per_effector": {"gripper": {"Wh": 0.05, "activation_time": 2.0}}, "coordination_metrics": {"mean_active_joints": 2.5, "peak_power": 10.0}, "limb_energy_Wh": {"shoulder": 0.2, "elbow": 0.15, "wrist": 0.1, "gripper": 0.05}, "skill_energy_Wh": {"grasp": 0.2, "lift": 0.15, "place": 0.15}}, "agent_profile": {"policy": "scripted", "version": "v1"}, "skill_trace": [{"t": 0, "skill_id": 0, "params": {}, "duration": 10}, {"t": 10, "skill_id": 1, "params": {}, "duration": 15}, {"t": 25, "skill_id": 3, "params": {"grasp_force": 0.5}, "duration": 20, "local_metrics": {"delta_mpl": 1.2}}], "episode_metrics": {"termination_reason": "success", "mpl_episode": 15.0, "ep_episode": 3.0, "error_rate_episode": 0.03, "throughput_units_per_hour": 15.0, "energy_Wh": 0.5, "energy_Wh_per_unit": 0.03333333333333333, "energy_Wh_per_hour": 5.0, "limb_energy_Wh": {"shoulder": 0.2, "elbow": 0.15, "wrist": 0.1, "gripper": 0.05}, "skill_energy_Wh": {"grasp": 0.2, "lift": 0.15, "place": 0.15}, "energy_per_limb": {"shoulder": {"Wh": 0.2, "fraction": 0.4}, "elbow": {"Wh": 0.15, "fraction": 0.3}, "wrist": {"Wh": 0.1, "fraction": 0.2}, "gripper": {"Wh": 0.05, "fraction": 0.1}}, "energy_per_skill": {"grasp": {"Wh": 0.2, "fraction": 0.4}, "lift": {"Wh": 0.15, "fraction": 0.3}, "place": {"Wh": 0.15, "fraction": 0.3}}, "energy_per_joint": {"joint_0": {"Wh": 0.1, "torque_integral": 5.0}, "joint_1": {"Wh": 0.2, "torque_integral": 8.0}, "joint_2": {"Wh": 0.15, "torque_integral": 6.0}}, "energy_per_effector": {"gripper": {"Wh": 0.05, "activation_time": 2.0}}, "coordination_metrics": {"mean_active_joints": 2.5, "peak_power": 10.0}, "profit": 73.5, "episode_id": "3f1c2a9e-5b7d-4e21-9c0a-8d6f4b2e1a70", "media_refs": {}, "wage_parity": 0.9}, "sima_annotation": {"instruction": "open the drawer without hitting the vase", "step_narrations": ["Locating drawer handle", "Planning approach", "Grasping handle"], "sima_agent_id": "sima_v1", "source_world": "pyb_drawer_v1", "derived_skill_plan": [0, 1, 3], "vla_references": null, "narration_count": 3, "average_narration_length": 18.0}, "vla_plan": {"instruction": "open the drawer carefully", "skill_sequence": [0, 1, 3], "confidence": [0.9, 0.85, 0.88]}, "objective_profile": null, "process_reward_profile": null, "embodiment_profile": null, "counterfactual_plan": null, "counterfactual_source": null, "created_at": "2025-06-01T12:00:00.000000", "episode_id": null, "episode_index": null, "raw_data_path": null, "scene_tracks_v1": null, "rgb_features_v1": null, "slice_labels_v1": null, "repr_tokens": null, "guidance_profile": null, "vla_action_summary": null, "episode_embedding": null, "epiplexity": null, "epiplexity_summary": null, "signal_bundle": null, "graph_summary_v1": null, "econ_tensor_v1": null, "regal_annotations": null, "regal_annotations_sha": null}'
EXAMPLE_SHA256 = "fbbccae6b5795a003f4ce17b399049dd3c736288ca1109ac1f84d9438fabe03f"


# --------------------------------------------------------------------------- helpers

def assert_task_not_found(read) -> NotFoundError:
    """A read of a task without a file raises NOT_FOUND / TASK_NOT_FOUND (issue 13), naming the task_name field."""
    with pytest.raises(NotFoundError) as ei:
        read()
    assert ei.value.reason == "TASK_NOT_FOUND" and [v.field for v in ei.value.violations] == ["task_name"]
    return ei.value


def task_path(data_root: pathlib.Path, task: str = TASK, store: str = STORE) -> pathlib.Path:
    return data_root / store / f"{task}_datapacks.jsonl"


def file_bytes(path: pathlib.Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def tree(root: pathlib.Path) -> dict[str, tuple]:
    """Every file and folder under root with its kind, size and content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = ("dir",)
        for f in filenames:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = ("file", hashlib.sha256(fh.read()).hexdigest())
    return out


def stored_lines(path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def vset(err) -> set:
    return {(v.index, v.pack_id, v.field, v.reason) for v in err.violations}


def pack(pid: str, **kw) -> DataPackMeta:
    """make_pack with a fixed id and a fixed created_at (deterministic)."""
    kw.setdefault("created_at", "2025-06-01T12:00:00.000000+00:00")
    return make_pack(pid, **kw)


# --------------------------------------------------------------------------- §14 item 1: example round trip

def test_example_line_append_read_round_trip(repo, data_root):
    assert hashlib.sha256((EXAMPLE_LINE + "\n").encode()).hexdigest() == EXAMPLE_SHA256
    original = json.loads(EXAMPLE_LINE)
    dp = DataPackMeta.from_json(EXAMPLE_LINE)
    res = repo.append(dp)
    assert (res.index, res.pack_id, res.task_name, res.status, res.revision) == (
        0, "drawer_vase_scripted_0001", "drawer_vase", "created", 1)
    path = task_path(data_root)
    lines = stored_lines(path)
    assert len(lines) == 1
    # The service may format differently, but the stored JSON value is the example's.
    assert_json_same(lines[0], original)
    got = repo.get(TASK, "drawer_vase_scripted_0001")
    assert_json_same(got.to_dict(), original)
    assert_json_same(json.loads(got.to_json()), original)
    assert got.revision == 1
    # Re-appending the loaded record is idempotent and leaves the bytes alone.
    before = path.read_bytes()
    assert repo.append(got).status == "already_present"
    assert path.read_bytes() == before


def test_example_file_bytes_unchanged_by_reads_and_identical_reappend(repo, data_root):
    """§14.1 'file bytes equal the example line': a store holding the example
    line keeps exactly those bytes through reads and an identical re-append."""
    path = task_path(data_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((EXAMPLE_LINE + "\n").encode())
    recs = repo.load_all(TASK)
    assert [r.pack_id for r in recs] == ["drawer_vase_scripted_0001"]
    res = repo.append(recs[0])
    assert res.status == "already_present"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == EXAMPLE_SHA256


# --------------------------------------------------------------------------- §5: one failing record per invariant

def _set_attr(obj_path: str, value):
    def mut(p: DataPackMeta):
        *parents, last = obj_path.split(".")
        o = p
        for name in parents:
            o = getattr(o, name)
        setattr(o, last, value)
    return mut


def _set_trace(i: int, key: str, value):
    def mut(p):
        p.skill_trace[i][key] = value
    return mut


def _del_trace(i: int, key: str):
    def mut(p):
        del p.skill_trace[i][key]
    return mut


def _negative(p):
    """Turn the base pack into a valid negative pack (ΔJ < 0, with a plan)."""
    p.bucket = "negative"
    p.attribution.delta_J = -1.0
    p.counterfactual_plan = {"skills": [0, 1, 2], "source": "scripted_teacher"}
    p.counterfactual_source = "scripted_teacher"


def _chain(*muts):
    def mut(p):
        for m in muts:
            m(p)
    return mut


# (id, mutation, reason, accepted fields of the violation, other (field, reason) pairs tolerated)
INVARIANT_CASES = [
    ("1-schema_version", _set_attr("schema_version", "2.3-x"), "SCHEMA_VERSION_UNKNOWN", {"schema_version"}, set()),
    ("1-schema_version-case", _set_attr("schema_version", "2.0-Energy"), "SCHEMA_VERSION_UNKNOWN",
     {"schema_version"}, set()),
    ("2-task_name-slash", _set_attr("task_name", "a/b"), "TASK_NAME_INVALID", {"task_name"}, set()),
    ("2-task_name-dotdot", _set_attr("task_name", "a..b"), "TASK_NAME_INVALID", {"task_name"}, set()),
    ("3-pack_id-empty", _set_attr("pack_id", ""), "PACK_ID_REQUIRED", {"pack_id"}, set()),
    ("4-trust-string", _set_attr("attribution.trust_score", "high"), "FIELD_TYPE",
     {"attribution.trust_score"}, set()),
    ("4-tier-float", _set_attr("attribution.tier", 1.5), "FIELD_TYPE", {"attribution.tier"}, set()),
    ("4-w_econ-bool", _set_attr("attribution.w_econ", True), "FIELD_TYPE", {"attribution.w_econ"}, set()),
    ("4-friction-string", _set_attr("condition.drawer_friction", "x"), "FIELD_TYPE",
     {"condition.drawer_friction"}, set()),
    ("4-episode_index-string", _set_attr("episode_index", "3"), "FIELD_TYPE", {"episode_index"}, set()),
    ("4-semantic_tags-ints", _set_attr("semantic_tags", [1]), "FIELD_TYPE",
     {"semantic_tags", "semantic_tags[0]"}, set()),
    ("4-energy-null", _set_attr("energy", None), "FIELD_TYPE", {"energy"}, set()),
    ("4-used_in_training_runs-null", _set_attr("attribution.used_in_training_runs", None), "FIELD_TYPE",
     {"attribution.used_in_training_runs"}, set()),
    ("5-delta_mpl-nan", _set_attr("attribution.delta_mpl", math.nan), "NUMBER_NOT_FINITE",
     {"attribution.delta_mpl"}, set()),
    ("5-friction-inf", _set_attr("condition.drawer_friction", math.inf), "NUMBER_NOT_FINITE",
     {"condition.drawer_friction"}, set()),
    ("5-vase_offset-neg-inf", _set_attr("condition.vase_offset", (0.0, -math.inf, 0.0)), "NUMBER_NOT_FINITE",
     {"condition.vase_offset", "condition.vase_offset[1]"}, set()),
    ("6-bucket", _set_attr("bucket", "neutral"), "BUCKET_INVALID", {"bucket"}, set()),
    ("6-bucket-case", _set_attr("bucket", "Positive"), "BUCKET_INVALID", {"bucket"}, set()),
    ("7-delta_J-nan", _set_attr("attribution.delta_J", math.nan), "DELTA_J_NOT_FINITE", {"attribution.delta_J"},
     {("bucket", "BUCKET_SIGN_MISMATCH"), ("attribution.delta_J", "BUCKET_SIGN_MISMATCH"),
      ("attribution.delta_J", "NUMBER_NOT_FINITE")}),
    ("7-delta_J-inf", _set_attr("attribution.delta_J", math.inf), "DELTA_J_NOT_FINITE", {"attribution.delta_J"},
     {("attribution.delta_J", "NUMBER_NOT_FINITE")}),
    ("7-delta_J-neg-inf", _chain(_negative, _set_attr("attribution.delta_J", -math.inf)), "DELTA_J_NOT_FINITE",
     {"attribution.delta_J"}, {("attribution.delta_J", "NUMBER_NOT_FINITE")}),
    ("8-positive-with-negative-dj", _set_attr("attribution.delta_J", -0.5), "BUCKET_SIGN_MISMATCH",
     {"bucket", "attribution.delta_J"}, set()),
    ("8-negative-with-positive-dj", _chain(_negative, _set_attr("attribution.delta_J", 0.5)),
     "BUCKET_SIGN_MISMATCH", {"bucket", "attribution.delta_J"}, set()),
    ("8-negative-with-zero-dj", _chain(_negative, _set_attr("attribution.delta_J", 0.0)),
     "BUCKET_SIGN_MISMATCH", {"bucket", "attribution.delta_J"}, set()),
    ("8-negative-with-minus-zero-dj", _chain(_negative, _set_attr("attribution.delta_J", -0.0)),
     "BUCKET_SIGN_MISMATCH", {"bucket", "attribution.delta_J"}, set()),
    ("9-negative-without-plan", _chain(_negative, _set_attr("counterfactual_plan", None),
                                       _set_attr("counterfactual_source", None)),
     "COUNTERFACTUAL_REQUIRED", {"counterfactual_plan"}, set()),
    ("9-negative-empty-plan", _chain(_negative, _set_attr("counterfactual_plan", {})),
     "COUNTERFACTUAL_REQUIRED", {"counterfactual_plan"}, set()),
    ("10-empty-trace", _set_attr("skill_trace", []), "SKILL_TRACE_EMPTY", {"skill_trace"}, set()),
    ("11-skill_id-negative", _set_trace(2, "skill_id", -1), "SKILL_ID_INVALID", {"skill_trace[2].skill_id"}, set()),
    ("11-skill_id-bool", _set_trace(2, "skill_id", True), "SKILL_ID_INVALID", {"skill_trace[2].skill_id"}, set()),
    ("11-skill_id-float", _set_trace(2, "skill_id", 3.0), "SKILL_ID_INVALID", {"skill_trace[2].skill_id"}, set()),
    ("11-skill_id-string", _set_trace(1, "skill_id", "1"), "SKILL_ID_INVALID", {"skill_trace[1].skill_id"}, set()),
    ("11-skill_id-missing", _del_trace(2, "skill_id"), "SKILL_ID_INVALID", {"skill_trace[2].skill_id"}, set()),
    ("12-t-decreasing", _set_trace(2, "t", 5), "SKILL_TRACE_TIME_ORDER", {"skill_trace[2].t"}, set()),
    ("12-t-negative", _set_trace(0, "t", -1), "SKILL_TRACE_TIME_ORDER", {"skill_trace[0].t"}, set()),
    ("12-t-float", _set_trace(1, "t", 10.0), "SKILL_TRACE_TIME_ORDER", {"skill_trace[1].t"}, set()),
    ("12-t-missing", _del_trace(2, "t"), "SKILL_TRACE_TIME_ORDER", {"skill_trace[2].t"}, set()),
    ("13-engine_type", _set_attr("condition.engine_type", "bullet"), "ENUM_INVALID", {"condition.engine_type"},
     set()),
    ("14-source_type", _set_attr("attribution.source_type", "simulated"), "ENUM_INVALID",
     {"attribution.source_type"}, set()),
    ("15-wm_role", _set_attr("attribution.wm_role", "policy_train"), "ENUM_INVALID", {"attribution.wm_role"}, set()),
    ("16-counterfactual_source", _set_attr("counterfactual_source", "teacher"), "ENUM_INVALID",
     {"counterfactual_source"}, set()),
    ("17-skill_contribs-leading-zero", _set_attr("attribution.skill_contribs", {"04": {"delta_mpl": 1.0}}),
     "SKILL_CONTRIBS_KEY_INVALID", None, set()),
    ("17-skill_contribs-negative-int", _set_attr("attribution.skill_contribs", {-1: {"delta_mpl": 1.0}}),
     "SKILL_CONTRIBS_KEY_INVALID", None, set()),
    ("17-skill_contribs-name", _set_attr("attribution.skill_contribs", {"grasp": {"delta_mpl": 1.0}}),
     "SKILL_CONTRIBS_KEY_INVALID", None, set()),
]


@pytest.mark.parametrize("case", INVARIANT_CASES, ids=[c[0] for c in INVARIANT_CASES])
def test_each_invariant_rejects_one_failing_record(repo, data_root, case):
    _id, mutate, reason, fields, tolerated = case
    p = pack("inv-1", skills=(0, 1, 3))
    mutate(p)
    pid = p.pack_id
    with pytest.raises(InvalidArgumentError) as ei:
        repo.append(p)
    err = ei.value
    assert err.code == "INVALID_ARGUMENT"
    assert err.reason == reason
    main = [v for v in err.violations if v.reason == reason]
    assert len(main) == 1, err.violations
    v = main[0]
    assert v.index == 0
    assert v.pack_id == (pid if pid else v.pack_id)
    if fields is None:
        assert v.field.startswith("attribution.skill_contribs"), v.field
    else:
        assert v.field in fields, v.field
    assert v.message
    others = {(x.field, x.reason) for x in err.violations if x is not v}
    assert others <= tolerated, others
    # Nothing written, not even an empty task file.
    assert not task_path(data_root, "drawer_vase").exists()
    assert not task_path(data_root, "a").exists()


@pytest.mark.parametrize("mutate", [
    lambda p: None,
    _set_attr("attribution.delta_J", 0.0),
    _set_attr("attribution.delta_J", -0.0),
    _set_attr("attribution.delta_J", 0),
    _chain(_set_trace(1, "t", 0), _set_trace(2, "t", 0)),  # equal t values are allowed
    _set_attr("attribution.wm_role", None),
    _set_attr("attribution.wm_role", "wm_synth_target"),
    _set_attr("attribution.skill_contribs", {0: {"delta_mpl": 1.0}, "4": {"x": 1}, 12: {}}),
    _set_attr("schema_version", "2.2-repr"),
    _set_attr("condition.engine_type", "ue5"),
    _set_attr("attribution.source_type", "hybrid"),
    _chain(_negative, _set_attr("counterfactual_source", "sima_teacher")),
    _chain(_negative, _set_attr("counterfactual_source", None)),
    _set_attr("task_name", "x" * 128),
], ids=["base", "dj-0.0", "dj--0.0", "dj-int-0", "equal-t", "wm_role-null", "wm_role-valid", "contribs-keys",
        "schema-2.2", "engine-ue5", "source-hybrid", "negative-sima-teacher", "negative-no-source", "task-128"])
def test_valid_edge_cases_are_accepted(repo, mutate):
    p = pack("ok-1")
    mutate(p)
    res = repo.append(p)
    assert res.status == "created"
    assert res.revision == 1
    got = repo.get(p.task_name, "ok-1")
    assert_json_same(got.to_dict(), p.to_dict())


def test_zero_and_negative_zero_delta_j_are_positive(repo, data_root):
    zero, negz, izero = pack("dj-zero"), pack("dj-negzero"), pack("dj-int-zero")
    zero.attribution.delta_J = 0.0
    negz.attribution.delta_J = -0.0
    izero.attribution.delta_J = 0
    assert [r.status for r in repo.append_batch([zero, negz, izero])] == ["created"] * 3
    got = {r.pack_id: r for r in repo.load_all(TASK)}
    assert all(r.bucket == "positive" for r in got.values())
    dj = got["dj-negzero"].attribution.delta_J
    assert type(dj) is float and dj == 0.0 and math.copysign(1.0, dj) == -1.0
    assert type(got["dj-int-zero"].attribution.delta_J) is int
    assert [p.pack_id for p in repo.query(TASK, bucket="positive", limit=None)] == [
        "dj-zero", "dj-negzero", "dj-int-zero"]
    # And a negative bucket with ΔJ = 0 / -0.0 is a sign mismatch (checked above per invariant).
    lines = stored_lines(task_path(data_root))
    assert math.copysign(1.0, lines[1]["attribution"]["delta_J"]) == -1.0


# --------------------------------------------------------------------------- docs/schema.md §12 item 8

@pytest.mark.parametrize("mutate,reason,field", [
    (_set_attr("schema_version", "2.3-x"), "SCHEMA_VERSION_UNKNOWN", "schema_version"),
    (_set_attr("attribution.trust_score", "high"), "FIELD_TYPE", "attribution.trust_score"),
    (_set_attr("attribution.delta_mpl", math.nan), "NUMBER_NOT_FINITE", "attribution.delta_mpl"),
], ids=["schema-2.3-x", "trust-high", "delta_mpl-NaN"])
def test_schema_conformance_item_8(repo, data_root, mutate, reason, field):
    p = pack("s12-8")
    mutate(p)
    with pytest.raises(InvalidArgumentError) as ei:
        repo.append(p)
    assert ei.value.code == "INVALID_ARGUMENT"
    assert ei.value.reason == reason
    assert vset(ei.value) == {(0, "s12-8", field, reason)}
    assert not task_path(data_root).exists()
    assert_task_not_found(lambda: repo.load_all(TASK))


# --------------------------------------------------------------------------- atomic batches, every violation

def test_batch_with_one_bad_record_writes_nothing(repo, data_root):
    repo.append(pack("seed"))
    path = task_path(data_root)
    before = path.read_bytes()
    size = path.stat().st_size
    bad = pack("b2")
    bad.condition.engine_type = "bullet"
    batch = [pack("b0"), pack("b1"), bad, pack("b3", delta_j=-1.0)]
    with pytest.raises(InvalidArgumentError) as ei:
        repo.append_batch(batch)
    assert ei.value.reason == "ENUM_INVALID"
    assert vset(ei.value) == {(2, "b2", "condition.engine_type", "ENUM_INVALID")}
    assert path.stat().st_size == size
    assert path.read_bytes() == before
    assert [p.pack_id for p in repo.load_all(TASK)] == ["seed"]
    for pid in ("b0", "b1", "b3"):
        with pytest.raises(NotFoundError):
            repo.get(TASK, pid)
    # The same batch without the bad record goes through afterwards.
    res = repo.append_batch([batch[0], batch[1], batch[3]])
    assert [(r.index, r.pack_id, r.status) for r in res] == [(0, "b0", "created"), (1, "b1", "created"),
                                                             (2, "b3", "created")]


def test_batch_over_two_tasks_with_one_bad_record_writes_no_task(repo, data_root):
    repo.append(pack("seed"))
    before = tree(data_root.parent)
    good = pack("t-good", task_name="dishwashing")
    bad = pack("t-bad", task_name="isaac_drawer")
    bad.skill_trace = []
    with pytest.raises(InvalidArgumentError) as ei:
        repo.append_batch([pack("t-dv"), good, bad])
    assert vset(ei.value) == {(2, "t-bad", "skill_trace", "SKILL_TRACE_EMPTY")}
    assert tree(data_root.parent) == before
    assert repo.list_tasks() == ["drawer_vase"]


def test_violations_list_every_problem_of_every_record(repo, data_root):
    r0 = pack("multi-0")
    r0.condition.engine_type = "bullet"
    r0.skill_trace[2]["t"] = 1            # before t=10 of entry 1
    r0.attribution.trust_score = "high"
    r1 = pack("multi-1")                  # valid
    r2 = pack("multi-2")
    r2.schema_version = "9.9"
    r2.attribution.source_type = "simulated"
    r2.bucket = "negative"                # ΔJ = 1.0 -> sign mismatch, and no plan
    r2.skill_trace[0]["skill_id"] = -3
    r3 = pack("multi-3", skills=())       # empty trace
    r3.attribution.wm_role = "boss"
    with pytest.raises(InvalidArgumentError) as ei:
        repo.append_batch([r0, r1, r2, r3])
    err = ei.value
    got = {(v.index, v.pack_id, v.field, v.reason) for v in err.violations}
    sign_fields = {f for (i, _, f, r) in got if i == 2 and r == "BUCKET_SIGN_MISMATCH"}
    assert len(sign_fields) == 1 and sign_fields <= {"bucket", "attribution.delta_J"}
    sign_field = sign_fields.pop()
    expected = {
        (0, "multi-0", "condition.engine_type", "ENUM_INVALID"),
        (0, "multi-0", "skill_trace[2].t", "SKILL_TRACE_TIME_ORDER"),
        (0, "multi-0", "attribution.trust_score", "FIELD_TYPE"),
        (2, "multi-2", "schema_version", "SCHEMA_VERSION_UNKNOWN"),
        (2, "multi-2", "attribution.source_type", "ENUM_INVALID"),
        (2, "multi-2", sign_field, "BUCKET_SIGN_MISMATCH"),
        (2, "multi-2", "counterfactual_plan", "COUNTERFACTUAL_REQUIRED"),
        (2, "multi-2", "skill_trace[0].skill_id", "SKILL_ID_INVALID"),
        (3, "multi-3", "skill_trace", "SKILL_TRACE_EMPTY"),
        (3, "multi-3", "attribution.wm_role", "ENUM_INVALID"),
    }
    assert got == expected
    assert len(err.violations) == len(expected)  # each problem once
    assert err.reason in {r for (_, _, _, r) in expected}
    assert not task_path(data_root).exists()


# --------------------------------------------------------------------------- §3.2 identity

def test_identical_reappend_is_already_present_and_file_unchanged(repo, data_root):
    p = pack("same-1", semantic_tags=["a", "b"])
    p.agent_profile = {"policy": "scripted", "version": "v1"}
    assert repo.append(p).status == "created"
    path = task_path(data_root)
    before = path.read_bytes()
    res = repo.append(p)
    assert (res.index, res.pack_id, res.task_name, res.status, res.revision) == (0, "same-1", TASK,
                                                                                  "already_present", 1)
    assert path.read_bytes() == before
    # A record read back from the store is identical too.
    assert repo.append(repo.get(TASK, "same-1")).status == "already_present"
    # Same content, other created_at and other key order in a free object: identical.
    q = pack("same-1", semantic_tags=["a", "b"], created_at="2030-01-01T00:00:00.000000+00:00")
    q.agent_profile = {"version": "v1", "policy": "scripted"}
    assert repo.append(q).status == "already_present"
    assert path.read_bytes() == before
    assert repo.get(TASK, "same-1").created_at == "2025-06-01T12:00:00.000000+00:00"
    assert [r.pack_id for r in repo.load_all(TASK)] == ["same-1"]


@pytest.mark.parametrize("change", [
    _set_attr("attribution.trust_score", 0.5),
    _set_attr("semantic_tags", ["b", "a"]),
    _set_attr("attribution.delta_mpl", 1),     # 1 vs 1.0: literal kinds differ
    _set_attr("condition.tags", {"x": True}),
    _set_attr("attribution.wm_role", "wm_train"),
], ids=["trust", "tag-order", "int-vs-float", "condition-tags", "wm_role"])
def test_changed_content_same_id_is_pack_id_conflict(repo, data_root, change):
    p = pack("conf-1", semantic_tags=["a", "b"])
    p.attribution.delta_mpl = 1.0
    repo.append(p)
    path = task_path(data_root)
    before = path.read_bytes()
    q = pack("conf-1", semantic_tags=["a", "b"])
    q.attribution.delta_mpl = 1.0
    change(q)
    with pytest.raises(AlreadyExistsError) as ei:
        repo.append(q)
    err = ei.value
    assert err.code == "ALREADY_EXISTS"
    assert err.reason == "PACK_ID_CONFLICT"
    assert [(v.index, v.pack_id, v.reason) for v in err.violations] == [(0, "conf-1", "PACK_ID_CONFLICT")]
    assert path.read_bytes() == before
    assert_json_same(repo.get(TASK, "conf-1").to_dict(), p.to_dict())


def test_conflict_in_batch_writes_nothing(repo, data_root):
    repo.append(pack("c-old"))
    path = task_path(data_root)
    before = path.read_bytes()
    changed = pack("c-old", trust=0.1)
    with pytest.raises(AlreadyExistsError) as ei:
        repo.append_batch([pack("c-new-0"), changed, pack("c-new-2")])
    assert ei.value.reason == "PACK_ID_CONFLICT"
    assert [(v.index, v.pack_id) for v in ei.value.violations] == [(1, "c-old")]
    assert path.read_bytes() == before
    assert [r.pack_id for r in repo.load_all(TASK)] == ["c-old"]


def test_existing_identical_plus_new_in_one_batch(repo, data_root):
    old = pack("e-old")
    repo.append(old)
    res = repo.append_batch([pack("e-new"), old])
    assert [(r.index, r.pack_id, r.status, r.revision) for r in res] == [
        (0, "e-new", "created", 1), (1, "e-old", "already_present", 1)]
    assert [r.pack_id for r in repo.load_all(TASK)] == ["e-old", "e-new"]
    assert len(stored_lines(task_path(data_root))) == 2


def test_same_id_twice_in_one_batch_identical(repo, data_root):
    a = pack("twice")
    b = pack("twice", created_at="2031-01-01T00:00:00.000000+00:00")  # created_at ignored
    res = repo.append_batch([pack("other"), a, b])
    assert [(r.index, r.pack_id, r.status) for r in res] == [
        (0, "other", "created"), (1, "twice", "created"), (2, "twice", "already_present")]
    assert all(r.revision == 1 and r.task_name == TASK for r in res)
    lines = stored_lines(task_path(data_root))
    assert [d["pack_id"] for d in lines] == ["other", "twice"]
    assert repo.get(TASK, "twice").created_at == a.created_at


def test_same_id_twice_in_one_batch_different(repo, data_root):
    a = pack("twice")
    b = pack("twice", trust=0.3)
    with pytest.raises(AlreadyExistsError) as ei:
        repo.append_batch([pack("other"), a, b])
    err = ei.value
    assert err.code == "ALREADY_EXISTS" and err.reason == "PACK_ID_CONFLICT"
    assert any(v.pack_id == "twice" and v.reason == "PACK_ID_CONFLICT" and v.index == 2 for v in err.violations)
    assert not task_path(data_root).exists()
    assert_task_not_found(lambda: repo.load_all(TASK))


def test_same_id_in_different_tasks_is_not_a_conflict(repo):
    res = repo.append_batch([pack("shared"), pack("shared", task_name="dishwashing", trust=0.2)])
    assert [r.status for r in res] == ["created", "created"]
    assert repo.get("dishwashing", "shared").attribution.trust_score == 0.2
    assert repo.get(TASK, "shared").attribution.trust_score == 0.95


# --------------------------------------------------------------------------- task names (docs/schema.md §7.1)

VALID_TASK_NAMES = ["drawer_vase", "dishwashing", "isaac_drawer", "test.v2", "A-Z_09.x", "x", "t" * 128, "Drawer_Vase"]
INVALID_TASK_NAMES = ["../etc", "a/b", "drawer vase", "a..b", "", "t" * 129, "..", "/abs", "a\\b", "tâche",
                      "x\n", "..hidden"]


@pytest.mark.parametrize("name", VALID_TASK_NAMES, ids=[n[:20] for n in VALID_TASK_NAMES])
def test_valid_task_names(repo, data_root, name):
    p = pack("tn-1", task_name=name)
    assert repo.append(p).task_name == name
    path = data_root / STORE / f"{name}_datapacks.jsonl"
    assert path.is_file()
    assert name in repo.list_tasks()
    assert [r.pack_id for r in repo.query(name)] == ["tn-1"]
    assert repo.get(name, "tn-1").task_name == name
    assert repo.get_statistics(name)["total"] == 1


def test_task_names_are_case_sensitive(repo, data_root):
    repo.append(pack("cs-1", task_name="Drawer_Vase"))
    assert "did you mean 'Drawer_Vase'?" in assert_task_not_found(lambda: repo.query("drawer_vase")).message
    assert [r.pack_id for r in repo.query("Drawer_Vase")] == ["cs-1"]


@pytest.mark.parametrize("name", INVALID_TASK_NAMES, ids=repr)
def test_invalid_task_names_never_create_files(repo, data_root, name):
    (data_root / STORE).mkdir(parents=True, exist_ok=True)
    root = data_root.parent
    before = tree(root)
    p = pack("tn-bad", task_name=name)
    with pytest.raises(InvalidArgumentError) as ei:
        repo.append(p)
    assert ei.value.reason == "TASK_NAME_INVALID"
    assert any(v.field == "task_name" and v.reason == "TASK_NAME_INVALID" and v.index == 0
               for v in ei.value.violations)
    reads = [
        lambda: repo.query(name),
        lambda: repo.load_all(name),
        lambda: repo.get(name, "tn-bad"),
        lambda: repo.get_statistics(name),
        lambda: repo.get_positive_for_skill(name, 0),
        lambda: repo.get_negative_for_skill(name, 0),
    ]
    for call in reads:
        with pytest.raises(InvalidArgumentError) as ei:
            call()
        assert ei.value.reason == "TASK_NAME_INVALID"
    with pytest.raises(InvalidArgumentError):
        list(repo.iter_all(name))
    assert tree(root) == before
    assert repo.list_tasks() == []


# --------------------------------------------------------------------------- §6.3 results are copies

def test_mutating_returned_records_does_not_change_later_results(repo):
    p = pack("mut-1", skills=(0, 1, 3), semantic_tags=["offset_vase"])
    p.condition.tags = {"task": "drawer_vase", "fragile": True}
    p.sima_annotation = {"instruction": "open", "step_narrations": ["a", "b"], "narration_count": 2}
    p.attribution.skill_contribs = {3: {"delta_mpl": 1.0}}
    repo.append_batch([p, pack("mut-2", delta_j=-2.0)])
    reference = json.loads(repo.get(TASK, "mut-1").to_json())

    def vandalise(r: DataPackMeta):
        r.attribution.trust_score = 0.0
        r.attribution.delta_J = -99.0
        r.attribution.used_in_training_runs.append("run-x")
        r.attribution.skill_contribs[5] = {"x": 1}
        r.condition.tags["fragile"] = False
        r.condition.drawer_friction = 9.0
        r.semantic_tags.append("vase_collision")
        r.skill_trace[0]["skill_id"] = 5
        r.skill_trace.append({"t": 99, "skill_id": 4})
        if r.sima_annotation is not None:
            r.sima_annotation.step_narrations.append("c")
        r.energy.energy_per_limb["arm"] = {"Wh": 1.0}
        r.bucket = "negative"
        d = r.to_dict()
        d["attribution"]["trust_score"] = 0.0

    for r in repo.query(TASK, skill_id=0):
        vandalise(r)
    vandalise(repo.get(TASK, "mut-1"))
    for r in repo.load_all(TASK):
        vandalise(r)
    for r in repo.iter_all(TASK):
        vandalise(r)
    for r in repo.get_positive_for_skill(TASK, 0):
        vandalise(r)
    st = repo.get_statistics(TASK)
    st["unique_skills"].append(42)
    st["engine_types"]["moon"] = 1
    st["total"] = 0

    assert_json_same(json.loads(repo.get(TASK, "mut-1").to_json()), reference)
    again = repo.query(TASK, skill_id=0, min_trust=0.9, bucket="positive", condition_filters={"fragile": True})
    assert [r.pack_id for r in again] == ["mut-1"]
    assert_json_same(again[0].to_dict(), reference)
    assert repo.query(TASK, skill_id=5) == []
    st2 = repo.get_statistics(TASK)
    assert st2["total"] == 2 and st2["unique_skills"] == [0, 1, 3] and list(st2["engine_types"]) == ["pybullet"]


# --------------------------------------------------------------------------- parity of errors and results

def test_errors_and_results_identical_in_both_modes(data_root, client):
    """docs/repository.md §11.3: same results and same errors (class, reason,
    message, violations) from the embedded repository and the client."""
    emb = DataPackRepo(str(data_root / "embedded_store"), create=True)
    try:
        def batch():
            r0 = pack("par-0")
            r0.condition.engine_type = "bullet"
            r0.skill_trace[1]["t"] = -2
            r1 = pack("par-1", delta_j=-1.0)
            r1.counterfactual_plan = None
            r1.attribution.skill_contribs = {"07": {}}
            return [r0, pack("par-ok"), r1]

        errors = []
        for r in (emb, client):
            with pytest.raises(InvalidArgumentError) as ei:
                r.append_batch(batch())
            errors.append(ei.value)
        a, b = errors
        assert (a.code, a.reason, a.message, a.violations) == (b.code, b.reason, b.message, b.violations)

        results = [[(x.index, x.pack_id, x.task_name, x.status, x.revision)
                     for x in r.append_batch([pack("par-ok"), pack("par-2", delta_j=-3.0), pack("par-ok")])]
                    for r in (emb, client)]
        assert results[0] == results[1]
        conflicts = []
        for r in (emb, client):
            with pytest.raises(AlreadyExistsError) as ei:
                r.append(pack("par-ok", trust=0.1))
            conflicts.append(ei.value)
        a, b = conflicts
        assert (a.code, a.reason, a.message, a.violations) == (b.code, b.reason, b.message, b.violations)
        for r in (emb, client):
            with pytest.raises(NotFoundError) as ei:
                r.get(TASK, "nope")
            conflicts.append(ei.value)
        a, b = conflicts[2:]
        assert (a.code, a.reason, a.violations) == (b.code, b.reason, b.violations)
        got = [[x.to_dict() for x in r.load_all(TASK)] for r in (emb, client)]
        assert len(got[0]) == 2
        for x, y in zip(*got):
            assert_json_same(x, y)
    finally:
        emb.close()


def test_large_batch_reports_every_violation(repo, data_root):
    """§4.1: every violation of every record, also for a big batch (the error
    must reach the caller intact in both modes, not be replaced by a transport error)."""
    batch = [pack(f"many-{i:03d}", skills=()) for i in range(150)]
    with pytest.raises(InvalidArgumentError) as ei:
        repo.append_batch(batch)
    err = ei.value
    assert err.reason == "SKILL_TRACE_EMPTY"
    assert vset(err) == {(i, f"many-{i:03d}", "skill_trace", "SKILL_TRACE_EMPTY") for i in range(150)}
    assert not task_path(data_root).exists()
