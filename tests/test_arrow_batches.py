"""The server-side Arrow builder (service/arrow_batches.py): each batch holds,
column for column, what frames.to_arrow gives for the served records of the
same packs; columns are narrowed and ordered as asked; the filter columns
alone read no line."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")

from datapack_client.errors import InvalidArgumentError
from datapack_client.records import frames
from datapack_client.records.model import DataPackMeta
from datapack_client.records.schema import ARTIFACT_KEYS
from datapack_server.engine.store import Store
from datapack_server.service import arrow_batches
from datapack_server.service.arrow_batches import INDEX_SOURCES, build_batch, schema_for, take_block
from datapack_server.service.line_batches import snapshot_rows

from .conftest import FIXTURES, make_pack

TASK = "drawer_vase"
FILTER_COLUMNS = list(INDEX_SOURCES)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def assert_same_table(got, expected) -> None:
    assert got.schema == expected.schema
    for name in expected.schema.names:
        a, b = got.column(name).to_pylist(), expected.column(name).to_pylist()
        bad = [i for i, (x, y) in enumerate(zip(a, b)) if not _same(x, y)]
        assert not bad, f"column {name}, row {bad[0]}: {a[bad[0]]!r} != {b[bad[0]]!r}"


def served(st, positions) -> list[DataPackMeta]:
    """The served records of these positions (what a query returns), with their revisions."""
    out = []
    for p in positions:
        ref = st.ref(int(p))
        rec = st.load(ref)
        out.append(DataPackMeta.lazy(lambda rec=rec: rec, ref.revision))
    return out


def build(st, where, schema):
    with st.lock:
        block = take_block(st, where, schema)
    return pa.Table.from_batches([build_batch(block, schema)], schema=schema)


def odd_lines() -> list[dict]:
    """Stored lines the append path would refuse but a read serves: wrong types,
    missing keys, unmodelled keys, legacy shapes, NaN, a revision."""
    base = make_pack("odd-0").to_dict()

    def variant(pid: str, **changes) -> dict:
        d = json.loads(json.dumps(base))
        d["pack_id"] = pid
        for path, value in changes.items():
            node, *rest = path.split("__")
            if rest:
                d[node][rest[0]] = value
            elif value is KeyError:
                d.pop(node)
            else:
                d[node] = value
        return d

    lines = [
        variant("odd-1", attribution__trust_score="high", attribution__delta_J=None, attribution__tier=2.0,
                attribution__world_model_horizon=True, attribution__mvd_score=3, condition__my_flag=1),
        variant("odd-2", attribution__delta_J=2 ** 70, attribution__delta_mpl=2 ** 60 + 1, attribution__tier=2 ** 64,
                condition__vase_offset=[1, "x", None], condition__objective_vector=None),
        variant("odd-3", energy__limb_energy_Wh={"a": 1, "b": "x", "c": True}, energy__total_Wh=False,
                attribution__used_in_training_runs=["r1", 5], legacy_key={"x": [1, 2]}, _revision=1),
        variant("odd-4", condition=KeyError, attribution={}, energy=None, sima_annotation={},
                objective_profile={"wage_human": 20}, bucket="other", created_at="2024-01-01"),
        variant("odd-5", pack_id=None, created_at=None, env_type=KeyError, schema_version=7,
                semantic_tags="tag", skill_trace=[{"skill_id": True}, {"skill_id": 2 ** 63}, {"skill_id": 4}]),
        variant("odd-6", bucket=None, created_at="2024-05-01T10:00:00+02:00", task_name=5,
                slice_labels_v1={"is_occluded": 1, "is_dynamic": True, "occlusion_bucket": "low"}),
        variant("odd-7", created_at="2024-02-30T00:00:00.000000", guidance_profile={"is_good": 1, "x": None},
                episode_metrics={"nested": {"k": [1.5, None]}}),
        # revisions: odd-2 twice, odd-1 once
        variant("odd-2", attribution__delta_J=-1.0, bucket="negative"),
        variant("odd-1", attribution__trust_score=0.5, _revision=2),
        variant("odd-2", attribution__delta_J=-2.0, bucket="negative", sima_annotation=None),
    ]
    legacy = json.loads((FIXTURES / "legacy_2_0_energy.json").read_text())[:3]
    return lines + legacy


@pytest.fixture
def store(tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    shutil.copy(FIXTURES / "drawer_vase_datapacks.jsonl", folder / "drawer_vase_datapacks.jsonl")
    with open(folder / "drawer_vase_datapacks.jsonl", "ab") as fh:
        for d in odd_lines():
            fh.write(json.dumps(d).encode() + b"\n")
        fh.write(b'{"pack_id": "nan-1", "attribution": {"delta_J": NaN, "trust_score": Infinity}, '
                 b'"vla_plan": {"conf": NaN}, "semantic_quality": -Infinity}\n')
    shutil.copy(FIXTURES / "dishwashing_datapacks.jsonl", folder / "dishwashing_datapacks.jsonl")
    s = Store(str(folder), fsync=False, snapshots=False)
    yield s
    s.close()


@pytest.mark.parametrize("task", [TASK, "dishwashing"])
@pytest.mark.parametrize("include_artifacts", [True, False])
def test_every_column_matches_frames(store, task, include_artifacts):
    st = store.read_task(task)
    positions = np.arange(st.index.n)
    schema = schema_for(None, include_artifacts)
    expected = frames.to_arrow(served(st, positions), omitted=() if include_artifacts else ARTIFACT_KEYS)
    assert_same_table(build(st, positions, schema), expected)
    if task == TASK:  # the odd lines are there and served
        assert st.index.n == 600 + 7 + 3 + 1 and len(st.index.history) == 2
        buckets = expected.column("bucket").to_pylist()
        assert None in buckets and "other" in buckets


def test_blocks_split_in_sub_blocks_and_any_order(store, monkeypatch):
    monkeypatch.setattr(arrow_batches, "SUB_BLOCK", 7)
    st = store.read_task(TASK)
    positions = np.random.default_rng(3).permutation(st.index.n)[:200]
    schema = schema_for(None, True)
    with st.lock:
        block = take_block(st, positions, schema)
    batches = arrow_batches.sub_batches(block, schema)
    assert len(batches) == math.ceil(200 / 7)
    expected = frames.to_arrow(served(st, positions), omitted=())
    assert_same_table(pa.Table.from_batches(batches), expected)
    # the same rows through a worker's IPC stream
    with st.lock:
        block = take_block(st, positions, schema)
    ipc = arrow_batches.build_ipc(block, schema)
    assert_same_table(pa.Table.from_batches([arrow_batches.batch_of_ipc(ipc)]), expected)


def test_columns_are_narrowed_in_the_order_asked(store):
    st = store.read_task(TASK)
    positions = np.arange(st.index.n)
    full = build(st, positions, schema_for(None, False))
    columns = ["condition", "pack_id", "delta_j", "task_name", "extra_json", "skill_ids"]
    table = build(st, positions, schema_for(columns, False))
    assert table.schema.names == columns
    assert_same_table(table, full.select(columns))
    assert build(st, positions[:0], schema_for(columns, False)).num_rows == 0


@pytest.mark.parametrize("columns, named", [(["delta_j", "deltaJ"], "'deltaJ'"),
                                            (["pack_id", "pack_id"], "'pack_id' is named twice"),
                                            (["scene_tracks_v1"], "without include_artifacts")])
def test_unknown_or_repeated_columns_are_refused(columns, named):
    with pytest.raises(InvalidArgumentError) as info:
        schema_for(columns, False)
    assert info.value.reason == "COLUMN_UNKNOWN" and named in str(info.value) and "trust_score" in str(info.value)
    assert schema_for(["scene_tracks_v1"], True).names == ["scene_tracks_v1"]


def test_filter_columns_read_no_line(store, monkeypatch):
    st = store.read_task(TASK)
    reads = []
    read_runs = st.read_runs
    monkeypatch.setattr(st, "read_runs", lambda offs, lens: reads.append(len(offs)) or read_runs(offs, lens))
    positions = np.arange(600)  # the reference packs: positive or negative
    schema = schema_for(FILTER_COLUMNS, False)
    table = build(st, positions, schema)
    assert reads == [] and table.num_rows == 600
    expected = frames.to_arrow(served(st, positions), omitted=ARTIFACT_KEYS).select(FILTER_COLUMNS)
    assert_same_table(table, expected)
    # a stored bucket that is neither positive nor negative: only those lines are read
    everything = np.arange(st.index.n)
    table = build(st, everything, schema)
    others = expected_others = frames.to_arrow(served(st, everything), omitted=ARTIFACT_KEYS).select(FILTER_COLUMNS)
    assert reads == [int((st.index.view("bucket") == 2).sum())] and reads[0] >= 1
    assert_same_table(table, others)
    assert expected_others.num_rows == st.index.n
    # task_name comes from the index too: no line is read for it
    before = list(reads)
    build(st, positions, schema_for(["pack_id", "task_name"], False))
    assert reads == before


def test_a_pack_revised_after_the_snapshot_keeps_the_snapshot_line(store):
    st = store.read_task(TASK)
    revised = sorted(st.index.history)
    with st.lock:
        where = snapshot_rows(st, np.array(revised, dtype=np.int64))
    # the snapshot as it was before each pack's latest revision: its first line
    for i, p in enumerate(revised):
        off, length, line_no = st.index.history[p][0]
        where["line_off"][i], where["line_len"][i], where["line_no"][i], where["revision"][i] = off, length, line_no, 1
    schema = schema_for(None, False)
    table = build(st, where, schema)
    old = [DataPackMeta.lazy(lambda h=st.index.history[p][0]: st.load(st.ref(p).__class__(
        st.task, st.ident, h[0], h[1], h[2], 1)), 1) for p in revised]
    assert_same_table(table, frames.to_arrow(old, omitted=ARTIFACT_KEYS))
    assert table.column("revision").to_pylist() == [1, 1]
    assert table.column("delta_j").to_pylist() != build(st, np.array(revised), schema).column("delta_j").to_pylist()
