"""A corpus of hostile names for stores, tasks, pack ids and baseline names.

Each entry is (name, what it tries). The security tests send every name in
every slot of every RPC that takes one and check that nothing lands outside
the data root and no raw control character reaches a log line. Names the
service deliberately accepts are listed in ACCEPTED_*, each with why it is
harmless; every other name must be refused with INVALID_ARGUMENT (or, for a
pack id, which never reaches the file system, be merely unknown: NOT_FOUND).
"""
from __future__ import annotations

LONG = "x" * 129  # one over the 128-character limit
VERY_LONG = "y" * 70_000  # beyond NAME_MAX and PATH_MAX of any file system

HOSTILE: list[tuple[str, str]] = [
    ("", "empty"),
    (" ", "whitespace only"),
    ("\t", "tab"),
    (" phase_c", "leading space"),
    ("phase_c ", "trailing space"),
    (".", "current directory"),
    ("..", "parent directory"),
    ("...", "three dots"),
    ("../x", "parent traversal"),
    ("../../../../../../tmp/escape", "deep parent traversal"),
    ("a/../../b", "traversal hidden behind a segment"),
    ("a/./b", "dot segment"),
    ("/abs", "absolute path"),
    ("/tmp/escape", "absolute path to /tmp"),
    ("//server/share", "UNC-like path"),
    ("a//b", "empty segment"),
    ("a/", "trailing slash"),
    ("~", "home directory"),
    ("~root/x", "another user's home"),
    ("$HOME", "shell variable"),
    ("`id`", "shell substitution"),
    ("*", "glob"),
    ("..\\..\\x", "Windows traversal"),
    ("a\\b", "backslash separator"),
    ("C:\\Windows", "drive letter"),
    ("%2e%2e", "percent-encoded .."),
    ("%2e%2e%2fx", "percent-encoded ../x"),
    ("..%2f..%2fx", "half-encoded traversal"),
    ("%00", "percent-encoded NUL"),
    ("x\x00y", "embedded NUL"),
    ("\x00", "NUL only"),
    ("x\ny", "newline (log injection)"),
    ("x\r\n2025-01-01 00:00:00 WARNING datapack.server: forged", "CRLF forged log line"),
    ("\x1b[31mred\x1b[0m", "ANSI escape (terminal injection)"),
    ("\x1b]0;title\x07", "OSC escape (terminal title)"),
    ("x\x7fy", "DEL"),
    ("\u202egnp.exe", "RTL override"),
    ("a\u2066b\u2069", "bidi isolate"),
    ("a\u200bb", "zero-width space"),
    ("ｐhase_c", "fullwidth lookalike"),
    ("phаse_c", "Cyrillic a lookalike"),
    ("\u2215etc\u2215passwd", "division-slash lookalike of /"),
    ("\uff0e\uff0e", "fullwidth dots"),
    ("a\u2028b", "Unicode line separator"),
    ("é", "non-ASCII letter"),
    (LONG, "129 characters"),
    (VERY_LONG, "70,000 characters"),
    ("/".join(["a"] * 200), "200 nested segments"),
    ("CON", "Windows device name"),
    ("con", "Windows device name, lower case"),
    ("NUL", "Windows device name"),
    ("COM1", "Windows device name"),
    ("LPT1.txt", "Windows device name with extension"),
    ("AUX", "Windows device name"),
    (".datapack", "the service's own auxiliary folder"),
    (".datapack/locks", "inside the auxiliary folder"),
    (".hidden", "hidden folder"),
    ("-rf", "leading dash (option injection)"),
]

# Task names are file-name prefixes: `<task>_datapacks.jsonl` in the store
# folder. These are legal there (the fixed suffix means even `CON` names the
# file `CON_datapacks.jsonl`, a plain file on every system; a leading dot or
# dash is only a prefix of that name, and "." cannot form a path component
# because of the suffix; anything holding ".." is refused all the same).
ACCEPTED_TASK_NAMES = {".", "CON", "con", "NUL", "COM1", "LPT1.txt", "AUX", ".datapack", ".hidden", "-rf"}

# Store paths are folders below the data root, so they are stricter: no
# segment may start with "." (".", "..", the auxiliary ".datapack" folder,
# hidden folders) or be a Windows device name (the data root must stay
# copyable to any machine); at most 256 characters. "" is the data root
# itself (the default store).
ACCEPTED_STORES = {"", "-rf"}

# Baseline names follow the task-name rule (they are keys in
# `<store>/.datapack/baselines.json`, never file names).
ACCEPTED_BASELINE_NAMES = ACCEPTED_TASK_NAMES

# Pack ids never reach the file system (they are JSON string values inside a
# line), so on reads any string is a lookup key: unknown -> NOT_FOUND. New
# records must still carry a printable id (no control or bidi characters, at
# most 256 characters), because ids are printed by tools and logs.
PACK_IDS_ACCEPTED_ON_APPEND = {
    " ", " phase_c", "phase_c ", ".", "..", "...", "../x", "../../../../../../tmp/escape", "a/../../b", "a/./b",
    "/abs", "/tmp/escape", "//server/share", "a//b", "a/", "~", "~root/x", "$HOME", "`id`", "*", "..\\..\\x",
    "a\\b", "C:\\Windows", "%2e%2e", "%2e%2e%2fx", "..%2f..%2fx", "%00", "ｐhase_c", "phаse_c",
    "\u2215etc\u2215passwd", "\uff0e\uff0e", "é", LONG, "CON", "con", "NUL", "COM1",
    "LPT1.txt", "AUX", ".datapack", ".datapack/locks", ".hidden", "-rf",
}


# ---------------------------------------------------------------------- the wire harness
# Shared by tests/test_security.py (this corpus) and reliability/security.py
# (generated names): every name in every name-carrying argument of every RPC.

import itertools  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402

import grpc  # noqa: E402
from google.protobuf import message_factory  # noqa: E402

from datapack_client.client import record_to_message  # noqa: E402
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb  # noqa: E402
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb  # noqa: E402
from datapack_client.proto.datapack.v1 import skill_adapter_service_pb2 as apb  # noqa: E402
from datapack_client.wire.status import from_rpc_error  # noqa: E402
from datapack_client.records.validation_rules import pack_id_ok, store_ok, task_name_ok  # noqa: E402

from .conftest import make_pack  # noqa: E402
from .test_ingest_flows import drawer_episode, econ  # noqa: E402

TASK = "drawer_vase"
SERVICES = [spb.DESCRIPTOR.services_by_name["DataPackService"], apb.DESCRIPTOR.services_by_name["SkillAdapterService"]]
ALL_METHODS = [(svc, m) for svc in SERVICES for m in svc.methods]
SLOTS = {  # method -> the request arguments that carry a name
    "AppendDataPacks": ("store", "task", "pack_id"), "AppendDataPacksBatch": ("store", "task", "pack_id"),
    "QueryDataPacks": ("store", "task"), "QueryDataPacksPage": ("store", "task"), "QueryArrow": ("store", "task"),
    "GetDataPack": ("store", "task", "pack_id"),
    "GetDataPackHistory": ("store", "task", "pack_id"), "GetStatistics": ("store", "task"),
    "ListTasks": ("store",), "IngestEpisodes": ("store", "task", "pack_id", "baseline"),
    "PutBaseline": ("store", "baseline"), "ListBaselines": ("store",),
    "UpdateTrainingUsage": ("store", "task", "pack_id"), "ExportPortable": ("store", "task", "output_store"),
    **{m.name: ("store", "task") for m in SERVICES[1].methods},
}
# RPCs where a pack id or baseline name is stored (a refused one must be
# INVALID_ARGUMENT); elsewhere it is only looked up (unknown: NOT_FOUND).
_STORING = ("AppendDataPacks", "AppendDataPacksBatch", "IngestEpisodes", "PutBaseline")
# A log record (cli.py's format), a traceback continuation (security.SafeFormatter), or a CLI message.
LOG_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: "
                      r"|  \| |datapack: )")


def call_rpc(channel, svc, method, request, metadata=None, timeout=10.0):
    """Call any RPC by its descriptor; returns (status code name, reason,
    responses). A batch rejection inside a stream counts as its status."""
    path = f"/{svc.full_name}/{method.name}"
    resp_cls = message_factory.GetMessageClass(method.output_type)
    kind = ("stream" if method.client_streaming else "unary") + "_" + ("stream" if method.server_streaming else "unary")
    fn = getattr(channel, kind)(path, request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=resp_cls.FromString)
    arg = iter(request) if method.client_streaming else request
    try:
        out = fn(arg, metadata=metadata, timeout=timeout)
        out = list(out) if method.server_streaming else [out]
    except grpc.RpcError as exc:
        err = from_rpc_error(exc)
        return exc.code().name, err.reason, []
    for r in out:
        if r.DESCRIPTOR.fields_by_name.get("rejection") and r.HasField("rejection"):
            return r.rejection.code, r.rejection.reason, out
    return "OK", "", out


def request_for(method: str, *, store="s", task=TASK, pack_id="p-1", baseline=None, output_store="out"):
    """A well-formed request of `method` naming the given store, task, ids
    (IngestEpisodes: the named baseline, else explicit values)."""
    if method in ("AppendDataPacks", "AppendDataPacksBatch"):
        packs = [record_to_message(make_pack("p-1", task_name=task))]
        packs[0].pack_id = pack_id
        if method == "AppendDataPacks":
            return [spb.AppendDataPacksRequest(store=store, data_packs=packs, batch_sequence=1)]  # no writer memo
        return spb.AppendDataPacksBatchRequest(store=store, data_packs=packs)
    if method == "IngestEpisodes":
        from datapack_client.wire.episodes import econ_to_proto, episode_to_proto
        ep = dict(drawer_episode(0), env_type=task, pack_id=pack_id)
        values = pb.BaselineValues(mpl=10, error=0.05, ep=2)
        named = pb.Baseline(values=values) if baseline is None else pb.Baseline(name=baseline)
        return [spb.IngestEpisodesRequest(store=store, econ_params=econ_to_proto(econ()),
                                          episodes=[episode_to_proto(ep)], baseline=named)]
    if method == "PutBaseline":
        return spb.PutBaselineRequest(store=store, name="b1" if baseline is None else baseline,
                                      values=pb.BaselineValues(mpl=10, error=0.05, ep=2))
    if method == "ExportPortable":
        return spb.ExportPortableRequest(store=store, task_name=task, output_store=output_store)
    if method in ("QueryDataPacksPage", "QueryArrow"):  # a query wrapped in the method's request
        query = spb.QueryDataPacksRequest(store=store, task_name=task, limit=10)
        return getattr(spb, method + "Request")(query=query)
    cls = (getattr(spb, method + "Request", None) or getattr(apb, method + "Request"))
    req = cls(store=store)
    fields = cls.DESCRIPTOR.fields_by_name
    if "task_name" in fields:
        req.task_name = task
    if "pack_id" in fields:
        req.pack_id = pack_id
    if "pack_ids" in fields:
        req.pack_ids.append(pack_id)
    return req


def accepted(method: str, slot: str, name: str) -> bool:
    """Whether the naming rules accept `name` in that argument."""
    if slot == "pack_id":
        return pack_id_ok(name) or (method == "IngestEpisodes" and name == "")  # "": the builder derives an id
    if slot in ("store", "output_store"):
        return store_ok(name) and (slot == "store" or name != "")
    return task_name_ok(name)  # task and baseline names


def outcome_ok(method: str, slot: str, name: str, code: str, reason: str) -> bool:
    """A refused name gives INVALID_ARGUMENT (a pack id or baseline that is
    only looked up may just be unknown: NOT_FOUND / BASELINE_UNKNOWN); an
    accepted one OK or NOT_FOUND."""
    unknown_baseline = slot == "baseline" and reason == "BASELINE_UNKNOWN"
    if accepted(method, slot, name):
        return code in ("OK", "NOT_FOUND") or unknown_baseline
    lookup_only = slot in ("pack_id", "baseline") and method not in _STORING
    return code == "INVALID_ARGUMENT" or (lookup_only and code == "NOT_FOUND") or unknown_baseline


def sweep(channel, names, metadata=None, ids=None) -> tuple[int, list]:
    """Every name in every slot of every RPC: (calls made, unexpected outcomes)."""
    ids = ids if ids is not None else itertools.count()
    calls, unexpected = 0, []
    for svc, m in ALL_METHODS:
        for slot in SLOTS[m.name]:
            for name in names:
                # A store per RPC and a fresh id: accepted names never meet an earlier call's pack.
                kw = {"store": f"s-{m.name}", "pack_id": f"p-{next(ids)}", slot: name}
                code, reason, _ = call_rpc(channel, svc, m, request_for(m.name, **kw), metadata)
                calls += 1
                if not outcome_ok(m.name, slot, name, code, reason):
                    unexpected.append((m.name, slot, name[:80], code, reason))
    return calls, unexpected


def tree_outside(folder, data_root) -> dict:
    """{path: size or "dir"} of everything under folder except data_root."""
    skip = os.path.abspath(data_root)
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        if os.path.abspath(dirpath) == skip or os.path.abspath(dirpath).startswith(skip + os.sep):
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if os.path.abspath(p) != skip:
                out[p] = os.lstat(p).st_size if n in filenames else "dir"
    return out


def bad_log_lines(text: str) -> list[str]:
    """Lines that carry a control or bidi character, or are not a record."""
    from datapack_server.observability.safe_text import UNSAFE_CHARACTERS as _UNSAFE
    return [line for line in text.splitlines() if _UNSAFE.search(line) or not LOG_LINE.match(line)]
