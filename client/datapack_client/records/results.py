"""Result types shared by the embedded repository, the remote client and the server."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class AppendResult:
    """Outcome of one appended record (docs/repository.md §4.1).

    status: "created" or "already_present"; revision: the pack's current
    revision; sequence: the pack's 0-based position in its task's append order
    (stable across restarts, the same for a re-append of an identical record).
    """

    index: int
    pack_id: str
    task_name: str
    status: str
    revision: int
    sequence: int

    def to_dict(self) -> dict:
        return asdict(self)

    def __getitem__(self, key: str):
        return getattr(self, key)


@dataclass
class IngestResult:
    """Outcome of one ingested episode: the pack built from it and its append
    status ("created" or "already_present")."""

    index: int
    pack_id: str
    task_name: str
    status: str
    bucket: str
    delta_j: float
    sequence: int

    def to_dict(self) -> dict:
        return asdict(self)

    def __getitem__(self, key: str):
        return getattr(self, key)


# Value-matrix columns (docs/adapter.md §3.6), in order; a pack falls in the first
# of VALUE_MATRIX_CONDITIONS[1:] found in its semantic_tags, else in "normal".
VALUE_MATRIX_CONDITIONS = ("normal", "offset_vase", "high_friction", "low_light", "partial_occlusion")


@dataclass
class SkillValueMatrix:
    """Mean ΔJ per skill (rows) × condition (columns), docs/adapter.md §3.6."""

    skill_ids: list
    skill_names: list
    conditions: list
    values: list  # rows × 5 floats (0.0 where the count is 0)
    counts: list  # rows × 5 ints
    skipped_entries: int

    def to_numpy(self):
        """`values` as a float array of shape (rows, 5)."""
        import numpy as np
        return np.array(self.values, dtype=np.float64).reshape(len(self.values), len(self.conditions))
