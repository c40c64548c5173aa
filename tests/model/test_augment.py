import math

import numpy as np
import torch

from model.augment import roll_cameras, roll_images
from model.camera import orbit_cam_to_world, project


def _blob(size: int, uv: np.ndarray, width: float = 1.5) -> torch.Tensor:
    """(1, 1, size, size) Gaussian spot centred at crop-normalized ``uv`` (pixel centres at (j +
    0.5)/size)."""
    centres = (torch.arange(size) + 0.5) / size
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    sigma = width / size
    return torch.exp(-((x - uv[0]) ** 2 + (y - uv[1]) ** 2) / (2 * sigma**2))[None, None].double()


def _centroid(image: torch.Tensor) -> np.ndarray:
    size = image.shape[-1]
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    weights = image[0, 0] / image[0, 0].sum()
    return np.array([float((weights.sum(0) * centres).sum()), float((weights.sum(1) * centres).sum())])


def test_turned_photo_shows_the_point_where_the_rolled_camera_sees_it():
    # A head point imaged by a camera, and by the same camera rolled by 10°: the photo turned by
    # roll_images must put the point's spot exactly where project() puts it for the rolled camera.
    camera = orbit_cam_to_world(yaw=0.2, pitch=-0.1)
    point = np.array([[0.3, -0.25, -0.4]])
    angle = torch.tensor([math.radians(10.0)], dtype=torch.float64)
    rolled = roll_cameras(torch.from_numpy(camera)[None], angle)[0].numpy()
    before, after = project(point, camera)[0], project(point, rolled)[0]
    assert np.linalg.norm(after - before) > 0.02  # the roll really moves it (by ~4 px of 128)
    turned = roll_images(_blob(128, before), angle, "zeros")
    assert np.abs(_centroid(turned) - after).max() < 0.5 / 128
    # The camera's centre stays; only its orientation turns, about its own viewing axis.
    assert np.allclose(rolled[:3, 3], camera[:3, 3]) and np.allclose(rolled[:3, 2], camera[:3, 2])


def test_roll_of_cameras_and_photos_by_given_angles():
    images, masks = torch.rand(3, 3, 16, 16), torch.ones(3, 1, 16, 16)
    cameras = torch.from_numpy(np.stack([orbit_cam_to_world(0.1 * i) for i in range(3)])).float()
    zero = torch.zeros(3)
    assert torch.allclose(roll_images(images, zero, "border"), images, atol=1e-6)
    assert torch.allclose(roll_cameras(cameras, zero), cameras)
    angles = torch.tensor([-0.1, 0.05, 0.12])
    rolled = roll_cameras(cameras, angles)
    assert not torch.allclose(rolled, cameras)
    # The turn between old and new camera x axes is each frame's angle.
    cos = ((rolled[:, :3, 0] * cameras[:, :3, 0]).sum(-1)).clamp(-1, 1)
    assert torch.allclose(torch.arccos(cos), angles.abs(), atol=1e-3)
    # A full mask stays full at the centre (only the corners can turn out of the crop).
    assert float(roll_images(masks, angles, "zeros")[:, 0, 8, 8].min()) > 0.99
