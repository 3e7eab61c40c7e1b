"""Compiled decoders: DataPackMeta message -> *normalised* JSON object, in one pass.

Equivalent to `schema.normalize_record(codec.message_to_dict(msg))` (a test
checks this on every reference line), but generated per message type from the
schema tables and the proto descriptors, so the hot append and query paths pay
one attribute read per field instead of a generic table walk.
"""
from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor  # type: ignore[import-untyped]

from datapack_client.proto.datapack.v1 import datapack_pb2 as pb
from datapack_client.records import jsonio, schema
from datapack_client.records.model import DataPackMeta
from datapack_client.wire import codec

_MISSING = object()


# Per protobuf scalar type: the value an unset field reads as.
_PROTO_ZERO = {FieldDescriptor.TYPE_DOUBLE: 0.0, FieldDescriptor.TYPE_FLOAT: 0.0, FieldDescriptor.TYPE_INT64: 0,
               FieldDescriptor.TYPE_INT32: 0, FieldDescriptor.TYPE_UINT32: 0, FieldDescriptor.TYPE_UINT64: 0,
               FieldDescriptor.TYPE_SINT64: 0, FieldDescriptor.TYPE_BOOL: False, FieldDescriptor.TYPE_STRING: ""}


def _reads_as_default(ftype: int, default) -> bool:
    """Whether an unset field of this type reads as `default` itself (same
    value and JSON kind): then it is read without a HasField test."""
    zero = _PROTO_ZERO.get(ftype, _MISSING)
    # -0.0 == 0.0, but is another JSON number.
    return type(zero) is type(default) and zero == default and repr(zero) == repr(default)


def _field_lines(lines: list, key: str, kind: int, fname: str, dflt: str, unset_is_default: bool = False) -> bool:
    """Append the code decoding one plain field (default `dflt` when absent;
    unset_is_default: an unset field reads as that default itself);
    False for kinds the caller must handle itself."""
    if kind == codec.SCALAR and unset_is_default:
        lines.append(f"    d[{key!r}] = m.{fname}")
    elif kind == codec.SCALAR:
        lines.append(f"    d[{key!r}] = m.{fname} if m.HasField({fname!r}) else {dflt}")
    elif kind == codec.JSON_TEXT:
        lines.append(f"    d[{key!r}] = loads(m.{fname}) if m.HasField({fname!r}) else {dflt}")
    elif kind == codec.REPEATED_SCALAR:
        lines.append(f"    v = m.{fname}")
        lines.append(f"    d[{key!r}] = list(v) if v else {dflt}")
    elif kind == codec.WRAPPED_LIST:
        lines.append(f"    d[{key!r}] = list(m.{fname}.values) if m.HasField({fname!r}) else {dflt}")
    elif kind == codec.NAMED_NUMBERS:
        lines.append(f"    v = m.{fname}")
        lines.append(f"    d[{key!r}] = {{e.name: e.value for e in v}} if v else {{}}")
    elif kind == codec.PACKED:
        lines.append(f"    d[{key!r}] = unpack(m.{fname}, loads is _strict, {key!r}) "
                     f"if m.HasField({fname!r}) else {dflt}")
    elif kind == codec.SKILL_CONTRIBS:
        lines.append(f"    v = m.{fname}")
        lines.append(f"    d[{key!r}] = {{str(e.skill_id): loads(e.metrics_json) for e in v}} if v else {{}}")
    else:
        return False
    return True


def _gen_profile(name: str, table: tuple) -> str:
    """Source of `dec_<name>(m, loads)` returning the normalised profile dict."""
    plan = codec.plan_for(name)
    lines = [f"def dec_{name}(m, loads):",
             "    if m.verbatim_json or m.extra_json:",
             f"        return _slow(m, {name!r}, loads)",
             "    d = {}"]
    for key, _kind, default in table:
        op = plan.by_key[key]
        k, _key, fname, ftype, sub = op
        dflt = repr(default)  # a literal: lists/dicts are fresh objects on every evaluation
        if not _field_lines(lines, key, k, fname, dflt, _reads_as_default(ftype, default)):
            raise AssertionError((name, key, k))
    lines.append("    return d")
    return "\n".join(lines)


def _gen_top() -> str:
    """Source of dec_DataPackMeta (the whole record) and of key_<name>
    decoders (one top-level key each, for lazily decoded records)."""
    plan = codec.plan_for("DataPackMeta")
    head = ["def dec_DataPackMeta(m, loads, created_at):",
            "    if m.verbatim_json or m.extra_json:",
            "        return _slow_top(m, loads, created_at)",
            "    d = {}"]
    per_key = []
    for key, kind, default in schema.TOP:
        lines: list[str] = []
        k, _key, fname, _ftype, sub = plan.by_key[key]
        dflt = repr(default)
        if kind.startswith("P:"):
            lines.append(f"    d[{key!r}] = dec_{sub}(m.{fname}, loads) if m.HasField({fname!r}) "
                         f"else _dp({sub!r})")
        elif kind.startswith("P?"):
            lines.append(f"    if m.HasField({fname!r}):")
            lines.append(f"        s = m.{fname}")
            lines.append(f"        d[{key!r}] = dec_{sub}(s, loads) if s.ListFields() else {{}}")
            lines.append("    else:")
            lines.append(f"        d[{key!r}] = None")
        elif key == "env_type":
            lines.append("    if m.HasField('env_type'):")
            lines.append("        d['env_type'] = m.env_type")
            lines.append("    else:")
            lines.append("        d['env_type'] = m.task_name if m.HasField('task_name') else 'drawer_vase'")
        elif key == "skill_trace":
            lines.append("    v = m.skill_trace")
            lines.append("    d['skill_trace'] = _trace(v, loads) if v else []")
        elif key == "created_at":
            lines.append("    v = m.created_at if m.HasField('created_at') else None")
            lines.append("    d['created_at'] = v if v else created_at")
        elif key == "pack_id":
            lines.append("    d['pack_id'] = m.pack_id if m.HasField('pack_id') else None")
        elif not _field_lines(lines, key, k, fname, dflt):
            raise AssertionError((key, k))
        head.extend(lines)
        per_key.append("\n".join([f"def key_{key}(m, loads, created_at):", "    d = {}", *lines,
                                  f"    return d[{key!r}]"]))
    head.append("    return d")
    return "\n\n".join(["\n".join(head), *per_key])


def _trace(entries, loads) -> list:
    """skill_trace entries; an entry with verbatim values takes the generic path."""
    out: list[dict] = []
    append = out.append
    for i, e in enumerate(entries):
        if e.verbatim_json:
            append(codec.message_fields_to_dict(e, codec.plan_for("SkillTraceEntry"), loads is _strict,
                                                f"skill_trace[{i}]."))
            continue
        d = {}
        if e.HasField("t"):
            d["t"] = e.t
        if e.HasField("skill_id"):
            d["skill_id"] = e.skill_id
        if e.HasField("params_json"):
            d["params"] = loads(e.params_json)
        if e.HasField("duration"):
            d["duration"] = e.duration
        if e.HasField("local_metrics_json"):
            d["local_metrics"] = loads(e.local_metrics_json)
        if e.extra_json:
            for k, v in codec.side_object(e.extra_json, loads is _strict, f"skill_trace[{i}].extra_json",
                                              _ENTRY_KEYS).items():
                if k not in d:
                    d[k] = v
        append(d)
    return out


_strict = jsonio.loads_strict  # orjson.loads: rejects NaN/Infinity tokens
_ENTRY_KEYS = codec.plan_for("SkillTraceEntry").by_key
_lenient = codec.loads_lenient


def _slow(m, name, loads):
    d = codec.message_fields_to_dict(m, codec.plan_for(name), loads is _strict, "")
    return schema.normalize_profile(schema.PROFILES[name], d)


def _slow_top(m, loads, created_at):
    d = codec.message_fields_to_dict(m, codec.plan_for("DataPackMeta"), loads is _strict, "")
    return schema.normalize_record(d, created_at=created_at)


def _build():
    ns: dict[str, Any] = {
        "_dv": schema.default_value, "_dp": schema.default_profile, "codec": codec,
        "_D": {n: {k: d for k, _, d in t} for n, t in schema.PROFILES.items()},
        "_DT": {k: d for k, _, d in schema.TOP}, "_slow": _slow, "_slow_top": _slow_top,
        "_strict": _strict, "_trace": _trace, "unpack": codec.unpack,
    }
    src = [_gen_profile(n, t) for n, t in schema.PROFILES.items()] + [_gen_top()]
    source = "\n\n".join(src)
    exec(compile(source, "<datapack_client.wire.fastdecode>", "exec"), ns)
    return ns, source


_NS, SOURCE = _build()
_DECODE = _NS["dec_DataPackMeta"]
KEY_DECODERS = {key: _NS[f"key_{key}"] for key in schema.TOP_KEYS}


def decode_key(msg: pb.DataPackMeta, key: str):
    """One top-level key of a wire record's normalised JSON object, or raise
    LookupError when the record must be decoded whole (values carried in the
    top-level verbatim_json / extra_json)."""
    if msg.verbatim_json or msg.extra_json:
        raise LookupError(key)
    return KEY_DECODERS[key](msg, _lenient, None)


def decode_record(msg: pb.DataPackMeta, *, strict: bool = False, created_at: str | None = None) -> dict:
    """The normalised JSON object of a wire record (strict: free JSON text must
    be strict JSON, raising codec.JsonTextError otherwise)."""
    loads = _strict if strict else _lenient
    try:
        d = _DECODE(msg, loads, created_at)
    except (jsonio.JSONDecodeError, codec.JsonTextError):
        # Re-run the generic decoder, which names the offending field with its full path.
        d = codec.message_to_dict(msg, strict=strict)
        return schema.normalize_record(d, created_at=created_at)
    return d


class _WireRecord:
    """Decodes a received message for a lazily decoded record: called with no
    argument, the whole record; with a key, that top-level key alone (one
    object per record instead of two closures)."""

    __slots__ = ("msg",)

    def __init__(self, msg: pb.DataPackMeta):
        self.msg = msg

    def __call__(self, key: str | None = None):
        if key is None:
            return decode_record(self.msg)
        return decode_key(self.msg, key)


def record_from_message(msg: pb.DataPackMeta, revision: int = 1) -> DataPackMeta:
    """A record over a received wire message: each top-level key is decoded
    when first read, the whole record only when needed."""
    decode = _WireRecord(msg)
    return DataPackMeta.lazy_by_key(decode, decode, tuple(msg.omitted_fields), revision)
