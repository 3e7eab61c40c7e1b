"""Python records: DataPackMeta and its profiles (docs/schema.md §3-§5).

A record is a view over one JSON object in the layout of the stored line (the
"backing dict"), so building one from a line or a wire message costs nothing and
`to_dict()` is an exact copy. Attribute access follows the documented API
(`dp.attribution.trust_score`, `dp.sima_annotation.instruction`).

Python conveniences that differ from JSON (docs/schema.md §1, §8.4):
  * `condition.vase_offset` is a tuple;
  * `attribution.skill_contribs` has integer keys ("4" in JSON -> 4);
  * a stored value of the wrong type is exposed as stored (e.g. None);
  * a required profile stored as a non-object is exposed as a default profile,
    while the stored value is what `to_dict()` writes back;
  * an optional profile stored as {} or null is None.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from datapack_client.records import jsonio, schema

_MISSING = object()


class FieldOmittedError(LookupError):
    """A field that the query left out of this record was read (the portable
    artifacts, unless the query passed include_artifacts=True)."""

    def __init__(self, key: str):
        super().__init__(f"{key} was left out of this query result (it is stored); query with "
                         f"include_artifacts=True or get() the pack to read it")
        self.key = key


def copy_json(v: Any) -> Any:
    """Exact deep copy of a JSON value (keeps int/float kinds, NaN, key order)."""
    t = type(v)
    if t is dict:
        return {k: copy_json(x) for k, x in v.items()}
    if t is list or t is tuple:
        return [copy_json(x) for x in v]
    return v


def _canonical_skill_key(k: Any) -> Any:
    if type(k) is str and k.isdigit() and k.isascii() and (k == "0" or k[0] != "0"):
        return int(k)
    return k


def contribs_from_json(v: Any) -> Any:
    if type(v) is not dict:
        return v
    return {_canonical_skill_key(k): x for k, x in v.items()}


def contribs_to_json(v: Any) -> Any:
    if type(v) is not dict:
        return v
    return {(str(k) if type(k) is int else k): x for k, x in v.items()}


class Profile:
    """Base of the profile views. Subclasses get one property per schema field."""

    __slots__ = ("_d",)
    _d: dict
    _TABLE: tuple = ()
    _KEYS: frozenset = frozenset()

    def __init__(self, extra: dict | None = None, **fields: Any):
        unknown = set(fields) - self._KEYS
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected field(s): {sorted(unknown)}")
        d = {}
        for key, kind, default in self._TABLE:
            v = fields.get(key, _MISSING)
            d[key] = schema.default_value(default) if v is _MISSING else _to_json_field(kind, v)
        if extra:
            for k, v in extra.items():
                if k not in d:
                    d[k] = v
        self._d = d

    @classmethod
    def wrap(cls, d: dict):
        """A view over the profile object `d` itself (not copied)."""
        obj = cls.__new__(cls)
        obj._d = d
        return obj

    @classmethod
    def from_dict(cls, d: dict):
        """A profile from its JSON object (copied; missing fields get defaults)."""
        return cls.wrap(schema.normalize_profile(cls._TABLE, copy_json(d)))

    def to_dict(self) -> dict:
        return copy_json(self._d)

    def json_object(self) -> dict:
        """The JSON object this view reads and writes (not a copy)."""
        return self._d

    @property
    def extra(self) -> dict:
        """The profile's unmodelled keys, in order (a live view is not kept: copy)."""
        return {k: v for k, v in self._d.items() if k not in self._KEYS}

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and _json_equal(self._d, other._d)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={getattr(self, k)!r}" for k, _, _ in self._TABLE)
        return f"{type(self).__name__}({inner})"


def _to_json_field(kind: str, v: Any) -> Any:
    if isinstance(v, Profile):
        return v._d
    if kind == "num3" and type(v) is tuple:
        return list(v)
    return v


def _make_property(key: str, kind: str) -> property:
    if kind == "num3":
        def get(self):
            v = self._d.get(key)
            return tuple(v) if type(v) is list else v
    elif kind == "contribs":
        def get(self):
            v = self._d.get(key)
            if type(v) is dict and any(type(k) is str for k in v):
                v = self._d[key] = contribs_from_json(v)
            return v
    else:
        def get(self):
            return self._d.get(key)

    def set_(self, value):
        self._d[key] = _to_json_field(kind, value)

    return property(get, set_, doc=f"JSON key `{key}` ({kind}).")


def _profile_class(name: str, table: tuple) -> type[Profile]:
    ns: dict = {"__slots__": (), "_TABLE": table, "_KEYS": frozenset(k for k, _, _ in table)}
    for key, kind, _ in table:
        ns[key] = _make_property(key, kind)
    return type(name, (Profile,), ns)


ConditionProfile = _profile_class("ConditionProfile", schema.CONDITION)
AttributionProfile = _profile_class("AttributionProfile", schema.ATTRIBUTION)
EnergyProfile = _profile_class("EnergyProfile", schema.ENERGY)
SimaAnnotation = _profile_class("SimaAnnotation", schema.SIMA)
ObjectiveProfile = _profile_class("ObjectiveProfile", schema.OBJECTIVE)
ProcessRewardProfile = _profile_class("ProcessRewardProfile", schema.PROCESS_REWARD)
EmbodimentProfileSummary = _profile_class("EmbodimentProfileSummary", schema.EMBODIMENT)
GuidanceProfile = _profile_class("GuidanceProfile", schema.GUIDANCE)

_PROFILE_CLASSES = {c.__name__: c for c in (
    ConditionProfile, AttributionProfile, EnergyProfile, SimaAnnotation, ObjectiveProfile,
    ProcessRewardProfile, EmbodimentProfileSummary, GuidanceProfile)}


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: literal kinds matter (1 != 1.0), NaN == NaN."""
    ta, tb = type(a), type(b)
    if ta is tuple:
        a, ta = list(a), list
    if tb is tuple:
        b, tb = list(b), list
    if ta is not tb:
        return False
    if ta is dict:
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if ta is list:
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if ta is float and a != a:
        return b != b
    return a == b


json_equal = _json_equal


def _whole_record_only(key: str):
    raise LookupError(key)


class DataPackMeta:
    """One datapack (docs/schema.md §3), a view over the JSON object of its line."""

    # _omitted: keys the read left out (schema.ARTIFACT_KEYS of a basic-view query).
    # _load / _load_key / _partial: see lazy() and lazy_by_key().
    __slots__ = ("_d", "_profiles", "_revision", "_load", "_load_key", "_partial", "_omitted")
    _d: dict
    _profiles: dict[str, Profile] | None
    _revision: int
    _load: Callable[[], dict] | None
    _load_key: Callable[[str], Any] | None
    _partial: Any  # a dict while lazy_by_key loads keys one at a time, else None
    _omitted: tuple[str, ...]

    _KEYS = frozenset(schema.TOP_KEYS)

    def __getattr__(self, name: str):
        # Only reached for an unset slot: a lazy record (e.g. one received over
        # the wire) is decoded on first use, so a query that returns many packs
        # costs only the protobuf parse until a pack is looked at.
        if name == "_d":
            d = object.__getattribute__(self, "_load")()
            partial = self._partial
            if partial:  # keys decoded earlier stay the same objects (views handed out)
                for k, v in partial.items():
                    d[k] = v
            for k in self._omitted:
                d.pop(k, None)
            self._d = d
            self._load = self._load_key = self._partial = None
            return d
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __init__(self, extra: dict | None = None, **fields: Any):
        unknown = set(fields) - self._KEYS
        if unknown:
            raise TypeError(f"DataPackMeta() got unexpected field(s): {sorted(unknown)}")
        d: dict = {}
        for key, kind, default in schema.TOP:
            v = fields.get(key, _MISSING)
            if v is _MISSING:
                if kind.startswith("P:"):
                    v = schema.default_profile(schema.PROFILE_OF_KEY[key])
                elif key == "pack_id":
                    v = str(uuid.uuid4())
                elif key == "env_type":
                    tn = fields.get("task_name", "drawer_vase")
                    v = tn if isinstance(tn, str) else "drawer_vase"
                elif key == "created_at":
                    v = schema.utc_now()
                else:
                    v = schema.default_value(default)
            elif isinstance(v, Profile):
                v = v._d
            d[key] = v
        if extra:
            for k, v in extra.items():
                if k not in d:
                    d[k] = v
        self._d = d
        self._profiles = None
        self._revision = 1
        self._omitted = ()

    # -- construction from and to the line layout

    @classmethod
    def wrap(cls, d: dict, revision: int = 1) -> DataPackMeta:
        """A record over the normalised JSON object `d` itself (not copied):
        for readers that own `d`, such as a store loading a line."""
        obj = cls.__new__(cls)
        obj._d = d
        obj._profiles = None
        obj._revision = revision
        obj._omitted = ()
        return obj

    @classmethod
    def lazy(cls, loader: Callable[[], dict], revision: int = 1) -> DataPackMeta:
        """A record whose normalised JSON object `loader()` produces on first
        use: the embedded repository defers parsing lines it has already read."""
        obj = cls.__new__(cls)
        obj._load = loader
        obj._load_key = obj._partial = None
        obj._profiles = None
        obj._revision = revision
        obj._omitted = ()
        return obj

    @classmethod
    def lazy_by_key(cls, loader: Callable[[], dict], key_loader: Callable[[str], Any], omitted: tuple,
                    revision: int = 1) -> DataPackMeta:
        """Like lazy(), and each top-level key read before the whole record is
        needed comes from `key_loader(key)` alone (LookupError: that key needs
        the whole record). `omitted`: the keys the read left out. For records
        received over the wire (datapack_client.wire.fastdecode)."""
        obj = cls.lazy(loader, revision)
        obj._load_key = key_loader
        obj._partial = {}
        obj._omitted = omitted
        return obj

    @classmethod
    def lazy_known(cls, loader: Callable[[], dict], known: dict, omitted: tuple, revision: int = 1) -> DataPackMeta:
        """Like lazy(), with some top-level keys known without loading (`known`,
        e.g. the pack_id a bulk read sends beside each line); reading any other
        key loads the whole record. `omitted`: the keys the read left out."""
        obj = cls.__new__(cls)
        obj._load = loader
        obj._load_key = _whole_record_only
        obj._partial = known
        obj._profiles = None
        obj._revision = revision
        obj._omitted = omitted
        return obj

    def json_object(self) -> dict:
        """The normalised JSON object behind this record (not a copy): what a
        store writes or a codec encodes without copying it first."""
        return self._d

    def _get_raw(self, key: str):
        """The stored JSON value of a top-level key, loading only that key of a
        lazy_by_key record that has not been materialised."""
        try:
            return object.__getattribute__(self, "_d").get(key)
        except AttributeError:
            pass
        key_loader = self._load_key
        if key_loader is not None:
            partial = self._partial
            if key in partial:
                return partial[key]
            try:
                value = key_loader(key)
            except LookupError:
                return self._d.get(key)
            partial[key] = value
            return value
        return self._d.get(key)

    @classmethod
    def from_dict(cls, d: dict) -> DataPackMeta:
        """A record from the JSON object of a line. The input is copied, missing
        keys get defaults (docs/schema.md §8.2); pack_id/created_at, when missing,
        get a new UUID4 / the current UTC time."""
        if type(d) is not dict:
            raise TypeError("DataPackMeta.from_dict() takes a dict")
        rec = schema.normalize_record(copy_json(d), pack_id=str(uuid.uuid4()), created_at=schema.utc_now())
        return cls.wrap(rec)

    @classmethod
    def from_json(cls, line: str | bytes) -> DataPackMeta:
        value = jsonio.loads(line)
        if type(value) is not dict:
            raise ValueError("a datapack line must be a JSON object")
        return cls.wrap(schema.normalize_record(
            value, pack_id=str(uuid.uuid4()), created_at=schema.utc_now()))

    def to_dict(self) -> dict:
        """The JSON object of the line: 41 keys in schema order, then unmodelled
        keys (without the keys listed in omitted_fields)."""
        out = copy_json(self._d)
        attribution = out.get("attribution")
        if type(attribution) is dict and "skill_contribs" in attribution:
            attribution["skill_contribs"] = contribs_to_json(attribution["skill_contribs"])
        return out

    def to_json(self) -> str:
        """The stored line without its trailing newline."""
        return jsonio.dumps(self.to_dict()).decode()

    def copy(self) -> DataPackMeta:
        c = DataPackMeta.wrap(copy_json(self._d), self._revision)
        c._omitted = self._omitted
        return c

    @property
    def omitted_fields(self) -> tuple:
        """Keys whose stored value this read left out (see query(include_artifacts=...))."""
        return self._omitted

    # -- profile attributes

    def _profile(self, key: str, cls: type[Profile], optional: bool):
        cache = self._profiles
        if cache is None:
            cache = self._profiles = {}
        view = cache.get(key)
        v = self._get_raw(key)
        if view is not None and (view._d is v or not isinstance(v, dict)):
            return view
        if type(v) is dict and (v or not optional):
            view = cls.wrap(v)
        elif optional:
            return None
        else:
            # Stored as a non-object: expose defaults, keep the stored value for write-back.
            view = cls.wrap(schema.default_profile(cls.__name__))
        cache[key] = view
        return view

    def _set_profile(self, key: str, value: Any) -> None:
        if self._profiles:
            self._profiles.pop(key, None)
        self._d[key] = value._d if isinstance(value, Profile) else value

    # -- conveniences (docs/schema.md §3)

    def get_skill_ids(self) -> list[int]:
        """skill_id of every trace entry in trace order (invalid entries skipped)."""
        trace = self._get_raw("skill_trace")
        if type(trace) is not list:
            return []
        out = []
        for e in trace:
            if type(e) is dict:
                s = e.get("skill_id")
                if type(s) is int and 0 <= s <= 9223372036854775807:  # int64, as on the wire and in the index
                    out.append(s)
        return out

    def has_skill(self, skill_id: int) -> bool:
        return skill_id in self.get_skill_ids()

    def total_duration(self) -> int:
        trace = self._get_raw("skill_trace")
        if type(trace) is not list:
            return 0
        total = 0
        for e in trace:
            if type(e) is dict:
                v = e.get("duration")
                if type(v) is int:
                    total += v
        return total

    @property
    def extra(self) -> dict:
        """Unmodelled top-level keys, in order."""
        return {k: v for k, v in self._d.items() if k not in self._KEYS}

    @property
    def revision(self) -> int:
        """1-based revision number of the served record (docs/repository.md §3.3)."""
        return self._revision

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DataPackMeta) and _json_equal(self.to_dict(), other.to_dict())

    def __repr__(self) -> str:
        get = self._get_raw
        return (f"DataPackMeta(pack_id={get('pack_id')!r}, task_name={get('task_name')!r}, "
                f"bucket={get('bucket')!r}, revision={self._revision})")

    def __iter__(self) -> Iterator:  # pragma: no cover - guard against dict-like misuse
        raise TypeError("DataPackMeta is not iterable; use to_dict()")


def _top_property(key: str, kind: str) -> property:
    if kind.startswith("P"):
        return _profile_property(key, _PROFILE_CLASSES[kind.split(":", 1)[1]], kind.startswith("P?"))
    if key in schema.ARTIFACT_KEYS:
        return _artifact_property(key, kind)

    def get(self):
        return self._get_raw(key)

    def set_(self, value):
        self._d[key] = value

    return property(get, set_, doc=f"JSON key `{key}` ({kind}).")


def _profile_property(key: str, cls: type[Profile], optional: bool) -> property:
    def get(self):
        return self._profile(key, cls, optional)

    def set_(self, value):
        self._set_profile(key, value)

    return property(get, set_, doc=f"Profile `{key}` ({cls.__name__}).")


def _artifact_property(key: str, kind: str) -> property:
    """A portable artifact: reading one the query left out raises FieldOmittedError."""
    def get(self):
        v = self._get_raw(key)
        if v is None and key in self.omitted_fields:
            raise FieldOmittedError(key)
        return v

    def set_(self, value):
        if self.omitted_fields:
            self._omitted = tuple(k for k in self._omitted if k != key)
        self._d[key] = value

    return property(get, set_, doc=f"JSON key `{key}` ({kind}); see omitted_fields.")


for _key, _kind, _ in schema.TOP:
    setattr(DataPackMeta, _key, _top_property(_key, _kind))
del _key, _kind
