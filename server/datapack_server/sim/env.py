"""The drawer + vase world in PyBullet, headless.

A fixed cabinet (one box) with a top drawer on a prismatic joint and a handle
fixed to the drawer front, a vase (cylinder) standing on the cabinet top at the
condition's offset, an optional occluder box between the camera and the vase,
and a KUKA iiwa arm from pybullet_data. Each world owns its physics client
(p.DIRECT), so several worlds coexist in one process and every call names its
client id: the default client is never used.

Frame: the arm's base is the origin, the cabinet front faces -x (towards the
arm), z is up. Opening the drawer moves it towards -x; the joint value is the
opening in metres.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pybullet_data

from datapack_server.sim._quiet import import_pybullet

p = import_pybullet()

TIME_STEP = 1.0 / 240.0

# Cabinet geometry (metres).
CABINET_FRONT_X = 0.60
CABINET_HALF = (0.20, 0.25, 0.225)          # depth, width, height halves
TOP_Z = 2 * CABINET_HALF[2]                  # 0.45
DRAWER_HALF = (0.18, 0.22, 0.06)
DRAWER_CENTRE_Z = TOP_Z - 0.09
HANDLE_HALF = (0.045, 0.08, 0.012)
HANDLE_Z = TOP_Z - 0.05
HANDLE_X = CABINET_FRONT_X - HANDLE_HALF[0]  # handle centre, in front of the drawer face
# Grasp point on the handle: far enough out that the wrist clears the cabinet's front edge.
GRASP_X = HANDLE_X - 0.015
DRAWER_TRAVEL = 0.30

# Vase: nominal centre 0.08 m behind the front edge, on the top.
VASE_RADIUS = 0.045
VASE_HEIGHT = 0.22
VASE_MASS = 0.3
VASE_NOMINAL_XY = (CABINET_FRONT_X + 0.08, 0.0)

# Coulomb friction of the drawer runners per unit of the condition's drawer_friction (N).
DRAWER_FRICTION_FORCE_PER_UNIT = 110.0
DRAWER_DAMPING_PER_UNIT = 4.0

# Camera: front-left of the cabinet, above it, looking at the cabinet top.
CAMERA_EYE = (CABINET_FRONT_X - 0.35, -0.65, TOP_Z + 0.45)
CAMERA_TARGET = (CABINET_FRONT_X + 0.10, 0.0, TOP_Z + 0.05)
CAMERA_UP = (0.0, 0.0, 1.0)
CAMERA_FOV = 50.0

# Lighting profiles of the condition -> tiny-renderer light parameters.
LIGHTING = {
    "normal": {"lightDirection": (0.3, -0.5, 1.0), "lightAmbientCoeff": 0.55, "lightDiffuseCoeff": 0.6,
               "lightSpecularCoeff": 0.05, "lightColor": (1.0, 1.0, 1.0)},
    "low_light": {"lightDirection": (0.3, -0.5, 1.0), "lightAmbientCoeff": 0.12, "lightDiffuseCoeff": 0.25,
                  "lightSpecularCoeff": 0.0, "lightColor": (0.7, 0.7, 0.8)},
    "high_contrast": {"lightDirection": (-0.8, -0.2, 0.6), "lightAmbientCoeff": 0.05, "lightDiffuseCoeff": 1.1,
                      "lightSpecularCoeff": 0.4, "lightColor": (1.0, 0.95, 0.85)},
}

# KUKA iiwa (kuka_iiwa/model.urdf): 7 revolute joints, link 6 carries the flange.
ARM_JOINTS = 7
EE_LINK = 6
ARM_MAX_FORCE = (300.0, 300.0, 200.0, 200.0, 120.0, 80.0, 60.0)
ARM_LOWER = (-2.96, -2.09, -2.96, -2.09, -2.96, -2.09, -3.05)
ARM_UPPER = (2.96, 2.09, 2.96, 2.09, 2.96, 2.09, 3.05)
ARM_RANGES = tuple(hi - lo for lo, hi in zip(ARM_LOWER, ARM_UPPER))
ARM_REST = (0.0, 0.35, 0.0, -1.75, 0.0, 1.05, 0.0)
# Flange pointing down; the grasp point lies this far beyond the flange frame.
EE_DOWN = (0.0, 1.0, 0.0, 0.0)  # rotation by pi about y
GRASP_OFFSET = 0.07


@dataclass(frozen=True)
class Condition:
    """What varies between episodes (the pack's condition)."""

    vase_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    drawer_friction: float = 0.3
    lighting_profile: str = "normal"
    occluder: bool = False
    occluder_height: float = 0.0
    occluder_shift: float = 0.0


def sample_condition(rng: np.random.Generator) -> Condition:
    """One condition; always the same number of draws, so episode k depends on the seed and k only."""
    off_x = float(rng.uniform(-0.075, 0.06))  # -0.075: centre 5 mm behind the edge, overhanging
    off_y = float(rng.uniform(-0.12, 0.12))
    friction = float(rng.uniform(0.2, 0.9))
    u_light = float(rng.random())
    u_occ = float(rng.random())
    occ_h = float(rng.uniform(0.06, 0.24))
    occ_shift = float(rng.uniform(-0.06, 0.06))
    lighting = "normal" if u_light < 0.6 else "low_light" if u_light < 0.85 else "high_contrast"
    return Condition((off_x, off_y, 0.0), friction, lighting, u_occ < 0.55, occ_h, occ_shift)


@dataclass
class Bodies:
    arm: int
    cabinet: int
    vase: int
    occluder: int | None
    drawer_joint: int = 0
    handle_link: int = 1
    arm_joint_names: tuple[str, ...] = field(default_factory=tuple)


class DrawerVaseWorld:
    """One physics client; `reset(condition)` rebuilds the scene for a new episode."""

    def __init__(self):
        self.cid = p.connect(p.DIRECT)
        if self.cid < 0:
            raise RuntimeError("pybullet could not open a DIRECT physics client")
        self.bodies: Bodies | None = None
        self.condition = Condition()
        self._grasp_points: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    # -- scene

    def reset(self, condition: Condition) -> Bodies:
        c = self.cid
        p.resetSimulation(physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setTimeStep(TIME_STEP, physicsClientId=c)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=c)
        self.condition = condition
        self._grasp_points.clear()
        p.loadURDF("plane.urdf", physicsClientId=c)
        arm = p.loadURDF("kuka_iiwa/model.urdf", [0, 0, 0], useFixedBase=True, physicsClientId=c)
        for j, q in enumerate(ARM_REST):
            p.resetJointState(arm, j, q, physicsClientId=c)
        names = tuple(p.getJointInfo(arm, j, physicsClientId=c)[1].decode() for j in range(ARM_JOINTS))
        cabinet = self._cabinet(condition.drawer_friction)
        vase = self._vase(condition.vase_offset)
        occluder = self._occluder(condition) if condition.occluder else None
        self.bodies = Bodies(arm, cabinet, vase, occluder, arm_joint_names=names)
        return self.bodies

    def _box(self, half, rgba):
        c = self.cid
        return (p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c),
                p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=c))

    def _cabinet(self, friction: float) -> int:
        c = self.cid
        body_col, body_vis = self._box(CABINET_HALF, (0.55, 0.38, 0.22, 1))
        drawer_col, drawer_vis = self._box(DRAWER_HALF, (0.70, 0.52, 0.30, 1))
        handle_col, handle_vis = self._box(HANDLE_HALF, (0.75, 0.75, 0.78, 1))
        base_pos = (CABINET_FRONT_X + CABINET_HALF[0], 0.0, CABINET_HALF[2])
        drawer_rel = (CABINET_FRONT_X + DRAWER_HALF[0] - base_pos[0], 0.0, DRAWER_CENTRE_Z - base_pos[2])
        handle_rel = (-DRAWER_HALF[0] - HANDLE_HALF[0], 0.0, HANDLE_Z - DRAWER_CENTRE_Z)
        # Links of one multibody do not collide with each other, so the drawer can
        # slide inside the solid carcass box.
        cabinet = p.createMultiBody(
            baseMass=0, baseCollisionShapeIndex=body_col, baseVisualShapeIndex=body_vis, basePosition=base_pos,
            linkMasses=[2.0, 0.2], linkCollisionShapeIndices=[drawer_col, handle_col],
            linkVisualShapeIndices=[drawer_vis, handle_vis], linkPositions=[drawer_rel, handle_rel],
            linkOrientations=[(0, 0, 0, 1)] * 2, linkInertialFramePositions=[(0, 0, 0)] * 2,
            linkInertialFrameOrientations=[(0, 0, 0, 1)] * 2, linkParentIndices=[0, 1],
            linkJointTypes=[p.JOINT_PRISMATIC, p.JOINT_FIXED], linkJointAxis=[(-1, 0, 0), (0, 0, 1)],
            physicsClientId=c)
        p.changeDynamics(cabinet, 0, jointLowerLimit=0.0, jointUpperLimit=DRAWER_TRAVEL,
                         jointDamping=DRAWER_DAMPING_PER_UNIT * friction, physicsClientId=c)
        # Runner friction: a velocity motor holding zero speed with at most this force is
        # Coulomb friction (the drawer moves only when pulled harder).
        p.setJointMotorControl2(cabinet, 0, p.VELOCITY_CONTROL, targetVelocity=0.0,
                                force=DRAWER_FRICTION_FORCE_PER_UNIT * friction, physicsClientId=c)
        return cabinet

    def _vase(self, offset) -> int:
        c = self.cid
        col = p.createCollisionShape(p.GEOM_CYLINDER, radius=VASE_RADIUS, height=VASE_HEIGHT, physicsClientId=c)
        vis = p.createVisualShape(p.GEOM_CYLINDER, radius=VASE_RADIUS, length=VASE_HEIGHT,
                                  rgbaColor=(0.2, 0.45, 0.85, 1), physicsClientId=c)
        pos = (VASE_NOMINAL_XY[0] + offset[0], VASE_NOMINAL_XY[1] + offset[1], TOP_Z + VASE_HEIGHT / 2 + 1e-3)
        vase = p.createMultiBody(baseMass=VASE_MASS, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis,
                                 basePosition=pos, physicsClientId=c)
        p.changeDynamics(vase, -1, lateralFriction=0.6, physicsClientId=c)
        return vase

    def _occluder(self, cond: Condition) -> int:
        """A static box on the cabinet top between the camera and the vase."""
        vx = VASE_NOMINAL_XY[0] + cond.vase_offset[0]
        vy = VASE_NOMINAL_XY[1] + cond.vase_offset[1]
        eye = np.array(CAMERA_EYE[:2])
        d = np.array([vx, vy]) - eye
        d /= np.linalg.norm(d)
        # 0.13 m from the vase towards the camera, shifted sideways. Its footprint stays 2 cm
        # behind the front edge (out of the arm's way at the handle) and off the vase's footprint
        # (moved to the camera's side of it when they would overlap).
        cx, cy = np.array([vx, vy]) - 0.13 * d + cond.occluder_shift * np.array([-d[1], d[0]])
        half = (0.03, 0.05, cond.occluder_height / 2)
        yaw = math.atan2(d[1], d[0])
        ex = abs(half[0] * math.cos(yaw)) + abs(half[1] * math.sin(yaw))
        ey = abs(half[0] * math.sin(yaw)) + abs(half[1] * math.cos(yaw))
        cx = max(float(cx), CABINET_FRONT_X + 0.02 + ex)
        if abs(cx - vx) < ex + VASE_RADIUS + 0.01 and abs(cy - vy) < ey + VASE_RADIUS + 0.01:
            cy = vy - (ey + VASE_RADIUS + 0.012)
        col, vis = self._box(half, (0.35, 0.6, 0.3, 1))
        return p.createMultiBody(baseMass=0, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis,
                                 basePosition=(float(cx), float(cy), TOP_Z + half[2]),
                                 baseOrientation=p.getQuaternionFromEuler((0, 0, yaw)), physicsClientId=self.cid)

    # -- state

    def step(self) -> None:
        p.stepSimulation(physicsClientId=self.cid)

    def arm_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint positions, velocities and applied motor torques of the arm."""
        states = p.getJointStates(self.bodies.arm, range(ARM_JOINTS), physicsClientId=self.cid)
        q = np.array([s[0] for s in states])
        qd = np.array([s[1] for s in states])
        tau = np.array([s[3] for s in states])
        return q, qd, tau

    def ee_position(self) -> np.ndarray:
        """The grasp point: GRASP_OFFSET beyond the flange frame along its z axis."""
        ls = p.getLinkState(self.bodies.arm, EE_LINK, computeForwardKinematics=True, physicsClientId=self.cid)
        rot = np.array(p.getMatrixFromQuaternion(ls[5])).reshape(3, 3)
        return np.array(ls[4]) + rot[:, 2] * GRASP_OFFSET

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        ls = p.getLinkState(self.bodies.arm, EE_LINK, computeForwardKinematics=True, physicsClientId=self.cid)
        rot = np.array(p.getMatrixFromQuaternion(ls[5])).reshape(3, 3)
        return np.array(ls[4]) + rot[:, 2] * GRASP_OFFSET, rot

    def handle_pose(self) -> tuple[np.ndarray, np.ndarray]:
        ls = p.getLinkState(self.bodies.cabinet, self.bodies.handle_link, computeForwardKinematics=True,
                            physicsClientId=self.cid)
        return np.array(ls[4]), np.array(p.getMatrixFromQuaternion(ls[5])).reshape(3, 3)

    def handle_velocity(self) -> np.ndarray:
        ls = p.getLinkState(self.bodies.cabinet, self.bodies.handle_link, computeLinkVelocity=True,
                            physicsClientId=self.cid)
        return np.array(ls[6])

    def vase_pose(self) -> tuple[np.ndarray, np.ndarray]:
        pos, orn = p.getBasePositionAndOrientation(self.bodies.vase, physicsClientId=self.cid)
        return np.array(pos), np.array(p.getMatrixFromQuaternion(orn)).reshape(3, 3)

    def drawer_opening(self) -> float:
        return p.getJointState(self.bodies.cabinet, self.bodies.drawer_joint, physicsClientId=self.cid)[0]

    def arm_vase_contact_force(self) -> float:
        """Largest normal force (N) of a contact between the arm and the vase this step."""
        pts = p.getContactPoints(self.bodies.arm, self.bodies.vase, physicsClientId=self.cid)
        return max((pt[9] for pt in pts), default=0.0)

    # -- control

    def command_ee(self, target: np.ndarray) -> None:
        """Inverse kinematics for the grasp point at `target` (flange pointing down), then
        position control of the seven joints within their force limits."""
        flange = np.asarray(target, dtype=float) + np.array([0.0, 0.0, GRASP_OFFSET])
        q = p.calculateInverseKinematics(self.bodies.arm, EE_LINK, flange.tolist(), EE_DOWN,
                                         lowerLimits=ARM_LOWER, upperLimits=ARM_UPPER, jointRanges=ARM_RANGES,
                                         restPoses=ARM_REST, maxNumIterations=20, physicsClientId=self.cid)
        p.setJointMotorControlArray(self.bodies.arm, list(range(ARM_JOINTS)), p.POSITION_CONTROL,
                                    targetPositions=list(q[:ARM_JOINTS]), forces=ARM_MAX_FORCE,
                                    positionGains=[0.08] * ARM_JOINTS, velocityGains=[1.0] * ARM_JOINTS,
                                    physicsClientId=self.cid)

    def _com_frame(self, body: int, link: int) -> tuple[np.ndarray, np.ndarray]:
        ls = p.getLinkState(body, link, computeForwardKinematics=True, physicsClientId=self.cid)
        return np.array(ls[0]), np.array(p.getMatrixFromQuaternion(ls[1])).reshape(3, 3)

    def grasp(self, max_force: float) -> int:
        """Attach the grasp point to the handle where it touches it: a point-to-point constraint
        holding at most max_force N. Constraint frames are relative to each link's centre of mass."""
        g = self.ee_position()
        arm_com, arm_rot = self._com_frame(self.bodies.arm, EE_LINK)
        handle_com, handle_rot = self._com_frame(self.bodies.cabinet, self.bodies.handle_link)
        on_arm = arm_rot.T @ (g - arm_com)
        on_handle = handle_rot.T @ (g - handle_com)
        cst = p.createConstraint(self.bodies.arm, EE_LINK, self.bodies.cabinet, self.bodies.handle_link,
                                 p.JOINT_POINT2POINT, (0, 0, 0), on_arm.tolist(), on_handle.tolist(),
                                 physicsClientId=self.cid)
        p.changeConstraint(cst, maxForce=max_force, physicsClientId=self.cid)
        self._grasp_points[cst] = (on_arm, on_handle)
        return cst

    def grasp_drift(self, cst: int) -> float:
        """Distance (m) between the two attached points: a constraint pulled beyond its force
        limit stretches, which is the grasp slipping."""
        on_arm, on_handle = self._grasp_points[cst]
        arm_com, arm_rot = self._com_frame(self.bodies.arm, EE_LINK)
        handle_com, handle_rot = self._com_frame(self.bodies.cabinet, self.bodies.handle_link)
        return float(np.linalg.norm(arm_com + arm_rot @ on_arm - handle_com - handle_rot @ on_handle))

    def constraint_force(self, cst: int) -> np.ndarray:
        return np.array(p.getConstraintState(cst, physicsClientId=self.cid)[:3])

    def release(self, cst: int) -> None:
        p.removeConstraint(cst, physicsClientId=self.cid)
        self._grasp_points.pop(cst, None)

    # -- perception

    def vase_surface_points(self, n_around: int = 8, n_up: int = 3) -> np.ndarray:
        """Points on the vase's side and top (world frame)."""
        pos, rot = self.vase_pose()
        pts = []
        for k in range(n_up):
            z = (k + 0.5) / n_up * VASE_HEIGHT - VASE_HEIGHT / 2
            for a in range(n_around):
                ang = 2 * math.pi * a / n_around
                pts.append((VASE_RADIUS * 0.97 * math.cos(ang), VASE_RADIUS * 0.97 * math.sin(ang), z))
        pts.append((0.0, 0.0, VASE_HEIGHT / 2 * 0.97))
        return pos + np.array(pts) @ rot.T

    def vase_occlusion(self) -> float:
        """Fraction of the vase's camera-facing surface points hidden from the camera: a ray from
        the eye to each point whose first hit is not the vase is hidden (one batch of ray tests)."""
        pts = self.vase_surface_points()
        pos, _ = self.vase_pose()
        eye = np.array(CAMERA_EYE)
        # Points whose outward direction faces the camera (horizontal for the side, +z for the top).
        outward = pts - pos
        outward[:-1, 2] = 0.0
        facing = np.einsum("ij,ij->i", outward, eye - pts) > 0
        targets = pts[facing]
        if len(targets) == 0:
            return 1.0
        # Stop each ray 2 mm short of the vase's surface point behind it.
        dirs = targets - eye
        ends = targets + 0.002 * dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        hits = p.rayTestBatch([tuple(eye)] * len(ends), [tuple(e) for e in ends], physicsClientId=self.cid)
        hidden = sum(1 for h in hits if h[0] != self.bodies.vase)
        return hidden / len(targets)

    def point_visible(self, point: np.ndarray, body: int, link: int | None = None) -> bool:
        hit = p.rayTest(CAMERA_EYE, tuple(np.asarray(point, dtype=float)), physicsClientId=self.cid)[0]
        if hit[0] == -1:
            return True  # nothing in between (the point's own body was not reached either)
        return hit[0] == body and (link is None or hit[1] == link)

    def render_rgb(self, size: int) -> np.ndarray:
        """A size×size RGB frame (uint8) from the fixed camera with the condition's lighting."""
        view = p.computeViewMatrix(CAMERA_EYE, CAMERA_TARGET, CAMERA_UP, physicsClientId=self.cid)
        proj = p.computeProjectionMatrixFOV(CAMERA_FOV, 1.0, 0.05, 3.0, physicsClientId=self.cid)
        light = LIGHTING.get(self.condition.lighting_profile, LIGHTING["normal"])
        img = p.getCameraImage(size, size, view, proj, renderer=p.ER_TINY_RENDERER, shadow=0,
                               flags=p.ER_NO_SEGMENTATION_MASK, physicsClientId=self.cid, **light)
        rgba = np.asarray(img[2], dtype=np.uint8).reshape(size, size, 4)
        return rgba[:, :, :3].copy()

    def close(self) -> None:
        if self.cid >= 0:
            try:
                p.disconnect(physicsClientId=self.cid)
            finally:
                self.cid = -1

    def __enter__(self) -> DrawerVaseWorld:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
