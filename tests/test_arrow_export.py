"""`datapack export --format parquet|arrow|jsonl|csv` and datapack_client.frames
(to_arrow / to_pandas): the files read back with DuckDB, pandas and pyarrow
give the counts and aggregates the repository API reports."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys

import orjson
import pytest

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
duckdb = pytest.importorskip("duckdb")

from datapack_client import frames
from datapack_server import DataPackRepo
from datapack_server.api.app import ServerConfig, build_server
from datapack_client.records.schema import ARTIFACT_KEYS
from datapack_server.service.arrow_export import export_packs, write_table
from datapack_server.cli.data import main as data_main

from .conftest import FIXTURES, STORE, copy_fixture, make_pack

TASK = "drawer_vase"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            code = data_main(list(argv), out, err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def ref_store(data_root):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    return data_root


@pytest.fixture(params=["local", "remote"])
def where(request, ref_store):
    oracle = DataPackRepo(str(ref_store / STORE))
    if request.param == "local":
        yield ["--datapack-dir", str(ref_store / STORE)], oracle
    else:
        running = build_server(ServerConfig(data_dir=str(ref_store), port=0, max_workers=8, workers=0))
        yield ["--target", f"127.0.0.1:{running.port}", "--store", STORE], oracle
        running.stop(0)
    oracle.close()


def test_parquet_export_read_by_duckdb_and_pandas(where, tmp_path):
    loc, oracle = where
    out_path = tmp_path / "out" / "drawer_vase.parquet"
    code, out, err = run("export", *loc, "--task", TASK, "--format", "parquet", "--out", str(out_path), "--json")
    assert code == 0, err
    summary = json.loads(out)
    stats = oracle.get_statistics(TASK)
    assert summary["rows"] == stats["total"] == 600 and summary["bytes"] == out_path.stat().st_size
    assert [n for n in os.listdir(out_path.parent)] == ["drawer_vase.parquet"]  # no temporary file left

    con = duckdb.connect()
    src = f"read_parquet('{out_path}')"
    assert con.execute(f"select count(*) from {src}").fetchone()[0] == 600
    per_bucket = {b: (n, m) for b, n, m in con.execute(
        f"select bucket, count(*), avg(delta_j) from {src} group by bucket").fetchall()}
    for bucket in ("positive", "negative"):
        s = oracle.get_statistics(TASK, bucket=bucket)
        assert per_bucket[bucket][0] == s["total"]
        assert per_bucket[bucket][1] == pytest.approx(s["delta_j_mean"], rel=1e-12, abs=1e-12)
    trust_mean, dj_min, dj_max = con.execute(f"select avg(trust_score), min(delta_j), max(delta_j) from {src}").fetchone()
    assert trust_mean == pytest.approx(stats["trust_mean"], rel=1e-12)
    assert (dj_min, dj_max) == (stats["delta_j_min"], stats["delta_j_max"])
    # struct columns: the nested profile as stored
    engines = dict(con.execute(f"select condition.engine_type, count(*) from {src} group by 1").fetchall())
    assert engines == stats["engine_types"]
    assert con.execute(f"select count(*) from {src} where list_contains(skill_ids, 3)").fetchone()[0] == \
        len(oracle.query(TASK, skill_id=3, limit=None))
    assert con.execute(f"select count(*) from {src} where has_counterfactual and bucket = 'negative'").fetchone()[0] \
        == stats["with_counterfactual"]
    # free-form objects are JSON text
    reasons = dict(con.execute(f"select json_extract_string(episode_metrics, '$.termination_reason') r, count(*) "
                               f"from {src} group by r").fetchall())
    assert reasons["success"] == 104  # tests/fixtures/reference/README.md: builder packs terminated with success

    df = pd.read_parquet(out_path)
    assert len(df) == 600 and list(df["pack_id"]) == [p.pack_id for p in oracle.query(TASK, limit=None)]
    means = df.groupby("bucket")["delta_j"].mean()
    assert means["positive"] == pytest.approx(oracle.get_statistics(TASK, bucket="positive")["delta_j_mean"])
    first = oracle.query(TASK, limit=1)[0]
    assert df.iloc[0]["attribution"]["delta_J"] == first.attribution.delta_J
    assert json.loads(df.iloc[0]["skill_trace"]) == first.to_dict()["skill_trace"]


def test_arrow_ipc_export_with_filters_replaces_atomically(where, tmp_path):
    loc, oracle = where
    out_path = tmp_path / "exports" / "slice.arrow"
    code, out, _ = run("export", *loc, "--task", TASK, "--format", "arrow", "--out", str(out_path),
                       "--bucket", "positive", "--engine-type", "isaac", "--sort-by", "delta_j")
    assert code == 0 and out.startswith("wrote ")
    expected = oracle.query(TASK, bucket="positive", engine_type="isaac", sort_by="delta_j", limit=None)
    with pa.OSFile(str(out_path), "rb") as fh:
        table = pa.ipc.open_file(fh).read_all()
    assert table.column("pack_id").to_pylist() == [p.pack_id for p in expected]
    assert table.column("delta_j").to_pylist() == [p.attribution.delta_J for p in expected]
    assert set(table.column("engine_type").to_pylist()) == {"isaac"}
    code, _, _ = run("export", *loc, "--task", TASK, "--format", "arrow", "--out", str(out_path), "--limit", "3")
    with pa.OSFile(str(out_path), "rb") as fh:
        assert pa.ipc.open_file(fh).read_all().num_rows == 3
    assert os.listdir(out_path.parent) == ["slice.arrow"]


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    path = tmp_path / "keep.parquet"
    write_table(frames.to_arrow([make_pack("a").to_dict()]), str(path), "parquet")
    before = path.read_bytes()

    def broken(table, where, **kw):
        with open(where, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError):
        write_table(frames.to_arrow([make_pack("b").to_dict()]), str(path), "parquet")
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["keep.parquet"]


def test_to_arrow_columns_and_lenient_values():
    good = make_pack("g-1", delta_j=-0.5, skills=(0, 3))
    good.attribution.mvd_score = 0.25
    odd = make_pack("odd").to_dict()
    odd["attribution"]["trust_score"] = "high"  # wrong type in an old line
    odd["attribution"]["delta_J"] = None
    odd["skill_trace"].append({"t": 40, "skill_id": True, "params": {}})  # a bool is not a skill id
    odd["condition"]["my_flag"] = 1  # unmodelled key in a profile
    odd["legacy_key"] = {"x": [1, 2]}  # unmodelled top-level key
    odd["vla_plan"] = {"conf": float("nan")}
    odd["created_at"] = "not a time"
    table = frames.to_arrow([good, odd])
    assert table.schema == frames.arrow_schema()
    assert table.schema.names[:5] == ["pack_id", "task_name", "bucket", "revision", "delta_j"]
    assert pa.types.is_struct(table.schema.field("condition").type)
    assert pa.types.is_map(table.schema.field("energy").type.field("limb_energy_Wh").type)
    assert table.schema.field("agent_profile").type == pa.string()
    rows = table.to_pylist()
    g, o = rows
    assert (g["delta_j"], g["trust_score"], g["mvd_score"], g["skill_ids"]) == (-0.5, 0.95, 0.25, [0, 3])
    assert g["has_counterfactual"] is True and g["created_at_utc"] is not None
    # flat columns: the values the service computes with (defaults); record columns: stored values or null
    assert (o["trust_score"], o["delta_j"], o["mvd_score"]) == (0.0, 0.0, None)
    assert o["attribution"]["trust_score"] is None and o["attribution"]["delta_J"] is None
    assert o["skill_ids"] == [0, 1, 3] and len(json.loads(o["skill_trace"])) == 4
    assert json.loads(o["condition"]["extra_json"]) == {"my_flag": 1}
    assert json.loads(o["extra_json"]) == {"legacy_key": {"x": [1, 2]}} and g["extra_json"] is None
    assert json.loads(o["vla_plan"]) == {"conf": None}  # strict JSON text
    assert o["created_at"] == "not a time" and o["created_at_utc"] is None
    assert g["sima_annotation"] is None and g["counterfactual_plan"] is not None


def test_to_pandas_on_query_results_and_omitted_artifacts(ref_store):
    with DataPackRepo(str(ref_store / STORE)) as repo:
        basic = repo.query(TASK, schema_version="2.1-portable", limit=None)
        full = repo.query(TASK, schema_version="2.1-portable", limit=None, include_artifacts=True)
        df = frames.to_pandas(repo.query(TASK, limit=None))
        stats = repo.get_statistics(TASK)
    assert any(p.omitted_fields for p in basic)
    # a basic-view read left the artifacts out: no column, rather than nulls that read as "none"
    assert "scene_tracks_v1" not in frames.to_arrow(basic).schema.names
    with_art = frames.to_arrow(full)
    assert "scene_tracks_v1" in with_art.schema.names
    tracks = [json.loads(t) if t is not None else None for t in with_art.column("scene_tracks_v1").to_pylist()]
    assert tracks == [p.scene_tracks_v1 for p in full]
    assert len(df) == stats["total"] and (df["bucket"] == "positive").sum() == stats["positive"]
    assert math.isclose(df["delta_j"].std(ddof=0), stats["delta_j_std"], rel_tol=1e-9)
    assert set(df["revision"]) == {1}  # every pack id of the fixture occurs once


def test_missing_extra_names_it(monkeypatch, ref_store, tmp_path):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    with pytest.raises(ImportError, match=r"datapack\[export\]"):
        frames.to_arrow([])
    code, _, err = run("export", "--datapack-dir", str(ref_store / STORE), "--task", TASK, "--format", "parquet",
                       "--out", str(tmp_path / "x.parquet"))
    assert code == 1 and "datapack[export]" in err and not (tmp_path / "x.parquet").exists()


def test_export_usage_errors(ref_store, tmp_path):
    loc = ["--datapack-dir", str(ref_store / STORE), "--task", TASK]
    # Usage errors exit 2 (cli/common.py).
    assert run("export", *loc, "--format", "xlsx", "--out", str(tmp_path / "a"))[0] == 2
    assert run("export", *loc, "--out", str(tmp_path / "a.parquet"), "--workers", "-1")[0] == 2
    assert run("export", *loc, "--format", "parquet")[0] == 2  # --out required
    code, _, err = run("export", *loc, "--format", "parquet", "--out", str(tmp_path / "b"), "--min-trust", "nan")
    assert code == 2 and "min_trust" in err
    # no match: an empty table with the full schema
    code, _, _ = run("export", *loc, "--format", "parquet", "--out", str(tmp_path / "e.parquet"), "--min-trust", "5")
    assert code == 0
    # no artifact columns unless asked for (a fixed schema: not "whichever packs had one")
    assert pd.read_parquet(tmp_path / "e.parquet").shape == (0, len(frames.column_names(ARTIFACT_KEYS)))
    code, _, _ = run("export", *loc, "--format", "parquet", "--out", str(tmp_path / "a.parquet"),
                     "--include-artifacts", "--schema-version", "2.2-repr")
    df = pd.read_parquet(tmp_path / "a.parquet")
    assert code == 0 and len(df) == 2 and list(df.columns) == frames.column_names()
    assert all(set(json.loads(t)) >= {"vision_rgb"} for t in df["repr_tokens"])


def test_chunked_export_equals_one_table(ref_store, tmp_path):
    with DataPackRepo(str(ref_store / STORE)) as repo:
        whole = frames.to_arrow(repo.query(TASK, limit=None), omitted=ARTIFACT_KEYS)
        summary = export_packs(repo.query(TASK, limit=None), str(tmp_path / "c.arrow"), "arrow",
                               omitted=ARTIFACT_KEYS, chunk=97)
    with pa.OSFile(str(tmp_path / "c.arrow"), "rb") as fh:
        reader = pa.ipc.open_file(fh)
        assert reader.num_record_batches == 7  # 600 packs in chunks of 97
        assert reader.read_all().equals(whole)
    assert summary["rows"] == 600 and summary["columns"] == whole.num_columns
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "c.arrow").st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_jsonl_and_csv_exports(where, tmp_path):
    loc, oracle = where
    expected = oracle.query(TASK, limit=None)
    code, out, err = run("export", *loc, "--task", TASK, "--out", str(tmp_path / "all.jsonl"), "--json")
    assert code == 0 and json.loads(out)["rows"] == 600, err
    # one record per line, as a query serves it (the stored line where it already is that record)
    lines = (tmp_path / "all.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == [p.to_dict() for p in expected]
    if loc[0] == "--datapack-dir":  # read in place: the reference lines already are served records
        stored = (FIXTURES / "drawer_vase_datapacks.jsonl").read_bytes().splitlines()
        same = [a == b for a, b in zip(lines, stored)]
        assert same == [not p.omitted_fields for p in expected]  # re-encoded: those without their artifacts

    code, out, err = run("export", *loc, "--task", TASK, "--out", str(tmp_path / "pos.csv"), "--bucket", "positive",
                         "--sort-by", "delta_j")
    assert code == 0 and "(csv," in out, err
    import pyarrow.csv as pcsv
    table = pcsv.read_csv(tmp_path / "pos.csv", convert_options=pcsv.ConvertOptions(
        column_types={"pack_id": pa.string(), "condition": pa.string(), "skill_ids": pa.string()}))
    positive = oracle.query(TASK, bucket="positive", sort_by="delta_j", limit=None)
    assert table.column("pack_id").to_pylist() == [p.pack_id for p in positive]
    assert table.column("delta_j").to_pylist() == [p.attribution.delta_J for p in positive]
    arrow = frames.to_arrow(positive, omitted=ARTIFACT_KEYS)
    # a nested column holds the JSON text of its Arrow value (maps as objects)
    first = json.loads(table.column("condition")[0].as_py())
    assert first["engine_type"] == positive[0].condition.engine_type
    assert first["vase_offset"] == arrow.column("condition")[0].as_py()["vase_offset"]
    assert [json.loads(v) for v in table.column("skill_ids").to_pylist()] == arrow.column("skill_ids").to_pylist()
    energy = json.loads(table.column("energy")[0].as_py())
    assert energy["limb_energy_Wh"] == dict(arrow.column("energy")[0].as_py()["limb_energy_Wh"])


def test_worker_processes_write_the_same_files(ref_store, tmp_path):
    loc = ["--datapack-dir", str(ref_store / STORE), "--task", TASK]
    for name in ("x.parquet", "x.jsonl", "x.arrow", "x.csv"):
        code, _, err = run("export", *loc, "--out", str(tmp_path / "w0" / name), "--workers", "0")
        assert code == 0, err
        code, _, err = run("export", *loc, "--out", str(tmp_path / "w2" / name), "--workers", "2")
        assert code == 0, err
    import pyarrow.parquet as pq
    assert pq.read_table(tmp_path / "w2" / "x.parquet").equals(pq.read_table(tmp_path / "w0" / "x.parquet"))
    assert (tmp_path / "w2" / "x.jsonl").read_bytes() == (tmp_path / "w0" / "x.jsonl").read_bytes()
    assert (tmp_path / "w2" / "x.csv").read_bytes() == (tmp_path / "w0" / "x.csv").read_bytes()
    code, _, err = run("export", *loc, "--out", str(tmp_path / "none.csv"), "--workers", "2", "--min-trust", "5")
    assert code == 0 and (tmp_path / "none.csv").read_text().startswith('"pack_id","task_name"'), err
    with pa.OSFile(str(tmp_path / "w2" / "x.arrow"), "rb") as a, pa.OSFile(str(tmp_path / "w0" / "x.arrow"), "rb") as b:
        assert pa.ipc.open_file(a).read_all().equals(pa.ipc.open_file(b).read_all())
