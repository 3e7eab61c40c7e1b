"""The seed document's repository examples, as written (only the import and
the constructor differ), against the embedded repo and the remote client."""
from __future__ import annotations

from .conftest import copy_fixture


def test_seed_repository_examples_run_unchanged(repo, data_root):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")

    # Query with filters (seed: "DataPackRepo API")
    results = repo.query(
        task_name="drawer_vase",
        bucket="positive",
        skill_id=3,
        engine_type="pybullet",
        min_trust=0.9,
        min_delta_j=0.0,
        min_mvd_score=0.5,
        source_type="real",
        limit=100,
        include_counterfactual=True,
        include_sima=True,
        sort_by="delta_j",
        sort_descending=True,
    )
    for dp in results:
        assert dp.bucket == "positive" and dp.has_skill(3) and dp.attribution.trust_score >= 0.9

    # Convenience methods
    positive = repo.get_positive_for_skill("drawer_vase", skill_id=4, top_k=10)
    negative = repo.get_negative_for_skill("drawer_vase", skill_id=4, top_k=10)
    stats = repo.get_statistics("drawer_vase")
    assert 0 < len(positive) <= 10 and len(negative) <= 10
    assert [p.attribution.delta_J for p in positive] == sorted((p.attribution.delta_J for p in positive),
                                                               reverse=True)
    assert stats["total"] == 600 and stats["positive"] + stats["negative"] == 600

    # Querying SIMA data / extracting VLA training data
    sima_packs = repo.query(task_name="drawer_vase", include_sima=True, limit=500)
    vla_samples = []
    for dp in sima_packs:
        if dp.sima_annotation:
            vla_samples.append({
                "instruction": dp.sima_annotation.instruction,
                "skill_sequence": dp.get_skill_ids(),
                "narrations": dp.sima_annotation.step_narrations,
            })
    assert len(vla_samples) == len(sima_packs) == 177
    assert all(isinstance(s["instruction"], str) and isinstance(s["narrations"], list) for s in vla_samples)

    # Multi-engine: query by engine
    isaac_packs = repo.query(task_name="drawer_vase", engine_type="isaac")
    assert isaac_packs and all(p.condition.engine_type == "isaac" for p in isaac_packs)

    # World model training: the query of workflow 5
    wm_train_packs = repo.query(task_name="drawer_vase", source_type="real", min_trust=0.95, limit=1000)
    assert all(p.attribution.source_type == "real" and p.attribution.trust_score >= 0.95 for p in wm_train_packs)
    roles_before = [p.attribution.wm_role for p in wm_train_packs]
    assert "wm_train" not in roles_before or roles_before.count("wm_train") < len(roles_before)
    for dp in wm_train_packs:  # mutating returned copies changes nothing stored
        dp.attribution.wm_role = "wm_train"
        dp.attribution.used_in_training_runs.append("wm_run_001")
    again = repo.query(task_name="drawer_vase", source_type="real", min_trust=0.95, limit=1000)
    assert [p.attribution.wm_role for p in again] == roles_before
    assert not any("wm_run_001" in p.attribution.used_in_training_runs for p in again)

    # Append single / batch
    from .conftest import make_pack
    assert repo.append(make_pack("seed-one")).status == "created"
    assert [r.status for r in repo.append_batch([make_pack("seed-two"), make_pack("seed-three")])] == ["created"] * 2
    assert repo.list_tasks() == ["drawer_vase"]
