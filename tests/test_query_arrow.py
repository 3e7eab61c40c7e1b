"""repo.query_arrow: the columnar read, embedded and over gRPC (sync and
asyncio), equal to datapack_client.frames.to_arrow of the same packs; and
over a server that builds the batches in its worker processes."""
from __future__ import annotations

import pytest

pa = pytest.importorskip("pyarrow")

try:
    from .conftest import STORE, copy_fixture, make_pack, scaled
except ImportError:  # tests/ not a package
    from conftest import STORE, copy_fixture, make_pack, scaled
from datapack_client import connect
from datapack_client.errors import InvalidArgumentError, NotFoundError
from datapack_client.records import frames
from datapack_client.records.schema import ARTIFACT_KEYS
from datapack_server.api.app import build_server
from datapack_server.api.config import ServerConfig

TASK = "drawer_vase"
FLAT = ["pack_id", "bucket", "delta_j", "trust_score", "engine_type", "skill_ids", "revision"]


def _expected(repo, **filters):
    """frames.to_arrow of the same query (a basic-view read has no artifact columns)."""
    packs = repo.query(TASK, **{"limit": None, **filters})
    return frames.to_arrow(packs, omitted=() if filters.get("include_artifacts") else ARTIFACT_KEYS)


@pytest.mark.parametrize("filters", [{}, {"bucket": "negative", "sort_by": "delta_j"}, {"include_artifacts": True},
                                     {"skill_id": 3, "limit": 5}])
def test_query_arrow_is_the_export_table_of_the_query(repo, data_root, filters):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    repo.update_training_usage(TASK, [repo.query(TASK, limit=1)[0].pack_id], add_training_runs=["r1"])
    got = repo.query_arrow(TASK, batch_size=7, **filters)
    want = _expected(repo, **filters)
    assert got.schema.names == want.schema.names
    assert got.num_rows == want.num_rows > 0
    assert got.to_pylist() == want.to_pylist()


def test_columns_are_narrowed_in_the_order_asked(repo):
    repo.append_batch([make_pack(f"n{i}", delta_j=float(i)) for i in range(6)])
    t = repo.query_arrow(TASK, columns=FLAT, bucket="positive", sort_by="delta_j")
    assert t.schema.names == FLAT
    assert t.column("pack_id").to_pylist() == [f"n{i}" for i in range(5, -1, -1)]
    assert t.column("revision").to_pylist() == [1] * 6


def test_an_empty_answer_still_has_the_schema(repo):
    repo.append(make_pack("only", delta_j=1.0))
    t = repo.query_arrow(TASK, columns=["pack_id", "delta_j"], bucket="negative")
    assert t.num_rows == 0 and t.schema.names == ["pack_id", "delta_j"]


@pytest.mark.parametrize("columns", [["pack_id", "no_such_column"], ["pack_id", "pack_id"], "pack_id", [3]])
def test_unknown_columns_are_refused_naming_columns(repo, columns):
    repo.append(make_pack("c"))
    with pytest.raises(InvalidArgumentError) as err:
        repo.query_arrow(TASK, columns=columns)
    assert err.value.violations[0].field == "columns"


def test_query_arrow_of_a_missing_task_is_not_found(repo):
    repo.append(make_pack("c"))
    with pytest.raises(NotFoundError):
        repo.query_arrow("nothing_here")


def test_a_server_builds_the_batches_in_its_workers_with_the_same_table(data_root):
    copy_fixture(data_root, "drawer_vase_datapacks.jsonl")
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, workers=2))
    try:
        with connect(f"127.0.0.1:{running.port}", store=STORE, timeout=scaled(60)) as c:
            got = c.query_arrow(TASK, batch_size=5)
            want = _expected(c)
            assert got.num_rows == want.num_rows > 10
            assert got.to_pylist() == want.to_pylist()
            assert got.to_pandas().shape[0] == got.num_rows
    finally:
        running.stop(0)


def test_dataframes_on_top_of_the_table(repo):
    repo.append_batch([make_pack(f"d{i}", delta_j=float(i)) for i in range(4)])
    t = repo.query_arrow(TASK, columns=["pack_id", "delta_j", "attribution"])
    df = frames.to_pandas(t)
    assert list(df["pack_id"]) == ["d0", "d1", "d2", "d3"]
    pytest.importorskip("polars")
    pl_df = frames.to_polars(t)
    assert pl_df["delta_j"].to_list() == [0.0, 1.0, 2.0, 3.0]
    assert pl_df["attribution"].struct.field("delta_J").to_list() == [0.0, 1.0, 2.0, 3.0]
    assert frames.to_polars(repo.query(TASK, limit=2)).height == 2


def test_batches_larger_than_the_message_limit_are_sent_in_slices(data_root):
    (data_root / STORE).mkdir()
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_message_bytes=64 << 10))
    try:
        with connect(f"127.0.0.1:{running.port}", store=STORE) as c:
            c.max_message_bytes = 64 << 10
            c.append_batch([make_pack(f"s{i:02d}", episode_metrics={"pad": "x" * 3000}) for i in range(60)])
            t = c.query_arrow(TASK, columns=["pack_id", "episode_metrics"], batch_size=60)
            assert t.column("pack_id").to_pylist() == [f"s{i:02d}" for i in range(60)]
            assert len(list(c.iter_query(TASK, batch_size=60))) == 60
    finally:
        running.stop(0)
