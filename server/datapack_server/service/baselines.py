"""Named baselines a store keeps (docs/building.md §1.3): explicit values or the
means of a set of baseline episodes, registered once (e.g. for a task and a
policy) and referenced by name when building or ingesting episodes.

File: `<store>/.datapack/baselines.json`, one JSON object name -> {mpl, error,
ep, wage_parity, episode_count}; replaced atomically (temp file, fsync,
rename) under `<store>/.datapack/locks/baselines.lock`.
"""
from __future__ import annotations

import fcntl
import math
import os
from typing import Any

from datapack_client.building.inputs import episode_as_dict
from datapack_client.errors import invalid
from datapack_client.records import jsonio
from datapack_client.records.validation_rules import shown, task_name_ok
from datapack_server.storage.taskfile import AUX_DIR, fsync_dir

# Built-in sets (docs/building.md §1.3): the nominal means of the synthetic generator.
BUILTIN = {"synthetic_nominal": {"mpl": 10.0, "error": 0.05, "ep": 2.0, "wage_parity": 0.5, "episode_count": 0}}


def check_values(values: dict[str, Any]) -> dict:
    for key in ("mpl", "error", "ep"):
        v: Any = values.get(key)
        if type(v) not in (int, float) or not math.isfinite(v):
            raise invalid(f"baseline.{key}", "BASELINE_INVALID", f"baseline {key} must be a finite number, got {v!r}")
    wp: Any = values.get("wage_parity")
    if wp is not None and (type(wp) not in (int, float) or not math.isfinite(wp)):
        raise invalid("baseline.wage_parity", "BASELINE_INVALID", "baseline wage_parity must be a finite number")
    return {"mpl": float(values["mpl"]), "error": float(values["error"]), "ep": float(values["ep"]),
            "wage_parity": None if wp is None else float(wp), "episode_count": int(values.get("episode_count", 0))}


class BaselineRegistry:
    def __init__(self, store_path: str, fsync: bool = True):
        self.aux = os.path.join(store_path, AUX_DIR)
        self.path = os.path.join(self.aux, "baselines.json")
        self.fsync = fsync

    def _read(self) -> dict:
        try:
            with open(self.path, "rb") as f:
                data = jsonio.loads(f.read())
            return data if type(data) is dict else {}
        except FileNotFoundError:
            return {}

    def get(self, name: str) -> dict | None:
        if name in BUILTIN:
            return dict(BUILTIN[name], builtin=True)
        v = self._read().get(name)
        return None if v is None else dict(v, builtin=False)

    def list(self) -> list[tuple[str, dict]]:
        stored = {k: dict(v, builtin=False) for k, v in self._read().items()}
        stored.update({k: dict(v, builtin=True) for k, v in BUILTIN.items()})
        return sorted(stored.items())

    def put(self, name: str, values: dict) -> dict:
        if not task_name_ok(name):
            raise invalid("name", "ARGUMENT_INVALID", f"baseline name {shown(name)} must be 1-128 of [A-Za-z0-9_.-]")
        if name in BUILTIN:
            raise invalid("name", "ARGUMENT_INVALID", f"{name!r} is a built-in baseline and cannot be replaced")
        values = check_values(values)
        os.makedirs(os.path.join(self.aux, "locks"), exist_ok=True)
        lock = os.open(os.path.join(self.aux, "locks", "baselines.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            data[name] = values
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(jsonio.dumps(data) + b"\n")
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, self.path)
            if self.fsync:
                fsync_dir(self.aux)
        finally:
            os.close(lock)
        return dict(values, builtin=False)


def baseline_values(values: Any = None, episodes: Any = None) -> dict:
    """The values of a named baseline, given either explicitly ({mpl, error,
    ep[, wage_parity]} or a builder Baseline) or as baseline episodes (their
    summaries: the means are taken). Exactly one of the two."""
    if (values is None) == (episodes is None):
        raise invalid("values", "ARGUMENT_INVALID", "give either the baseline's values or its episodes")
    if episodes is not None:
        return baseline_from_episodes([episode_as_dict(e) for e in episodes])
    if hasattr(values, "mpl"):
        return {"mpl": values.mpl, "error": values.error, "ep": values.ep,
                "wage_parity": getattr(values, "wage_parity", None)}
    return dict(values)


def baseline_from_episodes(episodes: list[dict]) -> dict:
    """Values of a named baseline set: the means of the episodes (docs/building.md §1.3)."""
    from datapack_client.building.builder import Baseline
    b = Baseline.from_episodes(episodes)
    return {"mpl": b.mpl, "error": b.error, "ep": b.ep, "wage_parity": b.wage_parity,
            "episode_count": len(episodes)}
