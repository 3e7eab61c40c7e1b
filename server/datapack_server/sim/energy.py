"""Energy accounting of a simulated episode.

Every physics step contributes, per actuator, |applied torque × joint velocity| × dt
(mechanical power integrated over simulated time) to one cell of an
(active skill × actuator) matrix in Wh. The per-joint, per-limb, per-skill and
per-effector totals are all sums of that one matrix, so they agree with each
other to rounding (limbs partition the joints, skills partition the steps).
Pure numpy: no simulator import, so the accounting is testable on its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Arm joints 0-1 shoulder, 2-3 elbow, 4-6 wrist (KUKA iiwa); the gripper is the grasp
# actuator, whose power is the constraint force times the handle velocity.
LIMB_OF_JOINT = ("shoulder", "shoulder", "elbow", "elbow", "wrist", "wrist", "wrist", "gripper")
LIMBS = ("shoulder", "elbow", "wrist", "gripper")
GRIPPER_ACTUATOR = "gripper_grasp"
# A joint counts as active in a step when its mechanical power exceeds this (W).
ACTIVE_POWER_W = 0.05
WH_PER_JOULE = 1.0 / 3600.0


@dataclass
class EnergyTotals:
    """What the builder's EpisodeInfoSummary needs, with fields of docs/building.md §1.1."""

    energy_Wh: float
    energy_per_joint: dict
    energy_per_limb: dict
    limb_energy_Wh: dict
    energy_per_skill: dict
    skill_energy_Wh: dict
    energy_per_effector: dict
    coordination_metrics: dict


class EnergyMeter:
    """Accumulates per-step actuator power into (skill × actuator) energy cells."""

    def __init__(self, actuator_names: tuple[str, ...], skill_names: dict[int, str], dt: float):
        if len(actuator_names) != len(LIMB_OF_JOINT):
            raise ValueError(f"expected {len(LIMB_OF_JOINT)} actuators (7 arm joints and the gripper)")
        self.actuators = tuple(actuator_names)
        self.skill_ids = tuple(skill_names)
        self.skill_names = dict(skill_names)
        self._row = {k: i for i, k in enumerate(self.skill_ids)}
        self.dt = float(dt)
        self.cells = np.zeros((len(self.skill_ids), len(self.actuators)))
        self.steps = 0
        self.active_joint_steps = 0
        self.peak_power_W = 0.0
        self.peak_joint_power_W = np.zeros(len(self.actuators))
        self.grasp_steps = 0
        self._executed: list[int] = []  # skill rows in order of first execution

    def add_step(self, skill_id: int, arm_torque: np.ndarray, arm_velocity: np.ndarray,
                 gripper_power_W: float, grasping: bool) -> float:
        """Account one physics step; returns the step's total mechanical power (W)."""
        power = np.empty(len(self.actuators))
        power[:-1] = np.abs(np.asarray(arm_torque) * np.asarray(arm_velocity))
        power[-1] = abs(float(gripper_power_W))
        row = self._row[skill_id]
        if row not in self._executed:
            self._executed.append(row)
        self.cells[row] += power * (self.dt * WH_PER_JOULE)
        self.steps += 1
        self.active_joint_steps += int(np.count_nonzero(power[:-1] > ACTIVE_POWER_W))
        total = float(power.sum())
        self.peak_power_W = max(self.peak_power_W, total)
        np.maximum(self.peak_joint_power_W, power, out=self.peak_joint_power_W)
        self.grasp_steps += int(grasping)
        return total

    def totals(self) -> EnergyTotals:
        per_actuator = [math.fsum(self.cells[:, j]) for j in range(len(self.actuators))]
        per_skill_row = [math.fsum(self.cells[i, :]) for i in range(len(self.skill_ids))]
        total = math.fsum(self.cells.ravel())
        frac = (lambda x: x / total) if total > 0 else (lambda x: 0.0)
        joints = {name: {"Wh": wh, "peak_W": float(pk), "limb": LIMB_OF_JOINT[j]}
                  for j, (name, wh, pk) in enumerate(zip(self.actuators, per_actuator, self.peak_joint_power_W))}
        limb_wh = {limb: math.fsum(wh for j, wh in enumerate(per_actuator) if LIMB_OF_JOINT[j] == limb)
                   for limb in LIMBS}
        skill_wh = {self.skill_names[self.skill_ids[i]]: per_skill_row[i] for i in self._executed}
        seconds = self.steps * self.dt
        gripper_wh = limb_wh["gripper"]
        return EnergyTotals(
            energy_Wh=total,
            energy_per_joint=joints,
            energy_per_limb={limb: {"Wh": wh, "fraction": frac(wh)} for limb, wh in limb_wh.items()},
            limb_energy_Wh=limb_wh,
            energy_per_skill={name: {"Wh": wh, "fraction": frac(wh)} for name, wh in skill_wh.items()},
            skill_energy_Wh=skill_wh,
            energy_per_effector={"gripper": {"Wh": gripper_wh, "activation_time": self.grasp_steps * self.dt}},
            coordination_metrics={
                "mean_active_joints": self.active_joint_steps / self.steps if self.steps else 0.0,
                "peak_power": self.peak_power_W,
                "mean_power_W": total / WH_PER_JOULE / seconds if seconds > 0 else 0.0,
                "sim_seconds": seconds,
            })

