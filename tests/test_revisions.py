"""World-model revisions (docs/repository.md §3.3-§3.5): update_training_usage
appends revision lines, reads see the latest, history lists every revision,
nothing is rewritten in place. Runs against both repos."""
from __future__ import annotations

import json

import pytest

from datapack_client.errors import InvalidArgumentError, NotFoundError

from .conftest import STORE, make_pack

TASK_FILE = "drawer_vase_datapacks.jsonl"


def _lines(data_root):
    return (data_root / STORE / TASK_FILE).read_bytes().split(b"\n")[:-1]


def test_mark_ten_packs_in_two_runs(repo, data_root):
    repo.append_batch([make_pack(f"wm{i}", trust=0.97) for i in range(12)])
    ids = [f"wm{i}" for i in range(10)]
    before = (data_root / STORE / TASK_FILE).read_bytes()

    first = repo.update_training_usage("drawer_vase", ids, wm_role="wm_train", add_training_runs=["wm_run_001"])
    assert first == [{"pack_id": p, "status": "revised", "revision": 2} for p in ids]
    second = repo.update_training_usage("drawer_vase", ids, add_training_runs=["wm_run_002"])
    assert [r["revision"] for r in second] == [3] * 10

    after = (data_root / STORE / TASK_FILE).read_bytes()
    assert after.startswith(before)  # only appended
    assert len(_lines(data_root)) == 12 + 20
    last = json.loads(_lines(data_root)[-1])
    assert list(last)[-1] == "_revision"
    assert last["_revision"]["number"] == 3 and last["_revision"]["reason"] == "training_usage"
    assert last["_revision"]["changed_fields"] == ["attribution.used_in_training_runs"]

    marked = repo.query("drawer_vase", min_trust=0.95, limit=None)
    assert [p.pack_id for p in marked] == [f"wm{i}" for i in range(12)]  # append order kept
    for p in marked[:10]:
        assert p.attribution.wm_role == "wm_train"
        assert p.attribution.used_in_training_runs == ["wm_run_001", "wm_run_002"]
        assert p.revision == 3
    assert marked[10].attribution.used_in_training_runs == [] and marked[10].revision == 1
    assert repo.get_statistics("drawer_vase")["total"] == 12  # revisions are not new packs

    for pid in ids:
        hist = repo.get_history("drawer_vase", pid)
        assert [h["revision"] for h in hist] == [1, 2, 3]
        assert hist[0]["reason"] is None and hist[0]["changed_fields"] is None
        assert hist[1]["changed_fields"] == ["attribution.wm_role", "attribution.used_in_training_runs"]
        assert hist[2]["reason"] == "training_usage"
        assert hist[0]["record"].attribution.wm_role is None
        assert hist[2]["record"].attribution.used_in_training_runs == ["wm_run_001", "wm_run_002"]
        assert "_revision" not in hist[2]["record"].to_dict()


def test_unchanged_update_writes_nothing_and_unknown_id_writes_nothing(repo, data_root):
    repo.append_batch([make_pack("u0"), make_pack("u1")])
    repo.update_training_usage("drawer_vase", ["u0"], wm_role="wm_eval")
    size = (data_root / STORE / TASK_FILE).stat().st_size
    assert repo.update_training_usage("drawer_vase", ["u0", "u0"], wm_role="wm_eval") == [
        {"pack_id": "u0", "status": "unchanged", "revision": 2}]
    with pytest.raises(NotFoundError) as exc:
        repo.update_training_usage("drawer_vase", ["u1", "nope", "gone"], wm_role="wm_train")
    assert exc.value.reason == "PACK_NOT_FOUND"
    assert sorted(v.pack_id for v in exc.value.violations) == ["gone", "nope"]
    assert (data_root / STORE / TASK_FILE).stat().st_size == size
    assert repo.get("drawer_vase", "u1").attribution.wm_role is None


def test_clear_role_and_argument_errors(repo):
    repo.append(make_pack("c0"))
    repo.update_training_usage("drawer_vase", ["c0"], wm_role="wm_synth_source")
    assert repo.update_training_usage("drawer_vase", ["c0"], wm_role=None)[0]["status"] == "revised"
    assert repo.get("drawer_vase", "c0").attribution.wm_role is None
    for kwargs, reason in [({"pack_ids": []}, "ARGUMENT_INVALID"), ({"pack_ids": [""]}, "ARGUMENT_INVALID"),
                           ({"pack_ids": ["c0"], "wm_role": "policy_train"}, "ENUM_INVALID"),
                           ({"pack_ids": ["c0"], "add_training_runs": [""]}, "ARGUMENT_INVALID")]:
        with pytest.raises(InvalidArgumentError) as exc:
            repo.update_training_usage("drawer_vase", **kwargs)
        assert exc.value.reason == reason


def test_revisions_survive_restart_and_other_processes_see_them(data_root):
    from datapack_server import DataPackRepo
    a = DataPackRepo(str(data_root / STORE), create=True)
    a.append(make_pack("r0"))
    b = DataPackRepo(str(data_root / STORE))  # another repository on the same store
    b.update_training_usage("drawer_vase", ["r0"], add_training_runs=["run-a"])
    assert a.get("drawer_vase", "r0").attribution.used_in_training_runs == ["run-a"]
    assert DataPackRepo(str(data_root / STORE)).get("drawer_vase", "r0").revision == 2
    # an identical re-append of revision 1's content is still a harmless duplicate
    assert a.append(make_pack("r0")).status == "already_present"
