"""Simulated power loss: crash points in the middle of concurrent appends and
revisions, each followed by dropping every byte and directory entry that was
not made durable, then reopening the store.

    python -m reliability.power_loss [--quick] [--crash-points N] [--threads T] [--tasks K] [--seed S]

`SimulatedDisk` stands in for the `os` module of the storage layer
(storage/taskfile.py and storage/checksums.py) in-process. It passes every
call through to the real file system and tracks what a power cut would keep:
per inode the bytes as of its last successful fsync, per name whether its
directory was fsynced since it was created, renamed or removed. The crash
point is the N-th mutating call (open for writing, write, fsync, ftruncate,
mkdir, rename, unlink): it and every later call raise PowerCut. `crash()` then
rewrites the real tree to one possible post-crash state: durable bytes plus a
random prefix of the unsynced appended bytes (an unsynced cut may or may not
have reached the disk), names whose directory was not fsynced rolled back. The
disk also injects I/O errors (tests/test_io_faults.py): a failed fsync drops
the dirty pages as Linux does (marks them clean: a later fsync reports success
without writing them), so a store that built on them loses acknowledged data
here.

The run: T writer threads append batches of 1-20 packs to K tasks of one store
and revise acknowledged packs now and then (group commit: concurrent batches
share one write and fsync), until the crash point; then the power cut, and a
reopened store must serve every acknowledged pack and revision, nothing that
was never written, no pack twice, and `verify()` must find no checksum
mismatch and no corrupt line (a torn tail is allowed: it is never served). A
fresh store every 25 crash points keeps the files small. The fast variant
(200 crash points, one thread) is tests/test_power_loss.py.

Prints a table per store and, as its last line, a JSON object of figures. Exit
status 1 if anything was lost or wrongly served.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os as real_os
import random
import shutil
import stat
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

from datapack_server.storage import checksums as checksums_mod
from datapack_server.storage import taskfile as taskfile_mod
from datapack_server.engine.store import Store

from .kill9 import make_pack

TASK = "drawer_vase"
PATCHED = (taskfile_mod, checksums_mod)


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
        """Install for the rest of a test (pytest's monkeypatch undoes it)."""
        for mod in PATCHED:
            monkeypatch.setattr(mod, "os", self)

    @contextmanager
    def installed(self):
        """The storage layer uses this disk inside the block."""
        saved = [(mod, mod.os) for mod in PATCHED]
        for mod, _ in saved:
            mod.os = self
        try:
            yield self
        finally:
            for mod, old in saved:
                mod.os = old

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
        st.close_reader()
        st.file.close()


def served(store: Store, task: str = TASK) -> dict[str, int]:
    """pack_id -> current revision of every served pack (a pack served twice fails)."""
    st = store.read_task(task)
    ids = [st.index.pack_id(i) for i in range(st.index.n)]
    assert len(ids) == len(set(ids)), "a pack is served twice"
    revs = st.index.view("revision")
    return {pid: int(revs[i]) for i, pid in enumerate(ids)}


def set_role(role: str):
    """A revision: change attribution.wm_role."""
    def change(_pid, rec):
        attr = dict(rec.get("attribution") or {})
        if attr.get("wm_role") == role:
            return []
        attr["wm_role"] = role
        rec["attribution"] = attr
        return ["attribution.wm_role"]
    return change


def inspect(store_dir, acked: set, attempted: set, revised: dict, tasks=(TASK,)) -> dict:
    """After a power cut: what a reopened store serves, against what was
    acknowledged (pack ids; revised: pack id -> acknowledged revision)."""
    out = {"lost": 0, "lost_revisions": 0, "unknown": 0, "duplicates": 0, "mismatches": 0, "corrupt": 0,
           "torn": 0, "served": 0}
    s = open_store(store_dir)
    try:
        got: dict[str, int] = {}
        for task in tasks:
            st = s.read_task(task)
            ids = [st.index.pack_id(i) for i in range(st.index.n)]
            out["duplicates"] += len(ids) - len(set(ids)) + len(st.changed_without_revision)
            revs = st.index.view("revision")
            got.update({pid: int(revs[i]) for i, pid in enumerate(ids)})
            if (real_os.path.exists(real_os.path.join(str(store_dir), f"{task}_datapacks.jsonl"))):
                for f in s.verify(task).findings:
                    key = {"CHECKSUM_MISMATCH": "mismatches", "CORRUPT_LINE": "corrupt", "TORN_TAIL": "torn"}[f.kind]
                    out[key] += 1
        out["served"] = len(got)
        out["ids"] = set(got)
        out["lost"] = len(acked - set(got))
        out["unknown"] = len(set(got) - attempted)
        out["lost_revisions"] = sum(1 for pid, rev in revised.items() if got.get(pid, 0) < rev)
    finally:
        s.close()
    return out


def check_after_crash(store_dir, acked: set, attempted: set, revised: dict, tasks=(TASK,)) -> dict:
    """inspect(), asserting that nothing was lost or wrongly served."""
    r = inspect(store_dir, acked, attempted, revised, tasks)
    assert r["lost"] == 0, f"{r['lost']} acknowledged pack(s) lost"
    assert r["lost_revisions"] == 0, f"{r['lost_revisions']} acknowledged revision(s) lost"
    assert r["unknown"] == 0, "served packs that were never written"
    assert r["duplicates"] == 0, "a pack stored twice"
    assert r["mismatches"] == 0 and r["corrupt"] == 0, r
    return r


# ---------------------------------------------------------------------- the run

def _workload(s: Store, disk: SimulatedDisk, rng: random.Random, tasks: list[str], name: str, state: dict,
              lock: threading.Lock) -> None:
    """One writer thread: batches and revisions until the power cut."""
    n = 0
    for _ in range(10_000):  # bounded: the crash point comes long before
        task = rng.choice(tasks)
        try:
            with lock:
                candidates = sorted(state["acked_by_task"][task])
            if candidates and rng.random() < 0.15:
                pid = rng.choice(candidates)
                res = s.revise(task, [pid], set_role(rng.choice(["wm_train", "wm_eval", "wm_test"])), "power")
                if res[0]["status"] == "revised":
                    with lock:
                        state["revised"][pid] = max(state["revised"].get(pid, 0), res[0]["revision"])
                continue
            batch = [make_pack(f"{name}-{n + i}", task).to_dict() for i in range(rng.randint(1, 20))]
            n += len(batch)
            with lock:
                state["attempted"].update(d["pack_id"] for d in batch)
            s.append_batch(batch)
            with lock:
                state["acked"].update(d["pack_id"] for d in batch)
                state["acked_by_task"][task].update(d["pack_id"] for d in batch)
        except PowerCut:
            return
        except Exception:  # noqa: BLE001 - a follower of a commit the power cut interrupted
            if disk.ops >= (disk.crash_at or 0):
                return
            raise


def run(crash_points: int, threads: int, tasks: int, seed: int, per_store: int = 25, out=print) -> dict:
    rng = random.Random(seed)
    task_names = [TASK] + [f"task{i}" for i in range(1, tasks)]
    work = tempfile.mkdtemp(prefix="power-loss-")
    started = time.monotonic()
    totals = {"crash_points": 0, "acknowledged": 0, "revisions_acknowledged": 0, "lost": 0, "lost_revisions": 0,
              "unknown": 0, "duplicates": 0, "mismatches": 0, "corrupt": 0, "torn_tails": 0,
              "bytes_dropped": 0}
    try:
        for rnd in range((crash_points + per_store - 1) // per_store):
            root = real_os.path.join(work, f"r{rnd}")
            real_os.mkdir(root)
            store_dir = real_os.path.join(root, "phase_c")
            state = {"acked": set(), "attempted": set(), "revised": {},
                     "acked_by_task": {t: set() for t in task_names}}
            lock = threading.Lock()
            points = min(per_store, crash_points - totals["crash_points"])
            for _ in range(points):
                disk = SimulatedDisk(root, rng)
                disk.crash_at = rng.randint(1, 15) if rng.random() < 0.4 else rng.randint(1, 80)
                with disk.installed():
                    s = open_store(store_dir)
                    ts = [threading.Thread(target=_workload, args=(
                        s, disk, random.Random(rng.random()), task_names, f"r{rnd}t{k}p{totals['crash_points']}",
                        state, lock)) for k in range(threads)]
                    for t in ts:
                        t.start()
                    for t in ts:
                        t.join(120)
                    abandon(s)
                before = _tree_bytes(root)
                disk.crash()
                totals["bytes_dropped"] += max(0, before - _tree_bytes(root))
                totals["crash_points"] += 1
                r = inspect(store_dir, state["acked"], state["attempted"], state["revised"], task_names)
                for key in ("lost", "lost_revisions", "unknown", "duplicates", "mismatches", "corrupt"):
                    totals[key] += r[key]
                totals["torn_tails"] += r["torn"]
            totals["acknowledged"] += len(state["acked"])
            totals["revisions_acknowledged"] += len(state["revised"])
            out(f"{rnd:>5} {points:>7} {len(state['acked']):>7} {len(state['revised']):>9} {totals['lost']:>5} "
                f"{totals['lost_revisions']:>8} {totals['unknown']:>7} {totals['mismatches']:>10} "
                f"{totals['torn_tails']:>5}")
            shutil.rmtree(root)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    totals.update(threads=threads, tasks=tasks, elapsed_s=round(time.monotonic() - started, 1))
    totals["ok"] = all(totals[k] == 0 for k in ("lost", "lost_revisions", "unknown", "duplicates", "mismatches",
                                                 "corrupt")) and totals["crash_points"] == crash_points
    return totals


def _tree_bytes(root: str) -> int:
    total = 0
    for folder, _dirs, files in real_os.walk(root):
        for f in files:
            try:
                total += real_os.path.getsize(real_os.path.join(folder, f))
            except OSError:
                pass
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.power_loss", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="300 crash points, 2 threads")
    p.add_argument("--crash-points", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="concurrent writer threads (group commit)")
    p.add_argument("--tasks", type=int, default=2)
    p.add_argument("--seed", type=int, default=20251125)
    a = p.parse_args(argv)
    # Torn tails after a power cut are expected (never served); the figures count them.
    logging.getLogger("datapack.store").setLevel(logging.ERROR)
    points = a.crash_points or (300 if a.quick else 2000)
    threads = a.threads or (2 if a.quick else 4)
    print(f"simulated power loss: {points} crash points, {threads} writer threads, {a.tasks} tasks (seed {a.seed})")
    print(f"{'store':>5} {'crashes':>7} {'acked':>7} {'revisions':>9} {'lost':>5} {'lost rev':>8} {'unknown':>7} "
          f"{'mismatches':>10} {'torn':>5}")
    figures = run(points, threads, a.tasks, a.seed)
    print()
    for key in ("crash_points", "acknowledged", "revisions_acknowledged", "lost", "lost_revisions", "unknown",
                "duplicates", "mismatches", "corrupt", "torn_tails", "bytes_dropped", "elapsed_s"):
        print(f"{key:<24} {figures[key]}")
    print("result                   " + ("ok" if figures["ok"] else "FAILED"))
    print(json.dumps(figures))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
