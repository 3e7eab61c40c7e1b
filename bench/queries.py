"""Query and statistics latency over gRPC (items 3 and 4).

Results are fully materialised: every result's `pack_id` and
`attribution.delta_J` are read ("touch"), and in a second loop also
`to_dict()` is called on each. A raw-stub loop of the timed query receives the
response messages as bytes without decoding them, which separates the server
and transport time from the client's decoding.
"""
from __future__ import annotations

import grpc

from datapack_client.errors import DataPackError

from datapack_client.client import channel_options
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.query import make_query
from datapack_client.wire.query import query_to_proto

from .datagen import TASK
from .util import latencies, pct_ms, progress, timed

# docs/repository.md §13 timed query first, then other filtered top-100 queries.
QUERIES = {
    "timed": dict(bucket="positive", skill_id=3, min_trust=0.9, sort_by="delta_j", limit=100),
    "engine+min_dj": dict(engine_type="isaac", min_delta_j=5.0, sort_by="delta_j", limit=100),
    "source+trust": dict(source_type="synthetic", sort_by="trust_score", limit=100),
    "friction_min": dict(condition_filters={"drawer_friction_min": 0.4}, sort_by="delta_j", limit=100),
    "sima": dict(include_sima=True, sort_by="delta_j", limit=100),
    # Extra: newest annotated packs (exercises the created_at sort).
    "sima+created_at": dict(include_sima=True, sort_by="created_at", limit=100),
}
QUERY_METHOD = "/datapack.v1.DataPackService/QueryDataPacks"


def run_query(client, kind: str, to_dict: bool = False) -> list:
    res = client.query(TASK, **QUERIES[kind])
    for dp in res:
        dp.pack_id
        dp.attribution.delta_J
        if to_dict:
            dp.to_dict()
    return res


def _error(exc: DataPackError) -> str:
    return f"ERROR {exc.code}: {exc.message}"[:120]


def cold(client) -> dict:
    """Seconds of the first run of each query kind (task already loaded), or an error text."""
    out = {}
    for kind in QUERIES:
        try:
            out[kind] = timed(run_query, client, kind)[0]
        except DataPackError as exc:
            out[kind] = _error(exc)
    return out


def warm(client, target: str, store: str, reps: int) -> dict:
    """(p50 ms, p99 ms, reps) of each query kind, with and without to_dict
    (or an error text), the raw timed query, and get_statistics."""
    out: dict = {}
    for kind in QUERIES:
        for variant in ("touch", "to_dict"):
            try:
                s = latencies(lambda: run_query(client, kind, variant == "to_dict"), reps)
                out[(kind, variant)] = (pct_ms(s, 50), pct_ms(s, 99), len(s))
            except DataPackError as exc:
                out[(kind, variant)] = _error(exc)
        progress(f"  query {kind}: {out[(kind, 'touch')]}")
    channel = grpc.insecure_channel(target, options=channel_options())
    try:
        call = channel.unary_stream(QUERY_METHOD, request_serializer=spb.QueryDataPacksRequest.SerializeToString,
                                    response_deserializer=None)
        req = query_to_proto(store, TASK, make_query(**QUERIES["timed"]))
        s = latencies(lambda: sum(len(b) for b in call(req, timeout=60)), reps)
        out[("timed", "raw")] = (pct_ms(s, 50), pct_ms(s, 99), len(s))
    finally:
        channel.close()
    s = latencies(lambda: client.get_statistics(TASK), reps)
    out[("statistics", "")] = (pct_ms(s, 50), pct_ms(s, 99), len(s))
    progress(f"  statistics: p50 {out[('statistics', '')][0]:.2f} ms")
    return out
