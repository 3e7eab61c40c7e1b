"""One simulated episode -> the builder's arguments and the raw artifacts.

`run_episode` resets the world to the episode's condition (drawn from the seed
and the episode index alone, so results do not depend on how episodes are
spread over processes), runs the scripted policy, accounts energy every physics
step, watches the vase, captures small RGB frames and object pose tracks, and
returns the keyword arguments of `build_datapack_meta_from_episode` (the shape
`datapack_server.synthetic.episodes.episode_to_builder_args` returns; the caller adds the
baseline) plus the raw episode in the portable layout (docs/portable.md §2-§3).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datapack_client.building.builder import Baseline, EconParams
from datapack_client.records.skills import DRAWER_VASE_SKILLS, SkillID
from datapack_server.sim import env as W
from datapack_server.sim.energy import GRIPPER_ACTUATOR, EnergyMeter
from datapack_server.sim.policy import (
    OPEN_SUCCESS,
    PolicyOutcome,
    SkillExecutor,
    params_dict,
    sample_params,
)
from datapack_server.synthetic.episodes import SCRIPT_ECON_PARAMS, SIMA_INSTRUCTION, world_id_for

# Vase-break detector thresholds.
BREAK_TILT_DEG = 20.0          # tipped beyond this from upright (it topples past ~22 deg)
BREAK_DROP_M = 0.05            # centre this far below its resting height: fell off the top
BREAK_IMPACT_N = 40.0          # an arm contact pressing this hard cracks it

# The reference the simulator's ΔJ is measured against: the scripted policy of the previous
# release on this world (mean over its evaluation episodes; failures count with zero output).
SIM_BASELINE = Baseline(mpl=800.0, error=0.1, ep=36.0, name="pybullet_scripted_v1")

SIM_ENGINE = "pybullet"
AGENT_POLICY = "scripted_hierarchical_v1"
SIMA_AGENT_ID = "sima_pybullet_narrator_v1"
DEFAULT_OBJECTIVE = [1.0, 1.0, 1.0, 0.5]


def sim_econ_params() -> EconParams:
    """The builder script's drawer/vase economics with the simulator's time step and horizon."""
    values = dict(SCRIPT_ECON_PARAMS)
    values.update(time_step_s=W.TIME_STEP, max_steps=1200, energy_Wh_per_attempt=0.05, preset="drawer_vase_pybullet")
    return EconParams(**values)


@dataclass
class EpisodeSettings:
    task: str = "drawer_vase"
    seed: int = 0
    frame_every: int = 24        # one RGB frame and track sample every k physics steps
    image_size: int = 32
    narrate: bool = False
    raw_dir: str | None = None


@dataclass
class EpisodeRun:
    index: int
    builder_args: dict[str, Any]
    outcome: PolicyOutcome
    raw_data_path: str | None = None
    sim_seconds: float = 0.0
    frames: int = 0
    failure_reason: str | None = None
    extras: dict = field(default_factory=dict)


class _Recorder:
    """The per-step hook: energy, vase watch, frames and tracks."""

    def __init__(self, world: W.DrawerVaseWorld, meter: EnergyMeter, settings: EpisodeSettings):
        self.world, self.meter, self.settings = world, meter, settings
        self.vase_rest_z = world.vase_pose()[0][2]
        self.arm_vase_contact_steps = 0
        self.max_contact_N = 0.0
        self.max_tilt_deg = 0.0
        self.frames: list[np.ndarray] = []
        self.samples: list[dict] = []
        # Frames and tracks are rendered only when they are written (raw_dir).
        self.capturing = settings.raw_dir is not None
        if self.capturing:
            self.capture()

    def __call__(self, t: int, skill: int, grasp: int | None) -> str | None:
        w = self.world
        _, qd, tau = w.arm_state()
        gripper_power = 0.0
        if grasp is not None:
            gripper_power = float(w.constraint_force(grasp) @ w.handle_velocity())
        self.meter.add_step(skill, tau, qd, gripper_power, grasp is not None)
        force = w.arm_vase_contact_force()
        if force > 0.0:
            self.arm_vase_contact_steps += 1
            self.max_contact_N = max(self.max_contact_N, force)
        if self.capturing and t % self.settings.frame_every == 0:
            self.capture()
        vpos, vrot = w.vase_pose()
        tilt = math.degrees(math.acos(max(-1.0, min(1.0, float(vrot[2, 2])))))
        self.max_tilt_deg = max(self.max_tilt_deg, tilt)
        if force > BREAK_IMPACT_N:
            return "impact"
        if tilt > BREAK_TILT_DEG:
            return "tipped"
        if vpos[2] < self.vase_rest_z - BREAK_DROP_M:
            return "fell"
        return None

    def capture(self) -> None:
        w = self.world
        self.frames.append(w.render_rgb(self.settings.image_size))
        vpos, vrot = w.vase_pose()
        hpos, hrot = w.handle_pose()
        epos, erot = w.ee_pose()
        vase_visibility = 1.0 - w.vase_occlusion()
        handle_visible = w.point_visible(hpos, w.bodies.cabinet, w.bodies.handle_link)
        ee_visible = w.point_visible(epos, w.bodies.arm)
        self.samples.append({"pos": (vpos, hpos, epos), "rot": (vrot, hrot, erot),
                             "vis": (vase_visibility, float(handle_visible), float(ee_visible))})


def _scene_tracks(samples: list[dict], seed: int, index: int, frame_every: int) -> dict[str, np.ndarray]:
    """Ground-truth object tracks in the scene_tracks_v1 layout (docs/portable.md §3)."""
    t, k = len(samples), 3
    vis = np.array([s["vis"] for s in samples], dtype=np.float64).reshape(t, k)
    observed = vis > 0.0
    poses_t = np.array([s["pos"] for s in samples], dtype=np.float64).reshape(t, k, 3)
    poses_R = np.array([s["rot"] for s in samples], dtype=np.float64).reshape(t, k, 3, 3)
    arrays = {
        "version": np.array(["v1"]),
        "track_ids": np.array(["vase", "drawer_handle", "end_effector"], dtype="<U16"),
        "entity_types": np.array([0, 0, 1], dtype=np.int32),
        "class_ids": np.array([0, 1, -1], dtype=np.int32),
        # Unobserved entries hold zeros (scale 1), as the layout requires.
        "poses_R": poses_R * observed[..., None, None],
        "poses_t": poses_t * observed[..., None],
        "scales": np.ones((t, k)),
        "visibility": np.where(observed, vis, 0.0),
        "occlusion": np.where(observed, 1.0 - vis, 0.0),
        "ir_loss": np.zeros((t, k)),  # poses are the simulator's ground truth, not fitted
        "converged": observed,
        "class_names": np.array(["vase", "handle"]),
        "summary_json": np.array([json.dumps({"generator": "pybullet_drawer_vase", "seed": seed,
                                              "episode_index": index, "num_frames": t, "num_tracks": k,
                                              "frame_every_steps": frame_every, "ground_truth": True,
                                              "num_hidden": int((~observed).sum())}, sort_keys=True)]),
    }
    for key in ("poses_R", "poses_t", "scales", "visibility", "occlusion", "ir_loss"):
        arrays[key] = np.ascontiguousarray(arrays[key], dtype=np.float32)
    return arrays


def write_raw_episode(raw_dir: str, name: str, frames: np.ndarray, tracks: dict[str, np.ndarray],
                      fps: float) -> str:
    """The directory layout of docs/portable.md §2 (metadata.json, rgb.npz, tracks.npz); returns its path."""
    from datapack_server.portable.scene_tracks import PREFIX

    path = Path(raw_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    np.savez(path / "rgb.npz", rgb_frames=frames)
    np.savez(path / "tracks.npz", **{PREFIX + k: v for k, v in tracks.items()})
    meta = {"rgb_video_path": "rgb.npz", "scene_tracks_path": "tracks.npz", "fps": fps}
    (path / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return os.path.abspath(path)


def _narrations(trace: list[dict], out: PolicyOutcome) -> list[str]:
    lines = []
    for i, e in enumerate(trace):
        k, prm = e["skill_id"], e["params"]
        broke_here = out.vase_broken and i == len(trace) - 1
        if k == SkillID.LOCATE_DRAWER:
            s = "Located the drawer handle" + ("" if prm.get("handle_visible", True) else " behind an obstruction")
        elif k == SkillID.LOCATE_VASE:
            s = (f"Found the vase, {prm.get('occlusion', 0.0):.0%} of it hidden; position estimated to "
                 f"{100 * prm.get('estimate_error_m', 0.0):.1f} cm")
        elif k == SkillID.PLAN_SAFE_APPROACH:
            y = prm.get("grasp_y", 0.0)
            side = "left" if y > 0 else "right"
            where = "at the handle's centre" if abs(y) < 1e-9 else f"{100 * abs(y):.0f} cm {side} of centre"
            s = f"Planned a grasp {where} with {100 * prm.get('planned_clearance', 0.0):.1f} cm clearance from the vase"
        elif k == SkillID.GRASP_HANDLE:
            s = "Grasped the drawer handle" if prm.get("succeeded") else "Missed the drawer handle"
        elif k == SkillID.OPEN_WITH_CLEARANCE:
            opening = 100 * prm.get("opening_m", 0.0)
            if prm.get("succeeded"):
                s = f"Pulled the drawer open {opening:.0f} cm, clear of the vase"
            elif prm.get("slipped"):
                s = f"The drawer stuck at {opening:.0f} cm and the grasp slipped"
            else:
                s = f"The drawer opened only {opening:.0f} cm"
        else:
            s = "Retracted to a safe pose"
        if broke_here:
            s += f"; the vase broke ({out.break_cause})"
        lines.append(s)
    return lines


def run_episode(world: W.DrawerVaseWorld, index: int, settings: EpisodeSettings,
                created_at: str | None = None) -> EpisodeRun:
    """Simulate episode `index` of seed `settings.seed` in `world`."""
    from datapack_client.records import schema

    rng = np.random.default_rng([settings.seed, index])
    condition = W.sample_condition(rng)
    params = sample_params(rng)
    world.reset(condition)
    occlusion_level = world.vase_occlusion()
    bodies = world.bodies
    meter = EnergyMeter(bodies.arm_joint_names + (GRIPPER_ACTUATOR,), DRAWER_VASE_SKILLS, W.TIME_STEP)
    recorder = _Recorder(world, meter, settings)
    out = SkillExecutor(world, params, rng, recorder).run()

    trace = [r.to_trace() for r in out.trace]
    termination, failure = _termination(out, trace)
    pack_id = f"sim-{settings.task}-s{settings.seed}-e{index:06d}"
    econ = sim_econ_params()
    args: dict[str, Any] = {
        "episode_info": _episode_summary(out, meter, recorder, econ, trace, termination, pack_id),
        "econ_params": econ,
        "condition_profile": _condition_profile(condition, occlusion_level, settings, index),
        "agent_profile": {"policy": AGENT_POLICY, "params": params_dict(params)},
        "env_type": settings.task,
        "vase_broken": out.vase_broken,
        "drawer_stuck": out.drawer_stuck,
        "success": out.success,
        "failure_reason": failure,
        "skill_trace": trace,
        "pack_id": pack_id,
        "created_at": created_at or schema.utc_now(),
        "episode_index": index,
        "source_type": "real",
    }
    if settings.narrate:
        args["sima_annotation"] = {
            "instruction": SIMA_INSTRUCTION,
            "step_narrations": _narrations(trace, out),
            "sima_agent_id": SIMA_AGENT_ID,
            "source_world": world_id_for(settings.task, SIM_ENGINE),
            "derived_skill_plan": [e["skill_id"] for e in trace],
        }
    run = EpisodeRun(index, args, out, sim_seconds=out.steps * W.TIME_STEP, frames=len(recorder.frames),
                     failure_reason=failure,
                     extras={"max_contact_N": recorder.max_contact_N, "max_tilt_deg": recorder.max_tilt_deg,
                             "opening_m": out.drawer_opening, "open_success_m": OPEN_SUCCESS})
    if settings.raw_dir is not None:
        tracks = _scene_tracks(recorder.samples, settings.seed, index, settings.frame_every)
        frames = np.stack(recorder.frames).astype(np.uint8)
        run.raw_data_path = write_raw_episode(settings.raw_dir, pack_id, frames, tracks,
                                              fps=1.0 / (W.TIME_STEP * settings.frame_every))
        args["raw_data_path"] = run.raw_data_path
    return run


def _termination(out: PolicyOutcome, trace: list[dict]) -> tuple[str, str | None]:
    """(termination_reason, failure_reason) of an episode."""
    if out.vase_broken:
        return "catastrophic_error", f"vase_collision:{out.break_cause}"
    if out.success:
        return "success", None
    grasped = any(e["skill_id"] == SkillID.GRASP_HANDLE and e["params"].get("succeeded") for e in trace)
    return "max_steps", "drawer_friction_jam" if grasped else "grasp_failed"


def _episode_summary(out: PolicyOutcome, meter: EnergyMeter, recorder: _Recorder, econ: EconParams,
                     trace: list[dict], termination: str, pack_id: str) -> dict[str, Any]:
    """The episode summary (docs/building.md §1.1): one unit when the drawer opened; the error
    rate counts failed skills and touching the vase."""
    energy = meter.totals()
    hours = out.steps * W.TIME_STEP / 3600.0
    units = 1.0 if out.success else 0.0
    touched = recorder.arm_vase_contact_steps > 0
    wh = energy.energy_Wh
    return {
        "termination_reason": termination,
        "mpl_episode": units / hours,
        "ep_episode": units / wh if wh > 0 else 0.0,
        "error_rate_episode": min(1.0, (out.failed_skills + (1 if touched else 0)) / len(trace)),
        "throughput_units_per_hour": units / hours,
        "energy_Wh": wh,
        "energy_Wh_per_unit": wh / max(units, 1.0),
        "energy_Wh_per_hour": wh / hours,
        "limb_energy_Wh": energy.limb_energy_Wh,
        "skill_energy_Wh": energy.skill_energy_Wh,
        "energy_per_limb": energy.energy_per_limb,
        "energy_per_skill": energy.energy_per_skill,
        "energy_per_joint": energy.energy_per_joint,
        "energy_per_effector": energy.energy_per_effector,
        "coordination_metrics": energy.coordination_metrics,
        "profit": (econ.price_per_unit * units - (econ.vase_break_cost if out.vase_broken else 0.0)
                   - wh / 1000.0 * econ.electricity_price_kWh),
        "episode_id": pack_id,
        "media_refs": {},
        "wage_parity": None,
    }


def _condition_profile(condition: W.Condition, occlusion_level: float, settings: EpisodeSettings,
                       index: int) -> dict[str, Any]:
    """The episode's condition, with the seed and index that reproduce it."""
    offset = [float(v) for v in condition.vase_offset]
    profile: dict[str, Any] = {
        "task": settings.task,
        "engine_type": SIM_ENGINE,
        "vase_offset": offset,
        "drawer_friction": condition.drawer_friction,
        "lighting_profile": condition.lighting_profile,
        "occlusion_level": occlusion_level,
        "objective_vector": list(DEFAULT_OBJECTIVE),
        "occluder": condition.occluder,
        "sim_seed": settings.seed,
        "sim_episode_index": index,
    }
    if any(v != 0 for v in offset):
        profile["has_offset"] = True
    return profile


def build_pack_from_run(run: EpisodeRun, baseline: Baseline = SIM_BASELINE):
    """The DataPackMeta of a simulated episode (the builder, client-side)."""
    from datapack_server.synthetic.episodes import build_pack

    return build_pack(run.builder_args, baseline)
