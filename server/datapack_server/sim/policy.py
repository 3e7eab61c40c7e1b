"""The scripted hierarchical drawer + vase policy: the six skills of
datapack_client.records.skills.SkillID, each a low-level controller (Cartesian
straight-line moves through inverse kinematics and joint position control)
driven by parameters the high level passes down (clearance, speeds, grasp
force). Every physics step goes through `SkillExecutor.step`, which lets the
episode account energy, watch the vase and capture frames, and stops the
episode when the vase breaks.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from datapack_client.records.skills import SkillID
from datapack_server.sim import env as W

# Inverse kinematics is solved every CONTROL_EVERY physics steps (120 Hz at 240 Hz physics).
CONTROL_EVERY = 2
OBSERVE_POSE = (W.CABINET_FRONT_X - 0.22, 0.0, W.TOP_Z + 0.22)
PERCEPTION_DWELL_STEPS = 10
SETTLE_STEPS = 6
# The planner's model of the wrist: a vertical cylinder of this radius around the grasp line.
# It underestimates the real forearm (up to ~0.07 m), which target_clearance has to make up for:
# low-clearance plans near a vase at the front edge do hit it.
WRIST_RADIUS = 0.05
# How far along the handle (from its centre) a grasp may be placed.
GRASP_Y_LIMIT = W.HANDLE_HALF[1] - 0.02
OPEN_TARGET = 0.16          # pull this far
OPEN_SUCCESS = 0.12         # the drawer counts as open from this opening on
SLIP_DISTANCE = 0.03        # grasp lost when the grasp point drifts this far from the handle point
MOVE_EXTRA_STEPS = 90       # a move may take this many steps beyond its nominal travel time


@dataclass
class PolicyParams:
    """Parameters the high level passes to the skills (clearances in m, the rest in [0, 1])."""

    target_clearance: float = 0.15
    min_clearance_threshold: float = 0.08
    approach_speed: float = 0.8
    pull_speed: float = 0.6
    retract_speed: float = 0.5
    grasp_force: float = 0.5

    def approach_mps(self) -> float:
        return 0.15 + 0.45 * self.approach_speed

    def pull_mps(self) -> float:
        return 0.08 + 0.25 * self.pull_speed

    def retract_mps(self) -> float:
        return 0.15 + 0.45 * self.retract_speed

    def grasp_max_force_N(self) -> float:
        return 25.0 + 90.0 * self.grasp_force


def sample_params(rng: np.random.Generator) -> PolicyParams:
    """Per-episode parameters of the scripted policy (a fixed number of draws)."""
    return PolicyParams(target_clearance=float(rng.uniform(0.0, 0.12)), min_clearance_threshold=0.04,
                        approach_speed=float(rng.uniform(0.3, 1.0)), pull_speed=float(rng.uniform(0.3, 1.0)),
                        retract_speed=float(rng.uniform(0.3, 1.0)), grasp_force=float(rng.uniform(0.3, 0.9)))


class SafetyStop(Exception):
    """The vase broke: the episode stops at once."""

    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


@dataclass
class SkillRecord:
    t: int
    skill_id: int
    params: dict
    duration: int = 0

    def to_trace(self) -> dict:
        return {"t": self.t, "skill_id": self.skill_id, "params": self.params, "duration": self.duration}


@dataclass
class PolicyOutcome:
    trace: list[SkillRecord] = field(default_factory=list)
    drawer_opening: float = 0.0
    slipped: bool = False
    vase_broken: bool = False
    break_cause: str | None = None
    occlusion: float = 0.0
    failed_skills: int = 0
    steps: int = 0

    @property
    def drawer_stuck(self) -> bool:
        return not self.vase_broken and self.drawer_opening < OPEN_SUCCESS

    @property
    def success(self) -> bool:
        return not self.vase_broken and self.drawer_opening >= OPEN_SUCCESS


# Called after every physics step with (step index, active skill id, grasp constraint or None);
# returns a break cause to stop the episode, else None.
StepHook = Callable[[int, int, "int | None"], "str | None"]


class SkillExecutor:
    """Runs the skills against one world, stepping physics through the hook."""

    def __init__(self, world: W.DrawerVaseWorld, params: PolicyParams, rng: np.random.Generator, hook: StepHook):
        self.world, self.params, self.rng, self.hook = world, params, rng, hook
        self.t = 0
        self.grasp: int | None = None
        self.commanded = world.ee_position()

    # -- low level

    def step(self, skill: int) -> None:
        self.world.step()
        self.t += 1
        cause = self.hook(self.t, skill, self.grasp)
        if cause is not None:
            raise SafetyStop(cause)

    def move_to(self, skill: int, target, speed_mps: float, extra_steps: int = MOVE_EXTRA_STEPS,
                tol: float = 0.012) -> bool:
        """Straight-line Cartesian move of the grasp point at speed_mps; True when it arrived."""
        start = np.array(self.commanded, dtype=float)
        goal = np.asarray(target, dtype=float)
        length = float(np.linalg.norm(goal - start))
        travel_steps = max(1, math.ceil(length / (speed_mps * W.TIME_STEP)))
        for k in range(1, travel_steps + extra_steps + 1):
            if k % CONTROL_EVERY == 1 or CONTROL_EVERY == 1:
                self.commanded = start + (goal - start) * min(1.0, k / travel_steps)
                self.world.command_ee(self.commanded)
            self.step(skill)
            if k >= travel_steps and np.linalg.norm(self.world.ee_position() - goal) < tol:
                return True
        return False

    def hold(self, skill: int, steps: int) -> None:
        self.world.command_ee(self.commanded)
        for _ in range(steps):
            self.step(skill)

    # -- the six skills

    def run(self) -> PolicyOutcome:
        out = PolicyOutcome()
        skills = ((SkillID.LOCATE_DRAWER, self.locate_drawer), (SkillID.LOCATE_VASE, self.locate_vase),
                  (SkillID.PLAN_SAFE_APPROACH, self.plan_safe_approach), (SkillID.GRASP_HANDLE, self.grasp_handle),
                  (SkillID.OPEN_WITH_CLEARANCE, self.open_with_clearance), (SkillID.RETRACT_SAFE, self.retract_safe))
        self._plan: dict = {}
        for skill_id, skill in skills:
            record = SkillRecord(self.t, int(skill_id), {})
            out.trace.append(record)
            try:
                ok = skill(record, out)
            except SafetyStop as stop:
                record.duration = self.t - record.t
                record.params["succeeded"] = False
                out.vase_broken, out.break_cause = True, stop.cause
                out.failed_skills += 1
                break
            record.duration = self.t - record.t
            record.params["succeeded"] = bool(ok)
            out.failed_skills += 0 if ok else 1
        out.drawer_opening = self.world.drawer_opening()
        out.steps = self.t
        return out

    def locate_drawer(self, rec: SkillRecord, out: PolicyOutcome) -> bool:
        arrived = self.move_to(rec.skill_id, OBSERVE_POSE, self.params.approach_mps())
        hpos, _ = self.world.handle_pose()
        visible = self.world.point_visible(hpos, self.world.bodies.cabinet, self.world.bodies.handle_link)
        rec.params.update({"observe_pose": [round(v, 4) for v in OBSERVE_POSE], "handle_visible": visible})
        return arrived

    def locate_vase(self, rec: SkillRecord, out: PolicyOutcome) -> bool:
        self.hold(rec.skill_id, PERCEPTION_DWELL_STEPS)
        occlusion = self.world.vase_occlusion()
        vpos, _ = self.world.vase_pose()
        # Position estimate noise grows with the hidden fraction of the vase.
        sigma = 0.004 + 0.04 * occlusion
        estimate = vpos[:2] + self.rng.normal(0.0, sigma, 2)
        self._plan["vase_estimate"] = estimate
        out.occlusion = occlusion
        rec.params.update({"occlusion": occlusion, "vase_estimate": [float(v) for v in estimate],
                           "estimate_error_m": float(np.linalg.norm(estimate - vpos[:2]))})
        return occlusion < 1.0

    def _clearance(self, grasp_y: float) -> float:
        """Planned horizontal gap between the wrist cylinder over the grasp point and the vase."""
        vx, vy = self._plan["vase_estimate"]
        return math.hypot(vx - W.GRASP_X, vy - grasp_y) - W.VASE_RADIUS - WRIST_RADIUS

    def plan_safe_approach(self, rec: SkillRecord, out: PolicyOutcome) -> bool:
        target = self.params.target_clearance
        # Grasp at the handle's centre unless that leaves less than the target clearance; then
        # the grasp closest to the centre that leaves it, else the handle end farthest from the vase.
        candidates = np.linspace(-GRASP_Y_LIMIT, GRASP_Y_LIMIT, 17)
        if self._clearance(0.0) >= target:
            grasp_y = 0.0
        else:
            ok = [y for y in candidates if self._clearance(y) >= target]
            grasp_y = float(min(ok, key=abs)) if ok else float(max(candidates, key=self._clearance))
        clearance = self._clearance(grasp_y)
        self._plan["grasp_y"] = grasp_y
        pre_grasp = (W.GRASP_X, grasp_y, W.HANDLE_Z + 0.06 + target)
        self._plan["pre_grasp"] = pre_grasp
        arrived = self.move_to(rec.skill_id, pre_grasp, self.params.approach_mps())
        rec.params.update({"target_clearance": target, "grasp_y": grasp_y, "planned_clearance": clearance,
                           "clearance_ok": clearance >= self.params.min_clearance_threshold})
        return arrived

    def grasp_handle(self, rec: SkillRecord, out: PolicyOutcome) -> bool:
        goal = (W.GRASP_X, self._plan["grasp_y"], W.HANDLE_Z)
        arrived = self.move_to(rec.skill_id, goal, self.params.approach_mps() * 0.6)
        self.hold(rec.skill_id, SETTLE_STEPS)
        hpos, _ = self.world.handle_pose()
        reach = float(np.linalg.norm(self.world.ee_position()[[0, 2]] - hpos[[0, 2]]))
        force = self.params.grasp_max_force_N()
        rec.params.update({"approach_speed": self.params.approach_speed, "grasp_force": self.params.grasp_force,
                           "max_force_N": force, "reach_error_m": reach})
        if not arrived or reach > 0.03:
            return False
        self.grasp = self.world.grasp(force)
        return True

    def open_with_clearance(self, rec: SkillRecord, out: PolicyOutcome) -> bool:
        rec.params["pull_speed"] = self.params.pull_speed
        if self.grasp is None:
            rec.params["opening_m"] = self.world.drawer_opening()
            return False
        start = np.array(self.commanded)
        goal = start - np.array([OPEN_TARGET, 0.0, 0.0])
        travel_steps = max(1, math.ceil(OPEN_TARGET / (self.params.pull_mps() * W.TIME_STEP)))
        for k in range(1, travel_steps + SETTLE_STEPS + 1):
            if k % CONTROL_EVERY == 1:
                self.commanded = start + (goal - start) * min(1.0, k / travel_steps)
                self.world.command_ee(self.commanded)
            self.step(rec.skill_id)
            if self.world.grasp_drift(self.grasp) > SLIP_DISTANCE:
                self.world.release(self.grasp)
                self.grasp = None
                out.slipped = True
                break
        opening = self.world.drawer_opening()
        rec.params.update({"opening_m": opening, "slipped": out.slipped})
        return opening >= OPEN_SUCCESS

    def retract_safe(self, rec: SkillRecord, out: PolicyOutcome) -> bool:
        if self.grasp is not None:
            self.world.release(self.grasp)
            self.grasp = None
        up = np.array(self.commanded) + np.array([0.0, 0.0, 0.08])
        speed = self.params.retract_mps()
        ok = self.move_to(rec.skill_id, up, speed, extra_steps=30)
        ok = self.move_to(rec.skill_id, OBSERVE_POSE, speed) and ok
        rec.params["retract_speed"] = self.params.retract_speed
        return ok


def params_dict(params: PolicyParams) -> dict:
    return asdict(params)
