"""Measures read by the project's own tracker: an image (a render, an output frame) tracked like any photo,
its reading compared with the parameters it was driven by. Used by ``reenact eval``'s self- and
cross-reenactment tables (``reenact/evaluate.py``) and by the photo-size self-reenactment
(``reenact/viewer_eval.py``).

Per image (:func:`frame_measures`): identity similarity (cosine of recognition embeddings), expression
distance over all components and over the :data:`LEADING_EXPRESSION` leading ones, expression *change*
distance (the image's tracked code minus the start image's, against the driving code minus the driving
start: a fixed offset in how the tracker reads an image cancels, a still image scores exactly how far the
driver moves) and the rotation angle between the tracked and the driving head pose.
"""

from __future__ import annotations

import numpy as np

from model.camera import axis_angle
from tracking.errors import NoFaceError
from tracking.tracker import Tracker

LEADING_EXPRESSION = 10
"""Components in ``expression_distance_leading``: 88% of the shipped basis's variance (20: 96%, 46: 100%)."""

MOTION_KEYS = (
    "identity_similarity",
    "expression_distance",
    "expression_distance_leading",
    "expression_change_distance",
    "pose_distance_deg",
)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def rotation_distance_deg(pose_a: np.ndarray, pose_b: np.ndarray) -> float:
    """Angle between the rotation parts of two (4,4) poses, degrees."""
    relative = pose_a[:3, :3].astype(np.float64).T @ pose_b[:3, :3].astype(np.float64)
    return float(np.degrees(np.linalg.norm(axis_angle(relative))))


def frame_measures(
    tracker: Tracker,
    image: np.ndarray,
    pose: np.ndarray,
    expression: np.ndarray,
    reference_embedding: np.ndarray | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float] | None:
    """:data:`MOTION_KEYS` of one image (H, W, 3) driven by ``pose`` (4, 4) and ``expression`` (E,); None when
    the tracker finds no face. ``start``: (tracked code of the image the motion starts from, driving code it
    starts from), see :func:`motion_start`; without it the change distance is NaN, without
    ``reference_embedding`` the identity similarity."""
    try:
        track = tracker.track_image(image)
    except NoFaceError:
        return None
    nan = float("nan")
    seen = track.expression[0]
    difference = np.abs(seen - expression)
    change = similarity = nan
    if reference_embedding is not None:
        similarity = cosine(track.embedding, reference_embedding)
    if start is not None:
        moved = (seen - start[0]) - (expression - start[1])
        change = float(np.abs(moved[:LEADING_EXPRESSION]).mean())
    return {
        "identity_similarity": similarity,
        "expression_distance": float(difference.mean()),
        "expression_distance_leading": float(difference[:LEADING_EXPRESSION].mean()),
        "expression_change_distance": change,
        "pose_distance_deg": rotation_distance_deg(track.pose[0], pose),
    }


def mean_measures(measured: list[dict[str, float] | None]) -> dict[str, float]:
    """Mean of :func:`frame_measures` results over the images with a face, and ``face_found``, their share."""
    found = [m for m in measured if m is not None]
    means = {key: float(np.mean([m[key] for m in found])) if found else float("nan") for key in MOTION_KEYS}
    return {**means, "face_found": len(found) / max(len(measured), 1)}


def motion_metrics(
    renders: np.ndarray,
    driving_pose: np.ndarray,
    driving_expression: np.ndarray,
    reference_embedding: np.ndarray,
    tracker: Tracker,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Track each render; compare identity, expression and rotation with what was asked for. ``reference``:
    (tracked code of the render the motion starts from, driving code it starts from) — adds the expression
    change distance over the leading components (NaN without it)."""
    return mean_measures(
        [
            frame_measures(tracker, render, pose, expression, reference_embedding, reference)
            for render, pose, expression in zip(renders, driving_pose, driving_expression)
        ]
    )


def motion_start(
    tracker: Tracker, image: np.ndarray, driving_code: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Where a change is measured from (``motion_metrics``' ``reference``): the image the motion starts from
    as the tracker reads it, and the driving code it starts from; None when the tracker finds no face in
    it."""
    try:
        return tracker.track_image(image).expression[0], driving_code
    except NoFaceError:
        return None
