"""In-memory columnar index of one task (the current revision of every pack).

One row per pack in append order. Numeric filter/sort fields are numpy
columns; categorical values (enum strings, skill-id traces, tag sets, the
condition-tag object) are interned: a row stores a small integer code and a
filter is evaluated once per distinct value, then broadcast with a lookup.
Payloads stay on disk: a row knows where its current line is (offset, length).

Values of the wrong type or null count as their schema defaults (schema.md §1).
Not thread-safe by itself: the owning TaskState serialises access.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from datapack_client import jsonio

BUCKET_CODES = {"positive": 0, "negative": 1}  # any other string -> 2


class Interner:
    """value <-> small integer code, in first-seen order."""

    __slots__ = ("codes", "values")

    def __init__(self) -> None:
        self.codes: dict = {}
        self.values: list = []

    def code(self, value) -> int:
        c = self.codes.get(value)
        if c is None:
            c = self.codes[value] = len(self.values)
            self.values.append(value)
        return c

    def __len__(self) -> int:
        return len(self.values)


def _num(v: Any, default: float) -> float:
    t = type(v)
    if t is float:
        return v
    if t is int:
        return float(v)
    return default


def _str(v: Any, default: str) -> str:
    return v if type(v) is str else default


# Column name -> numpy dtype. Growth is by doubling; rows [0, n) are live.
COLUMNS = {
    "line_off": np.int64, "line_len": np.int64, "line_no": np.int64, "revision": np.int32,
    "bucket": np.int8, "engine": np.int32, "source": np.int32, "wm_role": np.int32,
    "trust": np.float64, "delta_j": np.float64, "mvd": np.float64, "mvd_present": np.bool_,
    "has_sima": np.bool_, "has_cf": np.bool_,
    "trace": np.int32, "semtags": np.int32, "condtags": np.int32,
    "c_task": np.int32, "c_world": np.int32, "c_light": np.int32, "c_preset": np.int32,
    "c_friction": np.float64, "c_occlusion": np.float64, "c_price": np.float64,
    "c_break": np.float64, "c_energy_price": np.float64,
    "c_offset": (np.float64, 3), "c_offset_ok": np.bool_,
    "c_objective": (np.float64, 4), "c_objective_ok": np.bool_, "c_objective_len": np.int8,
}

# Interned categorical columns share these tables.
CATEGORIES = ("engine", "source", "wm_role", "trace", "semtags", "condtags",
              "c_task", "c_world", "c_light", "c_preset")


class TaskIndex:
    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0
        self.cap = capacity
        self.cols: dict[str, np.ndarray] = {}
        for name, dt in COLUMNS.items():
            if isinstance(dt, tuple):
                self.cols[name] = np.zeros((capacity, dt[1]), dtype=dt[0])
            else:
                self.cols[name] = np.zeros(capacity, dtype=dt)
        self.cats = {name: Interner() for name in CATEGORIES}
        # created_at as UTF-8 bytes: byte order == code point order (repository.md §7.4).
        self.created = np.zeros(capacity, dtype="S32")
        self.pack_ids: list[str] = []
        self.pos_of: dict[str, int] = {}
        # Packs with more than one line: position -> [(offset, length, line_no), ...] oldest first.
        self.history: dict[int, list[tuple[int, int, int]]] = {}

    # -- growth

    def _grow(self, need: int) -> None:
        cap = self.cap
        while cap < need:
            cap *= 2
        for name, arr in self.cols.items():
            new = np.zeros((cap,) + arr.shape[1:], dtype=arr.dtype)
            new[: self.n] = arr[: self.n]
            self.cols[name] = new
        created = np.zeros(cap, dtype=self.created.dtype)
        created[: self.n] = self.created[: self.n]
        self.created = created
        self.cap = cap

    # -- rows

    def add(self, pack_id: str, rec: dict, off: int, length: int, line_no: int) -> int:
        """Append a new pack; returns its position."""
        if self.n >= self.cap:
            self._grow(self.n + 1)
        pos = self.n
        self.n += 1
        self.pack_ids.append(pack_id)
        self.pos_of[pack_id] = pos
        self._set_row(pos, rec, off, length, line_no, 1)
        return pos

    def revise(self, pos: int, rec: dict, off: int, length: int, line_no: int) -> int:
        """Record a new revision line of the pack at pos; returns its revision number."""
        cols = self.cols
        hist = self.history.get(pos)
        if hist is None:
            hist = self.history[pos] = [(int(cols["line_off"][pos]), int(cols["line_len"][pos]),
                                         int(cols["line_no"][pos]))]
        hist.append((off, length, line_no))
        rev = int(cols["revision"][pos]) + 1
        self._set_row(pos, rec, off, length, line_no, rev)
        return rev

    def _set_row(self, i: int, rec: dict, off: int, length: int, line_no: int, revision: int) -> None:
        c = self.cols
        cats = self.cats
        c["line_off"][i] = off
        c["line_len"][i] = length
        c["line_no"][i] = line_no
        c["revision"][i] = revision
        c["bucket"][i] = BUCKET_CODES.get(rec.get("bucket"), 2) if type(rec.get("bucket")) is str else 2
        cond = rec.get("condition")
        cond = cond if type(cond) is dict else {}
        attr = rec.get("attribution")
        attr = attr if type(attr) is dict else {}
        c["engine"][i] = cats["engine"].code(_str(cond.get("engine_type"), "pybullet"))
        c["source"][i] = cats["source"].code(_str(attr.get("source_type"), "real"))
        role = attr.get("wm_role")
        c["wm_role"][i] = cats["wm_role"].code(role if type(role) is str else None)
        c["trust"][i] = _num(attr.get("trust_score"), 0.0)
        c["delta_j"][i] = _num(attr.get("delta_J"), 0.0)
        mvd = attr.get("mvd_score")
        present = type(mvd) in (int, float)
        c["mvd_present"][i] = present
        c["mvd"][i] = float(mvd) if present else 0.0
        sima = rec.get("sima_annotation")
        c["has_sima"][i] = type(sima) is dict and bool(sima)
        c["has_cf"][i] = rec.get("counterfactual_plan") is not None
        trace = rec.get("skill_trace")
        skills = ()
        if type(trace) is list:
            skills = tuple(e["skill_id"] for e in trace
                           if type(e) is dict and type(e.get("skill_id")) is int and e["skill_id"] >= 0)
        c["trace"][i] = cats["trace"].code(skills)
        tags = rec.get("semantic_tags")
        c["semtags"][i] = cats["semtags"].code(
            frozenset(t for t in tags if type(t) is str) if type(tags) is list else frozenset())
        ctags = cond.get("tags")
        c["condtags"][i] = cats["condtags"].code(
            jsonio.dumps(ctags) if type(ctags) is dict and ctags else b"{}")
        c["c_task"][i] = cats["c_task"].code(_str(cond.get("task_name"), "drawer_vase"))
        c["c_world"][i] = cats["c_world"].code(_str(cond.get("world_id"), "pyb_drawer_v1"))
        c["c_light"][i] = cats["c_light"].code(_str(cond.get("lighting_profile"), "normal"))
        c["c_preset"][i] = cats["c_preset"].code(_str(cond.get("econ_preset"), "drawer_vase"))
        c["c_friction"][i] = _num(cond.get("drawer_friction"), 0.3)
        c["c_occlusion"][i] = _num(cond.get("occlusion_level"), 0.0)
        c["c_price"][i] = _num(cond.get("price_per_unit"), 5.0)
        c["c_break"][i] = _num(cond.get("vase_break_cost"), 50.0)
        c["c_energy_price"][i] = _num(cond.get("energy_price_kWh"), 0.12)
        vo = cond.get("vase_offset", [0.0, 0.0, 0.0])
        ok = type(vo) in (list, tuple) and len(vo) == 3 and all(type(x) in (int, float) for x in vo)
        c["c_offset_ok"][i] = ok
        c["c_offset"][i] = vo if ok else (0.0, 0.0, 0.0)
        ov = cond.get("objective_vector", [1.0, 1.0, 1.0, 0.5])
        ok = type(ov) in (list, tuple) and all(type(x) in (int, float) and type(x) is not bool for x in ov)
        c["c_objective_len"][i] = len(ov) if ok else -1
        ok = ok and len(ov) in (3, 4)
        c["c_objective_ok"][i] = ok
        if ok:
            c["c_objective"][i] = (ov[0], ov[1], ov[2], ov[3] if len(ov) == 4 else 0.5)
        else:
            c["c_objective"][i] = 0.0
        created = rec.get("created_at")
        raw = created.encode("utf-8", "surrogatepass") if type(created) is str else b""
        if len(raw) > self.created.dtype.itemsize:
            self.created = self.created.astype(f"S{max(len(raw), 2 * self.created.dtype.itemsize)}")
        self.created[i] = raw
        if raw.endswith(b"\x00"):
            # numpy strips trailing NULs from "S" values; such strings are vanishingly rare.
            pass

    # -- reads

    def view(self, name: str) -> np.ndarray:
        return self.cols[name][: self.n]

    def memory_bytes(self) -> int:
        total = sum(a.nbytes for a in self.cols.values()) + self.created.nbytes
        return total


def cosine_match(vectors: np.ndarray, ok: np.ndarray, q: tuple, threshold: float) -> np.ndarray:
    """repository.md §7.3: dot(p, q) / (|p||q| + 1e-8) >= threshold."""
    qv = np.array(q if len(q) == 4 else (*q, 0.5), dtype=np.float64)
    dots = vectors @ qv
    norms = np.sqrt((vectors * vectors).sum(axis=1)) * math.sqrt(float(qv @ qv)) + 1e-8
    sim = dots / norms
    return ok & (sim >= threshold)
