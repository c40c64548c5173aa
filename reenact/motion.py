"""How a source's tracked motion becomes the target's per-frame camera and expression. Numpy only;
the expression reference rule is the training one, from ``model/expression.py``.

Poses are ``cam_to_world`` (camera-to-head) transforms of ``model/camera.py``. The head moves in the
camera's frame by ``head_to_cam = inv(cam_to_world)``.

relative (default)
    The source's change since its reference frame is applied to the target's own fitted pose and
    expression: ``head_to_cam_t = (S_t · S_ref⁻¹) · T`` with S the source's head-to-camera transforms and
    T the target's, and ``β_t = β_target + (β_source_t − β_source_ref)``. A target who looks left keeps
    looking left, turned by the source's motion, and keeps their framing.
absolute
    The source's pose and expression are used as they are (the expression measured from the source's own
    reference when the model was trained that way, see below).

Expression reference: a checkpoint trained with ``expression_reference="clip_mean"`` (``model/expression.py``)
sees β measured from the mean code of its clip. :func:`model_expressions` applies the same rule to tracked
codes: a video's codes minus their mean over valid frames, a single image's code minus itself (zeros).
Relative motion is unchanged by it (it only uses differences).
"""

from __future__ import annotations

import numpy as np

from model.expression import relative_to_reference


def fill_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace rows of invalid frames by the nearest valid row (earlier one on ties). (N, ...) → (N, ...)."""
    valid = np.asarray(valid, bool)
    if valid.all() or not valid.any():
        return values.copy()
    index = np.arange(len(valid))
    valid_index = index[valid]
    nearest = valid_index[np.clip(np.searchsorted(valid_index, index), 0, len(valid_index) - 1)]
    earlier = valid_index[np.clip(np.searchsorted(valid_index, index) - 1, 0, len(valid_index) - 1)]
    use_earlier = np.abs(index - earlier) <= np.abs(nearest - index)
    return values[np.where(use_earlier, earlier, nearest)]


def model_expressions(expression: np.ndarray, valid: np.ndarray, reference: str = "none") -> np.ndarray:
    """Tracked codes (N,E) → the codes a model trained with ``reference`` expects (N,E); the training rule."""
    return relative_to_reference(expression, reference, valid)


def reference_frame(valid: np.ndarray) -> int:
    """The first valid frame: the reference of relative motion."""
    hits = np.flatnonzero(np.asarray(valid, bool))
    return int(hits[0]) if hits.size else 0


def relative_poses(
    source_cam_to_world: np.ndarray, target_cam_to_world: np.ndarray, reference: int = 0
) -> np.ndarray:
    """(N,4,4) source poses + (4,4) target pose → (N,4,4) target poses moved as the source moved."""
    source_head_to_cam = np.linalg.inv(source_cam_to_world.astype(np.float64))
    motion = source_head_to_cam @ np.linalg.inv(source_head_to_cam[reference])
    target_head_to_cam = np.linalg.inv(target_cam_to_world.astype(np.float64))
    moved = motion @ target_head_to_cam
    return np.linalg.inv(moved).astype(np.float32)


def relative_expressions(
    source_expression: np.ndarray, target_expression: np.ndarray, reference: int = 0
) -> np.ndarray:
    """(N,E) source codes + (E,) target code → (N,E): the target's code plus the source's change."""
    return (target_expression[None, :] + source_expression - source_expression[reference]).astype(np.float32)


def drive_parameters(
    source_pose: np.ndarray,
    source_expression: np.ndarray,
    valid: np.ndarray,
    target_pose: np.ndarray,
    target_expression: np.ndarray,
    mode: str = "relative",
    expression_reference: str = "none",
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (cam_to_world (N,4,4), expression (N,E)) for rendering the target.

    ``target_expression`` is already in the model's terms (a fitted code); ``expression_reference`` is the
    model's (only the absolute mode needs it)."""
    pose = fill_invalid(source_pose, valid)
    expression = fill_invalid(source_expression, valid)
    if mode == "absolute":
        return pose.astype(np.float32), model_expressions(expression, valid, expression_reference)
    if mode != "relative":
        raise ValueError(f"unknown motion mode {mode!r}")
    reference = reference_frame(valid)
    return relative_poses(pose, target_pose, reference), relative_expressions(
        expression, target_expression, reference
    )


def face_changes(
    source_expression: np.ndarray, valid: np.ndarray, target_expression: np.ndarray, mode: str = "relative"
) -> np.ndarray:
    """How far each frame's face is from the target photo's, in the tracker's expression codes (N, E_t):
    what the surface warp moves the photo's face by (``reenact/photo.py``). ``source_expression`` (N, E_t)
    tracked, ``target_expression`` (E_t,) the tracker's code of the photo. relative: the source's change since
    its reference frame; absolute: the source's code minus the photo's."""
    expression = fill_invalid(np.asarray(source_expression, np.float32), valid)
    if mode == "absolute":
        return (expression - np.asarray(target_expression, np.float32)[None]).astype(np.float32)
    if mode != "relative":
        raise ValueError(f"unknown motion mode {mode!r}")
    return (expression - expression[reference_frame(valid)]).astype(np.float32)
