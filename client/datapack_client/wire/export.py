"""Portable-export arguments and progress on the wire: ExportArgs <->
ExportPortableRequest, the progress summary <-> ExportPortableResponse. What
arrives is validated by `records.export.make_export_args`."""
from __future__ import annotations

from typing import Any

from datapack_client.errors import invalid
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.export import COUNTERS, ExportArgs, make_export_args

NOT_WRITTEN_KEYS = ("pack_id", "counter", "reason", "message")


def export_to_proto(store: str, task_name: str, a: ExportArgs) -> spb.ExportPortableRequest:
    req = spb.ExportPortableRequest(store=store, task_name=task_name, stride_seconds=a.stride_seconds,
                                    store_temporal=a.store_temporal, token_dim=a.token_dim,
                                    pool_size=list(a.pool_size), repr_tokens=list(a.repr_names))
    if a.output_store is not None:
        req.output_store = a.output_store
    if a.max_episodes is not None:
        req.max_episodes = a.max_episodes
    if a.source_fps is not None:
        req.source_fps = a.source_fps
    return req


def export_from_proto(req: spb.ExportPortableRequest) -> ExportArgs:
    def opt(name, default=None):
        return getattr(req, name) if req.HasField(name) else default

    if req.pool_size and len(req.pool_size) != 2:
        raise invalid("pool_size", "ARGUMENT_INVALID", f"pool_size must be two integers ≥ 1, got {list(req.pool_size)}")
    return make_export_args(opt("output_store"), opt("max_episodes"), opt("stride_seconds", 1.0), opt("source_fps"),
                            req.store_temporal, opt("token_dim", 64), tuple(req.pool_size) or (4, 4),
                            tuple(req.repr_tokens))


def summary_to_proto(s: dict, done: bool) -> spb.ExportPortableResponse:
    return spb.ExportPortableResponse(processed=s["processed"], total=s["total"], done=done,
                                      counters=spb.ExportCounters(**{k: s[k] for k in COUNTERS}),
                                      not_written=[spb.ExportNotWritten(**{k: e[k] for k in NOT_WRITTEN_KEYS})
                                                   for e in s.get("not_written", ())])


def summary_from_proto(resp: spb.ExportPortableResponse, task: str, source: str, output: str | None,
                       repr_names: tuple) -> dict:
    out: dict[str, Any] = {"task": task, "source": source, "output": output, "total": resp.total,
                           "processed": resp.processed}
    out.update({k: getattr(resp.counters, k) for k in COUNTERS})
    out["not_written"] = [{k: getattr(e, k) for k in NOT_WRITTEN_KEYS} for e in resp.not_written]
    if repr_names:
        out["repr_tokens"] = list(repr_names)
    return out
