import numpy as np
import torch

from model.camera import frontal_cam_to_world, project
from model.expression_views import expression_views, landmark_motion, random_expression_changes, warp_grid
from tracking.landmark_model import LandmarkModel


def _face():
    mesh = LandmarkModel.default().face_mesh()
    return (
        torch.from_numpy(mesh.mean),
        mesh.expression_basis,
        torch.from_numpy(frontal_cam_to_world()).float(),
    )


def test_no_motion_is_the_identity_at_pixel_centres():
    landmarks, _, camera = _face()
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 32, 32, generator=generator)
    mask = torch.rand(1, 1, 32, 32, generator=generator)
    images, masks = expression_views(image, mask, landmarks, torch.zeros(2, len(landmarks), 3), camera)
    assert images.shape == (2, 3, 32, 32) and masks.shape == (2, 1, 32, 32)
    assert torch.allclose(images, image.expand(2, -1, -1, -1), atol=1e-5)
    assert torch.allclose(masks, mask.expand(2, -1, -1, -1), atol=1e-5)


def test_face_content_moves_with_its_landmarks_and_the_background_stays():
    landmarks, _, camera = _face()
    size = 64
    before = torch.from_numpy(project(landmarks.double().numpy(), camera.double().numpy())).float()
    # A bright dot on the nose tip's landmark (index 1 of the MediaPipe mesh), a bright corner far from the
    # face.
    u, v = before[1]
    centres = (torch.arange(size) + 0.5) / size
    grid_v, grid_u = torch.meshgrid(centres, centres, indexing="ij")
    dot = torch.exp(-((grid_u - u) ** 2 + (grid_v - v) ** 2) / (2 * 0.02**2))
    image = dot.expand(1, 3, -1, -1).clone()
    image[..., :4, :4] = 1.0
    # Every landmark moves 0.05 head units to the right (+x): the dot must follow by its projection.
    motion = torch.zeros(1, len(landmarks), 3)
    motion[..., 0] = 0.05
    moved, _ = expression_views(image, torch.ones(1, 1, size, size), landmarks, motion, camera)
    after = torch.from_numpy(
        project((landmarks + motion[0]).double().numpy(), camera.double().numpy())
    ).float()
    weight = (moved[0, 0] * (moved[0, 0] > 0.2))[4:, 4:]  # the dot, not the corner
    centroid_u = float((weight * grid_u[4:, 4:]).sum() / weight.sum())
    centroid_v = float((weight * grid_v[4:, 4:]).sum() / weight.sum())
    shift = float(after[1, 0] - before[1, 0])
    assert shift > 0.015  # ~1 px of the 64² crop at least, so the check below means something
    assert abs(centroid_u - (float(u) + shift)) < 0.15 * shift, (centroid_u, float(u), shift)
    assert abs(centroid_v - float(v)) < 0.01
    assert torch.allclose(
        moved[..., :4, :4], image[..., :4, :4]
    )  # the corner is beyond every landmark's reach


def test_warp_grid_follows_a_single_landmark_pair():
    before = torch.tensor([[0.5, 0.5]])
    after = torch.tensor([[[0.55, 0.5]]])
    grid = warp_grid(before, after, 20, radius=0.02)
    # The pixel at the moved landmark samples where the landmark was; far pixels sample themselves.
    centre = grid[0, 10, 11]  # pixel centre (11.5/20, 10.5/20) = (0.575, 0.525): near the moved point
    assert centre[0] < (0.575 * 2 - 1)
    assert torch.allclose(grid[0, 0, 0], torch.tensor([0.5 / 20 * 2 - 1, 0.5 / 20 * 2 - 1]), atol=1e-6)


def test_random_changes_are_reproducible_and_scaled():
    a, b = random_expression_changes(4000, 10, 0.5), random_expression_changes(4000, 10, 0.5)
    assert torch.equal(a, b) and a.shape == (4000, 10)
    assert abs(float(a.std()) - 0.5) < 0.02
    _, basis, _ = _face()
    motion = landmark_motion(torch.eye(3, 10), basis)
    assert motion.shape == (3, basis.shape[1], 3)
    assert np.allclose(motion.numpy(), basis[:3], atol=1e-6)
