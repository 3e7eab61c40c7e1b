"""Wire codec: DataPackMeta protobuf message <-> JSON value of the stored line.

Driven by the message descriptors (field order = key order, `json_name` for keys
that are not field names, `*_json` fields for free JSON) and by the schema
tables (which keys may be null). See the file comment of datapack.proto.

The mapping is exact: dict -> message -> dict gives an equal JSON value with
integer/float literal kinds kept. Anything a typed field cannot carry exactly
goes to the message's `verbatim_json`; unmodelled keys go to `extra_json`.
Absent keys stay absent (normalisation, which adds defaults, is a separate step).
"""
from __future__ import annotations

from typing import Any

from datapack_client.errors import invalid
from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.records import jsonio, schema
from datapack_client.wire import packed

# Operation kinds of a field plan (the compiled decoders of fastdecode.py use them too).
(SCALAR, JSON_TEXT, MESSAGE, WRAPPED_LIST, REPEATED_SCALAR, REPEATED_MESSAGE, NAMED_NUMBERS, SKILL_CONTRIBS, EXTRA,
 VERBATIM, SKIP, PACKED) = range(12)

_TABLE_OF_MESSAGE = {
    "DataPackMeta": schema.TOP,
    **schema.PROFILES,
}
_WRAPPERS = {"StringList": str, "DoubleList": float, "Int64List": int}
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class JsonTextError(ValueError):
    """A `*_json` field of a message is not valid (strict) JSON."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _camel(name: str) -> str:
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def key_of(fd) -> str:
    """The JSON key of a message field: its json_name when set explicitly, its
    name without `_json` for a free JSON text field, else its name."""
    if fd.json_name != _camel(fd.name):
        return fd.json_name
    if fd.name.endswith("_json") and fd.type == fd.TYPE_STRING:
        return fd.name[: -len("_json")]
    return fd.name


def _kind_of(fd) -> int:
    if fd.name == "extra_json":
        return EXTRA
    if fd.name == "verbatim_json":
        return VERBATIM
    if fd.name in ("revision", "omitted_fields") and fd.containing_type.name == "DataPackMeta":
        return SKIP  # output-only, not part of the line
    repeated = fd.is_repeated
    if fd.type == fd.TYPE_MESSAGE:
        sub = fd.message_type.name
        if not repeated:
            if sub == "PackedObject":
                return PACKED
            return WRAPPED_LIST if sub in _WRAPPERS else MESSAGE
        return {"NamedNumber": NAMED_NUMBERS, "SkillContribution": SKILL_CONTRIBS}.get(sub, REPEATED_MESSAGE)
    if repeated:
        return REPEATED_SCALAR
    if fd.type == fd.TYPE_STRING and fd.name.endswith("_json") and fd.json_name == _camel(fd.name):
        return JSON_TEXT
    return SCALAR


class FieldPlan:
    """How one message type maps to a JSON object."""

    def __init__(self, desc):
        self.desc = desc
        self.cls = getattr(pb, desc.name)
        table = _TABLE_OF_MESSAGE.get(desc.name)
        self.nullable = ({k for k, kind, _ in table if kind.endswith("?") or kind.startswith("P?")}
                         if table else set())
        # Repeated fields whose default is a non-empty list: an empty list is
        # indistinguishable from "absent" (which gets the default) on the wire.
        self.nonempty_default = {k for k, _kind, d in table if type(d) is list and d} if table else set()
        self.by_number: dict[int, tuple] = {}
        self.by_key: dict[str, tuple] = {}
        self.key_order: list[str] = []
        for fd in desc.fields:
            kind = _kind_of(fd)
            key = key_of(fd)
            sub = fd.message_type.name if fd.type == fd.TYPE_MESSAGE else None
            op = (kind, key, fd.name, fd.type, sub)
            self.by_number[fd.number] = op
            if kind not in (EXTRA, VERBATIM, SKIP):
                self.by_key[key] = op
                self.key_order.append(key)


_PLANS: dict[str, FieldPlan] = {}


def plan_for(name: str) -> FieldPlan:
    """The (cached) field plan of a message type of datapack.proto."""
    p = _PLANS.get(name)
    if p is None:
        p = _PLANS[name] = FieldPlan(pb.DESCRIPTOR.message_types_by_name[name])
    return p


# --------------------------------------------------------------------------- decode


def message_to_dict(msg, strict: bool = False) -> dict:
    """A message as the JSON object of the line (absent fields -> absent keys).

    strict=True (server, append path): `*_json` text must be strict JSON, so no
    NaN/Infinity can enter a new record; raises JsonTextError naming the field.
    """
    return message_fields_to_dict(msg, plan_for(msg.DESCRIPTOR.name), strict, "")


def loads_lenient(text: str) -> Any:
    """jsonio.loads for JSON text of received messages: NaN/Infinity accepted;
    text nested beyond what the parsers take (orjson stops at 1024 levels, the
    stdlib fallback at the recursion limit) is a JSONDecodeError like any other
    bad text, not a RecursionError."""
    try:
        return jsonio.loads(text)
    except RecursionError:
        raise jsonio.JSONDecodeError("JSON text nested too deep", text if type(text) is str else "", 0) from None


def _loads(text: str, strict: bool, path: str) -> Any:
    if not strict:
        return loads_lenient(text)
    try:
        return jsonio.loads_strict(text)
    except jsonio.JSONDecodeError as exc:
        raise JsonTextError(path, f"{path}: not valid JSON ({exc})") from None


def message_fields_to_dict(msg, plan: FieldPlan, strict: bool, prefix: str) -> dict:
    """message_to_dict with the plan given; `prefix` is the path of `msg` in
    the record (names the field of a JsonTextError)."""
    out: dict = {}
    extra = verbatim = None
    by_number = plan.by_number
    for fd, value in msg.ListFields():
        kind, key, _name, _t, sub = by_number[fd.number]
        if kind == SCALAR:
            out[key] = value
        elif kind == JSON_TEXT:
            out[key] = _loads(value, strict, prefix + key)
        elif kind == MESSAGE:
            out[key] = message_fields_to_dict(value, plan_for(sub), strict, f"{prefix}{key}.")
        elif kind == PACKED:
            out[key] = unpack(value, strict, prefix + key)
        elif kind == REPEATED_SCALAR or kind == WRAPPED_LIST:
            out[key] = list(value) if kind == REPEATED_SCALAR else list(value.values)
        elif kind == REPEATED_MESSAGE:
            sp = plan_for(sub)
            out[key] = [message_fields_to_dict(e, sp, strict, f"{prefix}{key}[{i}].")
                        for i, e in enumerate(value)]
        elif kind == NAMED_NUMBERS:
            out[key] = {e.name: e.value for e in value}
        elif kind == SKILL_CONTRIBS:
            out[key] = {str(e.skill_id): _loads(e.metrics_json, strict, f"{prefix}{key}.{e.skill_id}")
                        for e in value}
        elif kind == EXTRA:
            extra = side_object(value, strict, prefix + "extra_json", plan.by_key)
        elif kind == VERBATIM:
            verbatim = side_object(value, strict, prefix + "verbatim_json")
    if verbatim:
        merged = {}
        for key in plan.key_order:
            if key in verbatim:
                merged[key] = verbatim[key]
            elif key in out:
                merged[key] = out[key]
        out = merged
    if extra:
        for k, v in extra.items():
            if k not in out:
                out[k] = v
    return out


def side_object(text: str, strict: bool, path: str, modelled: dict | None = None) -> dict:
    """The object of an `extra_json` / `verbatim_json` field. It must be a JSON
    object (anything else would be merged key by key). With strict=True and
    `modelled` (extra_json), a modelled key is refused: the append path skips
    the type checks protobuf typing guarantees, which a modelled value smuggled
    in as an "unmodelled" key would otherwise bypass."""
    value = _loads(text, strict, path)
    if type(value) is not dict:
        raise JsonTextError(path, f"{path}: must be a JSON object, got {type(value).__name__}")
    if strict and modelled:
        for k in value:
            if k in modelled:
                raise JsonTextError(path, f"{path}: holds the modelled key {k!r} (use its field, "
                                          "or verbatim_json for a value the field cannot carry)")
    return value


def unpack(value, strict: bool, path: str) -> dict:
    """A PackedObject field as its JSON object; strict refuses non-finite
    numbers and JSON text that is not strict JSON (JsonTextError)."""
    if not strict:
        return packed.unpack_object(value, loads_lenient)
    try:
        return packed.unpack_object(value, jsonio.loads_strict, True, path + ".")
    except packed.NonFiniteArray as exc:
        raise JsonTextError(exc.path, f"{exc.path}: not a finite number (NaN/Infinity are refused)") from None
    except jsonio.JSONDecodeError as exc:
        raise JsonTextError(path, f"{path}: not valid JSON ({exc})") from None
    except packed.MalformedPacked as exc:
        raise JsonTextError(exc.path, f"{exc.path}: {exc}") from None


# --------------------------------------------------------------------------- encode


def dict_to_message(record: dict, name: str = "DataPackMeta"):
    """The message of a JSON object (values the typed fields cannot hold exactly
    travel in verbatim_json, unmodelled keys in extra_json)."""
    plan = plan_for(name)
    try:
        return plan.cls(**_kwargs(record, plan))
    except (TypeError, ValueError, OverflowError) as exc:
        # A value no JSON line or message can hold (nested too deep, an integer
        # beyond 64 bits, a lone surrogate, a non-JSON type): the caller's bad
        # argument, named as the append validation of the embedded repository names it.
        from datapack_client.records.validation import encoding_violation
        bad = encoding_violation(record)
        where, why = bad if bad is not None else ("", f"not representable on the wire: {exc}")
        raise invalid(where, "FIELD_TYPE", why) from None


def _fits_scalar(v: Any, ftype: int) -> bool:
    t = type(v)
    if ftype == 1:  # TYPE_DOUBLE
        return t is float
    if ftype == 9:  # TYPE_STRING
        return t is str
    if ftype == 8:  # TYPE_BOOL
        return t is bool
    # integer types
    return t is int and _INT64_MIN <= v <= _INT64_MAX


def _fits_list(v: Any, ftype: int) -> bool:
    if type(v) is not list:
        return False
    for x in v:
        if not _fits_scalar(x, ftype):
            return False
    return True


_FTYPE_OF_WRAPPER = {"StringList": 9, "DoubleList": 1, "Int64List": 3}


def _kwargs(d: dict, plan: FieldPlan) -> dict:
    kw: dict = {}
    verbatim = extra = None
    by_key = plan.by_key
    for key, v in d.items():
        op = by_key.get(key)
        if op is None:
            if extra is None:
                extra = {}
            extra[key] = v
            continue
        kind, _key, fname, ftype, sub = op
        ok = True
        if v is None:
            ok = key in plan.nullable
        elif kind == SCALAR:
            if _fits_scalar(v, ftype):
                kw[fname] = v
            else:
                ok = False
        elif kind == JSON_TEXT:
            kw[fname] = jsonio.dumps_str(v)
        elif kind == MESSAGE:
            if type(v) is dict:
                kw[fname] = _kwargs(v, plan_for(sub))
            else:
                ok = False
        elif kind == PACKED:
            if type(v) is dict:
                kw[fname] = packed.pack_object(v)
            else:
                ok = False
        elif kind == REPEATED_SCALAR:
            if _fits_list(v, ftype) and (v or key not in plan.nonempty_default):
                if v:
                    kw[fname] = v
            else:
                ok = False
        elif kind == WRAPPED_LIST:
            if _fits_list(v, _FTYPE_OF_WRAPPER[sub]):
                kw[fname] = {"values": v}
            else:
                ok = False
        elif kind == REPEATED_MESSAGE:
            if type(v) is list and all(type(e) is dict for e in v):
                sp = plan_for(sub)
                if v:
                    kw[fname] = [_kwargs(e, sp) for e in v]
            else:
                ok = False
        elif kind == NAMED_NUMBERS:
            if type(v) is dict and all(type(x) is float for x in v.values()):
                if v:
                    kw[fname] = [{"name": k, "value": x} for k, x in v.items()]
            else:
                ok = False
        elif kind == SKILL_CONTRIBS:
            entries = _contribs_entries(v)
            if entries is None:
                ok = False
            elif entries:
                kw[fname] = entries
        if not ok:
            if verbatim is None:
                verbatim = {}
            verbatim[key] = v
    if verbatim:
        kw["verbatim_json"] = jsonio.dumps_str(verbatim)
    if extra:
        kw["extra_json"] = jsonio.dumps_str(extra)
    return kw


def _contribs_entries(v: Any) -> list | None:
    """skill_contribs as entries, or None if any key is not a canonical skill id
    (such stored keys, e.g. "04", travel verbatim)."""
    if type(v) is not dict:
        return None
    entries = []
    for k, x in v.items():
        if type(k) is int and k >= 0:
            sid = k
        elif type(k) is str and k.isdigit() and k.isascii() and (k == "0" or k[0] != "0"):
            sid = int(k)
        else:
            return None
        if sid > _INT64_MAX:
            return None
        entries.append({"skill_id": sid, "metrics_json": jsonio.dumps_str(x)})
    return entries
