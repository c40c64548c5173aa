"""Expression regions (mouth, eyes + brows) of an aligned crop, from the landmark model and the camera."""

from __future__ import annotations

import numpy as np

from model.camera import frontal_cam_to_world, project
from tracking.landmark_model import LandmarkModel
from tracking.regions import clip_regions, fill_convex, region_groups, region_map


def test_fill_convex_takes_pixel_centres_inside_the_hull():
    square = np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75], [0.5, 0.5]])
    filled = fill_convex(square, 4)  # pixel centres at 0.125, 0.375, 0.625, 0.875
    expected = np.zeros((4, 4), bool)
    expected[1:3, 1:3] = True
    assert np.array_equal(filled, expected)
    assert not fill_convex(np.array([[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]), 8).any()  # collinear: no area


def test_groups_are_mouth_and_both_eyes_with_brows():
    lips, right, left = region_groups()
    assert {13, 14, 61, 291} <= set(lips.tolist())  # inner lips and mouth corners
    assert {33, 133, 105} <= set(right.tolist()) and {263, 362, 334} <= set(left.tolist())
    assert not set(lips.tolist()) & (set(right.tolist()) | set(left.tolist()))


def test_frontal_mean_face_regions_cover_mouth_and_eyes_not_nose_or_forehead():
    model = LandmarkModel.default()
    size = 128
    points = project(model.shape(), frontal_cam_to_world())
    regions = region_map(points, size)

    def at(index: int) -> float:
        u, v = points[index]
        return float(regions[int(v * size), int(u * size)])

    mouth_centre = (points[13] + points[14]) / 2
    assert regions[int(mouth_centre[1] * size), int(mouth_centre[0] * size)] == 1.0
    assert at(159) == at(386) == at(105) == at(334) == 1.0  # both upper eyelids, both brows
    assert at(1) == 0.0 and at(10) == 0.0 and at(152) == 0.0  # nose tip, forehead, chin
    assert 0.02 < regions.mean() < 0.15


def test_clip_regions_follow_the_camera():
    model = LandmarkModel.default()
    pose = frontal_cam_to_world()
    shifted = pose.copy()
    shifted[0, 3] -= 0.3  # camera moves to the head's −x: the face moves right in the image
    maps = clip_regions(model, np.zeros(model.num_identity), np.zeros((2, model.num_expression)), np.stack([pose, shifted]), 64)
    assert maps.shape == (2, 64, 64) and maps.dtype == np.uint8 and set(np.unique(maps)) == {0, 255}
    columns = np.arange(64)
    centre = [float((m.sum(0) * columns).sum() / m.sum(0).sum()) for m in maps.astype(np.float64)]
    assert centre[1] > centre[0] + 3
