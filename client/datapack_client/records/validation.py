"""Append invariants (docs/repository.md §5) and schema types (docs/schema.md §1).

Pure functions over the normalised JSON object of a record; each returns the
list of Violations, empty when the record may be written. No grpc, no I/O.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from datapack_client.errors import Violation
from datapack_client.records import schema
from datapack_client.records.jsonio import nonfinite_path
from datapack_client.records.validation_rules import PACK_ID_MAX_CHARS, pack_id_ok, shown, task_name_ok


def _is_num(v: Any) -> bool:
    t = type(v)
    return t is float or t is int


_TYPE_NAMES = {
    "str": "a string", "num": "a number", "int": "an integer", "bool": "a boolean",
    "obj": "an object", "[num]": "an array of numbers", "[str]": "an array of strings",
    "[int]": "an array of integers", "num3": "an array of 3 numbers",
    "{num}": "an object of numbers", "{obj}": "an object of objects",
    "contribs": "an object of objects", "trace": "an array",
}

# One generated checker per schema table (the technique dataclasses use for
# __init__): the append path checks ~120 fields per record, so the per-field
# cost matters. Each checker appends (path, reason, message) tuples to `out`.
_CHECK_SNIPPETS = {
    "str": "type(v) is str",
    "int": "type(v) is int",
    "bool": "type(v) is bool",
    "obj": "type(v) is dict",
    "trace": "type(v) is list or type(v) is tuple",
    "[str]": "(type(v) is list or type(v) is tuple) and all([type(x) is str for x in v])",
    "[int]": "(type(v) is list or type(v) is tuple) and all([type(x) is int for x in v])",
    "{obj}": "type(v) is dict and all([type(x) is dict for x in v.values()])",
    "contribs": "type(v) is dict and all([type(x) is dict for x in v.values()])",
}


# Kinds whose JSON type protobuf typing already guarantees for records decoded
# from a wire message without verbatim values (typed=True checkers skip them).
_GUARANTEED_BY_PROTO = {"str", "int", "bool", "[str]", "[int]", "trace", "[num]"}


def _gen_checker(fname: str, table, typed: bool = False) -> str:
    prefix_fn = "typed_" if typed else "check_"
    lines = [f"def {fname}(obj, prefix, out, free_finite):", "    get = obj.get"]
    for key, kind, _default in table:
        base0 = kind[:-1] if kind.endswith("?") else kind
        if typed and base0 in _GUARANTEED_BY_PROTO and base0 != "[num]":
            continue
        nullable = kind.endswith("?") or kind.startswith("P?")
        base = kind[:-1] if kind.endswith("?") else kind
        path = f"prefix + {key!r}"
        lines.append(f"    v = get({key!r}, _M)")
        lines.append("    if v is not _M:")
        if nullable:
            lines.append("      if v is not None:")
            ind = "        "
        else:
            lines.append(f"      if v is None: out.append(({path}, 'FIELD_TYPE', {path} + ' must not be null'))")
            lines.append("      else:")
            ind = "        "
        if base.startswith("P"):
            sub = base.split(":", 1)[1]
            lines.append(f"{ind}if type(v) is not dict:")
            lines.append(f"{ind}    out.append(({path}, 'FIELD_TYPE', {path} + ' must be an object'))")
            lines.append(f"{ind}elif v: {prefix_fn}{sub}(v, {path} + '.', out, free_finite)")
            continue
        if base == "num":
            lines.append(f"{ind}t = type(v)")
            lines.append(f"{ind}if t is float:")
            lines.append(f"{ind}    if v - v != 0.0:")
            lines.append(f"{ind}        out.append(({path}, 'NUMBER_NOT_FINITE', {path} + ' must be a finite number'))")
            lines.append(f"{ind}elif t is not int: out.append(({path}, 'FIELD_TYPE', {path} + ' must be a number'))")
            continue
        if base in ("[num]", "num3", "{num}"):
            cond = "(type(v) is list or type(v) is tuple)" if base != "{num}" else "type(v) is dict"
            if base == "num3":
                cond += " and len(v) == 3"
            items = "v.values()" if base == "{num}" else "v"
            lines.append(f"{ind}if not ({cond} and all([type(x) is float or type(x) is int for x in {items}])):")
            lines.append(f"{ind}    out.append(({path}, 'FIELD_TYPE', {path} + ' must be {_TYPE_NAMES[base]}'))")
            lines.append(f"{ind}else: _finite_items(v, {path}, out)")
            continue
        lines.append(f"{ind}if not ({_CHECK_SNIPPETS[base]}):")
        lines.append(f"{ind}    out.append(({path}, 'FIELD_TYPE', {path} + ' must be {_TYPE_NAMES[base]}'))")
        if base in ("obj", "{obj}", "contribs", "trace"):
            lines.append(f"{ind}elif free_finite: _free_finite(v, {path}, out)")
    lines.append("    return out")
    return "\n".join(lines)


def _finite_items(v, path, out):
    items = v.items() if type(v) is dict else enumerate(v)
    for k, x in items:
        if type(x) is float and x - x != 0.0:
            where = f"{path}.{k}" if type(v) is dict else f"{path}[{k}]"
            out.append((where, "NUMBER_NOT_FINITE", f"{where} must be a finite number"))


def _free_finite(v, path, out):
    bad = nonfinite_path(v)
    if bad is not None:
        where = f"{path}{'' if bad.startswith('[') else '.'}{bad}" if bad else path
        out.append((where, "NUMBER_NOT_FINITE", f"{where} must be a finite number (files stay strict JSON)"))


def _build_checkers():
    ns = {"_M": object(), "_finite_items": _finite_items, "_free_finite": _free_finite}
    src = []
    for typed in (False, True):
        pre = "typed_" if typed else "check_"
        src += [_gen_checker(f"{pre}{name}", table, typed) for name, table in schema.PROFILES.items()]
        src.append(_gen_checker(f"{pre}top", schema.TOP, typed))
    exec(compile("\n\n".join(src), "<datapack_client.records.validation>", "exec"), ns)
    return ns["check_top"], ns["typed_top"]


_check_top, _typed_top = _build_checkers()


def type_violations(rec: dict, index: int = 0, pack_id: str | None = None,
                    check_free_finite: bool = False, typed: bool = False) -> list[Violation]:
    """FIELD_TYPE / NUMBER_NOT_FINITE for every modelled field (docs/schema.md §1).
    check_free_finite also rejects NaN/Infinity inside free-form values (the
    wire path parses free JSON strictly, so only in-process records need it).
    typed=True: the record was decoded from a message without verbatim values,
    so only what protobuf typing cannot guarantee is checked (finiteness,
    lengths, objects in JSON-text fields)."""
    check = _typed_top if typed else _check_top
    return [Violation(index, pack_id, p, r, m) for p, r, m in check(rec, "", [], check_free_finite)]


# Nesting bound of an appended record (containers, the record object included).
# Lines are written and re-encoded (revision lines, wire responses) by orjson,
# which refuses more than 254 levels; readers (the server's storage/lines.py) accept up to
# 252 so that legacy mapping (+1 level) still re-encodes. Appends stay below both.
MAX_RECORD_DEPTH = 250
SKILL_ID_MAX = 2 ** 63 - 1
_ORJSON_MAX_DEPTH = 254
_INT_MIN, _UINT_MAX = -(2 ** 63), 2 ** 64 - 1


def _wrapped(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode()
        return True
    except UnicodeEncodeError:
        return False


def encoding_violation(rec: Any, max_depth: int = MAX_RECORD_DEPTH) -> tuple[str, str] | None:
    """(path, message) when `rec` cannot be written as one JSON line within
    max_depth levels (too deep, an integer beyond 64 bits, a value JSON has no
    type for), else None. One C-speed encode; the walk runs only on failure."""
    try:
        orjson.dumps(_wrapped(rec, _ORJSON_MAX_DEPTH - max_depth), option=orjson.OPT_NON_STR_KEYS)
        return None
    except TypeError:
        pass
    stack = [(rec, "", 1)]
    while stack:  # iterative: the value may be nested deeper than Python's recursion limit
        v, path, depth = stack.pop()
        if isinstance(v, (dict, list, tuple)):
            if depth > max_depth:
                return path, f"{path or 'record'} nests deeper than {max_depth} levels"
            if isinstance(v, dict):
                for k in v:
                    if isinstance(k, str) and not _encodable(k):
                        return path, f"{path or 'record'} has a key that is not valid Unicode (a lone surrogate)"
                children = [(x, f"{path}.{k}" if path else str(k), depth + 1) for k, x in v.items()]
            else:
                children = [(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v)]
            stack.extend(reversed(children))
        elif isinstance(v, str):
            if not _encodable(v):
                return path, f"{path} holds text that is not valid Unicode (a lone surrogate)"
        elif isinstance(v, bool) or v is None or isinstance(v, float):
            continue
        elif isinstance(v, int):
            if not _INT_MIN <= v <= _UINT_MAX:
                return path, f"{path} is an integer beyond 64 bits"
        else:
            return path, f"{path} holds a {type(v).__name__}, which JSON cannot represent"
    return "", "record is not JSON-serialisable"


def _canonical_skill_key(k: Any) -> bool:
    if type(k) is int:
        return k >= 0
    return type(k) is str and k.isdigit() and k.isascii() and (k == "0" or k[0] != "0")


def record_violations(rec: dict, index: int = 0, check_free_finite: bool = False,
                      typed: bool = False) -> list[Violation]:
    """Every invariant of docs/repository.md §5 (except uniqueness, checked
    under the task lock) on a normalised record, in a fixed order: identity,
    encoding, field types, bucket and ΔJ, skill trace, enumerations."""
    pid = rec.get("pack_id")
    # An over-long id is not echoed into every violation: status trailers have a size limit.
    pack_id = pid if type(pid) is str and len(pid) <= PACK_ID_MAX_CHARS else None
    out: list[Violation] = []

    def bad(field: str, reason: str, message: str) -> None:
        out.append(Violation(index, pack_id, field, reason, message))

    _identity_violations(rec, bad)
    unencodable = encoding_violation(rec)
    if unencodable is not None:
        bad(unencodable[0], "FIELD_TYPE", unencodable[1])
        check_free_finite = False  # the walk below recurses; the record is refused anyway

    types = type_violations(rec, index, pack_id, check_free_finite, typed)
    # Fields with a dedicated reason are reported by it, not as FIELD_TYPE.
    dedicated = {"schema_version", "task_name", "pack_id", "bucket", "attribution.delta_J", "skill_trace"}
    out.extend(v for v in types if v.field not in dedicated)

    attribution = rec.get("attribution")
    attribution = attribution if type(attribution) is dict else {}
    _bucket_violations(rec, attribution, bad)
    _trace_violations(rec.get("skill_trace"), bad)
    _enum_violations(rec, attribution, bad)
    return out


# Each check below reports through `bad(field, reason, message)`.
Report = Callable[[str, str, str], None]


def _identity_violations(rec: dict, bad: Report) -> None:
    """schema_version, task_name, pack_id."""
    sv = rec.get("schema_version")
    if sv not in schema.SCHEMA_VERSIONS:
        bad("schema_version", "SCHEMA_VERSION_UNKNOWN",
            f"schema_version {shown(sv)} is not one of {', '.join(schema.SCHEMA_VERSIONS)}")
    if not task_name_ok(rec.get("task_name")):
        bad("task_name", "TASK_NAME_INVALID",
            "task_name must be 1-128 characters of [A-Za-z0-9_.-] without '..'")
    pid = rec.get("pack_id")
    if type(pid) is not str or pid == "":
        bad("pack_id", "PACK_ID_REQUIRED", "pack_id must be a non-empty string")
    elif not pack_id_ok(pid):
        # Ids are printed by tools and logs: no control or bidi characters.
        bad("pack_id", "PACK_ID_INVALID",
            f"pack_id must be at most {PACK_ID_MAX_CHARS} printable characters (no control, format or "
            "separator characters other than the space)")


def _bucket_violations(rec: dict, attribution: dict, bad: Report) -> None:
    """The bucket, a finite ΔJ whose sign agrees with it, and the
    counterfactual plan a negative pack needs."""
    bucket = rec.get("bucket")
    if bucket not in schema.BUCKETS:
        bad("bucket", "BUCKET_INVALID", f"bucket {shown(bucket)} must be 'positive' or 'negative'")
    dj = attribution.get("delta_J", 0.0)
    if not _is_num(dj) or (type(dj) is float and not math.isfinite(dj)):
        bad("attribution.delta_J", "DELTA_J_NOT_FINITE", "attribution.delta_J must be a finite number")
    elif bucket in schema.BUCKETS and (dj >= 0) != (bucket == "positive"):
        bad("bucket", "BUCKET_SIGN_MISMATCH",
            f"bucket {shown(bucket)} disagrees with delta_J {shown(dj)} (ΔJ ≥ 0 ⇔ positive)")
    if bucket == "negative":
        cf = rec.get("counterfactual_plan")
        if type(cf) is not dict or not cf:
            bad("counterfactual_plan", "COUNTERFACTUAL_REQUIRED",
                "a negative pack needs a non-empty counterfactual_plan object")


def _trace_violations(trace: Any, bad: Report) -> None:
    """A non-empty skill trace of objects with int64 skill ids and times that never go back."""
    if type(trace) not in (list, tuple) or not trace:
        bad("skill_trace", "SKILL_TRACE_EMPTY", "skill_trace must be a non-empty array")
        return
    prev_t = None
    for i, entry in enumerate(trace):
        if type(entry) is not dict:
            bad(f"skill_trace[{i}]", "SKILL_ID_INVALID", f"skill_trace[{i}] must be an object")
            continue
        sid = entry.get("skill_id")
        if type(sid) is not int or not 0 <= sid <= SKILL_ID_MAX:
            # The bound: skill ids travel as int64 (filters, statistics, adapters).
            bad(f"skill_trace[{i}].skill_id", "SKILL_ID_INVALID",
                f"skill_trace[{i}].skill_id must be an integer from 0 to 2^63-1, got {shown(sid)}")
        t = entry.get("t")
        if type(t) is not int or t < 0:
            bad(f"skill_trace[{i}].t", "SKILL_TRACE_TIME_ORDER",
                f"skill_trace[{i}].t must be an integer ≥ 0, got {shown(t)}")
        else:
            if prev_t is not None and t < prev_t:
                bad(f"skill_trace[{i}].t", "SKILL_TRACE_TIME_ORDER",
                    f"skill_trace[{i}].t={t} is before the previous entry's t={prev_t}")
            prev_t = t


def _enum_violations(rec: dict, attribution: dict, bad: Report) -> None:
    """engine_type, source_type, wm_role, counterfactual_source, skill_contribs keys."""
    condition = rec.get("condition")
    if type(condition) is dict:
        et = condition.get("engine_type")
        if et not in schema.ENGINE_TYPES:
            bad("condition.engine_type", "ENUM_INVALID",
                f"condition.engine_type {shown(et)} is not one of {', '.join(schema.ENGINE_TYPES)}")
    st = attribution.get("source_type", "real")
    if st not in schema.SOURCE_TYPES:
        bad("attribution.source_type", "ENUM_INVALID",
            f"attribution.source_type {shown(st)} is not one of {', '.join(schema.SOURCE_TYPES)}")
    role = attribution.get("wm_role")
    if role is not None and role not in schema.WM_ROLES:
        bad("attribution.wm_role", "ENUM_INVALID",
            f"attribution.wm_role {shown(role)} is not null or one of {', '.join(schema.WM_ROLES)}")
    cs = rec.get("counterfactual_source")
    if cs is not None and cs not in schema.COUNTERFACTUAL_SOURCES:
        bad("counterfactual_source", "ENUM_INVALID",
            f"counterfactual_source {shown(cs)} is not null or one of {', '.join(schema.COUNTERFACTUAL_SOURCES)}")
    contribs = attribution.get("skill_contribs")
    if type(contribs) is dict:
        for k in contribs:
            if not _canonical_skill_key(k):
                bad(f"attribution.skill_contribs.{k}", "SKILL_CONTRIBS_KEY_INVALID",
                    f"skill_contribs key {shown(k)} must be an integer ≥ 0 or its canonical decimal string")
