"""The benchmark's bulk and growth tables: ratios, failed peers and missing
service calls are reported (never dropped, never fatal), and the growth table
takes its figures from the per-size rows. Pure functions on made-up figures:
nothing here measures or asserts a time."""
from __future__ import annotations

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from bench import bulk, per_size, report  # noqa: E402


def _results(n: int) -> list[dict]:
    return [
        {"measure": "objects", "who": "DuckDB read_ndjson_auto -> Arrow", "side": "peer", "seconds": 2.0, "count": n},
        {"measure": "objects", "who": "Polars scan_parquet (its own file)", "side": "peer", "seconds": 0.5,
         "count": n},
        {"measure": "objects", "who": "pyarrow.json.read_json", "side": "peer",
         "error": "ArrowNotImplementedError: JSON conversion to struct<a: int64> is not supported"},
        {"measure": "objects", "who": "query(limit=None), pack_id read, embedded", "side": "embedded",
         "seconds": 1.0, "count": n},
        {"measure": "objects", "who": "iter_query full, pack_id read, remote", "side": "remote",
         "error": "AttributeError: 'DataPackClient' object has no attribute 'iter_query'"},
        {"measure": "first", "who": "DuckDB read_ndjson_auto LIMIT 1", "side": "peer", "seconds": 0.2, "count": 1},
        {"measure": "first", "who": "iter_query, embedded", "side": "embedded", "seconds": 0.005, "count": 1},
    ]


def test_bulk_ratios_are_speed_ratios_against_best_and_reference_peer():
    n = 100_000
    rows, blocks = bulk.assemble(_results(n), n)
    objects = next(b for b in blocks if b["measure"] == "objects")
    assert objects["best_peer"] == "Polars scan_parquet (its own file)"
    line = next(x for x in objects["lines"] if x["who"].startswith("query(limit=None)"))
    assert line["value"] == pytest.approx(100_000)
    assert line["ratio_best"] == pytest.approx(0.5)  # 100k/s against 200k/s
    assert line["ratio_ref"] == pytest.approx(2.0)  # against DuckDB's 50k/s
    assert line["ok"] is True  # >= 60,000 packs/s and >= 2x the reference
    first = next(b for b in blocks if b["measure"] == "first")
    fast = next(x for x in first["lines"] if x["side"] == "embedded")
    assert fast["value"] == pytest.approx(5.0)  # ms
    assert fast["ratio_ref"] == pytest.approx(40.0)  # 200 ms / 5 ms: a time ratio turned into a speed ratio
    ratio_rows = [r for r in rows if r.metric.startswith("objects: query(limit=None)") and r.unit == "x"]
    assert sorted(r.value for r in ratio_rows) == pytest.approx([0.5, 2.0])


def test_failed_peer_and_missing_service_call_are_reported_not_dropped():
    n = 1000
    rows, blocks = bulk.assemble(_results(n), n)
    objects = next(b for b in blocks if b["measure"] == "objects")
    failed = next(x for x in objects["lines"] if x["who"] == "pyarrow.json.read_json")
    assert failed["value"] is None and failed["note"].startswith("failed: ArrowNotImplementedError")
    missing = next(x for x in objects["lines"] if x["who"].startswith("iter_query"))
    assert missing["value"] is None and missing["note"].startswith("not available: AttributeError")
    assert missing["ok"] is False
    text = report.side_by_side(blocks, n, 1, 6.1)
    assert "failed: ArrowNotImplementedError" in text and "not available: AttributeError" in text
    assert all(r.section == "bulk" for r in rows)


class _Partial:
    """A repository with query() only: every other bulk call is missing."""

    def query(self, task, limit=None):
        return [type("P", (), {"pack_id": str(i)})() for i in range(3)]

    load_all = None  # not callable: TypeError


def test_measure_service_turns_missing_calls_into_rows():
    out = bulk.measure_service(_Partial(), "embedded", 3, 1, ["pack_id"])
    by_who = {r["who"]: r for r in out}
    assert by_who["query(limit=None), pack_id read, embedded"]["count"] == 3
    assert by_who["load_all, pack_id read, embedded"]["error"].startswith("TypeError")
    assert by_who["iter_query full, pack_id read, embedded"]["error"].startswith("AttributeError")
    assert by_who["iter_query, embedded"]["error"].startswith("AttributeError")
    assert any(k.startswith("query_arrow") and "error" in v for k, v in by_who.items())


def test_growth_point_and_table_mark_missed_targets():
    n = 1_000_000
    rows = [report.row("open", "index build from scratch (in-process)", n, 40_000.0, "packs/s"),
            report.row("query", "timed p50", n, 2.5, "ms"),
            report.row("statistics", "get_statistics p50", n, 0.8, "ms")]
    det = {"snapshot_files": ["index.bin"],
           "server_A": {"rss": 600 * n, "startup_s": 1.0, "first_s": 0.5},
           "server_C": {"rss": 1000 * n, "startup_s": 24.0, "first_s": 1.0},
           "stream": {"packs_per_s": 70_000.0, "first_ms": 20.0, "rss_mib": [(0, 100.0), (n, 130.0)]}}
    point = per_size.growth_point(n, rows, det, (100 * n, 0))
    assert point["rss_snapshot"] == pytest.approx(500) and point["rss_scratch"] == pytest.approx(900)
    assert point["reopen_s"] == pytest.approx(1.5) and point["reopen_scratch_s"] == pytest.approx(25.0)
    assert point["server_build_rate"] == pytest.approx(40_000)
    assert point["client_rss_growth_mib"] == pytest.approx(30.0)
    table = report.growth_table([point, {"n": 100_000, "top100_p50_ms": 2.5}])
    row_1m = next(line for line in table.splitlines() if line.startswith("1M"))
    assert "40,000*" in row_1m and "900*" in row_1m  # the server's build rate and scratch RSS miss their targets
    assert " 2.50 " in row_1m + " "  # 2.5 ms meets the 3 ms target at 1M ...
    row_100k = next(line for line in table.splitlines() if line.startswith("100k"))
    assert "2.50*" in row_100k  # ... but not the 2 ms one at 100k
