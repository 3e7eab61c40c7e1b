"""The sample data of `make run` (tools/seed_sample_data.py): made by the project's own generator
and simulator, deterministic, valid (`datapack validate`: 0 findings), idempotent to seed, and what
it holds, read over the wire and embedded."""
from __future__ import annotations

import hashlib
import importlib.util
import io
import pathlib
import shutil
import subprocess
import sys

import pytest

from datapack_client import connect
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server

from .sample_data import ROOT, SEED_TOOL, TASK, copy_sample_data, run_seed_tool, seeded_data_dir

CLI_TIMEOUT_S = 300
SIMULATOR = importlib.util.find_spec("pybullet") is not None
# What tools/seed_sample_data.py builds (its STORES), per engine.
PHASE_C_ENGINES = {"pybullet": 300 + (16 if SIMULATOR else 0), "isaac": 150, "ue5": 150}
PORTABLE_PACKS = 200


def datapack(*args: str, cwd: pathlib.Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datapack_server", *args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, cwd=cwd)


def task_files(datapacks: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(datapacks)): p.read_bytes() for p in sorted(datapacks.glob(f"*/{TASK}_datapacks.jsonl"))}


def load_seed_tool():
    spec = importlib.util.spec_from_file_location("seed_sample_data", SEED_TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_sample_data_passes_validate_and_verify(tmp_path_factory):
    datapacks = seeded_data_dir(tmp_path_factory) / "datapacks"
    validate = datapack("validate", "--data-dir", str(datapacks))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "0 finding(s)" in validate.stdout
    assert sorted(task_files(datapacks)) == [f"phase_c/{TASK}_datapacks.jsonl", f"portable/{TASK}_datapacks.jsonl"]
    verify = datapack("verify", "--data-dir", str(datapacks))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_seeding_is_deterministic_idempotent_and_recovers_from_an_interruption(tmp_path_factory, tmp_path):
    first = seeded_data_dir(tmp_path_factory)
    second = tmp_path / "data"
    leftover = second / "datapacks" / ".seeding" / "phase_c"  # as an interrupted run leaves it
    leftover.mkdir(parents=True)
    (leftover / f"{TASK}_datapacks.jsonl").write_text('{"half": ', encoding="utf-8")

    done = run_seed_tool(second / "datapacks")
    assert done.returncode == 0, done.stderr
    assert not (second / "datapacks" / ".seeding").exists()
    # Byte-identical apart from where the raw episodes live (raw_data_path is absolute).
    expected = {name: data.replace(str(first / "raw").encode(), str(second / "raw").encode())
                for name, data in task_files(first / "datapacks").items()}
    assert task_files(second / "datapacks") == expected
    episodes = "episodes/drawer_vase_episodes.json"
    assert (second / episodes).read_bytes() == (first / episodes).read_bytes()

    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in second.rglob("*") if p.is_file()}
    again = run_seed_tool(second / "datapacks")
    assert again.returncode == 0, again.stderr
    assert "seeded" not in again.stdout and again.stdout.count("left as it is") == 2
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in second.rglob("*") if p.is_file()} == before


def test_an_existing_store_is_left_alone_and_an_earlier_copy_is_named(tmp_path):
    """A data root seeded by an older version holds a copy of the earlier library's file: it is not
    touched (never overwritten or appended to), and the tool says why and how to replace it."""
    datapacks = tmp_path / "data" / "datapacks"
    (datapacks / "phase_c").mkdir(parents=True)
    old = datapacks / "phase_c" / f"{TASK}_datapacks.jsonl"
    shutil.copyfile(ROOT / "tests/fixtures/reference/drawer_vase_datapacks.jsonl", old)
    before = old.read_bytes()

    done = run_seed_tool(datapacks)
    assert done.returncode == 0, done.stderr
    assert old.read_bytes() == before and sorted(p.name for p in old.parent.iterdir()) == [old.name]
    assert f"{datapacks / 'phase_c'}: present, left as it is" in done.stdout
    assert f"note: {old} is the earlier library's file" in done.stdout and "Remove" in done.stdout
    assert (datapacks / "portable" / f"{TASK}_datapacks.jsonl").is_file()


def test_without_pybullet_phase_c_is_seeded_from_the_generator_alone(tmp_path, monkeypatch):
    tool = load_seed_tool()
    monkeypatch.setattr(tool, "simulator_available", lambda: False)
    monkeypatch.delitem(tool.STORES, "portable")  # not the subject here
    out = io.StringIO()
    assert tool.seed(tmp_path / "data" / "datapacks", out=out) == 1
    assert "pybullet is not installed" in out.getvalue()
    repo = DataPackRepo(str(tmp_path / "data" / "datapacks" / "phase_c"))
    try:
        stats = repo.get_statistics(TASK)
        assert stats["total"] == 600 and stats["engine_types"] == {"pybullet": 300, "isaac": 150, "ue5": 150}
    finally:
        repo.close()


@pytest.fixture(params=["embedded", "remote"])
def sample_repos(request, tmp_path_factory, tmp_path):
    """{store: repository} on a copy of the sample data, embedded or through a real server."""
    datapacks = copy_sample_data(tmp_path_factory, tmp_path / "data") / "datapacks"
    if request.param == "embedded":
        repos = {s: DataPackRepo(str(datapacks / s)) for s in ("phase_c", "portable")}
        yield repos
        for r in repos.values():
            r.close()
    else:
        running = build_server(ServerConfig(data_dir=str(datapacks), port=0, max_workers=16))
        repos = {s: connect(f"127.0.0.1:{running.port}", store=s, timeout=60) for s in ("phase_c", "portable")}
        yield repos
        for r in repos.values():
            r.close()
        running.stop(0)


def test_phase_c_holds_generated_and_simulated_packs_of_three_engines(sample_repos):
    repo = sample_repos["phase_c"]
    assert repo.list_tasks() == [TASK]
    stats = repo.get_statistics(TASK)
    assert stats["total"] == sum(PHASE_C_ENGINES.values())
    assert stats["engine_types"] == PHASE_C_ENGINES
    assert stats["positive"] > 100 and stats["negative"] > 100
    assert stats["with_counterfactual"] == stats["negative"]  # every negative pack carries its plan
    assert stats["with_sima"] > 50 and set(stats["source_types"]) == {"real", "synthetic", "hybrid"}
    assert stats["unique_skills"] == [0, 1, 2, 3, 4, 5]
    simulated = [p for p in repo.query(TASK, engine_type="pybullet", limit=None) if p.pack_id.startswith("sim-")]
    assert len(simulated) == (16 if SIMULATOR else 0)
    for p in simulated:  # episodes of the PyBullet world: narrated, with raw frames to export
        assert p.sima_annotation and p.sima_annotation.step_narrations and p.raw_data_path
        assert pathlib.Path(p.raw_data_path, "metadata.json").is_file()
    best = repo.query(TASK, bucket="positive", skill_id=3, min_trust=0.9, sort_by="delta_j", limit=10)
    assert len(best) == 10


def test_portable_store_answers_the_slice_queries(sample_repos):
    repo = sample_repos["portable"]
    stats = repo.get_statistics(TASK)
    assert stats["total"] == PORTABLE_PACKS
    assert len(repo.query(TASK, schema_version="2.1-portable", limit=None)) == PORTABLE_PACKS
    packs = repo.query(TASK, is_occluded=True, motion_bucket="high", schema_version="2.1-portable")
    assert len(packs) == 5
    for p in packs:
        labels = p.slice_labels_v1
        assert labels["is_occluded"] is True and labels["motion_bucket"] == "high"
        assert set(p.omitted_fields) == {"scene_tracks_v1", "rgb_features_v1"}  # heavy: left out of queries
    assert len(repo.query(TASK, is_dynamic=True, limit=None)) > 50
