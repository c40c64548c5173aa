"""reenact/photo.py: the photo output's geometry on the shipped landmark model."""

from __future__ import annotations

import numpy as np
import torch

from reenact.photo import close_openings
from tracking.landmark_model import LandmarkModel
from tracking.landmarks import CHIN, LOWER_INNER_LIP, LOWER_LIDS, NOSE_TIP, UPPER_INNER_LIP, UPPER_LIDS


def test_lips_and_lids_meet_instead_of_passing_through_each_other() -> None:
    model = LandmarkModel.default()
    face = torch.as_tensor(model.shape())
    down = face[CHIN] - face[NOSE_TIP]
    down = down / down.norm()
    upper, lower = [*UPPER_INNER_LIP, *UPPER_LIDS], [*LOWER_INNER_LIP, *LOWER_LIDS]
    motion = torch.zeros(2, *face.shape)
    motion[0, upper] += 0.2 * down  # frame 0: upper lip and lids pushed far past the lower ones
    motion[1, lower] += 0.01 * down  # frame 1: opened a little: nothing to correct
    fixed = close_openings(face, motion)
    posed = face[None] + fixed
    gaps = ((posed[:, lower] - posed[:, upper]) * down).sum(-1)
    assert torch.all(gaps[0].abs() < 1e-5)  # they meet
    assert torch.equal(fixed[1], motion[1])
    # Only the paired points move, along the face's vertical, and each pair keeps its midpoint.
    others = np.setdiff1d(np.arange(face.shape[0]), upper + lower)
    assert torch.equal(fixed[0, others], motion[0, others])
    before = (face[None] + motion)[0, upper] + (face[None] + motion)[0, lower]
    assert torch.allclose(posed[0, upper] + posed[0, lower], before, atol=1e-6)


def test_the_photos_face_is_moved_onto_the_fitted_model() -> None:
    """The tracker sees the photo's face with its pose; the fitted model's head is seen by the fitted camera.
    Moved into the model's frame, the face projects through the fitted camera exactly where the tracker put
    it in the photo; the expression basis turns with it (a change moves the same vertices the same way, as
    the fitted camera sees them). Without a tracked pose (older codes files) the face is left as it is."""
    from model.camera import Camera, orbit_cam_to_world
    from model.photo_warp import project
    from reenact.photo import PhotoTarget

    model = LandmarkModel.default()
    face = model.shape().astype(np.float32)
    basis = np.asarray(model.expression_basis, np.float32)
    tracked = orbit_cam_to_world(0.1, -0.05).astype(np.float32)
    fitted = orbit_cam_to_world(0.16, 0.02, 0.09).astype(np.float32)  # a few degrees off, with roll
    fitted[:3, 3] += [0.03, -0.02, 0.05]
    target = PhotoTarget(np.zeros((4, 4, 3), np.uint8), face, basis, tracked)
    moved, turned = target.in_model_frame(fitted)

    def seen(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
        return project(torch.as_tensor(points[None]), Camera.from_numpy(pose[None]))[0][0].numpy()

    assert np.abs(seen(moved, fitted) - seen(face, tracked)).max() < 1e-5
    assert np.abs(seen(face, fitted) - seen(face, tracked)).max() > 0.01  # the offset it removes
    change = 3.0 * basis[0]
    assert np.abs(seen(moved + 3.0 * turned[0], fitted) - seen(face + change, tracked)).max() < 1e-5
    unmoved = PhotoTarget(target.image, face, basis).in_model_frame(fitted)
    assert np.array_equal(unmoved[0], face) and np.array_equal(unmoved[1], basis)
