"""The one camera convention of reenact, shared by ``tracking`` (which estimates cameras) and ``model``
(which renders from them). Nothing else in the project defines a camera.

World frame = the canonical head frame
    The head is fixed and the camera moves (paper §2.2, as in HeadNeRF). Axes are those an OpenCV camera
    sees when it looks straight at the face: +x toward image right (the subject's left), +y down (chin
    direction), +z away from that frontal camera (into the head). The origin is the head centre, about
    ``HEAD_CENTER_DEPTH`` behind the centroid of the face-mesh landmarks. One unit is the head scale: the
    tracker's mean face has an outer-eye-corner distance of ``EYE_CORNER_DISTANCE`` units, and the whole
    head (hair included) fits in the sphere of radius ``HEAD_RADIUS`` about the origin.

Camera frame: OpenCV — +x right, +y down, +z forward (the viewing direction).
    ``cam_to_world`` (…, 4, 4) maps camera-frame points to head-frame points; its last column is the
    camera centre in head units. The frontal camera is identity rotation at (0, 0, -FRONTAL_DISTANCE).

Intrinsics: normalized to the square aligned crop (the crop's width and height are 1)
    A camera-frame point (X, Y, Z) lands at ``u = fx·X/Z + cx``, ``v = fy·Y/Z + cy`` with (u, v) in
    [0, 1]² over the crop; pixel (i, j) of an H×W image of the crop has its centre at
    ``((j + 0.5)/W, (i + 0.5)/H)``. The same intrinsics serve every resolution the crop is rendered at.
    All crops use ``DEFAULT_FOCAL`` and a centred principal point, so that a head at the frontal distance
    fills the crop with margin.

Angles are radians. Rotation parameters are axis-angle vectors (Rodrigues) unless stated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

EYE_CORNER_DISTANCE = 0.7
"""Outer-eye-corner distance of the tracker's mean face, in head units (≈ 9 cm ≈ 0.7 × 12.5 cm)."""
HEAD_CENTER_DEPTH = 0.6
"""How far (along +z) the head-frame origin lies behind the centroid of the mean face landmarks."""
HEAD_RADIUS = 1.35
"""Radius of the sphere about the origin that bounds the head, hair included; rays sample inside it."""
FRONTAL_DISTANCE = 5.2
"""Distance of the frontal camera from the head centre: what the tracker measures on real crops (5.0–5.4),
since its crop spans about 2·HEAD_RADIUS at the head centre to keep the hair in frame."""
DEFAULT_FOCAL = 2.0
"""Crop-normalized focal length: at FRONTAL_DISTANCE the crop spans ±1.3 head units at the centre."""


@dataclass(frozen=True)
class Intrinsics:
    """Crop-normalized pinhole intrinsics (see module docstring)."""

    fx: float = DEFAULT_FOCAL
    fy: float = DEFAULT_FOCAL
    cx: float = 0.5
    cy: float = 0.5

    def matrix(self) -> np.ndarray:
        """3×3 K in crop-normalized units (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass
class Camera:
    """A batch of cameras looking at the canonical head.

    ``cam_to_world``: (batch, 4, 4) float tensor, OpenCV camera-to-head transforms.
    ``intrinsics``: shared crop-normalized intrinsics.
    """

    cam_to_world: torch.Tensor
    intrinsics: Intrinsics = Intrinsics()

    def __post_init__(self) -> None:
        if self.cam_to_world.ndim == 2:
            self.cam_to_world = self.cam_to_world.unsqueeze(0)
        if self.cam_to_world.shape[-2:] != (4, 4):
            raise ValueError(f"cam_to_world must be (batch, 4, 4), got {tuple(self.cam_to_world.shape)}")

    @property
    def batch_size(self) -> int:
        return self.cam_to_world.shape[0]

    def to(self, device: torch.device | str) -> Camera:
        return Camera(self.cam_to_world.to(device), self.intrinsics)

    @staticmethod
    def from_numpy(cam_to_world: np.ndarray, intrinsics: Intrinsics | None = None) -> Camera:
        return Camera(torch.as_tensor(np.asarray(cam_to_world, dtype=np.float32)), intrinsics or Intrinsics())


def frontal_cam_to_world(distance: float = FRONTAL_DISTANCE) -> np.ndarray:
    """The frontal camera: identity rotation at (0, 0, -distance). (4, 4) float64."""
    pose = np.eye(4)
    pose[2, 3] = -distance
    return pose


def rotation_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues: axis-angle (3,) → rotation (3, 3), float64."""
    axis_angle = np.asarray(axis_angle, dtype=np.float64)
    theta = float(np.linalg.norm(axis_angle))
    if theta < 1e-12:
        return np.eye(3)
    k = axis_angle / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(theta) * kx + (1.0 - math.cos(theta)) * (kx @ kx)


def axis_angle(rotation: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rotation_matrix`: rotation (3, 3) → axis-angle (3,), angle in [0, π]."""
    rotation = np.asarray(rotation, dtype=np.float64)
    cos_theta = np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0)
    theta = math.acos(cos_theta)
    if theta < 1e-9:
        return np.zeros(3)
    if math.pi - theta < 1e-4:
        # Near π the antisymmetric part vanishes; read the axis off the symmetric part instead.
        sym = (rotation + np.eye(3)) / 2.0
        axis = np.sqrt(np.clip(np.diag(sym), 0.0, None))
        i = int(np.argmax(axis))
        axis = sym[i] / max(axis[i], 1e-12)
        return axis / np.linalg.norm(axis) * theta
    vec = np.array(
        [rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]]
    )
    return vec / (2.0 * math.sin(theta)) * theta


def euler_yaw_pitch_roll(rotation: np.ndarray) -> tuple[float, float, float]:
    """Head-frame camera rotation → (yaw about y, pitch about x, roll about z), radians, R = Ry·Rx·Rz."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = math.asin(float(np.clip(-r[1, 2], -1.0, 1.0)))
    yaw = math.atan2(r[0, 2], r[2, 2])
    roll = math.atan2(r[1, 0], r[1, 1])
    return yaw, pitch, roll


def orbit_cam_to_world(
    yaw: float, pitch: float = 0.0, roll: float = 0.0, distance: float = FRONTAL_DISTANCE
) -> np.ndarray:
    """A camera on the sphere of radius ``distance`` looking at the head centre, (4, 4) float64.

    yaw > 0 swings the camera toward −x (the subject's right side); pitch > 0 moves it down (+y), looking
    up at the chin. Built as R = Ry(yaw)·Rx(pitch)·Rz(roll) applied to the frontal camera, so
    :func:`euler_yaw_pitch_roll` inverts the rotation part.
    """
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    rot = ry @ rx @ rz
    pose = np.eye(4)
    pose[:3, :3] = rot
    # The camera looks along its +z; place it at -distance along that axis so it faces the origin.
    pose[:3, 3] = -distance * rot[:, 2]
    return pose


def project(
    points_world: np.ndarray, cam_to_world: np.ndarray, intrinsics: Intrinsics | None = None
) -> np.ndarray:
    """Project head-frame points (…, P, 3) with one camera (4, 4) to crop-normalized (…, P, 2) coordinates."""
    k = intrinsics or Intrinsics()
    world_to_cam = np.linalg.inv(cam_to_world)
    pts = points_world @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    z = np.clip(pts[..., 2:3], 1e-6, None)
    uv = pts[..., :2] / z
    return np.concatenate([k.fx * uv[..., :1] + k.cx, k.fy * uv[..., 1:2] + k.cy], axis=-1)
