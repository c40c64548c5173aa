"""Relative / absolute motion: pure functions with known answers."""

import numpy as np

from model.camera import orbit_cam_to_world
from reenact.motion import (
    drive_parameters,
    fill_invalid,
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
