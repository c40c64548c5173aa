"""Relative / absolute motion: pure functions with known answers."""

import numpy as np

from model.camera import orbit_cam_to_world
from reenact.motion import (
    drive_parameters,
    fill_invalid,
    in_reference_crop,
    model_expressions,
    relative_expressions,
    relative_poses,
)


def test_fill_invalid_uses_nearest_valid_row():
    values = np.arange(6, dtype=float)[:, None]
    valid = np.array([False, True, False, False, True, False])
    filled = fill_invalid(values, valid)[:, 0]
    assert filled.tolist() == [1, 1, 1, 4, 4, 4]


def test_relative_pose_is_identity_at_reference_and_keeps_target_framing():
    source = np.stack([orbit_cam_to_world(0.0), orbit_cam_to_world(0.3), orbit_cam_to_world(-0.2, 0.1)])
    target = orbit_cam_to_world(0.5, -0.1)
    moved = relative_poses(source, target)
    # At the reference frame the target keeps exactly its own pose (its framing, its gaze direction).
    np.testing.assert_allclose(moved[0], target, atol=1e-5)
    # The target turns by the source's rotation since its first frame.
    source_motion = np.linalg.inv(source[1])[:3, :3] @ source[0][:3, :3]
    target_motion = np.linalg.inv(moved[1].astype(np.float64))[:3, :3] @ target[:3, :3]
    np.testing.assert_allclose(source_motion, target_motion, atol=1e-5)


def test_relative_expression_adds_source_change():
    source = np.array([[1.0, 0.0], [2.0, -1.0]])
    target = np.array([0.5, 0.5])
    np.testing.assert_allclose(relative_expressions(source, target), [[0.5, 0.5], [1.5, -0.5]])


def test_absolute_mode_passes_source_through_and_fills_gaps():
    pose = np.stack([orbit_cam_to_world(a) for a in (0.0, 0.1, 0.2)]).astype(np.float32)
    expression = np.array([[0.0], [1.0], [2.0]], np.float32)
    valid = np.array([True, False, True])
    out_pose, out_expression = drive_parameters(pose, expression, valid, pose[0], expression[0], "absolute")
    np.testing.assert_allclose(out_pose[1], pose[0])
    assert out_expression[:, 0].tolist() == [0.0, 0.0, 2.0]


def test_relative_reference_is_first_valid_frame():
    pose = np.stack([orbit_cam_to_world(a) for a in (0.9, 0.1, 0.2)])
    expression = np.array([[9.0], [1.0], [2.0]])
    valid = np.array([False, True, True])
    target_pose = orbit_cam_to_world(-0.3)
    out_pose, out_expression = drive_parameters(
        pose, expression, valid, target_pose, np.array([0.0]), "relative"
    )
    np.testing.assert_allclose(out_pose[1], target_pose, atol=1e-5)
    np.testing.assert_allclose(out_expression[:, 0], [0.0, 0.0, 1.0])


def test_model_expressions_clip_mean_centres_on_valid_frames():
    expression = np.array([[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], np.float32)
    valid = np.array([True, True, False])
    np.testing.assert_allclose(
        model_expressions(expression, valid, "clip_mean")[:2], [[-1.0, -1.0], [1.0, 1.0]]
    )
    np.testing.assert_allclose(model_expressions(expression, valid, "none"), expression)
    # A single image is its own reference: its code becomes zero.
    np.testing.assert_allclose(model_expressions(expression[:1], np.ones(1, bool), "clip_mean"), [[0.0, 0.0]])


def test_absolute_mode_uses_the_model_expression_reference_and_relative_does_not_depend_on_it():
    pose = np.stack([orbit_cam_to_world(a) for a in (0.0, 0.1, 0.2)]).astype(np.float32)
    expression = np.array([[0.0], [1.0], [5.0]], np.float32)
    valid = np.ones(3, bool)
    _, absolute = drive_parameters(pose, expression, valid, pose[0], np.array([0.0]), "absolute", "clip_mean")
    np.testing.assert_allclose(absolute[:, 0], [-2.0, -1.0, 3.0])
    _, plain = drive_parameters(pose, expression, valid, pose[0], np.array([0.5]), "relative", "none")
    _, centred = drive_parameters(pose, expression, valid, pose[0], np.array([0.5]), "relative", "clip_mean")
    np.testing.assert_allclose(plain, centred)


def _head_to_cam(rotation: np.ndarray, centre) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = centre
    return pose


def test_a_nod_turns_the_target_about_its_own_head_centre():
    # The source nods about its head centre; the target sits elsewhere in its crop and further away.
    nod = orbit_cam_to_world(0.0, 0.25)[:3, :3]
    source = np.stack([_head_to_cam(np.eye(3), (0.1, -0.2, 5.0)), _head_to_cam(nod, (0.1, -0.2, 5.0))])
    target = _head_to_cam(np.eye(3), (-0.3, 0.2, 6.0))
    moved = np.linalg.inv(relative_poses(np.linalg.inv(source), np.linalg.inv(target)).astype(np.float64))
    np.testing.assert_allclose(moved[1, :3, 3], target[:3, 3], atol=1e-5)  # turned, not slid
    np.testing.assert_allclose(moved[1, :3, :3], nod, atol=1e-5)
    # The source's slide is the same fraction of the head's distance for the target.
    source[1, :3, 3] = (0.6, -0.2, 5.0)
    moved = np.linalg.inv(relative_poses(np.linalg.inv(source), np.linalg.inv(target)).astype(np.float64))
    np.testing.assert_allclose(moved[1, :3, 3], (-0.3 + 0.5 * 6.0 / 5.0, 0.2, 6.0), atol=1e-5)


def _pixel(head_to_cam: np.ndarray, crop: np.ndarray) -> np.ndarray:
    centre = head_to_cam[:3, 3]
    uv = 2.0 * centre[:2] / centre[2] + 0.5  # model.camera's DEFAULT_FOCAL, centred principal point
    return crop[:2] + (crop[2] - crop[0]) * uv


def test_in_reference_crop_keeps_each_head_where_it_is_on_screen():
    # The same still head, tracked in a crop that followed (shifted and grew): in the first frame's crop
    # it has not moved. A head that moved across the frame keeps its pixel and its size on screen.
    crops = np.array([[100.0, 50.0, 300.0, 250.0], [140.0, 40.0, 360.0, 260.0], [100.0, 50.0, 300.0, 250.0]])
    still = _head_to_cam(np.eye(3), (0.05, -0.1, 5.2))
    first_pixel = _pixel(still, crops[0])
    depth = 5.2 * 220 / 200  # the crop grew by 220/200: the head looks as far as 5.2 did in the first
    seen = _head_to_cam(np.eye(3), (*(depth * ((first_pixel - crops[1, :2]) / 220 - 0.5) / 2.0), depth))
    np.testing.assert_allclose(_pixel(seen, crops[1]), first_pixel)
    moved = _head_to_cam(np.eye(3), (0.4, 0.1, 5.0))
    poses = in_reference_crop(np.stack([still, seen, moved]), crops)
    np.testing.assert_allclose(poses[1], still, atol=1e-6)
    np.testing.assert_allclose(_pixel(poses[2], crops[0]), _pixel(moved, crops[2]), atol=1e-6)


def test_the_frame_that_stands_for_the_photo_looks_like_it():
    from reenact.motion import EYE_GAPS, MOUTH_GAP, photo_like_frame
    from tracking.landmark_model import LandmarkModel

    face = LandmarkModel.default().mean.astype(np.float64)
    shapes = np.repeat(face[None], 4, axis=0)

    def open_by(points: np.ndarray, pair: tuple[int, int], amount: float) -> None:
        points[pair[1], 1] += amount  # the lower point moves down (+y)

    open_by(shapes[0], MOUTH_GAP, 0.2)  # starts mid-word
    open_by(shapes[1], MOUTH_GAP, 0.1)
    for pair in EYE_GAPS:
        open_by(shapes[3], pair, -0.05)  # closed mouth, half a blink
    valid = np.ones(4, bool)
    # A closed-mouth photo: frame 2 (closed, eyes as the photo's), not the first frame.
    assert photo_like_frame(shapes, valid, face) == 2
    # A photo with the mouth as open as frame 1's.
    photo = face.copy()
    open_by(photo, MOUTH_GAP, 0.1)
    assert photo_like_frame(shapes, valid, photo) == 1
    # The source's own first frame as the photo (self-reenactment) picks it.
    assert photo_like_frame(shapes, valid, shapes[0]) == 0
    valid[2] = False
    assert photo_like_frame(shapes, valid, face) == 3
    assert photo_like_frame(shapes, np.zeros(4, bool), face) == 0
