"""SkillDataPackAdapter (docs/adapter.md): every analysis on generated and hand-made
stores, compared with answers computed here by brute force over the records
written to the store (plain Python over the JSON dicts, never via the code under
test), plus the spec's worked examples, the seed's Typical Workflows 2-4,
slices, the reference fixture, and argument errors.

The repository comes from the `open_repo` / `repo` fixtures below (embedded
here). A remote variant only has to replace `open_repo` (a server over
`data_root`, a client per store name; `skill_catalogues` goes to the server's
configuration): every test writes its data as task files under `data_root` or
appends through the repository API.
"""
from __future__ import annotations

import json
import math
import pathlib
import random

import pytest

from datapack_client import DataPackMeta, InvalidArgumentError, SkillDataPackAdapter, SkillID, SkillValueMatrix
from datapack_client.errors import NotFoundError
from datapack_server import DataPackRepo

try:
    from .aio_bridge import AsyncClientBridge
    from .conftest import STORE, copy_fixture
except ImportError:  # tests/ not a package
    from aio_bridge import AsyncClientBridge
    from conftest import STORE, copy_fixture

TASK = "drawer_vase"
CATALOGUE = {0: "LOCATE_DRAWER", 1: "LOCATE_VASE", 2: "PLAN_SAFE_APPROACH", 3: "GRASP_HANDLE",
             4: "OPEN_WITH_CLEARANCE", 5: "RETRACT_SAFE"}
COLUMNS = ["normal", "offset_vase", "high_friction", "low_light", "partial_occlusion"]
CREATED = "2025-06-01T12:00:00.000000+00:00"


# =========================================================================== fixtures

@pytest.fixture(params=["embedded", "remote", "remote_async"])
def open_repo(request, data_root):
    """open_repo(store=STORE, skill_catalogues=None) -> a repository on <data_root>/<store>:
    the embedded DataPackRepo, or a client (or the asyncio client behind
    aio_bridge.py) of a real server on that data root."""
    opened = []

    def _open(store: str = STORE, skill_catalogues=None):
        if request.param == "embedded":
            r = DataPackRepo(str(data_root / store), fsync=False, skill_catalogues=skill_catalogues, create=True)
            opened.append(r.close)
            return r
        from datapack_client import connect
        from datapack_server.api.app import ServerConfig, build_server
        running = build_server(ServerConfig(data_dir=str(data_root), port=0, fsync=False,
                                            skill_catalogues=skill_catalogues, exclusive=False))
        open_client = connect if request.param == "remote" else AsyncClientBridge
        c = open_client(f"127.0.0.1:{running.port}", store=store, timeout=60)
        opened.append(lambda: (c.close(), running.stop(0)))
        return c

    yield _open
    for close in opened:
        close()


@pytest.fixture
def repo(open_repo):
    return open_repo()


@pytest.fixture
def adapter(repo):
    return SkillDataPackAdapter(repo)


# =========================================================================== writing stores

def record(pid: str, task: str = TASK, **fields) -> dict:
    """A complete record dict (schema order) with a fixed created_at."""
    return DataPackMeta(pack_id=pid, task_name=task, created_at=CREATED, **fields).to_dict()


def assert_task_not_found(call) -> None:
    """An analysis of a task without a file: NOT_FOUND / TASK_NOT_FOUND on task_name (issue 13)."""
    with pytest.raises(NotFoundError) as ei:
        call()
    assert ei.value.reason == "TASK_NOT_FOUND" and [v.field for v in ei.value.violations] == ["task_name"]


def write_task(data_root, recs, task: str = TASK, store: str = STORE) -> None:
    """Append records as stored lines (like a store written by the earlier library)."""
    path = pathlib.Path(data_root) / store / f"{task}_datapacks.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        for d in recs:
            fh.write(json.dumps(d) + "\n")


def pack(pid, dj, skills=(3,), trust=0.95, bucket=None, tags=(), offset=(0.0, 0.0, 0.0), friction=0.3,
         light="normal", occlusion=0.0, cf=True, engine="pybullet", task=TASK, **attribution) -> dict:
    """A hand-made record; negatives get a counterfactual plan unless cf=False."""
    bucket = bucket or ("positive" if dj >= 0 else "negative")
    d = record(pid, task)
    d["bucket"] = bucket
    d["semantic_tags"] = list(tags)
    d["skill_trace"] = [{"t": 10 * i, "skill_id": s, "params": {"i": i}, "duration": 5 + i}
                        for i, s in enumerate(skills)]
    c = d["condition"]
    c.update(engine_type=engine, vase_offset=list(offset), drawer_friction=friction, lighting_profile=light,
             occlusion_level=occlusion)
    d["attribution"].update(delta_J=dj, trust_score=trust, **attribution)
    if bucket == "negative" and cf:
        d["counterfactual_plan"] = {"skills": [0, 1, 2, 3, 4, 5], "source": "scripted_teacher"}
        d["counterfactual_source"] = "scripted_teacher"
    return d


LIMBS = ("shoulder", "forearm", "wrist")
ENERGY_SKILLS = ("grasp", "open", "retract")
ETAGS = ("energy_driver:a", "energy_driver:b", "energy_driver:c")
SEM = ("offset_vase", "high_friction", "low_light", "partial_occlusion", "fragile", "task_complete")


def generate(n: int = 300, seed: int = 7, task: str = TASK) -> list[dict]:
    """A varied, deterministic store: ΔJ multiples of 0.25 (exact sums, so ties
    are exact in any summation order), trust around 0.8/0.9 and outside [0, 1],
    repeated skills, an id outside the catalogue (7), invalid trace entries,
    empty traces, an unknown bucket string, negatives with and without plans,
    condition.tags flags, several env types, energy breakdowns, skill_contribs."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        dj = rng.choice([-3.0, -1.5, -0.5, 0.0, 0.5, 1.0, 2.0, 2.0, 4.0]) if rng.random() < 0.6 \
            else rng.randint(-40, 40) / 4
        bucket = "positive" if dj >= 0 else "negative"
        if i % 41 == 5:
            bucket = "archived"  # neither positive nor negative
        d = record(f"g-{i:04d}", task)
        d["bucket"] = bucket
        d["env_type"] = rng.choice(["drawer_vase", "drawer_vase_b", "kitchen"])
        d["semantic_tags"] = rng.sample(SEM, rng.randint(0, 3))
        d["energy_driver_tags"] = [t for t in ETAGS if rng.random() < 0.4]
        c = d["condition"]
        c["engine_type"] = rng.choice(["pybullet", "isaac", "ue5"])
        c["vase_offset"] = rng.choice([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [0.1, 0.0, 0.0], [0.06, 0.08, 0.0],
                                       [0, 0, 0], [0.1, 0.2]])  # the last one counts as (0, 0, 0)
        c["drawer_friction"] = rng.choice([0.3, 0.35, 0.45, 0.5, 0.8])
        c["lighting_profile"] = rng.choice(["normal", "low_light", "high_contrast"])
        c["occlusion_level"] = rng.choice([0.0, 0.1, 0.2, 0.5])
        c["tags"] = rng.choice([{}, {"fragile": True}, {"fragile": False}, {"fragile": "yes"},
                                {"offset_vase": False}, {"env": "x"}])
        a = d["attribution"]
        a.update(delta_J=dj, trust_score=rng.choice([0.5, 0.79, 0.8, 0.85, 0.9, 0.9, 0.95, 1.0, 1.2, -0.1]),
                 w_econ=rng.randint(0, 8) / 8, delta_mpl=rng.randint(-8, 8) / 4, delta_error=rng.randint(-4, 4) / 8,
                 delta_ep=rng.randint(-8, 8) / 2, source_type=rng.choice(["real", "real", "synthetic", "hybrid"]))
        a["skill_contribs"] = rng.choice([
            {}, {"3": {"delta_mpl": rng.randint(-8, 8) / 4, "delta_error": rng.randint(-4, 4) / 8}},
            {"3": {"delta_mpl": "n/a"}, "4": {"delta_error": 0.25}}, {"04": {"delta_mpl": 9.0}},
            {"1": {"delta_mpl": 2}}, {"3": {"delta_mpl": 1.5}, "5": {"delta_mpl": -0.5, "delta_error": 0.125}}])
        trace = []
        if i % 17 != 3:
            for k in range(rng.randint(1, 6)):
                s = rng.choice([0, 1, 2, 3, 4, 5, 5, 3, 7]) if i % 11 else 7
                e = {"t": 10 * k, "skill_id": s}
                if rng.random() < 0.8:
                    e["params"] = {"speed": rng.randint(1, 9) / 10}
                if rng.random() < 0.8:
                    e["duration"] = rng.randint(1, 40)
                if rng.random() < 0.4:
                    e["local_metrics"] = {"delta_mpl": rng.randint(-4, 4) / 4, "success": rng.random() < 0.5}
                trace.append(e)
            if i % 13 == 0:
                bad = rng.choice([{"t": 99, "skill_id": -1}, {"t": 99, "skill_id": "3"}, {"t": 99, "skill_id": True},
                                  "junk", {"t": 99}])
                trace.insert(rng.randint(0, len(trace)), bad)
        d["skill_trace"] = trace
        if bucket == "negative" and rng.random() < 0.75:
            d["counterfactual_plan"] = {"skills": [0, 1, 2, 3, 4, 5], "source": "scripted_teacher", "n": i}
            d["counterfactual_source"] = "scripted_teacher"
        e = d["energy"]
        e["total_Wh"] = rng.randint(1, 40) / 8
        e["Wh_per_unit"] = rng.randint(1, 40) / 4
        e["energy_per_limb"] = {"shoulder": {"Wh": rng.randint(1, 9) / 8, "fraction": 0.5},
                                "forearm": {"Wh": 0.0}, "wrist": {"fraction": 0.1}}
        names = ENERGY_SKILLS if i == 0 else [s for s in ENERGY_SKILLS if rng.random() < 0.5]
        e["energy_per_skill"] = {s: {"Wh": rng.randint(1, 9) / 4} for s in names}
        out.append(d)
    return out


@pytest.fixture
def gen(data_root):
    recs = generate()
    write_task(data_root, recs)
    return recs


# =========================================================================== brute force (docs/adapter.md, literally)

def num(v, default):
    return float(v) if type(v) in (int, float) else default


def attr(d):
    return d["attribution"] if isinstance(d.get("attribution"), dict) else {}


def cond(d):
    return d["condition"] if isinstance(d.get("condition"), dict) else {}


def dj(d):
    return num(attr(d).get("delta_J"), 0.0)


def trust(d):
    return num(attr(d).get("trust_score"), 0.0)


def trace(d):
    return d["skill_trace"] if isinstance(d.get("skill_trace"), list) else []


def valid_entry(e):
    return isinstance(e, dict) and type(e.get("skill_id")) is int and e["skill_id"] >= 0


def skills_of(d):
    return [e["skill_id"] for e in trace(d) if valid_entry(e)]


def sem(d):
    return [t for t in d.get("semantic_tags") or [] if isinstance(t, str)]


def offset(d):
    vo = cond(d).get("vase_offset")
    ok = isinstance(vo, list) and len(vo) == 3 and all(type(x) in (int, float) for x in vo)
    return [float(x) for x in vo] if ok else [0.0, 0.0, 0.0]


def fmean(xs):
    return math.fsum(xs) / len(xs)


def pstd(xs):
    m = fmean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / len(xs))


def q(recs, bucket=None, skill=None, min_trust=0.0, cf=False, sort=False, desc=True, limit=None):
    """docs/repository.md §7 for the filters the adapter uses (stable sorts both ways)."""
    out = [d for d in recs if (bucket is None or d.get("bucket") == bucket)
           and (skill is None or skill in skills_of(d)) and trust(d) >= min_trust
           and (not cf or d.get("bucket") != "negative" or d.get("counterfactual_plan") is not None)]
    if sort:
        out = sorted(out, key=dj, reverse=desc)
    return out if limit is None else out[:limit]


def b_stats(recs, sid, catalogue=CATALOGUE):
    P, N = q(recs, "positive", sid), q(recs, "negative", sid)
    A = P + N
    name = catalogue.get(sid, "UNKNOWN")
    if not A:
        return {"skill_id": sid, "skill_name": name, "total_usage": 0, "positive_count": 0, "negative_count": 0}
    djs = [dj(d) for d in A]
    has_nan = any(math.isnan(x) for x in djs)

    def contrib(field):
        vals = []
        for d in A:
            c = attr(d).get("skill_contribs")
            e = c.get(str(sid)) if isinstance(c, dict) else None
            if isinstance(e, dict) and type(e.get(field)) in (int, float):
                vals.append(float(e[field]))
        return fmean(vals) if vals else None

    return {"skill_id": sid, "skill_name": name, "total_usage": len(A), "positive_count": len(P),
            "negative_count": len(N), "success_rate": len(P) / len(A), "delta_j_mean": fmean(djs),
            "delta_j_std": pstd(djs), "delta_j_min": math.nan if has_nan else min(djs),
            "delta_j_max": math.nan if has_nan else max(djs),
            "trust_mean": fmean([trust(d) for d in A]), "w_econ_mean": fmean([num(attr(d).get("w_econ"), 0.0)
                                                                               for d in A]),
            "skill_delta_mpl_mean": contrib("delta_mpl"), "skill_delta_error_mean": contrib("delta_error")}


def known(recs, catalogue=CATALOGUE):
    return sorted(set(catalogue) | {s for d in recs for s in skills_of(d)})


def b_condition(d):
    c = dict(cond(d))
    c["vase_offset"] = list(c["vase_offset"]) if isinstance(c.get("vase_offset"), (list, tuple)) else c.get(
        "vase_offset")
    return c


def b_training(recs, sid, bucket="positive", min_trust=0.9, top_k=100):
    out = []
    for d in q(recs, bucket, sid, min_trust, sort=True, desc=bucket == "positive", limit=top_k):
        for e in trace(d):
            if valid_entry(e) and e["skill_id"] == sid:
                out.append({"pack_id": d["pack_id"], "skill_id": sid, "params": e.get("params", {}),
                            "duration": e.get("duration", 0), "local_metrics": e.get("local_metrics", {}),
                            "delta_j": dj(d), "trust_score": trust(d), "w_econ": num(attr(d).get("w_econ"), 0.0),
                            "condition": b_condition(d), "semantic_tags": sem(d)})
    return out


def b_failures(recs, sid, top_k=20):
    out = []
    for d in q(recs, "negative", sid, 0.9, cf=True, sort=True, desc=False, limit=top_k):
        c = cond(d)
        out.append({"pack_id": d["pack_id"], "delta_j": dj(d), "semantic_tags": sem(d),
                    "condition": {"vase_offset": list(c["vase_offset"]), "drawer_friction": c["drawer_friction"],
                                  "lighting_profile": c["lighting_profile"], "occlusion_level": c["occlusion_level"]},
                    "counterfactual": d.get("counterfactual_plan"),
                    "counterfactual_source": d.get("counterfactual_source"),
                    "skill_entry": [e for e in trace(d) if valid_entry(e) and e["skill_id"] == sid][-1]})
    return out


def b_patterns(recs, bucket="positive", top_k=100):
    out: dict = {}
    for d in q(recs, bucket, sort=True, desc=bucket == "positive", limit=top_k):
        key = tuple(skills_of(d))
        out[key] = out.get(key, 0) + 1
    return out


def column(d):
    tags = sem(d)
    for c in COLUMNS[1:]:
        if c in tags:
            return c
    return "normal"


def b_matrix(recs, rows):
    sums = {s: {c: [] for c in COLUMNS} for s in rows}
    skipped = 0
    for d in recs:
        for e in trace(d):
            if not valid_entry(e):
                skipped += 1
            elif e["skill_id"] in sums:
                sums[e["skill_id"]][column(d)].append(dj(d))
    values = [[math.fsum(sums[s][c]) / len(sums[s][c]) if sums[s][c] else 0.0 for c in COLUMNS] for s in rows]
    counts = [[len(sums[s][c]) for c in COLUMNS] for s in rows]
    return values, counts, skipped


def flag_ok(d, t):
    tags = cond(d).get("tags")
    if isinstance(tags, dict) and t in tags:
        return tags[t] is True
    return t in sem(d)


def b_recommend(recs, tags):
    lists: dict = {}
    for d in recs:
        if d.get("bucket") == "positive" and trust(d) >= 0.8 and all(flag_ok(d, t) for t in tags):
            for s in skills_of(d):
                lists.setdefault(s, []).append(dj(d))
    means = [(s, sum(v) / len(v)) for s, v in lists.items()]
    return sorted(means, key=lambda sm: -sm[1])


def similarity(a, b):
    oa, ob = offset(a), offset(b)
    dist = math.sqrt(sum((x - y) ** 2 for x, y in zip(oa, ob)))
    ca, cb = cond(a), cond(b)
    return (1 / (1 + dist) + 1 / (1 + 10 * abs(ca["drawer_friction"] - cb["drawer_friction"]))
            + (1.0 if ca["lighting_profile"] == cb["lighting_profile"] else 0.0)
            + 1 / (1 + 5 * abs(ca["occlusion_level"] - cb["occlusion_level"]))) / 4


def b_pairs(recs, sid, n_pairs=50):
    P = q(recs, "positive", sid, 0.9, sort=True, desc=True, limit=n_pairs)
    pool = q(recs, "negative", sid, 0.9, cf=True, sort=True, desc=False, limit=n_pairs)
    pairs = []
    for p in P:
        if not pool:
            break
        best, best_sim = None, -1.0
        for n in pool:
            s = similarity(p, n)
            if s > best_sim:
                best, best_sim = n, s
        pool.remove(best)
        pairs.append((p["pack_id"], best["pack_id"]))
        if n_pairs is not None and len(pairs) >= n_pairs:
            break
    return pairs


def difficulty(d):
    o = offset(d)
    c = cond(d)
    return 10 * math.sqrt(o[0] ** 2 + o[1] ** 2 + o[2] ** 2) + 5 * c["drawer_friction"] + 10 * c["occlusion_level"]


def b_curriculum(recs, sid, n_levels=3):
    P = sorted(q(recs, "positive", sid, 0.9, sort=True, desc=True), key=difficulty)
    if not P:
        return []
    per = len(P) // n_levels
    levels = []
    for i in range(n_levels):
        part = P[i * per:(i + 1) * per] if i < n_levels - 1 else P[(n_levels - 1) * per:]
        if part:
            levels.append({"level": len(levels), "difficulty": fmean([difficulty(d) for d in part]),
                           "n_samples": len(part), "datapacks": [d["pack_id"] for d in part],
                           "conditions_summary": {
                               "avg_offset": fmean([math.sqrt(sum(x * x for x in offset(d))) for d in part]),
                               "avg_friction": fmean([cond(d)["drawer_friction"] for d in part]),
                               "avg_occlusion": fmean([cond(d)["occlusion_level"] for d in part])}})
    return levels


def b_env(recs):
    groups: dict = {}
    for d in recs:
        groups.setdefault(d.get("env_type"), []).append(d)
    out = {}
    for env, ds in groups.items():
        pos = sum(1 for d in ds if d.get("bucket") == "positive")
        out[env] = {"count": len(ds), "positive": pos, "negative": len(ds) - pos,
                    "mean_delta_j": fmean([dj(d) for d in ds]),
                    "mean_delta_mpl": fmean([num(attr(d).get("delta_mpl"), 0.0) for d in ds]),
                    "mean_delta_error": fmean([num(attr(d).get("delta_error"), 0.0) for d in ds]),
                    "mean_delta_ep": fmean([num(attr(d).get("delta_ep"), 0.0) for d in ds]),
                    "mean_energy_wh": fmean([num(d["energy"].get("total_Wh"), 0.0) for d in ds]),
                    "mean_trust": fmean([trust(d) for d in ds]), "positive_ratio": pos / len(ds)}
    return out


def b_energy(recs):
    if not recs:
        return {"n_packs": 0}
    totals = {"energy_per_limb": {}, "energy_per_skill": {}}
    for d in recs:
        for key, acc in totals.items():
            for name, v in (d["energy"].get(key) or {}).items():
                wh = v.get("Wh") if isinstance(v, dict) else None
                acc.setdefault(name, []).append(float(wh) if type(wh) in (int, float) else 0.0)
    tw = [num(d["energy"].get("total_Wh"), 0.0) for d in recs]
    pu = [num(d["energy"].get("Wh_per_unit"), 0.0) for d in recs]
    return {"n_packs": len(recs), "total_wh_mean": fmean(tw), "total_wh_std": pstd(tw),
            "wh_per_unit_mean": fmean(pu), "wh_per_unit_std": pstd(pu),
            "limb_totals": {k: math.fsum(v) for k, v in totals["energy_per_limb"].items()},
            "skill_totals": {k: math.fsum(v) for k, v in totals["energy_per_skill"].items()}}


# =========================================================================== comparison

def same(actual, expected, path="result"):
    """Equal values with equal Python types and key orders; floats within 1e-9
    relative (NaN equals NaN); tuples stay tuples."""
    assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{path}: keys {list(actual)} != {list(expected)}"
        for k in expected:
            same(actual[k], expected[k], f"{path}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            same(a, e, f"{path}[{i}]")
    elif isinstance(expected, float):
        if math.isnan(expected):
            assert math.isnan(actual), f"{path}: {actual} is not NaN"
        else:
            assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), f"{path}: {actual} != {expected}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def ids(packs):
    return [p.pack_id for p in packs]


def by_id(recs):
    return {d["pack_id"]: d for d in recs}


def assert_invalid(fn, reason, field=None):
    with pytest.raises(InvalidArgumentError) as ei:
        fn()
    assert ei.value.code == "INVALID_ARGUMENT"
    assert ei.value.reason == reason, ei.value
    if field is not None:
        assert ei.value.violations and ei.value.violations[0].field == field
    return ei.value


# =========================================================================== §3.1, §3.2 statistics

def test_statistics_of_every_skill_match_brute_force(adapter, gen):
    for sid in [0, 1, 2, 3, 4, 5, 6, 7, 8]:
        same(adapter.get_skill_statistics(TASK, sid), b_stats(gen, sid))


def test_all_skills_performance_covers_known_skills(adapter, gen):
    res = adapter.get_all_skills_performance(TASK)
    assert list(res) == known(gen) == [0, 1, 2, 3, 4, 5, 7]
    same(res, {s: b_stats(gen, s) for s in known(gen)})
    assert res[7]["skill_name"] == "UNKNOWN"
    assert all(type(v) is float for v in res[3].values() if not isinstance(v, (int, str)))


def test_statistics_empty_shape(adapter, gen, data_root):
    assert adapter.get_skill_statistics(TASK, 6) == {"skill_id": 6, "skill_name": "UNKNOWN", "total_usage": 0,
                                                     "positive_count": 0, "negative_count": 0}
    # A task whose file holds no packs is empty (no error).
    write_task(data_root, [], task="empty_task")
    assert adapter.get_skill_statistics("empty_task", 0) == {
        "skill_id": 0, "skill_name": "EPISODE", "total_usage": 0, "positive_count": 0, "negative_count": 0}
    assert adapter.get_all_skills_performance("empty_task") == {0: adapter.get_skill_statistics("empty_task", 0)}
    # A task without a file does not exist (issue 13): NOT_FOUND, no longer empty results.
    assert_task_not_found(lambda: adapter.get_skill_statistics("no_such_task", 0))
    assert_task_not_found(lambda: adapter.get_all_skills_performance("no_such_task"))


def test_statistics_counts_packs_not_entries_and_skips_other_buckets(adapter, data_root):
    recs = [pack("a", 1.0, skills=(4, 4, 4)), pack("b", -2.0, skills=(4,)), pack("c", 3.0, skills=(4,), trust=-0.5),
            pack("d", 5.0, skills=(4,), bucket="archived"), pack("e", -1.0, skills=(4,), cf=False)]
    write_task(data_root, recs)
    st = adapter.get_skill_statistics(TASK, 4)
    assert (st["total_usage"], st["positive_count"], st["negative_count"]) == (3, 1, 2)  # c: trust < 0; d: bucket
    same(st, b_stats(recs, 4))
    assert st["delta_j_mean"] == pytest.approx((1.0 - 2.0 - 1.0) / 3)


def test_skill_contribs_means_after_store_round_trip(repo, adapter):
    def dp(pid, dj_, contribs):
        d = DataPackMeta(pack_id=pid, task_name=TASK, bucket="positive" if dj_ >= 0 else "negative",
                         skill_trace=[{"t": 0, "skill_id": 4, "params": {}, "duration": 3}],
                         counterfactual_plan={"skills": [4]} if dj_ < 0 else None)
        d.attribution.delta_J = dj_
        d.attribution.trust_score = 0.95
        d.attribution.skill_contribs = contribs
        return d

    repo.append_batch([dp("a", 1.0, {4: {"delta_mpl": 3.2, "delta_error": -0.05}}),
                       dp("b", -1.0, {4: {"delta_mpl": 1.0}, 3: {"delta_mpl": 100.0}}),
                       dp("c", 2.0, {4: {"delta_mpl": "x", "delta_error": 0.15}}),
                       dp("d", 2.0, {})])
    st = adapter.get_skill_statistics(TASK, 4)
    assert st["skill_delta_mpl_mean"] == pytest.approx((3.2 + 1.0) / 2)
    assert st["skill_delta_error_mean"] == pytest.approx((-0.05 + 0.15) / 2)
    assert adapter.get_skill_statistics(TASK, 3)["total_usage"] == 0
    assert adapter.get_all_skills_performance(TASK)[4] == st


def test_stored_nan_propagates_and_null_contrib_is_ignored(adapter, data_root):
    a = pack("a", 1.0, skills=(2,), skill_contribs={"2": {"delta_mpl": float("nan"), "delta_error": None}})
    b = pack("b", float("nan"), skills=(2,), skill_contribs={"2": {"delta_mpl": 1.0, "delta_error": 0.5}})
    write_task(data_root, [a, b])  # json.dumps writes NaN tokens, as old lines may hold
    assert b["bucket"] == "negative"
    st = adapter.get_skill_statistics(TASK, 2)
    same(st, b_stats([a, b], 2))
    assert st["total_usage"] == 2 and math.isnan(st["delta_j_mean"]) and math.isnan(st["delta_j_max"])
    assert math.isnan(st["skill_delta_mpl_mean"])  # a stored NaN is a number
    assert st["skill_delta_error_mean"] == 0.5  # a stored null is not
    m = adapter.compute_skill_value_matrix(TASK, [2])
    assert math.isnan(m.values[0][0]) and m.counts == [[2, 0, 0, 0, 0]]
    assert math.isnan(adapter.get_env_type_statistics(TASK)[TASK]["mean_delta_j"])


def test_more_than_10000_positive_packs_all_counted(adapter, data_root):
    n = 10_050
    recs = []
    for i in range(n):
        d = {"pack_id": f"p{i}", "task_name": TASK, "bucket": "positive",
             "condition": {"drawer_friction": 0.3 + (i % 7) / 10},
             "attribution": {"delta_J": float(i % 5), "trust_score": 0.95},
             "skill_trace": [{"t": 0, "skill_id": 4}]}
        recs.append(d)
    write_task(data_root, recs)
    st = adapter.get_skill_statistics(TASK, 4)
    assert (st["total_usage"], st["positive_count"]) == (n, n)
    assert st["delta_j_mean"] == pytest.approx(fmean([float(i % 5) for i in range(n)]))
    assert adapter.get_datapack_ids_for_skill(TASK, 4) == [f"p{i}" for i in range(n)]
    assert adapter.recommend_skill_for_condition(TASK, []) == [(4, pytest.approx(st["delta_j_mean"]))]
    levels = adapter.generate_skill_curriculum(TASK, 4, n_levels=4)
    assert [lv["n_samples"] for lv in levels] == [2512, 2512, 2512, 2514]
    assert adapter.compute_skill_value_matrix(TASK, [4]).counts == [[n, 0, 0, 0, 0]]


# =========================================================================== §3.3 – §3.5

@pytest.mark.parametrize("sid,bucket,min_trust,top_k", [
    (3, "positive", 0.9, 100), (3, "positive", 0.9, 5), (5, "negative", 0.9, 100), (5, "negative", 0.0, 7),
    (0, "positive", 0.8, None), (7, "negative", -1.0, 3), (6, "positive", 0.9, 10)])
def test_training_data_matches_brute_force(adapter, gen, sid, bucket, min_trust, top_k):
    res = adapter.get_skill_training_data(TASK, sid, bucket=bucket, min_trust=min_trust, top_k=top_k)
    same(res, b_training(gen, sid, bucket, min_trust, top_k))
    if sid == 6:
        assert res == []


def test_training_data_repeats_ties_and_defaults(adapter, data_root):
    recs = [pack("a", 2.0, skills=(3, 1, 3)), pack("b", 5.0, skills=(1,)), pack("c", 2.0, skills=(3,)),
            pack("d", 2.0, skills=(3,), trust=0.89)]
    recs[2]["skill_trace"][0] = {"t": 0, "skill_id": 3}  # no params / duration / local_metrics
    write_task(data_root, recs)
    res = adapter.get_skill_training_data(TASK, 3, top_k=1)
    assert [s["pack_id"] for s in res] == ["a", "a"]  # one pack, the skill twice -> two samples
    res = adapter.get_skill_training_data(TASK, 3)
    assert [s["pack_id"] for s in res] == ["a", "a", "c"]  # tie on ΔJ 2.0: append order; d below 0.9
    assert list(res[0]) == ["pack_id", "skill_id", "params", "duration", "local_metrics", "delta_j", "trust_score",
                            "w_econ", "condition", "semantic_tags"]
    assert res[2]["params"] == {} and res[2]["duration"] == 0 and res[2]["local_metrics"] == {}
    assert list(res[0]["condition"])[:13] == ["task_name", "engine_type", "world_id", "vase_offset",
                                              "drawer_friction", "lighting_profile", "occlusion_level",
                                              "econ_preset", "price_per_unit", "vase_break_cost", "energy_price_kWh",
                                              "objective_vector", "tags"]
    assert type(res[0]["condition"]["vase_offset"]) is list
    res[0]["params"]["i"] = 99  # results are copies
    res[0]["condition"]["tags"]["x"] = 1
    assert adapter.get_skill_training_data(TASK, 3)[0]["params"] == {"i": 0}
    assert adapter.get_skill_training_data(TASK, 3)[0]["condition"]["tags"] == {}


@pytest.mark.parametrize("sid,top_k", [(4, 20), (5, 3), (3, None), (6, 20)])
def test_failure_modes_match_brute_force(adapter, gen, sid, top_k):
    same(adapter.get_skill_failure_modes(TASK, sid, top_k=top_k), b_failures(gen, sid, top_k))


def test_failure_modes_last_entry_and_plan_required(adapter, data_root):
    a = pack("a", -5.0, skills=(4, 2, 4))
    a["skill_trace"][2]["params"] = {"last": True}
    recs = [a, pack("b", -9.0, skills=(4,), cf=False), pack("c", -1.0, skills=(4,), trust=0.85)]
    write_task(data_root, recs)
    res = adapter.get_skill_failure_modes(TASK, 4)
    assert [f["pack_id"] for f in res] == ["a"]
    f = res[0]
    assert list(f) == ["pack_id", "delta_j", "semantic_tags", "condition", "counterfactual",
                       "counterfactual_source", "skill_entry"]
    assert f["skill_entry"]["params"] == {"last": True}
    assert f["condition"] == {"vase_offset": [0.0, 0.0, 0.0], "drawer_friction": 0.3, "lighting_profile": "normal",
                              "occlusion_level": 0.0}
    assert f["counterfactual"] == {"skills": [0, 1, 2, 3, 4, 5], "source": "scripted_teacher"}


@pytest.mark.parametrize("bucket,top_k", [("positive", 100), ("negative", 100), ("positive", 4), ("negative", 4),
                                          ("negative", None)])
def test_sequence_patterns_match_brute_force(adapter, gen, bucket, top_k):
    res = adapter.get_skill_sequence_patterns(TASK, bucket=bucket, top_k=top_k)
    same(res, b_patterns(gen, bucket, top_k))
    assert all(type(k) is tuple for k in res)


def test_negative_sequence_patterns_start_from_most_negative(adapter, data_root):
    recs = [pack("a", -1.0, skills=(1,)), pack("b", -9.0, skills=(2, 2)), pack("c", -5.0, skills=(3,)),
            pack("d", -9.0, skills=(4,))]
    recs.append(pack("e", 1.0))
    recs[-1]["skill_trace"] = []  # empty trace -> ()
    write_task(data_root, recs)
    assert adapter.get_skill_sequence_patterns(TASK, "negative", top_k=2) == {(2, 2): 1, (4,): 1}
    assert list(adapter.get_skill_sequence_patterns(TASK, "negative")) == [(2, 2), (4,), (3,), (1,)]
    assert adapter.get_skill_sequence_patterns(TASK) == {(): 1}
    write_task(data_root, [], task="empty_task")
    assert adapter.get_skill_sequence_patterns("empty_task") == {}
    assert_task_not_found(lambda: adapter.get_skill_sequence_patterns("no_such_task"))


# =========================================================================== §3.6 value matrix

def test_value_matrix_matches_brute_force(adapter, gen):
    m = adapter.compute_skill_value_matrix(TASK)
    assert isinstance(m, SkillValueMatrix)
    rows = known(gen)
    values, counts, skipped = b_matrix(gen, rows)
    assert m.skill_ids == rows and m.conditions == COLUMNS
    assert m.skill_names == [CATALOGUE.get(s, "UNKNOWN") for s in rows]
    same(m.values, values)
    assert m.counts == counts
    assert m.skipped_entries == skipped > 0
    arr = m.to_numpy()
    assert arr.shape == (len(rows), 5) and arr.dtype.kind == "f"
    m2 = adapter.compute_skill_value_matrix(TASK, skill_ids=[3, 1])
    values2, counts2, _ = b_matrix(gen, [3, 1])
    assert m2.skill_ids == [3, 1] and m2.skill_names == ["GRASP_HANDLE", "LOCATE_VASE"]
    same(m2.values, values2)
    assert m2.counts == counts2


def test_value_matrix_columns_priority_repeats_and_skipped(adapter, data_root):
    recs = [pack("a", 2.0, skills=(3, 3, 1), tags=("low_light", "offset_vase")),
            pack("b", -1.0, skills=(3,), tags=("low_light", "high_friction")),
            pack("c", 0.5, skills=(1, 5), tags=("fragile",)),
            pack("d", 4.0, skills=(3,), tags=("partial_occlusion", "low_light"))]
    recs[3]["skill_trace"] += [{"t": 50, "skill_id": -1}, {"t": 60, "skill_id": 9.0}]
    write_task(data_root, recs)
    m = adapter.compute_skill_value_matrix(TASK)
    assert m.skill_ids == [0, 1, 2, 3, 4, 5]
    assert m.values[3] == [0.0, 2.0, -1.0, 4.0, 0.0]
    assert m.counts[3] == [0, 2, 1, 1, 0]  # skill 3 twice in pack a counts twice
    assert m.values[1] == [0.5, 2.0, 0.0, 0.0, 0.0] and m.counts[1] == [1, 1, 0, 0, 0]
    assert m.values[5] == [0.5, 0.0, 0.0, 0.0, 0.0]
    assert m.skipped_entries == 2
    assert all(type(x) is float for row in m.values for x in row)
    assert all(type(x) is int for row in m.counts for x in row)


@pytest.mark.parametrize("bad", [[9], [1, 1], [-1], ["3"], [True], [3.0], "3", 3])
def test_value_matrix_unknown_skill(adapter, gen, bad):
    assert_invalid(lambda: adapter.compute_skill_value_matrix(TASK, skill_ids=bad), "UNKNOWN_SKILL", "skill_ids")


def test_value_matrix_known_skill_from_traces_and_empty_rows(adapter, gen):
    assert adapter.compute_skill_value_matrix(TASK, skill_ids=[7]).skill_names == ["UNKNOWN"]
    m = adapter.compute_skill_value_matrix(TASK, skill_ids=[])
    assert (m.skill_ids, m.values, m.counts) == ([], [], [])
    assert m.to_numpy().shape == (0, 5)


# =========================================================================== §3.7 recommendations

@pytest.mark.parametrize("tags", [[], ["fragile"], ["offset_vase"], ["offset_vase", "high_friction"],
                                  ["low_light", "fragile"], ["nothing_has_this"]])
def test_recommendations_match_brute_force(adapter, gen, tags):
    same(adapter.recommend_skill_for_condition(TASK, tags), b_recommend(gen, tags))


def test_recommendations_flags_ties_and_empty(adapter, data_root):
    def tagged(pid, dj_, skills, tags=(), ctags=None, trust_=0.9):
        d = pack(pid, dj_, skills=skills, tags=tags, trust=trust_)
        d["condition"]["tags"] = ctags or {}
        return d

    recs = [tagged("a", 1.0, (5, 2), ctags={"fragile": True}),
            tagged("b", 3.0, (2,), tags=("fragile",), ctags={"fragile": False}),  # condition.tags wins: excluded
            tagged("c", 1.0, (4,), tags=("fragile",)),
            tagged("d", 9.0, (1,), tags=("fragile",), trust_=0.79),  # trust below 0.8
            tagged("e", 1.0, (0, 0), ctags={"fragile": "true"}),  # not the boolean true
            tagged("f", 0.5, (3,), tags=("fragile", "x"))]
    write_task(data_root, recs)
    # 5, 2 and 4 all have mean 1.0: first-appearance order (5, 2 from pack a, then 4).
    assert adapter.recommend_skill_for_condition(TASK, ["fragile"]) == [(5, 1.0), (2, 1.0), (4, 1.0), (3, 0.5)]
    assert adapter.recommend_skill_for_condition(TASK, ["fragile", "x"]) == [(3, 0.5)]
    assert adapter.recommend_skill_for_condition(TASK, ["missing"]) == []
    res = adapter.recommend_skill_for_condition(TASK, [])
    same(res, b_recommend(recs, []))
    assert all(type(t) is tuple and type(t[0]) is int and type(t[1]) is float for t in res)


# =========================================================================== §3.8 contrastive pairs

def spec_pairs_example():
    p1 = pack("p1", 5.0, skills=(4,))
    p2 = pack("p2", 3.0, skills=(4,), offset=(0.05, 0.0, 0.0), friction=0.45, light="low_light", occlusion=0.2)
    n1 = pack("n1", -3.0, skills=(4,), offset=(0.1, 0.0, 0.0), friction=0.35)
    n2 = pack("n2", -2.0, skills=(4,), light="low_light", occlusion=0.2)
    n3 = pack("n3", -1.0, skills=(4,))
    return p1, p2, n1, n2, n3


def test_contrastive_pairs_spec_example(adapter, data_root):
    p1, p2, n1, n2, n3 = spec_pairs_example()
    # The brute-force similarity reproduces the spec's numbers.
    assert [round(similarity(p1, n), 10) for n in (n1, n2, n3)] == [0.8939393939, 0.625, 1.0]
    assert [round(similarity(p2, n), 10) for n in (n1, n2)] == [0.4880952381, 0.8380952381]
    write_task(data_root, [n3, p2, n1, p1, n2])
    res = adapter.extract_contrastive_pairs(TASK, 4)
    assert all(type(t) is tuple and len(t) == 2 for t in res)
    assert [(p.pack_id, n.pack_id) for p, n in res] == [("p1", "n3"), ("p2", "n2")]
    assert res[0][0].to_dict() == p1 and res[0][1].to_dict() == n3
    # n_pairs also limits N: the pool is only the most negative pack.
    assert [(p.pack_id, n.pack_id) for p, n in adapter.extract_contrastive_pairs(TASK, 4, n_pairs=1)] == [("p1", "n1")]
    assert [(p.pack_id, n.pack_id) for p, n in adapter.extract_contrastive_pairs(TASK, 4, None)] == [("p1", "n3"),
                                                                                                   ("p2", "n2")]


def test_contrastive_pairs_tie_earliest_negative_in_pool_wins(adapter, data_root):
    p = pack("p", 1.0, skills=(2,))
    later_but_first_in_pool = pack("nb", -2.0, skills=(2,))
    earlier_in_file = pack("na", -1.0, skills=(2,))
    no_plan = pack("nc", -3.0, skills=(2,), cf=False)
    write_task(data_root, [earlier_in_file, no_plan, p, later_but_first_in_pool])
    assert [(a.pack_id, b.pack_id) for a, b in adapter.extract_contrastive_pairs(TASK, 2)] == [("p", "nb")]
    assert adapter.extract_contrastive_pairs(TASK, 3) == []  # unknown skill: empty


@pytest.mark.parametrize("sid,n_pairs", [(3, 50), (5, 4), (0, None), (7, 2)])
def test_contrastive_pairs_match_brute_force(adapter, gen, sid, n_pairs):
    res = adapter.extract_contrastive_pairs(TASK, sid, n_pairs=n_pairs)
    assert [(p.pack_id, n.pack_id) for p, n in res] == b_pairs(gen, sid, n_pairs)
    recs = by_id(gen)
    assert all(p.to_dict() == recs[p.pack_id] and n.to_dict() == recs[n.pack_id] for p, n in res)


# =========================================================================== §3.9 curriculum

def test_curriculum_spec_examples(adapter, data_root):
    A = pack("A", 4.0, skills=(4,))
    B = pack("B", 3.0, skills=(4,), offset=(0.1, 0.0, 0.0))
    C = pack("C", 2.0, skills=(4,), friction=0.5, occlusion=0.2)
    D = pack("D", 1.0, skills=(4,), offset=(0.06, 0.08, 0.0), friction=0.2, occlusion=0.1)
    write_task(data_root, [C, A, D, B])
    levels = adapter.generate_skill_curriculum(TASK, 4, n_levels=3)
    assert [[p.pack_id for p in lv["datapacks"]] for lv in levels] == [["A"], ["B"], ["D", "C"]]
    assert [lv["level"] for lv in levels] == [0, 1, 2]
    assert list(levels[2]) == ["level", "difficulty", "n_samples", "datapacks", "conditions_summary"]
    assert [lv["difficulty"] for lv in levels] == pytest.approx([1.5, 2.5, 3.75])
    assert levels[2]["n_samples"] == 2
    assert levels[2]["conditions_summary"] == pytest.approx(
        {"avg_offset": 0.05, "avg_friction": 0.35, "avg_occlusion": 0.15})
    assert list(levels[2]["conditions_summary"]) == ["avg_offset", "avg_friction", "avg_occlusion"]


def test_curriculum_level_sizes_and_fewer_packs_than_levels(adapter, data_root):
    write_task(data_root, [pack(f"s{i}", float(i), skills=(1,), friction=0.3 + i / 100) for i in range(7)])
    write_task(data_root, [pack(f"t{i}", float(i), skills=(2,)) for i in range(2)])
    assert [lv["n_samples"] for lv in adapter.generate_skill_curriculum(TASK, 1, 3)] == [2, 2, 3]
    levels = adapter.generate_skill_curriculum(TASK, 2, 3)
    assert [(lv["level"], lv["n_samples"]) for lv in levels] == [(0, 2)]
    # Equal difficulty keeps the ΔJ-descending order (t1 before t0).
    assert [p.pack_id for p in levels[0]["datapacks"]] == ["t1", "t0"]
    assert adapter.generate_skill_curriculum(TASK, 3, 3) == []
    assert [lv["n_samples"] for lv in adapter.generate_skill_curriculum(TASK, 1, 1)] == [7]
    assert [lv["n_samples"] for lv in adapter.generate_skill_curriculum(TASK, 1, 7)] == [1] * 7
    assert [lv["n_samples"] for lv in adapter.generate_skill_curriculum(TASK, 1, 100)] == [7]


@pytest.mark.parametrize("sid,n_levels", [(3, 3), (5, 4), (0, 1), (1, 50)])
def test_curriculum_matches_brute_force(adapter, gen, sid, n_levels):
    res = adapter.generate_skill_curriculum(TASK, sid, n_levels)
    got = [dict(lv, datapacks=ids(lv["datapacks"])) for lv in res]
    same(got, b_curriculum(gen, sid, n_levels))


# =========================================================================== §3.10 – §3.12 queries

@pytest.mark.parametrize("tags,bucket,match_all,limit", [
    (["energy_driver:a"], None, False, None), (["energy_driver:a", "energy_driver:c"], None, False, None),
    (["energy_driver:a", "energy_driver:c"], None, True, None), ([], None, False, None), ([], None, True, None),
    (["energy_driver:b"], "negative", False, 5), (["energy_driver:b"], "positive", True, None),
    (["zzz"], None, False, None)])
def test_energy_driver_tags_match_brute_force(adapter, gen, tags, bucket, match_all, limit):
    want = [d["pack_id"] for d in gen if (bucket is None or d["bucket"] == bucket)
            and (all if match_all else any)(t in d["energy_driver_tags"] for t in tags)]
    res = adapter.query_by_energy_driver_tags(TASK, tags, bucket=bucket, match_all=match_all, limit=limit)
    assert ids(res) == (want if limit is None else want[:limit])
    if not tags:
        assert len(res) == (len(gen) if match_all else 0)
    assert ids(adapter.query_by_energy_driver_tags(TASK, tags, bucket=bucket, match_all=match_all)) == want[:100]


def test_query_by_source_type_is_a_query(adapter, gen):
    for src, bucket, mt, limit in [("synthetic", None, 0.0, None), ("real", "positive", 0.9, 10),
                                   ("hybrid", "negative", -5.0, None), ("real", None, 0.0, 1000)]:
        want = [d["pack_id"] for d in gen if d["attribution"]["source_type"] == src
                and (bucket is None or d["bucket"] == bucket) and trust(d) >= mt]
        res = adapter.query_by_source_type(TASK, src, bucket=bucket, min_trust=mt, limit=limit)
        assert ids(res) == (want if limit is None else want[:limit])
    assert len(adapter.query_by_source_type(TASK, "real")) == 100


def test_attribution_ranges(adapter, gen):
    recs = gen
    cases = [dict(), dict(min_delta_mpl=0.0), dict(max_delta_error=0.0, min_delta_ep=-1.0),
             dict(min_delta_mpl=-1.0, max_delta_mpl=1.0, bucket="positive"), dict(max_trust=1.5, min_trust=0.85),
             dict(min_delta_ep=100.0)]
    for kw in cases:
        def ok(d):
            a = attr(d)
            for key, field in (("delta_mpl", "delta_mpl"), ("delta_error", "delta_error"), ("delta_ep", "delta_ep")):
                lo, hi = kw.get(f"min_{key}"), kw.get(f"max_{key}")
                if lo is not None and not a[field] >= lo or hi is not None and not a[field] <= hi:
                    return False
            return (kw.get("bucket") is None or d["bucket"] == kw["bucket"]) and \
                kw.get("min_trust", 0.0) <= trust(d) <= kw.get("max_trust", 1.0)
        want = [d["pack_id"] for d in recs if ok(d)]
        assert ids(adapter.query_by_attribution_ranges(TASK, **kw, limit=None)) == want, kw
        assert ids(adapter.query_by_attribution_ranges(TASK, **kw)) == want[:100]
    # trust 1.2 is excluded by default, included with max_trust above it
    high = [d["pack_id"] for d in recs if trust(d) > 1.0]
    assert high and not set(high) & set(ids(adapter.query_by_attribution_ranges(TASK, limit=None)))
    assert set(high) <= set(ids(adapter.query_by_attribution_ranges(TASK, max_trust=2.0, limit=None)))


# =========================================================================== §3.13 – §3.15

def test_env_type_statistics(adapter, gen, data_root):
    res = adapter.get_env_type_statistics(TASK)
    same(res, b_env(gen))
    assert list(res["kitchen"]) == ["count", "positive", "negative", "mean_delta_j", "mean_delta_mpl",
                                    "mean_delta_error", "mean_delta_ep", "mean_energy_wh", "mean_trust",
                                    "positive_ratio"]
    assert sum(v["count"] for v in res.values()) == len(gen)
    write_task(data_root, [], task="empty_task")
    assert adapter.get_env_type_statistics("empty_task") == {}
    assert_task_not_found(lambda: adapter.get_env_type_statistics("no_such_task"))


def test_env_type_statistics_many_env_types(adapter, data_root):
    recs = generate(120, seed=3)
    for i, d in enumerate(recs):
        d["env_type"] = f"env{(i * 7) % 6}"
    recs[4]["attribution"]["delta_ep"] = None  # counts as 0.0
    write_task(data_root, recs)
    res = adapter.get_env_type_statistics(TASK)
    assert list(res) == ["env0", "env1", "env2", "env3", "env4", "env5"]
    same(res, b_env(recs))
    assert sum(v["negative"] for v in res.values()) == sum(1 for d in recs if d["bucket"] != "positive")


@pytest.mark.parametrize("sid,bucket", [(3, None), (3, "positive"), (5, "negative"), (7, None), (6, None)])
def test_datapack_ids_for_skill(adapter, gen, sid, bucket):
    want = [d["pack_id"] for d in q(gen, bucket, sid)]
    assert adapter.get_datapack_ids_for_skill(TASK, sid, bucket=bucket) == want
    if sid == 6:
        assert want == []


def test_summarize_energy_usage(adapter, gen, data_root):
    res = adapter.summarize_energy_usage(TASK)
    same(res, b_energy(gen))
    assert list(res["limb_totals"]) == list(LIMBS) and res["limb_totals"]["wrist"] == 0.0
    assert list(res["skill_totals"]) == list(ENERGY_SKILLS)
    write_task(data_root, [], task="empty_task")
    assert adapter.summarize_energy_usage("empty_task") == {"n_packs": 0}
    assert_task_not_found(lambda: adapter.summarize_energy_usage("no_such_task"))


# =========================================================================== §3.16 report

def seq_key(seq, catalogue=CATALOGUE):
    return "[" + ", ".join("'" + catalogue.get(s, f"UNKNOWN_{s}") + "'" for s in seq) + "]"


def test_export_skill_report(adapter, gen, tmp_path):
    out = tmp_path / "reports" / "nested" / "skills.json"
    report = adapter.export_skill_report(TASK, out)
    assert list(report) == ["task_name", "skills", "sequence_patterns", "env_types", "energy_summary"]
    assert report["task_name"] == TASK
    names = [CATALOGUE.get(s, f"UNKNOWN_{s}") for s in known(gen)]
    assert list(report["skills"]) == names and names[-1] == "UNKNOWN_7"
    same(report["skills"], {CATALOGUE.get(s, f"UNKNOWN_{s}"): b_stats(gen, s) for s in known(gen)})
    for bucket in ("positive", "negative"):
        same(report["sequence_patterns"][bucket], {seq_key(k): v for k, v in b_patterns(gen, bucket, 100).items()})
    assert "['LOCATE_DRAWER']" in report["sequence_patterns"]["positive"] or \
        "['LOCATE_DRAWER']" in report["sequence_patterns"]["negative"]
    same(report["env_types"], b_env(gen))
    same(report["energy_summary"], b_energy(gen))
    text = out.read_text()
    assert text == json.dumps(report, indent=2)
    assert json.loads(text) == report
    assert [p.name for p in out.parent.iterdir()] == ["skills.json"]  # no temporary file left
    out.write_text("old")
    adapter.export_skill_report(TASK, str(out))  # replaces
    assert json.loads(out.read_text()) == report


def test_report_sequence_key_format(adapter, data_root, tmp_path):
    recs = [pack("a", 1.0, skills=(0, 1)), pack("b", -1.0, skills=(9, 2)), pack("c", 2.0)]
    recs[2]["skill_trace"] = []
    write_task(data_root, recs)
    report = adapter.export_skill_report(TASK, tmp_path / "r.json")
    assert report["sequence_patterns"] == {"positive": {"[]": 1, "['LOCATE_DRAWER', 'LOCATE_VASE']": 1},
                                           "negative": {"['UNKNOWN_9', 'PLAN_SAFE_APPROACH']": 1}}
    assert list(report["skills"]) == list(CATALOGUE.values()) + ["UNKNOWN_9"]
    assert report["skills"]["UNKNOWN_9"]["skill_name"] == "UNKNOWN"
    assert report["energy_summary"]["n_packs"] == 3


# =========================================================================== seed Typical Workflows 2-4

def test_seed_workflow_2_train_skill_policy(repo, gen):
    trained = {}

    def train_skill_policy(skill_id, data):
        trained[skill_id] = data

    # Get positive training data for GRASP_HANDLE
    adapter = SkillDataPackAdapter(repo)
    training_data = adapter.get_skill_training_data(
        "drawer_vase",
        skill_id=SkillID.GRASP_HANDLE,
        bucket="positive",
        min_trust=0.9
    )

    # Train with high-trust positive examples
    train_skill_policy(skill_id=3, data=training_data)

    same(trained[3], b_training(gen, 3, "positive", 0.9, 100))
    assert trained[3] and all(type(s["skill_id"]) is int for s in trained[3])


def test_seed_workflow_3_analyze_failures(repo, gen, capsys):
    adapter = SkillDataPackAdapter(repo)
    # Find worst failures for OPEN_WITH_CLEARANCE
    failures = adapter.get_skill_failure_modes("drawer_vase", skill_id=4)

    # Extract counterfactual plans
    for failure in failures:
        print(f"Failed: {failure['semantic_tags']}")
        print(f"Counterfactual: {failure['counterfactual']}")

    want = b_failures(gen, 4, 20)
    assert want
    assert capsys.readouterr().out == "".join(
        f"Failed: {f['semantic_tags']}\nCounterfactual: {f['counterfactual']}\n" for f in want)


def test_seed_workflow_4_curriculum_learning(repo, gen, capsys):
    trained_levels = []

    def train_on_level(packs):
        trained_levels.append([p.pack_id for p in packs])

    adapter = SkillDataPackAdapter(repo)
    curriculum = adapter.generate_skill_curriculum("drawer_vase", skill_id=4, n_levels=3)

    for level in curriculum:
        print(f"Level {level['level']}: {level['n_samples']} samples")
        print(f"  Difficulty: {level['difficulty']:.2f}")
        print(f"  Avg offset: {level['conditions_summary']['avg_offset']:.3f}")
        train_on_level(level['datapacks'])

    want = b_curriculum(gen, 4, 3)
    assert len(want) == 3
    assert trained_levels == [lv["datapacks"] for lv in want]
    assert capsys.readouterr().out == "".join(
        f"Level {lv['level']}: {lv['n_samples']} samples\n  Difficulty: {lv['difficulty']:.2f}\n"
        f"  Avg offset: {lv['conditions_summary']['avg_offset']:.3f}\n" for lv in want)


# =========================================================================== slices

def results_of(adapter, task, **kw):
    """Every analysis, packs reduced to (pack_id, record dict)."""
    def packs(xs):
        return [(p.pack_id, p.to_dict()) for p in xs]

    a = adapter
    return {
        "stats": [a.get_skill_statistics(task, s, **kw) for s in range(9)],
        "all": a.get_all_skills_performance(task, **kw),
        "train": [a.get_skill_training_data(task, s, b, 0.0, None, **kw) for s in (3, 5) for b in ("positive",
                                                                                                    "negative")],
        "fail": a.get_skill_failure_modes(task, 4, None, **kw),
        "seq": [a.get_skill_sequence_patterns(task, b, None, **kw) for b in ("positive", "negative")],
        "matrix": a.compute_skill_value_matrix(task, **kw),
        "rec": [a.recommend_skill_for_condition(task, t, **kw) for t in ([], ["fragile"], ["offset_vase"])],
        "pairs": [[(p.pack_id, n.pack_id) for p, n in a.extract_contrastive_pairs(task, s, None, **kw)]
                  for s in (3, 5)],
        "curriculum": [[dict(lv, datapacks=packs(lv["datapacks"])) for lv in a.generate_skill_curriculum(task, 3, 3,
                                                                                                            **kw)]],
        "etags": packs(a.query_by_energy_driver_tags(task, ["energy_driver:a"], limit=None, **kw)),
        "source": packs(a.query_by_source_type(task, "real", limit=None, **kw)),
        "ranges": packs(a.query_by_attribution_ranges(task, min_delta_mpl=0.0, limit=None, **kw)),
        "env": a.get_env_type_statistics(task, **kw),
        "ids": [a.get_datapack_ids_for_skill(task, s, **kw) for s in (0, 3, 7)],
        "energy": a.summarize_energy_usage(task, **kw),
    }


@pytest.mark.parametrize("slice_", [{"engine_type": "isaac"}, {"bucket": "negative"},
                                    {"min_trust": 0.85, "condition_filters": {"drawer_friction_min": 0.4}},
                                    {"skill_id": 5}])
def test_slice_equals_store_holding_only_the_subset(open_repo, data_root, slice_):
    recs = generate()
    write_task(data_root, recs)
    f = slice_
    subset = [d for d in recs
              if ("engine_type" not in f or cond(d)["engine_type"] == f["engine_type"])
              and ("bucket" not in f or d["bucket"] == f["bucket"]) and trust(d) >= f.get("min_trust", 0.0)
              and ("condition_filters" not in f or cond(d)["drawer_friction"] >= 0.4)
              and ("skill_id" not in f or f["skill_id"] in skills_of(d))]
    assert 0 < len(subset) < len(recs)
    write_task(data_root, subset, store="subset")
    full = SkillDataPackAdapter(open_repo())
    part = SkillDataPackAdapter(open_repo("subset"))
    got, want = results_of(full, TASK, slice=slice_), results_of(part, TASK)
    for key in want:
        assert got[key] == want[key], key
    assert full.export_skill_report(TASK, data_root / "a.json", slice=slice_) == \
        part.export_skill_report(TASK, data_root / "b.json")


def test_slice_intersects_with_the_methods_own_filters(adapter, gen):
    assert adapter.recommend_skill_for_condition(TASK, [], slice={"bucket": "negative"}) == []
    assert adapter.get_skill_training_data(TASK, 3, "positive", slice={"bucket": "negative"}) == []
    assert adapter.query_by_source_type(TASK, "real", bucket="positive", slice={"bucket": "negative"}) == []
    src = adapter.query_by_source_type(TASK, "real", min_trust=0.5, limit=None, slice={"min_trust": 0.9})
    assert ids(src) == [d["pack_id"] for d in gen if d["attribution"]["source_type"] == "real" and trust(d) >= 0.9]
    ranges = adapter.query_by_attribution_ranges(TASK, limit=None, slice={"engine_type": "ue5"})
    assert ids(ranges) == [d["pack_id"] for d in gen if cond(d)["engine_type"] == "ue5" and 0.0 <= trust(d) <= 1.0]


def test_slice_energy_names_of_other_packs_are_left_out(open_repo, data_root):
    a = pack("a", 1.0, engine="pybullet")
    a["energy"]["energy_per_limb"] = {"base": {"Wh": 0.5}, "shoulder": {"Wh": 1.0}, "idle": {"Wh": 0.0}}
    a["energy"]["energy_per_skill"] = {"lift": {"Wh": 3.0}}
    b = pack("b", 1.0, engine="isaac")
    b["energy"]["energy_per_limb"] = {"shoulder": {"Wh": 2.0}, "idle": {"Wh": 0.0}}
    b["energy"]["energy_per_skill"] = {"grasp": {"Wh": 1.0}}
    write_task(data_root, [a, b])
    write_task(data_root, [b], store="subset")
    full = SkillDataPackAdapter(open_repo())
    part = SkillDataPackAdapter(open_repo("subset"))
    got = full.summarize_energy_usage(TASK, slice={"engine_type": "isaac"})
    assert got == part.summarize_energy_usage(TASK)
    assert got["limb_totals"] == {"shoulder": 2.0, "idle": 0.0} and got["skill_totals"] == {"grasp": 1.0}
    same(full.summarize_energy_usage(TASK), b_energy([a, b]))


def test_slice_energy_names_present_only_with_zero_wh(open_repo, data_root):
    a = pack("a", 1.0, engine="pybullet")
    a["energy"]["energy_per_limb"] = {"shoulder": {"Wh": 1.0}}
    b = pack("b", 1.0, engine="isaac")
    b["energy"]["energy_per_limb"] = {"elbow": {"Wh": 0.0}, "shoulder": {"Wh": 2.0}}
    write_task(data_root, [a, b])
    write_task(data_root, [a], store="subset")
    full = SkillDataPackAdapter(open_repo())
    part = SkillDataPackAdapter(open_repo("subset"))
    assert full.summarize_energy_usage(TASK, slice={"engine_type": "pybullet"}) == part.summarize_energy_usage(TASK)


# =========================================================================== reference fixture

def test_drawer_vase_fixture(adapter, data_root, tmp_path):
    path = copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    assert len(recs) == 600
    same(adapter.get_all_skills_performance(TASK), {s: b_stats(recs, s) for s in known(recs)})
    st4 = adapter.get_skill_statistics(TASK, 4)
    assert st4["total_usage"] == len(q(recs, "positive", 4)) + len(q(recs, "negative", 4))
    contributed = [d for d in recs if d["attribution"]["skill_contribs"]]
    assert contributed  # stored keys "0".."5" are read back as skill ids
    assert any(adapter.get_skill_statistics(TASK, s)["skill_delta_mpl_mean"] is not None for s in range(6))
    m = adapter.compute_skill_value_matrix(TASK)
    values, counts, skipped = b_matrix(recs, known(recs))
    same(m.values, values)
    assert (m.counts, m.skipped_entries) == (counts, skipped)
    for bucket in ("positive", "negative"):
        same(adapter.get_skill_sequence_patterns(TASK, bucket), b_patterns(recs, bucket))
    same(adapter.get_skill_training_data(TASK, 3), b_training(recs, 3))
    same(adapter.get_skill_failure_modes(TASK, 4), b_failures(recs, 4))
    for tags in ([], ["offset_vase"], ["has_offset"], ["fragile"]):
        got = adapter.recommend_skill_for_condition(TASK, tags)
        want = b_recommend(recs, tags)
        assert [s for s, _ in got] == [s for s, _ in want] and [m for _, m in got] == pytest.approx(
            [m for _, m in want])
    same(adapter.get_env_type_statistics(TASK), b_env(recs))
    same(adapter.summarize_energy_usage(TASK), b_energy(recs))
    assert [(p.pack_id, n.pack_id) for p, n in adapter.extract_contrastive_pairs(TASK, 4)] == b_pairs(recs, 4)
    got = [dict(lv, datapacks=ids(lv["datapacks"])) for lv in adapter.generate_skill_curriculum(TASK, 4)]
    same(got, b_curriculum(recs, 4))
    assert adapter.get_datapack_ids_for_skill(TASK, 2) == [d["pack_id"] for d in q(recs, None, 2)]
    report = adapter.export_skill_report(TASK, tmp_path / "fixture_report.json")
    assert json.loads((tmp_path / "fixture_report.json").read_text()) == report


# =========================================================================== catalogues

def test_catalogues_default_and_configured(open_repo, data_root):
    recs = [pack("a", 1.0, skills=(0, 1), task="dishwashing"), pack("b", 2.0, skills=(0,), task="isaac_drawer")]
    write_task(data_root, recs[:1], task="dishwashing")
    write_task(data_root, recs[1:], task="isaac_drawer")
    default = SkillDataPackAdapter(open_repo())
    assert default.get_skill_statistics("dishwashing", 0)["skill_name"] == "EPISODE"
    assert default.get_skill_statistics("dishwashing", 1)["skill_name"] == "UNKNOWN"
    assert default.compute_skill_value_matrix("dishwashing").skill_names == ["EPISODE", "UNKNOWN"]
    configured = SkillDataPackAdapter(open_repo(skill_catalogues={"isaac_drawer": CATALOGUE}))
    assert list(configured.get_all_skills_performance("isaac_drawer")) == [0, 1, 2, 3, 4, 5]
    assert configured.get_skill_statistics("isaac_drawer", 0)["skill_name"] == "LOCATE_DRAWER"
    assert configured.get_skill_statistics("dishwashing", 0)["skill_name"] == "EPISODE"


# =========================================================================== argument errors

def test_argument_errors(adapter, gen):
    a = adapter
    for bad_task in ("../etc", "a b", "", None, "a..b"):
        assert_invalid(lambda: a.get_skill_statistics(bad_task, 1), "TASK_NAME_INVALID")
        assert_invalid(lambda: a.summarize_energy_usage(bad_task), "TASK_NAME_INVALID")
        assert_invalid(lambda: a.query_by_source_type(bad_task, "real"), "TASK_NAME_INVALID")
    for bad in (-1, True, "3", 3.0, None):
        assert_invalid(lambda: a.get_skill_statistics(TASK, bad), "ARGUMENT_INVALID", "skill_id")
        assert_invalid(lambda: a.get_datapack_ids_for_skill(TASK, bad), "ARGUMENT_INVALID", "skill_id")
        assert_invalid(lambda: a.generate_skill_curriculum(TASK, bad), "ARGUMENT_INVALID", "skill_id")
    for bad in ("other", None, "Positive"):
        assert_invalid(lambda: a.get_skill_training_data(TASK, 3, bucket=bad), "ARGUMENT_INVALID", "bucket")
        assert_invalid(lambda: a.get_skill_sequence_patterns(TASK, bucket=bad), "ARGUMENT_INVALID", "bucket")
    assert_invalid(lambda: a.get_datapack_ids_for_skill(TASK, 3, bucket="other"), "ARGUMENT_INVALID", "bucket")
    for bad in (0, -3, 2.5, True, "10"):
        assert_invalid(lambda: a.get_skill_training_data(TASK, 3, top_k=bad), "LIMIT_INVALID", "top_k")
        assert_invalid(lambda: a.get_skill_failure_modes(TASK, 3, top_k=bad), "LIMIT_INVALID", "top_k")
        assert_invalid(lambda: a.get_skill_sequence_patterns(TASK, top_k=bad), "LIMIT_INVALID", "top_k")
        assert_invalid(lambda: a.extract_contrastive_pairs(TASK, 3, n_pairs=bad), "LIMIT_INVALID", "n_pairs")
        assert_invalid(lambda: a.query_by_energy_driver_tags(TASK, ["x"], limit=bad), "LIMIT_INVALID", "limit")
        assert_invalid(lambda: a.query_by_attribution_ranges(TASK, limit=bad), "LIMIT_INVALID", "limit")
        assert_invalid(lambda: a.query_by_source_type(TASK, "real", limit=bad), "LIMIT_INVALID", "limit")
    for bad in (0, -1, True, 2.0, None):
        assert_invalid(lambda: a.generate_skill_curriculum(TASK, 3, n_levels=bad), "ARGUMENT_INVALID", "n_levels")
    for bad in ("offset_vase", [""], [1], None, ["a", None]):
        assert_invalid(lambda: a.recommend_skill_for_condition(TASK, bad), "ARGUMENT_INVALID", "condition_tags")
    for bad in ("energy_driver:a", [1], None):
        assert_invalid(lambda: a.query_by_energy_driver_tags(TASK, bad), "ARGUMENT_INVALID", "energy_tags")
    assert_invalid(lambda: a.query_by_energy_driver_tags(TASK, [], match_all="yes"), "ARGUMENT_INVALID",
                   "match_all")
    for kw in (dict(min_delta_mpl=float("nan")), dict(max_delta_ep=float("inf")), dict(min_delta_error="1"),
               dict(max_trust=None), dict(min_trust=True), dict(bucket="x")):
        assert_invalid(lambda: a.query_by_attribution_ranges(TASK, **kw), "ARGUMENT_INVALID")
    assert_invalid(lambda: a.get_skill_training_data(TASK, 3, min_trust=float("nan")), "ARGUMENT_INVALID",
                   "min_trust")
    assert_invalid(lambda: a.query_by_source_type(TASK, "simulated"), "ARGUMENT_INVALID", "source_type")
    assert_invalid(lambda: a.get_env_type_statistics(TASK, slice={"no_such_filter": 1}), "ARGUMENT_INVALID", "slice")
    assert_invalid(lambda: a.get_env_type_statistics(TASK, slice=["bucket"]), "ARGUMENT_INVALID", "slice")
    assert_invalid(lambda: a.get_env_type_statistics(TASK, slice={"bucket": "x"}), "ARGUMENT_INVALID", "bucket")
    assert_invalid(lambda: a.get_env_type_statistics(TASK, slice={"condition_filters": {"tags": {}}}),
                   "CONDITION_FILTER_INVALID")
    for bad in (None, 3, "", b"x.json"):
        assert_invalid(lambda: a.export_skill_report(TASK, bad), "ARGUMENT_INVALID", "output_path")
    # A valid but unknown skill id is allowed and gives empty results.
    assert a.get_skill_training_data(TASK, 99) == [] and a.get_skill_failure_modes(TASK, 99) == []
    assert a.get_datapack_ids_for_skill(TASK, 99) == [] and a.generate_skill_curriculum(TASK, 99) == []
    assert a.extract_contrastive_pairs(TASK, 99) == []


def test_results_are_plain_python_types(adapter, gen):
    st = adapter.get_skill_statistics(TASK, 3)
    assert [type(st[k]) for k in ("total_usage", "positive_count", "negative_count")] == [int] * 3
    assert all(type(st[k]) is float for k in ("success_rate", "delta_j_mean", "delta_j_std", "delta_j_min",
                                               "delta_j_max", "trust_mean", "w_econ_mean", "skill_delta_mpl_mean"))
    env = next(iter(adapter.get_env_type_statistics(TASK).values()))
    assert [type(v) for v in env.values()] == [int, int, int] + [float] * 7
    energy = adapter.summarize_energy_usage(TASK)
    assert type(energy["n_packs"]) is int and all(type(v) is float for v in energy["limb_totals"].values())
    lv = adapter.generate_skill_curriculum(TASK, 3)[0]
    assert type(lv["level"]) is int and type(lv["n_samples"]) is int and type(lv["difficulty"]) is float
    assert all(type(p) is DataPackMeta for p in lv["datapacks"])
    assert all(type(x) is str for x in adapter.get_datapack_ids_for_skill(TASK, 3))
