"""The skill analyses' fast paths give what the plain computation gives
(docs/adapter.md §3):

* aggregates over every pack are kept per index state: after appends and
  revisions (also written by another process) every analysis equals the one
  of a repository opened afresh on the same files, and a returned result is
  the caller's own copy;
* a slice holding every pack evaluates every filter on every pack, while no
  slice walks the cached ΔJ order or the first rows only: both give the same
  results, on a store large enough for several scan chunks;
* pack ids are read one way for ids of one width and another for the rest:
  both give the stored ids;
* contribution means are exact (the rational mean of the values, rounded once).
"""
from __future__ import annotations

from fractions import Fraction

import pytest

from datapack_client import SkillDataPackAdapter
from datapack_server import DataPackRepo

try:
    from .conftest import STORE
    from .test_adapter import CATALOGUE, TASK, generate, pack, skills_of, trust, write_task
    from .test_adapter_parity import plain
except ImportError:  # tests/ not a package
    from conftest import STORE
    from test_adapter import CATALOGUE, TASK, generate, pack, skills_of, trust, write_task
    from test_adapter_parity import plain

EVERY_PACK = {"min_trust": -1e9}  # a slice every generated pack passes (trust goes down to -0.1)


def every_analysis(a: SkillDataPackAdapter, **kw) -> dict:
    """Each analysis with small limits (the scanned paths) and without (full ones)."""
    return {
        "stats": [a.get_skill_statistics(TASK, s, **kw) for s in range(9)],
        "all": a.get_all_skills_performance(TASK, **kw),
        "train": [a.get_skill_training_data(TASK, s, b, t, k, **kw)
                  for s in (3, 5) for b in ("positive", "negative") for t, k in ((0.0, 7), (0.9, None))],
        "fail": [a.get_skill_failure_modes(TASK, s, k, **kw) for s in (3, 4) for k in (3, None)],
        "seq": [a.get_skill_sequence_patterns(TASK, b, k, **kw) for b in ("positive", "negative") for k in (5, None)],
        "matrix": a.compute_skill_value_matrix(TASK, **kw),
        "rec": [a.recommend_skill_for_condition(TASK, t, **kw) for t in ([], ["fragile"], ["offset_vase"])],
        "pairs": [a.extract_contrastive_pairs(TASK, s, n, **kw) for s in (3, 5) for n in (4, None)],
        "curriculum": a.generate_skill_curriculum(TASK, 3, 3, **kw),
        "etags": [a.query_by_energy_driver_tags(TASK, ["energy_driver:a"], limit=k, **kw) for k in (5, 3000, None)],
        "ranges": [a.query_by_attribution_ranges(TASK, min_delta_mpl=0.0, limit=k, **kw) for k in (5, 5000, None)],
        "env": a.get_env_type_statistics(TASK, **kw),
        "ids": [a.get_datapack_ids_for_skill(TASK, s, **kw) for s in (0, 3, 7)],
        "energy": a.summarize_energy_usage(TASK, **kw),
    }


def assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key in want:
        assert plain(got[key]) == plain(want[key]), key


@pytest.fixture
def open_repo(data_root):
    opened = []

    def _open():
        r = DataPackRepo(str(data_root / STORE), fsync=False, skill_catalogues={TASK: CATALOGUE}, create=True)
        opened.append(r)
        return r

    yield _open
    for r in opened:
        r.close()


def test_results_over_every_pack_follow_appends_and_revisions(open_repo, data_root):
    recs = generate(400)
    write_task(data_root, recs[:300])
    a = SkillDataPackAdapter(open_repo())
    first = every_analysis(a)
    assert_same(every_analysis(a), first)  # kept, unchanged

    write_task(data_root, recs[300:])  # appended by another writer
    assert_same(every_analysis(a), every_analysis(SkillDataPackAdapter(open_repo())))

    changed = dict(recs[10], attribution=dict(recs[10]["attribution"], delta_J=-7.75, trust_score=0.99))
    changed["bucket"] = "negative"
    changed["energy"] = dict(changed["energy"], energy_per_skill={"grasp": {"Wh": 3.5}, "lift": {"Wh": 1.25}})
    write_task(data_root, [changed])  # a second line of an existing pack: its revision 2
    got = every_analysis(a)
    assert_same(got, every_analysis(SkillDataPackAdapter(open_repo())))
    assert got["energy"]["skill_totals"]["lift"] == 1.25


def test_returned_results_are_copies(open_repo, data_root):
    write_task(data_root, generate(120))
    a = SkillDataPackAdapter(open_repo())
    energy = a.summarize_energy_usage(TASK)
    stats = a.get_all_skills_performance(TASK)
    energy["limb_totals"].clear()
    energy["n_packs"] = -1
    stats[3]["total_usage"] = -1
    assert a.summarize_energy_usage(TASK)["limb_totals"] and a.summarize_energy_usage(TASK)["n_packs"] == 120
    assert a.get_all_skills_performance(TASK)[3]["total_usage"] > 0


def test_slice_of_every_pack_equals_no_slice_on_a_scanned_store(open_repo, data_root, monkeypatch):
    # Scanned paths start at 16,384 packs; 9,000 generated packs (three scan
    # chunks of the first rows: 4,096 then 8,192) with the threshold lowered.
    from datapack_server.query import top_k
    monkeypatch.setattr(top_k, "SCAN_MIN_ROWS", 1000)
    recs = generate(9000, seed=11)
    assert all(trust(d) > EVERY_PACK["min_trust"] for d in recs)
    write_task(data_root, recs)
    a = SkillDataPackAdapter(open_repo())
    assert_same(every_analysis(a), every_analysis(a, slice=EVERY_PACK))


def test_pack_ids_of_one_width_and_of_several_widths(open_repo, data_root):
    one = [pack(f"w-{i:05d}", 1.0 if i % 3 else -1.0, skills=(2,) if i % 2 else (1,)) for i in range(50)]
    several = [pack(pid, -0.5, skills=(2, 4)) for pid in ("x", "yy", "zzzz-ü", "Ωmega-7", "a b", "w-00000x")]
    write_task(data_root, one + several)
    a = SkillDataPackAdapter(open_repo())
    recs = one + several
    for sid in (1, 2, 4, 9):
        for bucket in (None, "negative"):
            want = [d["pack_id"] for d in recs if sid in skills_of(d) and bucket in (None, d["bucket"])]
            assert a.get_datapack_ids_for_skill(TASK, sid, bucket) == want
    only_one_width = {"engine_type": "pybullet", "min_delta_j": 0.5}
    assert a.get_datapack_ids_for_skill(TASK, 2, slice=only_one_width) == [
        d["pack_id"] for d in one if 2 in skills_of(d) and d["attribution"]["delta_J"] >= 0.5]


def test_contribution_means_are_exact(open_repo, data_root):
    # 0.1 and 0.7 are not exact binary fractions: a float sum of the values in
    # some order may round differently; the mean is the exact one, rounded once.
    values = [0.1] * 13 + [0.7] * 5 + [1e-17] * 3
    recs = [pack(f"c-{i:03d}", 1.0, skills=(3,), skill_contribs={"3": {"delta_mpl": x, "delta_error": -x}})
            for i, x in enumerate(values)]
    recs.append(pack("c-none", 1.0, skills=(3,), skill_contribs={"3": {"delta_mpl": "n/a"}}))
    write_task(data_root, recs)
    a = SkillDataPackAdapter(open_repo())
    exact = float(sum(map(Fraction, values)) / len(values))
    stats = a.get_skill_statistics(TASK, 3)
    assert stats["total_usage"] == len(values) + 1
    assert stats["skill_delta_mpl_mean"] == exact
    assert stats["skill_delta_error_mean"] == -exact
    assert a.get_skill_statistics(TASK, 3, slice={"min_trust": 0.0}) == stats
