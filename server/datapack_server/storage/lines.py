"""From a stored line to the served record (docs/schema.md §1, §7.4, §8, §10).

Reading is lenient: anything that parses as a JSON object is served; values
of the wrong type are kept as stored (computations use defaults); missing
pack_id/created_at get values derived from the line's position; legacy-shaped
dicts are mapped to the unified record with nothing lost.
"""
from __future__ import annotations

import json
import os

import orjson

from datapack_client.records import schema
from datapack_client.records.validation import encoding_violation

LEGACY_MARKERS = ("condition_profile", "econ_params", "semantic_energy_drivers")

# Deepest nesting a served line may have (containers, the record included).
# Serving re-encodes lines with orjson (at most 254 levels), legacy mapping
# moves condition_profile one level down, and appends stay at 250 or less
# (validation.MAX_RECORD_DEPTH); a deeper line would parse but crash every
# read that serves it, so it is corrupt instead.
READ_MAX_DEPTH = 252
# orjson.loads refuses more than 1024 levels: parsing a large line inside
# this many extra brackets bounds its depth at no extra cost.
_WRAP = 1024 - READ_MAX_DEPTH
_WRAP_OPEN, _WRAP_CLOSE = b"[" * _WRAP, b"]" * _WRAP
# Below this size counting the brackets is cheaper than unwrapping _WRAP lists.
_WRAPPED_PARSE_MIN = 64 << 10


class CorruptLine(ValueError):
    """The line is not one JSON object (docs/schema.md §8.5)."""


def parse_line(raw: bytes) -> dict:
    """The JSON object of a line (surrounding whitespace ignored); NaN/Infinity
    tokens of old lines accepted. Raises CorruptLine, also for a line that
    cannot be served again (nested deeper than READ_MAX_DEPTH, an integer
    beyond 64 bits, a lone surrogate)."""
    value = _wrapped_loads(raw) if len(raw) >= _WRAPPED_PARSE_MIN else None
    if value is not None:
        suspect = False
    else:
        try:
            value = orjson.loads(raw)
            suspect = raw.count(b"[") + raw.count(b"{") > READ_MAX_DEPTH
        except orjson.JSONDecodeError:
            value, suspect = _stdlib_loads(raw), True
    if type(value) is not dict:
        raise CorruptLine("not a JSON object")
    if suspect:
        bad = encoding_violation(value, READ_MAX_DEPTH)
        if bad is not None:
            raise CorruptLine(bad[1])
    return value


def _wrapped_loads(raw: bytes) -> dict | None:
    """The object of a line no deeper than READ_MAX_DEPTH, else None."""
    try:
        v = orjson.loads(_WRAP_OPEN + raw + _WRAP_CLOSE)
    except orjson.JSONDecodeError:
        return None
    for _ in range(_WRAP):
        # One element per level, or the line was several values ("{},{}").
        if len(v) != 1:
            return None
        v = v[0]
    return v if type(v) is dict else None


def _stdlib_loads(raw: bytes):
    """Old lines with NaN/Infinity tokens, which orjson refuses."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise CorruptLine(str(exc)) from None
    except RecursionError:
        raise CorruptLine("nesting too deep") from None


def is_legacy(d: dict) -> bool:
    """docs/schema.md §10.1: no `condition` key and a legacy-only key."""
    return "condition" not in d and any(k in d for k in LEGACY_MARKERS)


def map_legacy(d: dict, task_name: str, pack_id: str, created_at: str) -> dict:
    """docs/schema.md §10.2: a legacy 2.0-energy dict as a unified record. Keys the
    mapping does not use are carried as unmodelled top-level keys."""
    def obj(key):
        v = d.get(key)
        return v if type(v) is dict else {}

    attr = obj("attribution")
    econ = obj("econ_params")
    cond_profile = d.get("condition_profile")
    cp = cond_profile if type(cond_profile) is dict else {}
    env_type = d.get("env_type") if "env_type" in d else task_name
    dj = attr.get("delta_J", attr.get("delta_mpl", 0.0))
    try:
        positive = dj >= 0
    except TypeError:
        positive = True
    brick = d.get("brick_id")
    condition = schema.default_profile("ConditionProfile")
    condition.update({
        "task_name": env_type,
        "engine_type": cp.get("engine_type", "pybullet"),
        "world_id": cp.get("world_id", "pyb_drawer_v1"),
        "econ_preset": econ.get("preset", "drawer_vase"),
        "price_per_unit": econ.get("price_per_unit", 5.0),
        "vase_break_cost": econ.get("damage_cost", 50.0),
        "energy_price_kWh": econ.get("energy_price_kWh", 0.12),
        "tags": cond_profile if cond_profile is not None else {},
    })
    attribution = schema.default_profile("AttributionProfile")
    for k in ("delta_mpl", "delta_error", "delta_ep"):
        if k in attr:
            attribution[k] = attr[k]
    attribution["trust_score"] = attr.get("trust")
    w = attr.get("econ_weight")
    attribution["w_econ"] = 0.0 if w is None else w
    attribution["delta_J"] = attr.get("delta_J", 0.0)
    energy = schema.default_profile("EnergyProfile")
    for k, v in obj("energy").items():
        energy[k] = v
    rec = {
        "schema_version": d.get("schema_version", "2.0-energy"),
        "pack_id": brick if type(brick) is str and brick else pack_id,
        "task_name": task_name,
        "env_type": env_type,
        "brick_id": brick,
        "bucket": "positive" if positive else "negative",
        "semantic_tags": d.get("tags", []),
        "econ_semantic_tags": d.get("econ_semantic_tags"),
        "semantic_quality": d.get("semantic_quality"),
        "energy_driver_tags": d.get("semantic_energy_drivers", []),
        "condition": condition,
        "attribution": attribution,
        "energy": energy,
        "agent_profile": d.get("agent_profile", {}),
        "skill_trace": [],
        "episode_metrics": d.get("episode_metrics", {}),
        "episode_id": d.get("episode_id", brick),
        "created_at": created_at,
    }
    # Unmapped keys of the legacy attribution (e.g. novelty) stay inside it, so nothing is lost.
    for k, v in attr.items():
        if k not in attribution and k not in ("trust", "econ_weight"):
            attribution[k] = v
    out = schema.normalize_record(rec)
    # Legacy-only top-level keys (econ_params, condition_profile, tags,
    # semantic_energy_drivers, media_refs, ...) are carried as unmodelled keys.
    for k, v in d.items():
        if k not in out:
            out[k] = v
    return out


def served_record(d: dict, file_name: str, line_number: int, task_name: str) -> dict:
    """The record a reader serves for a parsed line: legacy-mapped, normalised,
    derived pack_id/created_at filled, without the `_revision` bookkeeping key."""
    pid = schema.derived_pack_id(file_name, line_number)
    created = schema.derived_created_at(line_number)
    if is_legacy(d):
        rec = map_legacy(d, task_name, pid, created)
    else:
        rec = schema.normalize_record(d, pack_id=pid, created_at=created)
    rec.pop("_revision", None)
    return rec


def line_blocks(fd: int, start: int, end: int, chunk: int):
    """Read [start, end) of an open file (start is a line start) in chunks of
    about `chunk` bytes, yielding (block, offset, True) for each run of
    complete lines and, last, (tail, offset, False) for the bytes after the
    last newline, if any (a torn tail or a line still being written)."""
    off = start
    carry = b""
    while off < end:
        data = os.pread(fd, min(chunk, end - off), off)
        if not data:
            break
        data = carry + data
        base = off - len(carry)
        off = base + len(data)
        nl = data.rfind(b"\n")
        if nl < 0:
            carry = data
            continue
        yield data[: nl + 1], base, True
        carry = data[nl + 1:]
    if carry:
        yield carry, off - len(carry), False
