"""The 2D landmark morph: a yardstick for ``eval`` and the benchmarks, never a path of ``drive``.

The portrait's 468 MediaPipe landmarks P are moved by the source's landmark motion since its first frame
with a face, S[t] − S[0], mapped into the portrait by the linear part A (scale × rotation) of the
least-squares similarity taking the source's first-frame rigid landmarks onto the portrait's:
``moved = P + (S[t] − S[0]) A^T``. The displacement includes the head's rigid motion, so turns and nods
show as well as the mouth and eyes. The photo is warped piecewise-affinely over a Delaunay mesh of the
landmarks plus fixed points on the image border, so the background stays put. Frames where the source
has no face repeat the last good shape (the still portrait before the first face). No learning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial import Delaunay

from reenact.viewer_metrics import detect_portrait, load_image, read_video, video_fps
from tracking.landmarks import NUM_MESH_LANDMARKS, FaceFollower, FaceMeshDetector, as_rgb_uint8

RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 33, 133, 362, 263, 127, 356, 234, 454)
"""Landmarks that move with the skull, not the expression: forehead, nose bridge and ridge, eye corners,
temples and the cheeks' outer edge at ear height."""
BORDER_POINTS_PER_SIDE = 5


def similarity_linear(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Linear part (2, 2) = scale × rotation of the least-squares similarity (Umeyama) mapping (K, 2)
    ``source`` points onto (K, 2) ``target`` points (no reflection)."""
    src, dst = source - source.mean(axis=0), target - target.mean(axis=0)
    u, sigma, vt = np.linalg.svd(dst.T @ src)
    flip = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ flip @ vt
    scale = float((sigma * np.diag(flip)).sum() / max((src**2).sum(), 1e-12))
    return scale * rotation


def border_points(width: int, height: int, per_side: int = BORDER_POINTS_PER_SIDE) -> np.ndarray:
    """(4·per_side, 2) fixed points evenly along the image border (continuous pixel coordinates)."""
    steps = np.linspace(0.0, 1.0, per_side + 1)[:-1]
    w, h = float(width), float(height)
    sides = [(s * w, 0.0) for s in steps] + [(w, s * h) for s in steps]
    sides += [(w - s * w, h) for s in steps] + [(0.0, h - s * h) for s in steps]
    return np.array(sides, np.float64)


def warp_piecewise_affine(
    image: np.ndarray, rest: np.ndarray, moved: np.ndarray, triangles: np.ndarray
) -> np.ndarray:
    """Warp ``image`` (H, W, C) so the points ``rest`` (P, 2) land on ``moved`` (P, 2), affinely inside
    each triangle (T, 3) of point indices. Backward mapping: every output pixel looks up its source
    position through its triangle's affine map; pixels outside all triangles are copied unchanged."""
    height, width = image.shape[:2]
    dst, src = moved[triangles], rest[triangles]  # (T, 3, 2)
    edges = dst[:, 1:] - dst[:, :1]
    usable = np.abs(edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]) > 1e-9
    maps = np.zeros((len(triangles), 2, 3), np.float32)  # output position -> source position, per triangle
    homogeneous = np.concatenate([dst, np.ones_like(dst[..., :1])], axis=-1)
    maps[usable] = np.linalg.solve(homogeneous[usable], src[usable]).transpose(0, 2, 1)
    owner = np.full((height, width), -1, np.int32)
    corners = np.round((dst - 0.5) * 16).astype(np.int32)  # pixel-index coordinates, 4 fractional bits
    for k in np.flatnonzero(usable):
        cv2.fillConvexPoly(owner, corners[k], int(k), lineType=cv2.LINE_8, shift=4)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    m = maps[np.maximum(owner, 0)]
    map_x = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2] - 0.5
    map_y = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2] - 0.5
    outside = owner < 0
    map_x[outside], map_y[outside] = xs[outside] - 0.5, ys[outside] - 0.5
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@dataclass
class MorphMesh:
    """The portrait at rest: ``image`` (H, W, 3) RGB uint8, ``landmarks`` (468, 2) pixels, ``border``
    (B, 2) fixed points, ``triangles`` (T, 3) indices into landmarks followed by border points."""

    image: np.ndarray
    landmarks: np.ndarray
    border: np.ndarray
    triangles: np.ndarray

    @classmethod
    def of(cls, portrait_rgb: np.ndarray) -> MorphMesh:
        image = as_rgb_uint8(portrait_rgb)
        landmarks = detect_portrait(image)
        if landmarks is None:
            raise ValueError("no face found in the portrait")
        border = border_points(image.shape[1], image.shape[0])
        return cls(image, landmarks, border, Delaunay(np.vstack([landmarks, border])).simplices)

    def render(self, moved_landmarks: np.ndarray) -> np.ndarray:
        """The portrait with its landmarks moved to ``moved_landmarks`` (468, 2)."""
        rest = np.vstack([self.landmarks, self.border])
        moved = np.vstack([moved_landmarks, self.border])
        return warp_piecewise_affine(self.image, rest, moved, self.triangles)


def morph_frames(portrait_rgb: np.ndarray, source_frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield one morphed portrait (H, W, 3) uint8 per source frame (RGB (h, w, 3), in order)."""
    mesh = MorphMesh.of(portrait_rgb)
    first, linear, shape = None, None, mesh.landmarks
    follower = FaceFollower()
    with FaceMeshDetector(static_image_mode=False) as detector:
        for frame in source_frames:
            face = follower.choose(detector.detect(as_rgb_uint8(frame)))
            if face is not None:
                points = face[:NUM_MESH_LANDMARKS, :2].astype(np.float64)
                if first is None:
                    first = points
                    linear = similarity_linear(points[list(RIGID)], mesh.landmarks[list(RIGID)])
                shape = mesh.landmarks + (points - first) @ linear.T
            yield mesh.render(shape)


def morph_video(
    portrait: str | Path | np.ndarray,
    source_video: str | Path,
    output: str | Path,
    max_frames: int | None = None,
) -> int:
    """Morph ``portrait`` by ``source_video`` (its first ``max_frames``) into ``output`` (mp4, source fps)."""
    image = load_image(portrait) if isinstance(portrait, (str, Path)) else portrait
    frames = morph_frames(image, read_video(source_video, max_frames))
    from reenact.media.writing import VideoWriter

    with VideoWriter(output, fps=video_fps(source_video)) as writer:
        for frame in frames:
            writer.write(frame)
        return writer.frames_written
