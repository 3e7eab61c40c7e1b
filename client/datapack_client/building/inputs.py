"""The builder's inputs (docs/building.md §1): the episode summary, the econ
parameters, the baseline, and `episode_as_dict` for inputs given as
dataclasses, dicts or record views. Checked here, so every later step works on
plain, finite values.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from datapack_client.building.values import MISSING, field_of, is_number, number, plain
from datapack_client.errors import invalid
from datapack_client.records.model import DataPackMeta, Profile
from datapack_client.records.validation_rules import task_name_ok


def episode_as_dict(e: Any, field_: str = "value", reason: str = "ARGUMENT_INVALID") -> dict:
    """An episode input (a summary, econ parameters, a profile...) as a dict: a
    dataclass's fields (a new dict), a dict itself, a record or profile view's
    JSON object (not copied). Anything else -> InvalidArgumentError on `field_`."""
    if dataclasses.is_dataclass(e) and not isinstance(e, type):
        return {f.name: getattr(e, f.name) for f in dataclasses.fields(e)}
    if isinstance(e, dict):
        return e
    if isinstance(e, (Profile, DataPackMeta)):
        return e.json_object()
    raise invalid(field_, reason, f"{field_} must be a dict or dataclass, got {type(e).__name__}")


def is_object_input(e: Any) -> bool:
    """Whether episode_as_dict takes `e` (a dict, a dataclass instance or a view)."""
    return (isinstance(e, (dict, Profile, DataPackMeta))
            or (dataclasses.is_dataclass(e) and not isinstance(e, type)))


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
    them into `episode_metrics` (docs/building.md §1.1)."""

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
    def from_dict(cls, d: Mapping[str, Any]) -> EpisodeInfoSummary:
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
        return cls(**_summary_values(lambda name: d.get(name, MISSING)))

    def to_dict(self) -> dict:
        """The 19 fields in order, as a plain JSON object (a copy)."""
        return {name: plain(getattr(self, name)) for name in SUMMARY_FIELD_NAMES}


def _summary_values(get) -> dict:
    out: dict[str, Any] = {}
    for name, kind in SUMMARY_FIELDS:
        v = get(name)
        if v is MISSING or v is None:
            out[name] = ("unknown" if kind == "str" else 0.0 if kind == "num" else {} if kind == "dict"
                         else str(uuid.uuid4()) if kind == "id" else None)
            continue
        p = plain(v)
        where = f"episode_info.{name}"
        if kind in ("str", "id"):
            if type(p) is not str:
                raise invalid(where, "FIELD_TYPE", f"{where} must be a string, got {v!r}")
        elif kind in ("num", "num?"):
            if not is_number(p):
                raise invalid(where, "FIELD_TYPE", f"{where} must be a number, got {v!r}")
            try:
                p = float(p)
            except OverflowError:
                raise invalid(where, "NUMBER_NOT_FINITE", f"{where} must be a finite number, got {v!r}") from None
        elif type(p) is not dict:
            raise invalid(where, "FIELD_TYPE", f"{where} must be an object, got {v!r}")
        out[name] = p
    return out


def summary_of(episode_info: Any) -> EpisodeInfoSummary:
    """Coerce an EpisodeInfoSummary, a dict, or any object with the summary's
    attributes (e.g. an environment's own summary class) to a fresh summary."""
    if isinstance(episode_info, Mapping):
        return EpisodeInfoSummary.from_dict(episode_info)
    if episode_info is None or isinstance(episode_info, (str, bytes, int, float, list, tuple)):
        raise invalid("episode_info", "ARGUMENT_INVALID",
                      f"episode_info must be an EpisodeInfoSummary or a dict, got {type(episode_info).__name__}")
    return EpisodeInfoSummary(**_summary_values(lambda name: getattr(episode_info, name, MISSING)))


# --------------------------------------------------------------------------------------------------
# §1.2 EconParams


@dataclass
class EconParams:
    """Economic and SLA parameters of an environment (docs/building.md §1.2). The
    first fifteen fields are required; `EconParams.preset("drawer_vase")` (or
    "dishwashing", §1.2.1) gives all of them for a named environment."""

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
    def from_dict(cls, d: Mapping[str, Any]) -> EconParams:
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
        return cls(**{k: plain(v) for k, v in d.items()})

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> EconParams:
        """A complete EconParams from a named preset of ECON_PRESETS
        (docs/building.md §1.2.1), with any field replaced by a keyword
        argument. Also spelled `EconParams.preset(name)`. An unknown name ->
        INVALID_ARGUMENT (ARGUMENT_INVALID) on `preset`, listing the known
        ones; an unknown field among the overrides -> as in from_dict."""
        if not isinstance(name, str) or name not in ECON_PRESETS:
            raise invalid("preset", "ARGUMENT_INVALID",
                          f"unknown EconParams preset {name!r}; known presets: {', '.join(ECON_PRESETS)}")
        return cls.from_dict({**ECON_PRESETS[name], **overrides})

    @staticmethod
    def presets() -> tuple[str, ...]:
        """The names EconParams.preset(name) accepts."""
        return tuple(ECON_PRESETS)


# `EconParams.preset("drawer_vase")` is the documented spelling, yet `preset` is
# also the field naming an instance's preset. Both hold: on the class the name
# is this factory, and every instance's own `preset` value (set by __init__)
# hides it, as an instance attribute hides any class method. Set after the
# dataclass is made, so the field keeps its default "toy".
EconParams.preset = EconParams.__dict__["from_preset"]  # the classmethod itself


def _preset(**values: Any) -> Mapping[str, Any]:
    return MappingProxyType(values)


# Named EconParams presets (docs/building.md §1.2.1): name -> keyword arguments
# of EconParams, every required field given.
ECON_PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    # What `datapack build` gives every episode it builds (§8.2), the synthetic
    # generator and episode files alike.
    "drawer_vase": _preset(
        price_per_unit=5.0, damage_cost=50.0, energy_Wh_per_attempt=5.0, time_step_s=60.0, base_rate=2.0,
        p_min=0.02, k_err=0.12, q_speed=1.2, q_care=1.5, care_cost=0.25, max_steps=240, max_catastrophic_errors=3,
        max_error_rate_sla=0.10, min_steps_for_sla=5, zero_throughput_patience=10, preset="drawer_vase",
        vase_break_cost=50.0, electricity_price_kWh=0.12),
    # Phase B's dishwashing economics: cents a dish, one unit of cost a broken
    # one, as the earlier library's dishwashing packs record them, and 0.05 Wh an
    # attempt (their throughput_push tags need less than 0.0507); the SLA is 12 %.
    "dishwashing": _preset(
        price_per_unit=0.30, damage_cost=1.0, energy_Wh_per_attempt=0.05, time_step_s=60.0, base_rate=2.0,
        p_min=0.02, k_err=0.12, q_speed=1.2, q_care=1.5, care_cost=0.25, max_steps=240, max_catastrophic_errors=3,
        max_error_rate_sla=0.12, min_steps_for_sla=5, zero_throughput_patience=10, preset="dishwashing",
        electricity_price_kWh=0.12),
})


@dataclass(frozen=True)
class EconValues:
    """The econ values the builder uses, checked."""

    price_per_unit: float
    damage_cost: float
    energy_Wh_per_attempt: float
    vase_break_cost: float
    electricity_price_kWh: float
    preset: str


def econ_values(econ_params: Any) -> EconValues:
    if econ_params is None:
        raise invalid("econ_params", "ARGUMENT_INVALID", "econ_params is required (an EconParams)")
    if isinstance(econ_params, Mapping):
        econ_params = EconParams.from_dict(econ_params)

    def num(name: str, default: Any = MISSING) -> float:
        v = field_of(econ_params, name, default)
        if v is MISSING:
            raise invalid(f"econ_params.{name}", "ARGUMENT_INVALID", f"econ_params has no {name}")
        return number(v, f"econ_params.{name}")

    preset = plain(field_of(econ_params, "preset", "toy"))
    if type(preset) is not str:
        raise invalid("econ_params.preset", "FIELD_TYPE", f"econ_params.preset must be a string, got {preset!r}")
    return EconValues(num("price_per_unit"), num("damage_cost"), num("energy_Wh_per_attempt"),
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
            object.__setattr__(self, key, number(getattr(self, key), f"baseline.{key}", reason_type="BASELINE_INVALID",
                                                 reason_finite="BASELINE_INVALID", what=f"baseline {key}"))
        if self.wage_parity is not None:
            object.__setattr__(self, "wage_parity", number(
                self.wage_parity, "baseline.wage_parity", reason_type="BASELINE_INVALID",
                reason_finite="BASELINE_INVALID", what="baseline wage_parity"))
        if self.name is not None and type(self.name) is not str:
            raise invalid("baseline.name", "BASELINE_INVALID", f"baseline name must be a string, got {self.name!r}")
        count = plain(self.episode_count)
        if type(count) is not int or count < 0:
            raise invalid("baseline.episode_count", "BASELINE_INVALID", "episode_count must be an integer ≥ 0")
        object.__setattr__(self, "episode_count", count)

    @classmethod
    def from_episodes(cls, episodes: Iterable[Any], name: str | None = None) -> Baseline:
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
                for alias in names:
                    v = field_of(e, alias, None)
                    if v is not None:
                        break
                if v is None:
                    raise invalid(f"baseline.episodes[{i}].{names[0]}", "BASELINE_INVALID",
                                  f"episode {i} has no {names[0]} (or {names[1]})")
                cols[key].append(number(v, f"baseline.episodes[{i}].{names[0]}", reason_type="BASELINE_INVALID",
                                        reason_finite="BASELINE_INVALID"))
            wp = field_of(e, "wage_parity", None)
            if wp is not None:
                wps.append(number(wp, f"baseline.episodes[{i}].wage_parity", reason_type="BASELINE_INVALID",
                                  reason_finite="BASELINE_INVALID"))
        n = len(eps)
        return cls(sum(cols["mpl"]) / n, sum(cols["error"]) / n, sum(cols["ep"]) / n,
                   sum(wps) / n if len(wps) == n else None, name, n)

    def to_dict(self) -> dict:
        return {"mpl": self.mpl, "error": self.error, "ep": self.ep, "wage_parity": self.wage_parity,
                "name": self.name, "episode_count": self.episode_count}


# The nominal means of the synthetic generator (docs/building.md §1.3, §9).
SYNTHETIC_NOMINAL = Baseline(10.0, 0.05, 2.0, 0.5, name="synthetic_nominal")
BASELINES: dict[str, Baseline] = {"synthetic_nominal": SYNTHETIC_NOMINAL}


def resolve_baseline(baseline: Any, mpl: Any, error: Any, ep: Any, wage_parity: Any) -> Baseline:
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
        number(v, key, reason_type="BASELINE_INVALID", reason_finite="BASELINE_INVALID")
    if wage_parity is not None:
        number(wage_parity, "baseline_wage_parity", reason_type="BASELINE_INVALID", reason_finite="BASELINE_INVALID")
    return Baseline(mpl, error, ep, wage_parity)


# --------------------------------------------------------------------------------------------------
# §2.2 step 1: the inputs of one build, checked


@dataclass(frozen=True)
class BuildInputs:
    """What step 1 checked: the summary, the condition profile (a mapping),
    the agent profile (plain JSON), the task, the econ values and the outcome
    flags (`success` defaults to termination_reason == "success")."""

    summary: EpisodeInfoSummary
    condition_profile: Mapping[str, Any]
    agent_profile: Any
    env_type: str
    econ: EconValues
    failure_reason: str | None
    vase_broken: bool
    drawer_stuck: bool
    success: bool


def build_inputs(episode_info: Any, econ_params: Any, condition_profile: Any, agent_profile: Any, *, env_type: Any,
                 failure_reason: Any, vase_broken: Any, drawer_stuck: Any, success: Any) -> BuildInputs:
    """§2.2 step 1, checks in this order: summary, condition profile, task name,
    econ parameters, failure reason."""
    summary = summary_of(episode_info)
    if condition_profile is None:
        condition_profile = {}
    elif not isinstance(condition_profile, Mapping):
        raise invalid("condition_profile", "ARGUMENT_INVALID",
                      f"condition_profile must be a dict, got {type(condition_profile).__name__}")
    agent = {} if agent_profile is None else plain(agent_profile)
    if not task_name_ok(env_type):
        raise invalid("env_type", "TASK_NAME_INVALID",
                      f"env_type {env_type!r} is not a valid task name (1-128 of [A-Za-z0-9_.-], no '..')")
    econ = econ_values(econ_params)
    if failure_reason is not None and not isinstance(failure_reason, str):
        raise invalid("failure_reason", "ARGUMENT_INVALID", f"failure_reason must be a string, got {failure_reason!r}")
    succeeded = (summary.termination_reason == "success") if success is None else bool(success)
    return BuildInputs(summary, condition_profile, agent, env_type, econ, failure_reason, bool(vase_broken),
                       bool(drawer_stuck), succeeded)
