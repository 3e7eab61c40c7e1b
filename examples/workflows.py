"""The five everyday workflows of a DataPack user, runnable as they are on the sample data.

    python examples/workflows.py                                     # the server of `make run`, store phase_c
    python examples/workflows.py --target HOST:PORT --store phase_c
    python examples/workflows.py --datapack-dir data/datapacks/phase_c   # in-process, no server

Each workflow is one function taking a repository (a `connect(...)` client or the embedded
`DataPackRepo`: same methods, same results) and returning what it produced, so
`tests/test_workflows.py` runs every one of them against both on a copy of the sample data.

1. `collect_and_classify`: episodes from an engine become packs (ΔJ against an explicit baseline puts
   each in the positive or negative bucket; negative ones get a counterfactual plan) and are stored.
2. `train_skill_policy`: the high-trust positive examples of one skill, as training samples.
3. `analyze_failures`: the worst negative packs of a skill with the plan that should have been run.
4. `curriculum_learning`: a skill's positive packs in levels of increasing difficulty.
5. `world_model_training`: real high-trust packs are marked as used by a world-model run (revision lines,
   nothing rewritten), and the model's rollouts are stored as synthetic packs naming the model.

Needs the server extra (`pip install '.[server]'`, which `make run` installs): workflow 1 uses the
project's synthetic episode generator. The "policy trainer" and the "world model" below are stand-ins
(a few lines each) for your own code: the point is what goes in and out of the repository. Running a
workflow twice stores nothing new (the ids and contents of what it writes are deterministic, so the
second append is `already_present`).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from typing import Any

from datapack_client import SkillDataPackAdapter, SkillID

TASK = "drawer_vase"
ARTIFACT_KEYS = ("scene_tracks_v1", "rgb_features_v1", "slice_labels_v1", "repr_tokens")


# 1 ------------------------------------------------------------------------------------------------
def collect_and_classify(repo, episodes: int = 40, seed: int = 2024, engine: str = "isaac") -> dict[str, int]:
    """Run episodes, build one pack per episode, store them; returns the bucket and append counts.

    The seeded synthetic generator of `datapack build --generate-synthetic` stands in for the engine
    here; a simulator hands its own results to the same builder (examples/simulator_client.py)."""
    from datapack_client import Baseline
    from datapack_server.synthetic.episodes import build_pack, episode_to_builder_args, generate_synthetic_episodes

    # ΔJ is measured against an explicit reference, here the scripted policy's mean results.
    baseline = Baseline(mpl=10.0, error=0.05, ep=2.0, name="scripted_reference")
    results = generate_synthetic_episodes(episodes, seed=seed)
    packs = [build_pack(episode_to_builder_args(r, i, TASK, engine), baseline) for i, r in enumerate(results)]
    stored = repo.append_batch(packs)
    counts = Counter(p.bucket for p in packs)
    counts.update(r.status for r in stored)
    assert all(p.counterfactual_plan for p in packs if p.bucket == "negative")
    print(f"1. collected {len(packs)} episodes: {counts['positive']} positive, {counts['negative']} negative "
          f"({counts['created']} new, {counts['already_present']} already stored)")
    return dict(counts)


# 2 ------------------------------------------------------------------------------------------------
def train_skill_policy(repo, skill_id: int = SkillID.GRASP_HANDLE) -> dict[str, Any]:
    """Fit a (stand-in) skill policy on the skill's high-trust positive examples."""
    adapter = SkillDataPackAdapter(repo)
    samples = adapter.get_skill_training_data(TASK, skill_id=skill_id, bucket="positive", min_trust=0.9)
    policy = fit_skill_policy(samples)
    print(f"2. trained skill {int(skill_id)} on {len(samples)} samples: mean duration "
          f"{policy['mean_duration']:.1f} steps, weighted by ΔJ {policy['mean_delta_j']:.3f}")
    return policy


def fit_skill_policy(samples: list[dict]) -> dict[str, Any]:
    """Stand-in trainer: what a real one would read from each sample."""
    return {
        "samples": len(samples),
        "packs": len({s["pack_id"] for s in samples}),
        "mean_duration": statistics.fmean(s["duration"] for s in samples) if samples else 0.0,
        "mean_delta_j": statistics.fmean(s["delta_j"] for s in samples) if samples else 0.0,
        "conditions": [s["condition"] for s in samples],
    }


# 3 ------------------------------------------------------------------------------------------------
def analyze_failures(repo, skill_id: int = SkillID.OPEN_WITH_CLEARANCE, top_k: int = 5) -> list[dict]:
    """The worst failures using a skill, each with what went wrong and the plan that should have run."""
    adapter = SkillDataPackAdapter(repo)
    failures = adapter.get_skill_failure_modes(TASK, skill_id=skill_id, top_k=top_k)
    print(f"3. worst {len(failures)} failures with skill {int(skill_id)}:")
    for failure in failures:
        print(f"   {failure['pack_id']}: ΔJ {failure['delta_j']:.2f}, tags {failure['semantic_tags']}")
        print(f"     counterfactual: {failure['counterfactual']}")
    return failures


# 4 ------------------------------------------------------------------------------------------------
def curriculum_learning(repo, skill_id: int = SkillID.OPEN_WITH_CLEARANCE, n_levels: int = 3) -> list[dict]:
    """Train on a skill's positive packs from the easiest conditions to the hardest."""
    adapter = SkillDataPackAdapter(repo)
    curriculum = adapter.generate_skill_curriculum(TASK, skill_id=skill_id, n_levels=n_levels)
    print(f"4. curriculum of skill {int(skill_id)} in {len(curriculum)} levels:")
    for level in curriculum:
        summary = level["conditions_summary"]
        print(f"   level {level['level']}: {level['n_samples']} packs, difficulty {level['difficulty']:.2f}, "
              f"mean vase offset {summary['avg_offset']:.3f} m, friction {summary['avg_friction']:.2f}")
        train_on_level(level["datapacks"])
    return curriculum


def train_on_level(packs: list) -> int:
    """Stand-in trainer step: a real one would fit on the level's packs."""
    return len(packs)


# 5 ------------------------------------------------------------------------------------------------
def world_model_training(repo, run_id: str = "wm_run_001", model_id: str = "wm_v1", limit: int = 1000) -> dict:
    """Mark real high-trust packs as the world model's training set, then store its rollouts."""
    train = repo.query(TASK, source_type="real", min_trust=0.95, limit=limit)
    # Query results are copies: the training usage is recorded by the repository (a revision line per
    # changed pack, listed by get_history), not by editing the returned objects.
    marked = repo.update_training_usage(TASK, [p.pack_id for p in train], wm_role="wm_train",
                                        add_training_runs=[run_id])
    rollouts = imagine_rollouts(train, model_id)
    stored = repo.append_batch(rollouts) if rollouts else []
    result = {"training_packs": len(train),
              "revised": sum(1 for m in marked if m["status"] == "revised"),
              "rollouts": len(rollouts),
              "created": sum(1 for r in stored if r.status == "created")}
    print(f"5. world model {model_id}: trained on {result['training_packs']} real packs (run {run_id}, "
          f"{result['revised']} newly marked); {result['rollouts']} rollouts stored as synthetic packs "
          f"({result['created']} new)")
    return result


def imagine_rollouts(packs: list, model_id: str) -> list:
    """Stand-in world model: one imagined rollout per training pack, a pack of its own.

    A rollout starts from its source pack's record (its outcome, bucket and counterfactual plan for a
    negative one), marked as synthetic and as the model's output; the source's portable artifacts and
    training usage are not its own."""
    from datapack_client import DataPackMeta

    rollouts = []
    for source in packs:
        record = source.to_dict()
        for key in ARTIFACT_KEYS:
            record.pop(key, None)
        record["schema_version"] = "2.0-energy"
        record["raw_data_path"] = None
        record["pack_id"] = f"{source.pack_id}-{model_id}"
        rollout = DataPackMeta.from_dict(record)
        a = rollout.attribution
        a.source_type, a.wm_model_id, a.wm_role = "synthetic", model_id, "wm_synth_target"
        a.used_in_training_runs = []
        rollouts.append(rollout)
    return rollouts


WORKFLOWS = (collect_and_classify, train_skill_policy, analyze_failures, curriculum_learning, world_model_training)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="run the five workflows against a DataPack store")
    ap.add_argument("--target", default="localhost:50051", help="server (default localhost:50051)")
    ap.add_argument("--store", default="phase_c", help="store on the server (default phase_c)")
    ap.add_argument("--datapack-dir", default=None, metavar="DIR",
                    help="use this store folder in-process instead of a server")
    args = ap.parse_args(argv)
    if args.datapack_dir:
        from datapack_server import DataPackRepo

        repo = DataPackRepo(args.datapack_dir)
    else:
        from datapack_client import connect

        repo = connect(args.target, store=args.store)
    try:
        for workflow in WORKFLOWS:
            workflow(repo)
    finally:
        repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
