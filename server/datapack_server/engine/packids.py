"""Compact pack_id -> position map (~31 bytes per pack instead of ~170 for a
dict of str): ids live in one UTF-8 blob with an offsets array; lookups go
through sorted arrays of stable 64-bit hashes with the position of each, and
every hit is verified against the blob, so equal hashes cost a comparison,
never a wrong answer.

Ids added one at a time go to a small dict; ids added in bulk (a load) to a
second sorted array, so a load creates no Python object per id. Both are
merged into the main arrays once they hold an eighth of the ids."""
from __future__ import annotations

import hashlib

import numpy as np

from datapack_server.engine.memory import resize_entry

_MERGE_MIN = 65536
_INT32_MAX = 2**31 - 1


def id_hash(pack_id: str) -> int:
    return raw_id_hash(pack_id.encode("utf-8", "surrogatepass"))


def raw_id_hash(raw: bytes) -> int:
    """id_hash of a pack id given as its UTF-8 bytes."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def _position_type(n: int):
    return np.int32 if n <= _INT32_MAX else np.int64


def _inserted(hashes: np.ndarray, positions: np.ndarray, new_h: np.ndarray, new_p: np.ndarray,
              n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (hashes, positions) with new entries (sorted by hash, then position, all
    positions above the present ones) inserted: equal hashes stay in position order."""
    at = hashes.searchsorted(new_h, side="right")
    ptype = _position_type(n)
    return (np.insert(hashes, at, new_h),
            np.insert(positions.astype(ptype, copy=False), at, new_p.astype(ptype, copy=False)))


class PackIds:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.offsets = np.zeros(1024 + 1, dtype=np.int64)
        self.n = 0
        self.hashes = np.zeros(0, dtype=np.uint64)  # sorted
        self.positions = np.zeros(0, dtype=np.int32)  # aligned with hashes (ties in position order)
        self.bulk_hashes = np.zeros(0, dtype=np.uint64)  # bulk inserts not merged yet, sorted likewise
        self.bulk_positions = np.zeros(0, dtype=np.int32)
        self.recent: dict[int, list[int]] = {}  # hash -> positions of single inserts not merged yet
        self.recent_count = 0

    def __len__(self) -> int:
        return self.n

    def pack_id(self, pos: int) -> str:
        return self.blob[self.offsets[pos]:self.offsets[pos + 1]].decode("utf-8", "surrogatepass")

    def _matches(self, pos: int, raw: bytes) -> bool:
        return self.blob[self.offsets[pos]:self.offsets[pos + 1]] == raw

    def get(self, pack_id: str, h: int | None = None) -> int | None:
        raw = pack_id.encode("utf-8", "surrogatepass")
        return self.get_raw(raw, raw_id_hash(raw) if h is None else h)

    def get_raw(self, raw: bytes, h: int) -> int | None:
        """The position of the id with these UTF-8 bytes and id hash, or None."""
        for pos in self.recent.get(h, ()):
            if self._matches(pos, raw):
                return pos
        for hashes, positions in ((self.bulk_hashes, self.bulk_positions), (self.hashes, self.positions)):
            if not len(hashes):
                continue
            lo = int(hashes.searchsorted(np.uint64(h)))
            while lo < len(hashes) and int(hashes[lo]) == h:
                pos = int(positions[lo])
                if self._matches(pos, raw):
                    return pos
                lo += 1
        return None

    def any_present(self, blob: bytes, offsets: np.ndarray, hashes: np.ndarray) -> bool:
        """Whether any of these ids (id i: blob[offsets[i]:offsets[i + 1]], with
        its id hash) is already here."""
        if not self.n or not len(hashes):
            return False
        hashes = np.asarray(hashes, dtype=np.uint64)
        candidates = np.zeros(len(hashes), dtype=np.bool_)
        for known in (self.hashes, self.bulk_hashes):
            if len(known):
                at = np.minimum(known.searchsorted(hashes), len(known) - 1)
                candidates |= known[at] == hashes
        if self.recent:
            candidates |= np.isin(hashes, np.fromiter(self.recent, dtype=np.uint64, count=len(self.recent)))
        return any(self.get_raw(bytes(blob[offsets[i]:offsets[i + 1]]), int(hashes[i])) is not None
                   for i in np.flatnonzero(candidates).tolist())

    def _reserve(self, n: int) -> None:
        if n + 1 > len(self.offsets):
            cap = max(len(self.offsets), 1024)
            while cap < n + 1:
                cap *= 2
            resize_entry(vars(self), "offsets", cap)

    def add(self, pack_id: str, h: int | None = None) -> int:
        """Append a new id (the caller has checked it is absent); returns its position."""
        pos = self.n
        raw = pack_id.encode("utf-8", "surrogatepass")
        self._reserve(pos + 1)
        self.blob += raw
        self.offsets[pos + 1] = len(self.blob)
        if h is None:
            h = raw_id_hash(raw)
        self.recent.setdefault(h, []).append(pos)
        self.recent_count += 1
        self.n += 1
        self._maybe_merge()
        return pos

    def add_many(self, blob: bytes, lengths: np.ndarray, hashes: np.ndarray) -> None:
        """Append new ids (absent and distinct), given as their UTF-8 bytes
        concatenated, the length of each and their id hashes."""
        a, b = self.n, self.n + len(lengths)
        if a == b:
            return
        self._reserve(b)
        np.cumsum(lengths, out=self.offsets[a + 1:b + 1])
        self.offsets[a + 1:b + 1] += len(self.blob)
        self.blob += blob
        hashes = np.asarray(hashes, dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        self.bulk_hashes, self.bulk_positions = _inserted(self.bulk_hashes, self.bulk_positions, hashes[order],
                                                          order + a, b)
        self.n = b
        self._maybe_merge()

    def _maybe_merge(self) -> None:
        if self.recent_count + len(self.bulk_hashes) >= max(_MERGE_MIN, self.n // 8):
            self.merge()

    def merge(self) -> None:
        """Move the unmerged inserts into the main sorted arrays (one O(n) insert)."""
        new_h, new_p = self.bulk_hashes, self.bulk_positions.astype(np.int64)
        if self.recent:
            rh = np.array([h for h, plist in self.recent.items() for _ in plist], dtype=np.uint64)
            rp = np.array([p for plist in self.recent.values() for p in plist], dtype=np.int64)
            new_h, new_p = np.concatenate([new_h, rh]), np.concatenate([new_p, rp])
            order = np.lexsort((new_p, new_h))  # by hash, then position
            new_h, new_p = new_h[order], new_p[order]
        if len(new_h):
            self.hashes, self.positions = _inserted(self.hashes, self.positions, new_h, new_p, self.n)
        self.bulk_hashes = np.zeros(0, dtype=np.uint64)
        self.bulk_positions = np.zeros(0, dtype=np.int32)
        self.recent = {}
        self.recent_count = 0

    def compact(self) -> None:
        """Merge what is not merged and drop spare capacity (after a bulk load)."""
        self.merge()
        resize_entry(vars(self), "offsets", self.n + 1)

    def memory_bytes(self) -> int:
        return (len(self.blob) + self.offsets.nbytes + self.hashes.nbytes + self.positions.nbytes
                + self.bulk_hashes.nbytes + self.bulk_positions.nbytes)

    # -- snapshot support

    def state(self) -> dict:
        self.merge()
        return {"pid_blob": np.frombuffer(bytes(self.blob), dtype=np.uint8),
                "pid_offsets": self.offsets[: self.n + 1].copy(), "pid_hashes": self.hashes.copy(),
                "pid_positions": self.positions.copy()}

    @classmethod
    def from_state(cls, st: dict) -> PackIds:
        obj = cls()
        obj.blob = bytearray(st["pid_blob"].tobytes())
        obj.offsets = st["pid_offsets"].astype(np.int64, copy=False)
        obj.n = len(obj.offsets) - 1
        obj.hashes = st["pid_hashes"].astype(np.uint64, copy=False)
        obj.positions = st["pid_positions"]
        if len(obj.hashes) != obj.n or len(obj.positions) != obj.n or len(obj.blob) != obj.offsets[-1]:
            raise ValueError("pack id arrays of different lengths")
        return obj
