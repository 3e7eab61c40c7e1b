"""Compact pack_id -> position map (~56 bytes per pack instead of ~170 for a
dict of str): ids live in one UTF-8 blob with an offsets array; lookups go
through a sorted array of stable 64-bit hashes (plus a small dict of recent
inserts, merged in bulk), and every hit is verified against the blob."""
from __future__ import annotations

import hashlib

import numpy as np

_MERGE_MIN = 65536


def id_hash(pack_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(pack_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "little")


class PackIds:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.offsets = np.zeros(1024 + 1, dtype=np.int64)
        self.n = 0
        self.hashes = np.zeros(0, dtype=np.uint64)  # sorted
        self.positions = np.zeros(0, dtype=np.int64)  # aligned with hashes
        self.all_hashes = np.zeros(1024, dtype=np.uint64)  # by position (for merges and snapshots)
        self.recent: dict[int, list[int]] = {}  # hash -> positions not yet merged
        self.recent_count = 0

    def __len__(self) -> int:
        return self.n

    def pack_id(self, pos: int) -> str:
        return self.blob[self.offsets[pos]:self.offsets[pos + 1]].decode("utf-8", "surrogatepass")

    def _matches(self, pos: int, raw: bytes) -> bool:
        return self.blob[self.offsets[pos]:self.offsets[pos + 1]] == raw

    def get(self, pack_id: str, h: int | None = None) -> int | None:
        raw = pack_id.encode("utf-8", "surrogatepass")
        if h is None:
            h = id_hash(pack_id)
        for pos in self.recent.get(h, ()):
            if self._matches(pos, raw):
                return pos
        hashes = self.hashes
        if not len(hashes):
            return None
        lo = int(hashes.searchsorted(np.uint64(h)))
        while lo < len(hashes) and int(hashes[lo]) == h:
            pos = int(self.positions[lo])
            if self._matches(pos, raw):
                return pos
            lo += 1
        return None

    def add(self, pack_id: str, h: int | None = None) -> int:
        """Append a new id (the caller has checked it is absent); returns its position."""
        pos = self.n
        raw = pack_id.encode("utf-8", "surrogatepass")
        if pos + 1 >= len(self.offsets):
            self.offsets = np.resize(self.offsets, 2 * len(self.offsets))
        if pos >= len(self.all_hashes):
            self.all_hashes = np.resize(self.all_hashes, 2 * len(self.all_hashes))
        self.blob += raw
        self.offsets[pos + 1] = len(self.blob)
        if h is None:
            h = id_hash(pack_id)
        self.all_hashes[pos] = h
        self.recent.setdefault(h, []).append(pos)
        self.recent_count += 1
        self.n += 1
        if self.recent_count >= max(_MERGE_MIN, self.n // 8):
            self.merge()
        return pos

    def merge(self) -> None:
        if not self.recent_count:
            return
        h = self.all_hashes[: self.n]
        order = np.argsort(h, kind="stable")
        self.hashes = h[order]
        self.positions = order.astype(np.int64)
        self.recent.clear()
        self.recent_count = 0

    def memory_bytes(self) -> int:
        return (len(self.blob) + self.offsets.nbytes + self.hashes.nbytes + self.positions.nbytes
                + self.all_hashes.nbytes)

    # -- snapshot support

    def state(self) -> dict:
        self.merge()
        return {"pid_blob": np.frombuffer(bytes(self.blob), dtype=np.uint8),
                "pid_offsets": self.offsets[: self.n + 1].copy(), "pid_hashes": self.all_hashes[: self.n].copy()}

    @classmethod
    def from_state(cls, st: dict) -> PackIds:
        obj = cls()
        obj.blob = bytearray(st["pid_blob"].tobytes())
        n = len(st["pid_offsets"]) - 1
        obj.n = n
        cap = max(1024, 1 << (n + 1).bit_length())
        obj.offsets = np.zeros(cap + 1, dtype=np.int64)
        obj.offsets[: n + 1] = st["pid_offsets"]
        obj.all_hashes = np.zeros(cap, dtype=np.uint64)
        obj.all_hashes[:n] = st["pid_hashes"]
        obj.recent_count = n
        obj.merge()
        return obj
