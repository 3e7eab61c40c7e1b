"""get_statistics (docs/repository.md §9), against the embedded repository and through the client.

Expected values are computed here by brute force over the stored lines parsed
with `json` (or given by the spec / the fixture README).
"""
from __future__ import annotations

import json
import math
import pathlib

import pytest

from datapack_client.errors import NotFoundError

try:
    from .conftest import STORE, copy_fixture, make_pack
    from .test_parity_query import r_cond, r_attr, r_dj, r_has_sima, r_match, r_skill_ids, r_trust
except ImportError:  # tests/ not a package
    from conftest import STORE, copy_fixture, make_pack
    from test_parity_query import r_cond, r_attr, r_dj, r_has_sima, r_match, r_skill_ids, r_trust

TASK = "drawer_vase"
KEYS = ["total", "positive", "negative", "positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min",
        "delta_j_max", "trust_mean", "trust_std", "unique_skills", "engine_types", "source_types", "with_sima",
        "with_counterfactual"]
FLOAT_KEYS = ["positive_ratio", "delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max", "trust_mean",
              "trust_std"]
INT_KEYS = ["total", "positive", "negative", "with_sima", "with_counterfactual"]
EMPTY = {"total": 0, "positive": 0, "negative": 0}


def task_path(data_root, task=TASK):
    return pathlib.Path(data_root) / STORE / f"{task}_datapacks.jsonl"


def read_lines(path):
    return [json.loads(x) for x in pathlib.Path(path).read_text().splitlines() if x.strip()]


def write_lines(path, dicts):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        for d in dicts:
            fh.write(json.dumps(d) + "\n")


def r_stats(lines):
    """docs/repository.md §9 by brute force over parsed lines (current revisions, no duplicates here)."""
    n = len(lines)
    if n == 0:
        return dict(EMPTY)
    dj = [float(r_dj(d)) for d in lines]
    tr = [float(r_trust(d)) for d in lines]

    def mean(xs):
        return math.fsum(xs) / len(xs)

    def pstd(xs):
        m = mean(xs)
        return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / len(xs))

    def first_seen_counts(values):
        out = {}
        for v in values:
            out[v] = out.get(v, 0) + 1
        return out

    pos = sum(1 for d in lines if d.get("bucket") == "positive")
    neg = sum(1 for d in lines if d.get("bucket") == "negative")
    eng = [r_cond(d).get("engine_type") for d in lines]
    src = [r_attr(d).get("source_type") for d in lines]
    return {
        "total": n, "positive": pos, "negative": neg, "positive_ratio": pos / n,
        "delta_j_mean": mean(dj), "delta_j_std": pstd(dj), "delta_j_min": min(dj), "delta_j_max": max(dj),
        "trust_mean": mean(tr), "trust_std": pstd(tr),
        "unique_skills": sorted({s for d in lines for s in r_skill_ids(d)}),
        "engine_types": first_seen_counts(e if type(e) is str else "pybullet" for e in eng),
        "source_types": first_seen_counts(s if type(s) is str else "real" for s in src),
        "with_sima": sum(1 for d in lines if r_has_sima(d)),
        "with_counterfactual": sum(1 for d in lines if d.get("bucket") == "negative"
                                   and d.get("counterfactual_plan") is not None),
    }


def assert_types(st):
    assert list(st) == KEYS, list(st)
    for k in INT_KEYS:
        assert type(st[k]) is int, (k, type(st[k]))
    for k in FLOAT_KEYS:
        assert type(st[k]) is float, (k, type(st[k]))
    assert type(st["unique_skills"]) is list and all(type(s) is int for s in st["unique_skills"])
    for k in ("engine_types", "source_types"):
        assert type(st[k]) is dict
        assert all(type(n) is str and type(c) is int for n, c in st[k].items())


def assert_stats_equal(got, want, tol=1e-9):
    assert_types(got)
    assert list(got) == list(want)
    for k in KEYS:
        g, w = got[k], want[k]
        if k in FLOAT_KEYS:
            if math.isnan(w):
                assert math.isnan(g), (k, g)
            else:
                assert abs(g - w) <= tol * max(1.0, abs(w)), (k, g, w)
        elif k in ("engine_types", "source_types"):
            assert list(g.items()) == list(w.items()), (k, g, w)  # values and first-appearance order
        else:
            assert g == w, (k, g, w)


# --------------------------------------------------------------------------- worked example

def test_worked_example_of_section_9(repo):
    djs, buckets, trusts = [1.0, -0.5, 0.0, 2.5], ["positive", "negative", "positive", "positive"], [0.9, 0.8, 1.0, 0.7]
    packs = []
    for i, (dj, b, t) in enumerate(zip(djs, buckets, trusts)):
        p = make_pack(f"w{i}", delta_j=dj, trust=t, skills=(3, 1))
        assert p.bucket == b
        packs.append(p)
    repo.append_batch(packs)
    st = repo.get_statistics(TASK)
    assert_types(st)
    assert (st["total"], st["positive"], st["negative"]) == (4, 3, 1)
    expected = {"positive_ratio": 0.75, "delta_j_mean": 0.75, "delta_j_std": 1.14564392373896,
                "delta_j_min": -0.5, "delta_j_max": 2.5, "trust_mean": 0.85, "trust_std": 0.111803398874990}
    for k, v in expected.items():
        assert abs(st[k] - v) <= 1e-12, (k, st[k], v)
    assert st["unique_skills"] == [1, 3]
    assert st["engine_types"] == {"pybullet": 4}
    assert st["source_types"] == {"real": 4}
    assert st["with_sima"] == 0
    assert st["with_counterfactual"] == 1


def test_empty_task_exact_shape(repo, data_root):
    # A task whose file exists but holds no packs exists: its statistics are the empty shape.
    (data_root / STORE / f"{TASK}_datapacks.jsonl").touch()
    st = repo.get_statistics(TASK)
    assert st == EMPTY
    assert list(st) == ["total", "positive", "negative"]
    assert all(type(v) is int for v in st.values())
    repo.append(make_pack("only-positive"))
    st = repo.get_statistics(TASK, bucket="negative")
    assert st == EMPTY and list(st) == ["total", "positive", "negative"]
    assert all(type(v) is int for v in st.values())
    # A task without a file does not exist (issue 13): NOT_FOUND, no longer the empty shape.
    for task in ("no_such_task", "other_task"):
        with pytest.raises(NotFoundError) as ei:
            repo.get_statistics(task)
        assert ei.value.reason == "TASK_NOT_FOUND"


# --------------------------------------------------------------------------- keys, ordering, types

def test_unique_skills_sorted_and_valid_only(repo, data_root):
    repo.append_batch([make_pack("u0", skills=(5, 3, 3)), make_pack("u1", skills=(4, 1)),
                       make_pack("u2", skills=(0,)), make_pack("u3", skills=(12, 3))])
    base = make_pack("u-base").to_dict()
    bad = json.loads(json.dumps(base))
    bad["pack_id"] = "u-bad"
    bad["skill_trace"] = [{"t": 0, "skill_id": "7"}, {"t": 1, "skill_id": True}, {"t": 2, "skill_id": -2},
                          {"t": 3, "skill_id": 2.0}, {"t": 4, "skill_id": 9}]
    write_lines(task_path(data_root), [bad])
    st = repo.get_statistics(TASK)
    assert st["unique_skills"] == [0, 1, 3, 4, 5, 9, 12]
    assert st["total"] == 5


def test_engine_and_source_types_in_order_of_first_appearance(repo):
    def p(pid, engine, source):
        x = make_pack(pid)
        x.condition.engine_type = engine
        x.attribution.source_type = source
        return x

    repo.append_batch([p("e0", "ue5", "hybrid"), p("e1", "pybullet", "real"), p("e2", "ue5", "hybrid")])
    repo.append(p("e3", "isaac", "synthetic"))
    repo.append_batch([p("e4", "pybullet", "real"), p("e5", "isaac", "real")])
    st = repo.get_statistics(TASK)
    assert list(st["engine_types"].items()) == [("ue5", 2), ("pybullet", 2), ("isaac", 2)]
    assert list(st["source_types"].items()) == [("hybrid", 2), ("real", 3), ("synthetic", 1)]
    # over a slice, the order is the order of first appearance within the slice
    st = repo.get_statistics(TASK, source_type="real")
    assert list(st["engine_types"].items()) == [("pybullet", 2), ("isaac", 1)]
    assert list(st["source_types"].items()) == [("real", 3)]


def test_all_floats_plain_even_for_integer_values(repo):
    ps = []
    for i, dj in enumerate([2, 0, 5]):  # integer ΔJ and trust literals
        p = make_pack(f"i{i}")
        p.attribution.delta_J = dj
        p.attribution.trust_score = 1
        ps.append(p)
    repo.append_batch(ps)
    st = repo.get_statistics(TASK)
    assert_types(st)
    assert st["positive_ratio"] == 1.0
    assert (st["delta_j_min"], st["delta_j_max"], st["trust_mean"], st["trust_std"]) == (0.0, 5.0, 1.0, 0.0)
    assert abs(st["delta_j_mean"] - 7 / 3) < 1e-12


def test_with_sima_with_counterfactual_and_lenient_values(repo, data_root):
    base = make_pack("x").to_dict()

    def line(pid, **changes):
        d = json.loads(json.dumps(base))
        d["pack_id"] = pid
        for path, v in changes.items():
            o = d
            *parents, last = path.split("__")
            for name in parents:
                o = o[name]
            o[last] = v
        return d

    plan = {"skills": [0, 1], "source": "scripted_teacher"}
    rows = [
        line("s0", sima_annotation={"instruction": "open"}),                                   # sima
        line("s1", sima_annotation={}),                                                         # {} is none
        line("s2", bucket="negative", attribution__delta_J=-1.0, counterfactual_plan=plan,
             sima_annotation={"instruction": "x", "step_narrations": ["a"]}),                  # sima + cf
        line("s3", bucket="negative", attribution__delta_J=-2.0, counterfactual_plan={}),      # {} is non-null
        line("s4", bucket="negative", attribution__delta_J=-3.0, counterfactual_plan=None),    # no cf
        line("s5", counterfactual_plan=plan),                                                   # positive: not counted
        line("s6", attribution__trust_score=None),                                               # null trust -> 0.0
        line("s7", bucket="neutral", attribution__trust_score="high"),                         # neither bucket
        line("s8", condition="broken", attribution__source_type=None),                         # defaults
    ]
    write_lines(task_path(data_root), rows)
    st = repo.get_statistics(TASK)
    assert_types(st)
    assert (st["total"], st["positive"], st["negative"]) == (9, 5, 3)
    assert st["with_sima"] == 2
    assert st["with_counterfactual"] == 2
    assert st["positive_ratio"] == 5 / 9
    trusts = [0.95] * 6 + [0.0, 0.0, 0.95]
    assert abs(st["trust_mean"] - sum(trusts) / 9) < 1e-12
    assert list(st["engine_types"].items()) == [("pybullet", 9)]
    assert list(st["source_types"].items()) == [("real", 9)]
    assert_stats_equal(st, r_stats(read_lines(task_path(data_root))), tol=1e-12)


def test_stored_nan_delta_j_makes_delta_j_stats_nan(repo, data_root):
    repo.append_batch([make_pack("f0", delta_j=1.0), make_pack("f1", delta_j=-2.0)])
    d = make_pack("f-nan").to_dict()
    d["attribution"]["delta_J"] = math.nan
    write_lines(task_path(data_root), [d])
    st = repo.get_statistics(TASK)
    assert_types(st)
    for k in ("delta_j_mean", "delta_j_std", "delta_j_min", "delta_j_max"):
        assert math.isnan(st[k]), (k, st[k])
    assert not math.isnan(st["trust_mean"])
    # a slice without the NaN pack is finite again
    st = repo.get_statistics(TASK, bucket="negative")
    assert st["delta_j_min"] == st["delta_j_max"] == st["delta_j_mean"] == -2.0


# --------------------------------------------------------------------------- slices and fixtures

SLICES = [
    {"bucket": "positive"}, {"bucket": "negative"}, {"engine_type": "isaac"}, {"engine_type": "ue5"},
    {"skill_id": 3}, {"skill_id": 0}, {"min_trust": 0.9}, {"source_type": "synthetic"}, {"source_type": "hybrid"},
    {"include_sima": True}, {"include_counterfactual": True}, {"condition_filters": {"offset_vase": True}},
    {"min_delta_j": 0.0, "max_delta_j": 10.0}, {"min_mvd_score": 0.0},
    {"objective_vector": [1, 1, 1, 0.5]}, {"bucket": "negative", "skill_id": 2, "min_trust": 0.5},
]


@pytest.mark.parametrize("fixture_name,task", [("drawer_vase_datapacks.jsonl", "drawer_vase"),
                                               ("dishwashing_datapacks.jsonl", "dishwashing")])
def test_statistics_over_slices_equal_brute_force(repo, data_root, fixture_name, task):
    copy_fixture(data_root, fixture_name)
    lines = read_lines(task_path(data_root, task))
    assert_stats_equal(repo.get_statistics(task), r_stats(lines))
    for kw in SLICES:
        subset = [d for d in lines if r_match(d, **kw)]
        got = repo.get_statistics(task, **kw)
        if not subset:
            assert got == EMPTY, kw
        else:
            assert_stats_equal(got, r_stats(subset))


def test_drawer_vase_fixture_counts_of_readme(repo, data_root):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    st = repo.get_statistics(TASK)
    assert_types(st)
    assert (st["total"], st["positive"], st["negative"]) == (600, 270, 330)
    assert st["positive_ratio"] == 0.45
    assert st["engine_types"] == {"pybullet": 354, "isaac": 108, "ue5": 138}
    assert st["source_types"] == {"real": 586, "synthetic": 9, "hybrid": 5}
    lines = read_lines(task_path(data_root))
    first_engines = list(dict.fromkeys(d["condition"]["engine_type"] for d in lines))
    first_sources = list(dict.fromkeys(d["attribution"]["source_type"] for d in lines))
    assert list(st["engine_types"]) == first_engines
    assert list(st["source_types"]) == first_sources
    assert st["with_sima"] == 177
    assert st["with_counterfactual"] == 160
    assert st["unique_skills"] == [0, 1, 2, 3, 4, 5]
    assert repo.get_statistics(TASK, bucket="negative", include_counterfactual=True)["total"] == 160


def test_dishwashing_fixture_counts_of_readme(repo, data_root):
    copy_fixture(data_root, "dishwashing_datapacks.jsonl")
    st = repo.get_statistics("dishwashing")
    assert_types(st)
    assert (st["total"], st["positive"], st["negative"]) == (100, 72, 28)
    assert st["engine_types"] == {"pybullet": 71, "isaac": 19, "ue5": 10}
    assert st["source_types"] == {"real": 100}
    assert st["with_sima"] == 3
    assert st["with_counterfactual"] == 0


def test_statistics_argument_errors(repo):
    from datapack_client.errors import InvalidArgumentError
    for kw, reason in (({"bucket": "pos"}, "ARGUMENT_INVALID"), ({"skill_id": -1}, "ARGUMENT_INVALID"),
                       ({"condition_filters": {"task": "x"}}, "CONDITION_FILTER_INVALID")):
        with pytest.raises(InvalidArgumentError) as ei:
            repo.get_statistics(TASK, **kw)
        assert ei.value.reason == reason
    with pytest.raises(InvalidArgumentError) as ei:
        repo.get_statistics("a/b")
    assert ei.value.reason == "TASK_NAME_INVALID"
