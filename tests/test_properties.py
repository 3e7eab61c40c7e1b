"""Property-based tests of bad input over the wire (reliability issue, point 10),
and a short run of the JSONL-reader and validator fuzzer (point 11).

Hypothesis generates append, ingest, query and other requests and sends them to
a real in-process server on 127.0.0.1:0, both through the public client and as
raw protobuf messages through the generated stub (plus hand-made wire bytes),
so requests the client would refuse - invalid UTF-8, unknown enum numbers,
malformed side JSON, malformed packed arrays - reach the server too. For every
request:

* no INTERNAL/UNKNOWN status (no unhandled exception in the server);
* every request known to be invalid is INVALID_ARGUMENT with an ErrorInfo
  reason and a BadRequest naming the field (streamed rejections: the
  ErrorDetail's violations), and every other error is a documented code;
* every request known to be valid succeeds, and its record reads back equal;
* a ledger of every acknowledged pack must equal, at the end of each test, the
  packs the store holds (ListTasks, GetStatistics, QueryDataPacks and the
  lines in the files): nothing from a rejected request is stored;
* no file appears outside the data directory.

Runs are reproducible (derandomize=True, no example database) and bounded:
about 2,600 requests in about 30 s on two cores (the fuzzer's 8 s included).
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import pathlib
import re

import grpc
import pytest
from datapack_client import DataPackMeta, connect
from datapack_client.records import schema
from datapack_client.client import record_to_message
from datapack_client.errors import DataPackError, InvalidArgumentError
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_client.records.query import make_query
from datapack_client.records.validation import record_violations
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.api.framing import length_delimited
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .jsoncheck import assert_json_same


def _settings(n: int):
    # derandomize: the same examples on every run (CI reproducible); no database,
    # so nothing is written to .hypothesis/ in the working tree.
    return settings(max_examples=n, derandomize=True, deadline=None, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


NAN, INF = float("nan"), float("inf")
INT64_MAX, UINT64_MAX = 2 ** 63 - 1, 2 ** 64 - 1
CALL_TIMEOUT = 20
GENERATING_TESTS = 9  # the property tests below that send requests
# Codes a request may legitimately end with; INTERNAL and UNKNOWN never.
DOCUMENTED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.NOT_FOUND}
_IDS = itertools.count()


def uid() -> str:
    """A fresh id prefix of fixed width: pack ids never collide across examples,
    and a replayed example draws exactly the same sizes (Hypothesis checks)."""
    return f"{next(_IDS):09d}"


# ---------------------------------------------------------------------------------------- the server


class Wire:
    """One in-process server, its stub, a raw-bytes channel, and the ledger of
    every pack the server acknowledged, per store."""

    def __init__(self, base: pathlib.Path):
        self.base = base
        self.data = base / "data"
        self.data.mkdir()
        # fsync off: these tests are about input handling, not durability
        # (test_durability.py covers that); fsync would only make them slow.
        self.running = build_server(ServerConfig(data_dir=str(self.data), port=0, fsync=False, max_workers=16))
        self.target = f"127.0.0.1:{self.running.port}"
        self.channel = grpc.insecure_channel(self.target, options=[("grpc.max_receive_message_length", 64 << 20),
                                                                   ("grpc.max_send_message_length", 64 << 20),
                                                                   ("grpc.max_metadata_size", 16 << 20)])
        self.stub = spb_grpc.DataPackServiceStub(self.channel)
        # AppendDataPacksBatch with hand-made bytes (records protobuf would refuse to build).
        self.raw_append = self.channel.unary_unary("/datapack.v1.DataPackService/AppendDataPacksBatch",
                                                   request_serializer=None, response_deserializer=None)
        self.raw_stream = self.channel.stream_stream("/datapack.v1.DataPackService/AppendDataPacks",
                                                     request_serializer=None, response_deserializer=None)
        self.ledger: dict[str, dict[str, set]] = {}
        self.requests = 0  # requests that reached the server
        self.ran = 0  # property tests completed

    def client(self, store: str):
        return connect(self.target, store=store, timeout=CALL_TIMEOUT)

    def acknowledge(self, store: str, task: str, pack_id: str) -> None:
        self.ledger.setdefault(store, {}).setdefault(task, set()).add(pack_id)

    def outside_snapshot(self) -> list:
        """Every path under the test's tmp parent folder except the data directory."""
        root = self.base.parent
        out = []
        for dirpath, dirnames, filenames in os.walk(root):
            if pathlib.Path(dirpath) == self.data:
                dirnames[:] = []
                continue
            out.extend(os.path.join(dirpath, n) for n in dirnames + filenames)
        return sorted(out)

    def verify_store(self, store: str) -> None:
        """The store holds exactly the acknowledged packs: nothing from a rejected request."""
        expected = self.ledger.get(store, {})
        folder = self.data / store
        if not folder.exists():
            # Never created: nothing was acknowledged into it, and a read of it is NOT_FOUND (issue 13).
            assert not any(expected.values())
            with pytest.raises(grpc.RpcError) as exc:
                self.stub.ListTasks(spb.ListTasksRequest(store=store), timeout=CALL_TIMEOUT)
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND
            return
        tasks = list(self.stub.ListTasks(spb.ListTasksRequest(store=store), timeout=CALL_TIMEOUT).task_names)
        assert tasks == sorted(t for t in expected if expected[t])
        for task in tasks:
            ids = expected[task]
            stats = self.stub.GetStatistics(spb.GetStatisticsRequest(store=store, task_name=task), timeout=CALL_TIMEOUT)
            assert stats.total == len(ids), task
            everything = spb.DataPackFilter(min_trust=-1.7976931348623157e308)  # min_trust 0.0 applies by default
            served = [m.pack_id for r in self.stub.QueryDataPacks(spb.QueryDataPacksRequest(
                store=store, task_name=task, unlimited=True, filter=everything), timeout=CALL_TIMEOUT)
                for m in r.data_packs]
            assert len(served) == len(ids) and set(served) == ids, task
            lines = (folder / f"{task}_datapacks.jsonl").read_bytes()
            assert lines.count(b"\n") == len(ids) and lines.endswith(b"\n"), task
        if folder.exists():
            names = {p.name for p in folder.iterdir()}
            assert names <= {f"{t}_datapacks.jsonl" for t in tasks} | {".datapack"}, names

    def close(self) -> None:
        self.channel.close()
        self.running.stop(0)


class _ServerErrors(logging.Handler):
    """Collects what the server logs at ERROR: the interceptor logs every
    exception it turns into INTERNAL, also inside streams."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()} {record.exc_info[1] if record.exc_info else ''}")


@pytest.fixture(scope="module")
def wire(tmp_path_factory):
    base = tmp_path_factory.mktemp("props")
    errors = _ServerErrors()
    logging.getLogger("datapack").addHandler(errors)
    w = Wire(base)
    before = w.outside_snapshot()
    try:
        yield w
    finally:
        logging.getLogger("datapack").removeHandler(errors)
    after = w.outside_snapshot()
    w.close()
    assert after == before, "files created outside the data directory"
    assert errors.records == [], errors.records[:5]  # no unhandled exception in the server


def details_of(exc: grpc.RpcError) -> dict:
    status = rpc_status.from_call(exc)
    out: dict = {}
    if status is None:
        return out
    for d in status.details:
        for cls in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, spb.ErrorDetail):
            if d.Is(cls.DESCRIPTOR):
                msg = cls()
                d.Unpack(msg)
                out[cls.__name__] = msg
    return out


def assert_rich_error(exc: grpc.RpcError, code=grpc.StatusCode.INVALID_ARGUMENT) -> dict:
    """A documented error with its ErrorInfo reason and BadRequest field violations."""
    assert exc.code() in DOCUMENTED, f"{exc.code()}: {exc.details()}"
    assert exc.code() == code, f"{exc.code()}: {exc.details()}"
    d = details_of(exc)
    assert d["ErrorInfo"].reason and d["ErrorInfo"].domain == "datapack.v1"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        fields = [v.field for v in d["BadRequest"].field_violations]
        assert fields and all(fields), f"BadRequest without field names: {fields}"
    return d


def assert_documented(exc: grpc.RpcError) -> None:
    assert exc.code() in DOCUMENTED, f"{exc.code()}: {exc.details()}"
    assert_rich_error(exc, exc.code())


# ---------------------------------------------------------------------------------------- strategies

EDGE_FLOATS = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
               -1.7976931348623157e308, 0.1, -0.020000000000000004, 1e-06, 0.30000001192092896]
finite = st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(allow_nan=False, allow_infinity=False))
nonfinite = st.sampled_from([NAN, INF, -INF])
edge_ints = st.one_of(st.sampled_from([0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, INT64_MAX, INT64_MAX + 1, UINT64_MAX]),
                      st.integers(0, UINT64_MAX))
skill_ids = st.one_of(st.sampled_from([0, 1, 2 ** 31, INT64_MAX]), st.integers(0, INT64_MAX))
any_text = st.text(max_size=24)  # every code point but surrogates: NUL, RTL marks, emoji, ...
# What a new pack id may hold (validation_rules.pack_id_ok: printable, at most 256 characters).
printable_text = st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))
                         | st.just(" "), max_size=24)
huge_text = st.builds(lambda n, c: c * n, st.integers(1_000, 100_000), st.sampled_from(["x", "é", "\u2603", "\x00"]))

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 63, UINT64_MAX), finite, any_text)
json_tree = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4)
                         | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=10)


def nest(depth: int, as_object: bool, leaf):
    v = leaf
    for _ in range(depth):
        v = {"k": v} if as_object else [v]
    return v


deep_json = st.builds(nest, st.integers(1, 200), st.booleans(), json_leaf)
free_value = st.one_of(json_tree, json_tree, json_tree, deep_json, huge_text)
free_object = st.dictionaries(st.text(max_size=10), free_value, max_size=3)
nonempty_free_object = st.dictionaries(st.text(max_size=10), free_value, min_size=1, max_size=3)

VALID_TASKS = ["drawer_vase", "a", "A.b-c_9", "x" * 128, "test.v2", "-", "_", "a.b.c"]
INVALID_NAMES = ["", "..", "../x", "a/b", "/abs", "a..b", "drawer vase", "x" * 129, "tâche", "a\x00b", ".\n.",
                 "../../../../tmp/escape", "a\\b", "~", "C:\\x", "%2e%2e", "\u202e", "a/../b"]
invalid_name = st.one_of(st.sampled_from(INVALID_NAMES),
                         any_text.filter(lambda s: not re.fullmatch(r"[A-Za-z0-9_.\-]{1,128}", s) or ".." in s))
valid_store_segment = st.sampled_from(["s", "phase_c", "x.y", "A-1"])


# Where a record holds free-form JSON (not type-checked, carried verbatim).
FREE_SLOTS = ["condition.tags", "agent_profile", "episode_metrics", "trace.params", "trace.local_metrics",
              "attribution.zv_stats", "attribution.skill_contribs", "counterfactual_plan", "vla_plan",
              "rgb_features_v1.meta", "x_unmodelled"]


@st.composite
def valid_records(draw, task=None):
    """A record satisfying every append invariant, with exotic but legal content:
    boundary floats and integers, any Unicode, and in two of its free-form
    places an exotic JSON value (deep, huge, or a random tree). The other free
    places stay small, which keeps generation cheap."""
    dj = draw(finite)
    negative = not dj >= 0  # -0.0 is positive
    slots = set(draw(st.lists(st.sampled_from(FREE_SLOTS), min_size=1, max_size=2)))

    def free(slot, default):
        return draw(nonempty_free_object) if slot in slots else default

    n = draw(st.integers(1, 3))
    ts = sorted(draw(st.lists(edge_ints, min_size=n, max_size=n)))
    trace = [{"t": t, "skill_id": draw(skill_ids), "params": free("trace.params", {"f": 0.5}), "duration": 10}
             for t in ts]
    if "trace.local_metrics" in slots:
        trace[-1]["local_metrics"] = free("trace.local_metrics", {})
    rec = {
        "schema_version": draw(st.sampled_from(schema.SCHEMA_VERSIONS)),
        "pack_id": f"{uid()}:{draw(printable_text)}",
        "task_name": task or draw(st.sampled_from(VALID_TASKS)),
        "bucket": "negative" if negative else "positive",
        "semantic_tags": draw(st.lists(any_text, max_size=2)),
        "semantic_quality": draw(st.none() | finite),
        "condition": {"engine_type": draw(st.sampled_from(schema.ENGINE_TYPES)),
                      "vase_offset": draw(st.lists(finite, min_size=3, max_size=3)),
                      "drawer_friction": draw(finite), "lighting_profile": draw(any_text),
                      "objective_vector": draw(st.lists(finite, max_size=5)), "tags": free("condition.tags", {})},
        "attribution": {"delta_J": dj, "trust_score": draw(finite),
                        "source_type": draw(st.sampled_from(schema.SOURCE_TYPES)),
                        "wm_role": draw(st.none() | st.sampled_from(schema.WM_ROLES)),
                        "mvd_score": draw(st.none() | finite), "tier": draw(st.integers(-2 ** 63, UINT64_MAX)),
                        "used_in_training_runs": draw(st.lists(any_text, max_size=2)),
                        "skill_contribs": ({str(draw(edge_ints)): free("attribution.skill_contribs", {})}
                                           if "attribution.skill_contribs" in slots else {}),
                        "zv_stats": free("attribution.zv_stats", None)},
        "agent_profile": free("agent_profile", {"policy": "scripted"}),
        "skill_trace": trace,
        "episode_metrics": free("episode_metrics", {}),
        "vla_plan": free("vla_plan", None),
        "counterfactual_plan": free("counterfactual_plan", {"skills": [0, 1]} if negative else None),
        "counterfactual_source": draw(st.none() | st.sampled_from(schema.COUNTERFACTUAL_SOURCES)),
        "episode_index": draw(st.none() | st.integers(-2 ** 63, INT64_MAX)),
    }
    if draw(st.booleans()):
        rec["created_at"] = draw(any_text.filter(bool))
    if "rgb_features_v1.meta" in slots or draw(st.integers(0, 4)) == 0:
        # A portable artifact travels as a PackedObject (packed arrays, nested objects).
        rec["rgb_features_v1"] = {"features": draw(st.lists(finite, min_size=1, max_size=8)),
                                  "grid": draw(st.lists(st.lists(st.integers(-2 ** 63, INT64_MAX), min_size=2,
                                                                 max_size=2), min_size=1, max_size=3)),
                                  "meta": free("rgb_features_v1.meta", {})}
    if "x_unmodelled" in slots:
        rec["x_" + draw(st.text(max_size=6))] = draw(free_value)  # unmodelled keys are carried through
    return rec


@st.composite
def plain_valid_records(draw, task="drawer_vase"):
    """A small valid record (cheap to generate): neighbours of an invalid one."""
    dj = draw(st.sampled_from([1.0, 0.0, -0.0, -2.5]))
    return {"pack_id": f"{uid()}:plain", "task_name": task, "bucket": "positive" if dj >= 0 else "negative",
            "attribution": {"delta_J": dj, "trust_score": 0.9}, "skill_trace": [{"t": 0, "skill_id": 3}],
            "counterfactual_plan": {"skills": [1]} if dj < 0 else None}


# Invalid records: one mutation of a valid record, with the reasons it must be
# refused with and the field the violation names.

NUM_FIELDS = [("attribution", "trust_score"), ("attribution", "w_econ"), ("condition", "drawer_friction"),
              ("energy", "total_Wh"), ("attribution", "delta_mpl"), (None, "semantic_quality")]
WRONG_TYPE = st.one_of(any_text, st.booleans(), st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _set(rec, parent, key, value):
    if parent is None:
        rec[key] = value
    else:
        rec.setdefault(parent, {})[key] = value
    return f"{parent}.{key}" if parent else key


@st.composite
def invalid_records(draw):
    rec = draw(valid_records())
    kind = draw(st.sampled_from([
        "nonfinite_number", "nonfinite_delta_j", "wrong_type", "null_number", "bucket", "sign", "no_plan",
        "empty_trace", "skill_id", "time_order", "engine", "source", "wm_role", "cf_source", "schema_version",
        "task_name", "pack_id", "contribs_key", "free_nan", "too_deep", "vector_type", "profile_type"]))
    if kind == "nonfinite_number":
        parent, key = draw(st.sampled_from(NUM_FIELDS))
        return rec, {"NUMBER_NOT_FINITE"}, _set(rec, parent, key, draw(nonfinite))
    if kind == "nonfinite_delta_j":
        rec["attribution"]["delta_J"] = draw(nonfinite)
        return rec, {"DELTA_J_NOT_FINITE"}, "attribution.delta_J"
    if kind == "wrong_type":
        parent, key = draw(st.sampled_from(NUM_FIELDS))
        return rec, {"FIELD_TYPE"}, _set(rec, parent, key, draw(WRONG_TYPE))
    if kind == "null_number":
        return rec, {"FIELD_TYPE"}, _set(rec, "attribution", "trust_score", None)
    if kind == "bucket":
        rec["bucket"] = draw(any_text.filter(lambda s: s not in schema.BUCKETS))
        return rec, {"BUCKET_INVALID"}, "bucket"
    if kind == "sign":
        rec["bucket"] = "positive" if rec["bucket"] == "negative" else "negative"
        rec["counterfactual_plan"] = {"skills": [0]}
        return rec, {"BUCKET_SIGN_MISMATCH"}, "bucket"
    if kind == "no_plan":
        rec["attribution"]["delta_J"] = -abs(draw(finite)) or -1.0
        rec["bucket"] = "negative"
        rec["counterfactual_plan"] = draw(st.sampled_from([None, {}]))
        return rec, {"COUNTERFACTUAL_REQUIRED"}, "counterfactual_plan"
    if kind == "empty_trace":
        rec["skill_trace"] = []
        return rec, {"SKILL_TRACE_EMPTY"}, "skill_trace"
    if kind == "skill_id":
        rec["skill_trace"][0]["skill_id"] = draw(st.one_of(st.integers(max_value=-1), st.booleans(), finite,
                                                           any_text, st.none(), st.integers(INT64_MAX + 1, UINT64_MAX)))
        return rec, {"SKILL_ID_INVALID", "FIELD_TYPE"}, "skill_trace[0].skill_id"  # FIELD_TYPE: beyond 64 bits
    if kind == "time_order":
        rec["skill_trace"] = [{"t": 10, "skill_id": 1}, {"t": draw(st.integers(max_value=9)), "skill_id": 2}]
        return rec, {"SKILL_TRACE_TIME_ORDER"}, "skill_trace[1].t"
    if kind == "engine":
        rec["condition"]["engine_type"] = draw(any_text.filter(lambda s: s not in schema.ENGINE_TYPES))
        return rec, {"ENUM_INVALID"}, "condition.engine_type"
    if kind == "source":
        rec["attribution"]["source_type"] = draw(any_text.filter(lambda s: s not in schema.SOURCE_TYPES))
        return rec, {"ENUM_INVALID"}, "attribution.source_type"
    if kind == "wm_role":
        rec["attribution"]["wm_role"] = draw(any_text.filter(lambda s: s not in schema.WM_ROLES))
        return rec, {"ENUM_INVALID"}, "attribution.wm_role"
    if kind == "cf_source":
        rec["counterfactual_source"] = draw(any_text.filter(lambda s: s not in schema.COUNTERFACTUAL_SOURCES))
        return rec, {"ENUM_INVALID"}, "counterfactual_source"
    if kind == "schema_version":
        rec["schema_version"] = draw(any_text.filter(lambda s: s not in schema.SCHEMA_VERSIONS))
        return rec, {"SCHEMA_VERSION_UNKNOWN"}, "schema_version"
    if kind == "task_name":
        rec["task_name"] = draw(invalid_name)
        return rec, {"TASK_NAME_INVALID"}, "task_name"
    if kind == "pack_id":
        rec["pack_id"] = draw(st.sampled_from(["", None, 7, ["x"], "x" * 257, "a\nb", "\u202eevil", "\x1b[31m"]))
        return rec, {"PACK_ID_REQUIRED", "PACK_ID_INVALID"}, "pack_id"
    if kind == "contribs_key":
        key = draw(st.sampled_from(["04", "-1", "x", " 1", "1.0", "", "١"]))
        rec["attribution"]["skill_contribs"] = {key: {}}
        return rec, {"SKILL_CONTRIBS_KEY_INVALID"}, f"attribution.skill_contribs.{key}"
    if kind == "free_nan":
        rec["agent_profile"] = {"v": [1, {"w": draw(nonfinite)}]}
        return rec, {"FIELD_TYPE", "NUMBER_NOT_FINITE"}, "agent_profile"
    if kind == "too_deep":
        rec["episode_metrics"] = {"d": nest(draw(st.integers(249, 253) | st.integers(254, 1100)), draw(st.booleans()), 1)}
        return rec, {"FIELD_TYPE"}, "episode_metrics"
    if kind == "vector_type":
        rec["condition"]["vase_offset"] = draw(st.sampled_from([[1.0, 2.0], [1, "x", 3], "xyz", [NAN, 0.0, 0.0]]))
        return rec, {"FIELD_TYPE", "NUMBER_NOT_FINITE"}, "condition.vase_offset"
    rec["energy"] = draw(st.one_of(any_text, st.lists(st.integers(), max_size=2), st.integers()))
    return rec, {"FIELD_TYPE"}, "energy"


# ---------------------------------------------------------------------------------------- append


def test_valid_records_over_the_wire_are_stored_and_read_back_equal(wire):
    """Valid records (boundary floats, 64-bit integers, any Unicode, 100 KB strings,
    200-level free JSON, packed artifacts, unmodelled keys) are created and read
    back as the normalised JSON value that was sent."""
    store = "valid"
    client = wire.client(store)

    @_settings(300)
    @given(st.lists(valid_records(), max_size=4), st.booleans())
    def run(records, streamed):
        wire.requests += 1
        if streamed:
            with client.stream_appender(batch_size=3) as s:
                for r in records:
                    s.append(r)
            results = s.results
        else:
            results = client.append_batch(records)
        assert [r.status for r in results] == ["created"] * len(records)
        for rec, res in zip(records, results):
            wire.acknowledge(store, rec["task_name"], rec["pack_id"])
            assert (res.pack_id, res.task_name) == (rec["pack_id"], rec["task_name"])
        if records:
            rec = records[-1]
            got = client.get(rec["task_name"], rec["pack_id"]).to_dict()
            assert record_violations(got) == []
            assert_json_same(got, schema.normalize_record(rec, created_at=got["created_at"]))

    run()
    wire.ran += 1
    client.close()
    wire.verify_store(store)


def test_invalid_records_are_refused_whole_with_field_violations(wire):
    """A batch with one invalid record (among valid ones) is INVALID_ARGUMENT
    naming the record's field with the right reason, and writes nothing."""
    store = "invalid"
    client = wire.client(store)

    @_settings(400)
    @given(invalid_records(), st.lists(plain_valid_records(), max_size=2), st.data())
    def run(bad, good, data):
        rec, reasons, field = bad
        at = data.draw(st.integers(0, len(good)))
        batch = good[:at] + [rec] + good[at:]
        try:
            msgs = [record_to_message(r) for r in batch]
        except InvalidArgumentError as err:
            # What no message can carry (JSON nested deeper than any encoder goes)
            # the client refuses itself, naming the field as the embedded
            # repository does; the raw-message tests send such records anyway.
            assert err.reason in reasons and err.violations[0].field.startswith(field), (err, field)
            return
        wire.requests += 1
        with pytest.raises(grpc.RpcError) as exc:
            wire.stub.AppendDataPacksBatch(spb.AppendDataPacksBatchRequest(store=store, data_packs=msgs),
                                           timeout=CALL_TIMEOUT)
        d = assert_rich_error(exc.value)
        mine = [v for v in d["ErrorDetail"].violations if v.index == at]
        assert {v.reason for v in mine} & reasons, (reasons, [(v.field, v.reason) for v in mine])
        assert any(v.field.startswith(field) for v in mine if v.reason in reasons), (field, mine)
        assert {v.index for v in d["ErrorDetail"].violations} == {at}  # the valid neighbours are not blamed
        assert any(f.field.endswith(field) or field in f.field for f in d["BadRequest"].field_violations)
        # The client raises the same error class with the reason and the violations.
        with pytest.raises(InvalidArgumentError) as err:
            client.append_batch(batch)
        assert err.value.reason == d["ErrorInfo"].reason

    run()
    wire.ran += 1
    client.close()
    wire.verify_store(store)




_STRING_FIELDS = [(2, None), (3, None), (6, None), (24, None), (14, None), (11, 1), (11, 2), (12, 11), (12, 20),
                  (15, 3)]
_BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"a\x80b", b"\xe2\x82"]


@st.composite
def raw_records(draw):
    """(bytes of one record, known invalid?) - messages and byte strings the
    client cannot produce."""
    task = draw(st.sampled_from(["drawer_vase", "raw.b"]))
    base = record_to_message(draw(st.one_of(plain_valid_records(task), plain_valid_records(task), valid_records(task))))
    kind = draw(st.sampled_from(["valid", "utf8", "garbage", "truncated", "side_json", "packed", "enum_numbers",
                                 "typed_nonfinite", "json_text", "random_fields"]))
    if kind == "valid":
        return base.SerializeToString(), False
    if kind == "utf8":
        number, inner = draw(st.sampled_from(_STRING_FIELDS))
        bad = draw(st.sampled_from(_BAD_UTF8))
        payload = length_delimited(inner, bad) if inner else bad
        if number == 15:  # into a new skill-trace entry (repeated message)
            payload = length_delimited(3, bad)
        return base.SerializeToString() + length_delimited(number, payload), True
    if kind == "garbage":
        return draw(st.binary(max_size=200)), None
    if kind == "truncated":
        raw = base.SerializeToString()
        return raw[:draw(st.integers(0, max(0, len(raw) - 1)))], None
    if kind == "side_json":
        target = draw(st.sampled_from(["top", "condition", "attribution", "trace"]))
        msg = {"top": base, "condition": base.condition, "attribution": base.attribution,
               "trace": base.skill_trace[0]}[target]
        field = draw(st.sampled_from(["extra_json", "verbatim_json"]))
        text = draw(st.sampled_from(["[1]", "5", "null", '"s"', "{", "NaN", '{"a": NaN}', "{}}", '{"pack_id": 5}',
                                     '{"t": -1}', '{"skill_id": "x"}', '{"created_at": 5}', '{"tags": []}',
                                     '{"x_new": 1}', '{"trust_score": "high"}']) | st.text(max_size=20))
        setattr(msg, field, text)
        return base.SerializeToString(), None
    if kind == "packed":
        entry = base.scene_tracks_v1.entries.add(key=draw(any_text))
        shape = draw(st.lists(st.integers(0, 2 ** 32 - 1), max_size=3) | st.lists(st.just(1), min_size=250,
                                                                                 max_size=300))
        arr = pb.PackedArray(kind=draw(st.integers(-1, 9)), shape=shape)
        arr.float_values.extend(draw(st.lists(st.floats(width=32), max_size=4)))
        arr.double_values.extend(draw(st.lists(st.floats(), max_size=4)))
        arr.int_values.extend(draw(st.lists(st.integers(-2 ** 63, INT64_MAX), max_size=4)))
        arr.string_values.extend(draw(st.lists(any_text, max_size=2)))
        which = draw(st.sampled_from(["array", "json", "none", "object"]))
        if which == "array":
            entry.array.CopyFrom(arr)
        elif which == "json":
            entry.json = draw(st.sampled_from(["NaN", "[1,", "[[[[]]]]", "1e999", "-0"]) | any_text)
        elif which == "object":
            entry.object.entries.add(key="k", array=arr)
        return base.SerializeToString(), None
    if kind == "enum_numbers":
        # Unknown numbers of open enums survive parsing: a packed array of an unknown kind.
        base.rgb_features_v1.entries.add(key="e", array=pb.PackedArray(kind=draw(st.integers(6, 2 ** 31 - 1)),
                                                                        shape=[1], int_values=[1]))
        return base.SerializeToString(), True
    if kind == "typed_nonfinite":
        target = draw(st.sampled_from(["trust_score", "delta_j", "drawer_friction", "vase_offset", "objective",
                                       "named", "episode_embedding"]))
        v = draw(nonfinite)
        if target == "trust_score":
            base.attribution.trust_score = v
        elif target == "delta_j":
            base.attribution.delta_j = v
        elif target == "drawer_friction":
            base.condition.drawer_friction = v
        elif target == "vase_offset":
            base.condition.vase_offset[:] = [0.0, v, 0.0]
        elif target == "objective":
            base.condition.objective_vector.append(v)
        elif target == "named":
            base.energy.coordination_metrics.add(name="p", value=v)
        else:
            base.episode_embedding.values.extend([1.0, v])
        return base.SerializeToString(), True
    if kind == "json_text":
        field = draw(st.sampled_from(["agent_profile_json", "episode_metrics_json", "vla_plan_json",
                                      "counterfactual_plan_json", "regal_annotations_json"]))
        text = draw(st.one_of(st.sampled_from(["", "NaN", "[", '{"a": Infinity}', "1e400", "[" * 1100 + "]" * 1100,
                                               "[" * 300 + "]" * 300, '"\\ud800"', "{\"a\":1,\"a\":2}", "-",
                                               "123456789012345678901234567890"]), any_text))
        setattr(base, field, text)
        return base.SerializeToString(), None
    # random typed fields, including ones invalid for the record (ids, enums, trace)
    base.pack_id = draw(st.one_of(st.just(""), any_text.map(lambda s: f"{uid()}:{s}")))  # printable or not
    base.task_name = draw(st.one_of(st.sampled_from(["drawer_vase", "raw.b"]), invalid_name))
    base.bucket = draw(st.sampled_from(["positive", "negative", "", "POSITIVE"]))
    if draw(st.booleans()):
        del base.skill_trace[:]
    for e in base.skill_trace:
        e.t = draw(st.integers(-2 ** 63, INT64_MAX))
        e.skill_id = draw(st.integers(-2 ** 63, INT64_MAX))
    return base.SerializeToString(), None


def _record_ids(raw: bytes):
    try:
        m = pb.DataPackMeta.FromString(raw)
        return m.task_name, m.pack_id
    except Exception:  # noqa: BLE001 - undecodable bytes have no ids
        return None


def test_raw_messages_never_crash_the_server(wire):
    """Hand-made record bytes (invalid UTF-8, garbage, truncated messages,
    malformed side JSON and packed arrays, unknown enum numbers, non-finite
    typed values, bad JSON text, random typed fields) in empty, small and
    bounded large batches: a documented status each time, never INTERNAL; what
    is accepted is valid when read back; what is known invalid is refused."""
    from datapack_server.api.envelope import AppendEnvelope
    store = "raw"

    @_settings(450)
    @given(st.lists(raw_records(), max_size=3), st.integers(0, 9))
    def run(records, big):
        batch = [r for r, _ in records]
        if big == 0:
            batch += [record_to_message(r).SerializeToString()
                      for r in [DataPackMeta(**_small_valid(f"{uid()}-big")).to_dict() for _ in range(60)]]
        all_valid = all(known is False for _, known in records)
        wire.requests += 1
        envelope = AppendEnvelope(store=store, data_packs=batch, batch_sequence=7)
        if big % 2:  # the bidirectional stream: a rejection in the response, the stream goes on
            (resp,) = list(wire.raw_stream(iter([envelope.SerializeToString()]), timeout=CALL_TIMEOUT))
            out = spb.AppendDataPacksResponse.FromString(resp)
            assert out.batch_sequence == 7 and len(out.results) == len(batch)
            if out.HasField("rejection"):
                assert not all_valid, out.rejection
                assert out.rejection.code in ("INVALID_ARGUMENT", "ALREADY_EXISTS"), out.rejection
                assert out.rejection.reason and out.rejection.violations, out.rejection
                assert {r.status for r in out.results} == ({spb.APPEND_STATUS_REJECTED} if batch else set())
                return
        else:
            try:
                out = spb.AppendDataPacksBatchResponse.FromString(wire.raw_append(envelope.SerializeToString(),
                                                                                   timeout=CALL_TIMEOUT))
            except grpc.RpcError as exc:
                assert not all_valid, exc.details()
                assert_documented(exc)
                return
        assert len(out.results) == len(batch)
        assert not any(invalid for _, invalid in records), "a known invalid record was accepted"
        client = wire.client(store)
        for r in out.results:
            assert r.status == spb.APPEND_STATUS_CREATED
            wire.acknowledge(store, r.task_name, r.pack_id)
        for raw, _ in records:
            ids = _record_ids(raw)
            got = client.get(*ids).to_dict()
            assert record_violations(got) == [], got  # nothing accepted breaks an invariant
        client.close()

    run()
    wire.ran += 1
    wire.verify_store(store)


def _small_valid(pack_id: str) -> dict:
    return {"pack_id": pack_id, "task_name": "drawer_vase", "bucket": "positive",
            "skill_trace": [{"t": 0, "skill_id": 1}]}


def test_append_stream_with_mixed_batches_acks_valid_and_rejects_invalid(wire):
    """The bidirectional stream answers every batch: valid batches with
    acknowledgements, invalid ones with a rejection naming the field; the
    stream goes on either way."""
    store = "stream"

    @_settings(120)
    @given(st.lists(st.one_of(st.lists(plain_valid_records(), max_size=3).map(lambda b: (b, None)),
                              invalid_records().map(lambda x: ([x[0]], x))), min_size=1, max_size=4))
    def run(batches):
        reqs = []
        for i, (records, bad) in enumerate(batches):
            try:
                reqs.append(spb.AppendDataPacksRequest(store=store, batch_sequence=i + 1,
                                                       data_packs=[record_to_message(r) for r in records]))
            except InvalidArgumentError:
                return  # not encodable by the client (see above)
        wire.requests += len(reqs)
        out = list(wire.stub.AppendDataPacks(iter(reqs), timeout=CALL_TIMEOUT))
        assert [r.batch_sequence for r in out] == [r.batch_sequence for r in reqs]
        for resp, (records, bad) in zip(out, batches):
            if bad is None:
                assert not resp.HasField("rejection"), resp.rejection
                assert [r.status for r in resp.results] == [spb.APPEND_STATUS_CREATED] * len(records)
                for r in resp.results:
                    wire.acknowledge(store, r.task_name, r.pack_id)
            else:
                _, reasons, field = bad
                assert resp.rejection.code == "INVALID_ARGUMENT"
                assert {v.reason for v in resp.rejection.violations} & reasons
                assert any(v.field.startswith(field) for v in resp.rejection.violations), field
                assert all(v.field for v in resp.rejection.violations if v.reason in reasons)
                assert [r.status for r in resp.results] == [spb.APPEND_STATUS_REJECTED]

    run()
    wire.ran += 1
    wire.verify_store(store)


# ---------------------------------------------------------------------------------------- queries


@pytest.fixture(scope="module")
def seeded(wire):
    """A small task to query: 40 packs of both buckets, several skills."""
    store = "query"
    client = wire.client(store)
    packs = []
    for i in range(40):
        dj = (i % 7) - 3.0
        packs.append({"pack_id": f"q{i}", "task_name": "drawer_vase", "bucket": "positive" if dj >= 0 else "negative",
                      "skill_trace": [{"t": 0, "skill_id": i % 5}],
                      "counterfactual_plan": {"skills": [1]} if dj < 0 else None,
                      "attribution": {"delta_J": dj, "trust_score": (i % 10) / 10, "mvd_score": i / 40},
                      "condition": {"engine_type": schema.ENGINE_TYPES[i % 3], "tags": {"fragile": i % 2 == 0}}})
    client.append_batch(packs)
    for p in packs:
        wire.acknowledge(store, "drawer_vase", p["pack_id"])
    yield store, client
    client.close()


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


@st.composite
def filters(draw):
    """A DataPackFilter with any values: valid, boundary, NaN/inf, unknown strings."""
    f = spb.DataPackFilter()
    text = st.one_of(any_text, st.sampled_from(["positive", "negative", "isaac", "real", "wm_train",
                                                "2.1-portable", "low", "high"]))
    for name in ("bucket", "engine_type", "source_type", "wm_model_id", "wm_role", "schema_version",
                 "occlusion_bucket", "motion_bucket"):
        v = draw(_maybe(text))
        if v is not None:
            setattr(f, name, v)
    v = draw(_maybe(st.integers(-2 ** 63, INT64_MAX)))
    if v is not None:
        f.skill_id = v
    number = st.one_of(finite, nonfinite)
    for name in ("min_trust", "min_delta_j", "max_delta_j", "min_mvd_score", "objective_similarity_threshold"):
        v = draw(_maybe(number))
        if v is not None:
            setattr(f, name, v)
    if draw(st.booleans()):
        f.objective_vector.values.extend(draw(st.lists(number, max_size=6)))
    for name in ("is_occluded", "is_dynamic", "is_static"):
        v = draw(_maybe(st.booleans()))
        if v is not None:
            setattr(f, name, v)
    f.include_sima, f.include_counterfactual = draw(st.booleans()), draw(st.booleans())
    for _ in range(draw(st.integers(0, 3))):
        cf = f.condition_filters.add(key=draw(st.one_of(
            any_text, st.sampled_from(["tags.fragile", "tags.", "tags", "fragile", "drawer_friction_min",
                                       "occlusion_level_max", "foo_min", "lighting_profile", "vase_offset",
                                       "objective_vector", "engine_type"]))))
        which = draw(st.sampled_from(["bool", "number", "string", "list", "none"]))
        if which == "bool":
            cf.bool_value = draw(st.booleans())
        elif which == "number":
            cf.number_value = draw(number)
        elif which == "string":
            cf.string_value = draw(any_text)
        elif which == "list":
            cf.number_list.values.extend(draw(st.lists(number, max_size=4)))
    return f


def test_raw_queries_and_statistics_never_crash(wire, seeded):
    """QueryDataPacks and GetStatistics with any filter, sort, limit, view
    (unknown enum numbers included) and task name: a result or a documented
    INVALID_ARGUMENT naming the argument; never more results than the limit."""
    store, _client = seeded

    @_settings(500)
    @given(filters(), _maybe(st.one_of(st.sampled_from(["delta_j", "trust_score", "mvd_score", "created_at", "delta",
                                                        ""]), any_text)),
           _maybe(st.booleans()), _maybe(st.integers(-2 ** 63, INT64_MAX)), st.booleans(), st.integers(-3, 2 ** 31 - 1),
           st.one_of(st.just("drawer_vase"), st.just("absent_task"), invalid_name), st.booleans())
    def run(f, sort_by, descending, limit, unlimited, view, task, statistics):
        wire.requests += 1
        try:
            if statistics:
                wire.stub.GetStatistics(spb.GetStatisticsRequest(store=store, task_name=task, filter=f),
                                        timeout=CALL_TIMEOUT)
                return
            req = spb.QueryDataPacksRequest(store=store, task_name=task, filter=f, unlimited=unlimited,
                                            view=view if view >= 0 else 0)
            if sort_by is not None:
                req.sort_by = sort_by
            if descending is not None:
                req.sort_descending = descending
            if limit is not None:
                req.limit = limit
            got = [m for r in wire.stub.QueryDataPacks(req, timeout=CALL_TIMEOUT) for m in r.data_packs]
        except grpc.RpcError as exc:
            assert_rich_error(exc)
            return
        assert len(got) <= (limit if limit is not None else (40 if unlimited else 100))

    run()
    wire.ran += 1


QUERY_ARGS = {
    "bucket": st.one_of(st.sampled_from(["positive", "negative", "Positive"]), any_text, st.integers()),
    "engine_type": st.one_of(st.sampled_from(schema.ENGINE_TYPES), any_text, st.booleans()),
    "skill_id": st.one_of(st.integers(-5, 2 ** 70), st.booleans(), finite, any_text),
    "min_trust": st.one_of(finite, nonfinite, st.booleans(), any_text),
    "min_delta_j": st.one_of(finite, nonfinite, st.integers(-2 ** 70, 2 ** 70)),
    "max_delta_j": st.one_of(finite, nonfinite),
    "source_type": st.one_of(st.sampled_from(schema.SOURCE_TYPES), any_text),
    "objective_vector": st.one_of(st.lists(st.one_of(finite, nonfinite), max_size=5), any_text, st.integers()),
    "objective_similarity_threshold": st.one_of(finite, nonfinite),
    "condition_filters": st.one_of(st.dictionaries(any_text, st.one_of(st.booleans(), finite, nonfinite, any_text,
                                                                        st.lists(finite, max_size=3),
                                                                        st.none()), max_size=3),
                                   st.lists(st.integers(), max_size=2), any_text),
    "include_sima": st.one_of(st.booleans(), st.integers(0, 2)),
    "sort_by": st.one_of(st.sampled_from(["delta_j", "trust_score", "created_at", "delta"]), any_text, st.integers()),
    "sort_descending": st.one_of(st.booleans(), st.none(), st.integers(0, 1)),
    "limit": st.one_of(st.integers(-3, 2 ** 40), st.none(), finite, any_text, st.booleans()),
}


def test_client_queries_with_any_arguments_raise_invalid_argument_or_answer(wire, seeded):
    """The public client with wrong types, NaN, huge integers, unknown strings:
    a list of packs (each valid) or InvalidArgumentError naming the argument."""
    _store, client = seeded

    @_settings(250)
    @given(st.fixed_dictionaries({}, optional=QUERY_ARGS), st.booleans())
    def run(kwargs, statistics):
        if statistics:
            kwargs = {k: v for k, v in kwargs.items() if k not in ("sort_by", "sort_descending", "limit")}
        try:
            make_query(**kwargs)
            wire.requests += 1  # counted only when the client does not refuse it before sending
        except InvalidArgumentError:
            pass
        try:
            if statistics:
                assert client.get_statistics("drawer_vase", **kwargs)["total"] <= 40
            else:
                for p in client.query("drawer_vase", **kwargs):
                    assert record_violations(p.to_dict()) == []
        except InvalidArgumentError as err:
            assert err.violations and all(v.field for v in err.violations), err
        except DataPackError as err:
            pytest.fail(f"{type(err).__name__}: {err}")

    run()
    wire.ran += 1


def test_other_rpcs_with_hostile_names_and_ids(wire, seeded):
    """Get, history, list tasks, training-usage updates and baselines with
    path-like stores and tasks, any pack ids and unknown roles: a documented
    status, nothing written (the ledger check below)."""
    store, _client = seeded
    names = st.one_of(st.sampled_from(["drawer_vase", "query"]), invalid_name, any_text)

    @_settings(250)
    @given(st.sampled_from(["get", "history", "list", "usage", "baseline", "baselines"]), names, names,
           st.lists(any_text, max_size=3), _maybe(any_text), st.one_of(finite, nonfinite))
    def run(rpc, a, b, ids, role, number):
        wire.requests += 1
        s = store if a in ("drawer_vase", "query") else a
        try:
            if rpc == "get":
                wire.stub.GetDataPack(spb.GetDataPackRequest(store=s, task_name=b, pack_id=ids[0] if ids else ""),
                                      timeout=CALL_TIMEOUT)
            elif rpc == "history":
                wire.stub.GetDataPackHistory(spb.GetDataPackHistoryRequest(store=s, task_name=b,
                                                                           pack_id=ids[0] if ids else ""),
                                             timeout=CALL_TIMEOUT)
            elif rpc == "list":
                wire.stub.ListTasks(spb.ListTasksRequest(store=a), timeout=CALL_TIMEOUT)
            elif rpc == "usage":
                # Unknown ids only (NOT_FOUND, nothing written) or invalid arguments.
                req = spb.UpdateTrainingUsageRequest(store=s, task_name=b, pack_ids=[f"nope:{i}" for i in ids],
                                                     add_training_runs=ids)
                if role is not None:
                    req.wm_role = role
                wire.stub.UpdateTrainingUsage(req, timeout=CALL_TIMEOUT)
                assert not ids, "an update of unknown packs succeeded"
            elif rpc == "baseline":
                wire.stub.PutBaseline(spb.PutBaselineRequest(store=s, name=b, values=pb.BaselineValues(
                    mpl=number, error=0.05, ep=2.0)), timeout=CALL_TIMEOUT)
            else:
                wire.stub.ListBaselines(spb.ListBaselinesRequest(store=a), timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            assert_documented(exc)

    run()
    wire.ran += 1
    wire.verify_store(store)


# ---------------------------------------------------------------------------------------- ingest


def _clean_episode(draw) -> spb.EpisodeInput:
    """An episode the builder accepts (so batches also succeed, not only fail)."""
    e = spb.EpisodeInput(env_type=draw(st.sampled_from(["drawer_vase", "dishwashing", "ing.c"])),
                         pack_id=f"{uid()}:{draw(printable_text)}")
    s = e.summary
    s.termination_reason = draw(st.sampled_from(["success", "max_steps", "catastrophic_error"]))
    s.mpl_episode, s.error_rate_episode, s.ep_episode = draw(finite), abs(draw(finite)), draw(finite)
    if draw(st.booleans()):
        e.condition_profile_json = '{"engine_type": "isaac", "drawer_friction": 0.4}'
    for t in range(draw(st.integers(0, 3))):
        e.skill_trace.add(t=10 * t, skill_id=draw(st.integers(0, 5)), params_json='{"f": 0.5}')
    return e


@st.composite
def episode_inputs(draw):
    if draw(st.integers(0, 2)) == 0:
        return _clean_episode(draw)
    e = spb.EpisodeInput()
    s = e.summary
    s.termination_reason = draw(st.one_of(st.sampled_from(["success", "max_steps", "unknown"]), any_text))
    for name in ("mpl_episode", "ep_episode", "error_rate_episode", "energy_wh", "profit"):
        setattr(s, name, draw(st.one_of(finite, nonfinite, st.sampled_from([0.0, -1.0, 10.0]))))
    if draw(st.booleans()):
        s.energy_per_limb_json = draw(st.sampled_from(['{"arm": {"Wh": 1.0}}', "[1]", "{", '{"a": NaN}', "5",
                                                       '{"arm": 5}', '{"arm": {"Wh": "x"}}']))
    if draw(st.booleans()):
        s.limb_energy_wh.add(name=draw(any_text), value=draw(st.one_of(finite, nonfinite)))
    if draw(st.booleans()):
        e.condition_profile_json = draw(st.one_of(
            st.sampled_from(['{"engine_type": "isaac"}', "[1]", "null", '"x"', '{"engine_type": 5}',
                             '{"objective_vector": [0, 0, 0]}', '{"objective_vector": "x"}', '{"tags": []}',
                             '{"vase_offset": [1]}', '{"engine_type": "warp"}', '{"occlusion_level": "x"}']),
            any_text))
    if draw(st.booleans()):
        e.env_type = draw(st.one_of(st.sampled_from(["drawer_vase", "dishwashing"]), invalid_name))
    e.pack_id = f"{uid()}:{draw(any_text)}"  # not always a valid id: then rejected
    if draw(st.booleans()):
        for _ in range(draw(st.integers(0, 3))):
            entry = e.skill_trace.add(t=draw(st.integers(-5, 100)), skill_id=draw(st.integers(-5, 2 ** 40)))
            if draw(st.booleans()):
                entry.params_json = draw(st.sampled_from(["{}", "[", '{"f": 0.5}', "7"]))
    for name in ("trust_score", "semantic_quality", "mvd_score", "w_econ"):
        if draw(st.booleans()):
            setattr(e, name, draw(st.one_of(finite, nonfinite)))
    for name in ("source_type", "wm_role", "counterfactual_source", "schema_version", "created_at"):
        if draw(st.integers(0, 3)) == 0:
            setattr(e, name, draw(any_text))
    if draw(st.integers(0, 5)) == 0:
        e.counterfactual_plan_json = draw(st.sampled_from(["{}", "[]", '{"skills": [1]}', "nan"]))
    if draw(st.integers(0, 5)) == 0:
        e.vla_plan_json = draw(st.sampled_from(["{}", "[]", '{"instruction": 5}', "x"]))
    if draw(st.integers(0, 5)) == 0:
        e.scene_tracks_v1.entries.add(key="scene_tracks_v1/version", json='["v1"]')
    if draw(st.integers(0, 5)) == 0:
        e.sima_annotation.instruction = draw(any_text)
        e.sima_annotation.average_narration_length = draw(st.one_of(finite, nonfinite))
    if draw(st.integers(0, 6)) == 0:
        e.objective_profile.objective_vector.extend(draw(st.lists(st.one_of(finite, nonfinite), max_size=5)))
    return e


@st.composite
def econ_params(draw):
    m = pb.EconParams(preset=draw(st.one_of(st.sampled_from(["", "toy", "realistic", "drawer_vase"]), any_text)))
    for name in ("price_per_unit", "damage_cost", "energy_wh_per_attempt", "time_step_s", "electricity_price_kwh"):
        if draw(st.booleans()):
            setattr(m, name, draw(st.one_of(finite, nonfinite)))
    if draw(st.booleans()):
        m.max_steps = draw(st.integers(-2 ** 63, INT64_MAX))
    return m


def test_ingest_requests_never_crash_the_server(wire):
    """IngestEpisodes with any episode contents, economic parameters and
    baselines (NaN/inf, unknown names, malformed JSON text, path-like env
    types): each batch is built or rejected with a rejection naming the
    problem, the stream never ends with INTERNAL, and exactly the acknowledged
    packs are stored."""
    store = "ingest"

    @st.composite
    def baselines(draw):
        which = draw(st.sampled_from(["values", "name", "none", "good", "good"]))
        if which == "values":
            return pb.Baseline(values=pb.BaselineValues(mpl=draw(st.one_of(finite, nonfinite)), error=draw(finite),
                                                        ep=draw(st.one_of(finite, nonfinite))))
        if which == "name":
            return pb.Baseline(name=draw(st.one_of(st.sampled_from(["synthetic_nominal", "nope"]), any_text)))
        if which == "good":
            return pb.Baseline(name="synthetic_nominal")
        return None

    @st.composite
    def clean_batch(draw):
        return ([_clean_episode(draw) for _ in range(draw(st.integers(1, 3)))],
                pb.EconParams(price_per_unit=5.0, damage_cost=50.0, energy_wh_per_attempt=5.0, preset="drawer_vase"),
                pb.Baseline(name="synthetic_nominal"))

    @_settings(160)
    @given(st.lists(st.one_of(clean_batch(), st.tuples(st.lists(episode_inputs(), max_size=3), econ_params(),
                                                       baselines())), min_size=1, max_size=3))
    def run(batches):
        reqs = []
        for i, (episodes, econ, baseline) in enumerate(batches):
            req = spb.IngestEpisodesRequest(store=store, episodes=episodes, econ_params=econ, batch_sequence=i + 1)
            if baseline is not None:
                req.baseline.CopyFrom(baseline)
            reqs.append(req)
        wire.requests += len(reqs)
        try:
            out = list(wire.stub.IngestEpisodes(iter(reqs), timeout=CALL_TIMEOUT))
        except grpc.RpcError as exc:
            pytest.fail(f"the ingest stream ended with {exc.code()}: {exc.details()}")
        assert [r.batch_sequence for r in out] == [r.batch_sequence for r in reqs]
        for resp, req in zip(out, reqs):
            if resp.HasField("rejection"):
                assert resp.rejection.code == "INVALID_ARGUMENT", resp.rejection
                assert resp.rejection.reason and resp.rejection.violations, resp.rejection
                assert not resp.results
                continue
            assert len(resp.results) == len(req.episodes)
            for r in resp.results:
                assert r.status == spb.APPEND_STATUS_CREATED and math.isfinite(r.delta_j)
                assert r.bucket == ("positive" if r.delta_j >= 0 else "negative")
                wire.acknowledge(store, r.task_name, r.pack_id)

    run()
    wire.ran += 1
    wire.verify_store(store)


@st.composite
def client_episodes(draw):
    """Builder arguments as a caller writes them: right, wrong-typed, non-finite, exotic."""
    number = st.one_of(finite, finite, nonfinite, any_text, st.none(), st.integers(-2 ** 70, 2 ** 70))
    info = {k: draw(number) for k in ("mpl_episode", "ep_episode", "error_rate_episode", "energy_Wh", "profit")
            if draw(st.integers(0, 3))}
    info["termination_reason"] = draw(st.sampled_from(["success", "max_steps", "catastrophic_error", "x"]))
    if draw(st.booleans()):
        info["limb_energy_Wh"] = draw(st.one_of(st.dictionaries(any_text, number, max_size=2), json_tree))
    if draw(st.integers(0, 3)) == 0:
        info["media_refs"] = draw(json_tree)
    ep = {"episode_info": draw(st.one_of(st.just(info), st.just(info), st.just(info), json_leaf))}
    if draw(st.integers(0, 2)) == 0:  # a clean episode: batches must also succeed
        return {"episode_info": {"termination_reason": "success", "mpl_episode": draw(finite),
                                 "error_rate_episode": abs(draw(finite)), "ep_episode": draw(finite)},
                "env_type": draw(st.sampled_from(["drawer_vase", "ing.c"])),
                "pack_id": f"{uid()}:{draw(printable_text)}",
                "condition_profile": {"engine_type": draw(st.sampled_from(schema.ENGINE_TYPES))},
                "agent_profile": draw(free_object),
                "skill_trace": [{"t": 0, "skill_id": draw(skill_ids), "params": draw(free_object)}]}
    maybe = {
        "condition_profile": st.one_of(free_object, json_tree,
                                       st.fixed_dictionaries({"engine_type": st.sampled_from(["isaac", "warp"]),
                                                              "objective_vector": st.lists(number, max_size=4)})),
        "agent_profile": st.one_of(free_object, json_leaf),
        "vla_plan": json_tree, "counterfactual_plan": st.one_of(free_object, json_leaf),
        "env_type": st.one_of(st.sampled_from(["drawer_vase", "dishwashing", "ing.c"]), invalid_name),
        "pack_id": st.one_of(printable_text.map(lambda s: f"{uid()}:{s}"), any_text, st.integers()),
        "trust_score": number, "semantic_quality": number, "source_type": st.one_of(any_text, st.sampled_from(
            schema.SOURCE_TYPES)),
        "skill_trace": st.one_of(st.lists(st.fixed_dictionaries(
            {"t": st.integers(-3, 50), "skill_id": st.one_of(st.integers(-2, 2 ** 64), any_text)},
            optional={"params": json_tree}), max_size=3), json_leaf),
        "extra_tags": st.one_of(st.lists(any_text, max_size=2), any_text),
        "sima_annotation": st.one_of(st.fixed_dictionaries({"instruction": any_text}), json_leaf),
        "vase_broken": st.booleans(), "episode_index": st.integers(-2 ** 70, 2 ** 70),
    }
    for key, strategy in maybe.items():
        if draw(st.integers(0, 3)) == 0:
            ep[key] = draw(strategy)
    return ep


def test_client_ingest_with_any_arguments(wire):
    """ingest_episodes through the public client with arguments of every shape:
    built and stored, or InvalidArgumentError (refused by the client before
    sending, or by the server's builder); nothing else, nothing stored on refusal."""
    from datapack_client.building.builder import EconParams
    from datapack_client.errors import AlreadyExistsError
    store = "ingest_client"
    client = wire.client(store)
    econ = EconParams(price_per_unit=5.0, damage_cost=50.0, energy_Wh_per_attempt=5.0, time_step_s=60.0,
                      base_rate=2.0, p_min=0.02, k_err=0.12, q_speed=1.2, q_care=1.5, care_cost=0.25, max_steps=240,
                      max_catastrophic_errors=3, max_error_rate_sla=0.10, min_steps_for_sla=5,
                      zero_throughput_patience=10, preset="drawer_vase")

    @_settings(150)
    @given(st.lists(client_episodes(), min_size=1, max_size=3),
           st.one_of(st.just("synthetic_nominal"), st.just({"mpl": 10.0, "error": 0.05, "ep": 2.0}),
                     st.just("synthetic_nominal"), st.just({"mpl": 10.0, "error": 0.05, "ep": 2.0}),
                     st.fixed_dictionaries({"mpl": st.one_of(finite, nonfinite), "error": finite, "ep": finite}),
                     any_text, st.none(), st.integers()))
    def run(episodes, baseline):
        try:
            results = client.ingest_episodes(episodes, econ, baseline)
        except (InvalidArgumentError, AlreadyExistsError) as err:
            assert err.reason and err.violations, err
            return
        finally:
            wire.requests += 1
        assert len(results) == len(episodes)
        for r in results:
            assert r.status == "created"
            wire.acknowledge(store, r.task_name, r.pack_id)

    run()
    wire.ran += 1
    client.close()
    wire.verify_store(store)


def test_enough_requests_were_generated(wire):
    """The point-10 budget: at least 2,000 generated requests over the wire in this file."""
    if wire.ran < GENERATING_TESTS:
        pytest.skip("counts only when every property test of the file ran")
    assert wire.requests >= 2000, wire.requests


# ---------------------------------------------------------------------------------------- fuzzer (fast variant)


def test_fuzzer_short_run_finds_no_crash_or_hang():
    """reliability/fuzz.py for a few seconds: the JSONL reader (lines.py and the
    Store's open/refresh/serve on arbitrary bytes) and the validators/decoders
    on arbitrary values and bytes. Any crash or hang fails with its input."""
    from reliability import fuzz
    report = fuzz.run(seconds=8.0, seed=1234, hang_seconds=2.0)
    assert report["crashes"] == [], report["crashes"][:3]
    assert report["hangs"] == [], report["hangs"][:3]
    assert report["inputs"] >= 500 and all(n > 0 for n in report["targets"].values()), report
