"""query() and the read methods, against the embedded repository and through the client.

docs/repository.md §7 (every parameter, condition filters §7.2, objective filter
§7.3, sorting §7.4, limit §7.5), §8 (get_positive_for_skill /
get_negative_for_skill), §6.5 (get, empty tasks). Expected answers are computed
in this file by brute force over the stored lines parsed with `json`, never by
asking the code under test a second way.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib

import pytest

try:
    from .conftest import STORE, copy_fixture, make_pack
except ImportError:  # tests/ not a package
    from conftest import STORE, copy_fixture, make_pack
from datapack_client import DataPackMeta
from datapack_client.errors import InvalidArgumentError, NotFoundError

TASK = "drawer_vase"
FIXTURE = "drawer_vase_datapacks.jsonl"

# --------------------------------------------------------------------------- brute-force reference (spec text)

_STR_ATTRS = {"task_name": "drawer_vase", "engine_type": "pybullet", "world_id": "pyb_drawer_v1",
              "lighting_profile": "normal", "econ_preset": "drawer_vase"}
_NUM_ATTRS = {"drawer_friction": 0.3, "occlusion_level": 0.0, "price_per_unit": 5.0, "vase_break_cost": 50.0,
              "energy_price_kWh": 0.12}
_VEC_ATTRS = {"vase_offset": [0.0, 0.0, 0.0], "objective_vector": [1.0, 1.0, 1.0, 0.5]}


def _is_num(v):
    return type(v) in (int, float)


def _num(v, default):
    return v if _is_num(v) else default


def _str(v, default):
    return v if type(v) is str else default


def _obj(v):
    return v if type(v) is dict else {}


def r_cond(d):
    return _obj(d.get("condition"))


def r_attr(d):
    return _obj(d.get("attribution"))


def r_skill_ids(d):
    trace = d.get("skill_trace")
    if type(trace) is not list:
        return []
    return [e["skill_id"] for e in trace if type(e) is dict and type(e.get("skill_id")) is int and e["skill_id"] >= 0]


def r_trust(d):
    return _num(r_attr(d).get("trust_score"), 0.0)


def r_dj(d):
    return _num(r_attr(d).get("delta_J"), 0.0)


def r_mvd(d):
    v = r_attr(d).get("mvd_score")
    return v if _is_num(v) else None


def r_has_sima(d):
    s = d.get("sima_annotation")
    return type(s) is dict and len(s) > 0


def _vec4(v):
    if type(v) is list and len(v) in (3, 4) and all(_is_num(x) for x in v):
        return [float(x) for x in v] + ([0.5] if len(v) == 3 else [])
    return None


def cosine(p, q):
    p4, q4 = _vec4(list(p)), _vec4(list(q))
    dot = sum(a * b for a, b in zip(p4, q4))
    return dot / (math.sqrt(sum(a * a for a in p4)) * math.sqrt(sum(b * b for b in q4)) + 1e-8)


def _scalar_eq(a, b):
    if type(a) is bool or type(b) is bool:
        return type(a) is bool and type(b) is bool and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if type(b) in (list, tuple):
        return type(a) is list and len(a) == len(b) and all(_is_num(x) and x == y for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def r_cond_entry(d, key, value):
    cond = r_cond(d)
    tags = _obj(cond.get("tags"))
    if key.startswith("tags."):
        name = key[5:]
        return name in tags and _scalar_eq(tags[name], value)
    if key in _STR_ATTRS:
        return _str(cond.get(key), _STR_ATTRS[key]) == value
    if key in _NUM_ATTRS:
        return _num(cond.get(key), _NUM_ATTRS[key]) == value
    if key in _VEC_ATTRS:
        v = cond.get(key, _VEC_ATTRS[key])
        ok = type(v) is list and all(_is_num(x) for x in v) and (key != "vase_offset" or len(v) == 3)
        v = v if ok else _VEC_ATTRS[key]
        return len(v) == len(value) and all(x == y for x, y in zip(v, value))
    for suffix in ("_min", "_max"):
        stem = key[: -len(suffix)]
        if key.endswith(suffix) and stem in _NUM_ATTRS:
            x = _num(cond.get(stem), _NUM_ATTRS[stem])
            return x >= value if suffix == "_min" else x <= value
    assert type(value) is bool, (key, value)
    if key in tags:
        return _scalar_eq(tags[key], value)
    sem = d.get("semantic_tags")
    sem = sem if type(sem) is list else []
    return (key in sem) == value


def r_match(d, bucket=None, engine_type=None, skill_id=None, min_trust=0.0, min_delta_j=None, max_delta_j=None,
            min_mvd_score=None, source_type=None, objective_vector=None, objective_similarity_threshold=0.9,
            condition_filters=None, include_sima=False, include_counterfactual=False):
    if bucket is not None and d.get("bucket") != bucket:
        return False
    if engine_type is not None and _str(r_cond(d).get("engine_type"), "pybullet") != engine_type:
        return False
    if skill_id is not None and skill_id not in r_skill_ids(d):
        return False
    if not r_trust(d) >= min_trust:
        return False
    if min_delta_j is not None and not r_dj(d) >= min_delta_j:
        return False
    if max_delta_j is not None and not r_dj(d) <= max_delta_j:
        return False
    if min_mvd_score is not None and (r_mvd(d) is None or not r_mvd(d) >= min_mvd_score):
        return False
    if source_type is not None and _str(r_attr(d).get("source_type"), "real") != source_type:
        return False
    if objective_vector is not None:
        p = r_cond(d).get("objective_vector", [1.0, 1.0, 1.0, 0.5])
        if _vec4(p) is None or not cosine(p, objective_vector) >= objective_similarity_threshold:
            return False
    for k, v in (condition_filters or {}).items():
        if not r_cond_entry(d, k, v):
            return False
    if include_sima and not r_has_sima(d):
        return False
    if include_counterfactual and d.get("bucket") == "negative" and d.get("counterfactual_plan") is None:
        return False
    return True


def r_key(d, sort_by):
    if sort_by == "delta_j":
        return r_dj(d)
    if sort_by == "trust_score":
        return r_trust(d)
    if sort_by == "mvd_score":
        m = r_mvd(d)
        return 0.0 if m is None else m
    return d["created_at"]


def r_query(lines, sort_by=None, sort_descending=True, limit="unset", **filters):
    hits = [d for d in lines if r_match(d, **filters)]
    if sort_by is not None:
        nan = [d for d in hits if type(r_key(d, sort_by)) is float and math.isnan(r_key(d, sort_by))]
        rest = [d for d in hits if not any(d is x for x in nan)]
        # Python's sort is stable in both directions (reverse=True keeps ties in order).
        hits = sorted(rest, key=lambda d: r_key(d, sort_by), reverse=sort_descending) + nan
    if limit == "unset":
        limit = 100
    if limit is not None:
        hits = hits[:limit]
    return [d["pack_id"] for d in hits]


def ids(packs):
    return [p.pack_id for p in packs]


# --------------------------------------------------------------------------- datasets

def task_path(data_root, task=TASK):
    return pathlib.Path(data_root) / STORE / f"{task}_datapacks.jsonl"


def read_lines(path):
    return [json.loads(x) for x in pathlib.Path(path).read_text().splitlines() if x.strip()]


def qp(pid, dj=1.0, trust=0.95, skills=(0, 1, 3), engine="pybullet", source="real", mvd=None, ov=None,
       semtags=(), ctags=None, sima=False, created="2025-01-01T00:00:00.000000+00:00", **cond) -> DataPackMeta:
    p = make_pack(pid, delta_j=dj, trust=trust, skills=skills, semantic_tags=list(semtags), created_at=created)
    p.attribution.delta_J = dj
    p.attribution.trust_score = trust
    p.condition.engine_type = engine
    p.attribution.source_type = source
    p.attribution.mvd_score = mvd
    if ov is not None:
        p.condition.objective_vector = ov
    p.condition.tags = ctags or {}
    for k, v in cond.items():
        setattr(p.condition, k, v)
    if sima:
        p.sima_annotation = {"instruction": "open the drawer", "step_narrations": ["a"], "narration_count": 1}
    return p


def handmade() -> list[DataPackMeta]:
    """Varied valid packs (append order = list order)."""
    return [
        qp("q00", 1.0, 0.95, (0, 1, 3), semtags=["offset_vase"], ctags={"task": "drawer_vase"}, sima=True,
           created="2025-01-05T00:00:00.000000+00:00"),
        qp("q01", -2.0, 0.92, (2, 4), "isaac", "synthetic", 0.5, [1.0, 1.0, 1.0],
           semtags=["offset_vase", "vase_collision"], ctags={"task": "drawer_vase", "offset_vase": False},
           created="2025-01-03T00:00:00.000000+00:00"),
        qp("q02", 3.5, -0.1, (5,), "ue5", "hybrid", 2.0, [1, 1, 0, 0.5], ctags={"offset_vase": True},
           lighting_profile="low_light", drawer_friction=0.5, occlusion_level=0.2,
           created="2025-01-05T00:00:00.000000+00:00"),
        qp("q03", 0.0, 0.0, (0,), mvd=-1.0, ov=[1, 0, 0, 0.5], ctags={"lighting_profile": "low_light", "fragile": True},
           drawer_friction=0.45, occlusion_level=0.35, created="2025-01-01T00:00:00"),
        qp("q04", -0.5, 1.3, (3, 3, 1), "ue5", mvd=0.0, ov=[0, 0, 0, 0], semtags=["fragile"],
           ctags={"fragile": False, "level": 2}, sima=True, drawer_friction=1, occlusion_level=0.3,
           vase_offset=(0.1, 0.0, 0.0), created="2025-01-02T00:00:00.000000+00:00"),
        qp("q05", 10.0, 0.9, (1, 2), "isaac", "synthetic", ov=[1, 1, 1, 0.5, 0.0], semtags=["fragile", "low_light"],
           ctags={"fragile": "yes", "level": 2.0, "flag": True}, created="2025-01-04T00:00:00.000000+00:00"),
        qp("q06", -7.25, 0.99, (0, 5), source="hybrid", mvd=7.0, ov=[-1, -1, -1, -0.5],
           ctags={"flag": 1, "task": "dishwashing"}, lighting_profile="high_contrast", occlusion_level=0.1,
           created="2025-01-06T00:00:00.000000+00:00"),
        qp("q07", 2.0, 0.5, (4,), mvd=1.0, ov=[2, 2, 2, 1], semtags=["high_friction"], drawer_friction=0.8,
           world_id="isaac_drawer_v2", econ_preset="toy", price_per_unit=7.5, vase_break_cost=20.0,
           energy_price_kWh=0.2, created="2025-01-06T00:00:00.000000+00:00"),
        qp("q08", 0, 1, (0,), mvd=3, sima=True, created="2024-12-31T23:59:59.999999+00:00"),
        qp("q09", -0.25, 0.91, (1, 0), "isaac", mvd=0.25, ctags={"level": True}, semtags=["level"],
           created="2025-01-07T00:00:00.000000+00:00"),
        qp("q10", 5.0, 0.9, (2,), "ue5", "real", 5.0, [1, 1, 1], lighting_profile="low_light",
           created="2025-01-07T00:00:00.000000+00:00"),
        qp("q11", -1.0, 0.89, (0, 2, 4), source="synthetic", semtags=["offset_vase"],
           created="2025-01-08T00:00:00.000000+00:00"),
    ]


def quirk_lines() -> list[dict]:
    """Stored records that break append invariants or hold wrongly typed values
    (written by hand into the file; they must be served and counted)."""
    base = qp("k", 1.0, 0.95, (1,)).to_dict()

    def k(pid, **changes):
        d = json.loads(json.dumps(base))
        d["pack_id"] = pid
        for path, v in changes.items():
            o = d
            *parents, last = path.split("__")
            for name in parents:
                o = o[name]
            o[last] = v
        return d

    return [
        k("k00", attribution__trust_score=None),
        k("k01", attribution__delta_J=math.nan),
        k("k02", bucket="negative", attribution__delta_J=-1.0, counterfactual_plan=None),
        k("k03", bucket="negative", attribution__delta_J=-2.0, counterfactual_plan={}),
        k("k04", sima_annotation={}),
        k("k05", skill_trace=[]),
        k("k06", attribution__mvd_score="high", attribution__trust_score=2),
        k("k07", condition__objective_vector="abc"),
        k("k08", skill_trace=[{"t": 0, "skill_id": "3"}, {"t": 1, "skill_id": 2}, {"t": 2, "skill_id": True}]),
        k("k09", bucket="neutral", attribution__delta_J=math.nan, attribution__trust_score=-0.5),
        k("k10", bucket="negative", attribution__delta_J=-3.0,
          counterfactual_plan={"skills": [1], "source": "hrl_teacher"}, sima_annotation={"instruction": "x"}),
        k("k11", condition="broken", attribution__source_type=None),
    ]


def write_lines(path: pathlib.Path, dicts: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        for d in dicts:
            fh.write(json.dumps(d) + "\n")


@pytest.fixture
def loaded(repo, data_root):
    """The handmade packs appended to drawer_vase, the quirks written to task 'quirks'."""
    repo.append_batch(handmade())
    write_lines(task_path(data_root, "quirks"), quirk_lines())
    return {TASK: read_lines(task_path(data_root)), "quirks": read_lines(task_path(data_root, "quirks"))}


# --------------------------------------------------------------------------- every parameter, brute force

QUERY_CASES = [
    {}, {"limit": None},
    {"bucket": "positive"}, {"bucket": "negative"},
    {"engine_type": "pybullet"}, {"engine_type": "isaac"}, {"engine_type": "ue5"},
    *({"skill_id": s} for s in range(7)),
    {"min_trust": -1.0}, {"min_trust": 0.0}, {"min_trust": 0.9}, {"min_trust": 0.95}, {"min_trust": 1.0},
    {"min_trust": 1.3}, {"min_trust": 2}, {"min_trust": -0.5},
    {"min_delta_j": -2.0}, {"min_delta_j": 0.0}, {"min_delta_j": 3.5}, {"max_delta_j": -0.5}, {"max_delta_j": 0.0},
    {"max_delta_j": 2.0}, {"min_delta_j": 0, "max_delta_j": 2}, {"min_delta_j": -1e9},
    {"min_mvd_score": -1.0}, {"min_mvd_score": 0.0}, {"min_mvd_score": 1.0}, {"min_mvd_score": 7.0},
    {"min_mvd_score": -1e9},
    {"source_type": "real"}, {"source_type": "synthetic"}, {"source_type": "hybrid"},
    {"objective_vector": [1, 1, 1, 0.5]}, {"objective_vector": [1, 1, 1]}, {"objective_vector": [2, 2, 2, 1]},
    {"objective_vector": [1, 1, 1], "objective_similarity_threshold": 0.8},
    {"objective_vector": [1, 1, 1], "objective_similarity_threshold": 0.62},
    {"objective_vector": [1, 1, 1], "objective_similarity_threshold": 0.0},
    {"objective_vector": [1, 1, 1], "objective_similarity_threshold": -1.0},
    {"objective_vector": [1, 1, 1], "objective_similarity_threshold": 1.0},
    {"objective_vector": [1, 0, 0, 0.5], "objective_similarity_threshold": 0.99},
    {"objective_vector": [0, 0, 1]},
    {"condition_filters": {}}, {"condition_filters": {"offset_vase": True}}, {"condition_filters": {"offset_vase": False}},
    {"condition_filters": {"fragile": True}}, {"condition_filters": {"fragile": False}},
    {"condition_filters": {"level": True}}, {"condition_filters": {"tags.level": 2}},
    {"condition_filters": {"tags.flag": True}}, {"condition_filters": {"tags.flag": 1}},
    {"condition_filters": {"tags.task": "drawer_vase"}}, {"condition_filters": {"lighting_profile": "low_light"}},
    {"condition_filters": {"drawer_friction_min": 0.4, "occlusion_level_max": 0.3}},
    {"condition_filters": {"drawer_friction": 1.0}}, {"condition_filters": {"vase_offset": [0.1, 0, 0]}},
    {"condition_filters": {"objective_vector": [1, 1, 1]}}, {"condition_filters": {"world_id": "isaac_drawer_v2"}},
    {"condition_filters": {"engine_type": "ue5"}}, {"condition_filters": {"price_per_unit_min": 6}},
    {"include_sima": True}, {"include_sima": False}, {"include_counterfactual": True},
    {"bucket": "positive", "skill_id": 0, "min_trust": 0.9, "sort_by": "delta_j"},
    {"bucket": "negative", "include_counterfactual": True, "sort_by": "delta_j", "sort_descending": False},
    *({"sort_by": s, "sort_descending": d} for s in ("delta_j", "trust_score", "mvd_score", "created_at")
      for d in (True, False)),
    {"sort_by": "delta_j", "limit": 3}, {"sort_by": "trust_score", "sort_descending": False, "limit": 2},
    {"min_trust": -1, "sort_by": "mvd_score", "limit": None}, {"min_trust": -1, "limit": 4},
]


def _case_id(kw):
    return json.dumps(kw, sort_keys=True)[:80]


@pytest.mark.parametrize("kw", QUERY_CASES, ids=[_case_id(k) for k in QUERY_CASES])
def test_query_parameters_match_brute_force(repo, loaded, kw):
    for task, lines in loaded.items():
        expected = r_query(lines, **kw)
        got = repo.query(task, **kw)
        assert ids(got) == expected, (task, kw)
        assert all(type(p) is DataPackMeta for p in got)


def test_fixture_queries_match_brute_force(repo, data_root):
    copy_fixture(data_root, FIXTURE)
    lines = read_lines(task_path(data_root))
    cases = [
        {}, {"limit": None}, {"bucket": "positive", "limit": None}, {"bucket": "negative", "limit": None},
        {"engine_type": "isaac", "limit": None}, {"engine_type": "ue5", "sort_by": "trust_score"},
        *({"skill_id": s, "limit": None} for s in range(7)),
        {"min_trust": 0.9, "limit": None}, {"min_trust": 1.0, "sort_by": "trust_score", "limit": None},
        {"min_delta_j": 0.0, "max_delta_j": 5.0, "limit": None}, {"min_mvd_score": 0.0, "limit": None},
        {"min_mvd_score": -100.0, "sort_by": "mvd_score", "sort_descending": False, "limit": None},
        {"source_type": "synthetic", "limit": None}, {"source_type": "hybrid", "limit": None},
        {"objective_vector": [1, 1, 1, 0.5], "limit": None},
        {"objective_vector": [1, 1, 1], "objective_similarity_threshold": 0.99, "limit": None},
        {"objective_vector": [1, 0.5, 0.2, 0.5], "objective_similarity_threshold": 0.95, "limit": None},
        {"condition_filters": {"offset_vase": True}, "limit": None},
        {"condition_filters": {"vase_collision": False, "drawer_friction_min": 0.4}, "limit": None},
        {"condition_filters": {"lighting_profile": "low_light"}, "limit": None},
        {"condition_filters": {"tags.task": "drawer_vase"}, "limit": None},
        {"condition_filters": {"occlusion_level_max": 0.3, "task_complete": True}, "limit": None},
        {"include_sima": True, "limit": None}, {"include_counterfactual": True, "limit": None},
        {"bucket": "negative", "include_counterfactual": True, "sort_by": "delta_j", "sort_descending": False},
        {"bucket": "positive", "skill_id": 3, "min_trust": 0.9, "sort_by": "delta_j", "limit": 100},
        *({"sort_by": s, "sort_descending": d, "limit": None} for s in ("delta_j", "trust_score", "mvd_score",
                                                                       "created_at") for d in (True, False)),
        {"sort_by": "delta_j", "limit": 7}, {"sort_by": "created_at"}, {"sort_by": "mvd_score", "limit": 50},
    ]
    mismatches = []
    for kw in cases:
        want = r_query(lines, **kw)
        try:
            got = ids(repo.query(TASK, **kw))
        except Exception as exc:  # report every failing case, not only the first
            mismatches.append((kw, repr(exc)[:120]))
            continue
        if got != want:
            mismatches.append((kw, len(got), len(want)))
    assert not mismatches
    assert len(r_query(lines, skill_id=3, min_trust=-1e300, limit=None)) == 436  # README count: the reference is right


# --------------------------------------------------------------------------- hand-checked spec examples

def test_skill_id_zero_is_a_filter(repo, loaded):
    assert ids(repo.query(TASK, skill_id=0, limit=None)) == ["q00", "q03", "q06", "q08", "q09", "q11"]
    assert ids(repo.query(TASK, skill_id=5, limit=None)) == ["q06"]  # q02 (skill 5) has trust -0.1
    assert ids(repo.query(TASK, skill_id=5, min_trust=-1, limit=None)) == ["q02", "q06"]
    assert repo.query(TASK, skill_id=6) == []


def test_min_trust_default_excludes_negative_trust(repo, loaded):
    default = ids(repo.query(TASK, limit=None))
    assert "q02" not in default           # trust -0.1
    assert "q03" in default               # trust 0.0 >= 0.0
    assert "q02" in ids(repo.query(TASK, min_trust=-0.1, limit=None))
    assert "q02" not in ids(repo.query(TASK, min_trust=-0.09, limit=None))
    quirks = ids(repo.query("quirks", limit=None))
    assert "k00" in quirks                # null trust counts as 0.0
    assert "k09" not in quirks            # trust -0.5
    assert "k00" not in ids(repo.query("quirks", min_trust=0.01, limit=None))
    assert "k06" in ids(repo.query("quirks", min_trust=2, limit=None))  # int 2


def test_min_mvd_score_never_matches_null(repo, loaded):
    got = ids(repo.query(TASK, min_mvd_score=-1e300, limit=None))
    assert got == ["q01", "q03", "q04", "q06", "q07", "q08", "q09", "q10"]  # q02 has trust -0.1
    assert ids(repo.query(TASK, min_mvd_score=0.0, min_trust=-1, limit=None)) == [
        "q01", "q02", "q04", "q06", "q07", "q08", "q09", "q10"]
    assert ids(repo.query("quirks", min_mvd_score=-1e300, min_trust=-10, limit=None)) == []


def test_delta_j_bounds_inclusive_and_nan_fails(repo, loaded):
    assert ids(repo.query(TASK, min_delta_j=2.0, max_delta_j=5.0, limit=None)) == ["q07", "q10"]
    assert ids(repo.query(TASK, min_delta_j=0.0, max_delta_j=0.0, limit=None)) == ["q03", "q08"]
    got = ids(repo.query("quirks", min_delta_j=-1e300, min_trust=-10, limit=None))
    assert "k01" not in got and "k09" not in got and "k00" in got
    got = ids(repo.query("quirks", max_delta_j=1e300, min_trust=-10, limit=None))
    assert "k01" not in got and "k09" not in got


def test_objective_filter_examples_of_7_3(repo):
    q = [1, 1, 1, 0.5]
    assert abs(cosine([1.0, 1.0, 1.0], q) - 0.99999999692) < 1e-10
    assert abs(cosine([1, 1, 0, 0.5], q) - 0.8320502913) < 1e-10
    assert abs(cosine([1, 0, 0, 0.5], q) - 0.6201736699) < 1e-10
    repo.append_batch([qp("o-3", ov=[1.0, 1.0, 1.0]), qp("o-110", ov=[1, 1, 0, 0.5]), qp("o-100", ov=[1, 0, 0, 0.5]),
                       qp("o-zero", ov=[0, 0, 0, 0]), qp("o-five", ov=[1, 1, 1, 0.5, 0]),
                       qp("o-two", ov=[1, 1]), qp("o-neg", ov=[-1, -1, -1, -0.5])])
    for qv in ([1, 1, 1, 0.5], [1.0, 1.0, 1.0], [2, 2, 2, 1]):
        assert ids(repo.query(TASK, objective_vector=qv)) == ["o-3"]
        assert ids(repo.query(TASK, objective_vector=qv, objective_similarity_threshold=0.9)) == ["o-3"]
        assert ids(repo.query(TASK, objective_vector=qv, objective_similarity_threshold=0.8)) == ["o-3", "o-110"]
        assert ids(repo.query(TASK, objective_vector=qv, objective_similarity_threshold=0.62)) == [
            "o-3", "o-110", "o-100"]
        assert ids(repo.query(TASK, objective_vector=qv, objective_similarity_threshold=0.6202)) == [
            "o-3", "o-110"]
        # A zero pack vector has similarity 0; wrong lengths never match.
        assert ids(repo.query(TASK, objective_vector=qv, objective_similarity_threshold=0.0)) == [
            "o-3", "o-110", "o-100", "o-zero"]
        assert ids(repo.query(TASK, objective_vector=qv, objective_similarity_threshold=0.01)) == [
            "o-3", "o-110", "o-100"]
        assert ids(repo.query(TASK, objective_vector=qv, objective_similarity_threshold=-1.0)) == [
            "o-3", "o-110", "o-100", "o-zero", "o-neg"]
        assert ids(repo.query(TASK, objective_vector=qv, objective_similarity_threshold=-0.99)) == [
            "o-3", "o-110", "o-100", "o-zero"]


# Condition-filter dataset: (pid, semantic tags, condition.tags, condition attributes)
CF_PACKS = [
    ("c0", ["offset_vase"], {"task": "drawer_vase", "level": 2}, dict(lighting_profile="low_light",
                                                                       drawer_friction=0.5, occlusion_level=0.2,
                                                                       price_per_unit=7.5)),
    ("c1", ["offset_vase"], {"offset_vase": False, "task": "dishwashing", "level": 2.0},
     dict(drawer_friction=0.4, occlusion_level=0.3, engine_type="isaac")),
    ("c2", [], {"offset_vase": True, "lighting_profile": "low_light", "level": True},
     dict(drawer_friction=0.3, vase_offset=(0.1, 0.0, 0.0))),
    ("c3", ["fragile"], {"level": "2"}, dict(lighting_profile="low_light", drawer_friction=0.45,
                                             occlusion_level=0.31, vase_break_cost=20.0,
                                             objective_vector=[1.0, 1.0, 1.0])),
    ("c4", ["fragile"], {"fragile": False}, dict(drawer_friction=1, occlusion_level=0.1, energy_price_kWh=0.2)),
    ("c5", [], {"fragile": True, "task": "drawer_vase"}, dict(drawer_friction=0.39, world_id="isaac_v1")),
    ("c6", [], {"fragile": "yes"}, dict(drawer_friction=0.4, occlusion_level=0.5, econ_preset="toy")),
]

CF_EXPECTED = [
    ({"offset_vase": True}, ["c0", "c2"]),
    ({"offset_vase": False}, ["c1", "c3", "c4", "c5", "c6"]),
    ({"lighting_profile": "low_light"}, ["c0", "c3"]),
    ({"drawer_friction_min": 0.4, "occlusion_level_max": 0.3}, ["c0", "c1", "c4"]),
    ({"tags.task": "drawer_vase"}, ["c0", "c5"]),
    ({"fragile": True}, ["c3", "c5"]),
    ({"fragile": False}, ["c0", "c1", "c2", "c4"]),
    ({"tags.fragile": "yes"}, ["c6"]),
    ({"tags.fragile": True}, ["c5"]),
    ({"tags.offset_vase": False}, ["c1"]),
    ({"tags.lighting_profile": "low_light"}, ["c2"]),
    ({"tags.level": 2}, ["c0", "c1"]),
    ({"tags.level": 2.0}, ["c0", "c1"]),
    ({"tags.level": True}, ["c2"]),
    ({"tags.level": 1}, []),
    ({"tags.level": "2"}, ["c3"]),
    ({"tags.missing": "x"}, []),
    ({"level": True}, ["c2"]),
    ({"level": False}, ["c4", "c5", "c6"]),
    ({"drawer_friction": 0.4}, ["c1", "c6"]),
    ({"drawer_friction": 1.0}, ["c4"]),
    ({"drawer_friction": 1}, ["c4"]),
    ({"vase_offset": [0.1, 0.0, 0.0]}, ["c2"]),
    ({"vase_offset": [0, 0, 0]}, ["c0", "c1", "c3", "c4", "c5", "c6"]),
    ({"objective_vector": [1.0, 1.0, 1.0]}, ["c3"]),
    ({"objective_vector": [1, 1, 1, 0.5]}, ["c0", "c1", "c2", "c4", "c5", "c6"]),
    ({"task_name": "drawer_vase"}, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]),
    ({"world_id": "isaac_v1"}, ["c5"]),
    ({"econ_preset": "toy"}, ["c6"]),
    ({"engine_type": "isaac"}, ["c1"]),
    ({"price_per_unit": 7.5}, ["c0"]),
    ({"price_per_unit_min": 6}, ["c0"]),
    ({"vase_break_cost_max": 20}, ["c3"]),
    ({"energy_price_kWh": 0.2}, ["c4"]),
    ({"occlusion_level": 0.5}, ["c6"]),
    ({"occlusion_level_min": 0.31}, ["c3", "c6"]),
    ({"offset_vase": True, "lighting_profile": "low_light"}, ["c0"]),
    ({"foo_min": True}, []),           # not a number attribute: falls through to a flag
    ({"foo_max": False}, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]),
    ({}, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]),
]


@pytest.fixture
def cf_loaded(repo):
    packs = []
    for pid, sem, ctags, attrs in CF_PACKS:
        packs.append(qp(pid, semtags=sem, ctags=ctags, **attrs))
    repo.append_batch(packs)
    return repo


@pytest.mark.parametrize("filters,expected", CF_EXPECTED, ids=[_case_id(f) for f, _ in CF_EXPECTED])
def test_condition_filter_examples(cf_loaded, data_root, filters, expected):
    assert ids(cf_loaded.query(TASK, condition_filters=filters)) == expected
    # the brute-force reference agrees with the hand-written expectation
    assert r_query(read_lines(task_path(data_root)), condition_filters=filters) == expected


INVALID_FILTERS = [
    {"lighting_profil": "low_light"}, {"task": "drawer_vase"}, {"foo_min": 1}, {"drawer_friction": "high"},
    {"tags": {}}, {"tags": True}, {"drawer_friction_min": True}, {"drawer_friction": True}, {"lighting_profile": 3},
    {"lighting_profile": True}, {"vase_offset": "x"}, {"vase_offset": [0, "a", 0]}, {"objective_vector": 1.0},
    {"tags.": 1}, {"offset_vase": "yes"}, {"offset_vase": 1}, {"tags.x": {"a": 1}}, {"tags.x": None},
    {"x": None}, {"drawer_friction_min": "0.4"}, {"drawer_friction_max": [1]}, {"occlusion_level_max": None},
    {"offset_vase": True, "lighting_profil": "low_light"},
]


@pytest.mark.parametrize("filters", INVALID_FILTERS, ids=[_case_id(f) for f in INVALID_FILTERS])
def test_invalid_condition_filters(repo, filters, data_root):
    repo.append(qp("cf-any"))
    with pytest.raises(InvalidArgumentError) as ei:
        repo.query(TASK, condition_filters=filters)
    err = ei.value
    assert err.code == "INVALID_ARGUMENT"
    assert err.reason == "CONDITION_FILTER_INVALID"
    bad_key = [k for k in filters if k != "offset_vase" or len(filters) == 1][-1]
    assert bad_key in err.message
    with pytest.raises(InvalidArgumentError) as ei:
        repo.get_positive_for_skill(TASK, 0, condition_filters=filters)
    assert ei.value.reason == "CONDITION_FILTER_INVALID"


def test_include_sima_and_counterfactual(repo, loaded):
    assert ids(repo.query(TASK, include_sima=True, limit=None)) == ["q00", "q04", "q08"]
    # sima {} is no annotation; {"instruction": "x"} is one
    assert ids(repo.query("quirks", include_sima=True, min_trust=-10, limit=None)) == ["k10"]
    got = ids(repo.query("quirks", include_counterfactual=True, min_trust=-10, limit=None))
    assert "k02" not in got                       # negative without a plan
    assert "k03" in got                           # {} counts as present
    assert "k10" in got and "k00" in got          # negative with plan, positive unaffected
    assert "k02" in ids(repo.query("quirks", include_counterfactual=False, min_trust=-10, limit=None))


def test_wrongly_typed_stored_values_use_defaults(repo, loaded):
    # k11: condition is a string -> engine pybullet, default objective vector, default attrs.
    assert "k11" in ids(repo.query("quirks", engine_type="pybullet", limit=None))
    assert "k11" in ids(repo.query("quirks", source_type="real", limit=None))
    assert "k11" in ids(repo.query("quirks", condition_filters={"drawer_friction": 0.3}, limit=None))
    # k07: objective vector "abc" never matches; k11 (default 4-vector) does.
    got = ids(repo.query("quirks", objective_vector=[1, 1, 1, 0.5], limit=None))
    assert "k07" not in got and "k11" in got
    # k08: only the valid skill id 2 counts; "3" and True are not skill ids.
    assert "k08" in ids(repo.query("quirks", skill_id=2, limit=None))
    assert "k08" not in ids(repo.query("quirks", skill_id=3, limit=None))
    assert "k08" not in ids(repo.query("quirks", skill_id=1, limit=None))
    # k05: empty trace never matches a skill.
    assert all("k05" not in ids(repo.query("quirks", skill_id=s, limit=None)) for s in range(6))
    # k09: bucket "neutral" matches neither bucket.
    assert "k09" not in ids(repo.query("quirks", bucket="positive", min_trust=-1, limit=None))
    assert "k09" not in ids(repo.query("quirks", bucket="negative", min_trust=-1, limit=None))
    # The record is served as stored.
    k11 = repo.get("quirks", "k11")
    assert k11.to_dict()["condition"] == "broken"
    assert k11.to_dict()["attribution"]["source_type"] is None


# --------------------------------------------------------------------------- argument validation

ARG_ERRORS = [
    ({"bucket": "pos"}, "ARGUMENT_INVALID"), ({"bucket": "Positive"}, "ARGUMENT_INVALID"),
    ({"bucket": 1}, "ARGUMENT_INVALID"), ({"bucket": ""}, "ARGUMENT_INVALID"),
    ({"engine_type": "bullet"}, "ARGUMENT_INVALID"), ({"engine_type": "Isaac"}, "ARGUMENT_INVALID"),
    ({"source_type": "simulated"}, "ARGUMENT_INVALID"), ({"source_type": 0}, "ARGUMENT_INVALID"),
    ({"skill_id": -1}, "ARGUMENT_INVALID"), ({"skill_id": True}, "ARGUMENT_INVALID"),
    ({"skill_id": 1.0}, "ARGUMENT_INVALID"), ({"skill_id": "1"}, "ARGUMENT_INVALID"),
    ({"min_trust": math.nan}, "ARGUMENT_INVALID"), ({"min_trust": math.inf}, "ARGUMENT_INVALID"),
    ({"min_trust": "0.5"}, "ARGUMENT_INVALID"), ({"min_trust": None}, "ARGUMENT_INVALID"),
    ({"min_trust": True}, "ARGUMENT_INVALID"),
    ({"min_delta_j": math.nan}, "ARGUMENT_INVALID"), ({"min_delta_j": "1"}, "ARGUMENT_INVALID"),
    ({"max_delta_j": math.inf}, "ARGUMENT_INVALID"), ({"max_delta_j": -math.inf}, "ARGUMENT_INVALID"),
    ({"min_mvd_score": math.nan}, "ARGUMENT_INVALID"), ({"min_mvd_score": "x"}, "ARGUMENT_INVALID"),
    ({"objective_vector": [1, 1]}, "ARGUMENT_INVALID"), ({"objective_vector": [1, 1, 1, 1, 1]}, "ARGUMENT_INVALID"),
    ({"objective_vector": [0, 0, 0]}, "ARGUMENT_INVALID"), ({"objective_vector": [0, 0, 0, 0]}, "ARGUMENT_INVALID"),
    ({"objective_vector": [1, math.nan, 1]}, "ARGUMENT_INVALID"),
    ({"objective_vector": [1, math.inf, 1, 1]}, "ARGUMENT_INVALID"),
    ({"objective_vector": "abc"}, "ARGUMENT_INVALID"), ({"objective_vector": [1, "a", 1]}, "ARGUMENT_INVALID"),
    ({"objective_vector": []}, "ARGUMENT_INVALID"),
    ({"objective_vector": [1, 1, 1], "objective_similarity_threshold": 1.5}, "ARGUMENT_INVALID"),
    ({"objective_vector": [1, 1, 1], "objective_similarity_threshold": -1.01}, "ARGUMENT_INVALID"),
    ({"objective_vector": [1, 1, 1], "objective_similarity_threshold": math.nan}, "ARGUMENT_INVALID"),
    ({"objective_vector": [1, 1, 1], "objective_similarity_threshold": "0.9"}, "ARGUMENT_INVALID"),
    ({"include_sima": "yes"}, "ARGUMENT_INVALID"), ({"include_sima": 1}, "ARGUMENT_INVALID"),
    ({"include_sima": None}, "ARGUMENT_INVALID"), ({"include_counterfactual": "no"}, "ARGUMENT_INVALID"),
    ({"include_counterfactual": 0}, "ARGUMENT_INVALID"),
    ({"limit": 0}, "LIMIT_INVALID"), ({"limit": -1}, "LIMIT_INVALID"), ({"limit": True}, "LIMIT_INVALID"),
    ({"limit": False}, "LIMIT_INVALID"), ({"limit": 1.5}, "LIMIT_INVALID"), ({"limit": 5.0}, "LIMIT_INVALID"),
    ({"limit": "5"}, "LIMIT_INVALID"),
    ({"sort_by": "delta"}, "SORT_BY_INVALID"), ({"sort_by": ""}, "SORT_BY_INVALID"),
    ({"sort_by": "DELTA_J"}, "SORT_BY_INVALID"), ({"sort_by": "delta_J"}, "SORT_BY_INVALID"),
    ({"sort_by": 1}, "SORT_BY_INVALID"), ({"sort_by": "pack_id"}, "SORT_BY_INVALID"),
    ({"condition_filters": {"task": "drawer_vase"}}, "CONDITION_FILTER_INVALID"),
]


@pytest.mark.parametrize("kw,reason", ARG_ERRORS, ids=[_case_id(k) for k, _ in ARG_ERRORS])
def test_query_argument_errors(repo, kw, reason):
    repo.append(qp("arg-any"))
    with pytest.raises(InvalidArgumentError) as ei:
        repo.query(TASK, **kw)
    err = ei.value
    assert err.code == "INVALID_ARGUMENT"
    assert err.reason == reason
    assert err.message


@pytest.mark.parametrize("name", ["a/b", "", "../etc", "a..b", "x" * 129, "drawer vase", None, 3])
def test_query_task_name_errors(repo, name):
    with pytest.raises(InvalidArgumentError) as ei:
        repo.query(name)
    assert ei.value.reason == "TASK_NAME_INVALID"
    with pytest.raises(InvalidArgumentError) as ei:
        repo.get(name, "x")
    assert ei.value.reason == "TASK_NAME_INVALID"


# --------------------------------------------------------------------------- sorting

def test_stable_descending_example_of_7_4(repo):
    keys = [1, 2, 1, 2, 1]
    packs = []
    for i, k in enumerate(keys):
        p = qp(f"p{i}", dj=float(k), trust=0.9 + k / 100, mvd=float(k), created=f"2025-01-0{k}T00:00:00.000000+00:00")
        packs.append(p)
    repo.append_batch(packs)
    for sort_by in ("delta_j", "trust_score", "mvd_score", "created_at"):
        assert ids(repo.query(TASK, sort_by=sort_by)) == ["p1", "p3", "p0", "p2", "p4"], sort_by
        assert ids(repo.query(TASK, sort_by=sort_by, sort_descending=True)) == ["p1", "p3", "p0", "p2", "p4"]
        assert ids(repo.query(TASK, sort_by=sort_by, sort_descending=False)) == ["p0", "p2", "p4", "p1", "p3"]
        assert ids(repo.query(TASK, sort_by=sort_by, limit=3)) == ["p1", "p3", "p0"]
    assert ids(repo.query(TASK, sort_by=None)) == ["p0", "p1", "p2", "p3", "p4"]
    assert ids(repo.query(TASK, sort_by=None, sort_descending=False)) == ["p0", "p1", "p2", "p3", "p4"]


def test_mvd_sort_treats_null_as_zero(repo):
    repo.append_batch([qp("m0", mvd=None), qp("m1", mvd=0.5), qp("m2", mvd=-0.5), qp("m3", mvd=0.0),
                       qp("m4", mvd=None)])
    assert ids(repo.query(TASK, sort_by="mvd_score")) == ["m1", "m0", "m3", "m4", "m2"]
    assert ids(repo.query(TASK, sort_by="mvd_score", sort_descending=False)) == ["m2", "m0", "m3", "m4", "m1"]


def test_nan_keys_sort_last_in_both_directions(repo, data_root):
    base = qp("n", 1.0).to_dict()
    rows = []
    for pid, dj in (("n0", 1.0), ("n1", math.nan), ("n2", -1.0), ("n3", math.nan), ("n4", 0.5)):
        d = json.loads(json.dumps(base))
        d["pack_id"] = pid
        d["attribution"]["delta_J"] = dj
        rows.append(d)
    write_lines(task_path(data_root), rows)
    assert ids(repo.query(TASK, sort_by="delta_j")) == ["n0", "n4", "n2", "n1", "n3"]
    assert ids(repo.query(TASK, sort_by="delta_j", sort_descending=False)) == ["n2", "n4", "n0", "n1", "n3"]
    assert ids(repo.query(TASK, sort_by="delta_j", limit=4)) == ["n0", "n4", "n2", "n1"]
    assert ids(repo.query(TASK, sort_by="delta_j", sort_descending=False, limit=2)) == ["n2", "n4"]


def test_created_at_sort_compares_strings(repo):
    stamps = ["2025-06-01T12:00:00.000000+00:00", "2025-06-01T12:00:00", "2025-06-01T12:00:00.5",
              "1970-01-01T00:00:00.000007+00:00", "2025-06-01T12:00:00.000000+00:00", "2024-12-31T23:59:59.999999"]
    repo.append_batch([qp(f"t{i}", created=s) for i, s in enumerate(stamps)])
    order_desc = sorted(range(len(stamps)), key=lambda i: stamps[i], reverse=True)
    order_asc = sorted(range(len(stamps)), key=lambda i: stamps[i])
    assert ids(repo.query(TASK, sort_by="created_at")) == [f"t{i}" for i in order_desc]
    assert ids(repo.query(TASK, sort_by="created_at", sort_descending=False)) == [f"t{i}" for i in order_asc]
    assert ids(repo.query(TASK, sort_by="created_at", sort_descending=False))[:2] == ["t3", "t5"]


def test_sort_before_limit_with_ties(repo, data_root):
    repo.append_batch([qp(f"s{i:02d}", dj=float(i % 4), trust=0.9 + (i % 3) / 100) for i in range(40)])
    lines = read_lines(task_path(data_root))
    for kw in ({"sort_by": "delta_j", "limit": 5}, {"sort_by": "delta_j", "limit": 12},
               {"sort_by": "delta_j", "sort_descending": False, "limit": 3},
               {"sort_by": "trust_score", "limit": 7}, {"sort_by": "trust_score", "sort_descending": False, "limit": 1},
               {"sort_by": "delta_j", "limit": 40}, {"sort_by": "delta_j", "limit": 1000}):
        assert ids(repo.query(TASK, **kw)) == r_query(lines, **kw), kw
    assert ids(repo.query(TASK, sort_by="delta_j", limit=5)) == ["s03", "s07", "s11", "s15", "s19"]


# --------------------------------------------------------------------------- limit

def test_limit_rules_on_fixture(repo, data_root):
    copy_fixture(data_root, FIXTURE)
    file_ids = [d["pack_id"] for d in read_lines(task_path(data_root))]
    assert len(file_ids) == 600
    assert ids(repo.query(TASK)) == file_ids[:100]
    assert ids(repo.query(TASK, limit=5)) == file_ids[:5]
    assert ids(repo.query(TASK, limit=1)) == file_ids[:1]
    assert ids(repo.query(TASK, limit=None)) == file_ids
    assert ids(repo.query(TASK, limit=600)) == file_ids
    assert ids(repo.query(TASK, limit=10_000)) == file_ids
    assert ids(repo.load_all(TASK)) == file_ids
    assert ids(list(repo.iter_all(TASK))) == file_ids
    for bad in (0, -1, True, -600):
        with pytest.raises(InvalidArgumentError) as ei:
            repo.query(TASK, limit=bad)
        assert ei.value.reason == "LIMIT_INVALID"


# --------------------------------------------------------------------------- §8 skill helpers

def test_positive_and_negative_for_skill_on_fixture(repo, data_root):
    copy_fixture(data_root, FIXTURE)
    lines = read_lines(task_path(data_root))
    for s in range(7):
        pos = r_query(lines, bucket="positive", skill_id=s, min_trust=0.9, sort_by="delta_j", sort_descending=True,
                      limit=10)
        neg = r_query(lines, bucket="negative", skill_id=s, min_trust=0.9, include_counterfactual=True,
                      sort_by="delta_j", sort_descending=False, limit=10)
        neg_any = r_query(lines, bucket="negative", skill_id=s, min_trust=0.9, sort_by="delta_j",
                          sort_descending=False, limit=None)
        assert ids(repo.get_positive_for_skill(TASK, s)) == pos, s
        assert ids(repo.get_negative_for_skill(TASK, s)) == neg, s
        assert ids(repo.get_negative_for_skill(TASK, s, require_counterfactual=False, top_k=None)) == neg_any, s
        assert ids(repo.get_positive_for_skill(TASK, s, top_k=3)) == pos[:3]
    assert len(ids(repo.get_positive_for_skill(TASK, 3))) == 10
    all_pos = r_query(lines, bucket="positive", skill_id=3, min_trust=0.9, sort_by="delta_j", limit=None)
    assert len(all_pos) > 10
    assert ids(repo.get_positive_for_skill(TASK, 3, top_k=None)) == all_pos
    kw = dict(objective_vector=[1, 1, 1, 0.5], condition_filters={"vase_collision": False})
    assert ids(repo.get_positive_for_skill(TASK, 1, top_k=50, **kw)) == r_query(
        lines, bucket="positive", skill_id=1, min_trust=0.9, sort_by="delta_j", limit=50, **kw)
    assert ids(repo.get_negative_for_skill(TASK, 1, top_k=50, **kw)) == r_query(
        lines, bucket="negative", skill_id=1, min_trust=0.9, include_counterfactual=True, sort_by="delta_j",
        sort_descending=False, limit=50, **kw)


def test_skill_helpers_on_handmade_and_quirks(repo, loaded):
    # drawer_vase positives with skill 0 and trust >= 0.9: q00 (ΔJ 1.0), q08 (ΔJ 0, trust 1)
    assert ids(repo.get_positive_for_skill(TASK, 0)) == ["q00", "q08"]
    # negatives with skill 0, trust >= 0.9: q06 (-7.25), q09 (-0.25); q11 has trust 0.89
    assert ids(repo.get_negative_for_skill(TASK, 0)) == ["q06", "q09"]
    # quirks: k02 (negative, no plan, skill 1) only without require_counterfactual
    assert ids(repo.get_negative_for_skill("quirks", 1)) == ["k10", "k03"]
    assert ids(repo.get_negative_for_skill("quirks", 1, require_counterfactual=False)) == ["k10", "k03", "k02"]


@pytest.mark.parametrize("kw,reason", [
    ({"skill_id": -1}, "ARGUMENT_INVALID"), ({"skill_id": True}, "ARGUMENT_INVALID"),
    ({"skill_id": None}, "ARGUMENT_INVALID"), ({"skill_id": 2.0}, "ARGUMENT_INVALID"),
    ({"skill_id": 1, "top_k": 0}, "LIMIT_INVALID"), ({"skill_id": 1, "top_k": -1}, "LIMIT_INVALID"),
    ({"skill_id": 1, "top_k": 2.5}, "LIMIT_INVALID"),
    ({"skill_id": 1, "objective_vector": [0, 0, 0]}, "ARGUMENT_INVALID"),
    ({"skill_id": 1, "condition_filters": {"foo_min": 1}}, "CONDITION_FILTER_INVALID"),
])
def test_skill_helper_argument_errors(repo, kw, reason):
    for fn in (repo.get_positive_for_skill, repo.get_negative_for_skill):
        with pytest.raises(InvalidArgumentError) as ei:
            fn(TASK, **kw)
        assert ei.value.reason == reason


# --------------------------------------------------------------------------- get, empty tasks

def test_get_known_and_unknown(repo, data_root):
    p = qp("g-1")
    repo.append(p)
    got = repo.get(TASK, "g-1")
    assert got.to_dict() == p.to_dict() and got.revision == 1
    for task, pid in ((TASK, "nope"), (TASK, "G-1")):
        with pytest.raises(NotFoundError) as ei:
            repo.get(task, pid)
        err = ei.value
        assert err.code == "NOT_FOUND"
        assert err.reason == "PACK_NOT_FOUND"
    # A task without a file: the task is what is missing (issue 13).
    for task, pid in (("dishwashing", "g-1"), ("no_file_task", "x")):
        with pytest.raises(NotFoundError) as ei:
            repo.get(task, pid)
        assert ei.value.reason == "TASK_NOT_FOUND"
        assert [v.field for v in ei.value.violations] == ["task_name"]


def test_task_without_file_is_not_found_and_creates_nothing(repo, data_root):
    """Issue 13: a read of a task without a file raises NOT_FOUND / TASK_NOT_FOUND
    (no longer an empty result), on the task_name field, and creates nothing."""
    root = data_root.parent

    def tree():
        out = {}
        for dp, dn, fn in os.walk(root):
            for n in dn + fn:
                p = os.path.join(dp, n)
                out[p] = hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.isfile(p) else "dir"
        return out

    def not_found(read):
        with pytest.raises(NotFoundError) as ei:
            read()
        assert ei.value.reason == "TASK_NOT_FOUND" and [v.field for v in ei.value.violations] == ["task_name"]
        return ei.value.message

    before = tree()
    not_found(lambda: repo.query("dishwashing"))
    not_found(lambda: repo.query("dishwashing", bucket="positive", sort_by="delta_j", limit=None))
    not_found(lambda: repo.load_all("dishwashing"))
    not_found(lambda: list(repo.iter_all("dishwashing")))
    not_found(lambda: repo.get_positive_for_skill("dishwashing", 0))
    not_found(lambda: repo.get_negative_for_skill("dishwashing", 0))
    assert "there are no tasks yet" in not_found(lambda: repo.get_statistics("dishwashing"))
    assert repo.list_tasks() == []
    assert tree() == before
    # A task with a file elsewhere in the store does not leak into others.
    repo.append(qp("only-dv"))
    assert f"(tasks: {TASK!r})" in not_found(lambda: repo.query("dishwashing"))
    assert repo.list_tasks() == [TASK]


def test_list_tasks_sorted_and_only_valid_task_files(repo, data_root):
    for t in ("zeta", "alpha", "test.v2", "Beta"):
        repo.append(make_pack(f"lt-{t}", task_name=t))
    store = data_root / STORE
    (store / "notes.txt").write_text("x")
    (store / "bad name_datapacks.jsonl").write_text("")
    (store / "dir_datapacks.jsonl").mkdir()
    assert repo.list_tasks() == sorted(["zeta", "alpha", "test.v2", "Beta"])


# --------------------------------------------------------------------------- side-by-side parity (§11.3)

def _attr_types(p):
    return (type(p.attribution.delta_J), type(p.attribution.trust_score), type(p.condition.vase_offset),
            type(p.condition.drawer_friction), type(p.revision), [type(k) for k in p.attribution.skill_contribs or {}])


def test_embedded_and_client_return_identical_results(data_root, client):
    """One store read by an embedded repository and by the client of a server:
    same records (strict JSON equality), same order, same Python types, same errors."""
    from datapack_server import DataPackRepo
    copy_fixture(data_root, FIXTURE)
    emb = DataPackRepo(str(data_root / STORE))
    try:
        queries = [{}, {"limit": None}, {"bucket": "negative", "sort_by": "delta_j", "limit": 20},
                   {"skill_id": 0, "min_trust": 0.9, "sort_by": "trust_score", "sort_descending": False},
                   {"objective_vector": [1, 1, 1], "condition_filters": {"offset_vase": True}, "limit": None},
                   {"sort_by": "created_at", "limit": 30}, {"include_sima": True, "sort_by": "mvd_score"}]
        for kw in queries:
            a, b = emb.query(TASK, **kw), client.query(TASK, **kw)
            assert ids(a) == ids(b), kw
            for x, y in zip(a, b):
                assert x.to_json() == y.to_json()
                assert _attr_types(x) == _attr_types(y)
        a, b = emb.get_statistics(TASK), client.get_statistics(TASK)
        assert a == b and list(a) == list(b)
        assert [type(v) for v in a.values()] == [type(v) for v in b.values()]
        assert ids(emb.get_positive_for_skill(TASK, 2)) == ids(client.get_positive_for_skill(TASK, 2))
        assert ids(emb.get_negative_for_skill(TASK, 2)) == ids(client.get_negative_for_skill(TASK, 2))
        assert emb.list_tasks() == client.list_tasks() == [TASK]
        bad_calls = [dict(limit=0), dict(sort_by="delta"), dict(condition_filters={"tags": {}}),
                     dict(bucket="pos"), dict(objective_vector=[0, 0, 0])]
        for kw in bad_calls:
            errs = []
            for r in (emb, client):
                with pytest.raises(InvalidArgumentError) as ei:
                    r.query(TASK, **kw)
                errs.append(ei.value)
            x, y = errs
            assert (type(x), x.code, x.reason, x.message, x.violations) == (
                type(y), y.code, y.reason, y.message, y.violations), kw
        errs = []
        for r in (emb, client):
            with pytest.raises(NotFoundError) as ei:
                r.get(TASK, "no-such-pack")
            errs.append(ei.value)
        assert (errs[0].code, errs[0].reason, errs[0].violations) == (errs[1].code, errs[1].reason,
                                                                       errs[1].violations)
    finally:
        emb.close()
