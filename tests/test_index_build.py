"""Index builds in bulk: the columnar row builder against the per-record one,
the chunked load of a large file (in this process or by workers) against the
line-by-line load, the compact pack-id map, the sparse energy values, and
trimming the columns after a load."""
from __future__ import annotations

import json
import random

import numpy as np
import orjson
import pytest

from datapack_server.engine import task_state as task_state_mod
from datapack_server.engine.index import CATEGORIES, COLUMN_NAMES, TaskIndex, raw_row
from datapack_server.engine.memory import resize_entry
from datapack_server.engine.packids import PackIds, id_hash
from datapack_server.engine.rowblock import record_columns
from datapack_server.engine.store import Store

from .conftest import make_pack

TASK = "drawer_vase"
TASK_FILE = "drawer_vase_datapacks.jsonl"
_LINE_COLUMNS = ("line_off", "line_len", "line_no", "revision")

# Values of every JSON type, and shapes each field rule treats specially.
_ODD = [None, True, False, 0, 1, -1, 2**63, 2**64 - 1, 1.5, "", "x", [], [1], ["a", "b", 1, None], {}, {"a": 1},
        [[1]], [{"skill_id": 1}], [{"skill_id": 3}, {"skill_id": True}], [{"skill_id": -1}, {"x": 1}],
        [{"skill_id": 2**63}], [1, {"skill_id": 2}], {"arm": {"Wh": 1}, "leg": {"Wh": True}, "hip": 5, "g": {}},
        [1.0, 2, 3], [1, 2, 3, 4], [1, True, 3], [1, 2], {"3": 0.5, "1": 0.25}, {"tags": [], "x": {"y": 1}},
        ["a", "a", "b"], ["b", "a"], "2025-01-01T00:00:00.000000+00:00",
        {"is_occluded": True, "occlusion_bucket": "low"}]
_PATHS = [("bucket",), ("condition",), ("condition", "engine_type"), ("condition", "tags"),
          ("condition", "vase_offset"), ("condition", "objective_vector"), ("condition", "drawer_friction"),
          ("attribution",), ("attribution", "trust_score"), ("attribution", "mvd_score"),
          ("attribution", "wm_role"), ("attribution", "skill_contribs"), ("attribution", "delta_J"), ("energy",),
          ("energy", "energy_per_limb"), ("energy", "energy_per_skill"), ("energy", "total_Wh"), ("skill_trace",),
          ("semantic_tags",), ("energy_driver_tags",), ("created_at",), ("slice_labels_v1",),
          ("slice_labels_v1", "is_occluded"), ("slice_labels_v1", "occlusion_bucket"), ("env_type",),
          ("task_name",), ("schema_version",), ("sima_annotation",), ("counterfactual_plan",),
          ("scene_tracks_v1",)]


def _record(i: int) -> dict:
    rec = make_pack(f"b{i}", delta_j=float(i % 5) - 2, skills=(i % 6, 3)).to_dict()
    rec["energy"]["energy_per_limb"] = {"shoulder": {"Wh": 0.5 + i}, "elbow": {"Wh": i % 3}}
    if i % 3:
        rec["energy"]["energy_per_skill"] = {f"s{i % 4}": {"Wh": 0.25 * i}}
    return rec


def _odd_records(seed: int, n: int) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        rec = _record(i)
        for _ in range(rnd.randint(0, 6)):
            path = rnd.choice(_PATHS)
            target = rec
            for key in path[:-1]:
                target = target.get(key) if isinstance(target, dict) else None
            if isinstance(target, dict):
                if rnd.random() < 0.2:
                    target.pop(path[-1], None)
                else:
                    target[path[-1]] = json.loads(json.dumps(rnd.choice(_ODD)))
        out.append(rec)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_record_columns_equal_raw_row_on_odd_records(seed):
    """The bulk builder gives every column exactly as raw_row does, values of
    the wrong type, nulls and missing keys included."""
    records = _odd_records(seed, 120)
    rows = [raw_row(r, 0, 0, 0, 1) for r in records]
    block = record_columns(records)
    for name, expected in zip(COLUMN_NAMES, zip(*rows)):
        if name in _LINE_COLUMNS:
            continue
        if name in CATEGORIES:
            codes, table = block["cats"][name]
            got = [table[c] for c in codes]
            assert got == list(expected) and list(map(type, got)) == list(map(type, expected)), name
        else:
            col = block["cols"][name]
            assert np.array_equal(col, np.array(expected, dtype=col.dtype)), name
    flat = [wh for row in rows for _kind, _name, wh in row[-1]]
    assert np.array_equal(block["energy_wh"], np.array(flat, dtype=np.float64))


def _write_task(d, lines: list[str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / TASK_FILE).write_text("\n".join(lines) + "\n")


def _decoded(ix: TaskIndex, name: str) -> list:
    col = ix.view(name)
    return [ix.cats[name].values[c] for c in col] if name in CATEGORIES else col.tolist()


def assert_same_index(a, b) -> None:
    """Two loads of one file gave the same index, reports and counters."""
    assert a.index.n == b.index.n and a.lines == b.lines and a.scanned == b.scanned
    for name in COLUMN_NAMES:
        assert _decoded(a.index, name) == _decoded(b.index, name), name
    assert [a.index.pack_id(i) for i in range(a.index.n)] == [b.index.pack_id(i) for i in range(b.index.n)]
    ea, eb = a.index.energy_view(), b.index.energy_view()
    assert list(ea) == list(eb)
    for key in ea:
        assert np.array_equal(ea[key], eb[key]), key
    assert a.index.history == b.index.history
    assert a.corrupt == b.corrupt and a.redundant == b.redundant


def _mixed_lines() -> list[str]:
    lines = []
    for i, rec in enumerate(_odd_records(7, 600)):
        if i % 50 == 7:
            rec.pop("pack_id")
            rec.pop("created_at", None)
        lines.append(json.dumps(rec))
        if i == 100:
            lines.append("{not json")
        if i == 200:
            lines.append("   ")
        if i == 300:  # a revision of an early pack: its chunk is indexed line by line
            rev = _record(3)
            rev["attribution"]["wm_role"] = "wm_train"
            lines.append(json.dumps(rev))
        if i == 400:
            lines.append("[1, 2]")
        if i == 450:  # nests deeper than a served line may
            lines.append(json.dumps({"pack_id": "deep", "x": json.loads("[" * 300 + "]" * 300)}))
    return lines


def _chunked(monkeypatch, chunk: int = 32 << 10) -> None:
    monkeypatch.setattr(task_state_mod, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(task_state_mod, "PARALLEL_CHUNK", chunk)
    monkeypatch.setattr(task_state_mod, "RELEASE_MEMORY_AFTER", 1)


def test_chunked_load_in_this_process_equals_line_by_line(tmp_path, monkeypatch):
    """Without a worker pool a large file is still parsed in chunks (in this
    process) and added in bulk; the index, the reports and the derived ids
    are exactly those of the line-by-line load."""
    d = tmp_path / "s"
    _write_task(d, _mixed_lines())
    sequential = Store(str(d), snapshots=False).read_task(TASK)
    _chunked(monkeypatch)
    chunked = Store(str(d), snapshots=False).read_task(TASK)
    assert_same_index(chunked, sequential)
    assert len(sequential.corrupt) == 3 and 3 in sequential.index.history
    assert chunked.index.cap == chunked.index.n  # trimmed after the load


def test_chunked_load_with_a_legacy_line_equals_line_by_line(tmp_path, monkeypatch):
    legacy = {"pack_id": "old-1", "econ_params": {"price_per_unit": 1.0}, "attribution": {"delta_J": 0.5}}
    lines = [json.dumps(_record(i)) for i in range(100)] + [json.dumps(legacy)] + [
        json.dumps(_record(i)) for i in range(100, 200)]
    d = tmp_path / "s"
    _write_task(d, lines)
    sequential = Store(str(d), snapshots=False).read_task(TASK)
    _chunked(monkeypatch, 16 << 10)
    assert_same_index(Store(str(d), snapshots=False).read_task(TASK), sequential)


def test_repeated_pack_id_in_one_chunk_falls_back_to_line_by_line(tmp_path, monkeypatch):
    lines = [json.dumps(_record(i)) for i in range(50)]
    lines.insert(20, json.dumps(_record(5)))  # identical repeat: redundant
    d = tmp_path / "s"
    _write_task(d, lines)
    sequential = Store(str(d), snapshots=False).read_task(TASK)
    _chunked(monkeypatch, 1 << 20)
    chunked = Store(str(d), snapshots=False).read_task(TASK)
    assert_same_index(chunked, sequential)
    assert chunked.redundant == [(21, 5)]


def test_appends_and_revisions_after_a_trimmed_load(tmp_path, monkeypatch):
    """A load trims the columns to its rows; lines appended later grow them
    again, and a revision replaces its row's energy values (a name the new
    line lacks reads as 0)."""
    d = tmp_path / "s"
    _write_task(d, [json.dumps(_record(i)) for i in range(300)])
    _chunked(monkeypatch)
    store = Store(str(d), fsync=False, snapshots=False)
    st = store.read_task(TASK)
    assert st.index.cap == st.index.n == 300
    rev = _record(4)
    rev["energy"]["energy_per_limb"] = {"wrist": {"Wh": 7.0}}
    rev["energy"].pop("energy_per_skill", None)
    with open(d / TASK_FILE, "a") as f:  # small: indexed line by line
        f.write("".join(json.dumps(r) + "\n" for r in [rev] + [_record(i) for i in range(300, 310)]))
    st = store.read_task(TASK)
    ev = st.index.energy_view()
    assert st.index.n == 310 and st.index.history[4]
    assert ev[("limb", "wrist")][4] == 7.0 and ev[("limb", "shoulder")][4] == 0.0
    assert ev[("limb", "shoulder")][305] == 305.5 and list(ev)[-1] == ("limb", "wrist")
    rows = np.array([4, 305, 0])
    sub = st.index.energy_view(rows)
    assert all(np.array_equal(sub[k], ev[k][rows]) for k in ev)
    # A snapshot packs the values in row order; the reopened index reads the same.
    assert st.save_snapshot()
    store.close()
    reopened = Store(str(d), fsync=False).read_task(TASK)
    assert reopened.snapshot_rows == 310
    assert_same_index(reopened, Store(str(d), fsync=False, snapshots=False).read_task(TASK))


def test_parallel_chunks_equal_in_process_chunks(tmp_path, monkeypatch):
    from datapack_server.engine.parsing import WorkerPool
    d = tmp_path / "s"
    _write_task(d, _mixed_lines())
    _chunked(monkeypatch)
    in_process = Store(str(d), snapshots=False).read_task(TASK)
    pool = WorkerPool(2)
    try:
        parallel = Store(str(d), snapshots=False, pool=pool).read_task(TASK)
    finally:
        pool.close()
    assert_same_index(parallel, in_process)


def test_pack_ids_single_and_bulk_inserts_with_equal_hashes():
    """Lookups see single and bulk inserts before and after merges; ids with
    equal hashes are told apart by their bytes."""
    ids = PackIds()
    ids.add("a")
    ids.add("b", h=42)
    raws = [f"id{i}".encode() for i in range(1000)]
    hashes = np.array([id_hash(r.decode()) for r in raws], dtype=np.uint64)
    hashes[10] = hashes[11] = 42  # equal hashes on purpose
    ids.add_many(b"".join(raws), np.array([len(r) for r in raws]), hashes)
    ids.add("c")
    for _ in ("before the merge", "after it"):
        assert ids.get("a") == 0 and ids.get("b", 42) == 1 and ids.get("c") == 1002
        assert ids.get("id10", 42) == 12 and ids.get("id11", 42) == 13 and ids.get("id12") == 14
        assert ids.get("nope") is None and ids.get("nope", 42) is None
        assert [ids.pack_id(i) for i in (0, 1, 12, 1001, 1002)] == ["a", "b", "id10", "id999", "c"]
        offsets = np.array([0, 4, 8])
        assert ids.any_present(b"nopeid11", offsets, np.array([7, 42], dtype=np.uint64)) is True
        assert ids.any_present(b"nopezzzz", offsets, np.array([7, 42], dtype=np.uint64)) is False
        ids.compact()
    again = PackIds.from_state(ids.state())
    assert again.get("id11", 42) == 13 and again.get("c") == 1002 and len(again) == 1003


def test_resize_keeps_a_readers_view_valid():
    holder = {"col": np.arange(10.0)}
    view = holder["col"][:4]
    resize_entry(holder, "col", 1000)  # referenced: copied, the view still reads the old array
    assert view.tolist() == [0.0, 1.0, 2.0, 3.0] and holder["col"][:10].tolist() == list(np.arange(10.0))
    del view
    resize_entry(holder, "col", 5)  # unreferenced: in place
    assert holder["col"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_index_built_by_blocks_equals_index_built_by_rows():
    records = _odd_records(11, 200)
    by_rows, by_blocks = TaskIndex(), TaskIndex()
    for i, rec in enumerate(records):
        by_rows.add(f"r{i}", rec, 10 * i, 10, i + 1)
    block = record_columns(records)
    block.update({"off": np.arange(200) * 10, "len": np.full(200, 10), "rel": np.arange(1, 201),
                  "needs_created": np.zeros(200, dtype=np.bool_)})
    raws = [f"r{i}".encode() for i in range(200)]
    block.update({"pid_blob": b"".join(raws), "pid_len": np.array([len(r) for r in raws]),
                  "hashes": np.array([id_hash(r.decode()) for r in raws], dtype=np.uint64)})
    assert by_blocks.add_parsed(block, 0, TASK_FILE)
    for name in COLUMN_NAMES:
        assert _decoded(by_rows, name) == _decoded(by_blocks, name), name
    assert list(by_rows.energy_view()) == list(by_blocks.energy_view())
    assert orjson.dumps({str(k): v.tolist() for k, v in by_rows.energy_view().items()}) == orjson.dumps(
        {str(k): v.tolist() for k, v in by_blocks.energy_view().items()})
