"""examples/workflows.py: the five workflows run as written on a copy of the sample data, embedded
and through a real server, store what they say, keep the store valid, and store nothing new when
run again."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from datapack_client import connect
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.service.file_validation import validate_file

from .sample_data import ROOT, TASK, copy_sample_data

EXAMPLE = ROOT / "examples" / "workflows.py"
SCRIPT_TIMEOUT_S = 300


def load_workflows():
    spec = importlib.util.spec_from_file_location("workflows_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


workflows = load_workflows()


@pytest.fixture(params=["embedded", "remote"])
def phase_c(request, tmp_path_factory, tmp_path):
    """(repository, task file) of the sample store phase_c, on a copy."""
    datapacks = copy_sample_data(tmp_path_factory, tmp_path / "data") / "datapacks"
    task_file = datapacks / "phase_c" / f"{TASK}_datapacks.jsonl"
    if request.param == "embedded":
        repo = DataPackRepo(str(datapacks / "phase_c"))
        yield repo, task_file
        repo.close()
    else:
        running = build_server(ServerConfig(data_dir=str(datapacks), port=0, max_workers=16))
        repo = connect(f"127.0.0.1:{running.port}", store="phase_c", timeout=60)
        yield repo, task_file
        repo.close()
        running.stop(0)


def assert_valid(task_file) -> None:
    report = validate_file(str(task_file))
    assert report.findings == []


def test_collect_and_classify_stores_every_episode_in_its_bucket(phase_c, capsys):
    repo, task_file = phase_c
    before = repo.get_statistics(TASK)
    counts = workflows.collect_and_classify(repo)
    assert counts["positive"] + counts["negative"] == 40 and counts["created"] == 40
    after = repo.get_statistics(TASK)
    assert after["total"] == before["total"] + 40
    assert after["with_counterfactual"] == after["negative"]
    assert "1. collected 40 episodes" in capsys.readouterr().out
    again = workflows.collect_and_classify(repo)
    assert again.get("created", 0) == 0 and again["already_present"] == 40
    assert_valid(task_file)


def test_train_skill_policy_reads_high_trust_positive_examples(phase_c):
    repo, _ = phase_c
    policy = workflows.train_skill_policy(repo)
    assert policy["samples"] >= policy["packs"] > 10
    ids = {p.pack_id for p in repo.query(TASK, bucket="positive", skill_id=3, min_trust=0.9, limit=None)}
    assert policy["packs"] == min(len(ids), 100)  # the adapter's default top_k


def test_analyze_failures_lists_worst_failures_with_their_plans(phase_c, capsys):
    repo, _ = phase_c
    failures = workflows.analyze_failures(repo)
    assert len(failures) == 5
    assert [f["delta_j"] for f in failures] == sorted(f["delta_j"] for f in failures) and failures[0]["delta_j"] < 0
    assert all(f["counterfactual"] and f["semantic_tags"] for f in failures)
    assert capsys.readouterr().out.count("counterfactual: {") == 5


def test_curriculum_learning_covers_every_qualifying_pack_in_rising_difficulty(phase_c):
    repo, _ = phase_c
    curriculum = workflows.curriculum_learning(repo)
    assert [level["level"] for level in curriculum] == [0, 1, 2]
    difficulties = [level["difficulty"] for level in curriculum]
    assert difficulties == sorted(difficulties)
    qualifying = repo.query(TASK, bucket="positive", skill_id=4, min_trust=0.9, limit=None)
    assert sum(level["n_samples"] for level in curriculum) == len(qualifying) > 30


def test_world_model_training_marks_its_training_set_and_stores_rollouts(phase_c):
    repo, task_file = phase_c
    result = workflows.world_model_training(repo)
    n = result["training_packs"]
    assert n > 30 and result["revised"] == n and result["rollouts"] == result["created"] == n
    marked = repo.query(TASK, source_type="real", min_trust=0.95, limit=None)
    assert len(marked) == n
    assert all(p.attribution.wm_role == "wm_train" and "wm_run_001" in p.attribution.used_in_training_runs
               for p in marked)
    assert len(repo.get_history(TASK, marked[0].pack_id)) == 2  # the pack as built, then the training usage
    rollouts = repo.query(TASK, wm_model_id="wm_v1", limit=None)
    assert len(rollouts) == n and all(p.attribution.source_type == "synthetic"
                                      and p.attribution.wm_role == "wm_synth_target" for p in rollouts)
    assert all(p.counterfactual_plan for p in rollouts if p.bucket == "negative")
    assert_valid(task_file)
    again = workflows.world_model_training(repo)
    assert again == {"training_packs": n, "revised": 0, "rollouts": n, "created": 0}


def test_workflows_script_runs_against_a_server(tmp_path_factory, tmp_path):
    datapacks = copy_sample_data(tmp_path_factory, tmp_path / "data") / "datapacks"
    running = build_server(ServerConfig(data_dir=str(datapacks), port=0, max_workers=16))
    try:
        done = subprocess.run([sys.executable, str(EXAMPLE), "--target", f"127.0.0.1:{running.port}",
                               "--store", "phase_c"], capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
    finally:
        running.stop(0)
    assert done.returncode == 0, done.stderr
    assert [line[:2] for line in done.stdout.splitlines() if line[:1].isdigit()] == ["1.", "2.", "3.", "4.", "5."]
    assert_valid(datapacks / "phase_c" / f"{TASK}_datapacks.jsonl")
