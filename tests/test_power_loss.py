"""Simulated power loss: 200 crash points in the middle of appends and
revisions, each followed by dropping every byte and directory entry that was
not made durable, then reopening the store. No acknowledged pack or revision
may be lost, nothing partial or unwritten may be served, and no checksum may
mismatch.

`SimulatedDisk` stands in for the `os` module of the storage layer
(storage/taskfile.py and storage/checksums.py) in-process. It passes every
call through to the real file system and tracks what a power cut would keep:
per inode the bytes as of its last successful fsync, per name whether its
directory was fsynced since it was created, renamed or removed. `crash()`
rewrites the real tree to one possible post-crash state: durable bytes plus a
random prefix of the unsynced appended bytes, names whose directory was not
fsynced rolled back. It also injects I/O errors (test_io_faults.py): a failed
fsync drops the dirty pages as Linux does (marks them clean: a later fsync
reports success without writing them), so a store that built on them would
lose acknowledged data here.
"""
from __future__ import annotations

import errno as errno_mod
import fcntl
import os as real_os
import random
import shutil
import stat

import pytest

from datapack_server.storage import checksums as checksums_mod
from datapack_server.storage import taskfile as taskfile_mod
from datapack_server.store import Store

from .conftest import make_pack

TASK = "drawer_vase"


class PowerCut(BaseException):
    """Raised at the crash point: the process stops doing I/O here."""


class _Inode:
    __slots__ = ("durable", "dirty_from", "lost")

    def __init__(self, durable: bytes):
        self.durable = durable  # contents as of the last successful fsync
        self.dirty_from: int | None = None  # lowest offset changed since then
        self.lost: list[tuple[int, int]] = []  # ranges a failed fsync dropped (never written to disk)


class SimulatedDisk:
    MUTATING = ("open", "write", "fsync", "ftruncate", "mkdir", "replace", "rename", "unlink")

    def __init__(self, root: str, rng: random.Random):
        self.root = real_os.path.abspath(root)
        self.rng = rng
        self.inodes: dict[int, _Inode] = {}
        self.names: dict[str, object] = {}  # path -> durable target: inode number, "dir", or None
        self.fds: dict[int, str] = {}
        self.ops = 0
        self.crash_at: int | None = None
        self.calls = {"write": 0, "fsync": 0}
        self.fault: tuple[str, int, str, int] | None = None  # (call, n, "once"|"forever", errno)
        self.fault_fired = 0
        self.short_writes = 0  # >0: every write writes at most this many bytes
        for folder, dirs, files in real_os.walk(self.root):
            for name in dirs:
                self.names[real_os.path.join(folder, name)] = "dir"
            for name in files:
                p = real_os.path.join(folder, name)
                st = real_os.stat(p)
                self.names[p] = st.st_ino
                with open(p, "rb") as f:
                    self.inodes[st.st_ino] = _Inode(f.read())

    # -- installing

    def install(self, monkeypatch) -> None:
        for mod in (taskfile_mod, checksums_mod):
            monkeypatch.setattr(mod, "os", self)

    def __getattr__(self, name):
        return getattr(real_os, name)

    # -- bookkeeping

    def _tick(self, what: str) -> None:
        self.ops += 1
        if self.crash_at is not None and self.ops >= self.crash_at:
            raise PowerCut(f"power cut at {what} (operation {self.ops})")

    def _mine(self, path) -> bool:
        return real_os.path.abspath(path).startswith(self.root + real_os.sep)

    def _inode(self, ino: int) -> _Inode:
        node = self.inodes.get(ino)
        if node is None:
            node = self.inodes[ino] = _Inode(b"")
        return node

    def _dirty(self, fd: int, start: int, end: int, truncate: bool = False) -> None:
        """Bytes [start, end) were written (or the file cut at start): they are
        dirty until the next fsync, and no longer part of a dropped range."""
        node = self._inode(real_os.fstat(fd).st_ino)
        node.dirty_from = start if node.dirty_from is None else min(node.dirty_from, start)
        lost = []
        for a, b in node.lost:
            if truncate:
                b = min(b, start)
                if a < b:
                    lost.append((a, b))
            elif b <= start or a >= end:
                lost.append((a, b))
            else:
                if a < start:
                    lost.append((a, start))
                if b > end:
                    lost.append((end, b))
        node.lost = lost

    def _fault(self, call: str) -> None:
        self.calls[call] += 1
        if self.fault is None:
            return
        which, n, mode, code = self.fault
        count = self.calls[call]
        if which == call and (count == n or (mode == "forever" and count > n)):
            self.fault_fired += 1
            raise OSError(code, f"injected {real_os.strerror(code)} on {call} #{count}")

    # -- the os functions the storage layer uses

    def open(self, path, flags, mode=0o777, *, dir_fd=None):
        path = real_os.fspath(path)
        if self._mine(path) and flags & (real_os.O_CREAT | real_os.O_TRUNC | real_os.O_WRONLY | real_os.O_RDWR):
            self._tick(f"open {path}")
        new = not real_os.path.exists(path)
        fd = real_os.open(path, flags, mode)
        self.fds[fd] = real_os.path.abspath(path)
        st = real_os.fstat(fd)
        if self._mine(path) and stat.S_ISREG(st.st_mode):
            if new:
                self._fresh_inode(st.st_ino)
            if flags & real_os.O_TRUNC:
                self._dirty(fd, 0, 0, truncate=True)
        return fd

    def _fresh_inode(self, ino: int) -> None:
        """A new file got inode number `ino`: a durable name may still refer to
        the deleted file that had it; keep that content under another key."""
        old = self.inodes.pop(ino, None)
        if old is not None:
            key = -len(self.inodes) - 1
            while key in self.inodes:
                key -= 1
            self.inodes[key] = old
            for p, target in self.names.items():
                if target == ino:
                    self.names[p] = key
        self.inodes[ino] = _Inode(b"")

    def close(self, fd):
        self.fds.pop(fd, None)
        return real_os.close(fd)

    def write(self, fd, data):
        if not self._mine(self.fds.get(fd, "/")):
            return real_os.write(fd, data)
        self._tick("write")
        self._fault("write")
        data = memoryview(data)
        if self.short_writes:
            data = data[: self.short_writes]
        append = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & real_os.O_APPEND)
        pos = real_os.fstat(fd).st_size if append else real_os.lseek(fd, 0, real_os.SEEK_CUR)
        n = real_os.write(fd, data)
        self._dirty(fd, pos, pos + n)
        return n

    def fsync(self, fd):
        path = self.fds.get(fd, "/")
        if not self._mine(path) and path != self.root:
            return real_os.fsync(fd)
        self._tick("fsync")
        st = real_os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            self._fault("fsync")
            self._sync_dir(path)
            return None
        node = self._inode(st.st_ino)
        try:
            self._fault("fsync")
        except OSError:
            # Linux: the dirty pages are dropped (marked clean) and the error reported once.
            start = node.dirty_from if node.dirty_from is not None else st.st_size
            if start < st.st_size:
                node.lost.append((start, st.st_size))
            node.dirty_from = None
            raise
        if node.dirty_from is not None or len(node.durable) != st.st_size:
            start = min(node.dirty_from if node.dirty_from is not None else st.st_size, len(node.durable))
            fresh = bytearray(node.durable[:start] + _pread_any(fd, st.st_size - start, start))
            for a, b in node.lost:  # never reached the disk: the old bytes (zeros past the old end)
                for i in range(a, min(b, len(fresh))):
                    fresh[i] = node.durable[i] if i < len(node.durable) else 0
            node.durable = bytes(fresh)
            node.dirty_from = None
        return None

    fdatasync = fsync

    def ftruncate(self, fd, length):
        if self._mine(self.fds.get(fd, "/")):
            self._tick("ftruncate")
            self._dirty(fd, length, length, truncate=True)
        return real_os.ftruncate(fd, length)

    def mkdir(self, path, mode=0o777, *, dir_fd=None):
        if self._mine(path):
            self._tick(f"mkdir {path}")
        return real_os.mkdir(path, mode)

    def makedirs(self, name, mode=0o777, exist_ok=False):
        # The storage layer makes only lock folders this way (not durable, not needed to be).
        return real_os.makedirs(name, mode, exist_ok)

    def replace(self, src, dst, **kw):
        if self._mine(dst):
            self._tick(f"replace {dst}")
        return real_os.replace(src, dst)

    rename = replace

    def unlink(self, path, **kw):
        if self._mine(path):
            self._tick(f"unlink {path}")
        return real_os.unlink(path)

    def _sync_dir(self, folder: str) -> None:
        """A directory fsync makes its current entries (and removals) durable."""
        folder = real_os.path.abspath(folder)
        present = set(real_os.listdir(folder))
        for p in [p for p in self.names if real_os.path.dirname(p) == folder]:
            if real_os.path.basename(p) not in present:
                self.names[p] = None
        for name in present:
            p = real_os.path.join(folder, name)
            st = real_os.lstat(p)
            self.names[p] = "dir" if stat.S_ISDIR(st.st_mode) else st.st_ino
            if not stat.S_ISDIR(st.st_mode):
                self._inode(st.st_ino)

    # -- the power cut

    def crash(self) -> dict:
        """Rewrite the real tree to a state a power cut could leave. Returns
        {path: bytes kept} of the regular files that survive."""
        current: dict[int, str] = {}
        existing: list[str] = []
        for folder, dirs, files in real_os.walk(self.root):
            for name in dirs + files:
                p = real_os.path.join(folder, name)
                existing.append(p)
                if name in files:
                    current[real_os.stat(p).st_ino] = p
        contents: dict[int, bytes] = {}
        for ino, node in self.inodes.items():
            now = None
            if ino in current:
                with open(current[ino], "rb") as f:
                    now = f.read()
            contents[ino] = self._survivor(node, now)
        for p in existing:  # names that exist now but were never made durable
            if p not in self.names or self.names[p] is None:
                if real_os.path.isdir(p) and not real_os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                elif real_os.path.lexists(p):
                    real_os.unlink(p)
        kept = {}
        for p, target in sorted(self.names.items(), key=lambda kv: kv[0].count(real_os.sep)):
            parent = real_os.path.dirname(p)
            if target is None or (parent != self.root and self.names.get(parent) != "dir"):
                continue
            if target == "dir":
                real_os.makedirs(p, exist_ok=True)
                continue
            if real_os.path.isdir(p):
                shutil.rmtree(p)
            data = contents.get(target, b"")
            with open(p, "wb") as f:  # a new inode, which is what a restored name gets here anyway
                f.write(data)
            kept[p] = data
        return kept

    def _survivor(self, node: _Inode, now: bytes | None) -> bytes:
        """The durable bytes, then maybe part of what changed since the last
        fsync: an unsynced cut may or may not have reached the disk, unsynced
        appended bytes survive as a random prefix."""
        durable = node.durable
        d = node.dirty_from
        if d is None or now is None:
            return durable
        if d < len(durable) and self.rng.random() < 0.5:
            return durable
        # Bytes between the durable end and d were dropped by a failed fsync: zeros.
        head = durable[:d] if d <= len(durable) else durable + b"\0" * (d - len(durable))
        return head + now[d: d + self.rng.randint(0, max(0, len(now) - d))]


def _pread_any(fd: int, n: int, off: int) -> bytes:
    """pread through a read-only twin of a (possibly write-only) descriptor."""
    rfd = real_os.open(f"/proc/self/fd/{fd}", real_os.O_RDONLY)
    try:
        return real_os.pread(rfd, n, off)
    finally:
        real_os.close(rfd)


def open_store(path) -> Store:
    return Store(str(path), fsync=True, snapshots=False)


def abandon(store: Store) -> None:
    """Drop a store after a simulated crash without letting it write anything."""
    for st in list(store._tasks.values()):
        st._close_rfd()
        st.file.close()


def served(store: Store) -> dict[str, int]:
    """pack_id -> current revision of every served pack (duplicates fail)."""
    st = store.read_task(TASK)
    ids = [st.index.pack_id(i) for i in range(st.index.n)]
    assert len(ids) == len(set(ids)), "a pack is served twice"
    revs = st.index.view("revision")
    return {pid: int(revs[i]) for i, pid in enumerate(ids)}


def set_role(role: str):
    def change(_pid, rec):
        attr = dict(rec.get("attribution") or {})
        if attr.get("wm_role") == role:
            return []
        attr["wm_role"] = role
        rec["attribution"] = attr
        return ["attribution.wm_role"]
    return change


def check_after_crash(store_dir, acked: set, attempted: set, revised: dict) -> dict:
    s = open_store(store_dir)
    try:
        got = served(s)
        lost = acked - set(got)
        assert not lost, f"acknowledged packs lost: {sorted(lost)[:5]}"
        assert set(got) <= attempted, f"served packs never written: {sorted(set(got) - attempted)[:5]}"
        for pid, rev in revised.items():
            assert got[pid] >= rev, f"acknowledged revision {rev} of {pid} lost (have {got[pid]})"
        report = s.verify(TASK) if (store_dir / f"{TASK}_datapacks.jsonl").exists() else None
        if report is not None:
            bad = [f for f in report.findings if f.kind != "TORN_TAIL"]
            assert not bad, bad
        return got
    finally:
        s.close()


def test_power_loss_at_200_crash_points_loses_no_acknowledged_pack(tmp_path, monkeypatch):
    rng = random.Random(5150)
    crashes = 0
    seen_files = 0
    for rnd in range(10):
        store_dir = tmp_path / f"r{rnd}" / "phase_c"
        store_dir.parent.mkdir()
        acked: set[str] = set()
        attempted: set[str] = set()
        revised: dict[str, int] = {}
        seq = 0
        for _point in range(20):
            disk = SimulatedDisk(str(store_dir.parent), rng)
            # Half the crash points fall in the first commit of a session, where
            # recovery from the previous crash (cuts, sidecar repair) happens.
            disk.crash_at = rng.randint(1, 12) if rng.random() < 0.5 else rng.randint(1, 45)
            with monkeypatch.context() as m:
                disk.install(m)
                s = open_store(store_dir)
                try:
                    for _ in range(60):  # bounded: the crash point comes first
                        if acked and rng.random() < 0.2:
                            pid = rng.choice(sorted(acked))
                            res = s.revise(TASK, [pid], set_role(rng.choice(["wm_train", "wm_eval"])), "test")
                            if res[0]["status"] == "revised":
                                revised[pid] = res[0]["revision"]
                            continue
                        batch = [make_pack(f"r{rnd}-{seq + i}").to_dict() for i in range(rng.randint(1, 3))]
                        seq += len(batch)
                        attempted.update(d["pack_id"] for d in batch)
                        s.append_batch(batch)
                        acked.update(d["pack_id"] for d in batch)
                    pytest.fail("the crash point was never reached")
                except PowerCut:
                    crashes += 1
                finally:
                    abandon(s)
            kept = disk.crash()
            seen_files = max(seen_files, len(kept))
            check_after_crash(store_dir, acked, attempted, revised)
        assert len(acked) > 10
    assert crashes == 200
    assert seen_files >= 2  # data file and sidecar (the simulation really ran)


def test_simulated_disk_drops_what_was_not_fsynced(tmp_path, monkeypatch):
    """The simulation itself: unsynced appends can vanish, a file whose
    directory was not fsynced can vanish, synced bytes always stay, and after
    a failed fsync a later successful one does not bring the dropped bytes back."""
    root = tmp_path / "d"
    root.mkdir()
    disk = SimulatedDisk(str(root), random.Random(1))
    p = str(root / "f")
    fd = disk.open(p, real_os.O_WRONLY | real_os.O_CREAT | real_os.O_APPEND, 0o644)
    disk.write(fd, b"synced\n")
    disk.fsync(fd)
    disk.write(fd, b"unsynced\n")
    assert disk.crash() == {}  # the directory entry was never made durable
    root2 = tmp_path / "e"
    root2.mkdir()
    outcomes = set()
    for seed in range(30):
        shutil.rmtree(root2)
        root2.mkdir()
        disk = SimulatedDisk(str(root2), random.Random(seed))
        p = str(root2 / "f")
        fd = disk.open(p, real_os.O_WRONLY | real_os.O_CREAT | real_os.O_APPEND, 0o644)
        disk.write(fd, b"synced\n")
        disk.fsync(fd)
        dfd = disk.open(str(root2), real_os.O_RDONLY | real_os.O_DIRECTORY)
        disk.fsync(dfd)
        disk.close(dfd)
        disk.write(fd, b"unsynced\n")
        disk.close(fd)
        kept = disk.crash()[p]
        assert kept.startswith(b"synced\n") and b"synced\nunsynced\n".startswith(kept)
        outcomes.add(len(kept))
    assert min(outcomes) == 7 and max(outcomes) == 16
    # fsyncgate: the failed fsync's pages are clean; the next fsync "succeeds" without them
    disk = SimulatedDisk(str(root2), random.Random(0))
    fd = disk.open(p, real_os.O_WRONLY | real_os.O_APPEND)
    disk.write(fd, b"lost\n")
    disk.fault = ("fsync", 1, "once", errno_mod.EIO)
    with pytest.raises(OSError):
        disk.fsync(fd)
    disk.write(fd, b"after\n")
    disk.fsync(fd)
    disk.close(fd)
    kept = disk.crash()[p]
    assert kept.endswith(b"\0\0\0\0\0after\n")  # the dropped bytes never reached the disk


def test_crash_anywhere_in_the_commit_that_follows_stale_checksum_entries(tmp_path, monkeypatch):
    """A crash after the sidecar write but before the data reached the disk
    leaves checksum entries for lines that do not exist. The next commit cuts
    them off and writes new lines at their offsets: a power cut at any point
    of that commit must never leave a stale entry next to a durable new line
    (the cut is fsynced before the new lines are written)."""
    import numpy as np
    from datapack_server.storage.checksums import ENTRY
    outcomes = set()
    for crash_at in range(1, 20):
        for seed in range(4):
            root = tmp_path / f"c{crash_at}-{seed}"
            store_dir = root / "phase_c"
            root.mkdir()
            s = open_store(store_dir)
            s.append_batch([make_pack(f"k{i}").to_dict() for i in range(3)])
            s.close()
            size = (store_dir / f"{TASK}_datapacks.jsonl").stat().st_size
            stale = np.zeros(2, dtype=ENTRY)
            stale["off"] = [size, size + 100]  # shorter than the next line: inside it once it is written
            stale["len"] = [100, 100]
            stale["crc"] = [12345, 67890]
            with open(store_dir / ".datapack" / "checksums" / f"{TASK}.crc", "ab") as f:
                f.write(stale.tobytes())
            disk = SimulatedDisk(str(root), random.Random(seed))
            disk.crash_at = crash_at
            with monkeypatch.context() as m:
                disk.install(m)
                s = open_store(store_dir)
                try:
                    s.append_batch([make_pack("new").to_dict()])
                    outcomes.add("acked")
                except PowerCut:
                    outcomes.add("crashed")
                finally:
                    abandon(s)
            disk.crash()
            got = check_after_crash(store_dir, {"k0", "k1", "k2"}, {"k0", "k1", "k2", "new"}, {})
            outcomes.add("new durable" if "new" in got else "new lost")
            shutil.rmtree(root)
    assert outcomes == {"acked", "crashed", "new durable", "new lost"}
