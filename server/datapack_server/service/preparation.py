"""Preparation of appended records and ingested episodes, run in the worker
pool for large batches (pure functions: bytes in, stored lines and index rows
out; all state, locking and writes stay in the owning process)."""
from __future__ import annotations

import orjson

from datapack_client.building.builder import Baseline
from datapack_client.errors import DataPackError, Violation
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records import validation
from datapack_client.wire import codec
from datapack_client.wire.episodes import econ_from_proto, episodes_from_proto
from datapack_client.wire.fastdecode import decode_record
from datapack_server.engine.index import raw_row
from datapack_server.service.ingest import build_episodes

_PROFILE_FIELDS = ("condition", "attribution", "energy", "sima_annotation", "objective_profile",
                   "process_reward_profile", "embodiment_profile", "guidance_profile")


def has_verbatim(msg: pb.DataPackMeta) -> bool:
    """Whether any message of the record carries values outside its typed
    fields (then every field's JSON type must be checked)."""
    if msg.verbatim_json:
        return True
    for name in _PROFILE_FIELDS:
        if msg.HasField(name) and getattr(msg, name).verbatim_json:
            return True
    return any(e.verbatim_json for e in msg.skill_trace)


def prepare_records(raw_records: list[bytes], now: str) -> tuple[list, list]:
    """Decode, normalise, validate and encode serialized DataPackMeta messages.
    Returns (prepared, violations): prepared[i] = (task, pack_id, line, raw_row)."""
    prepared = []
    violations: list[Violation] = []
    for i, raw in enumerate(raw_records):
        try:
            msg = pb.DataPackMeta.FromString(raw)
        except Exception as exc:  # noqa: BLE001 - a malformed message is a bad argument
            violations.append(Violation(i, None, "", "FIELD_TYPE", f"not a DataPackMeta message: {exc}"))
            continue
        try:
            rec = decode_record(msg, strict=True, created_at=now)
        except codec.JsonTextError as exc:
            violations.append(Violation(i, msg.pack_id or None, exc.field, "FIELD_TYPE", str(exc)))
            continue
        vs = validation.record_violations(rec, i, typed=not has_verbatim(msg))
        if vs:
            violations.extend(vs)
            continue
        line = orjson.dumps(rec, option=orjson.OPT_NON_STR_KEYS) + b"\n"
        prepared.append((rec["task_name"], rec["pack_id"], line, raw_row(rec, 0, len(line), 0, 1)))
    return prepared, violations




def prepare_ingest(raw_request: bytes, now: str, baseline: dict) -> tuple[list, list, list]:
    """Build, validate and encode the episodes of a serialized
    IngestEpisodesRequest (baseline already resolved to values). Returns
    (prepared as in prepare_records, violations, [(bucket, delta_J)])."""
    req = spb.IngestEpisodesRequest.FromString(raw_request)
    try:
        episodes = episodes_from_proto(req.episodes)
        packs = build_episodes(episodes, econ_from_proto(req.econ_params),
                               Baseline(baseline["mpl"], baseline["error"], baseline["ep"], baseline.get("wage_parity"),
                                        name=baseline.get("name")))
    except DataPackError as err:
        return [], err.violations or [Violation(0, None, "", err.reason, err.message)], []
    prepared, outcomes = [], []
    for p in packs:
        rec = p.json_object()
        line = orjson.dumps(rec, option=orjson.OPT_NON_STR_KEYS) + b"\n"
        prepared.append((rec["task_name"], rec["pack_id"], line, raw_row(rec, 0, len(line), 0, 1)))
        outcomes.append((p.bucket, p.attribution.delta_J))
    return prepared, [], outcomes
