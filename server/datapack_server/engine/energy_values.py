"""The per-name energy values of a task index (docs/adapter.md §3.15), stored
sparsely.

A row's breakdown names are its interned `enames` value; its Wh values are
held in the same order in one flat float64 array, from `start[row]`. Most
packs name a few limbs and skills out of all the names a task has seen (or
none), so this takes a few bytes per row where one dense column per name
took 8 bytes per name per row. `dense` gives the per-name columns.
"""
from __future__ import annotations

import numpy as np
import orjson

from datapack_server.engine.memory import resize_entry


class EnergyValues:
    """Wh values by row, in the order of each row's `enames` names."""

    def __init__(self, capacity: int) -> None:
        self.wh = np.zeros(max(capacity, 1024), dtype=np.float64)
        self.size = 0  # values in use (a revised row's old values stay, unused, until a snapshot)
        self.start = np.zeros(capacity, dtype=np.int64)  # by row
        # (kind, name) in order of first appearance, and how many enames codes that covers.
        self.names: list[tuple[str, str]] = []
        self._known: set[tuple[str, str]] = set()
        self.codes_seen = 0

    def sync_names(self, enames_table: list) -> None:
        """Note the names of enames codes interned since the last call. Codes
        are numbered in order of first appearance, so this is the order in
        which the names first appear in rows."""
        for names in enames_table[self.codes_seen:]:
            for key in names:
                if key not in self._known:
                    self._known.add(key)
                    self.names.append(key)
        self.codes_seen = len(enames_table)

    def grow_rows(self, capacity: int) -> None:
        resize_entry(vars(self), "start", capacity)

    def _reserve(self, size: int) -> None:
        if size > len(self.wh):
            cap = max(len(self.wh), 1024)
            while cap < size:
                cap *= 2
            resize_entry(vars(self), "wh", cap)

    def append_rows(self, a: int, counts: np.ndarray, values) -> None:
        """Rows a, a+1, ... with counts[i] values each, `values` concatenated."""
        m = len(counts)
        if not m:
            return
        starts = self.start[a:a + m]
        starts[0] = self.size
        if m > 1:
            np.cumsum(counts[:-1], out=starts[1:])
            starts[1:] += self.size
        total = int(np.sum(counts))
        if total:
            self._reserve(self.size + total)
            self.wh[self.size:self.size + total] = values
            self.size += total

    def set_row(self, pos: int, values: list[float]) -> None:
        """New values of an existing row (a revision): appended, the old ones left unused."""
        self.start[pos] = self.size
        if values:
            self._reserve(self.size + len(values))
            self.wh[self.size:self.size + len(values)] = values
            self.size += len(values)

    def compact(self, rows: int) -> None:
        """Drop spare capacity (after a bulk load)."""
        resize_entry(vars(self), "start", rows)
        resize_entry(vars(self), "wh", max(self.size, 1))

    def memory_bytes(self, rows: int) -> int:
        return self.start[:rows].nbytes + self.wh[:self.size].nbytes

    def _counts(self, codes: np.ndarray, enames_table: list) -> np.ndarray:
        return np.array([len(t) for t in enames_table], dtype=np.int64)[codes] if len(codes) else \
            np.zeros(0, dtype=np.int64)

    def dense(self, codes: np.ndarray, start: np.ndarray, enames_table: list) -> dict[tuple[str, str], np.ndarray]:
        """(kind, name) -> Wh of the rows whose enames codes and value starts
        are given (0 where a row has no such entry), names in first-appearance
        order. Rows are grouped by code with one stable counting sort; each
        group fills its names' columns with one gather per name."""
        rows = len(codes)
        out = {key: np.zeros(rows, dtype=np.float64) for key in self.names}
        if not rows:
            return out
        small = len(enames_table) <= 1 << 16  # 16-bit keys: numpy's stable sort is a radix sort
        order = np.argsort(codes.astype(np.uint16) if small else codes, kind="stable")
        bounds = np.zeros(len(enames_table) + 1, dtype=np.int64)
        np.cumsum(np.bincount(codes, minlength=len(enames_table)), out=bounds[1:])
        for code, names in enumerate(enames_table):
            if not names or bounds[code] == bounds[code + 1]:
                continue
            at = order[bounds[code]:bounds[code + 1]]
            base = start[at]
            for j, key in enumerate(names):
                out[key][at] = self.wh[base + j]
        return out

    # -- snapshot

    def state(self, rows: int, codes: np.ndarray, enames_table: list) -> dict:
        """Arrays for a snapshot, the values packed in row order."""
        counts = self._counts(codes, enames_table)
        packed_start = np.zeros(rows, dtype=np.int64)
        if rows > 1:
            np.cumsum(counts[:-1], out=packed_start[1:])
        total = int(counts.sum()) if rows else 0
        take = np.repeat(self.start[:rows] - packed_start, counts) + np.arange(total, dtype=np.int64)
        return {"energy_wh": self.wh[take], "energy_start": packed_start,
                "energy_names": np.frombuffer(orjson.dumps(self.names), dtype=np.uint8)}

    @classmethod
    def from_state(cls, st: dict, codes: np.ndarray, enames_table: list) -> EnergyValues:
        """The values of a snapshot (packed in row order, as state() writes
        them) for rows with these enames codes; ValueError if they do not fit."""
        ev = cls(0)
        ev.start = st["energy_start"].astype(np.int64, copy=False)
        ev.wh = st["energy_wh"].astype(np.float64, copy=False)
        ev.size = len(ev.wh)
        counts = ev._counts(codes, enames_table)
        if len(ev.start) != len(codes) or int(counts.sum()) != ev.size or (
                len(codes) and (ev.start[0] != 0 or not np.array_equal(ev.start[1:], np.cumsum(counts)[:-1]))):
            raise ValueError("snapshot energy values do not fit the index")
        ev.names = [tuple(k) for k in orjson.loads(st["energy_names"].tobytes())]
        ev._known = set(ev.names)
        if not ev._known.issuperset(key for names in enames_table for key in names):
            raise ValueError("snapshot energy names do not cover the index")
        ev.codes_seen = len(enames_table)
        return ev
