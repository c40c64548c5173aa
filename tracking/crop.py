"""The aligned square head crop: where it is and how to cut it out.

Coordinates: boxes ``x0, y0, x1, y1`` are in *source pixels*, continuous coordinates in which the centre
of pixel column j is at x = j + 0.5 (the convention of MediaPipe's normalized landmarks × image size,
and of ``model/camera.py``'s crop-normalized intrinsics). Boxes are square (x1 − x0 = y1 − y0) and may
extend beyond the frame; the part outside is filled by **edge replication** (``cv2.BORDER_REPLICATE``):
it keeps hair/shoulder colours continuous at the border instead of a black edge the NeRF would have to
learn; the head mask (``tracking/mask.py``) is zero there, so the training loss ignores it.

Crop geometry (tied to ``model/camera.py``): the crop spans ``CROP_HEAD_SPAN`` head units measured at
the depth of the face, i.e. ≈ 2·HEAD_RADIUS at the head centre, so the whole head with hair fits and the
fitted camera sits ≈ 2·DEFAULT_FOCAL·HEAD_RADIUS ≈ 5.4 units from the head centre. Its centre is the
image of the head-frame point ``(0, −CROP_UP_SHIFT, 0)`` — slightly above the head centre, leaving room
for hair. Scale and centre come from MediaPipe's 3D landmarks, aligned to the landmark model's mean by a
similarity fit on rigid landmarks (forehead, nose bridge, eye corners), so the crop size does not change
when the head turns or the mouth opens.
"""

from __future__ import annotations

import cv2
import numpy as np

from model.camera import HEAD_RADIUS

CROP_HEAD_SPAN = 2.0 * HEAD_RADIUS * 0.88
"""Crop side in head units at the depth of the rigid face landmarks (≈ 0.65 in front of the centre)."""
CROP_UP_SHIFT = 0.10
"""Crop centre = image of the head-frame point (0, −CROP_UP_SHIFT, 0): a little above the head centre."""
RIGID_LANDMARKS = np.array(
    [33, 133, 362, 263, 10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 46, 276, 70, 300, 107, 336]
)
"""Landmarks that barely move with expression: eye corners, forehead, nose bridge and tip, brows' ends."""


def rigid_similarity(points: np.ndarray, reference: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (scale, rotation (3,3), translation (3,)) with points ≈ scale·R·reference + t, fitted
    on the rigid landmarks. ``points`` (≥468, 3) in pixels (MediaPipe x, y, z), ``reference`` (468, 3)."""
    src = reference[RIGID_LANDMARKS].astype(np.float64)
    dst = points[RIGID_LANDMARKS].astype(np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    sc, dc = src - src_mean, dst - dst_mean
    u, sing, vt = np.linalg.svd(dc.T @ sc)
    fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ fix @ vt
    scale = float((sing * np.diag(fix)).sum() / (sc * sc).sum())
    return scale, rotation, dst_mean - scale * rotation @ src_mean


def compute_crop(
    landmarks_px: np.ndarray, image_size: tuple[int, int], reference: np.ndarray | None = None
) -> np.ndarray:
    """Square head crop (4,) float32 x0, y0, x1, y1 in source pixels from one face's landmarks.

    ``landmarks_px``: (478, 3) MediaPipe landmarks in pixels (with depth) — or (478, 2), in which case a
    cruder 2D rule is used (box of the mesh landmarks, side 1.75 × its larger extent, shifted up by 8%).
    ``reference``: the landmark model's mean (468, 3) in head units; needed for the 3D rule.
    ``image_size``: (width, height) of the source; not needed by the rule (boxes may extend beyond the
    frame, see the module docstring), kept so callers need not change if a clamping rule is added.
    """
    landmarks_px = np.asarray(landmarks_px, dtype=np.float64)
    if landmarks_px.shape[-1] >= 3 and reference is not None:
        scale, rotation, translation = rigid_similarity(landmarks_px, reference)
        side = CROP_HEAD_SPAN * scale
        center = scale * rotation @ np.array([0.0, -CROP_UP_SHIFT, 0.0]) + translation
        cx, cy = center[0], center[1]
    else:
        pts = landmarks_px[:468, :2]
        lo, hi = pts.min(0), pts.max(0)
        side = 1.75 * float(max(hi - lo))
        cx, cy = 0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]) - 0.08 * side
    side = max(float(side), 4.0)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], dtype=np.float32)


def crop_affine(box: np.ndarray, size: int) -> np.ndarray:
    """(2, 3) float64 affine taking source pixel coordinates to crop pixel coordinates of a size×size
    crop (both continuous, pixel centres at +0.5). Crop-normalized = crop pixels / size."""
    x0, y0, x1, y1 = (float(v) for v in box)
    scale = size / (x1 - x0)
    return np.array([[scale, 0.0, -scale * x0], [0.0, scale, -scale * y0]])


def _cv_affine(box: np.ndarray, size: int) -> np.ndarray:
    """``crop_affine`` expressed on OpenCV's integer pixel-centre grid (for cv2.warpAffine)."""
    a = crop_affine(box, size)
    a[:, 2] += a[:, :2].sum(1) * 0.5 - 0.5
    return a


def to_crop(points_px: np.ndarray, box: np.ndarray, size: int = 1) -> np.ndarray:
    """Source pixel points (…, 2) → crop coordinates; ``size=1`` gives crop-normalized [0, 1]²."""
    a = crop_affine(box, size)
    return points_px[..., :2] @ a[:, :2].T + a[:, 2]


def from_crop(points_crop: np.ndarray, box: np.ndarray, size: int = 1) -> np.ndarray:
    """Inverse of :func:`to_crop`."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return points_crop[..., :2] * ((x1 - x0) / size) + np.array([x0, y0])


def crop_image(
    image: np.ndarray, box: np.ndarray, size: int, interpolation: int = cv2.INTER_AREA
) -> np.ndarray:
    """Cut the square ``box`` out of ``image`` (H, W[, C]) resampled to size×size; outside the frame the
    border pixels are replicated. Downscaling uses area averaging (pre-filtered) when the crop is smaller
    than the box, bilinear otherwise."""
    side = float(box[2] - box[0])
    if interpolation == cv2.INTER_AREA and side <= size:
        interpolation = cv2.INTER_LINEAR
    if interpolation == cv2.INTER_AREA:
        # warpAffine has no area filter: blur-free approach = resize the box region then warp exactly.
        factor = side / size
        small = cv2.resize(image, None, fx=1.0 / factor, fy=1.0 / factor, interpolation=cv2.INTER_AREA)
        scaled_box = np.asarray(box, np.float64) / factor
        return cv2.warpAffine(
            small,
            _cv_affine(scaled_box, size),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return cv2.warpAffine(
        image, _cv_affine(box, size), (size, size), flags=interpolation, borderMode=cv2.BORDER_REPLICATE
    )
