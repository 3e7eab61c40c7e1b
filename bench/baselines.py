"""Baselines for the timed query on the same JSONL file (item 7).

* DuckDB: `read_ndjson` with explicit columns (only the fields the query
  needs), returning pack_id and delta_J of the top 100;
* naive: the earlier library's design (docs/repository.md §13): re-read the whole
  file, `json.loads` every line (stdlib, as that library did), filter and sort
  in Python (stable, so ties keep append order).
"""
from __future__ import annotations

import json
import time

import duckdb

_COLUMNS = ("{'pack_id': 'VARCHAR', 'bucket': 'VARCHAR', "
            "'attribution': 'STRUCT(delta_J DOUBLE, trust_score DOUBLE)', "
            "'skill_trace': 'STRUCT(skill_id BIGINT)[]'}")
_SQL = f"""
SELECT pack_id, attribution.delta_J AS dj
FROM read_ndjson(?, columns={_COLUMNS})
WHERE bucket = 'positive'
  AND list_contains(list_transform(skill_trace, lambda e: e.skill_id), 3)
  AND attribution.trust_score >= 0.9
ORDER BY dj DESC
LIMIT 100
"""


def duckdb_timed(path: str, reps: int) -> tuple[list[float], list[tuple[str, float]]]:
    con = duckdb.connect()
    try:
        times, rows = [], []
        for _ in range(reps):
            t = time.perf_counter()
            rows = con.execute(_SQL, [path]).fetchall()
            times.append(time.perf_counter() - t)
        return times, rows
    finally:
        con.close()


def _naive_once(path: str) -> list[tuple[str, float]]:
    hits = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d.get("bucket") != "positive":
                continue
            attr = d.get("attribution") or {}
            if (attr.get("trust_score") or 0.0) < 0.9:
                continue
            if not any(e.get("skill_id") == 3 for e in d.get("skill_trace") or []):
                continue
            hits.append(d)
    hits.sort(key=lambda d: d["attribution"]["delta_J"], reverse=True)  # stable
    return [(d["pack_id"], d["attribution"]["delta_J"]) for d in hits[:100]]


def naive_timed(path: str, reps: int) -> tuple[list[float], list[tuple[str, float]]]:
    times, rows = [], []
    for _ in range(reps):
        t = time.perf_counter()
        rows = _naive_once(path)
        times.append(time.perf_counter() - t)
    return times, rows
