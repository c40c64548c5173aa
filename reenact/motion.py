"""How a source's tracked motion becomes the target's per-frame camera and expression. Numpy only;
the expression reference rule is the training one, from ``model/expression.py``.

Poses are ``cam_to_world`` (camera-to-head) transforms of ``model/camera.py``. The head moves in the
camera's frame by ``head_to_cam = inv(cam_to_world)``.

relative (default)
    The source's change since its reference frame is applied to the target's own fitted pose and
    expression, about the target's head: with head-to-camera transforms S = [R_s | c_s] (source) and
    T = [R_T | c_T] (target), ``R_t = (R_s,t · R_s,ref⁻¹) · R_T``, ``c_t = c_T + (z_T / z_s,ref) ·
    (c_s,t − c_s,ref)`` (the head centre moves as the source's did, in proportion to its distance, so the
    motion is the same fraction of the face on screen) and ``β_t = β_target + (β_source_t − β_source_ref)``.
    A target who looks left keeps looking left, turned by the source's motion, and keeps their framing.
    Turning about the camera instead (``(S_t · S_ref⁻¹) · T``) moves the target's head sideways by
    (R − I)(c_T − c_s,ref) whenever the two heads are not at the same spot: a nod became a slide.

    The tracker's poses are each in its own frame's aligned crop (``tracking/tracker.py``), which follows
    the face: a head that moves across the frame hardly moves in its crop. With ``source_crops`` the
    source's poses are first re-expressed in the reference frame's crop (:func:`in_reference_crop`), so that
    the output moves on screen as the source did (the photo output); without them the head stays where
    the target's crop puts it (the aligned head crop).
absolute
    The source's pose and expression are used as they are (the expression measured from the source's own
    reference when the model was trained that way, see below).

Which source frame stands for the photo: relative motion adds the source's change since that frame to the
photo's own pose and expression, so at that frame the photo comes back unchanged. It is the frame whose
mouth and eyes look most like the photo's (:func:`photo_like_frame`), not simply the first: a source that
starts mid-word driving a closed-mouth photo made every later closed mouth "more closed than the photo",
and lips cannot close past shut (``reenact/photo.py``: ``close_openings``), so the photo followed only the
openings beyond the first frame's. A source's own first frame as the photo (self-reenactment) still picks
that frame. On the 7 evaluation pairs the driven face mesh's lip gap followed the source's at r 0.99
against 0.93 from the first frame (``docs/experiments.md``).

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


def in_reference_crop(head_to_cam: np.ndarray, crops: np.ndarray, reference: int = 0) -> np.ndarray:
    """(N,4,4) head-to-camera transforms, each in its own crop (N,4) x0,y0,x1,y1 → the same heads seen by
    the camera of crop ``reference`` (N,4,4).

    The crop cameras differ only in intrinsics (same centre, same axes: ``model/camera.py``). A head centre
    (X, Y, Z) of crop i keeps its pixel position and its size on screen: Z' = Z · w_ref / w_i, and X', Y'
    from the pixel through the reference crop's intrinsics. The rotation is kept (the few degrees between
    the two viewing directions are below the tracker's noise)."""
    from model.camera import Intrinsics

    K = Intrinsics()
    out = head_to_cam.astype(np.float64).copy()
    crops = np.asarray(crops, np.float64)
    width = crops[:, 2] - crops[:, 0]
    centre = out[:, :3, 3]
    u = crops[:, 0] + width * (K.fx * centre[:, 0] / centre[:, 2] + K.cx)
    v = crops[:, 1] + width * (K.fy * centre[:, 1] / centre[:, 2] + K.cy)
    ref = crops[reference]
    ref_width = ref[2] - ref[0]
    z = centre[:, 2] * ref_width / width
    out[:, 0, 3] = z * ((u - ref[0]) / ref_width - K.cx) / K.fx
    out[:, 1, 3] = z * ((v - ref[1]) / ref_width - K.cy) / K.fy
    out[:, 2, 3] = z
    return out


MOUTH_GAP = (13, 14)
"""Inner-lip midpoints (upper, lower) of MediaPipe's mesh."""
EYE_GAPS = ((159, 145), (386, 374))
"""Lid midpoints (upper, lower) of each eye."""
MOUTH_CORNERS = (78, 308)
"""Inner-lip corners (a smile widens them)."""


def openings(shapes: np.ndarray) -> np.ndarray:
    """Face-mesh shapes (…, V, 3) → (…, 3): inner-lip gap, mean eye opening and inner-mouth width, each over
    the inter-ocular distance (outer eye corners)."""
    from tracking.landmarks import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

    shapes = np.asarray(shapes, np.float64)
    iod = np.maximum(
        np.linalg.norm(shapes[..., RIGHT_EYE_OUTER, :] - shapes[..., LEFT_EYE_OUTER, :], axis=-1), 1e-9
    )

    def span(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(shapes[..., a, :] - shapes[..., b, :], axis=-1) / iod

    eyes = (span(*EYE_GAPS[0]) + span(*EYE_GAPS[1])) / 2.0
    return np.stack([span(*MOUTH_GAP), eyes, span(*MOUTH_CORNERS)], axis=-1)


def photo_like_frame(shapes: np.ndarray, valid: np.ndarray, photo_face: np.ndarray) -> int:
    """The valid source frame whose face looks most like the photo's: the nearest :func:`openings` (L1), from
    the source's landmark-model shapes (N, V, 3) and the photo's face mesh (V, 3). The first valid frame when
    there is none."""
    valid = np.asarray(valid, bool)
    if not valid.any():
        return 0
    distance = np.abs(openings(shapes) - openings(photo_face)[None]).sum(-1)
    return int(np.argmin(np.where(valid, distance, np.inf)))


def relative_poses(
    source_cam_to_world: np.ndarray,
    target_cam_to_world: np.ndarray,
    reference: int = 0,
    source_crops: np.ndarray | None = None,
) -> np.ndarray:
    """(N,4,4) source poses + (4,4) target pose → (N,4,4) target poses moved as the source moved (the
    module docstring's rule; ``source_crops`` (N,4) puts the source's motion on screen back in)."""
    source = np.linalg.inv(source_cam_to_world.astype(np.float64))
    if source_crops is not None:
        source = in_reference_crop(source, source_crops, reference)
    target = np.linalg.inv(target_cam_to_world.astype(np.float64))
    turn = source[:, :3, :3] @ source[reference, :3, :3].T
    moved = np.tile(np.eye(4), (len(source), 1, 1))
    moved[:, :3, :3] = turn @ target[:3, :3]
    scale = target[2, 3] / source[reference, 2, 3]
    moved[:, :3, 3] = target[:3, 3] + scale * (source[:, :3, 3] - source[reference, :3, 3])
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
    source_crops: np.ndarray | None = None,
    reference: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (cam_to_world (N,4,4), expression (N,E)) for rendering the target.

    ``target_expression`` is already in the model's terms (a fitted code); ``expression_reference`` is the
    model's (only the absolute mode needs it); relative mode only: ``source_crops`` (N,4) keep the
    source's motion across its frame, ``reference`` is the source frame that stands for the target (None:
    the first valid one; see the module docstring)."""
    pose = fill_invalid(source_pose, valid)
    expression = fill_invalid(source_expression, valid)
    if mode == "absolute":
        return pose.astype(np.float32), model_expressions(expression, valid, expression_reference)
    if mode != "relative":
        raise ValueError(f"unknown motion mode {mode!r}")
    reference = reference_frame(valid) if reference is None else reference
    crops = None if source_crops is None else fill_invalid(np.asarray(source_crops), valid)
    return relative_poses(pose, target_pose, reference, crops), relative_expressions(
        expression, target_expression, reference
    )


def face_changes(
    source_expression: np.ndarray,
    valid: np.ndarray,
    target_expression: np.ndarray,
    mode: str = "relative",
    reference: int | None = None,
) -> np.ndarray:
    """How far each frame's face is from the target photo's, in the tracker's expression codes (N, E_t):
    what the surface warp moves the photo's face by (``reenact/photo.py``). ``source_expression`` (N, E_t)
    tracked, ``target_expression`` (E_t,) the tracker's code of the photo. relative: the source's change since
    its frame ``reference`` (None: the first valid one); absolute: the source's code minus the
    photo's."""
    expression = fill_invalid(np.asarray(source_expression, np.float32), valid)
    if mode == "absolute":
        return (expression - np.asarray(target_expression, np.float32)[None]).astype(np.float32)
    if mode != "relative":
        raise ValueError(f"unknown motion mode {mode!r}")
    reference = reference_frame(valid) if reference is None else reference
    return (expression - expression[reference]).astype(np.float32)
