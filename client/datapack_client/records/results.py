"""Result types shared by the embedded repository and the remote client."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class AppendResult:
    """Outcome of one appended record (repository.md §4.1).

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
