"""Per-line CRC-32 checksums of a task file, kept beside it.

The data file stays plain JSON lines (jq, pandas and DuckDB read it as is), so
the checksums live in an append-only sidecar,
`<store>/.datapack/checksums/<task>.crc` (format in FORMAT.md): an 8-byte
magic, then one 16-byte entry (offset, length, crc32) per physical line, so
its bytes depend only on the data file's bytes (a build is byte-identical).
Entries cover a contiguous prefix of the data file from offset 0; lines after
that prefix (files written by other tools or by an earlier version, or lines
whose entries a crash lost) are accepted unchecked until the next writer
extends the sidecar from them.

A line is *checked* when it starts inside the covered prefix: it must have
the length and CRC-32 (computed over the line's bytes including its newline)
of the entry at its offset, or else of some entry (the line is intact but has
moved: an edit earlier in the file changed a length, and every later line
shifted). Anything else means the bytes changed after they were written: the
line is corrupt. A flipped byte keeps offsets, so its line fails both tests.

A sidecar applies to a data file if one of the data file's first lines has the
length and CRC of one of the sidecar's first entries; otherwise it belongs to
another file (the data file was replaced by another tool) and is ignored until
a writer rebuilds it. A corrupt first line alone does not detach it.
"""
from __future__ import annotations

import os
import struct
import sys
import zlib
from array import array
from bisect import bisect_left, bisect_right

import numpy as np

from datapack_server.storage.lines import line_blocks

MAGIC = b"DPCRC02\n"
HEADER = struct.Struct("<8s")  # the magic
BINDING_ENTRIES = 16  # first lines/entries compared to tell whether a sidecar is this file's
ENTRY = np.dtype([("off", "<u8"), ("len", "<u4"), ("crc", "<u4")])
ENTRY_SIZE = ENTRY.itemsize
ENTRY_STRUCT = struct.Struct("<QII")
assert sys.byteorder == "little"  # payload checks read offsets as native u64
SCAN_CHUNK = 4 << 20


def line_crc(raw: bytes) -> int:
    """CRC-32 of a line given without its newline (the checksum covers the newline too)."""
    return zlib.crc32(b"\n", zlib.crc32(raw))


def entries_for_lines(lines: list[bytes], off: int) -> bytes:
    """Sidecar entries of complete lines (each with its newline) written at `off`."""
    arr = np.empty(len(lines), dtype=ENTRY)
    lens = np.fromiter((len(x) for x in lines), dtype=np.int64, count=len(lines))
    ends = np.cumsum(lens)
    arr["off"] = off + ends - lens
    arr["len"] = lens
    arr["crc"] = np.fromiter((zlib.crc32(x) for x in lines), dtype=np.uint32, count=len(lines))
    return arr.tobytes()


def scan_bytes(data: bytes, base: int) -> np.ndarray:
    """Entries of the complete lines of `data` (read at `base`); a trailing
    unterminated fragment is left out. (memchr and a crc per line over a
    view: no copy of the lines.)"""
    view = memoryview(data)
    offs: list[int] = []
    crcs: list[int] = []
    pos = 0
    find = data.find
    while True:
        nl = find(b"\n", pos)
        if nl < 0:
            break
        offs.append(pos)
        crcs.append(zlib.crc32(view[pos: nl + 1]))
        pos = nl + 1
    arr = np.empty(len(offs), dtype=ENTRY)
    starts = np.array(offs, dtype=np.int64)
    arr["off"] = starts + base
    arr["len"] = np.diff(starts, append=pos)
    arr["crc"] = crcs
    return arr


def scan_fd(fd: int, start: int, end: int) -> np.ndarray:
    """Entries of the complete lines in [start, end) of an open file (start is a line start)."""
    out = [scan_bytes(block, base) for block, base, complete in line_blocks(fd, start, end, SCAN_CHUNK)
           if complete]
    return np.concatenate(out) if out else np.empty(0, dtype=ENTRY)


def scan_range(path: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, lengths, crcs) of the complete lines of [start, end) of a file.
    Runs in worker processes next to the parse of the same range."""
    fd = os.open(path, os.O_RDONLY)
    try:
        arr = scan_fd(fd, start, end)
    finally:
        os.close(fd)
    return arr["off"].copy(), arr["len"].copy(), arr["crc"].copy()


def _keys(lens: np.ndarray, crcs: np.ndarray) -> np.ndarray:
    return (lens.astype(np.uint64) << np.uint64(32)) | crcs.astype(np.uint64)


class Checksums:
    """The entries of a task's sidecar that apply to the data file as this
    process has read it: contiguous from offset 0, ending at or before the
    complete lines read so far. Stale entries (beyond the data, left by a
    crash between the sidecar write and the data fsync) are never taken, so a
    line later written at their offset is never compared with them.

    The entries stay on disk (the page cache holds what is used); in memory
    are only their count, the end of the covered prefix and the offset of
    every BLOCK-th entry, to find an entry with one small read (memory per
    line: 8 / BLOCK bytes)."""

    BLOCK = 64

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None
        self._fd_ident: tuple | None = None
        self.reset("missing")

    def reset(self, status: str) -> None:
        self.close()
        self.ident: tuple | None = None  # (dev, inode) of the sidecar the entries were taken from
        self._rejected: tuple | None = None  # identity of a sidecar found not to apply
        self.status = status  # "ok" | "missing" | "stale" (another file's) | "damaged"
        self.n = 0  # entries taken
        self.end = 0  # the covered prefix is [0, end)
        self._sparse = array("Q")  # offset of entry k * BLOCK (bisect: cheap per payload read)
        self._keys: np.ndarray | None = None  # sorted (length << 32 | crc) of entries [0, _keys_n)
        self._keys_n = 0
        # Keys of valid entries that reach past the data read so far: not checked
        # by offset (they may be stale), but a line that moved may match them.
        self._beyond = np.empty(0, dtype=np.uint64)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self._fd_ident = None

    def adopt(self, ident: tuple) -> None:
        """A new, empty sidecar (file identity `ident`) was written for this data file."""
        self.reset("ok")
        self.ident = ident

    def _reader(self) -> int | None:
        """A descriptor of the sidecar these entries were taken from, or None
        if it was replaced since (another process rebuilt it): until the next
        load() nothing can be checked."""
        if self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != self.ident:
                os.close(fd)
                return None
            self._fd, self._fd_ident = fd, self.ident
        return self._fd

    def _read(self, i: int, j: int) -> np.ndarray | None:
        """Entries [i, j) (within the taken ones); None if the sidecar is gone."""
        j = min(j, self.n)
        if j <= i:
            return np.empty(0, dtype=ENTRY)
        fd = self._reader()
        if fd is None:
            return None
        raw = os.pread(fd, (j - i) * ENTRY_SIZE, HEADER.size + i * ENTRY_SIZE)
        return np.frombuffer(raw[: len(raw) - len(raw) % ENTRY_SIZE], dtype=ENTRY)

    def _block_of(self, off: int) -> int:
        """Index of the first entry of the block that holds the entry starting at or before `off`."""
        return max(0, bisect_right(self._sparse, off) - 1) * self.BLOCK

    def _index_at_or_after(self, off: int) -> int | None:
        i = self._block_of(off)
        block = self._read(i, i + self.BLOCK)
        return None if block is None else i + int(np.searchsorted(block["off"], off))

    def extend(self, entries: np.ndarray) -> None:
        """Entries appended to the sidecar (continuing the covered prefix)."""
        k = len(entries)
        if not k:
            return
        first = (-self.n) % self.BLOCK  # position in `entries` of the next BLOCK-th entry
        picks = entries["off"][first:: self.BLOCK]
        self._sparse.extend(picks.tolist())
        self.n += k
        self.end = int(entries["off"][-1]) + int(entries["len"][-1])

    def extend_bytes(self, raw: bytes) -> None:
        self.extend(np.frombuffer(raw, dtype=ENTRY))

    def trim(self, end: int) -> None:
        """Forget entries that reach past `end` (bytes of complete lines read)."""
        if self.end <= end:
            return
        i = self._block_of(end)
        block = self._read(i, i + self.BLOCK)
        if block is None:
            self.reset("missing")  # replaced meanwhile: the next load() reads it again
            return
        keep = i + int(np.searchsorted(block["off"].astype(np.int64) + block["len"], end, side="right"))
        cut = self._read(keep, self.n)
        if cut is not None:
            self._beyond = np.concatenate([_keys(cut["len"], cut["crc"]), self._beyond])
        self.keep_first(keep)

    def file_size(self) -> int:
        """Size of the sidecar file these entries correspond to."""
        return HEADER.size + self.n * ENTRY_SIZE

    def load(self, data_fd: int, limit: int) -> None:
        """Catch up with the sidecar on disk: take the entries that continue the
        covered prefix and end within `limit` bytes of the data file (open as
        data_fd). Call it after reading the data file's size: a writer removes
        stale entries before it writes new lines, so entries read afterwards
        never describe bytes other than the ones below `limit`. A sidecar that
        cannot be read counts as damaged: lines go unchecked (never unserved)
        and the next writer rebuilds it."""
        try:
            self._load(data_fd, limit)
        except OSError:
            self.reset("damaged")

    def _load(self, data_fd: int, limit: int) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.reset("missing")
            return
        ident = (st.st_dev, st.st_ino)
        if ident != self.ident:  # first look, or rebuilt by a writer
            if ident == self._rejected:
                return  # already found not to apply; a writer replaces it
            fd = os.open(self.path, os.O_RDONLY)
            try:
                fst = os.fstat(fd)
                ident = (fst.st_dev, fst.st_ino)
                status = ("damaged" if os.pread(fd, HEADER.size, 0) != MAGIC
                          else "ok" if self._belongs(fd, data_fd, limit) else "stale")
            except BaseException:
                os.close(fd)
                raise
            self.reset(status)
            if status != "ok":
                os.close(fd)
                self._rejected = ident
                return
            self._fd, self._fd_ident, self.ident = fd, ident, ident
        reader = self._reader()
        if reader is None:
            return
        pos = self.file_size()
        count = (os.fstat(reader).st_size - pos) // ENTRY_SIZE
        if count <= 0:
            return
        new = np.frombuffer(os.pread(reader, count * ENTRY_SIZE, pos), dtype=ENTRY)
        count = len(new)
        ends = new["off"].astype(np.int64) + new["len"]
        starts = np.empty(count, dtype=np.int64)
        starts[0] = self.end
        starts[1:] = ends[:-1]
        valid = (new["off"].astype(np.int64) == starts) & (new["len"] > 0)
        valid_n = count if valid.all() else int(np.argmin(valid))
        keep = int(np.searchsorted(ends[:valid_n], limit, side="right"))
        self.extend(new[:keep])
        self._beyond = _keys(new["len"][keep:valid_n], new["crc"][keep:valid_n])

    @staticmethod
    def _belongs(sfd: int, data_fd: int, limit: int) -> bool:
        """Whether a sidecar describes this data file: one of the file's first
        complete lines has the length and CRC of one of the first entries (a
        stale sidecar of another file matches none; a corrupt line does not
        detach its file's sidecar). Nothing to compare counts as a match."""
        raw = os.pread(sfd, BINDING_ENTRIES * ENTRY_SIZE, HEADER.size)
        first = np.frombuffer(raw[: len(raw) - len(raw) % ENTRY_SIZE], dtype=ENTRY)
        if not len(first):
            return True
        span = min(limit, int(first["off"][-1]) + int(first["len"][-1]), 1 << 20)
        lines = scan_bytes(os.pread(data_fd, span, 0), 0)[:BINDING_ENTRIES]
        if not len(lines):
            return True
        theirs = set(zip(first["len"].tolist(), first["crc"].tolist()))
        return any(k in theirs for k in zip(lines["len"].tolist(), lines["crc"].tolist()))

    def keep_first(self, count: int) -> None:
        """Only the first `count` entries remain (the sidecar was cut)."""
        if count >= self.n:
            return
        end = 0
        if count:
            last = self._read(count - 1, count)
            if last is None or not len(last):
                self.reset("damaged")
                return
            end = int(last["off"][0]) + int(last["len"][0])
        self.n = count
        self.end = end
        del self._sparse[(count + self.BLOCK - 1) // self.BLOCK:]
        self._keys = None

    # -- checks

    def expected(self, start: int, stop: int) -> dict[int, tuple[int, int]] | None:
        """{offset: (length, crc)} of the entries starting in [start, stop)
        (None: the sidecar cannot be read now, nothing can be checked)."""
        out: dict[int, tuple[int, int]] = {}
        i = self._index_at_or_after(start)
        if i is None:
            return None
        step = 4096
        while i < self.n:
            chunk = self._read(i, i + step)
            if chunk is None:
                return None
            offs = chunk["off"]
            j = int(np.searchsorted(offs, stop))
            out.update(zip(offs[:j].tolist(), zip(chunk["len"][:j].tolist(), chunk["crc"][:j].tolist())))
            if j < len(chunk):
                break
            i += len(chunk)
        return out

    def mismatch(self, expected: dict | None, off: int, length: int, raw: bytes) -> str | None:
        """Why a line starting inside the covered prefix (raw without its
        newline) matches no entry, or None if it matches one."""
        if expected is None:
            return None
        crc = line_crc(raw)
        e = expected.get(off)
        if e == (length, crc) or self.has_content(length, crc):
            return None
        if e is None:
            return f"CHECKSUM_MISMATCH: no checksum entry starts at byte {off} (line boundaries changed)"
        if e[0] != length:
            return f"CHECKSUM_MISMATCH: line is {length} bytes, {e[0]} were written at this offset"
        return f"CHECKSUM_MISMATCH: crc32 {crc:08x}, {e[1]:08x} was written at this offset"

    def _content_keys(self) -> np.ndarray:
        """Sorted (length, crc) keys of the entries, read on the first lookup
        (only lines that are not where their entry says, after an edit, need it)."""
        if self._keys is None or self._keys_n * 5 < self.n * 4:
            every = self._read(0, self.n)
            if every is None:
                return np.empty(0, dtype=np.uint64)
            self._keys = np.sort(_keys(every["len"], every["crc"]))
            self._keys_n = len(every)
        return self._keys

    def has_content(self, length: int, crc: int) -> bool:
        """Whether some entry has this length and crc (entries added since the
        keys were sorted are searched directly)."""
        keys = self._content_keys()
        key = (length << 32) | crc
        i = int(np.searchsorted(keys, key))
        if i < len(keys) and int(keys[i]) == key:
            return True
        tail = self._read(self._keys_n, self.n)
        if tail is not None and np.any((tail["len"] == length) & (tail["crc"] == crc)):
            return True
        return bool(np.any(self._beyond == key))

    def check_line(self, off: int, line: bytes) -> str | None:
        """Check a line read back (with its newline) for a payload read: one
        read of the entry's block, no numpy (this runs per record served)."""
        if off >= self.end:
            return None
        i = self._block_of(off)
        j = min(i + self.BLOCK, self.n)
        fd = self._reader()
        if fd is None:
            return None
        raw = os.pread(fd, (j - i) * ENTRY_SIZE, HEADER.size + i * ENTRY_SIZE)
        offs = memoryview(raw).cast("Q")[::2]  # entries are (u64 offset, u32 length, u32 crc)
        k = bisect_left(offs, off)
        if k < len(offs) and offs[k] == off:
            _off, length, crc = ENTRY_STRUCT.unpack_from(raw, k * ENTRY_SIZE)
            if length == len(line) and crc == zlib.crc32(line):
                return None
            expected = {off: (length, crc)}
        else:
            expected = {}
        return self.mismatch(expected, off, len(line), line[:-1])

    def all_match(self, offs: np.ndarray, lens: np.ndarray, crcs: np.ndarray) -> bool:
        """Whether every given line that starts inside the covered prefix matches
        the entry at its offset."""
        inside = offs < self.end
        if not inside.any():
            return True
        offs, lens, crcs = offs[inside], lens[inside], crcs[inside]
        i = self._index_at_or_after(int(offs[0]))
        mine = self._read(i, i + len(offs)) if i is not None else None
        # False also for lines that merely moved: the caller re-checks line by line.
        return bool(mine is not None and len(mine) == len(offs) and np.array_equal(mine["off"], offs)
                    and np.array_equal(mine["len"], lens) and np.array_equal(mine["crc"], crcs))
