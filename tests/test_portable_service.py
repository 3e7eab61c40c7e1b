"""Portable packs through the public API, embedded and over the wire: round
trip, the basic/full view, slice filters, and the export (in place and to an
output store) with its counters, idempotence and errors."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from datapack_client import FieldOmittedError, NotFoundError, InvalidArgumentError, SkillDataPackAdapter, connect
from datapack_client.records.model import json_equal
from datapack_server.portable.synthetic_raw import write_raw_episode

from .jsoncheck import float_bits as bits
from .conftest import ROOT, STORE, make_pack

TASK = "drawer_vase"




def raw_packs(raw_dir, n: int, *, without_raw=(), occlusion=lambda i: 0.2 * (i % 5), moving=lambda i: i % 3 != 0):
    """n packs with small raw episodes (the ones in without_raw have none)."""
    packs = []
    for i in range(n):
        p = make_pack(f"raw-{i:03d}", delta_j=1.0 if i % 4 else -1.0)
        p.condition.occlusion_level = occlusion(i)
        if i not in without_raw:
            p.raw_data_path = write_raw_episode(raw_dir, p.pack_id, seed=i, occlusion_level=occlusion(i),
                                                moving=moving(i), layout="npz" if i % 2 else "dir")
        packs.append(p)
    return packs


def task_file(data_root):
    return data_root / STORE / f"{TASK}_datapacks.jsonl"


# ---------------------------------------------------------------------------- export in place

def test_export_in_place_embeds_artifacts_as_revisions_and_is_idempotent(repo, data_root, tmp_path):
    repo.append_batch(raw_packs(tmp_path / "raw", 12, without_raw={0, 5}))
    reports = []
    s = repo.export_portable(TASK, progress=reports.append)
    assert (s["total"], s["processed"], s["exported"], s["revised"], s["skipped_missing_raw"]) == (12, 12, 10, 10, 2)
    assert s["created"] == s["already_present"] == s["conflicts"] == s["rejected_invalid"] == 0
    assert s["unstrided_no_fps"] == 0  # the raw metadata gives the fps
    assert reports and reports[-1]["exported"] == 10

    p = repo.get(TASK, "raw-001")
    assert p.schema_version == "2.1-portable" and p.raw_data_path is None and p.revision == 2
    assert set(p.scene_tracks_v1) >= {"scene_tracks_v1/poses_t", "scene_tracks_v1/converged"}
    assert p.rgb_features_v1["encoder"] == "vision_rgb::deterministic_pool_v1"
    assert p.rgb_features_v1["stride_frames"] == 10 and len(p.rgb_features_v1["features"]) == 64
    assert p.slice_labels_v1["occlusion_level"] == 0.2 and p.slice_labels_v1["is_occluded"] is False
    history = repo.get_history(TASK, "raw-001")
    assert [h["reason"] for h in history] == [None, "portable_export"]
    assert history[1]["changed_fields"] == ["schema_version", "raw_data_path", "scene_tracks_v1",
                                            "rgb_features_v1", "slice_labels_v1"]
    assert history[0]["record"].raw_data_path is not None  # revision 1 keeps where the raw data was
    untouched = repo.get(TASK, "raw-000")
    assert untouched.schema_version == "2.0-energy" and untouched.revision == 1

    before = task_file(data_root).read_bytes()
    again = repo.export_portable(TASK)
    assert (again["revised"], again["already_present"], again["reused_existing"]) == (0, 10, 10)
    assert task_file(data_root).read_bytes() == before  # a re-run writes nothing


def test_export_keeps_a_concurrent_training_usage_revision(repo, tmp_path):
    repo.append_batch(raw_packs(tmp_path / "raw", 3))
    repo.update_training_usage(TASK, ["raw-001"], wm_role="wm_train", add_training_runs=["run-1"])
    repo.export_portable(TASK)
    p = repo.get(TASK, "raw-001")
    assert p.attribution.wm_role == "wm_train" and p.attribution.used_in_training_runs == ["run-1"]
    assert p.revision == 3 and p.schema_version == "2.1-portable"


def test_export_options_repr_tokens_and_max_episodes(repo, tmp_path):
    repo.append_batch(raw_packs(tmp_path / "raw", 6))
    s = repo.export_portable(TASK, max_episodes=2, include_repr_tokens="vision_rgb, ,geometry_bev",
                             source_fps=5.0, stride_seconds=0.5, store_temporal=True)
    assert (s["exported"], s["repr_tokens_computed"], s["repr_tokens"]) == (2, 2, ["vision_rgb", "geometry_bev"])
    p = repo.get(TASK, "raw-000")
    assert p.schema_version == "2.2-repr"
    assert p.repr_tokens["vision_rgb"]["version"] == "vision_rgb::v1"
    assert p.repr_tokens["geometry_bev"] == {"version": "geometry_bev::v1", "error": "representation not supported"}
    rgb = p.rgb_features_v1
    assert (rgb["stride_frames"], rgb["source_fps"]) == (2, 5.0)  # round(0.5 * 5) = 2 (half to even)
    assert len(rgb["features_temporal"]) == rgb["num_tokens"] == 15
    assert repo.get(TASK, "raw-002").schema_version == "2.0-energy"  # beyond max_episodes


@pytest.mark.parametrize("kwargs, field", [
    ({"max_episodes": 0}, "max_episodes"), ({"token_dim": 0}, "token_dim"), ({"pool_size": (4, 0)}, "pool_size"),
    ({"stride_seconds": 0.0}, "stride_seconds"), ({"source_fps": -1.0}, "source_fps"),
    ({"store_temporal": "yes"}, "store_temporal"), ({"include_repr_tokens": [1]}, "include_repr_tokens"),
])
def test_export_refuses_bad_options_naming_them(repo, kwargs, field):
    repo.append(make_pack("one"))
    with pytest.raises(InvalidArgumentError) as err:
        repo.export_portable(TASK, **kwargs)
    assert err.value.violations[0].field == field


def test_export_of_a_task_without_records_is_not_found(repo, data_root):
    (data_root / STORE / "empty_task_datapacks.jsonl").touch()  # the task exists and holds no records
    with pytest.raises(NotFoundError) as err:
        repo.export_portable("empty_task")
    assert err.value.reason == "TASK_EMPTY"
    with pytest.raises(NotFoundError) as err:  # a task without a file does not exist (issue 13)
        repo.export_portable("no_such_task")
    assert err.value.reason == "TASK_NOT_FOUND"


def test_export_over_the_wire_refuses_output_store_equal_to_the_source(client, tmp_path):
    client.append_batch(raw_packs(tmp_path / "raw", 2))
    with pytest.raises(InvalidArgumentError):
        client.export_portable(TASK, output_store=STORE)
    with pytest.raises(InvalidArgumentError) as err:
        client.export_portable(TASK, output_store="../outside")
    assert err.value.reason == "STORE_INVALID"


# ---------------------------------------------------------------------------- export to an output store

def test_export_to_an_output_store_follows_the_export_script(data_root, tmp_path, server):
    client = connect(f"127.0.0.1:{server.port}", store=STORE, timeout=20)
    packs = raw_packs(tmp_path / "raw", 5, without_raw={4})
    client.append_batch(packs)
    s = client.export_portable(TASK, output_store="phase_c_portable")
    assert (s["created"], s["exported"], s["skipped_missing_raw"], s["output"]) == (4, 4, 1, "phase_c_portable")
    out = connect(f"127.0.0.1:{server.port}", store="phase_c_portable", timeout=20)
    exported = out.get(TASK, "raw-002")
    source = client.get(TASK, "raw-002")
    assert source.schema_version == "2.0-energy" and source.revision == 1  # the source is not touched
    expected = source.to_dict()
    for k in ("schema_version", "scene_tracks_v1", "rgb_features_v1", "slice_labels_v1"):
        expected[k] = exported.to_dict()[k]
    assert json_equal(exported.to_dict(), expected)  # source record plus artifacts, raw path kept
    assert exported.raw_data_path == source.raw_data_path

    out_file = data_root / "phase_c_portable" / f"{TASK}_datapacks.jsonl"
    before = out_file.read_bytes()
    again = client.export_portable(TASK, output_store="phase_c_portable")
    assert (again["already_present"], again["created"]) == (4, 0) and out_file.read_bytes() == before
    other = client.export_portable(TASK, output_store="phase_c_portable", store_temporal=True)
    assert (other["conflicts"], other["created"]) == (4, 0) and out_file.read_bytes() == before
    client.close()
    out.close()


# ---------------------------------------------------------------------------- round trip and views

def test_portable_pack_round_trips_bit_identical_and_queries_leave_artifacts_out(repo, tmp_path):
    repo.append_batch(raw_packs(tmp_path / "raw", 4, without_raw={0}))
    repo.export_portable(TASK)
    full = repo.get(TASK, "raw-001").to_dict()
    # Re-append the full portable record under a new id: every array comes back bit for bit.
    rec = dict(full, pack_id="copy-001")
    repo.append(rec)
    got = repo.get(TASK, "copy-001").to_dict()
    assert bits(got["scene_tracks_v1"]) == bits(full["scene_tracks_v1"])
    assert bits(got["rgb_features_v1"]) == bits(full["rgb_features_v1"])
    assert json_equal(got, rec)

    basic = {p.pack_id: p for p in repo.query(TASK, limit=None)}
    p = basic["copy-001"]
    assert set(p.omitted_fields) == {"scene_tracks_v1", "rgb_features_v1"}
    with pytest.raises(FieldOmittedError):
        p.scene_tracks_v1
    assert p.slice_labels_v1 == full["slice_labels_v1"]  # small labels are always served
    assert "scene_tracks_v1" not in p.to_dict() and p.repr_tokens is None
    assert basic["raw-000"].omitted_fields == ()
    with_artifacts = {p.pack_id: p for p in repo.query(TASK, limit=None, include_artifacts=True)}
    assert with_artifacts["copy-001"].omitted_fields == ()
    assert json_equal(with_artifacts["copy-001"].to_dict(), got)
    assert json_equal(repo.load_all(TASK)[-1].to_dict(), got)  # load_all is complete


# ---------------------------------------------------------------------------- slice filters

def test_slice_label_and_schema_version_filters_in_query_statistics_and_adapter(repo, tmp_path):
    # occlusion 0.0, 0.2, 0.4, 0.6, 0.8, 0.0, ...; still episodes at i % 3 == 0
    repo.append_batch(raw_packs(tmp_path / "raw", 10, without_raw={9}))
    repo.export_portable(TASK)
    labels = {p.pack_id: p.slice_labels_v1 for p in repo.query(TASK, limit=None)}

    def ids(**filters):
        return {p.pack_id for p in repo.query(TASK, limit=None, **filters)}

    assert ids(schema_version="2.1-portable") == {f"raw-{i:03d}" for i in range(9)}
    assert ids(schema_version="2.0-energy") == {"raw-009"}
    occluded = {k for k, v in labels.items() if v and v["is_occluded"]}
    assert ids(is_occluded=True) == occluded == {"raw-003", "raw-004", "raw-008"}
    assert ids(is_occluded=False) == {f"raw-{i:03d}" for i in range(9)} - occluded
    assert ids(is_static=True) == {"raw-000", "raw-003", "raw-006"}  # the still episodes
    for name in ("is_dynamic", "is_static"):
        want = {k for k, v in labels.items() if v and v[name]}
        assert ids(**{name: True}) == want
    for bucket in ("low", "mid", "high"):
        assert ids(occlusion_bucket=bucket) == {k for k, v in labels.items() if v and v["occlusion_bucket"] == bucket}
        assert ids(motion_bucket=bucket) == {k for k, v in labels.items() if v and v["motion_bucket"] == bucket}
    assert repo.get_statistics(TASK, is_occluded=True)["total"] == 3
    adapter = SkillDataPackAdapter(repo)
    sliced = adapter.get_datapack_ids_for_skill(TASK, 1, slice={"is_occluded": True})
    assert set(sliced) == occluded
    with pytest.raises(InvalidArgumentError) as err:
        repo.query(TASK, motion_bucket="fast")
    assert err.value.violations[0].field == "motion_bucket"
    with pytest.raises(InvalidArgumentError):
        repo.query(TASK, is_dynamic="yes")


# ---------------------------------------------------------------------------- the command line

def _run(*args, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "server"), str(ROOT / "client")]))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_cli_export_in_place_locally_and_on_a_server(tmp_path, server, data_root):
    store = tmp_path / "local"
    r = _run("-m", "datapack_server.cli", "build", "--generate-synthetic", "12", "--output-dir", str(store),
             "--raw-dir", str(tmp_path / "raw"), "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _run("-m", "datapack_server.cli", "export-portable", "--datapack-dir", str(store), "--task", TASK,
             "--workers", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "revised                 12" in r.stdout
    r = _run("-m", "datapack_server.cli", "export-portable", "--datapack-dir", str(store), "--task", TASK, "--json",
             cwd=tmp_path)
    assert r.returncode == 0 and '"already_present": 12' in r.stdout, r.stdout + r.stderr

    # Over the wire: the store named like the folder, on the server's data root.
    r = _run("-m", "datapack_server.cli", "build", "--generate-synthetic", "6", "--target",
             f"127.0.0.1:{server.port}", "--store", STORE, "--raw-dir", str(tmp_path / "raw2"), "--quiet",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _run("-m", "datapack_server.cli", "export-portable", "--datapack-dir", f"data/datapacks/{STORE}",
             "--task", TASK, "--target", f"127.0.0.1:{server.port}", "--json", cwd=tmp_path)
    assert r.returncode == 0 and '"revised": 6' in r.stdout, r.stdout + r.stderr
    c = connect(f"127.0.0.1:{server.port}", store=STORE)
    assert len(c.query(TASK, schema_version="2.1-portable", limit=None)) == 6
    c.close()

    (store / "nothing_here_datapacks.jsonl").touch()  # a task without records
    r = _run("-m", "datapack_server.cli", "export-portable", "--datapack-dir", str(store), "--task", "nothing_here",
             cwd=tmp_path)
    assert r.returncode == 1 and "no records" in r.stderr
    r = _run("-m", "datapack_server.cli", "export-portable", "--datapack-dir", str(store), "--task", "nowhere",
             cwd=tmp_path)
    assert r.returncode == 1 and "NOT_FOUND TASK_NOT_FOUND: no task 'nowhere'" in r.stderr
    r = _run("-m", "datapack_server.cli", "export-portable", "--datapack-dir", str(store), "--task", TASK,
             "--token-dim", "0", cwd=tmp_path)
    assert r.returncode == 2 and "token_dim" in r.stderr  # a usage error (cli/common.py)


def test_export_script_writes_an_output_store_and_reports_conflicts(tmp_path):
    store = tmp_path / "phase_c"
    r = _run("-m", "datapack_server.cli", "build", "--generate-synthetic", "5", "--output-dir", str(store),
             "--raw-dir", str(tmp_path / "raw"), "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    script = ["-m", "scripts.export_portable_datapacks", "--datapack-dir", str(store), "--task", TASK]
    r = _run(*script, "--include-repr-tokens", "vision_rgb,geometry_bev", "--json", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert '"created": 5' in r.stdout and '"repr_tokens_computed": 5' in r.stdout
    out_file = tmp_path / "phase_c_portable" / f"{TASK}_datapacks.jsonl"
    before = out_file.read_bytes()
    r = _run(*script, "--include-repr-tokens", "vision_rgb,geometry_bev", "--json", cwd=ROOT)
    assert r.returncode == 0 and '"already_present": 5' in r.stdout
    r = _run(*script, "--include-repr-tokens", "vision_rgb,geometry_bev", "--store-temporal", "--json", cwd=ROOT)
    assert r.returncode == 1 and '"conflicts": 5' in r.stdout  # conflicts are findings (cli/common.py)
    assert out_file.read_bytes() == before
    assert b'"schema_version":"2.2-repr"' in before


# ---------------------------------------------------------------------------- ingest with artifacts

def test_ingest_carries_packed_artifacts_and_refuses_non_finite_arrays(repo):
    from .test_ingest_flows import drawer_episode, econ

    tracks = {"scene_tracks_v1/version": ["v1"], "scene_tracks_v1/poses_t": [[[0.5, 0.25, 0.0]], [[0.625, 0.25, 0.0]]],
              "scene_tracks_v1/converged": [[True], [True]]}
    ep = dict(drawer_episode(1), pack_id="ingested-portable", scene_tracks_v1=tracks,
              rgb_features_v1={"encoder": "vision_rgb::deterministic_pool_v1", "features": [0.1, -0.2]})
    (r,) = repo.ingest_episodes([ep], econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    p = repo.get(TASK, r.pack_id)
    assert p.schema_version == "2.1-portable"
    assert bits(p.scene_tracks_v1) == bits(tracks) and p.rgb_features_v1["features"] == [0.1, -0.2]
    bad = dict(drawer_episode(2), pack_id="nan-portable",
               rgb_features_v1={"features": [0.1, float("nan")]})
    with pytest.raises(InvalidArgumentError) as err:
        repo.ingest_episodes([bad], econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    assert "rgb_features_v1" in err.value.violations[0].field
    with pytest.raises(NotFoundError):
        repo.get(TASK, "nan-portable")
