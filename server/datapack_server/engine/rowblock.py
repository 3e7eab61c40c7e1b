"""Index rows of many records at once, as columns: the bulk-load path.

`index.raw_row` builds the row of one record field after field; a bulk load
of a large file spends most of its time in that per-record Python. Here the
same values are built one field at a time for a list of records: each field
is read with a list comprehension, checked with one `set(map(type, ...))` (in
stored data nearly every value has the expected type), and converted to a
numpy column in one call; only values of an unexpected type go through the
per-value rules of raw_row. Categorical values are coded locally (first-seen
order) with their table, as `TaskIndex.add_block` takes them.

The result equals `raw_row` for every record, wrong types and nulls included
(tests/test_index_build.py compares the two on odd records).
"""
from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
import orjson

from datapack_client.records.schema import ARTIFACT_KEYS
from datapack_server.engine.index import (
    BUCKET_CODES,
    COLUMN_NAMES,
    DEFAULT_OBJECTIVE,
    DEFAULT_OFFSET,
    contribs_key,
    objective_of,
    skill_ids,
    vase_offset_of,
)

_NONE: frozenset = frozenset([type(None)])
_FLOAT: frozenset = frozenset([float])
_NUMERIC: frozenset = frozenset([float, int])
_STR: frozenset = frozenset([str])
_INT: frozenset = frozenset([int])
_NO_DICT: dict = {}  # read-only stand-in for a value that is not an object
_EMPTY: frozenset[str] = frozenset()
_I64_MAX = 9223372036854775807


def _dicts(values: list) -> list:
    if set(map(type, values)) == {dict}:
        return values
    return [v if type(v) is dict else _NO_DICT for v in values]


def _get(dicts: list, key: str) -> list:
    return [d.get(key) for d in dicts]


def _numbers(values: list, default: float) -> np.ndarray:
    """index._num over a list: floats and ints as float, anything else the default."""
    if set(map(type, values)) <= _NUMERIC:
        return np.array(values, dtype=np.float64).reshape(len(values))
    return np.array([v if type(v) is float else (float(v) if type(v) is int else default) for v in values],
                    dtype=np.float64).reshape(len(values))


def _strings(values: list, default: str | None) -> list:
    """index._str over a list."""
    if set(map(type, values)) <= _STR:
        return values
    return [v if type(v) is str else default for v in values]


def _flags(values: list) -> np.ndarray:
    """index._flag over a list: 1 / 0 for booleans, -1 for anything else."""
    if set(map(type, values)) <= _NONE:
        return np.full(len(values), -1, dtype=np.int8)
    return np.array([(1 if v else 0) if type(v) is bool else -1 for v in values], dtype=np.int8)


def coded(values: list) -> tuple[np.ndarray, list]:
    """(int32 codes, table): values coded in first-seen order."""
    table: dict = dict.fromkeys(values)
    if len(table) == 1:
        return np.zeros(len(values), dtype=np.int32), list(table)
    uniq = list(table)
    for i, v in enumerate(uniq):
        table[v] = i
    return np.fromiter(map(table.__getitem__, values), dtype=np.int32, count=len(values)), uniq


def _coded_via(keys: list, value_of) -> tuple[np.ndarray, list]:
    """Codes of value_of(key) for each key, computing value_of once per distinct key.
    Keys must be equal only where their values are."""
    key_codes, key_table = coded(keys)
    values = [value_of(k) for k in key_table]
    value_codes, table = coded(values)
    return value_codes[key_codes], table


def _tag_sets(values: list) -> tuple[np.ndarray, list]:
    """Codes of frozenset(the string items) of lists, the empty set for anything
    else (index.raw_row's semtags / etags). Keyed by the list as a tuple: tuples
    are equal only where their strings are (non-strings are dropped, and no
    string equals a non-string)."""
    keys = [tuple(v) if type(v) is list else () for v in values]
    try:
        return _coded_via(keys, lambda k: frozenset([t for t in k if type(t) is str]) if k else _EMPTY)
    except TypeError:  # an unhashable item (a list or object in the tag list)
        return coded([frozenset([t for t in v if type(t) is str]) if type(v) is list and v else _EMPTY
                      for v in values])


def _traces(values: list) -> tuple[np.ndarray, list, np.ndarray]:
    """(codes, table, bad entries) of the skill-id tuples (index.skill_ids)."""
    try:
        keys = [tuple([e["skill_id"] for e in tr]) if type(tr) is list else () for tr in values]
        ids = list(chain.from_iterable(keys))
        usable = not ids or (set(map(type, ids)) == _INT and min(ids) >= 0 and max(ids) <= _I64_MAX)
    except (KeyError, TypeError):  # an entry that is not an object, or has no skill_id
        usable = False
    if usable:  # every entry has a valid id: the keys are the traces
        codes, table = coded(keys)
        return codes, table, np.zeros(len(values), dtype=np.int32)
    pairs = [skill_ids(tr) for tr in values]
    codes, table = coded([p[0] for p in pairs])
    return codes, table, np.array([p[1] for p in pairs], dtype=np.int32)


def _condtags(conds: list) -> list:
    out = []
    for c in conds:
        t = c.get("tags")
        out.append(orjson.dumps(t, option=orjson.OPT_NON_STR_KEYS) if type(t) is dict and t else b"{}")
    return out


def _offsets(conds: list) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) vase offsets and their usable flags (index.vase_offset_of)."""
    values = [c.get("vase_offset", DEFAULT_OFFSET) for c in conds]
    try:
        if set(map(type, values)) <= {list, tuple} and set(map(len, values)) == {3} and set(
                map(type, [x for v in values for x in v])) <= _NUMERIC:
            return np.array(values, dtype=np.float64).reshape(len(values), 3), np.ones(len(values), dtype=np.bool_)
    except TypeError:
        pass
    pairs = [vase_offset_of(c) for c in conds]
    return (np.array([p[0] for p in pairs], dtype=np.float64).reshape(len(conds), 3),
            np.array([p[1] for p in pairs], dtype=np.bool_))


def _objectives(conds: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 4) objectives, usable flags and stored lengths (index.objective_of)."""
    n = len(conds)
    values = [c.get("objective_vector", DEFAULT_OBJECTIVE) for c in conds]
    try:
        if set(map(type, values)) <= {list, tuple} and set(map(type, [x for v in values for x in v])) <= _NUMERIC:
            lens = set(map(len, values))
            if lens == {4}:
                return np.array(values, dtype=np.float64).reshape(n, 4), np.ones(n, dtype=np.bool_), np.full(
                    n, 4, dtype=np.int8)
            if lens <= {3, 4}:  # a missing fourth weight is 0.5
                padded = [v if len(v) == 4 else [*v, 0.5] for v in values]
                return np.array(padded, dtype=np.float64).reshape(n, 4), np.ones(n, dtype=np.bool_), np.fromiter(
                    map(len, values), dtype=np.int8, count=n)
    except TypeError:  # a value that is not a container
        pass
    triples = [objective_of(c) for c in conds]
    return (np.array([t[0] for t in triples], dtype=np.float64).reshape(n, 4),
            np.array([t[1] for t in triples], dtype=np.bool_), np.array([t[2] for t in triples], dtype=np.int8))


def _created(values: list) -> np.ndarray:
    if set(map(type, values)) <= _STR:
        try:
            raw = list(map(str.encode, values))
        except UnicodeEncodeError:  # a lone surrogate (kept as raw_row keeps it)
            raw = [v.encode("utf-8", "surrogatepass") for v in values]
    else:
        raw = [v.encode("utf-8", "surrogatepass") if type(v) is str else b"" for v in values]
    return np.array(raw) if any(raw) else np.zeros(len(raw), dtype="S1")


def _energy(energies: list) -> tuple[np.ndarray, list, np.ndarray]:
    """(enames codes, enames table, Wh values) as index.energy_breakdown gives
    them: every name of energy_per_limb then energy_per_skill, in stored
    order, a missing or non-numeric Wh counting as 0; the values of all rows
    concatenated in row order (energy_values.EnergyValues)."""
    keys = []
    entries: list = []
    for e in energies:
        limb, skill = e.get("energy_per_limb"), e.get("energy_per_skill")
        limb = limb if type(limb) is dict else _NO_DICT
        skill = skill if type(skill) is dict else _NO_DICT
        keys.append((tuple(limb), tuple(skill)))
        entries.extend(limb.values())
        entries.extend(skill.values())
    try:
        whs = [v["Wh"] for v in entries]
        usable = set(map(type, whs)) <= _NUMERIC
    except (KeyError, TypeError):  # an entry that is not an object, or has no Wh
        usable = False
    if not usable:
        whs = [v.get("Wh") if type(v) is dict else None for v in entries]
        whs = [float(wh) if type(wh) is int or type(wh) is float else 0.0 for wh in whs]
    # Keys are tuples of strings (object keys): equal exactly when the names are.
    codes, table = _coded_via(keys, lambda k: tuple([("limb", x) for x in k[0]] + [("skill", x) for x in k[1]]))
    return codes, table, np.array(whs, dtype=np.float64).reshape(len(whs))


def record_columns(records: list[dict]) -> dict:
    """The index columns of records (all but line_off, line_len, line_no and
    revision) as {"cols": {name: array}, "cats": {name: (codes, table)},
    "energy_wh": the rows' energy values, in row and `enames` order}."""
    n = len(records)
    conds = _dicts(_get(records, "condition"))
    attrs = _dicts(_get(records, "attribution"))
    energies = _dicts(_get(records, "energy"))
    labels = _dicts(_get(records, "slice_labels_v1"))
    cols: dict[str, Any] = {}
    cats: dict[str, Any] = {}
    buckets = _get(records, "bucket")
    cols["bucket"] = np.array([BUCKET_CODES.get(b, 2) if type(b) is str else 2 for b in buckets], dtype=np.int8)
    cats["engine"] = coded(_strings(_get(conds, "engine_type"), "pybullet"))
    cats["source"] = coded(_strings(_get(attrs, "source_type"), "real"))
    cats["wm_role"] = coded(_strings(_get(attrs, "wm_role"), None))
    cats["wm_model"] = coded(_strings(_get(attrs, "wm_model_id"), None))
    cols["trust"] = _numbers(_get(attrs, "trust_score"), 0.0)
    cols["delta_j"] = _numbers(_get(attrs, "delta_J"), 0.0)
    mvd = _get(attrs, "mvd_score")
    if set(map(type, mvd)) <= _NONE:
        cols["mvd"], cols["mvd_present"] = np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.bool_)
    else:
        ok = [type(v) is float or type(v) is int for v in mvd]
        cols["mvd"] = np.array([float(v) if k else 0.0 for v, k in zip(mvd, ok)], dtype=np.float64)
        cols["mvd_present"] = np.array(ok, dtype=np.bool_)
    cols["has_sima"] = np.array([type(s) is dict and bool(s) for s in _get(records, "sima_annotation")],
                                dtype=np.bool_)
    cols["has_cf"] = np.array([v is not None for v in _get(records, "counterfactual_plan")], dtype=np.bool_)
    codes, table, bad = _traces(_get(records, "skill_trace"))
    cats["trace"] = (codes, table)
    cols["bad_skill_entries"] = bad
    cats["semtags"] = _tag_sets(_get(records, "semantic_tags"))
    cats["condtags"] = coded(_condtags(conds))
    for name, key, text in (("c_task", "task_name", "drawer_vase"), ("c_world", "world_id", "pyb_drawer_v1"),
                            ("c_light", "lighting_profile", "normal"), ("c_preset", "econ_preset", "drawer_vase")):
        cats[name] = coded(_strings(_get(conds, key), text))
    for name, key, number in (("c_friction", "drawer_friction", 0.3), ("c_occlusion", "occlusion_level", 0.0),
                              ("c_price", "price_per_unit", 5.0), ("c_break", "vase_break_cost", 50.0),
                              ("c_energy_price", "energy_price_kWh", 0.12)):
        cols[name] = _numbers(_get(conds, key), number)
    cols["c_offset"], cols["c_offset_ok"] = _offsets(conds)
    cols["c_objective"], cols["c_objective_ok"], cols["c_objective_len"] = _objectives(conds)
    cols["created"] = _created(_get(records, "created_at"))
    for name, key in (("w_econ", "w_econ"), ("d_mpl", "delta_mpl"), ("d_error", "delta_error"),
                      ("d_ep", "delta_ep")):
        cols[name] = _numbers(_get(attrs, key), 0.0)
    cols["total_wh"] = _numbers(_get(energies, "total_Wh"), 0.0)
    cols["wh_per_unit"] = _numbers(_get(energies, "Wh_per_unit"), 0.0)
    task_names = _strings(_get(records, "task_name"), "drawer_vase")
    cats["env_type"] = coded([v if type(v) is str else t for v, t in zip(_get(records, "env_type"), task_names)])
    cats["etags"] = _tag_sets(_get(records, "energy_driver_tags"))
    cats["contribs"] = coded([contribs_key(c) if c else b"{}" for c in _get(attrs, "skill_contribs")])
    codes, table, energy_wh = _energy(energies)
    cats["enames"] = (codes, table)
    cats["schema"] = coded(_strings(_get(records, "schema_version"), "2.0-energy"))
    artifacts = np.zeros(n, dtype=np.bool_)
    for key in ARTIFACT_KEYS:
        artifacts |= np.array([v is not None for v in _get(records, key)], dtype=np.bool_)
    cols["has_artifacts"] = artifacts
    cols["sl_occluded"] = _flags(_get(labels, "is_occluded"))
    cols["sl_dynamic"] = _flags(_get(labels, "is_dynamic"))
    cols["sl_static"] = _flags(_get(labels, "is_static"))
    cats["sl_occ_bucket"] = coded(_strings(_get(labels, "occlusion_bucket"), None))
    cats["sl_motion_bucket"] = coded(_strings(_get(labels, "motion_bucket"), None))
    # As served: a missing key reads as the schema default, a non-string value as None.
    cats["task_name"] = coded([v if type(v) is str else None
                               for v in (d.get("task_name", "drawer_vase") for d in records)])
    assert set(cols) | set(cats) == set(COLUMN_NAMES) - {"line_off", "line_len", "line_no", "revision"}
    return {"cols": cols, "cats": cats, "energy_wh": energy_wh}
