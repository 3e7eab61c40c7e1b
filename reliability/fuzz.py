"""Fuzzer of the JSONL recovery reader and of the validators (reliability issue, point 11).

    python -m reliability.fuzz [--minutes 10] [--quick] [--seed N] [--hang-seconds 2]

A seeded random mutator (no atheris) over the reference fixture lines
(tests/fixtures/reference) drives five targets, round robin, until the time is up:

  line       one mutated line through the reader: storage.lines.parse_line,
             served_record, the index row, the wire encoding of the served record
             (and its decoding as a client does), the invariants `validate` runs,
             the write-back encoding. Only CorruptLine may be raised.
  store      a whole task file of mutated lines, corrupt lines and a torn tail:
             the embedded repository opens it (catch-up, index), queries, gets,
             history, statistics, adapter analyses, verify; the server's servicer
             serves it (query/get/history/statistics messages); then a writer
             appends (torn-tail and corrupt-line quarantine), revises a pack,
             more bytes arrive (incremental refresh) and everything is read again.
             Only the documented DataPackErrors may be raised; acknowledged packs
             must be served.
  append     mutated DataPackMeta messages (structured field mutations and raw
             byte damage: invalid UTF-8, truncation, unknown enum numbers, side
             JSON, packed arrays) through the server's append preparation
             (service.preparation.prepare_records: decode, normalise, validate, encode). It
             never raises; every accepted line must read back as the same record.
             The client's lazy decoder may refuse a message only with ValueError.
  validate   arbitrary JSON values shaped like records through normalisation and
             validation.record_violations (embedded and wire variants).
  query      arbitrary query/filter arguments through query.make_query and the
             wire round trip (filter_to_proto/query_from_proto): only
             InvalidArgumentError.

A crash is any other exception; a hang is an input that takes longer than
--hang-seconds (a watchdog thread reports it while it runs; a hard limit of ten
times that dumps the stacks and exits, so the fuzzer itself never hangs). Prints
a table of inputs and coverage-ish counters (distinct outcomes, violation
reasons, corrupt-line kinds) and, as its last line, one JSON object of figures.
Exit status 1 when a crash or hang was found. Crashing inputs are written to
reliability/out/fuzz-crashes/ for replay.
"""
from __future__ import annotations

import argparse
import base64
import collections
import faulthandler
import json
import os
import pathlib
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import orjson

from datapack_server.api.framing import length_delimited

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent / "tests" / "fixtures" / "reference"
TASK = "drawer_vase"
FILE = f"{TASK}_datapacks.jsonl"

# ---------------------------------------------------------------------------------------- value pools

EDGE_FLOATS = [0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308, float("nan"),
               float("inf"), float("-inf"), 0.1, -1.0, 1e-300, 2.2250738585072014e-308]
EDGE_INTS = [0, 1, -1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, -2 ** 63, -2 ** 63 - 1,
             2 ** 64 - 1, 2 ** 64, 10 ** 30, -10 ** 30]
EDGE_STRINGS = ["", " ", "positive", "negative", "pybullet", "isaac", "ue5", "real", "synthetic", "hybrid", "wm_train",
                "scripted_teacher", "2.0-energy", "2.1-portable", "2.2-repr", "drawer_vase", "../x", "a/b", "a..b",
                "\x00", "\u202e", "\ud7ff", "é", "\U0001F600", "NaN", "null", "{}", "[]", "0", "04", "-1", "x" * 129]
JSON_TEXTS = ["{}", "[]", "null", "5", '"s"', "{", "[1,", "NaN", '{"a": NaN}', '{"a": Infinity}', "1e400", "-0",
              '{"a": 1, "a": 2}', "123456789012345678901234567890", '"\\ud800"', '{"k": "\\udfff"}',
              "[" * 300 + "]" * 300, "[" * 1100 + "]" * 1100, '{"pack_id": 5}', '{"created_at": 1}', '{"t": -1}',
              '{"skill_id": "x"}', '{"x_new": [1, 2]}', '{"tags": []}', " {} ", "{}}", '{"Wh": "x"}',
              '{"arm": {"Wh": 1.5}}', '{"skills": [0, 1]}', "\x00", "{\"a\":\"\xff\"}"]


def _nest(depth: int, as_object: bool, leaf: Any = 1) -> Any:
    v = leaf
    for _ in range(depth):
        v = {"k": v} if as_object else [v]
    return v


class Gen:
    """Random values from one seeded generator."""

    def __init__(self, rng: random.Random):
        self.r = rng

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def json(self, depth: int = 0) -> Any:
        r = self.r
        k = r.randrange(12 if depth < 4 else 7)
        if k == 0:
            return None
        if k == 1:
            return r.choice([True, False])
        if k == 2:
            return r.choice(EDGE_INTS) if r.random() < 0.5 else r.randrange(-1000, 1000)
        if k == 3:
            return r.choice(EDGE_FLOATS) if r.random() < 0.5 else r.uniform(-1e6, 1e6)
        if k == 4:
            return r.choice(EDGE_STRINGS)
        if k == 5:
            return "".join(chr(r.randrange(0x20, 0x3000)) for _ in range(r.randrange(8)))
        if k == 6:
            return r.choice(["x" * r.randrange(1000, 100_000), _nest(r.randrange(1, 300), r.random() < 0.5)])
        if k in (7, 8, 9):
            return {r.choice(EDGE_STRINGS + ["a", "b", "c"]): self.json(depth + 1) for _ in range(r.randrange(4))}
        return [self.json(depth + 1) for _ in range(r.randrange(4))]


def _paths(v: Any, prefix: tuple = ()) -> list[tuple]:
    """Every (container path) of a JSON value, for picking a place to mutate."""
    out = [prefix]
    if type(v) is dict:
        for k, x in v.items():
            if type(x) in (dict, list):
                out.extend(_paths(x, prefix + (k,)))
    elif type(v) is list:
        for i, x in enumerate(v):
            if type(x) in (dict, list):
                out.extend(_paths(x, prefix + (i,)))
    return out


def _at(v: Any, path: tuple) -> Any:
    for p in path:
        v = v[p]
    return v


# ---------------------------------------------------------------------------------------- line mutator


class LineMutator:
    """Mutated task-file lines from the reference fixtures: JSON-level changes
    (wrong types, NaN, big integers, deep nesting, missing/empty ids, legacy
    shape, revisions) and byte-level damage (flips, cuts, splices, invalid
    UTF-8, lone surrogate escapes, newlines inside a line)."""

    def __init__(self, rng: random.Random):
        self.r = rng
        self.g = Gen(rng)
        self.lines = []
        for name in ("drawer_vase_datapacks.jsonl", "dishwashing_datapacks.jsonl"):
            self.lines.extend((FIXTURES / name).read_bytes().splitlines()[:150])
        legacy = json.loads((FIXTURES / "legacy_2_0_energy.json").read_text())
        self.lines.extend(json.dumps(d).encode() for d in legacy[:40])

    def line(self) -> bytes:
        r = self.r
        raw = r.choice(self.lines)
        for _ in range(r.choice([0, 1, 1, 1, 2, 3])):
            raw = self.json_mutation(raw) if r.random() < 0.6 else self.byte_mutation(raw)
        return raw.replace(b"\n", b" ") if r.random() < 0.9 else raw  # sometimes a newline splits it

    def json_mutation(self, raw: bytes) -> bytes:
        r, g = self.r, self.g
        try:
            d = json.loads(raw)
        except (ValueError, RecursionError):
            return self.byte_mutation(raw)
        if type(d) is not dict:
            return self.byte_mutation(raw)
        k = r.randrange(10)
        if k == 0:  # identity fields
            d[r.choice(["pack_id", "created_at", "task_name"])] = r.choice([None, "", 5, [], "p1", "p1", "dup"])
        elif k == 1:  # legacy shape
            d.pop("condition", None)
            d[r.choice(["condition_profile", "econ_params", "semantic_energy_drivers"])] = g.json(2)
        elif k == 2:  # a revision bookkeeping object
            d["_revision"] = r.choice([{"number": 2, "reason": "training_usage", "changed_fields": ["x"]}, g.json(2),
                                       None, 5])
        elif k == 3:
            d.pop(r.choice(list(d)), None) if d else None
        else:  # replace a value somewhere
            path = r.choice(_paths(d))
            target = _at(d, path)
            if type(target) is dict and target:
                target[r.choice(list(target))] = g.json()
            elif type(target) is dict:
                target[r.choice(EDGE_STRINGS)] = g.json()
            elif type(target) is list and target:
                target[r.randrange(len(target))] = g.json()
            else:
                target.append(g.json())
        try:
            text = json.dumps(d, ensure_ascii=r.random() < 0.3, separators=r.choice([(",", ":"), (", ", ": ")]))
        except (ValueError, RecursionError):
            return raw
        return text.encode("utf-8", "surrogatepass")

    def byte_mutation(self, raw: bytes) -> bytes:
        r = self.r
        b = bytearray(raw)
        k = r.randrange(9)
        pos = r.randrange(len(b) + 1)
        if k == 0 and b:
            b[min(pos, len(b) - 1)] = r.randrange(256)
        elif k == 1:
            del b[pos:pos + r.randrange(1, 64)]
        elif k == 2:
            b[pos:pos] = r.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\ud800", b"\x00", b"\r", b"NaN", b"-Infinity",
                                   b"1e999", b"\"", b"\\", b"{", b"[", b"]", b"}", b",", b"\xef\xbb\xbf"])
        elif k == 3:
            b = b[:pos]
        elif k == 4:
            other = r.choice(self.lines)
            b = b[:pos] + other[r.randrange(len(other) + 1):]
        elif k == 5:
            b = bytearray(b"\xef\xbb\xbf") + b  # a BOM
        elif k == 6:
            b = bytearray(b"  \t") + b + bytearray(b" \r")
        elif k == 7:
            depth = r.choice([200, 251, 252, 253, 254, 255, 300, 1024, 1025])
            b = bytearray(b'{"pack_id": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}")
        else:
            b = bytearray(r.randbytes(r.randrange(1, 80)))
        return bytes(b)


# ---------------------------------------------------------------------------------------- message mutator


class MessageMutator:
    """Mutated serialized DataPackMeta messages: random typed field values
    chosen by the descriptors (edge numbers, NaN, strings, JSON texts, unknown
    enum numbers, packed arrays), and raw byte damage."""

    def __init__(self, rng: random.Random, lines: list[bytes]):
        from datapack_client.wire import codec
        self.r = rng
        self.g = Gen(rng)
        self.base = [codec.dict_to_message(json.loads(x)) for x in lines[:120] if x.lstrip().startswith(b"{")
                     and b'"condition"' in x]

    def message(self) -> bytes:
        r = self.r
        msg = type(self.base[0])()
        msg.CopyFrom(r.choice(self.base))
        for _ in range(r.choice([1, 1, 2, 3, 5])):
            self.mutate(msg)
        raw = msg.SerializeToString()
        if r.random() < 0.25:
            raw = self.damage(raw)
        return raw

    def mutate(self, msg, depth: int = 0) -> None:
        r = self.r
        fields = msg.DESCRIPTOR.fields
        fd = r.choice(fields)
        if fd.type == fd.TYPE_MESSAGE:
            if fd.is_repeated:
                items = getattr(msg, fd.name)
                if r.random() < 0.2:
                    del items[:]
                    return
                if not len(items) or r.random() < 0.3:
                    sub = items.add()
                else:
                    sub = items[r.randrange(len(items))]
            else:
                if r.random() < 0.15:
                    msg.ClearField(fd.name)
                    return
                sub = getattr(msg, fd.name)
                sub.SetInParent()
            if depth < 6:
                self.mutate(sub, depth + 1)
            return
        value = self.scalar(fd)
        if fd.is_repeated:
            items = getattr(msg, fd.name)
            if r.random() < 0.3:
                del items[:]
            try:
                items.append(value)
            except (TypeError, ValueError):
                pass
        else:
            try:
                setattr(msg, fd.name, value)
            except (TypeError, ValueError):
                pass

    def scalar(self, fd) -> Any:
        r = self.r
        t = fd.type
        if t in (fd.TYPE_DOUBLE, fd.TYPE_FLOAT):
            return r.choice(EDGE_FLOATS) if r.random() < 0.7 else r.uniform(-10, 10)
        if t in (fd.TYPE_INT64, fd.TYPE_SINT64, fd.TYPE_SFIXED64):
            return r.choice([0, 1, -1, 2 ** 63 - 1, -2 ** 63, 7, 2 ** 40])
        if t in (fd.TYPE_UINT32, fd.TYPE_FIXED32):
            return r.choice([0, 1, 2 ** 32 - 1, 3])
        if t in (fd.TYPE_INT32, fd.TYPE_ENUM, fd.TYPE_SINT32):
            return r.choice([0, 1, 2, 3, 4, 5, 6, 99, -1, 2 ** 31 - 1])
        if t == fd.TYPE_BOOL:
            return r.random() < 0.5
        if t == fd.TYPE_STRING:
            if fd.name.endswith("_json") or fd.name == "json":
                return r.choice(JSON_TEXTS) if r.random() < 0.7 else json.dumps(self.g.json(), allow_nan=True)
            return r.choice(EDGE_STRINGS)
        return b"\xff" if t == fd.TYPE_BYTES else 0

    def damage(self, raw: bytes) -> bytes:
        r = self.r
        k = r.randrange(5)
        if k == 0:
            return raw[:r.randrange(len(raw) + 1)]
        if k == 1 and raw:
            b = bytearray(raw)
            b[r.randrange(len(b))] ^= 1 << r.randrange(8)
            return bytes(b)
        if k == 2:  # a string field holding invalid UTF-8 (top level or in the condition)
            number, inner = r.choice([(2, None), (3, None), (6, None), (14, None), (11, 1), (11, 2), (12, 11)])
            bad = r.choice([b"\xff", b"\xed\xa0\x80", b"a\x80", b"\xf4\x90\x80\x80"])
            return raw + length_delimited(number, length_delimited(inner, bad) if inner else bad)
        if k == 3:
            return raw + r.randbytes(r.randrange(1, 32))
        return r.randbytes(r.randrange(0, 200))




# ---------------------------------------------------------------------------------------- targets


class Crash(Exception):
    pass


class LineCoverage:
    """Lines of the service's own code reached by a sample of the inputs
    (sys.settrace on the main thread; tracing every input would cost ~10x)."""

    def __init__(self):
        root = HERE.parent
        self.roots = (str(root / "client" / "datapack_client"), str(root / "server" / "datapack_server"))
        self.hit: set[tuple[str, int]] = set()
        self._wanted: dict[str, str | None] = {}

    def _module(self, filename: str) -> str | None:
        m = self._wanted.get(filename, "?")
        if m == "?":
            m = None
            if filename.startswith("<datapack"):  # generated checkers and decoders
                m = filename.strip("<>")
            else:
                for r in self.roots:
                    if filename.startswith(r) and "/proto/" not in filename:
                        m = os.path.relpath(filename, os.path.dirname(r))
            self._wanted[filename] = m
        return m

    def _global(self, frame, event, arg):
        return self._local if self._module(frame.f_code.co_filename) else None

    def _local(self, frame, event, arg):
        if event == "line":
            self.hit.add((frame.f_code.co_filename, frame.f_lineno))
        return self._local

    def trace(self, fn: Callable[[], None]) -> None:
        previous = sys.gettrace()  # a debugger's or coverage tool's tracer comes back afterwards
        sys.settrace(self._global)
        try:
            fn()
        finally:
            sys.settrace(previous)

    def by_module(self) -> dict[str, int]:
        out: collections.Counter = collections.Counter()
        for filename, _line in self.hit:
            out[self._module(filename)] += 1
        return dict(sorted(out.items()))


class Fuzzer:
    def __init__(self, seed: int, hang_seconds: float, workdir: str):
        self.rng = random.Random(seed)
        self.seed = seed
        self.hang_seconds = hang_seconds
        self.workdir = workdir
        self.lines = LineMutator(self.rng)
        self.messages = MessageMutator(self.rng, self.lines.lines)
        self.gen = Gen(self.rng)
        self.counters: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.features: set = set()  # distinct (target, outcome) pairs: coverage-ish
        self.crashes: list[dict] = []
        self.hangs: list[dict] = []
        self.inputs = 0
        self.slowest = 0.0
        self._n = 0
        self.coverage = LineCoverage()
        self.trace_every = 25

    def feature(self, target: str, what: str) -> None:
        self.counters[target][what] += 1
        self.features.add((target, what))

    # -- one line through the reader and back out

    def target_line(self) -> Any:
        raw = self.lines.line()
        return raw, lambda: self._line(raw)

    def _line(self, raw: bytes) -> None:
        from datapack_client.wire import codec
        from datapack_client.records import jsonio
        from datapack_client.wire.fastdecode import decode_record, record_from_message
        from datapack_client.records.validation import record_violations
        from datapack_server.engine.index import raw_row
        from datapack_client.records.stored import is_legacy
        from datapack_server.storage.lines import CorruptLine, parse_line, served_record
        if not raw.strip():
            self.feature("line", "blank")
            return
        try:
            d = parse_line(raw)
        except CorruptLine as exc:
            self.feature("line", "corrupt:" + str(exc).split(":")[0][:40])
            return
        self.feature("line", "legacy" if is_legacy(d) else "record")
        rec = served_record(d, FILE, 7, TASK)
        raw_row(rec, 0, len(raw) + 1, 7, 1)
        for v in record_violations(rec):
            self.feature("line", "violation:" + v.reason)
        msg = codec.dict_to_message(rec)
        data = msg.SerializeToString()
        back = type(msg).FromString(data)
        got = decode_record(back)
        # Equal JSON values (docs/schema.md §8.6): key order inside skill-trace entries
        # becomes modelled-then-unmodelled on the wire, which the spec allows.
        same = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS
        if orjson.dumps(got, option=same) != orjson.dumps(rec, option=same) and not jsonio.has_nonfinite(rec):
            raise Crash("served record does not survive the wire round trip")
        record_from_message(back).to_dict()
        jsonio.dumps(dict(rec, _revision={"number": 2}))  # a revision line of it can be written

    # -- a whole file through the embedded repository, the servicer and a writer

    def target_store(self) -> Any:
        r = self.rng
        lines = [self.lines.line() if r.random() < 0.7 else r.choice(self.lines.lines) for _ in range(r.randrange(1, 9))]
        if r.random() < 0.2:
            lines.append(lines[0])  # a repeated line: duplicate or revision
        body = b"\n".join(lines) + b"\n"
        tail = b""
        if r.random() < 0.4:
            tail = self.lines.line()[: r.randrange(1, 200)]
        extra = self.lines.line() + b"\n" if r.random() < 0.5 else b""
        return (body, tail, extra), lambda: self._store(body, tail, extra)

    def _store(self, body: bytes, tail: bytes, extra: bytes) -> None:
        from datapack_client import DataPackMeta, SkillDataPackAdapter
        from datapack_client.errors import NotFoundError
        from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
        from datapack_server import DataPackRepo
        from datapack_server.service.facade import DataPackService
        from datapack_server.api.servicer import DataPackServicer
        self._n += 1
        root = os.path.join(self.workdir, f"s{self._n}")
        store_dir = os.path.join(root, "st")
        os.makedirs(store_dir)
        path = os.path.join(store_dir, FILE)
        with open(path, "wb") as f:
            f.write(body + tail)
        try:
            repo = DataPackRepo(store_dir, fsync=False)
            svc = DataPackService(root, fsync=False, exclusive=False)
            servicer = DataPackServicer(svc)
            try:
                ids = self._read_everything(repo, servicer, spb)
                self.feature("store", f"packs:{min(len(ids), 5)}")
                # A writer: recovers the torn tail, quarantines corrupt lines, appends.
                new = DataPackMeta(pack_id=f"fuzz-new-{self._n}", task_name=TASK, bucket="positive",
                                   skill_trace=[{"t": 0, "skill_id": 1}])
                res = repo.append(new)
                self.feature("store", "append:" + res.status)
                if not pathlib.Path(path).read_bytes().endswith(b"\n"):
                    raise Crash("the writer left an unterminated tail")
                if ids:
                    try:
                        repo.update_training_usage(TASK, [ids[0]], wm_role="wm_eval", add_training_runs=["fz"])
                        self.feature("store", "revised")
                    except NotFoundError:
                        raise Crash("a served pack is unknown to update_training_usage") from None
                if extra:
                    with open(path, "ab") as f:
                        f.write(extra)  # another writer's bytes: incremental catch-up
                after = self._read_everything(repo, servicer, spb)
                if not set(ids) <= set(after):
                    raise Crash(f"packs disappeared after a write: {sorted(set(ids) - set(after))[:3]}")
                if new.pack_id not in after:
                    raise Crash("the acknowledged append is not served")
                self._adapter(SkillDataPackAdapter(repo))
            finally:
                repo.close()
                svc.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _read_everything(self, repo, servicer, spb) -> list[str]:
        from datapack_client.records import jsonio
        from datapack_client.errors import DataPackError
        from datapack_client.wire.fastdecode import record_from_message
        from datapack_client.records.validation import record_violations
        everything = {"min_trust": -1.7976931348623157e308, "limit": None}
        packs = repo.query(TASK, **everything)
        # A stored pack_id of the wrong type is served as stored; its lookup key is its JSON text.
        ids = [p.pack_id if type(p.pack_id) is str else jsonio.dumps_str(p.pack_id) for p in packs]
        for p in packs:
            d = p.to_dict()
            record_violations(d)
            for v in record_violations(d):
                self.feature("store", "stored-violation:" + v.reason)
        stats = repo.get_statistics(TASK)
        if stats["total"] < len(set(ids)):
            raise Crash(f"statistics total {stats['total']} < {len(set(ids))} served packs")
        for sort_by in ("delta_j", "trust_score", "mvd_score", "created_at"):
            repo.query(TASK, sort_by=sort_by, sort_descending=self.rng.random() < 0.5, limit=3)
        repo.query(TASK, bucket="negative", skill_id=1, min_delta_j=-1.0, source_type="real",
                   condition_filters={"fragile": True, "drawer_friction_min": 0.1, "tags.task": "x"},
                   objective_vector=[1, 1, 1], include_sima=True, include_counterfactual=True)
        repo.get_statistics(TASK, engine_type="isaac", min_trust=0.5)
        for pid in ids[:4]:
            repo.get(TASK, pid).to_dict()
            repo.get_history(TASK, pid)
        verify = getattr(servicer.service.store("st"), "verify", None)
        if verify is not None:
            verify(TASK)
        # The transport: the same file served as messages.
        req = spb.QueryDataPacksRequest(store="st", task_name=TASK, unlimited=True, view=spb.DATA_PACK_VIEW_FULL,
                                        filter=spb.DataPackFilter(min_trust=-1.7976931348623157e308))
        wire_ids = []
        for chunk in servicer.QueryDataPacks(req, None):
            for m in spb.QueryDataPacksResponse.FromString(chunk).data_packs:
                pid = record_from_message(m).to_dict()["pack_id"]
                wire_ids.append(pid if type(pid) is str else jsonio.dumps_str(pid))
        if wire_ids != ids:
            raise Crash("the servicer serves other packs than the embedded repository")
        servicer.GetStatistics(spb.GetStatisticsRequest(store="st", task_name=TASK), None).SerializeToString()
        for pid in ids[:2]:
            spb.GetDataPackResponse.FromString(servicer.GetDataPack(
                spb.GetDataPackRequest(store="st", task_name=TASK, pack_id=pid), None))
            servicer.GetDataPackHistory(spb.GetDataPackHistoryRequest(store="st", task_name=TASK, pack_id=pid),
                                        None).SerializeToString()
        try:
            repo.get(TASK, "no such pack \x00")
            raise Crash("an unknown pack was found")
        except DataPackError as err:
            if err.code != "NOT_FOUND":
                raise
        return ids

    def _adapter(self, adapter) -> None:
        adapter.get_all_skills_performance(TASK)
        adapter.get_skill_statistics(TASK, 1)
        adapter.compute_skill_value_matrix(TASK).to_numpy()
        adapter.get_skill_sequence_patterns(TASK, top_k=3)
        adapter.extract_contrastive_pairs(TASK, 1, n_pairs=2)
        adapter.summarize_energy_usage(TASK)
        adapter.get_env_type_statistics(TASK)

    # -- appended messages through the server's preparation

    def target_append(self) -> Any:
        raw = self.messages.message()
        return raw, lambda: self._append(raw)

    def _append(self, raw: bytes) -> None:
        from datapack_client.records import schema
        from datapack_client.wire.fastdecode import record_from_message
        from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
        from datapack_server.storage.lines import parse_line, served_record
        from datapack_server.service.preparation import prepare_records
        prepared, violations = prepare_records([raw], "2025-01-01T00:00:00.000000+00:00")
        for v in violations:
            self.feature("append", "violation:" + v.reason)
            if not isinstance(v.field, str) or not isinstance(v.message, str):
                raise Crash(f"malformed violation {v!r}")
        if prepared:
            self.feature("append", "accepted")
            (_task, _pid, line, _row), = prepared
            d = parse_line(line.rstrip(b"\n"))  # every accepted line reads back
            rec = served_record(d, FILE, 1, TASK)
            if orjson.dumps(rec, option=orjson.OPT_NON_STR_KEYS) + b"\n" != line:
                raise Crash("an accepted line does not read back as the record written")
            if schema.TOP_KEYS and list(rec)[: len(schema.TOP_KEYS)] != list(schema.TOP_KEYS):
                raise Crash("an accepted line lacks the schema's key order")
        # The client's lazy decoder on the same bytes (a hostile or broken server).
        try:
            msg = pb.DataPackMeta.FromString(raw)
        except Exception:  # noqa: BLE001 - undecodable bytes never reach the decoder
            self.feature("append", "undecodable")
            return
        try:
            record_from_message(msg).to_dict()
        except ValueError:
            self.feature("append", "client-refused")

    # -- the validators on arbitrary JSON values

    def target_validate(self) -> Any:
        r, g = self.rng, self.gen
        rec = json.loads(r.choice(self.lines.lines)) if r.random() < 0.5 else {}
        if type(rec) is not dict:
            rec = {}
        for _ in range(r.randrange(1, 6)):
            path = r.choice(_paths(rec))
            target = _at(rec, path)
            key = r.choice(["pack_id", "task_name", "bucket", "condition", "attribution", "skill_trace", "energy",
                            "schema_version", "counterfactual_plan", "delta_J", "trust_score", "skill_contribs",
                            "engine_type", "source_type", "t", "skill_id", "tags", "objective_vector"] + EDGE_STRINGS)
            if type(target) is dict:
                target[key] = g.json()
            elif target:
                target[r.randrange(len(target))] = g.json()
        return rec, lambda: self._validate(rec)

    def _validate(self, rec: dict) -> None:
        from datapack_client.records import schema
        from datapack_client.records.validation import record_violations, type_violations
        norm = schema.normalize_record(rec, created_at="2025-01-01T00:00:00.000000+00:00")
        for check_free_finite, typed in ((True, False), (False, False), (False, True)):
            vs = record_violations(norm, 3, check_free_finite=check_free_finite, typed=typed)
            for v in vs:
                if v.index != 3 or not isinstance(v.field, str):
                    raise Crash(f"malformed violation {v!r}")
                self.feature("validate", v.reason)
        type_violations(rec)
        if not record_violations(norm, check_free_finite=True):
            self.feature("validate", "valid")
            orjson.dumps(norm, option=orjson.OPT_NON_STR_KEYS)  # what is valid can be written

    # -- query arguments

    def target_query(self) -> Any:
        r, g = self.rng, self.gen
        names = ["bucket", "engine_type", "skill_id", "min_trust", "min_delta_j", "max_delta_j", "min_mvd_score",
                 "source_type", "objective_vector", "objective_similarity_threshold", "condition_filters",
                 "include_sima", "include_counterfactual", "wm_model_id", "wm_role", "schema_version", "is_occluded",
                 "occlusion_bucket", "sort_by", "sort_descending", "limit", "include_artifacts"]
        kwargs = {}
        for name in r.sample(names, r.randrange(0, 6)):
            if name == "condition_filters" and r.random() < 0.7:
                kwargs[name] = {r.choice(["tags.x", "tags.", "fragile", "drawer_friction_min", "foo_min", "tags",
                                          "vase_offset", "lighting_profile"] + EDGE_STRINGS): g.json(3)
                                for _ in range(r.randrange(1, 3))}
            else:
                kwargs[name] = g.json(3) if r.random() < 0.6 else r.choice(EDGE_STRINGS + EDGE_FLOATS + EDGE_INTS)
        return kwargs, lambda: self._query(kwargs)

    def _query(self, kwargs: dict) -> None:
        from datapack_client.errors import InvalidArgumentError
        from datapack_client.records.query import make_query
        from datapack_client.wire.query import query_from_proto, query_to_proto
        try:
            q = make_query(**kwargs)
        except InvalidArgumentError as err:
            if not err.violations or not err.violations[0].field:
                raise Crash(f"an argument error without its field: {err!r}") from None
            self.feature("query", "refused:" + err.reason)
            return
        back = query_from_proto(query_to_proto("s", TASK, q))  # the server reads what the client sent
        if back.filter != q.filter or (back.sort_by, back.limit) != (q.sort_by, q.limit):
            if not (q.limit is not None and q.limit > 2 ** 63 - 1):
                raise Crash(f"the query changed on the wire: {q} != {back}")
        self.feature("query", "accepted")

    # -- driver

    def run_one(self, name: str, make: Callable[[], Any]) -> None:
        value, fn = make()
        self.inputs += 1
        self.counters["inputs"][name] += 1
        started = time.monotonic()
        done = threading.Event()
        hung: list = []

        def watch() -> None:
            if not done.wait(self.hang_seconds):
                hung.append(time.monotonic())  # reported while the input still runs

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        # Hard limit: an input that never returns dumps every stack and ends the run.
        faulthandler.dump_traceback_later(max(10 * self.hang_seconds, 20), exit=True)
        try:
            if self.inputs % self.trace_every == 0:
                self.coverage.trace(fn)
            else:
                fn()
        except Exception as exc:  # noqa: BLE001 - anything reaching here is a crash
            self.crashes.append(self._record(name, value, exc))
        finally:
            faulthandler.cancel_dump_traceback_later()
            done.set()
            watcher.join()
        elapsed = time.monotonic() - started
        self.slowest = max(self.slowest, elapsed)
        if hung or elapsed > self.hang_seconds:
            self.hangs.append({"target": name, "seconds": round(elapsed, 2), "input": _show(value)})

    def _record(self, name: str, value: Any, exc: BaseException) -> dict:
        entry = {"target": name, "error": f"{type(exc).__name__}: {str(exc)[:300]}",
                 "where": traceback.format_exception(exc)[-2].strip()[:300] if exc.__traceback__ else "",
                 "input": _show(value)}
        out = HERE / "out" / "fuzz-crashes"
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}-{self.seed}-{self.inputs}.json").write_text(json.dumps(
                {**entry, "traceback": traceback.format_exception(exc), "raw": _raw(value)}, indent=1))
        except OSError:
            pass
        return entry

    def run(self, seconds: float) -> None:
        targets = [("line", self.target_line), ("line", self.target_line), ("append", self.target_append),
                   ("append", self.target_append), ("validate", self.target_validate), ("query", self.target_query),
                   ("store", self.target_store)]
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            name, make = targets[i % len(targets)]
            self.run_one(name, make)
            i += 1


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 400 else text[:400] + f"… ({len(text)} characters)"


def _raw(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, tuple) and all(isinstance(v, bytes) for v in value):
        return {"base64": [base64.b64encode(v).decode() for v in value]}
    try:
        return json.loads(json.dumps(value, allow_nan=True, default=repr))
    except (ValueError, RecursionError):
        return _show(value)


def run(seconds: float, seed: int = 1, hang_seconds: float = 2.0) -> dict:
    """Fuzz for `seconds`; returns the figures (crashes and hangs listed)."""
    import logging
    workdir = tempfile.mkdtemp(prefix="datapack-fuzz-")
    # Corrupt lines are logged as warnings once per line: expected here, not news.
    # (The level is restored: in a test session other tests read those logs.)
    logger = logging.getLogger("datapack")
    level = logger.level
    logger.setLevel(logging.ERROR)
    started = time.monotonic()
    f = Fuzzer(seed, hang_seconds, workdir)
    try:
        f.run(seconds)
    finally:
        logger.setLevel(level)
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    return {"seconds": round(elapsed, 1), "seed": seed, "inputs": f.inputs,
            "inputs_per_second": round(f.inputs / elapsed, 1) if elapsed else 0.0,
            "targets": dict(f.counters["inputs"]), "features": len(f.features),
            "outcomes": {t: len(c) for t, c in f.counters.items() if t != "inputs"},
            "counters": {t: dict(c.most_common()) for t, c in f.counters.items() if t != "inputs"},
            "slowest_input_seconds": round(f.slowest, 3), "hang_seconds": hang_seconds,
            "lines_reached": len(f.coverage.hit), "lines_reached_by_module": f.coverage.by_module(),
            "traced_inputs": f.inputs // f.trace_every + 1,
            "crashes": f.crashes, "hangs": f.hangs}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--quick", action="store_true", help="30 seconds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hang-seconds", type=float, default=2.0, help="per-input time bound")
    args = p.parse_args(argv)
    seconds = 30.0 if args.quick else args.minutes * 60
    figures = run(seconds, args.seed, args.hang_seconds)
    print(f"fuzz: {figures['inputs']} inputs in {figures['seconds']} s (seed {figures['seed']}, "
          f"{figures['inputs_per_second']}/s), slowest input {figures['slowest_input_seconds']} s")
    print(f"{'target':<10} {'inputs':>8} {'outcomes':>9}  most frequent outcomes")
    for name, n in sorted(figures["targets"].items()):
        top = ", ".join(f"{k} {v}" for k, v in list(figures["counters"].get(name, {}).items())[:4])
        print(f"{name:<10} {n:>8} {figures['outcomes'].get(name, 0):>9}  {top}")
    print(f"distinct outcomes (coverage-ish): {figures['features']}; service lines reached by the "
          f"{figures['traced_inputs']} traced inputs: {figures['lines_reached']}")
    for module, n in figures["lines_reached_by_module"].items():
        print(f"    {module:<42} {n:>5} lines")
    print(f"crashes: {len(figures['crashes'])}   hangs (> {args.hang_seconds} s): {len(figures['hangs'])}")
    for c in figures["crashes"][:10]:
        print(f"  CRASH {c['target']}: {c['error']}\n        at {c['where']}\n        input {c['input'][:200]}")
    for h in figures["hangs"][:10]:
        print(f"  HANG {h['target']}: {h['seconds']} s on {h['input'][:200]}")
    summary = {k: v for k, v in figures.items() if k not in ("crashes", "hangs", "counters", "lines_reached_by_module")}
    summary.update(crashes=len(figures["crashes"]), hangs=len(figures["hangs"]),
                   reasons_seen=sorted({k.split(":", 1)[1] for c in figures["counters"].values() for k in c
                                        if k.startswith("violation:")}))
    print(json.dumps(summary))
    return 1 if figures["crashes"] or figures["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
