"""Per-frame fit of the landmark model to MediaPipe landmarks: head pose, identity shape, expression.

Inputs: 2D landmarks of the 468 mesh points in *crop-normalized* coordinates (``tracking.crop.to_crop``
with size 1), the :class:`~tracking.landmark_model.LandmarkModel` and the crop intrinsics
(``model.camera.Intrinsics()``). Model (``model/camera.py`` convention)::

    points_head = mean + identity_basis·α + expression_basis·β          (468, 3) head frame
    points_cam  = R·points_head + t                                     head_to_cam = [R | t]
    uv          = (fx·X/Z + cx, fy·Y/Z + cy)                            perspective, crop-normalized

Energy: Σ‖uv − observed‖² + λ_β‖β‖² + λ_α‖α‖² (coefficients are in σ units, so the priors are plain
ridge terms). Solved by damped Gauss–Newton with analytic Jacobians: rotation is updated on the left
by a small axis-angle step (R ← exp([δω]×)·R), translation and β additively — β enters linearly given
the pose, so each step is effectively the closed-form ridge solve alternated with a pose step.
Identity α is estimated jointly over a few frames of a video (:meth:`LandmarkFitter.fit_identity`),
then held fixed while each frame is fitted warm-started from the previous one (3 iterations).
Head scale: the model has a fixed metric size (head units), so the apparent size of the face is
carried by the camera distance; no separate scale parameter is needed with a perspective camera.

Output pose: ``cam_to_head`` (4, 4) = inverse of head_to_cam, the camera-to-world extrinsics of
``model/camera.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.camera import Intrinsics, axis_angle, rotation_matrix
from tracking.landmark_model import LandmarkModel

NUM_MESH = 468


@dataclass
class FrameFit:
    """One frame's fit. ``rotation`` (3, 3) and ``translation`` (3,) are head-to-camera; ``expression``
    (E,) is β; ``error`` is the mean landmark distance in crop-normalized units."""

    rotation: np.ndarray
    translation: np.ndarray
    expression: np.ndarray
    error: float = float("nan")

    def head_to_cam(self) -> np.ndarray:
        pose = np.eye(4)
        pose[:3, :3] = self.rotation
        pose[:3, 3] = self.translation
        return pose

    def cam_to_head(self) -> np.ndarray:
        """(4, 4) float64 camera-to-head extrinsics (``cam_to_world`` of ``model/camera.py``)."""
        pose = np.eye(4)
        pose[:3, :3] = self.rotation.T
        pose[:3, 3] = -self.rotation.T @ self.translation
        return pose


def _skew(v: np.ndarray) -> np.ndarray:
    """(…, 3) → (…, 3, 3) cross-product matrices."""
    out = np.zeros(v.shape + (3,))
    out[..., 0, 1], out[..., 0, 2] = -v[..., 2], v[..., 1]
    out[..., 1, 0], out[..., 1, 2] = v[..., 2], -v[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -v[..., 1], v[..., 0]
    return out


class LandmarkFitter:
    """Fits pose, identity α and expression β of a :class:`LandmarkModel` to crop-normalized landmarks.

    ``expression_prior`` λ_β and ``identity_prior`` λ_α weigh the ridge terms against the squared
    landmark residual in crop-normalized units (λ = σ_noise² makes the energy a MAP estimate with
    landmark noise σ_noise; the defaults correspond to σ ≈ 0.004 of the crop, ≈ 1 px at 256²).
    """

    def __init__(
        self,
        model: LandmarkModel,
        intrinsics: Intrinsics | None = None,
        expression_prior: float = 1.5e-5,
        identity_prior: float = 1.5e-5,
    ) -> None:
        self.model = model
        self.intrinsics = intrinsics or Intrinsics()
        self.expression_prior = expression_prior
        self.identity_prior = identity_prior
        self._mean = model.mean.astype(np.float64)
        self._identity = model.identity_basis.astype(np.float64)
        self._expression = model.expression_basis.astype(np.float64)
        self._expression_flat = self._expression.reshape(len(self._expression), -1)
        self._expression_t = np.ascontiguousarray(self._expression.transpose(2, 0, 1))

    # -- geometry ---------------------------------------------------------------------------------------
    def shape(self, identity: np.ndarray, expression: np.ndarray | None = None) -> np.ndarray:
        """Head-frame points (468, 3) for α (S,) and β (E,)."""
        points = (
            self._mean + np.tensordot(identity, self._identity, axes=(0, 0))
            if len(identity)
            else self._mean.copy()
        )
        if expression is not None:
            points = points + (expression @ self._expression_flat).reshape(NUM_MESH, 3)
        return points

    def project(self, points_head: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
        """Head-frame points (P, 3) → crop-normalized (P, 2)."""
        k = self.intrinsics
        cam = points_head @ rotation.T + translation
        z = np.maximum(cam[:, 2], 1e-6)
        return np.stack([k.fx * cam[:, 0] / z + k.cx, k.fy * cam[:, 1] / z + k.cy], axis=1)

    def initial_pose(self, observed: np.ndarray, points_head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pose from scratch by PnP (SQPnP) on the given head-frame points; returns (R, t)."""
        ok, rvec, tvec = cv2.solvePnP(
            points_head.astype(np.float64),
            observed.astype(np.float64).reshape(-1, 1, 2),
            self.intrinsics.matrix(),
            None,
            flags=cv2.SOLVEPNP_SQPNP,
        )
        if not ok or tvec[2, 0] <= 0:
            return np.eye(3), np.array([0.0, 0.0, 5.4])
        return rotation_matrix(rvec.ravel()), tvec.ravel().astype(np.float64)

    def _jacobian_point(self, cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projection and its derivative wrt camera-frame points: uv (P, 2), d uv / d X (P, 2, 3)."""
        k = self.intrinsics
        inv_z = 1.0 / np.maximum(cam[:, 2], 1e-6)
        uv = np.stack([k.fx * cam[:, 0] * inv_z + k.cx, k.fy * cam[:, 1] * inv_z + k.cy], axis=1)
        jac = np.zeros((len(cam), 2, 3))
        jac[:, 0, 0] = k.fx * inv_z
        jac[:, 1, 1] = k.fy * inv_z
        jac[:, 0, 2] = -k.fx * cam[:, 0] * inv_z**2
        jac[:, 1, 2] = -k.fy * cam[:, 1] * inv_z**2
        return uv, jac

    # -- per frame -------------------------------------------------------------------------------------
    def fit_frame(
        self,
        observed: np.ndarray,
        identity: np.ndarray,
        init: FrameFit | None = None,
        iterations: int = 3,
    ) -> FrameFit:
        """Fit pose and β to one frame's crop-normalized landmarks (468, 2) with α fixed.

        ``init``: warm start (the previous frame); None starts from PnP on the identity shape.
        """
        observed = np.asarray(observed, np.float64)[:NUM_MESH]
        base = self.shape(identity)
        num_expr = self._expression.shape[0]
        if init is None:
            rotation, translation = self.initial_pose(observed, base)
            expression = np.zeros(num_expr)
            iterations = max(iterations, 8)
        else:
            rotation, translation, expression = (
                init.rotation.copy(),
                init.translation.copy(),
                init.expression.astype(np.float64).copy(),
            )
        prior = np.concatenate([np.zeros(6), np.full(num_expr, self.expression_prior)])
        k = self.intrinsics
        basis_t = self._expression_t  # (3, E, P): basis components by axis
        for _ in range(iterations):
            points = base + (expression @ self._expression_flat).reshape(NUM_MESH, 3)
            rotated = points @ rotation.T
            cam = rotated + translation
            inv_z = 1.0 / np.maximum(cam[:, 2], 1e-6)
            x_z, y_z = cam[:, 0] * inv_z, cam[:, 1] * inv_z
            residual = np.concatenate(
                [k.fx * x_z + k.cx - observed[:, 0], k.fy * y_z + k.cy - observed[:, 1]]
            )
            # d u / d X = fx/Z · (1, 0, −X/Z),  d v / d X = fy/Z · (0, 1, −Y/Z)
            du = (k.fx * inv_z)[:, None] * np.stack([np.ones(NUM_MESH), np.zeros(NUM_MESH), -x_z], axis=1)
            dv = (k.fy * inv_z)[:, None] * np.stack([np.zeros(NUM_MESH), np.ones(NUM_MESH), -y_z], axis=1)
            jac = np.empty((2 * NUM_MESH, 6 + num_expr))
            # rotation (left perturbation): d X / d ω = −[R·P]×  ⇒  row · (−[q]×) = q × row
            jac[:NUM_MESH, 0:3] = np.cross(rotated, du)
            jac[NUM_MESH:, 0:3] = np.cross(rotated, dv)
            jac[:NUM_MESH, 3:6] = du
            jac[NUM_MESH:, 3:6] = dv
            # d X / d β_k = R·B_k ; rows of R combine the basis axes
            cam_basis = np.tensordot(rotation, basis_t, axes=(1, 0))  # (3, E, P)
            jac[:NUM_MESH, 6:] = (du[:, 0] * cam_basis[0] + du[:, 2] * cam_basis[2]).T
            jac[NUM_MESH:, 6:] = (dv[:, 1] * cam_basis[1] + dv[:, 2] * cam_basis[2]).T
            hessian = jac.T @ jac
            hessian[np.diag_indices_from(hessian)] += prior + 1e-9
            gradient = jac.T @ residual
            gradient[6:] += self.expression_prior * expression
            step = -np.linalg.solve(hessian, gradient)
            rotation = rotation_matrix(step[:3]) @ rotation
            translation = translation + step[3:6]
            expression = expression + step[6:]
        points = base + (expression @ self._expression_flat).reshape(NUM_MESH, 3)
        uv = self.project(points, rotation, translation)
        error = float(np.linalg.norm(uv - observed, axis=1).mean())
        return FrameFit(rotation, translation, expression.astype(np.float32), error)

    # -- identity over several frames ----------------------------------------------------------------------
    def fit_identity(
        self, observations: list[np.ndarray], rounds: int = 4
    ) -> tuple[np.ndarray, list[FrameFit]]:
        """Estimate α from several frames (each (468, 2) crop-normalized) jointly with their poses and β.

        Alternates per-frame pose/β fits with one Gauss–Newton step on α over all frames. Returns α (S,)
        and the frames' fits.
        """
        num_id = self._identity.shape[0]
        identity = np.zeros(num_id)
        fits: list[FrameFit | None] = [None] * len(observations)
        for _ in range(rounds):
            fits = [
                self.fit_frame(obs, identity, init=fit, iterations=4) for obs, fit in zip(observations, fits)
            ]
            if num_id == 0:
                break
            hessian = np.eye(num_id) * self.identity_prior * max(len(observations), 1)
            gradient = self.identity_prior * max(len(observations), 1) * identity
            for obs, fit in zip(observations, fits):
                points = self.shape(identity, fit.expression.astype(np.float64))
                cam = points @ fit.rotation.T + fit.translation
                uv, jac_point = self._jacobian_point(cam)
                basis_cam = self._identity @ fit.rotation.T
                jac = np.einsum("pij,kpj->pik", jac_point, basis_cam, optimize=True).reshape(-1, num_id)
                hessian += jac.T @ jac
                gradient += jac.T @ (uv - np.asarray(obs, np.float64)[:NUM_MESH]).ravel()
            identity = identity - np.linalg.solve(hessian, gradient)
        fits = [self.fit_frame(obs, identity, init=fit, iterations=3) for obs, fit in zip(observations, fits)]
        return identity.astype(np.float32), fits


def rotation_angles_deg(rotation_a: np.ndarray, rotation_b: np.ndarray) -> float:
    """Geodesic angle between two rotations, degrees."""
    return float(np.degrees(np.linalg.norm(axis_angle(rotation_a.T @ rotation_b))))
