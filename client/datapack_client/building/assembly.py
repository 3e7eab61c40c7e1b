"""The last steps of a build (docs/building.md §2.2 steps 14-17): the pack's
identity, its schema version, the record in the line layout, and the self-check
that makes the builder raise what `append` would raise."""
from __future__ import annotations

import uuid
from typing import Any

from datapack_client.building.inputs import BuildInputs
from datapack_client.building.values import as_list, number, plain
from datapack_client.errors import InvalidArgumentError, Violation, invalid
from datapack_client.records import jsonio, schema
from datapack_client.records.model import DataPackMeta
from datapack_client.records.validation import record_violations


def pack_id_for(pack_id: Any, brick_id: Any, env_type: str, episode_id: str) -> Any:
    """§2.2 step 14: the given pack_id; else a non-empty string brick_id; else
    UUID5(DATAPACK_NS, "episode:<env_type>:<episode_id>"), stable across rebuilds."""
    if pack_id is not None and pack_id != "":
        return plain(pack_id)
    if type(brick_id) is str and brick_id:
        return brick_id
    return str(uuid.uuid5(schema.DATAPACK_NS, f"episode:{env_type}:{episode_id}"))


def schema_version_for(schema_version: Any, repr_tokens: Any, portable_artifacts: tuple) -> str:
    """§2.2 step 15: the given version (a known one, else SCHEMA_VERSION_UNKNOWN);
    else the oldest version that holds what the pack carries."""
    if schema_version is not None:
        if schema_version not in schema.SCHEMA_VERSIONS:
            raise invalid("schema_version", "SCHEMA_VERSION_UNKNOWN",
                          f"schema_version {schema_version!r} is not one of {', '.join(schema.SCHEMA_VERSIONS)}")
        return schema_version
    if repr_tokens is not None:
        return "2.2-repr"
    if any(artifact is not None for artifact in portable_artifacts):
        return "2.1-portable"
    return "2.0-energy"


def semantic_quality_of(semantic_quality: Any) -> float | None:
    """§2.2 step 16: a finite number clamped to [0, 1], or None."""
    if semantic_quality is None:
        return None
    return min(max(number(semantic_quality, "semantic_quality"), 0.0), 1.0)


def assemble_record(given: BuildInputs, derived: dict, supplied: dict, *, pack_id: Any,
                    econ_semantic_tags: Any, created_at: Any) -> dict:
    """The JSON object of the pack: `derived` holds what steps 5-16 computed,
    `supplied` the caller's values stored as given (as plain JSON values)."""
    record = {
        "pack_id": pack_id,
        "task_name": given.env_type,
        "env_type": given.env_type,
        "econ_semantic_tags": None if econ_semantic_tags is None else as_list(econ_semantic_tags),
        "agent_profile": given.agent_profile,
        "episode_metrics": given.summary.to_dict(),
        "process_reward_profile": None,
        "created_at": schema.utc_now() if created_at is None else plain(created_at),
        "episode_id": given.summary.episode_id,
        **derived,
    }
    for key, value in supplied.items():
        record[key] = plain(value)
    return record


def validated_pack(record: dict) -> DataPackMeta:
    """§2.2 step 17: the pack, or the InvalidArgumentError append would raise
    (every violation listed; the message names the first)."""
    meta = DataPackMeta.from_dict(record)
    rec = meta.json_object()
    violations = record_violations(rec, 0, check_free_finite=True)
    if not violations:
        try:
            jsonio.dumps(rec)
        except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
            violations = [Violation(0, rec.get("pack_id"), "", "FIELD_TYPE", f"record is not JSON-serialisable: {exc}")]
    if violations:
        first = violations[0]
        raise InvalidArgumentError(f"{len(violations)} invalid field(s); first: {first.message}", first.reason,
                                   violations)
    return meta
