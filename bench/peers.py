"""What users would run instead of the service, on the same JSONL file.

Each function reads or converts the whole task file the way its tool is
normally used and returns what it built, so the caller can time it and check
the row count:

* DuckDB: `read_ndjson_auto` -> Arrow, the same on a Parquet file DuckDB wrote
  (`COPY ... TO ... (FORMAT parquet)`), `LIMIT 1` for the first record;
* Polars: `scan_ndjson(...).collect()` with its default schema inference (the
  first 100 lines; it fails on this data, whose optional profiles are null in
  the first lines and objects later) and with `infer_schema_length=None`;
  `scan_parquet` of a file Polars wrote;
* pyarrow: `pyarrow.json.read_json` (its inference fails on this data too) and
  `pyarrow.parquet.read_table`;
* orjson: `orjson.loads` of every line, on one core: the raw parse a Python
  reader of the file cannot beat.

A fresh DuckDB connection per call: duckdb 2 refuses new work on a connection
with an unfinished result, and no call should profit from another's state.
"""
from __future__ import annotations

import duckdb
import orjson

# Top-level record keys the service's flat filter columns are computed from
# (pack_id, bucket, attribution.delta_J, condition.engine_type, skill ids, ...):
# the projection a peer reads for the "filter columns" measure.
FLAT_SOURCES = ("pack_id", "task_name", "bucket", "schema_version", "created_at", "attribution", "condition",
                "skill_trace", "sima_annotation", "counterfactual_plan", "slice_labels_v1")


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _columns_sql(columns) -> str:
    return "*" if columns is None else ", ".join('"' + c.replace('"', '""') + '"' for c in columns)


def duckdb_ndjson(path: str, columns=None):
    """SELECT (columns) FROM read_ndjson_auto(path) as a pyarrow.Table."""
    with duckdb.connect() as con:
        return con.sql(f"SELECT {_columns_sql(columns)} FROM read_ndjson_auto({_quote(path)})").to_arrow_table()


def duckdb_parquet(path: str, columns=None):
    with duckdb.connect() as con:
        return con.sql(f"SELECT {_columns_sql(columns)} FROM read_parquet({_quote(path)})").to_arrow_table()


def duckdb_copy_parquet(src: str, out: str) -> int:
    """COPY (SELECT * FROM read_ndjson_auto(src)) TO out (FORMAT parquet); rows written."""
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_ndjson_auto({_quote(src)})) TO {_quote(out)} (FORMAT parquet)")
        return con.execute(f"SELECT count(*) FROM read_parquet({_quote(out)})").fetchall()[0][0]


def duckdb_first(path: str):
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_ndjson_auto({_quote(path)}) LIMIT 1").fetchall()


def polars_ndjson(path: str, full_inference: bool, columns=None):
    import polars as pl

    lf = pl.scan_ndjson(path, infer_schema_length=None) if full_inference else pl.scan_ndjson(path)
    return (lf if columns is None else lf.select(list(columns))).collect()


def polars_first(path: str, full_inference: bool):
    import polars as pl

    lf = pl.scan_ndjson(path, infer_schema_length=None) if full_inference else pl.scan_ndjson(path)
    return lf.head(1).collect()


def polars_write_parquet(src: str, out: str) -> int:
    """scan_ndjson(src, infer_schema_length=None).collect().write_parquet(out); rows written."""
    df = polars_ndjson(src, True)
    df.write_parquet(out)
    return df.height


def polars_parquet(path: str, columns=None):
    import polars as pl

    lf = pl.scan_parquet(path)
    return (lf if columns is None else lf.select(list(columns))).collect()


def pyarrow_json(path: str):
    import pyarrow.json as pj

    return pj.read_json(path)


def pyarrow_parquet(path: str, columns=None):
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=None if columns is None else list(columns))


def orjson_lines(path: str) -> list:
    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f if line.strip()]


def orjson_first(path: str):
    with open(path, "rb") as f:
        return orjson.loads(f.readline())


def rows_of(result) -> int:
    """Row count of what a peer returned (Arrow table, Polars frame, list)."""
    for attr in ("num_rows", "height"):
        if hasattr(result, attr):
            return int(getattr(result, attr))
    if isinstance(result, int):
        return result
    return len(result)


def present(columns, parquet_path: str) -> list[str]:
    """The columns of `columns` that the Parquet file has (a key absent from
    every record has no column)."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(parquet_path).names)
    return [c for c in columns if c in names]
