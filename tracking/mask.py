"""Head mask for the training loss: MediaPipe selfie segmentation limited to the head region.

Input: an aligned crop (H, W, 3) RGB uint8 and the face landmarks in crop pixels (≥468, 2).
Output: (H, W) float32 in [0, 1], 1 on the head (face, hair, ears), 0 on background, neck/shoulders
and anywhere outside the source frame.

Segmenter: ``model_selection=0`` (the "general" 256×256 model). The landscape model (1, 144×256) is made
for wide video-call frames; our input is a square head crop, which the general model sees at full
resolution.

Head region: a soft ellipse aligned with the eye line (so it follows head roll), centred above the face
landmarks' centre, wide enough for ears and tall enough for hair, cut just below the chin; the face hull
itself is always inside. ``head_region`` is exposed for tests and for callers that want it alone.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tracking.landmarks import CHIN, LEFT_EYE_OUTER, NUM_MESH_LANDMARKS, RIGHT_EYE_OUTER


def head_region(landmarks_crop: np.ndarray, shape: tuple[int, int], feather: float = 0.02) -> np.ndarray:
    """Soft head-region mask (H, W) float32 from crop-pixel landmarks (≥468, 2)."""
    height, width = shape
    pts = np.asarray(landmarks_crop, np.float64)[:NUM_MESH_LANDMARKS, :2]
    eye = pts[LEFT_EYE_OUTER] - pts[RIGHT_EYE_OUTER]
    angle = math.atan2(eye[1], eye[0])
    c, s = math.cos(angle), math.sin(angle)
    # face coordinates: u along the eye line, v toward the chin
    centre = pts.mean(0)
    rel = pts - centre
    u, v = rel @ np.array([c, s]), rel @ np.array([-s, c])
    face_w, face_h = u.max() - u.min(), v.max() - v.min()
    ell_centre = centre + (-0.12 * face_h) * np.array([-s, c])
    axes = (0.5 * face_w * 1.45, 0.5 * face_h * 1.40)
    region = np.zeros((height, width), np.uint8)
    cv2.ellipse(
        region,
        (int(round(ell_centre[0] * 16)), int(round(ell_centre[1] * 16))),
        (int(round(axes[0] * 16)), int(round(axes[1] * 16))),
        math.degrees(angle),
        0,
        360,
        1,
        -1,
        cv2.LINE_AA,
        shift=4,
    )
    hull = cv2.convexHull((pts * 16).round().astype(np.int32))
    cv2.fillConvexPoly(region, hull, 1, cv2.LINE_AA, shift=4)
    # cut below the chin (a little margin), along the rotated axis
    ys, xs = np.mgrid[0:height, 0:width]
    chin_v = (pts[CHIN] - centre) @ np.array([-s, c])
    v_pix = (xs + 0.5 - centre[0]) * -s + (ys + 0.5 - centre[1]) * c
    region = region.astype(np.float32) * (v_pix <= chin_v + 0.06 * face_h)
    sigma = feather * max(height, width)
    if sigma > 0:
        region = cv2.GaussianBlur(region, (0, 0), sigmaX=sigma)
    return np.clip(region, 0.0, 1.0)


class HeadSegmenter:
    """Context manager owning a MediaPipe selfie-segmentation graph (``model_selection=0``)."""

    def __init__(self, model_selection: int = 0) -> None:
        self.model_selection = model_selection
        self._graph = None

    def __enter__(self) -> HeadSegmenter:
        import mediapipe as mp

        self._graph = mp.solutions.selfie_segmentation.SelfieSegmentation(
            model_selection=self.model_selection
        )
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None

    def person_mask(self, image_rgb: np.ndarray) -> np.ndarray:
        """Person probability (H, W) float32 in [0, 1]."""
        if self._graph is None:
            raise RuntimeError("HeadSegmenter used outside its context")
        result = self._graph.process(np.ascontiguousarray(image_rgb))
        return np.clip(np.asarray(result.segmentation_mask, np.float32), 0.0, 1.0)

    def head_mask(
        self, image_crop: np.ndarray, landmarks_crop: np.ndarray, valid_area: np.ndarray | None = None
    ) -> np.ndarray:
        """Person mask × head region, (H, W) float32 in [0, 1]. ``valid_area`` (H, W) optionally zeroes
        the parts of the crop that lie outside the source frame."""
        mask = self.person_mask(image_crop) * head_region(landmarks_crop, image_crop.shape[:2])
        if valid_area is not None:
            mask = mask * valid_area
        return mask.astype(np.float32)


def inside_frame_mask(box: np.ndarray, size: int, image_size: tuple[int, int]) -> np.ndarray:
    """(size, size) float32: 1 where the crop pixel lies inside the source frame, else 0."""
    x0, y0, x1, y1 = (float(v) for v in box)
    width, height = image_size
    coords = (np.arange(size) + 0.5) * (x1 - x0) / size
    inside_x = ((coords + x0) >= 0) & ((coords + x0) <= width)
    inside_y = ((coords + y0) >= 0) & ((coords + y0) <= height)
    return (inside_y[:, None] & inside_x[None, :]).astype(np.float32)
