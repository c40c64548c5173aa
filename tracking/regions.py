"""Expression regions of an aligned crop: the mouth and the two eyes with their brows, as a pixel map.

Where a face shows its expression is a small part of the head (about a tenth of the masked pixels at
128²), so an image loss spread evenly over the head gives the network little reason to make those pixels
follow the expression code. The training loss can weight these regions up (``LossConfig.region_weight``).

Input: head-frame landmarks of the landmark model (``tracking/landmark_model.py``) and the crop's camera
(``model/camera.py``); the landmark model's shape for the tracked codes, not MediaPipe's raw points, so the
region moves exactly as the code β that the field is given. Output: (S, S) float32 maps in {0, 1}, one
convex region per group (lips, right eye + brow, left eye + brow), each grown about its centroid by
:data:`GROW` so that it takes in the skin that folds with the expression (lip corners, eyelids).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from model.camera import Intrinsics, project

GROW = 1.3
"""Each group's landmarks are scaled by this about their centroid before the hull is filled."""


@lru_cache(maxsize=1)
def region_groups() -> tuple[np.ndarray, ...]:
    """Landmark indices of the groups (lips, right eye + brow, left eye + brow), from MediaPipe's own
    face-mesh connection sets (the one source of those index lists)."""
    from mediapipe.python.solutions import face_mesh_connections as mesh

    def indices(*sets: frozenset) -> np.ndarray:
        return np.array(sorted({i for connections in sets for edge in connections for i in edge}), np.int64)

    return (
        indices(mesh.FACEMESH_LIPS),
        indices(mesh.FACEMESH_RIGHT_EYE, mesh.FACEMESH_RIGHT_EYEBROW),
        indices(mesh.FACEMESH_LEFT_EYE, mesh.FACEMESH_LEFT_EYEBROW),
    )


def fill_convex(points: np.ndarray, size: int) -> np.ndarray:
    """(P, 2) crop-normalized points → (size, size) bool: pixel centres inside their convex hull."""
    try:
        hull = ConvexHull(points)
    except (QhullError, ValueError):  # degenerate (collinear or too few points): no region
        return np.zeros((size, size), bool)
    centres = (np.arange(size) + 0.5) / size
    grid = np.stack(np.meshgrid(centres, centres, indexing="xy"), axis=-1)  # (S, S, 2) as (u, v)
    # Qhull's facet equations: n·p + c ≤ 0 inside.
    return np.all(grid @ hull.equations[:, :2].T + hull.equations[:, 2] <= 1e-12, axis=-1)


def region_map(points_2d: np.ndarray, size: int) -> np.ndarray:
    """(468, 2) crop-normalized landmark positions → (size, size) float32 map, 1 inside a region."""
    out = np.zeros((size, size), bool)
    for group in region_groups():
        points = points_2d[group]
        centre = points.mean(axis=0, keepdims=True)
        out |= fill_convex(centre + GROW * (points - centre), size)
    return out.astype(np.float32)


def clip_regions(landmark_model, identity_shape: np.ndarray, expression: np.ndarray, cam_to_world: np.ndarray, size: int,
                 intrinsics: Intrinsics | None = None) -> np.ndarray:
    """Region maps of one clip's frames: identity (S,) and expression (N, E) coefficients of ``landmark_model``
    and cameras (N, 4, 4) → (N, size, size) uint8, 255 inside a region."""
    shapes = landmark_model.shape(identity_shape, np.asarray(expression))
    out = np.zeros((len(cam_to_world), size, size), np.uint8)
    for i, (points, pose) in enumerate(zip(shapes.reshape(len(cam_to_world), -1, 3), cam_to_world)):
        out[i] = region_map(project(points, np.asarray(pose, np.float64), intrinsics), size).astype(np.uint8) * 255
    return out
