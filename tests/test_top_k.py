"""The top-k scan (query/top_k.py) returns exactly what a full evaluation
returns: same packs, same order (ties in append order, NaN last), with rows
appended after its permutation was cached and after revisions."""
from __future__ import annotations

import itertools
import random

import pytest

try:
    from .conftest import STORE, make_pack
except ImportError:  # tests/ not a package
    from conftest import STORE, make_pack
from datapack_client.records.query import make_query
from datapack_server import DataPackRepo
from datapack_server.query import top_k
from datapack_server.query.filters import match
from datapack_server.query.ordering import order

TASK = "drawer_vase"
FILTERS = [{}, {"bucket": "positive"}, {"skill_id": 3, "min_trust": 0.9}, {"engine_type": "isaac", "min_delta_j": 0.5},
           {"source_type": "synthetic"}, {"include_sima": True}, {"condition_filters": {"drawer_friction_min": 0.4}},
           {"bucket": "negative", "skill_id": 5, "engine_type": "ue5"}]  # the last one matches almost nothing


def _packs(rng: random.Random, n: int, start: int) -> list:
    out = []
    for i in range(start, start + n):
        p = make_pack(f"k{i:05d}", delta_j=rng.choice([-2.0, -0.5, 0.0, 0.5, 1.0, 3.0]),  # many ties
                      trust=rng.choice([0.5, 0.9, 0.95, 1.0]), skills=rng.sample(range(6), rng.randint(1, 4)))
        p.condition.engine_type = rng.choice(["pybullet", "isaac", "ue5"])
        p.condition.drawer_friction = rng.choice([0.1, 0.4, 0.7])
        p.attribution.source_type = rng.choice(["real", "synthetic", "hybrid"])
        if rng.random() < 0.3:
            p.attribution.mvd_score = rng.choice([0.1, 0.2])
        if rng.random() < 0.2:
            p.sima_annotation = {"instruction": "open the drawer"}
        p.created_at = f"2026-01-{1 + i % 28:02d}T00:00:00+00:00"
        out.append(p)
    return out


def _check_all(repo: DataPackRepo) -> int:
    checked = 0
    with repo._service._stores.reading("", TASK) as st:
        ix = st.index
        for filters, sort_by, desc, limit in itertools.product(
                FILTERS, [None, "delta_j", "trust_score", "mvd_score", "created_at"], [True, False], [1, 7, 100, 900]):
            q = make_query(sort_by=sort_by, sort_descending=desc, limit=limit, **filters)
            want = order(ix, match(ix, q.filter), sort_by, desc, limit)
            got = top_k.first_matches(ix, q.filter, sort_by, desc, limit)
            assert got.tolist() == want.tolist(), (filters, sort_by, desc, limit)
            checked += 1
    return checked


@pytest.fixture
def small_scans(monkeypatch):
    monkeypatch.setattr(top_k, "SCAN_MIN_ROWS", 0)
    monkeypatch.setattr(top_k, "_FIRST_CHUNK", 64)


def test_the_scan_equals_a_full_evaluation_through_appends_and_revisions(data_root, small_scans):
    rng = random.Random(7)
    repo = DataPackRepo(str(data_root / STORE), create=True)
    repo.append_batch(_packs(rng, 2000, 0))
    assert _check_all(repo) > 300
    repo.append_batch(_packs(rng, 60, 2000))  # a tail the cached permutations do not cover
    _check_all(repo)
    repo.update_training_usage(TASK, [f"k{i:05d}" for i in range(0, 2000, 97)], wm_role="wm_eval")
    _check_all(repo)
    repo.append_batch(_packs(rng, 400, 2060))  # a tail long enough to rebuild them
    _check_all(repo)
    repo.close()


def test_queries_through_the_repository_use_the_scan_with_the_same_results(repo, small_scans):
    rng = random.Random(11)
    repo.append_batch(_packs(rng, 500, 0))
    for filters in FILTERS:
        q = dict(filters, sort_by="delta_j", limit=50)
        every = repo.query(TASK, **dict(q, limit=None))
        assert [dp.pack_id for dp in repo.query(TASK, **q)] == [dp.pack_id for dp in every[:50]]
