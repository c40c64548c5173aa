"""Relative / absolute motion: pure functions with known answers."""

import numpy as np

from model.camera import orbit_cam_to_world
from reenact.motion import drive_parameters, fill_invalid, relative_expressions, relative_poses


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
    out_pose, out_expression = drive_parameters(pose, expression, valid, target_pose, np.array([0.0]), "relative")
    np.testing.assert_allclose(out_pose[1], target_pose, atol=1e-5)
    np.testing.assert_allclose(out_expression[:, 0], [0.0, 0.0, 1.0])
