"""Geometry prior: the face surface of the field where the tracker's landmarks are.

With ~30 people and little head rotation each, the images alone leave the field's geometry loose: a 16² ray
map and a convolutional upsampler can match the training views with a face surface that is too flat or too
deep, and a new view of such a head is a distortion the tracker reads as expression. The landmark model
already places 468 face points in 3D for every tracked frame (its shape for the frame's identity and
expression codes, in the head frame). :func:`landmark_rays` casts a ray from the frame's camera through each
of them; training asks the field to end each visible one at the landmark (``LossConfig.geometry_weight``), and
``benchmarks/diagnose_geometry.py`` measures how far it is from doing so.

Inputs: landmarks (B, L, 3) head-frame points, cameras (``model/camera.py``), the mesh's triangles (T, 3)
(landmark indices). Outputs: :class:`model.ray_sampling.Rays` and target distances (B, L, 1); visibility
(B, L) bool. Plain tensors, no parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from model.camera import HEAD_RADIUS, Camera
from model.ray_sampling import Rays, sphere_bounds

if TYPE_CHECKING:
    from model.head_model import HeadModel

FACING = 0.3
"""A landmark counts as visible when its outward normal and the direction to the camera make a cosine above
this (~73°): points at the silhouette are left out, where a small depth error is a large error across the
ray."""


@dataclass(frozen=True)
class FaceMesh:
    """The landmark model as the geometry prior needs it (float32 numpy; built from
    ``tracking.landmark_model.LandmarkModel`` by the CLI, so ``model/`` does not import the tracker)."""

    mean: np.ndarray
    """(L, 3) mean face, head frame."""
    identity_basis: np.ndarray
    """(S, L, 3) per unit of each identity coefficient."""
    expression_basis: np.ndarray
    """(E, L, 3) per unit of each expression coefficient."""
    triangles: np.ndarray
    """(T, 3) int64 landmark indices of the mesh's faces (any winding: normals are turned outward here)."""

    def shape(self, identity: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """(N, L, 3) float32 landmarks for identity coefficients (S,) and expression codes (N, E)."""
        return landmark_points(
            self.mean, self.identity_basis, self.expression_basis, identity, expression
        ).astype(np.float32)


def landmark_points(
    mean: np.ndarray,
    identity_basis: np.ndarray,
    expression_basis: np.ndarray,
    identity: np.ndarray | None = None,
    expression: np.ndarray | None = None,
) -> np.ndarray:
    """The landmark model's linear shape, float64: mean (L, 3) + Σ identity[s] · identity_basis[s] (S, L, 3) +
    Σ expression[k] · expression_basis[k] (E, L, 3); an (…, E) expression gives (…, L, 3). The one
    implementation: ``tracking.landmark_model.LandmarkModel.shape`` and :meth:`FaceMesh.shape` both call
    it."""
    points = np.asarray(mean, np.float64)
    if identity is not None and len(identity):
        points = points + np.tensordot(np.asarray(identity, np.float64), identity_basis, axes=(0, 0))
    if expression is not None:
        points = points + np.tensordot(np.asarray(expression, np.float64), expression_basis, axes=(-1, 0))
    return points


def landmark_rays(landmarks: torch.Tensor, camera: Camera) -> tuple[Rays, torch.Tensor]:
    """Rays from each camera through its frame's landmarks (B, L, 3), and each landmark's distance along its
    ray (B, L, 1)."""
    origins = camera.cam_to_world[:, None, :3, 3].expand_as(landmarks)
    offset = landmarks - origins
    target = offset.norm(dim=-1, keepdim=True)
    directions = offset / target.clamp(min=1e-8)
    near, far = sphere_bounds(origins, directions, HEAD_RADIUS)
    return Rays(origins=origins, directions=directions, near=near, far=far), target


def vertex_normals(landmarks: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """(B, L, 3) unit normals: the area-weighted sum of each point's triangle normals, each turned to point
    away from the head centre (the origin, behind the face), so the mesh's winding does not matter."""
    a, b, c = (landmarks[:, triangles[:, k]] for k in range(3))
    face = torch.cross(b - a, c - a, dim=-1)  # (B, T, 3), length = 2 × area
    centroid = (a + b + c) / 3.0
    face = face * torch.sign((face * centroid).sum(-1, keepdim=True))
    normals = torch.zeros_like(landmarks)
    for k in range(3):
        normals.index_add_(1, triangles[:, k], face)
    return normals / normals.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def visible_landmarks(
    landmarks: torch.Tensor, camera: Camera, triangles: torch.Tensor | np.ndarray, facing: float = FACING
) -> torch.Tensor:
    """(B, L) True where a landmark faces its camera (cosine above ``facing``). A normal test, not a full
    occlusion test: at the head rotations of talking-head video the face hides little of itself otherwise."""
    triangles = torch.as_tensor(triangles, dtype=torch.long, device=landmarks.device)
    normals = vertex_normals(landmarks, triangles)
    to_camera = camera.cam_to_world[:, None, :3, 3] - landmarks
    cosine = (normals * to_camera).sum(-1) / to_camera.norm(dim=-1).clamp(min=1e-8)
    return cosine > facing


def landmark_depth_errors(
    model: HeadModel,
    landmarks: torch.Tensor,
    camera: Camera,
    expression: torch.Tensor,
    identity: torch.Tensor,
    triangles: torch.Tensor | np.ndarray,
    face: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """At every landmark (B, L, 3) of each frame: the signed depth error (B, L) — where the field ends the ray
    from the camera through it, minus the landmark's distance (head units; + = the surface lies behind the
    landmark) — whether it faces the camera (B, L) and the ray's opacity (B, L). What the diagnostics read
    (deterministic samples); training's :func:`geometry_loss` renders only a drawn subset of the rays."""
    visible = visible_landmarks(landmarks, camera, triangles)
    rays, target = landmark_rays(landmarks, camera)
    depth, opacity = model.ray_depth(rays, expression, identity, face=face)
    return (depth - target).squeeze(-1), visible, opacity.squeeze(-1)


def geometry_loss(
    model: HeadModel,
    landmarks: torch.Tensor,
    camera: Camera,
    expression: torch.Tensor,
    identity: torch.Tensor,
    triangles: torch.Tensor | np.ndarray,
    picks: torch.Tensor,
    generator: torch.Generator | None = None,
    face: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean |ray end − landmark distance| (head units) over the visible ones of the landmarks ``picks`` (B, K)
    of each frame; zero (with a graph) when none is visible. ``face``: each frame's face at rest for a
    surface-warp field (``model/field.py``)."""
    chosen = torch.gather(landmarks, 1, picks.unsqueeze(-1).expand(-1, -1, 3))
    visible = torch.gather(visible_landmarks(landmarks, camera, triangles), 1, picks)
    rays, target = landmark_rays(chosen, camera)
    depth, _ = model.ray_depth(rays, expression, identity, generator, face)
    error = (depth - target).abs().squeeze(-1)
    return (error * visible).sum() / visible.sum().clamp(min=1)
