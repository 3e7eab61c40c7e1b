"""Compatibility with lines written by the earlier library (docs/schema.md §12 items
1-5 and 7), through the embedded repository and through the client.

Every comparison of JSON values here is strict: same keys in the same order,
same literal kinds (an int is never a float), same values.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import pathlib
import uuid

import pytest

from .jsoncheck import assert_json_same

try:
    from .aio_bridge import AsyncClientBridge
    from .conftest import FIXTURES, STORE, copy_fixture, make_pack
    from .test_parity_append import EXAMPLE_LINE, EXAMPLE_SHA256
except ImportError:  # tests/ not a package
    from aio_bridge import AsyncClientBridge
    from conftest import FIXTURES, STORE, copy_fixture, make_pack
    from test_parity_append import EXAMPLE_LINE, EXAMPLE_SHA256
from datapack_client import DataPackMeta, connect
from datapack_client.errors import InvalidArgumentError
from datapack_server import DataPackRepo

TASK = "drawer_vase"
DV = "drawer_vase_datapacks.jsonl"
DW = "dishwashing_datapacks.jsonl"
TOP_KEYS = list(json.loads(EXAMPLE_LINE))  # the 41 keys in schema order
DATAPACK_NS = uuid.UUID("9b9ead8b-d525-553f-a45f-749563df224f")


# --------------------------------------------------------------------------- helpers

def task_path(data_root, task=TASK, store=STORE):
    return pathlib.Path(data_root) / store / f"{task}_datapacks.jsonl"


def raw_lines(path) -> list[str]:
    return pathlib.Path(path).read_text().splitlines()


def sha(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def write_text_lines(path: pathlib.Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(x + "\n" for x in lines))


@contextlib.contextmanager
def other_store(repo, data_root, name):
    """The same mode as `repo`, on another store of the same data root."""
    if isinstance(repo, DataPackRepo):
        r = DataPackRepo(str(pathlib.Path(data_root) / name), create=True)
    else:
        r = (AsyncClientBridge if isinstance(repo, AsyncClientBridge) else connect)(repo.target, store=name, timeout=20)
    try:
        yield r
    finally:
        r.close()


def append_violations(d: dict) -> set[str]:
    """Which docs/repository.md §5 invariants a fixture line breaks (independent check
    of the rules these files can break; the files hold no other kind of problem)."""
    out = set()
    cf = d.get("counterfactual_plan")
    if d.get("bucket") == "negative" and not (type(cf) is dict and cf):
        out.add("COUNTERFACTUAL_REQUIRED")
    trace = d.get("skill_trace")
    if not trace:
        out.add("SKILL_TRACE_EMPTY")
    else:
        prev = None
        for e in trace:
            s, t = e.get("skill_id"), e.get("t")
            if type(s) is not int or s < 0:
                out.add("SKILL_ID_INVALID")
            if type(t) is not int or t < 0 or (prev is not None and t < prev):
                out.add("SKILL_TRACE_TIME_ORDER")
            prev = t if type(t) is int else prev
    if d.get("schema_version") not in ("2.0-energy", "2.1-portable", "2.2-repr"):
        out.add("SCHEMA_VERSION_UNKNOWN")
    dj = d["attribution"]["delta_J"]
    if (dj >= 0) != (d["bucket"] == "positive"):
        out.add("BUCKET_SIGN_MISMATCH")
    a = d["attribution"]
    if a.get("wm_role") not in (None, "wm_train", "wm_eval", "wm_synth_source", "wm_synth_target"):
        out.add("ENUM_INVALID")
    if a.get("source_type") not in ("real", "synthetic", "hybrid"):
        out.add("ENUM_INVALID")
    if d["condition"].get("engine_type") not in ("pybullet", "isaac", "ue5"):
        out.add("ENUM_INVALID")
    for k in a.get("skill_contribs") or {}:
        if not (k.isdigit() and (k == "0" or k[0] != "0")):
            out.add("SKILL_CONTRIBS_KEY_INVALID")
    for name in ("coordination_metrics", "limb_energy_Wh", "skill_energy_Wh"):  # object: name -> number
        v = d["energy"].get(name)
        if type(v) is not dict or not all(type(x) in (int, float) for x in v.values()):
            out.add("FIELD_TYPE")
    return out


# --------------------------------------------------------------------------- item 1: the example line

def test_example_line_loads_unchanged_and_file_keeps_its_hash(repo, data_root):
    path = task_path(data_root)
    write_text_lines(path, [EXAMPLE_LINE])
    assert path.stat().st_size == 4939
    assert sha(path) == EXAMPLE_SHA256
    original = json.loads(EXAMPLE_LINE)
    recs = repo.load_all(TASK)
    assert len(recs) == 1
    dp = recs[0]
    assert_json_same(dp.to_dict(), original)
    assert_json_same(json.loads(dp.to_json()), original)
    assert_json_same(repo.get(TASK, "drawer_vase_scripted_0001").to_dict(), original)
    # served with these values (nothing recomputed on read)
    assert dp.pack_id == dp.brick_id == "drawer_vase_scripted_0001"
    assert dp.revision == 1
    assert dp.created_at == "2025-06-01T12:00:00.000000"
    assert dp.attribution.delta_J == 5.3 and dp.attribution.trust_score == 0.9
    assert dp.attribution.delta_error == -0.020000000000000004
    assert type(dp.attribution.tier) is int and dp.attribution.tier == 1
    assert dp.condition.objective_vector == [1.0, 1.0, 1.0]
    assert dp.condition.vase_offset == (0.0, 0.0, 0.0)
    assert dp.condition.tags == {"task": "drawer_vase", "tags": ["test"], "engine_type": "pybullet"}
    assert dp.get_skill_ids() == [0, 1, 3]
    assert dp.total_duration() == 45
    assert dp.skill_trace[2]["local_metrics"] == {"delta_mpl": 1.2}
    assert dp.sima_annotation.narration_count == 3
    assert dp.sima_annotation.average_narration_length == 18.0
    assert dp.vla_plan == {"instruction": "open the drawer carefully", "skill_sequence": [0, 1, 3],
                           "confidence": [0.9, 0.85, 0.88]}
    assert dp.energy.energy_per_joint["joint_1"] == {"Wh": 0.2, "torque_integral": 8.0}
    assert dp.episode_metrics["wage_parity"] == 0.9
    assert dp.episode_id is None and dp.objective_profile is None and dp.guidance_profile is None
    assert dp.extra == {}
    # more reads of every kind; the file keeps its bytes
    assert [p.pack_id for p in repo.query(TASK, objective_vector=[1, 1, 1, 0.5], skill_id=3)] == [dp.pack_id]
    assert repo.get_statistics(TASK)["total"] == 1
    assert [p.pack_id for p in repo.get_positive_for_skill(TASK, 1)] == [dp.pack_id]
    assert sha(path) == EXAMPLE_SHA256


# --------------------------------------------------------------------------- every fixture line loads unchanged

@pytest.mark.parametrize("name,task,count", [(DV, "drawer_vase", 600), (DW, "dishwashing", 100)])
def test_every_fixture_line_loads_unchanged(repo, data_root, name, task, count):
    path = copy_fixture(data_root, name)
    digest = sha(path)
    lines = raw_lines(path)
    assert len(lines) == count
    recs = repo.load_all(task)
    assert len(recs) == count
    for i, (rec, line) in enumerate(zip(recs, lines)):
        original = json.loads(line)
        assert rec.pack_id == original["pack_id"], i
        assert rec.revision == 1
        assert_json_same(rec.to_dict(), original, f"line{i + 1}")
        assert_json_same(json.loads(rec.to_json()), original, f"line{i + 1}.to_json")
        assert len(original) == 41 and list(original) == TOP_KEYS
    # the same through get() and iter_all()
    for line in lines[::37]:
        original = json.loads(line)
        assert_json_same(repo.get(task, original["pack_id"]).to_dict(), original)
    for rec, line in zip(repo.iter_all(task), lines):
        assert_json_same(rec.to_dict(), json.loads(line))
    assert sha(path) == digest  # never rewritten


def test_fixture_round_trip_through_from_json_and_from_dict():
    """DataPackMeta itself (used by both modes) keeps every line's value."""
    for name in (DV, DW):
        for line in raw_lines(FIXTURES / name):
            original = json.loads(line)
            assert_json_same(DataPackMeta.from_json(line).to_dict(), original)
            assert_json_same(DataPackMeta.from_dict(original).to_dict(), original)
            assert_json_same(json.loads(DataPackMeta.from_dict(original).to_json()), original)


# --------------------------------------------------------------------------- write-back

@pytest.mark.parametrize("name,task", [(DV, "drawer_vase"), (DW, "dishwashing")])
def test_write_back_to_a_fresh_store(repo, data_root, name, task):
    copy_fixture(data_root, name)
    lines = raw_lines(task_path(data_root, task))
    originals = [json.loads(x) for x in lines]
    recs = repo.load_all(task)
    assert len(recs) == len(originals)
    problems = [append_violations(d) for d in originals]
    valid = [r for r, p in zip(recs, problems) if not p]
    invalid = [(r, p) for r, p in zip(recs, problems) if p]
    valid_originals = [d for d, p in zip(originals, problems) if not p]
    assert valid and invalid
    with other_store(repo, data_root, "writeback") as out:
        res = out.append_batch(valid)
        assert [r.status for r in res] == ["created"] * len(valid)
        assert [r.pack_id for r in res] == [d["pack_id"] for d in valid_originals]
        new_path = task_path(data_root, task, "writeback")
        new_lines = [json.loads(x) for x in raw_lines(new_path)]
        assert len(new_lines) == len(valid)
        for i, (got, want) in enumerate(zip(new_lines, valid_originals)):
            assert_json_same(got, want, f"written[{i}]")
        for got, want in zip(out.load_all(task), valid_originals):
            assert_json_same(got.to_dict(), want)
        # idempotent: writing the same records again changes nothing
        before = sha(new_path)
        assert {r.status for r in out.append_batch(valid[:50])} == {"already_present"}
        assert sha(new_path) == before
    # the others still serialise to exactly their lines (the write-back format)
    for r, p, original in zip(recs, problems, originals):
        if p:
            assert_json_same(json.loads(r.to_json()), original)


@pytest.mark.parametrize("name,task", [(DV, "drawer_vase"), (DW, "dishwashing")])
def test_fixture_records_breaking_invariants_are_refused_with_every_violation(repo, data_root, name, task):
    """Stored records may break docs/repository.md §5; appending them elsewhere is refused
    as a whole, with every violation of every record (§4.1)."""
    copy_fixture(data_root, name)
    originals = [json.loads(x) for x in raw_lines(task_path(data_root, task))]
    recs = repo.load_all(task)
    problems = [append_violations(d) for d in originals]
    valid = [r for r, p in zip(recs, problems) if not p]
    invalid = [(r, p) for r, p in zip(recs, problems) if p]
    with other_store(repo, data_root, "writeback") as out:
        out.append_batch(valid[:5])
        new_path = task_path(data_root, task, "writeback")
        before = sha(new_path)
        with pytest.raises(InvalidArgumentError) as ei:
            out.append_batch([r for r, _ in invalid] + valid[5:10])
        by_index: dict[int, set] = {}
        for v in ei.value.violations:
            by_index.setdefault(v.index, set()).add(v.reason)
        assert set(by_index) == set(range(len(invalid)))
        for i, (_, expected) in enumerate(invalid):
            assert by_index[i] == expected, (i, by_index[i], expected)
        assert sha(new_path) == before
        assert len(out.load_all(task)) == 5


# --------------------------------------------------------------------------- item 2: unknown keys

def _example_with_unknown_keys(deep: bool) -> dict:
    d = json.loads(EXAMPLE_LINE)
    d["zz_future"] = {"a": 1}
    d["attribution"]["new_field"] = 7
    if deep:
        d["condition"]["cond_future"] = [1, 2.0, None]
        d["energy"]["e_future"] = None
        d["sima_annotation"]["s_future"] = True
        d["skill_trace"][1]["entry_future"] = {"x": 1}
        d["episode_metrics"]["m_future"] = 1e-05
        d["aa_second"] = [0, 0.0]
    return d


@pytest.mark.parametrize("deep", [False, True], ids=["spec-example", "deeper"])
def test_unknown_keys_survive_load_append_read(repo, data_root, deep):
    d = _example_with_unknown_keys(deep)
    path = task_path(data_root)
    write_text_lines(path, [json.dumps(d)])
    before = sha(path)
    recs = repo.load_all(TASK)
    assert len(recs) == 1
    rec = recs[0]
    assert_json_same(rec.to_dict(), d)
    assert list(rec.to_dict())[-1] == ("aa_second" if deep else "zz_future")
    assert list(rec.to_dict()["attribution"])[-1] == "new_field"
    extra = rec.extra
    assert extra["zz_future"] == {"a": 1}
    assert list(extra) == (["zz_future", "aa_second"] if deep else ["zz_future"])
    assert rec.attribution.extra == {"new_field": 7} and type(rec.attribution.extra["new_field"]) is int
    if deep:
        assert rec.condition.extra == {"cond_future": [1, 2.0, None]}
        assert rec.sima_annotation.extra == {"s_future": True}
    with other_store(repo, data_root, "writeback") as out:
        assert out.append(rec).status == "created"
        assert_json_same(json.loads(raw_lines(task_path(data_root, store="writeback"))[0]), d)
        back = out.get(TASK, rec.pack_id)
        assert_json_same(back.to_dict(), d)
        assert back.extra == extra
        assert out.append(back).status == "already_present"
    assert sha(path) == before
    assert len(repo.load_all(TASK)) == 1  # the task stays readable


def test_unknown_keys_on_a_new_record(repo, data_root):
    base = make_pack("new-unknown", created_at="2025-06-01T12:00:00.000000+00:00").to_dict()
    base["attribution"]["new_field"] = 7
    base["condition"]["cond_future"] = {"k": [1, 2.5]}
    base["zz_future"] = {"a": 1, "b": [1.0, 2]}
    rec = DataPackMeta.from_dict(base)
    assert rec.extra == {"zz_future": {"a": 1, "b": [1.0, 2]}}
    repo.append(rec)
    assert_json_same(json.loads(raw_lines(task_path(data_root))[0]), base)
    assert_json_same(repo.get(TASK, "new-unknown").to_dict(), base)


# --------------------------------------------------------------------------- item 3: literal kinds

KIND_FLOAT = 0.30000001192092896


def _check_kinds(d: dict):
    assert type(d["condition"]["drawer_friction"]) is int and d["condition"]["drawer_friction"] == 1
    assert type(d["attribution"]["tier"]) is int and d["attribution"]["tier"] == 2
    assert type(d["skill_trace"][0]["t"]) is int and d["skill_trace"][0]["t"] == 0
    assert type(d["attribution"]["trust_score"]) is float and d["attribution"]["trust_score"] == KIND_FLOAT
    assert d["condition"]["occlusion_level"] == KIND_FLOAT
    assert type(d["attribution"]["delta_J"]) is int and d["attribution"]["delta_J"] == 3
    assert type(d["attribution"]["delta_ep"]) is float and d["attribution"]["delta_ep"] == 0.0


def test_literal_kinds_of_a_stored_line(repo, data_root):
    d = json.loads(EXAMPLE_LINE)
    d["condition"]["drawer_friction"] = 1
    d["condition"]["occlusion_level"] = KIND_FLOAT
    d["attribution"]["tier"] = 2
    d["attribution"]["trust_score"] = KIND_FLOAT
    d["attribution"]["delta_J"] = 3
    d["attribution"]["delta_ep"] = 0.0
    write_text_lines(task_path(data_root), [json.dumps(d)])
    rec = repo.load_all(TASK)[0]
    _check_kinds(rec.to_dict())
    assert type(rec.condition.drawer_friction) is int and type(rec.attribution.tier) is int
    assert rec.attribution.trust_score == KIND_FLOAT
    assert_json_same(rec.to_dict(), d)
    with other_store(repo, data_root, "writeback") as out:
        out.append(rec)
        written = json.loads(raw_lines(task_path(data_root, store="writeback"))[0])
        _check_kinds(written)
        assert_json_same(written, d)
        _check_kinds(out.get(TASK, rec.pack_id).to_dict())


def test_literal_kinds_of_a_new_record(repo, data_root):
    p = make_pack("kinds-1", skills=(0, 1))
    p.condition.drawer_friction = 1
    p.condition.occlusion_level = KIND_FLOAT
    p.attribution.tier = 2
    p.attribution.trust_score = KIND_FLOAT
    p.attribution.delta_J = 3
    p.attribution.delta_ep = 0.0
    assert p.skill_trace[0]["t"] == 0
    repo.append(p)
    _check_kinds(json.loads(raw_lines(task_path(data_root))[0]))
    got = repo.get(TASK, "kinds-1")
    _check_kinds(got.to_dict())
    assert type(got.condition.drawer_friction) is int
    assert [x.pack_id for x in repo.query(TASK, condition_filters={"drawer_friction": 1.0})] == ["kinds-1"]


# --------------------------------------------------------------------------- item 4: skill_contribs keys

def test_skill_contribs_integer_keys_round_trip(repo, data_root):
    p = make_pack("contribs-1")
    p.attribution.skill_contribs = {4: {"delta_mpl": 1.0}, 0: {"delta_error": -0.05, "n": 2}}
    repo.append(p)
    stored = json.loads(raw_lines(task_path(data_root))[0])["attribution"]["skill_contribs"]
    assert_json_same(stored, {"4": {"delta_mpl": 1.0}, "0": {"delta_error": -0.05, "n": 2}})
    got = repo.get(TASK, "contribs-1")
    sc = got.attribution.skill_contribs
    assert sc == {4: {"delta_mpl": 1.0}, 0: {"delta_error": -0.05, "n": 2}}
    assert [type(k) for k in sc] == [int, int] and list(sc) == [4, 0]
    assert_json_same(got.to_dict()["attribution"]["skill_contribs"], stored)
    # string keys given on append are stored the same way
    q = make_pack("contribs-2")
    q.attribution.skill_contribs = {"4": {"delta_mpl": 1.0}}
    repo.append(q)
    assert list(repo.get(TASK, "contribs-2").attribution.skill_contribs) == [4]


def test_stored_non_canonical_skill_contribs_keys_stay_strings(repo, data_root):
    d = json.loads(EXAMPLE_LINE)
    d["attribution"]["skill_contribs"] = {"04": {"delta_mpl": 1.0}, "3": {"x": 2}, "grasp": {"y": 0.5}}
    write_text_lines(task_path(data_root), [json.dumps(d)])
    rec = repo.load_all(TASK)[0]
    sc = rec.attribution.skill_contribs
    assert list(sc) == ["04", 3, "grasp"]
    assert type(list(sc)[0]) is str and type(list(sc)[1]) is int
    assert sc["04"] == {"delta_mpl": 1.0} and sc[3] == {"x": 2}
    assert_json_same(rec.to_dict(), d)
    assert_json_same(json.loads(rec.to_json()), d)


# --------------------------------------------------------------------------- item 5: derived pack_id / created_at

DERIVED_ID_7 = "1932d95b-0779-5116-bfb5-84a502c4941f"
DERIVED_AT_7 = "1970-01-01T00:00:00.000007+00:00"


@pytest.mark.parametrize("variant", ["missing", "null", "empty"])
def test_line_7_without_pack_id_and_created_at(repo, data_root, variant):
    assert uuid.uuid5(uuid.NAMESPACE_URL, "urn:datapack-service") == DATAPACK_NS
    assert str(uuid.uuid5(DATAPACK_NS, f"line:{DV}:7")) == DERIVED_ID_7
    path = copy_fixture(data_root, DV)
    lines = raw_lines(path)
    d7 = json.loads(lines[6])
    if variant == "missing":
        del d7["pack_id"], d7["created_at"]
    elif variant == "null":
        d7["pack_id"] = d7["created_at"] = None
    else:
        d7["pack_id"] = d7["created_at"] = ""
    lines[6] = json.dumps(d7)
    write_text_lines(path, lines)
    before = sha(path)
    expected = json.loads(raw_lines(FIXTURES / DV)[6])
    expected["pack_id"] = DERIVED_ID_7
    expected["created_at"] = DERIVED_AT_7

    def check(n=600):
        recs = repo.load_all(TASK)
        assert len(recs) == n
        rec = recs[6]
        assert rec.pack_id == DERIVED_ID_7
        assert rec.created_at == DERIVED_AT_7
        assert_json_same(rec.to_dict(), expected)
        got = repo.get(TASK, DERIVED_ID_7)
        assert got.created_at == DERIVED_AT_7
        assert_json_same(got.to_dict(), expected)
        assert DERIVED_ID_7 in [p.pack_id for p in repo.query(TASK, limit=None, sort_by="delta_j")]

    check()
    check()
    repo.append(make_pack("after-line-7"))  # the file changes; the derived values do not
    check(601)
    assert sha(path) != before and raw_lines(path)[:600] == [x for x in lines]


# --------------------------------------------------------------------------- item 7: legacy-shaped lines

def _legacy():
    return json.loads((FIXTURES / "legacy_2_0_energy.json").read_text())


def test_legacy_lines_in_a_task_file_are_served_mapped(repo, data_root):
    legacy = _legacy()
    fixture = raw_lines(FIXTURES / DV)
    l1, l0, l2, l5 = legacy[1], legacy[0], legacy[2], legacy[5]
    assert l1["brick_id"] == "drawer_vase_legacy_0001" and l0["brick_id"] is None
    assert l2["env_type"] == "drawer_vase_arm" and l5["attribution"]["trust"] is None
    # physical lines: 1 normal, 2 legacy[1], 3 legacy[0], 4 normal, 5 legacy[2], 6 legacy[5]
    path = task_path(data_root)
    write_text_lines(path, [fixture[0], json.dumps(l1), json.dumps(l0), fixture[1], json.dumps(l2),
                            json.dumps(l5)])
    before = sha(path)
    recs = repo.load_all(TASK)
    assert len(recs) == 6
    assert_json_same(recs[0].to_dict(), json.loads(fixture[0]))
    assert_json_same(recs[3].to_dict(), json.loads(fixture[1]))

    def derived(line):
        return str(uuid.uuid5(DATAPACK_NS, f"line:{DV}:{line}"))

    cases = [(recs[1], l1, 2, "drawer_vase_legacy_0001"), (recs[2], l0, 3, derived(3)),
             (recs[4], l2, 5, derived(5)), (recs[5], l5, 6, "drawer_vase_legacy_0005")]
    for rec, leg, line_no, pid in cases:
        d = rec.to_dict()
        assert list(d)[:41] == TOP_KEYS
        assert rec.pack_id == pid
        assert rec.schema_version == "2.0-energy"
        assert rec.task_name == TASK
        assert rec.env_type == leg["env_type"]
        assert rec.brick_id == leg["brick_id"]
        assert rec.bucket == "positive"
        assert rec.semantic_tags == leg["tags"]
        assert rec.energy_driver_tags == leg["semantic_energy_drivers"]
        assert rec.econ_semantic_tags == leg["econ_semantic_tags"]
        assert rec.semantic_quality == leg["semantic_quality"]
        assert rec.agent_profile == leg["agent_profile"]
        assert_json_same(rec.episode_metrics, leg["episode_metrics"])
        c, econ = d["condition"], leg["econ_params"]
        assert c["task_name"] == leg["env_type"]
        assert c["engine_type"] == leg["condition_profile"].get("engine_type", "pybullet")
        assert c["world_id"] == leg["condition_profile"].get("world_id", "pyb_drawer_v1")
        assert c["econ_preset"] == econ["preset"]
        assert c["price_per_unit"] == econ["price_per_unit"]
        assert c["vase_break_cost"] == econ["damage_cost"]
        assert c["energy_price_kWh"] == 0.12
        assert_json_same(c["tags"], leg["condition_profile"])
        assert (c["vase_offset"], c["drawer_friction"], c["lighting_profile"], c["occlusion_level"]) == (
            [0.0, 0.0, 0.0], 0.3, "normal", 0.0)
        a, la = d["attribution"], leg["attribution"]
        for k in ("delta_mpl", "delta_error", "delta_ep"):
            assert_json_same(a[k], la[k])
        assert a["trust_score"] == la["trust"]                 # null stays null
        assert a["w_econ"] == (0.0 if la["econ_weight"] is None else la["econ_weight"])
        assert a["delta_J"] == 0.0 and a["source_type"] == "real" and a["tier"] == 1
        for k, v in leg["energy"].items():
            assert_json_same(d["energy"][k], v)
        assert rec.skill_trace == []
        assert rec.episode_id == leg["episode_id"]
        assert rec.created_at == f"1970-01-01T00:00:00.{line_no:06d}+00:00"
        for k in ("econ_params", "condition_profile", "tags", "semantic_energy_drivers", "media_refs"):
            assert k in rec.extra, k
            assert_json_same(rec.extra[k], leg[k])
        assert rec.counterfactual_plan is None and rec.sima_annotation is None
        assert_json_same(repo.get(TASK, pid).to_dict(), d)
    assert recs[5].attribution.trust_score is None
    # null trust counts as 0.0
    assert "drawer_vase_legacy_0005" in [p.pack_id for p in repo.query(TASK, limit=None)]
    assert "drawer_vase_legacy_0005" not in [p.pack_id for p in repo.query(TASK, min_trust=0.01, limit=None)]
    st = repo.get_statistics(TASK)
    assert st["total"] == 6
    trusts = [json.loads(fixture[0])["attribution"]["trust_score"], l1["attribution"]["trust"],
              l0["attribution"]["trust"], json.loads(fixture[1])["attribution"]["trust_score"],
              l2["attribution"]["trust"], 0.0]
    assert abs(st["trust_mean"] - sum(trusts) / 6) < 1e-12
    assert sha(path) == before


def test_legacy_only_file_stays_readable(repo, data_root):
    legacy = [e for e in _legacy() if e["env_type"] == "dishwashing"]
    path = task_path(data_root, "dishwashing")
    write_text_lines(path, [json.dumps(e) for e in legacy])
    recs = repo.load_all("dishwashing")
    assert len(recs) == len(legacy) == 8
    for i, (rec, leg) in enumerate(zip(recs, legacy)):
        want = leg["brick_id"] or str(uuid.uuid5(DATAPACK_NS, f"line:dishwashing_datapacks.jsonl:{i + 1}"))
        assert rec.pack_id == want
        assert rec.task_name == "dishwashing"
        assert rec.condition.vase_break_cost == leg["econ_params"]["damage_cost"]
        assert rec.extra["econ_params"] == leg["econ_params"]
