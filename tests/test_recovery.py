"""Recovery of damaged task files, at the store level (no server, a new Store
per case): a torn last record at every byte offset, garbage after the last
record, corruption inside the file detected by the checksum sidecar."""
from __future__ import annotations

import base64
import json
import logging
import random
import shutil

import orjson
import pytest

from datapack_client.errors import InternalError, NotFoundError
from datapack_server.engine.store import Store
from datapack_server.storage.checksums import ENTRY_SIZE, HEADER
from datapack_server.storage.lines import CorruptLine, parse_line
from datapack_server.storage.verify import verify_file

from .conftest import FIXTURES, make_pack

TASK = "drawer_vase"
TASK_FILE = f"{TASK}_datapacks.jsonl"


def _paths(d):
    return (d / TASK_FILE, d / ".datapack" / "checksums" / f"{TASK}.crc",
            d / ".datapack" / "quarantine" / f"{TASK}_datapacks.quarantine.jsonl")


def _served(store: Store, task: str = TASK) -> list[str]:
    st = store.read_task(task)
    return [st.index.pack_id(i) for i in range(st.index.n)]


def _written_store(d, ids, task=TASK) -> None:
    s = Store(str(d), fsync=False, snapshots=False)
    s.append_batch([make_pack(i, task_name=task).to_dict() for i in ids])
    s.close()


def _quarantine(q) -> list[dict]:
    return [json.loads(x) for x in q.read_bytes().splitlines()] if q.exists() else []


# ---------------------------------------------------------------------- torn tail

def test_torn_last_record_cut_at_every_byte_offset(tmp_path):
    """The last record cut after 1 .. len-1 bytes (its newline is the last
    byte): the complete records are served, the next write quarantines the cut
    bytes and ends the file on a record boundary. Three sidecar states cycle:
    still holding the cut record's entry (a crash after the sidecar write),
    without it, and no sidecar at all (a file written by another tool)."""
    d = tmp_path / "s"
    _written_store(d, ["t0", "t1", "t2", "t3"])
    path, sidecar, q = _paths(d)
    whole = path.read_bytes()
    last = whole.rstrip(b"\n").rfind(b"\n") + 1
    good = whole[:last]
    side_with_last = sidecar.read_bytes()
    side_without = side_with_last[:-ENTRY_SIZE]
    record_len = len(whole) - last
    for cut in range(1, record_len):
        path.write_bytes(whole[:last + cut])  # in place: same inode, as after a crash
        mode = cut % 3
        if mode == 2:
            sidecar.unlink(missing_ok=True)
        else:
            sidecar.write_bytes(side_with_last if mode == 0 else side_without)
        q.unlink(missing_ok=True)
        s = Store(str(d), fsync=False, snapshots=False)
        assert _served(s) == ["t0", "t1", "t2"], cut
        assert s.read_task(TASK).torn == (last, cut)
        assert path.read_bytes() == whole[:last + cut]  # readers never modify the file
        res = s.append_batch([make_pack("after").to_dict()])
        assert res[0].status == "created" and res[0].sequence == 3
        data = path.read_bytes()
        assert data.startswith(good) and data.endswith(b"\n") and data.count(b"\n") == 4, cut
        assert _served(s) == ["t0", "t1", "t2", "after"]
        [entry] = _quarantine(q)
        assert (entry["reason"], entry["line"], entry["byte_offset"]) == ("TORN_TAIL", 4, last)
        assert base64.b64decode(entry["raw_base64"]) == whole[last:last + cut]
        s.close()
        fresh = Store(str(d), fsync=False, snapshots=False)
        assert _served(fresh) == ["t0", "t1", "t2", "after"]
        report = fresh.verify(TASK)
        assert report.ok and report.checked == 4 and report.checksums == "ok", (cut, report.findings)
        fresh.close()
    assert record_len > 2000  # every offset of a realistic record was covered


# ---------------------------------------------------------------------- garbage after the last record

def _garbage(rng: random.Random, record: bytes) -> bytes:
    kind = rng.randrange(6)
    n = rng.randint(1, 3000)
    if kind == 0:
        return b"\0" * n + (b"\n" if rng.random() < 0.5 else b"")
    if kind == 1:
        return rng.randbytes(n)
    if kind == 2:  # a record cut short, maybe followed by a newline and more
        cut = record[: rng.randint(1, len(record) - 2)]
        return cut + (b"\n" + record[: rng.randint(0, 50)] if rng.random() < 0.5 else b"")
    if kind == 3:  # printable lines
        alphabet = b'{}[]":,0123456789abcdef \t'
        return b"\n".join(bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
                          for _ in range(rng.randint(2, 20)))
    if kind == 4:  # JSON values that are not objects
        return rng.choice([b"[1,2,3]", b'"text"', b"12345", b"null", b"true"]) + b"\n" + rng.randbytes(rng.randint(0, 9))
    return b"\n" * rng.randint(1, 3) + rng.randbytes(n) + b"\n"


def _is_object_line(raw: bytes) -> bool:
    try:
        parse_line(raw)
        return True
    except CorruptLine:
        return False


def test_garbage_after_the_last_record_is_never_served(tmp_path):
    """200 seeded cases of zeros, random bytes, partial JSON and newline-
    containing garbage after the last record: the valid records are kept and
    served, no garbage is, and after the next write the file ends on a record
    boundary with every complete garbage line left in place, reported and
    quarantined, and the torn part quarantined and cut."""
    rng = random.Random(20251125)
    base = tmp_path / "base"
    _written_store(base, ["g0", "g1", "g2"])
    record = (base / TASK_FILE).read_bytes().split(b"\n")[0]
    kinds = set()
    for case in range(200):
        garbage = _garbage(rng, record)
        complete = garbage[: garbage.rfind(b"\n") + 1] if b"\n" in garbage else b""
        if any(_is_object_line(x) for x in complete.split(b"\n") if x.strip()):
            continue  # not garbage (astronomically unlikely; keeps the check honest)
        kinds.add(garbage[:1] == b"\0")
        d = tmp_path / f"c{case}"
        shutil.copytree(base, d)
        path, _sidecar, q = _paths(d)
        good = path.read_bytes()
        with open(path, "ab") as f:
            f.write(garbage)
        s = Store(str(d), fsync=False, snapshots=False)
        assert _served(s) == ["g0", "g1", "g2"], case
        s.append_batch([make_pack("g3").to_dict()])
        assert _served(s) == ["g0", "g1", "g2", "g3"], case
        data = path.read_bytes()
        assert data.startswith(good + complete) and data.endswith(b"\n"), case
        assert data[len(good) + len(complete):].count(b"\n") == 1  # only the new record after the garbage lines
        garbage_lines = [x for x in complete.split(b"\n")[:-1] if x.strip()]
        reasons = [e["reason"] for e in _quarantine(q)]
        assert reasons.count("CORRUPT_LINE") == len(garbage_lines), case
        assert reasons.count("TORN_TAIL") == (1 if len(garbage) > len(complete) else 0), case
        s.close()
        report = Store(str(d), fsync=False, snapshots=False).verify(TASK)
        assert [f.kind for f in report.findings] == ["CORRUPT_LINE"] * len(garbage_lines), case
        assert report.records == 4
        shutil.rmtree(d)
    assert kinds == {True, False}


# ---------------------------------------------------------------------- corruption inside the file

def _flip(path, pos: int, value: int) -> None:
    with open(path, "r+b") as f:  # in place, same inode: bit rot, not a rewrite
        f.seek(pos)
        f.write(bytes([value]))


def test_every_flipped_byte_of_a_middle_record_is_detected_by_verify(tmp_path):
    """Every byte of record 3 of 5 replaced by another value (incl. a newline,
    which splits the line): verify() names line 3 and its offset; no other
    line is affected."""
    d = tmp_path / "s"
    _written_store(d, [f"m{i}" for i in range(5)])
    path, sidecar, _q = _paths(d)
    whole = path.read_bytes()
    lines = whole.split(b"\n")
    start = len(lines[0]) + len(lines[1]) + 2
    length = len(lines[2]) + 1
    rng = random.Random(7)
    for pos in range(start, start + length):
        old = whole[pos]
        new = rng.choice([b for b in range(256) if b != old]) if pos % 5 else (
            ord("\n") if old != ord("\n") else ord(" "))
        _flip(path, pos, new)
        report = verify_file(str(path), str(sidecar), TASK)
        kinds = {(f.kind, f.line, f.byte_offset) for f in report.findings}
        assert ("CHECKSUM_MISMATCH", 3, start) in kinds, pos
        assert all(f.line in (3, 4) and f.byte_offset >= start for f in report.findings), (pos, report.findings)
        if new != ord("\n") and old != ord("\n"):
            assert len(report.findings) == 1 and report.records == 4, pos
        _flip(path, pos, old)
    assert verify_file(str(path), str(sidecar), TASK).ok


def test_flipped_digit_keeps_valid_json_but_is_not_served(tmp_path, caplog):
    """A changed digit leaves a valid JSON line; the checksum catches it on a
    full load: the pack is not served, the warning names task, line and byte
    offset, the other packs and tasks are served, verify() reports it, and the
    next writer quarantines the line as CHECKSUM_MISMATCH."""
    d = tmp_path / "s"
    _written_store(d, [f"m{i}" for i in range(5)])
    _written_store(d, ["other0", "other1"], task="dishwashing")
    path, _sidecar, q = _paths(d)
    whole = path.read_bytes()
    lines = whole.split(b"\n")
    start = len(lines[0]) + len(lines[1]) + 2
    digits = [start + i for i, b in enumerate(lines[2]) if chr(b).isdigit()]
    assert len(digits) > 20
    rng = random.Random(3)
    for pos in rng.sample(digits, 20):
        old = whole[pos]
        new = ord(rng.choice([c for c in "0123456789" if ord(c) != old]))
        _flip(path, pos, new)
        changed = path.read_bytes().split(b"\n")[2]
        orjson.loads(changed)  # still valid JSON: only the checksum can tell
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="datapack.store"):
            s = Store(str(d), fsync=False, snapshots=False)
            assert _served(s) == ["m0", "m1", "m3", "m4"], pos
        [msg] = [r.getMessage() for r in caplog.records]
        assert f"task {TASK} line 3 byte offset {start}" in msg and "CHECKSUM_MISMATCH" in msg
        assert _served(s, "dishwashing") == ["other0", "other1"]
        report = s.verify(TASK)
        assert [(f.kind, f.line, f.byte_offset) for f in report.findings] == [("CHECKSUM_MISMATCH", 3, start)]
        s.close()
        _flip(path, pos, old)
    s = Store(str(d), fsync=False, snapshots=False)
    assert _served(s) == [f"m{i}" for i in range(5)]
    _flip(path, digits[0], ord("0") if whole[digits[0]] != ord("0") else ord("1"))
    s2 = Store(str(d), fsync=False, snapshots=False)
    s2.append_batch([make_pack("m5").to_dict()])
    assert _served(s2) == ["m0", "m1", "m3", "m4", "m5"]
    assert [(e["reason"], e["line"], e["byte_offset"]) for e in _quarantine(q)] == [("CHECKSUM_MISMATCH", 3, start)]
    assert Store(str(d), fsync=False).verify(TASK).findings[0].line == 3  # left in place, still reported


@pytest.mark.parametrize("snapshot", [False, True])
def test_corruption_after_indexing_fails_the_read_then_the_task_reindexes(tmp_path, snapshot):
    """A line changed on disk after it was indexed (or covered by an index
    snapshot, which is trusted without reading the lines) is caught when its
    bytes are read: the read fails with RECORD_CORRUPT naming line and offset,
    then the task is re-indexed without it (the snapshot is dropped)."""
    d = tmp_path / "s"
    s = Store(str(d), fsync=False, snapshot_min_rows=1)
    s.append_batch([make_pack(f"a{i}").to_dict() for i in range(6)])
    s.close()
    path, _sidecar, _q = _paths(d)
    snap = d / ".datapack" / "index" / f"{TASK}.snapshot.npz"
    assert snap.exists()
    if not snapshot:
        snap.unlink()
    s = Store(str(d), fsync=False, snapshot_min_rows=1)
    st = s.read_task(TASK)
    assert st.snapshot_rows == (6 if snapshot else 0)
    lines = path.read_bytes().split(b"\n")
    start = sum(len(x) + 1 for x in lines[:4])
    pos = start + lines[4].index(b'"trust_score":') + len(b'"trust_score":') + 2
    _flip(path, pos, ord("1") if path.read_bytes()[pos] != ord("1") else ord("2"))
    with s.reading(TASK) as st:
        ref = st.ref(st.index.position("a4"))
        with pytest.raises(InternalError) as exc:
            st.load(ref)
        assert st.load(st.ref(st.index.position("a3")))["pack_id"] == "a3"  # others still served
    assert exc.value.reason == "RECORD_CORRUPT"
    assert f"line 5 (byte offset {start})" in exc.value.message
    assert _served(s) == ["a0", "a1", "a2", "a3", "a5"]
    import threading
    for t in threading.enumerate():  # snapshots written in the background
        if t.name.startswith("snapshot-"):
            t.join(30)
    fresh = Store(str(d), fsync=False, snapshot_min_rows=1)  # trusts a snapshot if there is one
    assert _served(fresh) == ["a0", "a1", "a2", "a3", "a5"]  # no snapshot brings the corrupt pack back
    fresh.close()
    with s.reading(TASK) as st:
        with pytest.raises(NotFoundError):
            from datapack_server.query.lookups import position_of
            position_of(st, "a4")
    report = s.verify(TASK)
    assert [(f.kind, f.line) for f in report.findings] == [("CHECKSUM_MISMATCH", 5)]


def test_corrupt_record_over_the_wire_other_tasks_keep_serving(data_root, server, client):
    """Through a server: the get of a record whose bytes changed fails with
    INTERNAL RECORD_CORRUPT; queries then leave it out; another task is unaffected."""
    client.append_batch([make_pack(f"w{i}") for i in range(4)])
    client.append_batch([make_pack(f"o{i}", task_name="dishwashing") for i in range(3)])
    path = data_root / "phase_c" / TASK_FILE
    lines = path.read_bytes().split(b"\n")
    start = sum(len(x) + 1 for x in lines[:2])
    pos = start + lines[2].index(b'"delta_J":') + len(b'"delta_J":')
    _flip(path, pos, ord("7") if path.read_bytes()[pos] != ord("7") else ord("6"))
    with pytest.raises(InternalError) as exc:
        client.get(TASK, "w2")
    assert exc.value.reason == "RECORD_CORRUPT" and f"byte offset {start}" in exc.value.message
    assert [p.pack_id for p in client.load_all(TASK)] == ["w0", "w1", "w3"]
    assert [p.pack_id for p in client.load_all("dishwashing")] == ["o0", "o1", "o2"]
    with pytest.raises(NotFoundError):
        client.get(TASK, "w2")


def test_reference_fixtures_without_sidecar_load_unchanged_then_get_checksums(tmp_path):
    """Files written by other tools (no sidecar) load and round-trip as
    before; the first write adds entries for every existing line without
    changing a byte of them, and from then on they are checked."""
    for name in ("drawer_vase_datapacks.jsonl", "dishwashing_datapacks.jsonl"):
        task = name[: -len("_datapacks.jsonl")]
        d = tmp_path / task
        d.mkdir()
        shutil.copy(FIXTURES / name, d / name)
        original = (d / name).read_bytes()
        s = Store(str(d), fsync=False, snapshots=False)
        before = _served(s, task)
        report = s.verify(task)
        assert report.ok and report.checksums == "missing" and report.checked == 0
        assert report.unchecked == original.count(b"\n")
        s.append_batch([make_pack("new-one", task_name=task).to_dict()])
        data = (d / name).read_bytes()
        assert data.startswith(original)
        assert _served(s, task) == before + ["new-one"]
        s.close()
        report = Store(str(d), fsync=False).verify(task)
        assert report.ok and report.unchecked == 0 and report.checked == original.count(b"\n") + 1
        sidecar = d / ".datapack" / "checksums" / f"{task}.crc"
        assert sidecar.stat().st_size == HEADER.size + ENTRY_SIZE * report.checked


def test_parallel_load_checks_checksums_like_the_sequential_one(tmp_path, monkeypatch):
    """Large files are parsed in worker processes; their lines are checked
    against the sidecar too (a chunk with a mismatch is re-read in order), so
    the parallel index equals the sequential one and the same line is reported."""
    from datapack_server.engine import task_state as store_mod
    from datapack_server.engine.parsing import WorkerPool
    d = tmp_path / "s"
    _written_store(d, [f"p{i}" for i in range(300)])
    path, _sidecar, _q = _paths(d)
    lines = path.read_bytes().split(b"\n")
    k = 211
    start = sum(len(x) + 1 for x in lines[:k])
    pos = start + lines[k].index(b'"trust_score":') + len(b'"trust_score":') + 2
    _flip(path, pos, ord("3") if path.read_bytes()[pos] != ord("3") else ord("4"))
    sequential = Store(str(d), snapshots=False).read_task(TASK)
    monkeypatch.setattr(store_mod, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(store_mod, "PARALLEL_CHUNK", 64 << 10)
    pool = WorkerPool(2)
    try:
        parallel = Store(str(d), snapshots=False, pool=pool).read_task(TASK)
    finally:
        pool.close()
    ids = [parallel.index.pack_id(i) for i in range(parallel.index.n)]
    assert ids == [sequential.index.pack_id(i) for i in range(sequential.index.n)]
    assert ids == [f"p{i}" for i in range(300) if i != k]
    assert [(c[0], c[1]) for c in parallel.corrupt] == [(c[0], c[1]) for c in sequential.corrupt] == [(k + 1, start)]


def test_datapack_verify_command(tmp_path, capsys):
    """`datapack verify`: 0 when clean, 1 with findings (each with line number
    and byte offset) and for an unknown task, 2 for a usage error; it never modifies a file."""
    from datapack_server.cli.main import main
    root = tmp_path / "data"
    d = root / "phase_c"
    _written_store(d, [f"v{i}" for i in range(4)])
    _written_store(root / "other", ["o0"])
    assert main(["verify", "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "phase_c/drawer_vase: 4 lines, 4 records, 4 checked" in out and "2 task file(s), 0 with findings" in out
    path = d / TASK_FILE
    lines = path.read_bytes().split(b"\n")
    start = len(lines[0]) + 1
    pos = start + lines[1].index(b'"delta_J":') + len(b'"delta_J":')
    _flip(path, pos, ord("5") if path.read_bytes()[pos] != ord("5") else ord("6"))
    before = path.read_bytes()
    assert main(["verify", "--data-dir", str(root), "--store", "phase_c", "--task", TASK]) == 1
    out = capsys.readouterr().out
    assert f"line 2 byte offset {start} ({len(lines[1]) + 1} bytes): CHECKSUM_MISMATCH" in out
    assert path.read_bytes() == before
    assert main(["verify", "--data-dir", str(root), "--store", "phase_c", "--task", "nope"]) == 1


def test_sidecar_of_a_replaced_data_file_is_ignored_then_rebuilt(tmp_path, caplog):
    """A data file replaced by another tool (rename over it) while the old
    sidecar stays: the sidecar does not match the new file's first lines, so it
    is ignored (nothing reported corrupt) until the next writer rebuilds it."""
    a, b = tmp_path / "a", tmp_path / "b"
    _written_store(a, [f"a{i}" for i in range(5)])
    _written_store(b, [f"b{i}" for i in range(5)])
    import os
    os.replace(b / TASK_FILE, a / TASK_FILE)
    with caplog.at_level(logging.WARNING, logger="datapack.store"):
        s = Store(str(a), fsync=False, snapshots=False)
        assert _served(s) == [f"b{i}" for i in range(5)]
        report = s.verify(TASK)
    assert report.ok and report.checksums == "stale" and report.checked == 0
    assert not caplog.records
    s.append_batch([make_pack("b5").to_dict()])
    s.close()
    report = Store(str(a), fsync=False).verify(TASK)
    assert report.ok and report.checksums == "ok" and report.checked == 6


def test_a_copied_store_keeps_its_checksums(tmp_path):
    """The sidecar's bytes depend only on the data (no inode, no random
    bytes): a copy of a store is checked like the original."""
    src = tmp_path / "src"
    _written_store(src, [f"c{i}" for i in range(4)])
    dst = tmp_path / "dst"
    shutil.copytree(src, dst)
    assert (src / ".datapack" / "checksums" / f"{TASK}.crc").read_bytes() == \
        (dst / ".datapack" / "checksums" / f"{TASK}.crc").read_bytes()
    path = dst / TASK_FILE
    pos = path.read_bytes().index(b'"delta_J":') + len(b'"delta_J":')
    _flip(path, pos, ord("8") if path.read_bytes()[pos] != ord("8") else ord("9"))
    s = Store(str(dst), fsync=False, snapshots=False)
    assert _served(s) == ["c1", "c2", "c3"]
    assert [(f.kind, f.line) for f in s.verify(TASK).findings] == [("CHECKSUM_MISMATCH", 1)]
