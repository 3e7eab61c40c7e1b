"""Simulated power loss: 200 crash points in the middle of appends and
revisions, each followed by dropping every byte and directory entry that was
not made durable, then reopening the store. No acknowledged pack or revision
may be lost, nothing partial or unwritten may be served, and no checksum may
mismatch. The simulated disk (what a power cut keeps: bytes as of the last
successful fsync, names as of the last directory fsync) is in
reliability/power_loss.py, whose long variant runs thousands of crash points
with concurrent writers.
"""
from __future__ import annotations

import errno as errno_mod
import os as real_os
import random
import shutil

import pytest

from reliability.power_loss import TASK, PowerCut, SimulatedDisk, abandon, check_after_crash, open_store, set_role

from .conftest import make_pack

def test_power_loss_at_200_crash_points_loses_no_acknowledged_pack(tmp_path):
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
            with disk.installed():
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


def test_simulated_disk_drops_what_was_not_fsynced(tmp_path):
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


def test_crash_anywhere_in_the_commit_that_follows_stale_checksum_entries(tmp_path):
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
            with disk.installed():
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
            outcomes.add("new durable" if "new" in got["ids"] else "new lost")
            shutil.rmtree(root)
    assert outcomes == {"acked", "crashed", "new durable", "new lost"}
