"""Episodes for the builder script (docs/building.md §8, §9).

* `generate_synthetic_episodes(n, seed=0)` – the seeded synthetic generator
  (§9): one `numpy.random.default_rng(seed)`, the same 23 draws in the same
  order for every episode, so two runs with one seed line up one to one and
  the first k episodes do not depend on n.
* `episode_to_builder_args(e, i, task, engine)` – an episode dict → the
  arguments of `build_datapack_meta_from_episode` (§8.2).
* `load_episode_files(data_dir)` – the episode JSON files of a folder (§8.1).
* `resolve_baseline(spec)` – the `--baseline` option (§8.3).

Pure apart from `load_episode_files` / `resolve_baseline` reading files.
"""
from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from datapack_client.building.inputs import ECON_PRESETS, EconParams

__all__ = [
    "DEFAULT_TRACE", "SCRIPT_ECON_PARAMS", "SIMA_INSTRUCTION", "SKILL_NARRATIONS", "BaselineSpecError",
    "IncompleteEpisodeError", "LoadedEpisodes", "build_pack", "episode_to_builder_args",
    "generate_synthetic_episodes", "load_episode_files", "resolve_baseline", "script_econ_params", "world_id_for",
]

# §8.2: default 6-skill trace (skills 0…5 in order).
DEFAULT_TRACE: tuple[tuple[int, int, int], ...] = (  # (skill_id, t, duration)
    (0, 0, 10), (1, 10, 10), (2, 20, 20), (3, 40, 30), (4, 70, 40), (5, 110, 20))

# §8.2: the script's EconParams (keyword arguments of EconParams): the
# "drawer_vase" preset, so `EconParams.preset("drawer_vase")` builds what it builds.
SCRIPT_ECON_PARAMS: dict[str, Any] = dict(ECON_PRESETS["drawer_vase"])

SIMA_INSTRUCTION = "open the drawer without hitting the vase"
SKILL_NARRATIONS = {
    0: "Locating the drawer handle",
    1: "Finding the vase",
    2: "Planning a safe approach",
    3: "Grasping the drawer handle",
    4: "Opening the drawer with clearance",
    5: "Retracting to a safe pose",
}

_DEFAULT_OBJECTIVE = (1.0, 1.0, 1.0, 0.5)
_WORLD_PREFIX = {"pybullet": "pyb", "isaac": "isaac", "ue5": "ue5"}
_EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc)
_LIMBS = ("shoulder", "elbow", "wrist", "gripper")
_JOINTS = ("joint_0", "joint_1", "joint_2")
_EPISODE_HOURS = 0.1  # §9: episode length fixed at 0.1 h

# §1.1 fields 6-15 that the script copies by name (else 0.0 / {}).
_ENERGY_NUMBERS = ("energy_Wh", "energy_Wh_per_unit", "energy_Wh_per_hour")
_ENERGY_DICTS = ("limb_energy_Wh", "skill_energy_Wh", "energy_per_limb", "energy_per_skill",
                 "energy_per_joint", "energy_per_effector", "coordination_metrics")


class IncompleteEpisodeError(ValueError):
    """The episode lacks one of mpl / error rate / ep (counted `skipped_incomplete`)."""


class BaselineSpecError(ValueError):
    """A `--baseline` value that names no usable baseline (a usage error)."""


def script_econ_params():
    """The builder script's EconParams preset (docs/building.md §8.2)."""
    return EconParams(**SCRIPT_ECON_PARAMS)


def world_id_for(task: str, engine: str) -> str:
    """The builder's default world id `<prefix>_<task>_v1` (docs/building.md §2.2 step 6)."""
    return f"{_WORLD_PREFIX.get(engine, engine)}_{task}_v1"


def _default_trace() -> list[dict]:
    return [{"t": t, "skill_id": k, "params": {}, "duration": d} for k, t, d in DEFAULT_TRACE]


# ------------------------------------------------------------------------------------------------
# §9 seeded synthetic generator


def generate_synthetic_episodes(n: int, seed: int = 0) -> list[dict]:
    """n synthetic drawer/vase episode dicts for the builder script (docs/building.md §9)."""
    import numpy as np

    if type(n) is not int or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    from datapack_client.records.skills import skill_name

    names = {k: skill_name("drawer_vase", k) for k in range(6)}
    rng = np.random.default_rng(seed)
    return [_synthetic_episode(i, seed, _Draws.take(rng), names) for i in range(n)]


@dataclass(frozen=True)
class _Draws:
    """The 23 random draws of one synthetic episode (docs/building.md §9)."""

    z: tuple[float, float, float]
    u_vase: float
    off_x: float
    off_y: float
    friction: float
    u_light: float
    u_occluded: float
    occ_value: float
    u_stuck: float
    u_source: float
    trust: float
    w_econ: float
    u_default: float
    include: list[bool]
    durations: list[int]
    u_retry: float
    u_sima: float
    energy: float
    limb_fractions: list[float]
    joint_fractions: list[float]
    mean_active: float

    @classmethod
    def take(cls, rng) -> _Draws:
        """The draws, exactly these and in this order, for every episode (keyword arguments are
        evaluated left to right, so the order below is the order of the draws)."""
        return cls(
            z=tuple(float(v) for v in rng.standard_normal(3)),            # 1-3
            u_vase=float(rng.random()),                                   # 4
            off_x=float(rng.uniform(-0.12, 0.12)),                        # 5
            off_y=float(rng.uniform(-0.12, 0.12)),                        # 6
            friction=float(rng.uniform(0.2, 0.6)),                        # 7
            u_light=float(rng.random()),                                  # 8
            u_occluded=float(rng.random()),                               # 9
            occ_value=float(rng.uniform(0.0, 0.6)),                       # 10
            u_stuck=float(rng.random()),                                  # 11
            u_source=float(rng.random()),                                 # 12
            trust=float(rng.uniform(0.7, 1.0)),                           # 13
            w_econ=float(rng.uniform(0.5, 1.5)),                          # 14
            u_default=float(rng.random()),                                # 15
            include=[float(v) < 0.75 for v in rng.random(6)],             # 16
            durations=[int(v) for v in rng.integers(5, 41, size=6)],      # 17
            u_retry=float(rng.random()),                                  # 18
            u_sima=float(rng.random()),                                   # 19
            energy=float(rng.uniform(0.1, 1.0)),                          # 20
            limb_fractions=[float(v) for v in rng.dirichlet([2.0, 2.0, 2.0, 2.0])],  # 21
            joint_fractions=[float(v) for v in rng.dirichlet([2.0, 2.0, 2.0])],      # 22
            mean_active=float(rng.uniform(1.0, 4.0)),                     # 23
        )


def _synthetic_trace(d: _Draws) -> list[dict]:
    """The default trace, or the included skills (at least skill 4) with a retried grasp."""
    if d.u_default < 0.5:
        return _default_trace()
    skills = [k for k in range(6) if d.include[k]] or [4]
    if d.u_retry < 0.15 and 3 in skills:
        j = skills.index(3)
        skills.insert(j + 1, 3)
    trace, start = [], 0
    for k in skills:
        trace.append({"t": start, "skill_id": k, "params": {}, "duration": d.durations[k]})
        start += d.durations[k]
    return trace


def _energy_fields(d: _Draws, trace: list[dict], names: dict[int, str]) -> dict[str, Any]:
    """The energy keys of a synthetic episode: the energy split over skills by duration, over
    limbs and joints by the Dirichlet fractions."""
    energy = d.energy
    total_d = sum(e["duration"] for e in trace)
    per_skill_d: dict[int, int] = {}
    for e in trace:
        per_skill_d[e["skill_id"]] = per_skill_d.get(e["skill_id"], 0) + e["duration"]
    energy_per_skill = {}
    skill_energy = {}
    for k, dur in per_skill_d.items():
        energy_per_skill[names[k]] = {"Wh": energy * dur / total_d, "fraction": dur / total_d}
        skill_energy[names[k]] = energy * dur / total_d
    energy_per_limb = {limb: {"Wh": energy * fl, "fraction": fl} for limb, fl in zip(_LIMBS, d.limb_fractions)}
    limb_energy = {limb: energy * fl for limb, fl in zip(_LIMBS, d.limb_fractions)}
    return {
        "limb_energy_Wh": limb_energy,
        "skill_energy_Wh": skill_energy,
        "energy_per_limb": energy_per_limb,
        "energy_per_skill": energy_per_skill,
        "energy_per_joint": {j: {"Wh": energy * gj} for j, gj in zip(_JOINTS, d.joint_fractions)},
        "energy_per_effector": {"gripper": {"Wh": limb_energy["gripper"]}},
        "coordination_metrics": {"mean_active_joints": d.mean_active},
    }


def _synthetic_episode(i: int, seed: int, d: _Draws, names: dict[int, str]) -> dict:
    """Episode i of the generator from its draws (keys in the order of docs/building.md §9)."""
    z1, z2, z3 = d.z
    mpl = 10 * (1 + 0.3 * z1)
    error = max(0.0, 0.05 + 0.02 * z2)
    ep = 2 * (1 + 0.2 * z3)
    vase_broken = d.u_vase < 0.1
    drawer_stuck = d.u_stuck < 0.05
    lighting = "normal" if d.u_light < 0.7 else "low_light" if d.u_light < 0.9 else "high_contrast"
    success = not vase_broken and not drawer_stuck and error < 0.1
    trace = _synthetic_trace(d)
    e: dict[str, Any] = {
        "episode_id": f"ep_{i:04d}",
        "pack_id": f"synthetic-s{seed}-ep_{i:04d}",
        "created_at": (_EPOCH + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
        "termination_reason": "success" if success else "catastrophic_error" if vase_broken else "max_steps",
        "mpl_episode": mpl,
        "error_rate_episode": error,
        "ep_episode": ep,
        "throughput_units_per_hour": mpl,
        "energy_Wh": d.energy,
        "energy_Wh_per_unit": d.energy / max(mpl * _EPISODE_HOURS, 1e-6),
        "energy_Wh_per_hour": d.energy / _EPISODE_HOURS,
        **_energy_fields(d, trace, names),
        "profit": 5.0 * mpl * _EPISODE_HOURS - (50.0 if vase_broken else 0.0),
        "wage_parity": mpl / 20,
        "vase_offset": [d.off_x, d.off_y, 0.0],
        "drawer_friction": d.friction,
        "lighting_profile": lighting,
        "occlusion_level": d.occ_value if d.u_occluded >= 0.6 else 0.0,
        "objective_vector": list(_DEFAULT_OBJECTIVE),
        "vase_broken": vase_broken,
        "drawer_stuck": drawer_stuck,
        "success": success,
    }
    # docs/building.md §9 names one cause; when the vase broke *and* the drawer jammed
    # both are named (a deliberate deviation), so the builder's vase and friction
    # counterfactual rules both apply and every plan variant occurs in generated sets.
    if vase_broken and drawer_stuck:
        e["failure_reason"] = "vase_collision+drawer_friction_jam"
    elif vase_broken:
        e["failure_reason"] = "vase_collision"
    elif drawer_stuck:
        e["failure_reason"] = "drawer_friction_jam"
    e["source_type"] = "real" if d.u_source < 0.85 else "synthetic" if d.u_source < 0.95 else "hybrid"
    e["trust_score"] = d.trust
    e["w_econ"] = d.w_econ
    e["skill_trace"] = trace
    if d.u_sima < 0.3:
        e["instruction"] = SIMA_INSTRUCTION
        e["narrations"] = [SKILL_NARRATIONS[t["skill_id"]] for t in trace]
        e["sima_agent_id"] = "sima_v1"
    return e


# ------------------------------------------------------------------------------------------------
# §8.2 episode dict → builder call


def _present(e: dict, key: str) -> bool:
    return e.get(key) is not None


def _first(e: dict, *keys: str) -> Any:
    for k in keys:
        v = e.get(k)
        if v is not None:
            return v
    return None


def episode_to_builder_args(e: dict, i: int, task: str, engine: str) -> dict[str, Any]:
    """The arguments of `build_datapack_meta_from_episode` for episode dict `e` at index `i`
    (docs/building.md §8.2), as one dict of keyword arguments (the caller adds the baseline).

    Raises IncompleteEpisodeError when `e` lacks one of the three metrics (or is not an object),
    TypeError/ValueError when a value the script itself reads has the wrong shape.
    """
    if not isinstance(e, dict):
        raise IncompleteEpisodeError(f"episode {i} is not an object")
    summary_fields = _summary_fields(e, i)
    condition = _condition_profile(e, task, engine)
    trace = _builder_trace(e)
    args: dict[str, Any] = {
        # The §1.1 dict (all 19 keys, in order): the builder coerces and type-checks it.
        "episode_info": summary_fields,
        "econ_params": script_econ_params(),
        "condition_profile": condition,
        "agent_profile": copy.deepcopy(e["agent_profile"]) if _present(e, "agent_profile") else {},
        "env_type": task,
        "vase_broken": e["vase_broken"] if _present(e, "vase_broken") else False,
        "drawer_stuck": e["drawer_stuck"] if _present(e, "drawer_stuck") else False,
        "success": e.get("success"),
        "failure_reason": e.get("failure_reason"),
        "skill_trace": trace,
    }
    if _present(e, "instruction") or _present(e, "narrations"):
        args["sima_annotation"] = _sima_annotation(e, trace, task, engine)
    if _present(e, "vla_plan"):
        args["vla_plan"] = copy.deepcopy(e["vla_plan"])
    for k in ("trust_score", "w_econ", "lambda_budget", "mvd_score"):
        if _present(e, k):
            args[k] = e[k]
    args["source_type"] = e["source_type"] if _present(e, "source_type") else "real"
    for k in ("wm_model_id", "wm_role", "wm_horizon_used", "wm_branch_depth", "wm_trust_over_horizon"):
        args[k] = copy.deepcopy(e.get(k))
    args["world_model_horizon"] = e["wm_horizon"] if _present(e, "wm_horizon") else 0
    args["world_model_trust_over_horizon"] = (copy.deepcopy(e["wm_trust_over_horizon"])
                                              if _present(e, "wm_trust_over_horizon") else [])
    for k in ("pack_id", "brick_id", "created_at"):
        if _present(e, k):
            args[k] = e[k]
    args["episode_index"] = i
    return args


def _summary_fields(e: dict, i: int) -> dict[str, Any]:
    """The episode summary (docs/building.md §1.1, 19 keys in order); IncompleteEpisodeError
    when mpl, error rate or ep is missing."""
    mpl = _first(e, "mpl_episode", "mpl")
    error = _first(e, "error_rate_episode", "error_rate")
    ep = _first(e, "ep_episode", "ep")
    missing = [name for name, v in (("mpl_episode", mpl), ("error_rate_episode", error), ("ep_episode", ep))
               if v is None]
    if missing:
        raise IncompleteEpisodeError(f"episode {i} lacks {', '.join(missing)}")
    termination = e.get("termination_reason")
    if termination is None:
        termination = "success" if e.get("success") else "unknown"
    summary_fields: dict[str, Any] = {
        "termination_reason": termination,
        "mpl_episode": mpl,
        "ep_episode": ep,
        "error_rate_episode": error,
        "throughput_units_per_hour": _first(e, "throughput_units_per_hour", "mpl_episode", "mpl"),
    }
    for k in _ENERGY_NUMBERS:
        summary_fields[k] = e[k] if _present(e, k) else 0.0
    for k in _ENERGY_DICTS:
        summary_fields[k] = copy.deepcopy(e[k]) if _present(e, k) else {}
    summary_fields["profit"] = e["profit"] if _present(e, "profit") else 0.0
    summary_fields["episode_id"] = e["episode_id"] if _present(e, "episode_id") else str(i)
    summary_fields["media_refs"] = copy.deepcopy(e["media_refs"]) if _present(e, "media_refs") else {}
    summary_fields["wage_parity"] = e.get("wage_parity")
    return summary_fields


def _condition_profile(e: dict, task: str, engine: str) -> dict[str, Any]:
    """The condition the script builds: the episode's values or the defaults."""
    offset = copy.deepcopy(e["vase_offset"]) if _present(e, "vase_offset") else [0.0, 0.0, 0.0]
    condition: dict[str, Any] = {
        "task": task,
        "engine_type": engine,
        "vase_offset": offset,
        "drawer_friction": e["drawer_friction"] if _present(e, "drawer_friction") else 0.3,
        "lighting_profile": e["lighting_profile"] if _present(e, "lighting_profile") else "normal",
        "occlusion_level": e["occlusion_level"] if _present(e, "occlusion_level") else 0.0,
        "objective_vector": (copy.deepcopy(e["objective_vector"]) if _present(e, "objective_vector")
                             else list(_DEFAULT_OBJECTIVE)),
    }
    for k in ("fragile", "multi_object"):
        if k in e:
            condition[k] = copy.deepcopy(e[k])
    if not isinstance(offset, (list, tuple)):
        raise TypeError(f"vase_offset must be an array of numbers, got {offset!r}")
    if any(c != 0 for c in offset):
        condition["has_offset"] = True
    return condition


def _builder_trace(e: dict) -> Any:
    """The episode's skill trace; else six equal steps over its actions; else the default trace."""
    if _present(e, "skill_trace"):
        return copy.deepcopy(e["skill_trace"])
    if _present(e, "actions"):
        actions = e["actions"]
        if not isinstance(actions, list):
            raise TypeError(f"actions must be an array, got {type(actions).__name__}")
        s = max(1, len(actions) // 6)
        return [{"t": k * s, "skill_id": k, "params": {}, "duration": s} for k in range(6)]
    return _default_trace()


def _sima_annotation(e: dict, trace: Any, task: str, engine: str) -> dict[str, Any]:
    """The SIMA annotation of an episode with an instruction or narrations."""
    plan = [t.get("skill_id") for t in trace if isinstance(t, dict)] if isinstance(trace, list) else []
    return {
        "instruction": e["instruction"] if _present(e, "instruction") else SIMA_INSTRUCTION,
        "step_narrations": copy.deepcopy(e["narrations"]) if _present(e, "narrations") else [],
        "sima_agent_id": e["sima_agent_id"] if _present(e, "sima_agent_id") else "sima_v1",
        "source_world": world_id_for(task, engine),
        "derived_skill_plan": plan,
    }


def build_pack(args: dict[str, Any], baseline):
    """Call the builder with `episode_to_builder_args` output and a Baseline (the first four
    arguments positionally, as docs/building.md §2.1 lists them)."""
    from datapack_client.building.builder import build_datapack_meta_from_episode

    kw = dict(args)
    head = [kw.pop(k) for k in ("episode_info", "econ_params", "condition_profile", "agent_profile")]
    return build_datapack_meta_from_episode(*head, baseline=baseline, **kw)


# ------------------------------------------------------------------------------------------------
# §8.1 loading episode files


@dataclass
class LoadedEpisodes:
    """The episode list of §8.1 (index = position) plus the files that could not be read."""

    episodes: list[Any] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def load_episode_files(data_dir: str) -> LoadedEpisodes:
    """Every regular file of `data_dir`, in name order, whose name ends with `.json` and contains
    `episode` (case-insensitive): an array contributes its elements, anything else itself.

    Raises FileNotFoundError / NotADirectoryError when `data_dir` is not a folder. A file that is
    not valid JSON (or not UTF-8) is listed in `unreadable` and contributes nothing."""
    if not os.path.isdir(data_dir):
        if os.path.exists(data_dir):
            raise NotADirectoryError(f"{data_dir} is not a folder")
        raise FileNotFoundError(f"{data_dir} does not exist")
    out = LoadedEpisodes()
    for name in sorted(os.listdir(data_dir)):
        low = name.lower()
        path = os.path.join(data_dir, name)
        if not (low.endswith(".json") and "episode" in low) or not os.path.isfile(path):
            continue
        out.files.append(path)
        try:
            with open(path, "rb") as fh:
                value = json.loads(fh.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            out.unreadable.append((path, str(exc)))
            continue
        if isinstance(value, list):
            out.episodes.extend(value)
        else:
            out.episodes.append(value)
    return out


# ------------------------------------------------------------------------------------------------
# §8.3 --baseline


def _finite_number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _baseline_from_numbers(d: dict, name: str | None, where: str):
    from datapack_client.building.builder import Baseline

    missing = [k for k in ("mpl", "error", "ep") if k not in d]
    if missing:
        raise BaselineSpecError(f"{where}: missing {', '.join(missing)}")
    for k in ("mpl", "error", "ep", "wage_parity"):
        v = d.get(k)
        if k in d and not (v is None and k == "wage_parity") and not _finite_number(v):
            raise BaselineSpecError(f"{where}: {k} must be a finite number, got {v!r}")
    wp = d.get("wage_parity")
    return Baseline(float(d["mpl"]), float(d["error"]), float(d["ep"]),
                    wage_parity=None if wp is None else float(wp), name=name)


def _baseline_from_value(value: Any, name: str | None, where: str):
    from datapack_client.building.builder import Baseline
    from datapack_client.errors import DataPackError

    if isinstance(value, dict):
        return _baseline_from_numbers(value, name, where)
    if isinstance(value, list):
        try:
            return Baseline.from_episodes(value, name=name)
        except DataPackError as exc:
            raise BaselineSpecError(f"{where}: {exc.message}") from None
    raise BaselineSpecError(f"{where}: expected an object with mpl, error, ep or an array of episodes")


def resolve_baseline(spec: str):
    """The Baseline named by a `--baseline` value (docs/building.md §8.3), tried in this order:
    inline `mpl=<x>,error=<y>,ep=<z>[,wage_parity=<w>]`; a built-in name (`synthetic_nominal`);
    a JSON file path, optionally followed by `#<name>`. Raises BaselineSpecError otherwise."""
    from datapack_client.building.builder import BASELINES
    from datapack_client.errors import DataPackError

    if not isinstance(spec, str) or not spec.strip():
        raise BaselineSpecError("empty baseline")
    try:
        if "=" in spec:
            values: dict[str, float] = {}
            for part in spec.split(","):
                key, eq, raw = part.partition("=")
                key = key.strip()
                if not eq or key not in ("mpl", "error", "ep", "wage_parity"):
                    raise BaselineSpecError(
                        f"baseline {spec!r}: expected mpl=<x>,error=<y>,ep=<z>[,wage_parity=<w>], got {part!r}")
                if key in values:
                    raise BaselineSpecError(f"baseline {spec!r}: {key} given twice")
                try:
                    values[key] = float(raw.strip())
                except ValueError:
                    raise BaselineSpecError(f"baseline {spec!r}: {key} is not a number: {raw!r}") from None
                if not math.isfinite(values[key]):
                    raise BaselineSpecError(f"baseline {spec!r}: {key} must be finite")
            return _baseline_from_numbers(values, None, f"baseline {spec!r}")
        if spec in BASELINES:
            return BASELINES[spec]
        path, name = spec, None
        if not os.path.isfile(path) and "#" in spec:
            path, _, name = spec.rpartition("#")
        if not os.path.isfile(path):
            raise BaselineSpecError(f"baseline {spec!r} is neither mpl=..,error=..,ep=.., a built-in name "
                                    f"({', '.join(sorted(BASELINES))}) nor a JSON file")
        try:
            with open(path, "rb") as fh:
                value = json.loads(fh.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BaselineSpecError(f"baseline file {path}: {exc}") from None
        if name is not None:
            if not isinstance(value, dict) or name not in value:
                raise BaselineSpecError(f"baseline file {path} has no baseline named {name!r}")
            return _baseline_from_value(value[name], name, f"baseline {path}#{name}")
        return _baseline_from_value(value, None, f"baseline file {path}")
    except DataPackError as exc:  # Baseline(...) rejected the numbers (BASELINE_INVALID)
        raise BaselineSpecError(f"baseline {spec!r}: {exc.message}") from None
