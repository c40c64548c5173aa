"""Crop geometry and paste-back."""

from __future__ import annotations

import numpy as np

from tracking.crop import crop_affine, crop_image, from_crop, to_crop


def test_affine_and_points_agree():
    box = np.array([10.0, 20.0, 110.0, 120.0])
    points = np.array([[10.0, 20.0], [60.0, 70.0], [110.0, 120.0]])
    a = crop_affine(box, 50)
    assert np.allclose(points @ a[:, :2].T + a[:, 2], [[0, 0], [25, 25], [50, 50]])
    assert np.allclose(to_crop(points, box), [[0, 0], [0.5, 0.5], [1, 1]])
    assert np.allclose(from_crop(to_crop(points, box, 50), box, 50), points)


def test_crop_samples_the_right_pixels_and_pads_by_replication():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :, 0] = np.arange(200)[None, :]  # red = column index
    image[:, :, 1] = np.arange(100)[:, None]  # green = row index
    crop = crop_image(image, np.array([50.0, 10.0, 100.0, 60.0]), 50)  # 1:1 scale
    assert crop[0, 0, 0] == 50 and crop[0, 0, 1] == 10 and crop[-1, -1, 0] == 99 and crop[-1, -1, 1] == 59
    out = crop_image(image, np.array([-20.0, -20.0, 30.0, 30.0]), 50)
    assert out[0, 0, 0] == 0 and out[0, 0, 1] == 0  # replicated edge, not garbage
    down = crop_image(image, np.array([0.0, 0.0, 100.0, 100.0]), 50)  # 2:1 area filter
    assert abs(int(down[10, 10, 0]) - 21) <= 1
