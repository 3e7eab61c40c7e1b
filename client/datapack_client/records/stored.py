"""From a stored line's JSON object to the record a reader is served
(docs/schema.md §7.4, §8, §10), and reads that travel as stored lines.

Reading is lenient: anything that parses as a JSON object is served; values
of the wrong type are kept as stored (computations use defaults); a missing
pack_id / created_at gets the value derived from the line's position;
legacy-shaped dicts are mapped to the unified record with nothing lost.

The server, the embedded repository and the remote client all apply
`served_from_stored`, so a line sent as it is stored (a bulk read) is served
exactly as a record the server decodes itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from datapack_client.records import jsonio, schema
from datapack_client.records.model import DataPackMeta

LEGACY_MARKERS = ("condition_profile", "econ_params", "semantic_energy_drivers")


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


_PROFILE_KEYS = {name: tuple(k for k, _, _ in table) for name, table in schema.PROFILES.items()}
_TOP_COUNT = len(schema.TOP_KEYS)


def is_served_form(d: dict) -> bool:
    """Whether a parsed line already is its served record: every modelled key
    in schema order, the profiles likewise, pack_id and created_at given, no
    `_revision` key (every line this service writes). Normalising it would
    only copy it."""
    if tuple(d)[:_TOP_COUNT] != schema.TOP_KEYS or "_revision" in d:
        return False
    if d["pack_id"] in (None, "") or d["created_at"] in (None, ""):
        return False
    for key, name in schema.PROFILE_OF_KEY.items():
        v = d[key]
        if type(v) is dict and (v or key in schema.REQUIRED_PROFILES):
            modelled = _PROFILE_KEYS[name]
            if tuple(v)[:len(modelled)] != modelled:
                return False
    return True


def served_from_stored(d: dict, pack_id: str, line_number: int, task_name: str) -> dict:
    """The record served for the parsed line `d` (which it may return itself):
    legacy-mapped, normalised, without the `_revision` bookkeeping key.
    `pack_id` is the line's id as the store indexes it (its own, or the one
    derived from its position when it has none); created_at, when missing, is
    derived from `line_number`."""
    if is_served_form(d):
        return d
    if is_legacy(d):
        rec = map_legacy(d, task_name, pack_id, schema.derived_created_at(line_number))
    else:
        created = d.get("created_at")
        derived = schema.derived_created_at(line_number) if created is None or created == "" else None
        rec = schema.normalize_record(d, pack_id=pack_id, created_at=derived)
    rec.pop("_revision", None)
    return rec


# Bit of each heavy artifact in LineBatch.omitted (the wire's JsonLinesBatch.omitted).
OMITTED_BITS = tuple((key, 1 << i) for i, key in enumerate(schema.ARTIFACT_KEYS))


def omitted_keys(mask: int) -> tuple[str, ...]:
    return tuple(key for key, bit in OMITTED_BITS if mask & bit)


def omitted_mask(keys) -> int:
    return sum(bit for key, bit in OMITTED_BITS if key in keys)


@dataclass
class LineBatch:
    """Consecutive packs of a read, as their stored lines: `lines` is the
    lines (each ending in a newline) concatenated; the lists hold one entry
    per line. omitted: per line, the artifact bits a basic-view read left out
    of it (None when none was left out)."""

    task_name: str
    lines: bytes
    pack_ids: list[str]
    revisions: list[int]
    line_numbers: list[int]
    omitted: list[int] | None = None

    def __len__(self) -> int:
        return len(self.pack_ids)


class _StoredLine:
    """Loads the record of a line sent by a bulk read (one object per pack,
    no closures: creating records is most of a bulk read's cost)."""

    __slots__ = ("line", "pack_id", "line_number", "task")

    def __init__(self, line: bytes, pack_id: str, line_number: int, task: str):
        self.line, self.pack_id, self.line_number, self.task = line, pack_id, line_number, task

    def __call__(self) -> dict:
        return served_from_stored(jsonio.loads(self.line), self.pack_id, self.line_number, self.task)


def batch_records(batch: LineBatch) -> list[DataPackMeta]:
    """The packs of a batch as records that parse their line when a field
    other than pack_id is first read (pack_id comes from the batch)."""
    lines = batch.lines.split(b"\n")
    if len(lines) != len(batch.pack_ids) + 1 or lines[-1]:
        raise ValueError(f"a line batch of {len(batch.pack_ids)} packs holds {len(lines) - 1} lines")
    task, lazy = batch.task_name, DataPackMeta.lazy_known
    masks = batch.omitted or [0] * len(batch.pack_ids)
    return [lazy(_StoredLine(line, pid, no, task), {"pack_id": pid}, omitted_keys(m) if m else (), rev)
            for line, pid, no, rev, m in zip(lines, batch.pack_ids, batch.line_numbers, batch.revisions, masks)]
