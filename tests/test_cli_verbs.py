"""`datapack query | stats | validate | import` (cli/query.py, stats.py, validate.py, importing.py): outputs and exit
codes, on a local store and through a server (--target), against what the
repository API says for the same arguments."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import uuid

import pytest

from datapack_client import connect
from datapack_client.records.schema import DATAPACK_NS
from datapack_client.records.validation import record_violations
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.cli.data import main as data_main
from datapack_server.cli.tables import format_table
from datapack_server.storage.lines import served_record

from .conftest import FIXTURES, STORE, copy_fixture, make_pack

TASK = "drawer_vase"
REF_FILE = "drawer_vase_datapacks.jsonl"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err):  # argparse writes usage errors to sys.stderr
            code = data_main(list(argv), out, err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def ref_store(data_root):
    copy_fixture(data_root, REF_FILE)
    return data_root


@pytest.fixture(params=["local", "remote"])
def where(request, ref_store):
    """(location options, an oracle repository) on the reference store: a local
    folder, or the same data root behind an in-process server."""
    oracle = DataPackRepo(str(ref_store / STORE))
    if request.param == "local":
        yield ["--data-dir", str(ref_store), "--store", STORE], oracle
    else:
        running = build_server(ServerConfig(data_dir=str(ref_store), port=0, max_workers=8, workers=0))
        yield ["--target", f"127.0.0.1:{running.port}", "--store", STORE], oracle
        running.stop(0)
    oracle.close()


# ------------------------------------------------------------------------------------------ query

def test_query_table_default_limit(where):
    loc, oracle = where
    code, out, err = run("query", *loc, "--task", TASK)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["pack_id", "bucket", "delta_J", "trust", "mvd", "engine", "source", "schema",
                                "skills"]
    expected = oracle.query(TASK)  # default limit 100, append order
    assert len(lines) == 1 + len(expected) == 101
    assert [line.split()[0] for line in lines[1:]] == [p.pack_id for p in expected]
    first = lines[1].split()
    assert first[1] == expected[0].bucket and float(first[2]) == pytest.approx(expected[0].attribution.delta_J,
                                                                              abs=1e-4)
    assert "100 pack(s) (the limit" in err


def test_query_json_filters_sort_equal_api(where):
    loc, oracle = where
    code, out, _ = run("query", *loc, "--task", TASK, "--json", "--bucket", "negative", "--engine-type", "pybullet",
                       "--min-trust", "0.5", "--max-delta-j", "-0.1", "--sort-by", "delta_j", "--ascending", "--all")
    assert code == 0
    got = json_lines(out)
    expected = oracle.query(TASK, bucket="negative", engine_type="pybullet", min_trust=0.5, max_delta_j=-0.1,
                            sort_by="delta_j", sort_descending=False, limit=None)
    assert expected
    assert [d["pack_id"] for d in got] == [p.pack_id for p in expected]
    # one full record per line: exactly the stored JSON object (artifacts left out by default)
    assert got[0] == expected[0].to_dict()
    assert [d["attribution"]["delta_J"] for d in got] == sorted(d["attribution"]["delta_J"] for d in got)


def test_query_condition_and_slice_options(where):
    loc, oracle = where
    code, out, _ = run("query", *loc, "--task", TASK, "--json", "--all", "--condition", "drawer_friction_min=0.3",
                       "--condition", "engine_type=isaac", "--condition", "lighting_profile=normal")
    assert code == 0
    expected = oracle.query(TASK, condition_filters={"drawer_friction_min": 0.3, "engine_type": "isaac",
                                                     "lighting_profile": "normal"}, limit=None)
    assert expected and [d["pack_id"] for d in json_lines(out)] == [p.pack_id for p in expected]

    code, out, _ = run("query", *loc, "--task", TASK, "--json", "--all", "--is-occluded",
                       "--schema-version", "2.1-portable", "--include-artifacts")
    expected = oracle.query(TASK, is_occluded=True, schema_version="2.1-portable", include_artifacts=True,
                            limit=None)
    got = json_lines(out)
    assert code == 0 and expected and [d["pack_id"] for d in got] == [p.pack_id for p in expected]
    assert got == [p.to_dict() for p in expected]
    assert any(d.get("scene_tracks_v1") is not None for d in got)  # artifacts asked for, so present

    code, out, _ = run("query", *loc, "--task", TASK, "--json", "--all", "--objective-vector", "1,1,1",
                       "--objective-similarity-threshold", "0.99", "--include-sima", "--skill-id", "3")
    expected = oracle.query(TASK, objective_vector=[1, 1, 1], objective_similarity_threshold=0.99,
                            include_sima=True, skill_id=3, limit=None)
    assert code == 0 and [d["pack_id"] for d in json_lines(out)] == [p.pack_id for p in expected]


def test_query_fields_and_limit(where):
    loc, oracle = where
    code, out, _ = run("query", *loc, "--task", TASK, "--json", "--limit", "5", "--sort-by", "trust_score",
                       "--fields", "pack_id,attribution.trust_score,skill_trace.0.skill_id,no.such")
    assert code == 0
    expected = oracle.query(TASK, sort_by="trust_score", limit=5)
    got = json_lines(out)
    assert [list(d) for d in got] == [["pack_id", "attribution.trust_score", "skill_trace.0.skill_id", "no.such"]] * 5
    assert [d["attribution.trust_score"] for d in got] == [p.attribution.trust_score for p in expected]
    assert all(d["no.such"] is None for d in got)
    code, out, _ = run("query", *loc, "--task", TASK, "--limit", "3", "--fields", "pack_id,condition.engine_type")
    assert code == 0 and out.splitlines()[0].split() == ["pack_id", "condition.engine_type"]
    assert len(out.splitlines()) == 4


def test_query_usage_errors(where, data_root):
    loc, _ = where
    # Exit statuses of every verb (cli/common.py): 2 usage, 1 a store that does not exist.
    assert run("query", *loc, "--task", TASK, "--bucket", "good")[0] == 2  # argparse choices
    code, _, err = run("query", *loc, "--task", TASK, "--condition", "colour=red")
    assert code == 2 and "CONDITION_FILTER_INVALID" in err
    assert run("query", *loc)[0] == 2  # --task is required
    code, _, err = run("query", "--task", TASK)
    assert code == 2 and "name the store" in err
    code, _, err = run("query", "--datapack-dir", str(data_root / "nope"), "--task", TASK)
    assert code == 1 and "NOT_FOUND DATA_DIR_NOT_FOUND" in err and str(data_root / "nope") in err
    code, _, err = run("query", "--datapack-dir", str(data_root), "--target", "127.0.0.1:1", "--task", TASK)
    assert code == 2 and "not both" in err
    assert run("query", *loc, "--task", TASK, "--limit", "0")[0] == 2


def test_query_through_the_datapack_command(ref_store):
    """Registered on the `datapack` entry point (a subprocess: the installed command's module)."""
    proc = subprocess.run([sys.executable, "-m", "datapack_server", "query", "--datapack-dir",
                           str(ref_store / STORE), "--task", TASK, "--bucket", "positive", "--limit", "7", "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json_lines(proc.stdout)
    assert len(got) == 7 and all(d["bucket"] == "positive" for d in got)


def test_format_table_fits_a_terminal():
    rows = [["a" * 40, "positive", "0.1234"], ["b" * 10, "negative", "-12.5000"]]
    lines = format_table(["pack_id", "bucket", "delta_J"], rows, max_width=40, right=(2,))
    assert all(len(line) <= 40 for line in lines)
    assert lines[1].startswith("a" * 5) and "…" in lines[1]
    assert lines[2].rstrip().endswith("-12.5000")
    kept = format_table(["pack_id", "bucket", "delta_J"], rows, max_width=40, right=(2,), keep=(0,))
    assert all(len(line) <= 40 for line in kept) and kept[1].startswith("a" * 21 + "…  ")  # the others went first
    assert kept[1].split()[1] == "posit…"
    wide = format_table(["pack_id", "bucket", "delta_J"], rows)
    assert wide[1].startswith("a" * 40) and "…" not in "".join(wide)


# ------------------------------------------------------------------------------------------ stats

def test_stats_plain_and_json(where):
    loc, oracle = where
    code, out, _ = run("stats", *loc, "--task", TASK, "--json")
    assert code == 0 and json.loads(out) == oracle.get_statistics(TASK)
    code, out, _ = run("stats", *loc, "--task", TASK, "--json", "--bucket", "positive", "--min-trust", "0.9")
    assert json.loads(out) == oracle.get_statistics(TASK, bucket="positive", min_trust=0.9)
    code, out, _ = run("stats", *loc, "--task", TASK)
    assert code == 0
    table = dict(line.split(None, 1) for line in out.splitlines())
    assert table["total"] == "600" and table["positive"] == "270" and table["negative"] == "330"
    assert table["engine_types"] == "pybullet 354, isaac 108, ue5 138"


def test_stats_by_engine_source_skill(where):
    loc, oracle = where
    for by, key, listing in (("engine", "engine_type", "engine_types"), ("source", "source_type", "source_types")):
        code, out, _ = run("stats", *loc, "--task", TASK, "--by", by, "--json")
        assert code == 0
        rows = json_lines(out)
        overall = oracle.get_statistics(TASK)
        assert [r[key] for r in rows] == list(overall[listing])
        for r in rows:
            assert r["total"] == overall[listing][r[key]]
            assert {k: v for k, v in r.items() if k != key} == oracle.get_statistics(TASK, **{key: r[key]})
    code, out, _ = run("stats", *loc, "--task", TASK, "--by", "skill", "--json", "--bucket", "positive")
    rows = json_lines(out)
    assert [r["skill_id"] for r in rows] == oracle.get_statistics(TASK, bucket="positive")["unique_skills"]
    (grasp,) = [r for r in rows if r["skill_id"] == 3]
    assert grasp["skill_name"] == "GRASP_HANDLE"
    assert grasp["total"] == len(oracle.query(TASK, bucket="positive", skill_id=3, limit=None))
    code, out, _ = run("stats", *loc, "--task", TASK, "--by", "engine")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["engine_type", "total", "positive"]
    assert [line.split()[:2] for line in lines[1:4]] == [
        [e, str(n)] for e, n in oracle.get_statistics(TASK)["engine_types"].items()]
    assert lines[4] == "all: 600 pack(s)"
    assert run("stats", *loc, "--task", TASK, "--by", "engine", "--engine-type", "isaac")[0] == 2


# ------------------------------------------------------------------------------------------ validate

def _lines_with_violations(path) -> dict[int, list[str]]:
    """Oracle: line number -> reasons of record_violations (the fixture has no repeated ids)."""
    out = {}
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            rec = served_record(json.loads(raw), os.path.basename(path), n, TASK)
            reasons = list(dict.fromkeys(v.reason for v in record_violations(rec, check_free_finite=True)))
            if reasons:
                out[n] = reasons
    return out


def test_validate_reference_store(ref_store):
    path = ref_store / STORE / REF_FILE
    code, out, _ = run("validate", "--data-dir", str(ref_store), "--json")
    assert code == 1
    findings = json_lines(out)
    expected = _lines_with_violations(path)
    assert {f["line"]: f["reasons"] for f in findings} == expected
    assert all(f["file"] == str(path) and f["revision"] == 1 for f in findings)
    counts = {}
    for f in findings:
        for r in f["reasons"]:
            counts[r] = counts.get(r, 0) + 1
    # tests/fixtures/reference/README.md: 170 negative packs without a plan, 82 empty traces
    assert counts["COUNTERFACTUAL_REQUIRED"] == 170 and counts["SKILL_TRACE_EMPTY"] == 82
    code, out, _ = run("validate", "--datapack-dir", str(ref_store / STORE), "--task", TASK)
    lines = out.splitlines()
    assert code == 1 and len(lines) == len(expected) + 1
    assert lines[-1] == f"datapack validate: 1 file(s), 600 line(s), {len(expected)} finding(s)"


def test_validate_planted_lines(data_root):
    store = data_root / STORE
    with DataPackRepo(str(store), create=True) as repo:
        repo.append_batch([make_pack(f"ok-{i}", delta_j=0.5 - i * 0.3) for i in range(4)])
    path = store / f"{TASK}_datapacks.jsonl"
    code, out, _ = run("validate", "--data-dir", str(data_root), "--store", STORE)
    assert code == 0 and out.strip() == "datapack validate: 1 file(s), 4 line(s), 0 finding(s)"
    lines = path.read_bytes().splitlines(keepends=True)
    bad = json.loads(lines[0])
    bad["pack_id"], bad["bucket"] = "planted", "negative"  # ΔJ 0.5 with bucket negative, and no plan
    legacy = json.loads((FIXTURES / "legacy_2_0_energy.json").read_text())[0]
    with open(path, "ab") as fh:
        fh.write(json.dumps(bad).encode() + b"\n")  # line 5
        fh.write(b"{not json\n")  # line 6
        fh.write(lines[1])  # line 7: a redundant duplicate of line 2
        changed = json.loads(lines[2])
        changed["semantic_tags"] = ["edited"]
        fh.write(json.dumps(changed).encode() + b"\n")  # line 8: same id, other content, no _revision
        fh.write(json.dumps(legacy).encode() + b"\n")  # line 9
        fh.write(b'{"pack_id": "torn"')  # torn tail
    code, out, _ = run("validate", str(path), "--json")
    assert code == 1
    got = {f["line"]: f for f in json_lines(out)}
    assert sorted(got) == [5, 6, 7, 8, 9, 10]
    assert got[5]["pack_id"] == "planted" and got[5]["revision"] == 1
    assert set(got[5]["reasons"]) == {"BUCKET_SIGN_MISMATCH", "COUNTERFACTUAL_REQUIRED"}
    assert {d["field"] for d in got[5]["details"]} == {"bucket", "counterfactual_plan"}
    assert got[6]["reasons"] == ["CORRUPT_LINE"] and got[6]["pack_id"] is None
    assert got[7]["reasons"] == ["DUPLICATE_LINE"] and got[7]["pack_id"] == "ok-1"
    assert got[8]["reasons"] == ["DUPLICATE_PACK_ID"] and got[8]["revision"] == 2
    assert got[9]["reasons"][:3] == ["LEGACY_SHAPE", "DERIVED_PACK_ID", "DERIVED_CREATED_AT"]
    assert "SKILL_TRACE_EMPTY" in got[9]["reasons"]
    assert got[10]["reasons"] == ["TORN_TAIL"]
    assert all(f["file"] == str(path) for f in got.values())
    code, out, _ = run("validate", str(path), "--verbose")
    assert code == 1
    assert f"{path}:5 planted BUCKET_SIGN_MISMATCH,COUNTERFACTUAL_REQUIRED" in out.splitlines() or \
        f"{path}:5 planted COUNTERFACTUAL_REQUIRED,BUCKET_SIGN_MISMATCH" in out.splitlines()
    assert "    counterfactual_plan: COUNTERFACTUAL_REQUIRED: " in out
    # the store reads the same file the same way: the served packs are those validate names
    with DataPackRepo(str(store)) as repo:
        assert {p.pack_id for p in repo.load_all(TASK)} >= {"planted", "ok-0", "ok-1", "ok-2", "ok-3"}
        assert repo.get(TASK, "ok-2").revision == 2


def test_validate_usage_errors(data_root, tmp_path):
    assert run("validate")[0] == 2
    assert run("validate", str(tmp_path / "missing.jsonl"))[0] == 2  # an input file that does not exist
    assert run("validate", "--data-dir", str(tmp_path / "nope"))[0] == 1  # a store location that does not exist
    (data_root / STORE).mkdir()
    code, _, err = run("validate", "--datapack-dir", str(data_root / STORE), "--task", "nothing_here")
    assert code == 1 and "NOT_FOUND TASK_NOT_FOUND: no task 'nothing_here'" in err
    assert run("validate", "--data-dir", str(data_root), "--store", "../up")[0] == 2


# ------------------------------------------------------------------------------------------ import

def _expected_import(path) -> tuple[int, dict[str, int]]:
    """Oracle: records of a reference file that a store accepts, and rejections per reason."""
    accepted, reasons = 0, {}
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            rec = served_record(json.loads(raw), os.path.basename(path), n, "x")
            found = {v.reason for v in record_violations(rec, check_free_finite=True)}
            accepted += not found
            for r in found:
                reasons[r] = reasons.get(r, 0) + 1
    return accepted, reasons


@pytest.fixture(params=["local", "remote"])
def target(request, data_root):
    if request.param == "local":
        yield ["--data-dir", str(data_root), "--store", "imported"]
    else:
        running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=8, workers=0))
        yield ["--target", f"127.0.0.1:{running.port}", "--store", "imported"]
        running.stop(0)


def test_import_reference_files_idempotent(target, data_root):
    files = [str(FIXTURES / REF_FILE), str(FIXTURES / "dishwashing_datapacks.jsonl")]
    code, out, _ = run("import", *files, *target, "--json", "--batch-size", "64")
    assert code == 1  # the earlier library stored records a writer refuses today
    first = json_lines(out)
    for report, path, total in zip(first, files, (600, 100)):
        accepted, reasons = _expected_import(path)
        assert report["file"] == path and report["read"] == total and report["superseded"] == 0
        assert report["created"] == accepted and report["already_present"] == 0
        assert report["rejected"] == total - accepted == len(report["rejections"])
        got_reasons = {}
        for rej in report["rejections"]:
            assert rej["where"].startswith("line ") and rej["details"]
            for r in rej["reasons"]:
                got_reasons[r] = got_reasons.get(r, 0) + 1
        assert got_reasons == reasons
    # tests/fixtures/reference/README.md: 170 negative packs without a plan, 82 empty traces
    assert _expected_import(files[0])[1]["COUNTERFACTUAL_REQUIRED"] == 170
    assert _expected_import(files[0])[1]["SKILL_TRACE_EMPTY"] == 82
    with connect_or_open(target, data_root) as repo:
        assert repo.get_statistics("drawer_vase")["total"] == first[0]["created"]
        assert repo.get_statistics("dishwashing")["total"] == first[1]["created"]
        some = repo.query("drawer_vase", limit=1)[0].to_dict()
    lines = FIXTURES.joinpath(REF_FILE).read_text().splitlines()
    stored = {json.loads(line)["pack_id"]: json.loads(line) for line in lines}
    assert some == stored[some["pack_id"]]  # lossless, created_at included
    code, out, _ = run("import", *files, *target, "--json")
    again = json_lines(out)
    assert code == 1
    for a, b in zip(first, again):
        assert (b["created"], b["already_present"], b["rejected"]) == (0, a["created"], a["rejected"])
    code, out, _ = run("import", files[0], *target, "--show-rejected", "2")
    lines = out.splitlines()
    assert code == 1 and lines[0] == (f"{files[0]}: read 600, created 0, already_present {first[0]['created']}, "
                                      f"superseded 0, rejected {first[0]['rejected']}")
    assert lines[1].startswith("  rejected by reason: ") and "COUNTERFACTUAL_REQUIRED 170" in lines[1]
    assert lines[2].startswith("  line ") and lines[-1].startswith(f"  ... {first[0]['rejected'] - 2} more")


@contextlib.contextmanager
def connect_or_open(target, data_root):
    if target[0] == "--target":
        c = connect(target[1], store="imported", timeout=20)
        yield c
        c.close()
    else:
        with DataPackRepo(str(data_root / "imported")) as r:
            yield r


def test_import_legacy_and_unified_json_arrays(target, data_root, tmp_path):
    legacy = str(FIXTURES / "legacy_2_0_energy.json")
    code, out, _ = run("import", legacy, *target, "--json")
    (report,) = json_lines(out)
    # docs/schema.md §10.2: a mapped legacy dict has an empty skill trace, so the store refuses it
    assert code == 1 and report["read"] == 20 and report["created"] == 0 and report["rejected"] == 20
    assert all("SKILL_TRACE_EMPTY" in r["reasons"] for r in report["rejections"])
    assert [r["where"] for r in report["rejections"]] == [f"[{i}]" for i in range(20)]
    with open(legacy) as fh:
        items = json.load(fh)
    assert [r["pack_id"] for r in report["rejections"]] == [
        d["brick_id"] or str(uuid.uuid5(DATAPACK_NS, f"import:legacy_2_0_energy.json:{i}"))
        for i, d in enumerate(items)]

    packs = [make_pack(f"arr-{i}", delta_j=1.0 - i) for i in range(5)]
    array = tmp_path / "export.json"
    array.write_text(json.dumps([p.to_dict() for p in packs] + [{"pack_id": "bad", "bucket": "sideways"}, 7],
                                indent=2))
    code, out, _ = run("import", str(array), *target, "--json")
    (report,) = json_lines(out)
    assert code == 1 and (report["read"], report["created"], report["rejected"]) == (7, 5, 2)
    assert [r["where"] for r in report["rejections"]] == ["[5]", "[6]"]
    assert "BUCKET_INVALID" in report["rejections"][0]["reasons"]
    good = tmp_path / "good.json"
    good.write_text(json.dumps([p.to_dict() for p in packs]))
    code, out, _ = run("import", str(good), *target)
    assert code == 0 and out.splitlines() == [
        f"{good}: read 5, created 0, already_present 5, superseded 0, rejected 0"]
    with connect_or_open(target, data_root) as repo:
        assert [p.pack_id for p in repo.query(TASK, limit=None)] == [f"arr-{i}" for i in range(5)]


def test_import_jsonl_keeps_current_revisions(data_root, tmp_path):
    src = tmp_path / "src"
    with DataPackRepo(str(src), create=True) as repo:
        repo.append_batch([make_pack(f"r-{i}") for i in range(3)])
        repo.update_training_usage(TASK, ["r-1"], wm_role="wm_eval", add_training_runs=["run_7"])
    path = src / f"{TASK}_datapacks.jsonl"
    code, out, _ = run("import", str(path), "--datapack-dir", str(data_root / "copy"))
    assert code == 0 and out.splitlines() == [f"{path}: read 4, created 3, already_present 0, superseded 1, rejected 0"]
    with DataPackRepo(str(data_root / "copy")) as repo:
        got = repo.get(TASK, "r-1")
        assert got.attribution.wm_role == "wm_eval" and got.attribution.used_in_training_runs == ["run_7"]


def test_import_usage_errors(data_root, tmp_path):
    assert run("import", str(tmp_path / "none.jsonl"), "--datapack-dir", str(data_root))[0] == 2
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    code, _, err = run("import", str(broken), "--datapack-dir", str(data_root / "x"))
    assert code == 1 and "not a JSON array" in err  # a file that cannot be read: a failure
    assert run("import", "--datapack-dir", str(data_root))[0] == 2  # no FILE


def test_corrupt_jsonl_line_is_rejected_not_fatal(data_root, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(make_pack("m-1").to_json() + "\n{oops\n\n" + make_pack("m-2").to_json() + "\n")
    code, out, _ = run("import", str(path), "--datapack-dir", str(data_root / "m"), "--json")
    (report,) = json_lines(out)
    assert code == 1 and (report["read"], report["created"], report["rejected"]) == (3, 2, 1)
    assert report["rejections"][0]["where"] == "line 2" and report["rejections"][0]["reasons"] == ["CORRUPT_LINE"]
