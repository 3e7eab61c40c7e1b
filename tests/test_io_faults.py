"""I/O errors injected into the storage layer's write and fsync calls (the
N-th call, N = 1..50, failing once or from then on; EIO, and ENOSPC for every
third N), through the simulated disk of reliability/power_loss.py:

* an append whose commit met a failed write or fsync raises, with
  RESOURCE_EXHAUSTED for ENOSPC and INTERNAL otherwise; nothing is
  acknowledged whose bytes were not fsynced;
* a failed fsync is never followed by an acknowledgement that builds on the
  bytes it dropped (the simulated disk drops them as Linux does, so any such
  acknowledgement shows up as a lost pack after the power cut below);
* after the faults, a power cut and a reopen, every acknowledged pack is
  there, nothing partial is served, and the store takes writes again.
"""
from __future__ import annotations

import errno
import random

import pytest

from datapack_client.errors import InternalError, ResourceExhaustedError

from .conftest import make_pack
from reliability.power_loss import TASK, SimulatedDisk, abandon, check_after_crash, open_store, served, set_role


def _run_scenario(tmp_path, call: str, n: int, mode: str, code: int, rng: random.Random) -> dict:
    root = tmp_path / f"{call}-{n}-{mode}"
    root.mkdir()
    store_dir = root / "phase_c"
    disk = SimulatedDisk(str(root), rng)
    disk.fault = (call, n, mode, code)
    acked: set[str] = set()
    attempted: set[str] = set()
    revised: dict[str, int] = {}
    errors: list[Exception] = []
    with disk.installed():
        s = open_store(store_dir)
        try:
            for b in range(20):
                batch = [make_pack(f"{call}{n}{mode}-{b}-{i}").to_dict() for i in range(2)]
                attempted.update(d["pack_id"] for d in batch)
                for _attempt in range(3):  # a client retrying the same batch
                    fired = disk.fault_fired
                    try:
                        if b % 3 == 2 and acked:
                            pid = sorted(acked)[b % len(acked)]
                            res = s.revise(TASK, [pid], set_role(f"role{b}"), "test")
                            assert disk.fault_fired == fired, "revision acknowledged despite a failed write/fsync"
                            revised[pid] = res[0]["revision"]
                        res = s.append_batch(batch)
                        assert disk.fault_fired == fired, "append acknowledged despite a failed write/fsync"
                        assert {r.status for r in res} <= {"created", "already_present"}
                        acked.update(d["pack_id"] for d in batch)
                        break
                    except (InternalError, ResourceExhaustedError) as err:
                        assert disk.fault_fired > fired or errors, "an error without an injected fault"
                        errors.append(err)
            # Readers of this process never see a partial record, whatever happened.
            got = served(s)
            assert acked <= set(got) <= attempted
        finally:
            abandon(s)
    if errors:
        first = errors[0]
        want = ResourceExhaustedError if code == errno.ENOSPC else InternalError
        assert type(first) is want, (first, code)
        assert first.reason == ("STORE_FULL" if code == errno.ENOSPC else "STORE_IO_ERROR")
        assert all(type(e) in (InternalError, ResourceExhaustedError) for e in errors)
    disk.crash()  # what was not made durable is gone
    check_after_crash(store_dir, acked, attempted, revised)
    s = open_store(store_dir)  # reopened without faults: writes work again
    s.append_batch([make_pack(f"{call}{n}{mode}-after").to_dict()])
    report = s.verify(TASK)
    assert report.ok, report.findings
    s.close()
    return {"errors": len(errors), "acked": len(acked), "fired": disk.fault_fired}


@pytest.mark.parametrize("call", ["write", "fsync"])
def test_io_errors_on_the_nth_call_once_and_forever(tmp_path, call):
    rng = random.Random(call)
    fired = failed = refused_for_good = 0
    for n in range(1, 51):
        for mode in ("once", "forever"):
            code = errno.ENOSPC if n % 3 == 0 else errno.EIO
            out = _run_scenario(tmp_path, call, n, mode, code, rng)
            fired += out["fired"] > 0
            failed += out["errors"] > 0
            refused_for_good += mode == "forever" and out["fired"] > 0 and out["acked"] < 40
    assert fired == 100 and failed == 100  # every scenario really met its fault
    assert refused_for_good == 50


def test_short_writes_are_completed(tmp_path):
    """write() may write fewer bytes than asked (signals, full pipes, some file
    systems): every byte still lands, in order."""
    root = tmp_path / "short"
    root.mkdir()
    disk = SimulatedDisk(str(root), random.Random(1))
    disk.short_writes = 7
    with disk.installed():
        s = open_store(root / "phase_c")
        for b in range(5):
            s.append_batch([make_pack(f"s{b}-{i}").to_dict() for i in range(3)])
        s.close()
    s = open_store(root / "phase_c")
    assert sorted(served(s)) == sorted(f"s{b}-{i}" for b in range(5) for i in range(3))
    assert s.verify(TASK).ok
    s.close()


def test_failed_cut_after_a_failed_fsync_refuses_writes_until_reopened(tmp_path):
    """When even cutting the unsynced bytes back fails, the task refuses every
    later write (it cannot know what is on disk); reads go on; a reopened store
    writes again."""
    root = tmp_path / "r"
    root.mkdir()
    disk = SimulatedDisk(str(root), random.Random(2))
    with disk.installed():
        s = open_store(root / "phase_c")
        s.append_batch([make_pack("ok0").to_dict()])
        disk.fault = ("fsync", disk.calls["fsync"] + 1, "forever", errno.EIO)
        with pytest.raises(InternalError):
            s.append_batch([make_pack("bad").to_dict()])
        disk.fault = None  # the disk is fine again, but this store no longer trusts the file
        with pytest.raises(InternalError) as exc:
            s.append_batch([make_pack("later").to_dict()])
        assert "reopen" in exc.value.message
        assert set(served(s)) <= {"ok0", "bad"} and "ok0" in served(s)
        abandon(s)
        s = open_store(root / "phase_c")
        s.append_batch([make_pack("later").to_dict()])
        assert {"ok0", "later"} <= set(served(s))
        s.close()


def test_io_error_status_over_the_wire(data_root, server, client, monkeypatch):
    """Through a server: EIO on fsync is INTERNAL, nothing acknowledged; the
    next append succeeds and the failed pack can be re-sent."""
    from datapack_client.errors import InternalError as RemoteInternal
    disk = SimulatedDisk(str(data_root), random.Random(3))
    disk.install(monkeypatch)
    client.append(make_pack("first"))
    disk.fault = ("fsync", disk.calls["fsync"] + 1, "once", errno.EIO)
    with pytest.raises(RemoteInternal) as exc:
        client.append(make_pack("second"))
    assert exc.value.reason == "STORE_IO_ERROR"
    assert [p.pack_id for p in client.load_all(TASK)] == ["first"]
    assert client.append(make_pack("second")).status == "created"
    assert [p.pack_id for p in client.load_all(TASK)] == ["first", "second"]
