"""Episode results -> DataPackMeta (shared/spec/building.md §1-§7).

    from datapack_client.building.builder import (Baseline, EconParams, EpisodeInfoSummary,
                                         build_datapack_meta_from_episode)
    dp = build_datapack_meta_from_episode(summary, econ, {"engine_type": "pybullet"},
                                          {"policy": "scripted"}, env_type="drawer_vase",
                                          baseline=Baseline(10.0, 0.05, 2.0), skill_trace=trace)

Pure: no I/O, no clock reads other than the default `created_at`, no randomness
other than the `episode_id` default of a summary built from a dict without one.
Plain Python floats throughout (numpy scalars and arrays given by callers are
converted to plain JSON values). Every record returned passes the append
invariants (repository.md §5, uniqueness aside); otherwise the builder raises
the InvalidArgumentError `append` would raise.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping

from datapack_client.records import jsonio

from datapack_client.records import schema
from datapack_client.errors import InvalidArgumentError, Violation, invalid
from datapack_client.records.model import DataPackMeta, SimaAnnotation, _Profile, copy_json
from datapack_client.records.skills import catalogue_for
from datapack_client.records.validation import record_violations
from datapack_client.records.validation_rules import task_name_ok

__all__ = [
    "EpisodeInfoSummary", "EconParams", "Baseline", "BASELINES", "SYNTHETIC_NOMINAL", "SimaAnnotation",
    "build_datapack_meta_from_episode", "delta_j", "normalize_objective_vector", "infer_energy_driver_tags",
    "derive_semantic_tags", "generate_counterfactual_plan", "sima_with_statistics", "whole_episode_trace",
    "DEFAULT_OBJECTIVE_VECTOR",
]

DEFAULT_OBJECTIVE_VECTOR = (1.0, 1.0, 1.0, 0.5)
DEFAULT_ALPHA_SAFETY = 0.5
SAFETY_BONUS_VASE_BROKEN = -10.0
MIN_BASELINE = 1e-6
DEFAULT_ENERGY_PRICE_KWH = 0.12
WORLD_PREFIX = {"pybullet": "pyb", "isaac": "isaac", "ue5": "ue5"}
CONDITION_DEFAULTS = {"vase_offset": [0.0, 0.0, 0.0], "drawer_friction": 0.3, "lighting_profile": "normal",
                      "occlusion_level": 0.0}

_MISSING = object()


# --------------------------------------------------------------------------------------------------
# Plain JSON values and argument checks


def _plain(v: Any) -> Any:
    """A deep copy of `v` as plain JSON values: dict, list (tuples become lists),
    str, int, float, bool, None. Subclasses (IntEnum such as SkillID, numpy
    float64) become their base type; objects with `tolist()` (numpy scalars and
    arrays) are converted; profile objects become their JSON object. Anything
    else is returned as is (the self-check reports it)."""
    t = type(v)
    if v is None or t is str or t is int or t is float or t is bool:
        return v
    if t is dict:
        return {_plain_key(k): _plain(x) for k, x in v.items()}
    if t is list or t is tuple:
        return [_plain(x) for x in v]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, _Profile):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {_plain_key(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    tolist = getattr(v, "tolist", None)
    if callable(tolist):
        out = tolist()
        if out is not v:
            return _plain(out)
    return v


def _plain_key(k: Any) -> Any:
    if type(k) is str or type(k) is int:
        return k
    if isinstance(k, str):
        return str(k)
    if isinstance(k, int) and not isinstance(k, bool):
        return int(k)
    return k


def _is_number(v: Any) -> bool:
    return (type(v) is float or type(v) is int) and type(v) is not bool


def _number(v: Any, field_: str, *, reason_type: str = "FIELD_TYPE", reason_finite: str = "NUMBER_NOT_FINITE",
            what: str | None = None) -> float:
    """`v` as a finite float, else InvalidArgumentError on `field_`."""
    p = _plain(v)
    if not _is_number(p):
        raise invalid(field_, reason_type, f"{what or field_} must be a number, got {v!r}")
    try:
        f = float(p)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise invalid(field_, reason_finite, f"{what or field_} must be a finite number, got {v!r}")
    return f


def _optional_number(v: Any, field_: str) -> float | None:
    return None if v is None else _number(v, field_)


def _str_list(v: Any, field_: str) -> list[str]:
    if v is None:
        return []
    p = _plain(v)
    if type(p) is not list or not all(type(x) is str for x in p):
        raise invalid(field_, "FIELD_TYPE", f"{field_} must be a list of strings, got {v!r}")
    return p


def _as_list(v: Any) -> Any:
    """A plain copy of a list-like argument (tuples and other iterables such
    as generators become lists; strings and mappings are left to the
    self-check, which reports their type)."""
    p = _plain(v)
    if type(p) is list or isinstance(p, (str, bytes, dict)) or p is None:
        return p
    try:
        return [_plain(x) for x in p]
    except TypeError:
        return p


def _get(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """A field of a dict or an attribute of an object."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


# --------------------------------------------------------------------------------------------------
# §1.1 EpisodeInfoSummary

# (field, kind): kinds "str", "num", "dict", "id", "num?" drive from_dict's coercion.
SUMMARY_FIELDS: tuple[tuple[str, str], ...] = (
    ("termination_reason", "str"),
    ("mpl_episode", "num"),
    ("ep_episode", "num"),
    ("error_rate_episode", "num"),
    ("throughput_units_per_hour", "num"),
    ("energy_Wh", "num"),
    ("energy_Wh_per_unit", "num"),
    ("energy_Wh_per_hour", "num"),
    ("limb_energy_Wh", "dict"),
    ("skill_energy_Wh", "dict"),
    ("energy_per_limb", "dict"),
    ("energy_per_skill", "dict"),
    ("energy_per_joint", "dict"),
    ("energy_per_effector", "dict"),
    ("coordination_metrics", "dict"),
    ("profit", "num"),
    ("episode_id", "id"),
    ("media_refs", "dict"),
    ("wage_parity", "num?"),
)
SUMMARY_FIELD_NAMES = tuple(name for name, _ in SUMMARY_FIELDS)


@dataclass
class EpisodeInfoSummary:
    """The 19 fields of an episode summary, in the order the builder copies
    them into `episode_metrics` (building.md §1.1)."""

    termination_reason: str
    mpl_episode: float
    ep_episode: float
    error_rate_episode: float
    throughput_units_per_hour: float
    energy_Wh: float
    energy_Wh_per_unit: float
    energy_Wh_per_hour: float
    limb_energy_Wh: dict
    skill_energy_Wh: dict
    energy_per_limb: dict
    energy_per_skill: dict
    energy_per_joint: dict
    energy_per_effector: dict
    coordination_metrics: dict
    profit: float
    episode_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    media_refs: dict = field(default_factory=dict)
    wage_parity: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EpisodeInfoSummary":
        """A summary from a plain dict. Missing (or null) keys get "unknown"
        (termination_reason), 0.0 (numbers), {} (dicts), a new random UUID4
        (episode_id) or None (wage_parity). Numbers become floats (ints
        accepted, booleans not); dicts and lists are copied as plain JSON.
        A value of the wrong type -> INVALID_ARGUMENT, FIELD_TYPE, field
        `episode_info.<name>`. Unknown keys are ignored. Non-finite numbers are
        kept here; the builder rejects them."""
        if not isinstance(d, Mapping):
            raise invalid("episode_info", "ARGUMENT_INVALID",
                          f"episode_info must be an EpisodeInfoSummary or a dict, got {type(d).__name__}")
        return cls(**_coerce_summary_values(lambda name: d.get(name, _MISSING)))

    def to_dict(self) -> dict:
        """The 19 fields in order, as a plain JSON object (a copy)."""
        return {name: _plain(getattr(self, name)) for name in SUMMARY_FIELD_NAMES}


def _coerce_summary_values(get) -> dict:
    out: dict[str, Any] = {}
    for name, kind in SUMMARY_FIELDS:
        v = get(name)
        if v is _MISSING or v is None:
            out[name] = ("unknown" if kind == "str" else 0.0 if kind == "num" else {} if kind == "dict"
                         else str(uuid.uuid4()) if kind == "id" else None)
            continue
        p = _plain(v)
        where = f"episode_info.{name}"
        if kind in ("str", "id"):
            if type(p) is not str:
                raise invalid(where, "FIELD_TYPE", f"{where} must be a string, got {v!r}")
        elif kind in ("num", "num?"):
            if not _is_number(p):
                raise invalid(where, "FIELD_TYPE", f"{where} must be a number, got {v!r}")
            try:
                p = float(p)
            except OverflowError:
                raise invalid(where, "NUMBER_NOT_FINITE", f"{where} must be a finite number, got {v!r}") from None
        elif type(p) is not dict:
            raise invalid(where, "FIELD_TYPE", f"{where} must be an object, got {v!r}")
        out[name] = p
    return out


def _summary(episode_info: Any) -> EpisodeInfoSummary:
    """Coerce an EpisodeInfoSummary, a dict, or any object with the summary's
    attributes (e.g. an environment's own summary class) to a fresh summary."""
    if isinstance(episode_info, Mapping):
        return EpisodeInfoSummary.from_dict(episode_info)
    if episode_info is None or isinstance(episode_info, (str, bytes, int, float, list, tuple)):
        raise invalid("episode_info", "ARGUMENT_INVALID",
                      f"episode_info must be an EpisodeInfoSummary or a dict, got {type(episode_info).__name__}")
    return EpisodeInfoSummary(**_coerce_summary_values(lambda name: getattr(episode_info, name, _MISSING)))


# --------------------------------------------------------------------------------------------------
# §1.2 EconParams


@dataclass
class EconParams:
    """Economic and SLA parameters of an environment (building.md §1.2). The
    first fifteen fields are required."""

    price_per_unit: float
    damage_cost: float
    energy_Wh_per_attempt: float
    time_step_s: float
    base_rate: float
    p_min: float
    k_err: float
    q_speed: float
    q_care: float
    care_cost: float
    max_steps: int
    max_catastrophic_errors: int
    max_error_rate_sla: float
    min_steps_for_sla: int
    zero_throughput_patience: int
    preset: str = "toy"
    value_per_unit: float = 0.0
    vase_break_cost: float = 0.0
    electricity_price_kWh: float = 0.0
    other_costs_per_hr: float = 0.0
    allowable_risk_tolerance: float = 0.0
    fragility_penalty_coeff: float = 0.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EconParams":
        """EconParams from a dict with its field names; a missing required
        field or an unknown key -> INVALID_ARGUMENT (ARGUMENT_INVALID)."""
        if not isinstance(d, Mapping):
            raise invalid("econ_params", "ARGUMENT_INVALID", "econ_params must be an EconParams or a dict")
        names = [f.name for f in fields(cls)]
        unknown = [k for k in d if k not in names]
        if unknown:
            raise invalid(f"econ_params.{unknown[0]}", "ARGUMENT_INVALID", f"unknown econ_params field(s): {unknown}")
        missing = [f.name for f in fields(cls)[:15] if f.name not in d]
        if missing:
            raise invalid(f"econ_params.{missing[0]}", "ARGUMENT_INVALID",
                          f"econ_params is missing required field(s): {missing}")
        return cls(**{k: _plain(v) for k, v in d.items()})

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class _Econ:
    """The econ values the builder uses, checked."""

    price_per_unit: float
    damage_cost: float
    energy_Wh_per_attempt: float
    vase_break_cost: float
    electricity_price_kWh: float
    preset: str


def _econ(econ_params: Any) -> _Econ:
    if econ_params is None:
        raise invalid("econ_params", "ARGUMENT_INVALID", "econ_params is required (an EconParams)")
    if isinstance(econ_params, Mapping):
        econ_params = EconParams.from_dict(econ_params)

    def num(name: str, default: Any = _MISSING) -> float:
        v = _get(econ_params, name, default)
        if v is _MISSING:
            raise invalid(f"econ_params.{name}", "ARGUMENT_INVALID", f"econ_params has no {name}")
        return _number(v, f"econ_params.{name}")

    preset = _plain(_get(econ_params, "preset", "toy"))
    if type(preset) is not str:
        raise invalid("econ_params.preset", "FIELD_TYPE", f"econ_params.preset must be a string, got {preset!r}")
    return _Econ(num("price_per_unit"), num("damage_cost"), num("energy_Wh_per_attempt"),
                 num("vase_break_cost", 0.0), num("electricity_price_kWh", 0.0), preset)


# --------------------------------------------------------------------------------------------------
# §1.3 Baseline


@dataclass(frozen=True)
class Baseline:
    """The reference ΔJ is measured against: finite `mpl`, `error`, `ep`
    (else INVALID_ARGUMENT, BASELINE_INVALID), optional `wage_parity`, an
    optional `name`; `episode_count` is the number of episodes a named set
    was averaged over (0 for explicit numbers)."""

    mpl: float
    error: float
    ep: float
    wage_parity: float | None = None
    name: str | None = None
    episode_count: int = 0

    def __post_init__(self) -> None:
        for key in ("mpl", "error", "ep"):
            object.__setattr__(self, key, _number(getattr(self, key), f"baseline.{key}", reason_type="BASELINE_INVALID",
                                                  reason_finite="BASELINE_INVALID", what=f"baseline {key}"))
        if self.wage_parity is not None:
            object.__setattr__(self, "wage_parity", _number(
                self.wage_parity, "baseline.wage_parity", reason_type="BASELINE_INVALID",
                reason_finite="BASELINE_INVALID", what="baseline wage_parity"))
        if self.name is not None and type(self.name) is not str:
            raise invalid("baseline.name", "BASELINE_INVALID", f"baseline name must be a string, got {self.name!r}")
        count = _plain(self.episode_count)
        if type(count) is not int or count < 0:
            raise invalid("baseline.episode_count", "BASELINE_INVALID", "episode_count must be an integer ≥ 0")
        object.__setattr__(self, "episode_count", count)

    @classmethod
    def from_episodes(cls, episodes: Iterable[Any], name: str | None = None) -> "Baseline":
        """A named baseline set: the arithmetic means of the episodes'
        `mpl_episode` (or `mpl`), `error_rate_episode` (or `error_rate`) and
        `ep_episode` (or `ep`); `wage_parity` is the mean of `wage_parity` when
        every episode has one, else None. Episodes are dicts or summary
        objects. An empty list, or an episode lacking one of the three metrics
        -> BASELINE_INVALID."""
        if isinstance(episodes, (Mapping, str, bytes)):
            raise invalid("baseline.episodes", "BASELINE_INVALID", "episodes must be a list of episodes")
        try:
            eps = list(episodes)
        except TypeError:
            raise invalid("baseline.episodes", "BASELINE_INVALID", "episodes must be a list of episodes") from None
        if not eps:
            raise invalid("baseline.episodes", "BASELINE_INVALID", "a baseline set needs at least one episode")
        cols: dict[str, list[float]] = {"mpl": [], "error": [], "ep": []}
        wps: list[float] = []
        for i, e in enumerate(eps):
            if e is None or isinstance(e, (str, bytes, int, float, list, tuple)):
                raise invalid(f"baseline.episodes[{i}]", "BASELINE_INVALID", f"episode {i} must be an object")
            for key, names in (("mpl", ("mpl_episode", "mpl")), ("error", ("error_rate_episode", "error_rate")),
                               ("ep", ("ep_episode", "ep"))):
                v = None
                for n in names:
                    v = _get(e, n, None)
                    if v is not None:
                        break
                if v is None:
                    raise invalid(f"baseline.episodes[{i}].{names[0]}", "BASELINE_INVALID",
                                  f"episode {i} has no {names[0]} (or {names[1]})")
                cols[key].append(_number(v, f"baseline.episodes[{i}].{names[0]}", reason_type="BASELINE_INVALID",
                                         reason_finite="BASELINE_INVALID"))
            wp = _get(e, "wage_parity", None)
            if wp is not None:
                wps.append(_number(wp, f"baseline.episodes[{i}].wage_parity", reason_type="BASELINE_INVALID",
                                   reason_finite="BASELINE_INVALID"))
        n = len(eps)
        return cls(sum(cols["mpl"]) / n, sum(cols["error"]) / n, sum(cols["ep"]) / n,
                   sum(wps) / n if len(wps) == n else None, name, n)

    def to_dict(self) -> dict:
        return {"mpl": self.mpl, "error": self.error, "ep": self.ep, "wage_parity": self.wage_parity,
                "name": self.name, "episode_count": self.episode_count}


# The nominal means of the synthetic generator (building.md §1.3, §9).
SYNTHETIC_NOMINAL = Baseline(10.0, 0.05, 2.0, 0.5, name="synthetic_nominal")
BASELINES: dict[str, Baseline] = {"synthetic_nominal": SYNTHETIC_NOMINAL}


def _resolve_baseline(baseline: Any, mpl: Any, error: Any, ep: Any, wage_parity: Any) -> Baseline:
    """§2.2 step 2: exactly one of `baseline` or the three numbers."""
    numbers = {"baseline_mpl": mpl, "baseline_error": error, "baseline_ep": ep}
    given = [k for k, v in numbers.items() if v is not None]
    if baseline is not None:
        if given or wage_parity is not None:
            extra = given + (["baseline_wage_parity"] if wage_parity is not None else [])
            raise invalid("baseline", "BASELINE_INVALID",
                          f"give either baseline or the baseline_* numbers, not both (also got {', '.join(extra)})")
        if not isinstance(baseline, Baseline):
            raise invalid("baseline", "BASELINE_INVALID",
                          f"baseline must be a Baseline, got {type(baseline).__name__}")
        return baseline
    if not given:
        if wage_parity is not None:
            raise invalid("baseline_mpl", "BASELINE_INVALID",
                          "baseline_wage_parity needs baseline_mpl, baseline_error and baseline_ep")
        raise invalid("baseline", "BASELINE_REQUIRED",
                      "a baseline is required: baseline=Baseline(...) or baseline_mpl, baseline_error, baseline_ep")
    if len(given) != 3:
        missing = [k for k in numbers if k not in given]
        raise invalid(missing[0], "BASELINE_INVALID",
                      f"the baseline needs all three numbers; missing {', '.join(missing)}")
    for key, v in numbers.items():
        _number(v, key, reason_type="BASELINE_INVALID", reason_finite="BASELINE_INVALID")
    if wage_parity is not None:
        _number(wage_parity, "baseline_wage_parity", reason_type="BASELINE_INVALID", reason_finite="BASELINE_INVALID")
    return Baseline(mpl, error, ep, wage_parity)


# --------------------------------------------------------------------------------------------------
# §3 The canonical ΔJ


def normalize_objective_vector(v: Any, field_: str = "condition.objective_vector") -> list[float]:
    """α = [α_mpl, α_error, α_ep, α_safety]: None -> [1, 1, 1, 0.5]; three
    elements get α_safety 0.5 appended; four are used as given; any other
    length or a non-finite / non-numeric element -> OBJECTIVE_VECTOR_INVALID."""
    if v is None:
        return list(DEFAULT_OBJECTIVE_VECTOR)
    p = _plain(v)
    if type(p) is not list or len(p) not in (3, 4):
        raise invalid(field_, "OBJECTIVE_VECTOR_INVALID",
                      f"objective_vector must be a list of 3 or 4 numbers, got {v!r}")
    out = []
    for i, x in enumerate(p):
        if not _is_number(x) or not math.isfinite(x):
            raise invalid(field_, "OBJECTIVE_VECTOR_INVALID",
                          f"objective_vector[{i}] must be a finite number, got {x!r}")
        out.append(float(x))
    if len(out) == 3:
        out.append(DEFAULT_ALPHA_SAFETY)
    return out


def _delta_j(mpl: float, err: float, ep: float, base: Baseline, alpha: list[float],
             vase_broken: bool) -> tuple[float, float, float, float]:
    d_mpl = (mpl - base.mpl) / max(base.mpl, MIN_BASELINE)
    d_err = err - base.error
    d_ep = (ep - base.ep) / max(base.ep, MIN_BASELINE)
    safety_bonus = SAFETY_BONUS_VASE_BROKEN if vase_broken else 0.0
    dj = alpha[0] * d_mpl - alpha[1] * d_err + alpha[2] * d_ep + alpha[3] * safety_bonus
    if not math.isfinite(dj):
        bad = [f"episode_info.{n}={v!r}" for n, v in (("mpl_episode", mpl), ("error_rate_episode", err),
                                                     ("ep_episode", ep)) if not math.isfinite(v)]
        cause = f"non-finite input(s): {', '.join(bad)}" if bad else "overflow"
        raise invalid("attribution.delta_J", "DELTA_J_NOT_FINITE", f"delta_J is not finite ({dj!r}); {cause}")
    return d_mpl, d_err, d_ep, dj


def delta_j(summary: Any, baseline: Baseline, objective_vector: Any = None,
            vase_broken: bool = False) -> tuple[float, float, float, float]:
    """(ΔMPL, Δerror, ΔEP, ΔJ) of building.md §3, in double precision in the
    order written:

        ΔMPL  = (mpl_episode − baseline.mpl) / max(baseline.mpl, 1e-6)
        Δerror = error_rate_episode − baseline.error
        ΔEP   = (ep_episode − baseline.ep) / max(baseline.ep, 1e-6)
        ΔJ = α_mpl·ΔMPL − α_error·Δerror + α_ep·ΔEP + α_safety·(−10 if vase_broken else 0)

    `summary`: an EpisodeInfoSummary or dict; `objective_vector`: 3 or 4
    numbers or None (default [1, 1, 1, 0.5]). A non-finite ΔJ ->
    INVALID_ARGUMENT, DELTA_J_NOT_FINITE."""
    s = _summary(summary)
    if not isinstance(baseline, Baseline):
        raise invalid("baseline", "BASELINE_INVALID", f"baseline must be a Baseline, got {type(baseline).__name__}")
    alpha = normalize_objective_vector(objective_vector)
    return _delta_j(s.mpl_episode, s.error_rate_episode, s.ep_episode, baseline, alpha, bool(vase_broken))


# --------------------------------------------------------------------------------------------------
# §5 Energy-driver tags


def _wh(x: Any) -> float:
    """x["Wh"]; missing, or not a number -> 0."""
    if isinstance(x, Mapping):
        v = _plain(x.get("Wh", 0.0))
        if _is_number(v):
            return float(v)
    return 0.0


def _mapping(v: Any) -> Mapping:
    return v if isinstance(v, Mapping) else {}


def infer_energy_driver_tags(summary: Any, econ_params: Any) -> list[str]:
    """The energy-driver tags of building.md §5, in rule order."""
    s = _summary(summary)
    attempt = _econ(econ_params).energy_Wh_per_attempt
    tags: list[str] = []
    limbs = _mapping(s.energy_per_limb)
    total = 0.0
    for x in limbs.values():
        total += _wh(x)

    def fraction(limb: str) -> float:
        return _wh(limbs.get(limb)) / max(total, 1e-6) if total > 0 else 0.0

    if fraction("shoulder") > 0.5:
        tags.append("energy_driver:long_reach")
    if fraction("wrist") > 0.3:
        tags.append("energy_driver:high_friction")
    if total > 0:
        best_name, best_wh = None, 0.0
        for name, x in _mapping(s.energy_per_joint).items():
            w = _wh(x)
            if w > 0 and (best_name is None or w > best_wh):
                best_name, best_wh = name, w
        if best_name is not None:
            tags.append(f"energy_driver:joint_dominated:{best_name}")
    if s.mpl_episode < 10 and s.energy_Wh > 0.2:
        tags.append("energy_driver:fragility_cautious")
    if s.mpl_episode > 80 and s.energy_Wh_per_unit > attempt:
        tags.append("energy_driver:throughput_push")
    for name, x in _mapping(s.energy_per_effector).items():
        if _wh(x) > 0:
            tags.append(f"energy_driver:effector:{name}")
    maj = _plain(_mapping(s.coordination_metrics).get("mean_active_joints"))
    if _is_number(maj) and maj > 2:
        tags.append("energy_driver:coordination:high_multi_joint_activity")
    return tags


# --------------------------------------------------------------------------------------------------
# §6 Derived semantic tags


def derive_semantic_tags(condition: Any, env_type: str | None = None, *, vase_broken: bool = False,
                         drawer_stuck: bool = False, success: bool = False) -> list[str]:
    """The derived tags of building.md §6, in table order, from a stored
    condition (dict or ConditionProfile) and the outcome. `env_type` defaults
    to the condition's `task_name`. Wrongly typed condition values count as
    their defaults."""
    c = condition.to_dict() if isinstance(condition, _Profile) else _mapping(condition)
    if env_type is None:
        env_type = c.get("task_name")
    tags: list[str] = []
    if vase_broken:
        tags.append("vase_collision")
    if drawer_stuck:
        tags.append("drawer_jam")
    if success:
        tags.append("task_complete")
    offset = _plain(c.get("vase_offset"))
    if not (type(offset) is list and len(offset) == 3 and all(_is_number(x) for x in offset)):
        offset = CONDITION_DEFAULTS["vase_offset"]
    if abs(offset[0]) > 0.1 or abs(offset[1]) > 0.1:
        tags.append("offset_vase")
    friction = _plain(c.get("drawer_friction"))
    if _is_number(friction) and friction > 0.5:
        tags.append("high_friction")
    occlusion = _plain(c.get("occlusion_level"))
    if _is_number(occlusion) and occlusion > 0.3:
        tags.append("partial_occlusion")
    if c.get("lighting_profile") == "low_light":
        tags.append("low_light")
    if env_type == "drawer_vase":
        tags += ["fragile_glassware", "top_drawer"]
    return tags


# --------------------------------------------------------------------------------------------------
# §7 Counterfactual plans


def generate_counterfactual_plan(failure_reason: str | None = None, vase_broken: bool = False) -> dict:
    """The drawer/vase teacher plan of building.md §7 with its two rules."""
    reason = (failure_reason if failure_reason is not None else "unknown").lower()
    plan = {
        "skills": [0, 1, 2, 3, 4, 5],
        "waypoints": [[0.5, 0.0, 0.3], [0.5, 0.0, 0.35], [0.6, 0.0, 0.35]],
        "source": "scripted_teacher",
        "params": {"target_clearance": 0.15, "approach_speed": 0.8, "grasp_force": 0.5, "retract_speed": 0.5},
    }
    if "vase" in reason or vase_broken:
        plan["params"]["target_clearance"] = 0.25
        plan["source"] = "hrl_teacher"
    if "friction" in reason:
        plan["params"]["grasp_force"] = 0.7
        plan["params"]["approach_speed"] = 0.6
    return plan


# --------------------------------------------------------------------------------------------------
# Steps 11 and 12


def whole_episode_trace(skill_id: int = 0) -> list[dict]:
    """The one-entry trace of a task whose catalogue has one skill."""
    return [{"t": 0, "skill_id": skill_id, "params": {"whole_episode": True}, "duration": 0}]


def sima_with_statistics(annotation: Any) -> dict | None:
    """A copy of a SIMA annotation (SimaAnnotation or dict) as its JSON object
    with `narration_count` = number of `step_narrations` and
    `average_narration_length` = their mean length in code points (0.0 when
    there are none). None or {} -> None (no annotation, schema.md §4.9)."""
    if annotation is None:
        return None
    p = _plain(annotation)
    if type(p) is not dict:
        raise invalid("sima_annotation", "FIELD_TYPE",
                      f"sima_annotation must be a SimaAnnotation or a dict, got {type(annotation).__name__}")
    if not p:
        return None
    d = SimaAnnotation.from_dict(p).to_dict()
    narrations = d["step_narrations"]
    if type(narrations) is not list or not all(type(s) is str for s in narrations):
        raise invalid("sima_annotation.step_narrations", "FIELD_TYPE",
                      "sima_annotation.step_narrations must be a list of strings")
    d["narration_count"] = len(narrations)
    d["average_narration_length"] = (sum(len(s) for s in narrations) / len(narrations)) if narrations else 0.0
    return d


# --------------------------------------------------------------------------------------------------
# §2 The builder


def _condition(cp: Mapping, env_type: str, econ: _Econ, alpha: list[float]) -> dict:
    """§2.2 step 6: the stored condition, fields in schema order."""
    engine = _plain(cp.get("engine_type")) or "pybullet"
    world_id = _plain(cp.get("world_id"))
    if not world_id:
        prefix = WORLD_PREFIX.get(engine, str(engine)) if type(engine) is str else str(engine)
        world_id = f"{prefix}_{env_type}_v1"
    values: dict[str, Any] = {}
    for key, default in CONDITION_DEFAULTS.items():
        v = cp.get(key)
        values[key] = copy_json(default) if v is None else _plain(v)
    off = values["vase_offset"]
    if type(off) is not list or len(off) != 3 or not all(_is_number(x) for x in off):
        raise invalid("condition.vase_offset", "FIELD_TYPE",
                      f"condition vase_offset must be 3 numbers, got {cp.get('vase_offset')!r}")
    for i, x in enumerate(off):
        if not math.isfinite(x):
            raise invalid(f"condition.vase_offset[{i}]", "NUMBER_NOT_FINITE",
                          f"condition vase_offset[{i}] must be a finite number, got {x!r}")
    for key in ("drawer_friction", "occlusion_level"):
        _number(values[key], f"condition.{key}")
    if type(values["lighting_profile"]) is not str:
        raise invalid("condition.lighting_profile", "FIELD_TYPE",
                      f"condition lighting_profile must be a string, got {values['lighting_profile']!r}")
    return {
        "task_name": env_type,
        "engine_type": engine,
        "world_id": world_id,
        "vase_offset": off,
        "drawer_friction": values["drawer_friction"],
        "lighting_profile": values["lighting_profile"],
        "occlusion_level": values["occlusion_level"],
        "econ_preset": _plain(cp.get("econ_preset")) or econ.preset,
        "price_per_unit": econ.price_per_unit,
        "vase_break_cost": econ.vase_break_cost if econ.vase_break_cost > 0 else econ.damage_cost,
        "energy_price_kWh": econ.electricity_price_kWh if econ.electricity_price_kWh > 0 else DEFAULT_ENERGY_PRICE_KWH,
        "objective_vector": list(alpha),
        "tags": _plain(dict(cp)),
    }


def build_datapack_meta_from_episode(
    episode_info: Any,
    econ_params: Any,
    condition_profile: Mapping[str, Any] | None = None,
    agent_profile: Mapping[str, Any] | None = None,
    *,
    baseline: Baseline | None = None,
    baseline_mpl: float | None = None,
    baseline_error: float | None = None,
    baseline_ep: float | None = None,
    baseline_wage_parity: float | None = None,
    env_type: str = "dishwashing",
    pack_id: str | None = None,
    brick_id: str | None = None,
    extra_tags: Iterable[str] | None = None,
    semantic_energy_drivers: Iterable[str] | None = None,
    skill_trace: list[dict] | None = None,
    sima_annotation: SimaAnnotation | Mapping[str, Any] | None = None,
    vla_plan: Mapping[str, Any] | None = None,
    objective_profile: Any = None,
    embodiment_profile: Any = None,
    econ_semantic_tags: Iterable[str] | None = None,
    semantic_quality: float | None = None,
    raw_data_path: str | None = None,
    scene_tracks_v1: Mapping[str, Any] | None = None,
    rgb_features_v1: Mapping[str, Any] | None = None,
    slice_labels_v1: Mapping[str, Any] | None = None,
    repr_tokens: Mapping[str, Any] | None = None,
    schema_version: str | None = None,
    trust_score: float | None = None,
    w_econ: float | None = None,
    lambda_budget: float | None = None,
    mvd_score: float | None = None,
    source_type: str = "real",
    wm_model_id: str | None = None,
    wm_role: str | None = None,
    wm_horizon_used: int | None = None,
    wm_branch_depth: int | None = None,
    wm_trust_over_horizon: list[float] | None = None,
    world_model_horizon: int = 0,
    world_model_trust_over_horizon: list[float] | None = None,
    vase_broken: bool = False,
    drawer_stuck: bool = False,
    success: bool | None = None,
    failure_reason: str | None = None,
    counterfactual_plan: Mapping[str, Any] | None = None,
    counterfactual_source: str | None = None,
    episode_index: int | None = None,
    created_at: str | None = None,
    skill_catalogue: Mapping[int, str] | None = None,
) -> DataPackMeta:
    """One DataPackMeta from one episode (building.md §2.2 steps 1-17).

    Errors: InvalidArgumentError with reason BASELINE_REQUIRED,
    BASELINE_INVALID, OBJECTIVE_VECTOR_INVALID, TASK_NAME_INVALID,
    DELTA_J_NOT_FINITE, SKILL_TRACE_EMPTY, SCHEMA_VERSION_UNKNOWN,
    FIELD_TYPE / NUMBER_NOT_FINITE (wrongly typed or non-finite inputs),
    ARGUMENT_INVALID, or any append invariant (step 17)."""
    # 1. Inputs.
    summary = _summary(episode_info)
    if condition_profile is None:
        cp: Mapping[str, Any] = {}
    elif isinstance(condition_profile, Mapping):
        cp = condition_profile
    else:
        raise invalid("condition_profile", "ARGUMENT_INVALID",
                      f"condition_profile must be a dict, got {type(condition_profile).__name__}")
    agent = {} if agent_profile is None else _plain(agent_profile)
    if not task_name_ok(env_type):
        raise invalid("env_type", "TASK_NAME_INVALID",
                      f"env_type {env_type!r} is not a valid task name (1-128 of [A-Za-z0-9_.-], no '..')")
    econ = _econ(econ_params)
    if failure_reason is not None and not isinstance(failure_reason, str):
        raise invalid("failure_reason", "ARGUMENT_INVALID", f"failure_reason must be a string, got {failure_reason!r}")
    vase_broken = bool(vase_broken)
    drawer_stuck = bool(drawer_stuck)
    success = (summary.termination_reason == "success") if success is None else bool(success)

    # 2. Baseline.
    base = _resolve_baseline(baseline, baseline_mpl, baseline_error, baseline_ep, baseline_wage_parity)

    # 3. Objective vector.
    alpha = normalize_objective_vector(cp.get("objective_vector"))

    # 4-5. ΔJ and bucket.
    d_mpl, d_err, d_ep, dj = _delta_j(summary.mpl_episode, summary.error_rate_episode, summary.ep_episode,
                                      base, alpha, vase_broken)
    bucket = "positive" if dj >= 0 else "negative"

    # 6. Condition.
    condition = _condition(cp, env_type, econ, alpha)

    # 7. Attribution.
    trust = _optional_number(trust_score, "attribution.trust_score")
    weight = _optional_number(w_econ, "attribution.w_econ")
    lam = _optional_number(lambda_budget, "attribution.lambda_budget")
    mvd = _optional_number(mvd_score, "attribution.mvd_score")
    both = trust is not None and weight is not None
    econ_weight_final = trust * weight if both else None  # type: ignore[operator]
    if mvd is None and both:
        mvd = trust * weight * dj  # type: ignore[operator]
    wp = summary.wage_parity
    attribution = schema.default_profile("AttributionProfile")
    attribution.update({
        "delta_mpl": d_mpl,
        "delta_error": d_err,
        "delta_ep": d_ep,
        "delta_wage_parity": (wp - base.wage_parity) if wp is not None and base.wage_parity is not None else 0.0,
        "delta_J": dj,
        "trust_score": 0.0 if trust is None else trust,
        "w_econ": 0.0 if weight is None else weight,
        "lambda_budget": 0.0 if lam is None else lam,
        "world_model_horizon": 0 if world_model_horizon is None else _plain(world_model_horizon),
        "world_model_trust_over_horizon": ([] if world_model_trust_over_horizon is None
                                           else _plain(world_model_trust_over_horizon)),
        "source_type": "real" if source_type is None else _plain(source_type),
        "wm_model_id": _plain(wm_model_id),
        "wm_horizon_used": _plain(wm_horizon_used),
        "wm_branch_depth": _plain(wm_branch_depth),
        "wm_trust_over_horizon": _plain(wm_trust_over_horizon),
        "mvd_score": mvd,
        "econ_weight_final": econ_weight_final,
        "wm_role": _plain(wm_role),
    })

    # 8. Energy.
    energy = {
        "total_Wh": summary.energy_Wh,
        "Wh_per_unit": summary.energy_Wh_per_unit,
        "Wh_per_hour": summary.energy_Wh_per_hour,
        "energy_per_limb": _plain(summary.energy_per_limb),
        "energy_per_skill": _plain(summary.energy_per_skill),
        "energy_per_joint": _plain(summary.energy_per_joint),
        "energy_per_effector": _plain(summary.energy_per_effector),
        "coordination_metrics": _plain(summary.coordination_metrics),
        "limb_energy_Wh": _plain(summary.limb_energy_Wh),
        "skill_energy_Wh": _plain(summary.skill_energy_Wh),
    }

    # 9. Energy-driver tags.
    if semantic_energy_drivers is not None:
        energy_driver_tags = _as_list(semantic_energy_drivers)
    else:
        energy_driver_tags = infer_energy_driver_tags(summary, econ_params)

    # 10. Semantic tags.
    tags = _str_list(cp.get("tags"), "condition_profile.tags") + _str_list(extra_tags, "extra_tags")
    tags += derive_semantic_tags(condition, env_type, vase_broken=vase_broken, drawer_stuck=drawer_stuck,
                                 success=success)
    semantic_tags = list(dict.fromkeys(tags))

    # 11. Skill trace.
    trace = None if skill_trace is None else _as_list(skill_trace)
    if not trace:
        if skill_catalogue is None:
            catalogue = catalogue_for(env_type)
        elif isinstance(skill_catalogue, Mapping):
            catalogue = dict(skill_catalogue)
        else:
            raise invalid("skill_catalogue", "ARGUMENT_INVALID", "skill_catalogue must be a dict {id: name}")
        if len(catalogue) != 1:
            raise invalid("skill_trace", "SKILL_TRACE_EMPTY",
                          f"a {env_type} pack must carry its skill trace: the task's catalogue has "
                          f"{len(catalogue)} skills, so there is no whole-episode default")
        trace = whole_episode_trace(_plain(next(iter(catalogue))))

    # 12. SIMA annotation.
    sima = sima_with_statistics(sima_annotation)

    # 13. Counterfactual.
    if counterfactual_plan is not None:
        plan = _plain(counterfactual_plan)
        if counterfactual_source is not None:
            cf_source = _plain(counterfactual_source)
        else:
            s = plan.get("source") if type(plan) is dict else None
            cf_source = s if type(s) is str and s in schema.COUNTERFACTUAL_SOURCES else None
    elif bucket == "negative":
        plan = generate_counterfactual_plan(failure_reason, vase_broken)
        cf_source = plan["source"]
    else:
        plan = cf_source = None

    # 14. Identity.
    if pack_id is None or pack_id == "":
        if type(brick_id) is str and brick_id:
            pack_id = brick_id
        else:
            pack_id = str(uuid.uuid5(schema.DATAPACK_NS, f"episode:{env_type}:{summary.episode_id}"))

    # 15. Schema version.
    if schema_version is not None:
        if schema_version not in schema.SCHEMA_VERSIONS:
            raise invalid("schema_version", "SCHEMA_VERSION_UNKNOWN",
                          f"schema_version {schema_version!r} is not one of {', '.join(schema.SCHEMA_VERSIONS)}")
        version = schema_version
    elif repr_tokens is not None:
        version = "2.2-repr"
    elif scene_tracks_v1 is not None or rgb_features_v1 is not None or slice_labels_v1 is not None:
        version = "2.1-portable"
    else:
        version = "2.0-energy"

    # 16. Other fields.
    quality = None
    if semantic_quality is not None:
        quality = min(max(_number(semantic_quality, "semantic_quality"), 0.0), 1.0)

    record = {
        "schema_version": version,
        "pack_id": _plain(pack_id),
        "task_name": env_type,
        "env_type": env_type,
        "brick_id": _plain(brick_id),
        "bucket": bucket,
        "semantic_tags": semantic_tags,
        "econ_semantic_tags": None if econ_semantic_tags is None else _as_list(econ_semantic_tags),
        "semantic_quality": quality,
        "energy_driver_tags": energy_driver_tags,
        "condition": condition,
        "attribution": attribution,
        "energy": energy,
        "agent_profile": agent,
        "skill_trace": trace,
        "episode_metrics": summary.to_dict(),
        "sima_annotation": sima,
        "vla_plan": _plain(vla_plan),
        "objective_profile": _plain(objective_profile),
        "process_reward_profile": None,
        "embodiment_profile": _plain(embodiment_profile),
        "counterfactual_plan": plan,
        "counterfactual_source": cf_source,
        "created_at": schema.utc_now() if created_at is None else _plain(created_at),
        "episode_id": summary.episode_id,
        "episode_index": _plain(episode_index),
        "raw_data_path": _plain(raw_data_path),
        "scene_tracks_v1": _plain(scene_tracks_v1),
        "rgb_features_v1": _plain(rgb_features_v1),
        "slice_labels_v1": _plain(slice_labels_v1),
        "repr_tokens": _plain(repr_tokens),
    }
    meta = DataPackMeta.from_dict(record)

    # 17. Self-check: the violations append would report.
    _self_check(meta._d)
    return meta


def _self_check(rec: dict) -> None:
    violations = record_violations(rec, 0, check_free_finite=True)
    if not violations:
        try:
            jsonio.dumps(rec)
        except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
            violations = [Violation(0, rec.get("pack_id"), "", "FIELD_TYPE", f"record is not JSON-serialisable: {exc}")]
    if violations:
        first = violations[0]
        raise InvalidArgumentError(f"{len(violations)} invalid field(s); first: {first.message}", first.reason,
                                   violations)
