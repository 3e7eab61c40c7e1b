"""Queries during heavy appends (reliability issue, point 17).

Writer threads (unary batches and a streaming appender) and a writer process
append through the client to one task while reader threads query it with
filters, sorting and limits, ask for statistics and get single packs. During
the run:

* every returned record is complete and valid: it decodes, passes the append
  invariants, and equals (as a JSON value, key order and literal kinds
  included) the record that was appended under its pack_id;
* every returned record matches the query's filters and the sort order;
* a reader's successive counts (statistics, unfiltered queries) never decrease,
  and are never below the number of packs acknowledged before the call began;
* an unfiltered query in append order shows each writer's packs as a prefix
  of what that writer sent (writers wait for an acknowledgement before the
  next batch, so a later pack is never visible without the earlier ones);
* a pack acknowledged to one client is found by another client's get.

At the end the store holds exactly the acknowledged packs, and for a seeded
set of filter/sort/limit combinations the server's answer equals a brute-force
oracle written from docs/repository.md §7 (and §9 for statistics),
with append order taken from the acknowledgements' sequence numbers.
About 15 s.
"""
from __future__ import annotations

import multiprocessing
import pathlib
import random
import threading
import time

import pytest
from datapack_client import connect
from datapack_client.records import schema
from datapack_client.errors import DataPackError
from datapack_client.records.validation import record_violations
from datapack_server.api.app import ServerConfig, build_server

from .jsoncheck import assert_json_same

TASK = "drawer_vase"
STORE = "concurrent"
WRITE_SECONDS = 5.0
THREAD_WRITERS = 3  # writers 0..2: unary append_batch; writer 3: stream appender; writer 4: a process
STREAM_WRITER = THREAD_WRITERS
PROCESS_WRITER = THREAD_WRITERS + 1
READERS = 3
FINAL_COMBINATIONS = 60
# Few distinct values, so sorting meets many equal keys (stable order matters).
DELTA_J = (-2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0)
TRUST = (-0.1, 0.0, 0.5, 0.9, 0.95, 1.0)


def make_record(writer: int, i: int) -> dict:
    """The i-th record of a writer: deterministic, so every process knows what
    any pack_id must contain."""
    rng = random.Random(writer * 1_000_003 + i)
    dj = rng.choice(DELTA_J)
    negative = dj < 0
    skills = rng.sample(range(6), rng.randint(1, 3))
    return {
        "schema_version": "2.0-energy",
        "pack_id": f"w{writer}-{i:05d}",
        "task_name": TASK,
        "bucket": "negative" if negative else "positive",
        "semantic_tags": [f"writer{writer}"],
        "condition": {"engine_type": rng.choice(schema.ENGINE_TYPES), "drawer_friction": rng.random()},
        "attribution": {"delta_J": dj, "trust_score": rng.choice(TRUST),
                        "source_type": rng.choice(schema.SOURCE_TYPES), "mvd_score": rng.choice([None, 0.5])},
        "skill_trace": [{"t": 10 * k, "skill_id": s, "params": {"k": k}, "duration": 10} for k, s in enumerate(skills)],
        "counterfactual_plan": {"skills": [0, 1, 2], "source": "scripted_teacher"} if negative else None,
        # Records of very different sizes: a torn read would show as a broken record.
        "episode_metrics": {"writer": writer, "i": i, "pad": "x" * rng.choice([0, 10, 300, 5000])},
        "created_at": f"2025-01-01T00:00:{i // 1_000_000:02d}.{i % 1_000_000:06d}+00:00",
    }


def parse_id(pack_id: str) -> tuple[int, int]:
    w, i = pack_id[1:].split("-")
    return int(w), int(i)


_EXPECTED: dict[str, dict] = {}


def expected(pack_id: str) -> dict:
    """The served form of the appended record (docs/schema.md §8.2 normalisation)."""
    e = _EXPECTED.get(pack_id)
    if e is None:
        e = _EXPECTED[pack_id] = schema.normalize_record(make_record(*parse_id(pack_id)))
    return e


# ---------------------------------------------------------------------------------------- the oracle


def oracle_match(rec: dict, f: dict) -> bool:
    """docs/repository.md §7.1 checks 1-8 for the filters these tests use (the
    records here have well-typed values, so no defaults are needed)."""
    attr = rec["attribution"]
    if "bucket" in f and rec["bucket"] != f["bucket"]:
        return False
    if "engine_type" in f and rec["condition"]["engine_type"] != f["engine_type"]:
        return False
    if "skill_id" in f and f["skill_id"] not in [e["skill_id"] for e in rec["skill_trace"]]:
        return False
    if not attr["trust_score"] >= f.get("min_trust", 0.0):  # always applied, default 0.0
        return False
    if "min_delta_j" in f and not attr["delta_J"] >= f["min_delta_j"]:
        return False
    if "max_delta_j" in f and not attr["delta_J"] <= f["max_delta_j"]:
        return False
    return "source_type" not in f or attr["source_type"] == f["source_type"]


SORT_KEYS = {"delta_j": lambda r: r["attribution"]["delta_J"], "trust_score": lambda r: r["attribution"]["trust_score"]}


def oracle_query(records: list[dict], f: dict, sort_by: str | None, descending: bool, limit) -> list[str]:
    """§7.1 filter, §7.4 stable sort in both directions (append order among
    equal keys), §7.5 limit (unset = 100, None = all). `records` are in append order."""
    hits = [r for r in records if oracle_match(r, f)]
    if sort_by is not None:
        key = SORT_KEYS[sort_by]
        pos = {id(r): n for n, r in enumerate(hits)}
        hits.sort(key=lambda r: ((-key(r) if descending else key(r)), pos[id(r)]))
    if limit is not None:
        hits = hits[:limit]
    return [r["pack_id"] for r in hits]


def oracle_statistics(records: list[dict], f: dict) -> dict:
    hits = [r for r in records if oracle_match(r, f)]
    out = {"total": len(hits), "positive": sum(r["bucket"] == "positive" for r in hits),
           "negative": sum(r["bucket"] == "negative" for r in hits)}
    if hits:
        dj = [r["attribution"]["delta_J"] for r in hits]
        out["delta_j_mean"] = sum(dj) / len(dj)
        out["delta_j_min"], out["delta_j_max"] = min(dj), max(dj)
        out["unique_skills"] = sorted({e["skill_id"] for r in hits for e in r["skill_trace"]})
        engines: dict = {}
        for r in hits:  # first appearance in append order
            engines[r["condition"]["engine_type"]] = engines.get(r["condition"]["engine_type"], 0) + 1
        out["engine_types"] = engines
    return out


def random_combination(rng: random.Random) -> tuple[dict, str | None, bool, object]:
    f: dict = {}
    if rng.random() < 0.4:
        f["bucket"] = rng.choice(schema.BUCKETS)
    if rng.random() < 0.4:
        f["skill_id"] = rng.randrange(7)
    if rng.random() < 0.5:
        f["min_trust"] = rng.choice([-1.0, 0.0, 0.5, 0.9, 0.95])
    if rng.random() < 0.3:
        f["min_delta_j"] = rng.choice(DELTA_J)
    if rng.random() < 0.3:
        f["max_delta_j"] = rng.choice(DELTA_J)
    if rng.random() < 0.3:
        f["source_type"] = rng.choice(schema.SOURCE_TYPES)
    if rng.random() < 0.2:
        f["engine_type"] = rng.choice(schema.ENGINE_TYPES)
    sort_by = rng.choice([None, "delta_j", "trust_score"])
    limit = rng.choice(["unset", None, 1, 7, 50, 100, 1000])
    return f, sort_by, rng.random() < 0.5, limit


def run_query(client, f: dict, sort_by, descending: bool, limit) -> list:
    kwargs = dict(f, sort_by=sort_by, sort_descending=descending)
    if limit != "unset":
        kwargs["limit"] = limit
    return client.query(TASK, **kwargs)


# ---------------------------------------------------------------------------------------- writers


def _write_batches(client, writer: int, seconds: float, on_ack) -> int:
    """Unary batches of 1-20 records, each sent after the previous one's acknowledgement."""
    rng = random.Random(writer)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        n = rng.randint(1, 20)
        batch = [make_record(writer, i + k) for k in range(n)]
        results = client.append_batch(batch)
        assert [r.status for r in results] == ["created"] * n
        on_ack([(r.pack_id, r.sequence) for r in results])
        i += n
    return i


def process_writer(target: str, writer: int, seconds: float, out) -> None:
    """A writer in another process (spawned): its acknowledgements go back through `out`."""
    client = connect(target, store=STORE, timeout=30)
    acks: list = []
    try:
        _write_batches(client, writer, seconds, acks.extend)
        out.put(("ok", acks))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        client.close()


# ---------------------------------------------------------------------------------------- the test


@pytest.fixture
def running(tmp_path):
    # fsync off: this test is about what readers see while appends commit, not
    # about durability (test_durability.py); fsync would only slow the writers.
    srv = build_server(ServerConfig(data_dir=str(tmp_path / "data"), port=0, fsync=False, max_workers=32,
                                  create_data_dir=True))
    yield srv
    srv.stop(0)


class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked: dict[str, int] = {}  # pack_id -> sequence (append position)
        self.acked_list: list[str] = []
        self.errors: list[str] = []
        self.writing = True
        self.reads = 0
        self.records_checked = 0

    def ack(self, pairs) -> None:
        with self.lock:
            for pid, seq in pairs:
                self.acked[pid] = seq
                self.acked_list.append(pid)


def check_record(p, f: dict | None = None) -> str:
    """A returned record is complete, valid, and the one appended under its id."""
    d = p.to_dict()
    pid = d["pack_id"]
    assert record_violations(d) == [], (pid, record_violations(d)[:2])
    assert_json_same(d, expected(pid))
    if f is not None:
        assert oracle_match(d, f), (pid, f)
    return pid


def reader(target: str, shared: Shared, seed: int) -> None:
    rng = random.Random(seed)
    client = connect(target, store=STORE, timeout=30)
    last_total = 0
    last_all = 0
    try:
        while True:
            writing = shared.writing
            op = rng.random()
            with shared.lock:
                acked_before = len(shared.acked)
                some = shared.acked_list[rng.randrange(len(shared.acked_list))] if shared.acked_list else None
            if op < 0.45:
                f, sort_by, descending, limit = random_combination(rng)
                packs = run_query(client, f, sort_by, descending, limit)
                assert len(packs) <= (100 if limit == "unset" else (limit if limit is not None else len(packs)))
                for p in packs:
                    check_record(p, f)
                if sort_by is not None:
                    keys = [SORT_KEYS[sort_by](p.to_dict()) for p in packs]
                    assert keys == sorted(keys, reverse=descending), (sort_by, descending, keys)
                shared.records_checked += len(packs)
            elif op < 0.65:
                # Everything, in append order: counts grow, each writer's packs form a prefix.
                packs = client.query(TASK, min_trust=-1.0, limit=None)
                assert len(packs) >= max(last_all, acked_before), (len(packs), last_all, acked_before)
                last_all = len(packs)
                seen: dict[int, list[int]] = {}
                for p in packs:
                    w, i = parse_id(check_record(p))
                    seen.setdefault(w, []).append(i)
                for w, idx in seen.items():
                    assert idx == list(range(len(idx))), f"writer {w}: packs visible out of order or with gaps"
                shared.records_checked += len(packs)
            elif op < 0.85:
                total = client.get_statistics(TASK)["total"]
                assert total >= max(last_total, acked_before), (total, last_total, acked_before)
                last_total = total
                s = client.get_statistics(TASK, bucket="negative", min_trust=0.5)
                assert s["negative"] == s["total"] and s["positive"] == 0
            elif some is not None:
                check_record(client.get(TASK, some))  # acknowledged to another client: found
            shared.reads += 1
            if not writing:
                return
    except (AssertionError, DataPackError) as exc:
        shared.errors.append(f"reader {seed}: {type(exc).__name__}: {str(exc)[:500]}")
    finally:
        client.close()


def test_queries_during_heavy_appends_are_consistent_and_match_the_oracle(running):
    target = f"127.0.0.1:{running.port}"
    shared = Shared()
    # The task exists (an empty file) before the readers start: reading a task
    # that does not exist is NOT_FOUND (issue 13), and the readers may come first.
    store_dir = pathlib.Path(running.service.root) / STORE
    store_dir.mkdir(parents=True, exist_ok=True)
    (store_dir / f"{TASK}_datapacks.jsonl").touch()

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=process_writer, args=(target, PROCESS_WRITER, WRITE_SECONDS, out), daemon=True)
    proc.start()

    def thread_writer(w: int) -> None:
        client = connect(target, store=STORE, timeout=30)
        try:
            _write_batches(client, w, WRITE_SECONDS, shared.ack)
        except (AssertionError, DataPackError) as exc:
            shared.errors.append(f"writer {w}: {type(exc).__name__}: {exc}")
        finally:
            client.close()

    def stream_writer() -> None:
        client = connect(target, store=STORE, timeout=30)
        try:
            deadline = time.monotonic() + WRITE_SECONDS
            i = 0
            with client.stream_appender(batch_size=16, max_in_flight=4) as s:
                while time.monotonic() < deadline:
                    s.append(make_record(STREAM_WRITER, i))
                    i += 1
            assert [r.status for r in s.results] == ["created"] * i
            shared.ack([(r.pack_id, r.sequence) for r in s.results])
        except (AssertionError, DataPackError) as exc:
            shared.errors.append(f"stream writer: {type(exc).__name__}: {exc}")
        finally:
            client.close()

    writers = [threading.Thread(target=thread_writer, args=(w,)) for w in range(THREAD_WRITERS)]
    writers.append(threading.Thread(target=stream_writer))
    readers = [threading.Thread(target=reader, args=(target, shared, 100 + r)) for r in range(READERS)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join(WRITE_SECONDS + 30)
    status, payload = out.get(timeout=60)
    proc.join(30)
    assert status == "ok", payload
    shared.ack(payload)
    shared.writing = False
    for t in readers:
        t.join(60)
    assert not any(t.is_alive() for t in writers + readers)
    assert shared.errors == []
    assert shared.reads >= 30 and shared.records_checked > 0, (shared.reads, shared.records_checked)

    # -- the final answers against the brute-force oracle
    client = connect(target, store=STORE, timeout=30)
    try:
        order = sorted(shared.acked, key=shared.acked.get)
        assert sorted(shared.acked.values()) == list(range(len(order))), "sequence numbers are not 0..n-1"
        writers_seen = {parse_id(pid)[0] for pid in order}
        assert writers_seen == set(range(PROCESS_WRITER + 1)), writers_seen
        everything = client.query(TASK, min_trust=-1.0, limit=None)
        assert [p.pack_id for p in everything] == order  # exactly the acknowledged packs, in append order
        records = [expected(pid) for pid in order]
        rng = random.Random(17)
        for _ in range(FINAL_COMBINATIONS):
            f, sort_by, descending, limit = random_combination(rng)
            got = [p.pack_id for p in run_query(client, f, sort_by, descending, limit)]
            want = oracle_query(records, f, sort_by, descending, 100 if limit == "unset" else limit)
            assert got == want, (f, sort_by, descending, limit, got[:5], want[:5])
        for _ in range(20):
            f, *_ = random_combination(rng)
            got = client.get_statistics(TASK, **f)
            want = oracle_statistics(records, f)
            for k, v in want.items():
                if type(v) is float:
                    assert got[k] == pytest.approx(v, rel=1e-12, abs=1e-12), (f, k)
                else:
                    assert got[k] == v, (f, k, got[k], v)
                    if type(v) is dict:
                        assert list(got[k]) == list(v), (f, k)  # first appearance in append order
    finally:
        client.close()
