"""In-memory columnar index of one task (the current revision of every pack).

One row per pack in append order. Numeric filter/sort fields are numpy
columns; categorical values (enum strings, skill-id traces, tag sets, the
condition-tag object) are interned: a row stores a small integer code and a
filter is evaluated once per distinct value, then broadcast with a lookup.
Payloads stay on disk: a row knows where its current line is (offset, length).

New rows are buffered as tuples and written to the numpy columns in bulk on
the next read (`view`), which is several times cheaper than per-cell writes;
a large load adds whole columnar blocks instead (`add_parsed`, built by
parsing.py and rowblock.py) and is trimmed to its rows afterwards (`compact`).
The per-name energy values are kept sparsely (energy_values.py).
Values of the wrong type or null count as their schema defaults (docs/schema.md §1).
Not thread-safe by itself: the owning TaskState serialises access.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

from datapack_client.records.schema import ARTIFACT_KEYS, derived_created_at, derived_pack_id
from datapack_server.engine.energy_values import EnergyValues
from datapack_server.engine.memory import resize_entry
from datapack_server.engine.packids import PackIds, raw_id_hash

BUCKET_CODES = {"positive": 0, "negative": 1}  # any other string -> 2
SNAPSHOT_VERSION = 8  # bump when the snapshot layout changes: older snapshots are rebuilt


class Interner:
    """value <-> small integer code, in first-seen order."""

    __slots__ = ("codes", "values")

    def __init__(self) -> None:
        self.codes: dict = {}
        self.values: list = []

    def code(self, value) -> int:
        c = self.codes.get(value)
        if c is None:
            c = self.codes[value] = len(self.values)
            self.values.append(value)
        return c

    def __len__(self) -> int:
        return len(self.values)


# Columns in row-tuple order: name -> (dtype, width). Rows [0, n) are live.
COLUMNS: tuple[tuple[str, Any, int], ...] = (
    ("line_off", np.int64, 1), ("line_len", np.int32, 1), ("line_no", np.int32, 1), ("revision", np.int32, 1),
    ("bucket", np.int8, 1), ("engine", np.int32, 1), ("source", np.int32, 1), ("wm_role", np.int32, 1),
    ("wm_model", np.int32, 1),
    ("trust", np.float64, 1), ("delta_j", np.float64, 1), ("mvd", np.float64, 1), ("mvd_present", np.bool_, 1),
    ("has_sima", np.bool_, 1), ("has_cf", np.bool_, 1),
    ("trace", np.int32, 1), ("semtags", np.int32, 1), ("condtags", np.int32, 1),
    ("c_task", np.int32, 1), ("c_world", np.int32, 1), ("c_light", np.int32, 1), ("c_preset", np.int32, 1),
    ("c_friction", np.float64, 1), ("c_occlusion", np.float64, 1), ("c_price", np.float64, 1),
    ("c_break", np.float64, 1), ("c_energy_price", np.float64, 1),
    ("c_offset", np.float64, 3), ("c_offset_ok", np.bool_, 1),
    ("c_objective", np.float64, 4), ("c_objective_ok", np.bool_, 1), ("c_objective_len", np.int8, 1),
    ("created", "S32", 1),
    # Analytics (docs/adapter.md): attribution deltas and weights, energy totals, and
    # interned env_type / energy-driver tag set / canonical skill_contribs.
    ("w_econ", np.float64, 1), ("d_mpl", np.float64, 1), ("d_error", np.float64, 1), ("d_ep", np.float64, 1),
    ("total_wh", np.float64, 1), ("wh_per_unit", np.float64, 1),
    ("env_type", np.int32, 1), ("etags", np.int32, 1), ("contribs", np.int32, 1),
    # The (kind, name) energy entries a row has, in stored order: presence is
    # not visible in the per-name Wh columns (a 0-Wh entry looks absent).
    ("enames", np.int32, 1),
    # Trace entries whose skill_id is not an integer >= 0 (the `trace` column drops
    # them); docs/adapter.md §3.6 counts them as the value matrix's skipped_entries.
    ("bad_skill_entries", np.int32, 1),
    # Portable packs (docs/portable.md): the schema version, whether a heavy artifact
    # is stored (reads in the basic view leave those out), and the stored slice
    # labels: flags as 1 / 0 / -1 (no label or not a boolean), buckets interned.
    ("schema", np.int32, 1), ("has_artifacts", np.bool_, 1),
    ("sl_occluded", np.int8, 1), ("sl_dynamic", np.int8, 1), ("sl_static", np.int8, 1),
    ("sl_occ_bucket", np.int32, 1), ("sl_motion_bucket", np.int32, 1),
    # The record's task_name as stored (None when not a string): the export's flat
    # column, without reading the line.
    ("task_name", np.int32, 1),
)
COLUMN_NAMES = tuple(c[0] for c in COLUMNS)
CATEGORIES = ("engine", "source", "wm_role", "wm_model", "trace", "semtags", "condtags", "c_task", "c_world", "c_light",
              "c_preset", "env_type", "etags", "contribs", "enames", "schema", "sl_occ_bucket", "sl_motion_bucket",
              "task_name")

DEFAULT_OFFSET = (0.0, 0.0, 0.0)  # condition.vase_offset when missing
_ZERO4 = (0.0, 0.0, 0.0, 0.0)
DEFAULT_OBJECTIVE = (1.0, 1.0, 1.0, 0.5)  # condition.objective_vector when missing
_EMPTY: frozenset[str] = frozenset()


def _num(v: Any, default: float) -> float:
    t = type(v)
    return v if t is float else (float(v) if t is int else default)


def _str(v: Any, default: str | None) -> str | None:
    return v if type(v) is str else default


def _flag(v: Any) -> int:
    return (1 if v else 0) if type(v) is bool else -1


# Python type of the interned values that are not plain strings (for snapshots).
_CAT_KINDS = {"trace": tuple, "semtags": frozenset, "etags": frozenset, "condtags": bytes, "contribs": bytes,
              "enames": "pairs"}

# Positions of interned (categorical) values in a row tuple, and their tables.
_CAT_POSITIONS = tuple((COLUMN_NAMES.index(name), name) for name in CATEGORIES)


def skill_ids(trace: Any) -> tuple[tuple, int]:
    """The integer skill ids of a skill trace, and how many entries had none."""
    if type(trace) is not list or not trace:
        return (), 0
    # Valid ids fit int64 (they travel as int64; larger ones in old lines are invalid entries).
    skills = tuple([e["skill_id"] for e in trace if type(e) is dict and type(e.get("skill_id")) is int
                    and 0 <= e["skill_id"] <= 9223372036854775807])
    return skills, len(trace) - len(skills)


def vase_offset_of(cond: dict) -> tuple[tuple, bool]:
    vo = cond.get("vase_offset", DEFAULT_OFFSET)
    vo_ok = (type(vo) is list or type(vo) is tuple) and len(vo) == 3 and all(
        [type(x) is float or type(x) is int for x in vo])
    return (tuple(vo) if vo_ok else DEFAULT_OFFSET), vo_ok


def objective_of(cond: dict) -> tuple[tuple, bool, int]:
    """(the objective as 4 numbers, usable, stored length or -1). A missing key
    is the default; a stored value that is not an array of 3 or 4 numbers (null
    included) never matches the objective filter (docs/repository.md §7.3)."""
    ov = cond.get("objective_vector", DEFAULT_OBJECTIVE)
    ov_len = len(ov) if (type(ov) is list or type(ov) is tuple) and all(
        [type(x) is float or type(x) is int for x in ov]) else -1
    ov_ok = ov_len == 3 or ov_len == 4
    return ((ov[0], ov[1], ov[2], ov[3] if ov_len == 4 else 0.5) if ov_ok else _ZERO4), ov_ok, ov_len


def raw_row(rec: dict, off: int, length: int, line_no: int, revision: int) -> tuple:
    """The index row of a record with categorical values not yet interned.
    Pure (no index state), so worker processes can build rows in parallel."""
    cond = rec.get("condition")
    if type(cond) is not dict:
        cond = {}
    attr = rec.get("attribution")
    if type(attr) is not dict:
        attr = {}
    energy = rec.get("energy")
    if type(energy) is not dict:
        energy = {}
    breakdown = energy_breakdown(rec)
    etags = rec.get("energy_driver_tags")
    bucket = rec.get("bucket")
    role = attr.get("wm_role")
    mvd: Any = attr.get("mvd_score")
    mvd_ok = type(mvd) is float or type(mvd) is int
    sima = rec.get("sima_annotation")
    skills, bad_entries = skill_ids(rec.get("skill_trace"))
    tags = rec.get("semantic_tags")
    semtags = frozenset([t for t in tags if type(t) is str]) if type(tags) is list and tags else _EMPTY
    ctags = cond.get("tags")
    vase_offset, vo_ok = vase_offset_of(cond)
    objective, ov_ok, ov_len = objective_of(cond)
    created = rec.get("created_at")
    labels = rec.get("slice_labels_v1")
    if type(labels) is not dict:
        labels = {}
    return (
        off, length, line_no, revision,
        BUCKET_CODES.get(bucket, 2) if type(bucket) is str else 2,
        _str(cond.get("engine_type"), "pybullet"),
        _str(attr.get("source_type"), "real"),
        role if type(role) is str else None,
        model if type(model := attr.get("wm_model_id")) is str else None,
        _num(attr.get("trust_score"), 0.0),
        _num(attr.get("delta_J"), 0.0),
        float(mvd) if mvd_ok else 0.0, mvd_ok,
        type(sima) is dict and bool(sima),
        rec.get("counterfactual_plan") is not None,
        skills,
        semtags,
        orjson.dumps(ctags, option=orjson.OPT_NON_STR_KEYS) if type(ctags) is dict and ctags else b"{}",
        _str(cond.get("task_name"), "drawer_vase"),
        _str(cond.get("world_id"), "pyb_drawer_v1"),
        _str(cond.get("lighting_profile"), "normal"),
        _str(cond.get("econ_preset"), "drawer_vase"),
        _num(cond.get("drawer_friction"), 0.3),
        _num(cond.get("occlusion_level"), 0.0),
        _num(cond.get("price_per_unit"), 5.0),
        _num(cond.get("vase_break_cost"), 50.0),
        _num(cond.get("energy_price_kWh"), 0.12),
        vase_offset, vo_ok,
        objective, ov_ok, ov_len,
        created.encode("utf-8", "surrogatepass") if type(created) is str else b"",
        _num(attr.get("w_econ"), 0.0),
        _num(attr.get("delta_mpl"), 0.0),
        _num(attr.get("delta_error"), 0.0),
        _num(attr.get("delta_ep"), 0.0),
        _num(energy.get("total_Wh"), 0.0),
        _num(energy.get("Wh_per_unit"), 0.0),
        _str(rec.get("env_type"), _str(rec.get("task_name"), "drawer_vase")),
        frozenset([t for t in etags if type(t) is str]) if type(etags) is list and etags else _EMPTY,
        contribs_key(attr.get("skill_contribs")),
        tuple([(kind, name) for kind, name, _wh in breakdown]),
        bad_entries,
        _str(rec.get("schema_version"), "2.0-energy"),
        any([rec.get(k) is not None for k in ARTIFACT_KEYS]),
        _flag(labels.get("is_occluded")), _flag(labels.get("is_dynamic")), _flag(labels.get("is_static")),
        _str(labels.get("occlusion_bucket"), None), _str(labels.get("motion_bucket"), None),
        task if type(task := rec.get("task_name", "drawer_vase")) is str else None,  # as served (rowblock.py)
        breakdown,  # trailing, not a fixed column: see TaskIndex.energy
    )


def contribs_key(contribs) -> bytes:
    """Canonical JSON of skill_contribs for interning (most packs have none)."""
    if type(contribs) is not dict or not contribs:
        return b"{}"
    return orjson.dumps({str(k): v for k, v in contribs.items()})


def energy_breakdown(rec: dict) -> tuple:
    """(("limb", name, Wh), ..., ("skill", name, Wh), ...) of a record, in
    stored order (missing or non-numeric Wh counts as 0)."""
    energy = rec.get("energy")
    if type(energy) is not dict:
        return ()
    out = []
    for kind, key in (("limb", "energy_per_limb"), ("skill", "energy_per_skill")):
        part = energy.get(key)
        if type(part) is dict:
            for name, v in part.items():
                wh: Any = v.get("Wh") if type(v) is dict else None
                out.append((kind, name, float(wh) if type(wh) in (int, float) else 0.0))
    return tuple(out)


class TaskIndex:
    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0  # rows, including pending ones
        self.flushed = 0  # rows already in the numpy columns
        self.cap = capacity
        self.cols: dict[str, np.ndarray] = {}
        for name, dt, width in COLUMNS:
            shape = (capacity,) if width == 1 else (capacity, width)
            self.cols[name] = np.zeros(shape, dtype=dt)
        self.cats = {name: Interner() for name in CATEGORIES}
        self.ids = PackIds()
        self._pending: list[tuple] = []
        # The energy breakdown of every row (docs/adapter.md §3.15), by the row's
        # `enames` names; energy_view() gives one column per name.
        self.energy = EnergyValues(capacity)
        self.version = 0  # bumped when an existing row changes (revisions)
        self.stats_cache: tuple | None = None
        # Packs with more than one line: position -> [(offset, length, line_no), ...] oldest first.
        self.history: dict[int, list[tuple[int, int, int]]] = {}

    # -- rows

    def position(self, pack_id: str) -> int | None:
        return self.ids.get(pack_id)

    def pack_id(self, pos: int) -> str:
        return self.ids.pack_id(pos)

    def _intern(self, raw: tuple) -> tuple:
        row = list(raw)
        cats = self.cats
        for i, name in _CAT_POSITIONS:
            interner = cats[name]
            code = interner.codes.get(row[i])
            if code is None:
                code = interner.code(row[i])
            row[i] = code
        return tuple(row)

    def add(self, pack_id: str, rec: dict, off: int, length: int, line_no: int, id_hash: int | None = None) -> int:
        """Append a new pack (pack_id must be absent); returns its position."""
        return self.add_raw(pack_id, raw_row(rec, off, length, line_no, 1), id_hash)

    def add_raw(self, pack_id: str, raw: tuple, id_hash: int | None = None) -> int:
        """Append a new pack from a raw_row() tuple (built here or in a worker)."""
        pos = self.ids.add(pack_id, id_hash)
        self._pending.append(self._intern(raw))
        self.n += 1
        if len(self._pending) >= 4096:
            self.flush()
        return pos

    def add_parsed(self, block: dict, lines_before: int, file_name: str) -> bool:
        """Add a parsed range's records in bulk (parsing.parse_range_columns),
        deriving a missing pack_id or created_at from the line number
        (lines_before + the relative one) as the line-by-line path does. False,
        with nothing changed, when a pack_id repeats (within the block or
        against the index): the caller indexes the range line by line."""
        line_no = lines_before + block["rel"]
        blob, lens, hashes = block["pid_blob"], block["pid_len"], block["hashes"]
        if (lens < 0).any():
            blob, lens, hashes = _with_derived_ids(blob, lens, hashes, line_no, file_name)
        offsets = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        if _repeats(blob, offsets, hashes) or self.ids.any_present(blob, offsets, hashes):
            return False
        created = block["cols"]["created"]
        for i in np.flatnonzero(block["needs_created"]).tolist():
            value = derived_created_at(int(line_no[i])).encode()
            if len(value) > created.dtype.itemsize:
                created = created.astype(f"S{len(value)}")
            created[i] = value
        block["cols"]["created"] = created
        self.add_block(blob, lens, hashes, line_no, block)
        return True

    def add_block(self, blob: bytes, lens: np.ndarray, hashes: np.ndarray, line_no, block: dict) -> None:
        """Append many new packs at once from a columnar block; their pack ids
        (absent and distinct) are given as PackIds.add_many takes them."""
        self.flush()
        m = len(lens)
        a, b = self.n, self.n + m
        if b > self.cap:
            self._grow(b)
        self.ids.add_many(blob, lens, hashes)
        cols = self.cols
        cols["line_off"][a:b] = block["off"]
        cols["line_len"][a:b] = block["len"]
        cols["line_no"][a:b] = line_no
        cols["revision"][a:b] = 1
        for name, arr in block["cols"].items():
            if name == "created" and arr.dtype.itemsize > cols[name].dtype.itemsize:
                cols[name] = cols[name].astype(f"S{max(arr.dtype.itemsize, 2 * cols[name].dtype.itemsize)}")
            cols[name][a:b] = arr
        for name, (codes, table) in block["cats"].items():
            interner = self.cats[name]
            mapping = np.array([interner.code(v) for v in table], dtype=np.int32)
            cols[name][a:b] = mapping[codes]
        enames = self.cats["enames"].values
        self.energy.sync_names(enames)
        local_codes, local_table = block["cats"]["enames"]
        counts = np.array([len(t) for t in local_table], dtype=np.int64)[local_codes]
        self.energy.append_rows(a, counts, block["energy_wh"])
        self.n = self.flushed = b

    def revise(self, pos: int, rec: dict, off: int, length: int, line_no: int) -> int:
        """Record a new revision line of the pack at pos; returns its revision number."""
        self.flush()
        cols = self.cols
        hist = self.history.get(pos)
        if hist is None:
            hist = self.history[pos] = [(int(cols["line_off"][pos]), int(cols["line_len"][pos]),
                                         int(cols["line_no"][pos]))]
        hist.append((off, length, line_no))
        rev = int(cols["revision"][pos]) + 1
        self.version += 1
        row = self._intern(raw_row(rec, off, length, line_no, rev))
        for (name, _dt, _w), value in zip(COLUMNS, row):
            self._assign(name, pos, value)
        self.energy.sync_names(self.cats["enames"].values)
        self.energy.set_row(pos, [wh for _kind, _name, wh in row[-1]])
        return rev

    def _assign(self, name: str, pos: int, value) -> None:
        col = self.cols[name]
        if name == "created" and len(value) > col.dtype.itemsize:
            col = self.cols[name] = col.astype(f"S{max(len(value), 2 * col.dtype.itemsize)}")
        col[pos] = value

    # -- bulk flush

    def _grow(self, need: int) -> None:
        cap = max(self.cap, 1024)
        while cap < need:
            cap *= 2
        self._resize(cap)

    def _resize(self, cap: int) -> None:
        for name in list(self.cols):
            resize_entry(self.cols, name, cap)
        self.energy.grow_rows(cap)
        self.cap = cap

    def compact(self) -> None:
        """Drop spare capacity: after a bulk load the columns hold exactly the
        rows (the next append grows them again, by doubling)."""
        self.flush()
        if self.cap > self.n:
            self._resize(self.n)
        self.energy.compact(self.n)
        self.ids.compact()

    def flush(self) -> None:
        rows = self._pending
        if not rows:
            return
        a, b = self.flushed, self.flushed + len(rows)
        if b > self.cap:
            self._grow(b)
        for name, values in zip(COLUMN_NAMES, zip(*rows)):
            if name == "created":
                width = max(map(len, values))
                if width > self.cols[name].dtype.itemsize:
                    self.cols[name] = self.cols[name].astype(f"S{max(width, 2 * self.cols[name].dtype.itemsize)}")
            self.cols[name][a:b] = values
        self.energy.sync_names(self.cats["enames"].values)
        counts = np.fromiter(map(len, (row[-1] for row in rows)), dtype=np.int64, count=len(rows))
        self.energy.append_rows(a, counts, [wh for row in rows for _kind, _name, wh in row[-1]])
        self.flushed = b
        self._pending = []

    # -- reads

    def view(self, name: str) -> np.ndarray:
        if self._pending:
            self.flush()
        return self.cols[name][: self.n]

    def energy_view(self, rows: np.ndarray | None = None) -> dict[tuple[str, str], np.ndarray]:
        """("limb"|"skill", name) -> Wh of every row, or of the given rows (an
        index array or a boolean mask) in their order; 0 where a row has no
        such entry; names in first-appearance order. Built on each call (the
        index keeps the values sparsely), so a caller that sums a subset
        passes it here rather than indexing the full columns."""
        if self._pending:
            self.flush()
        codes, start = self.cols["enames"][: self.n], self.energy.start[: self.n]
        if rows is not None:
            codes, start = codes[rows], start[rows]
        return self.energy.dense(codes, start, self.cats["enames"].values)

    def memory_bytes(self) -> int:
        return (sum(a[: self.n].nbytes for a in self.cols.values()) + self.energy.memory_bytes(self.n)
                + self.ids.memory_bytes())

    # -- snapshot (see store.py for when it is written and trusted)

    def state(self) -> dict:
        self.flush()
        st = {f"col_{name}": arr[: self.n].copy() for name, arr in self.cols.items()}
        st.update(self.energy.state(self.n, self.cols["enames"][: self.n], self.cats["enames"].values))
        st.update(self.ids.state())
        hist = sorted(self.history.items())
        st["hist_pos"] = np.array([p for p, lines in hist for _ in lines], dtype=np.int64)
        st["hist_lines"] = np.array([line for _, lines in hist for line in lines], dtype=np.int64).reshape(-1, 3)
        cats = {}
        for name, interner in self.cats.items():
            kind = _CAT_KINDS.get(name)
            vals = interner.values
            if kind is tuple or kind == "pairs":
                vals = [list(v) for v in vals]
            elif kind is frozenset:
                vals = [sorted(v) for v in vals]
            elif kind is bytes:
                vals = [v.decode("utf-8", "surrogatepass") for v in vals]
            cats[name] = vals
        st["cats"] = np.frombuffer(orjson.dumps(cats), dtype=np.uint8)
        return st

    @classmethod
    def from_state(cls, st: dict) -> TaskIndex:
        n = len(st["col_line_off"])
        ix = cls(capacity=0)
        # Adopt the loaded arrays as the columns (no copy, no 2x peak); the
        # next append grows them.
        for name, dt, width in COLUMNS:
            arr = st[f"col_{name}"]
            if arr.shape[1:] != (() if width == 1 else (width,)) or len(arr) != n or (
                    name != "created" and arr.dtype != np.dtype(dt)):
                raise ValueError(f"snapshot column {name} of another shape or type")
            ix.cols[name] = arr
        ix.cap = ix.n = ix.flushed = n
        cats = orjson.loads(st["cats"].tobytes())
        for name, vals in cats.items():
            kind = _CAT_KINDS.get(name)
            if kind is tuple:
                vals = [tuple(v) for v in vals]
            elif kind == "pairs":
                vals = [tuple(tuple(p) for p in v) for v in vals]
            elif kind is frozenset:
                vals = [frozenset(v) for v in vals]
            elif kind is bytes:
                vals = [v.encode("utf-8", "surrogatepass") for v in vals]
            interner = ix.cats[name]
            interner.values = list(vals)
            interner.codes = {v: i for i, v in enumerate(vals)}
        if ix.cols["enames"].size and (ix.cols["enames"].min() < 0 or ix.cols["enames"].max() >= len(
                ix.cats["enames"].values)):
            raise ValueError("snapshot enames codes outside their table")
        ix.energy = EnergyValues.from_state(st, ix.cols["enames"], ix.cats["enames"].values)
        ix.ids = PackIds.from_state(st)
        for p, line in zip(st["hist_pos"].tolist(), st["hist_lines"].tolist()):
            ix.history.setdefault(p, []).append(tuple(line))
        return ix


def _with_derived_ids(blob: bytes, lens: np.ndarray, hashes: np.ndarray, line_no: np.ndarray,
                      file_name: str) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The ids of a block with the missing ones (length -1) derived from their line numbers."""
    raws = []
    pos = 0
    for i, length in enumerate(lens.tolist()):
        if length < 0:
            raws.append(derived_pack_id(file_name, int(line_no[i])).encode())
        else:
            raws.append(blob[pos:pos + length])
            pos += length
    hashes = np.array(hashes, dtype=np.uint64)
    for i in np.flatnonzero(lens < 0).tolist():
        hashes[i] = raw_id_hash(raws[i])
    return b"".join(raws), np.fromiter(map(len, raws), dtype=np.int64, count=len(raws)), hashes


def _repeats(blob: bytes, offsets: np.ndarray, hashes: np.ndarray) -> bool:
    """Whether two of these ids are equal (only ids of equal hash are compared)."""
    order = np.argsort(hashes, kind="stable")
    ranked = hashes[order]
    same = np.flatnonzero(ranked[1:] == ranked[:-1])
    if not len(same):
        return False
    rows = np.unique(np.concatenate([order[same], order[same + 1]])).tolist()
    by_hash: dict[int, set] = {}
    for i in rows:
        raw = bytes(blob[offsets[i]:offsets[i + 1]])
        seen = by_hash.setdefault(int(hashes[i]), set())
        if raw in seen:
            return True
        seen.add(raw)
    return False


def cosine_match(vectors: np.ndarray, ok: np.ndarray, q: tuple, threshold: float) -> np.ndarray:
    """docs/repository.md §7.3: dot(p, q) / (|p||q| + 1e-8) >= threshold."""
    qv = np.array(q if len(q) == 4 else (*q, 0.5), dtype=np.float64)
    dots = vectors @ qv
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors)) * math.sqrt(float(qv @ qv)) + 1e-8
    return ok & (dots / norms >= threshold)
