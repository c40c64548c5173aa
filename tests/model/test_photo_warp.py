"""model/photo_warp.py: the driven pixel → target photo correspondence on tiny models."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from model.camera import Camera, frontal_cam_to_world, orbit_cam_to_world
from model.config import SamplerConfig, preset
from model.head_model import HeadModel
from model.photo_warp import PhotoWarpConfig, correspond, from_canonical, project, target_depth, to_canonical

GRID = 16


def _camera(*poses: np.ndarray) -> Camera:
    return Camera(torch.from_numpy(np.stack(poses)).float())


def _centres(n: int) -> torch.Tensor:
    """(n, n, 2) crop-normalised (u, v) of the grid's pixel centres."""
    c = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    v, u = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([u, v], dim=-1)


class BumpWarp(nn.Module):
    """A smooth, non-rigid test warp: x ↦ x − D(x, β), D = 0.1 β_0 (sin 2y, cos 2x, 0); identity at β = 0."""

    def forward(self, points: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        x, y = points[..., 0], points[..., 1]
        shift = torch.stack([torch.sin(2 * y), torch.cos(2 * x), torch.zeros_like(x)], dim=-1)
        return points - 0.1 * expression[:, None, :1] * shift


@dataclass
class BallOutput:
    """What ``HeadModel`` reads of a field's output (the test needs nothing else of model.field)."""

    density: torch.Tensor
    features: torch.Tensor


class SphereField(nn.Module):
    """A solid ball of radius 0.8 about the origin (seen through an optional warp): known geometry."""

    def __init__(self, feature_dim: int, warp: nn.Module | None = None) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.warp = warp

    def forward(self, points, directions, expression, identity, face=None) -> BallOutput:  # noqa: ANN001 - HeadField's
        batch, rays, samples, _ = points.shape
        flat = points.reshape(batch, -1, 3)
        if self.warp is not None:
            flat = self.warp(flat, expression)
        density = 200.0 * torch.sigmoid((0.8 - flat.norm(dim=-1)) * 200.0)
        return BallOutput(
            density=density.reshape(batch, rays, samples, 1),
            features=torch.zeros(batch, rays, samples, self.feature_dim),
        )


@pytest.fixture
def tiny_model() -> HeadModel:
    torch.manual_seed(0)
    return HeadModel(preset("tiny")).eval()


@pytest.fixture
def sphere_model() -> HeadModel:
    config = preset("tiny")
    sampler = SamplerConfig(coarse_samples=48, fine_samples=48)  # fine enough for the depth of a hard ball
    model = HeadModel(dataclasses.replace(config, sampler=sampler)).eval()
    model.field = SphereField(model.config.field.feature_dim)
    return model


def _codes(model: HeadModel, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    dims = model.config.field
    return torch.zeros(batch, dims.expression_dim), torch.randn(1, dims.identity_dim)


def test_same_camera_and_expression_map_each_pixel_to_itself(tiny_model: HeadModel) -> None:
    expression, identity = _codes(tiny_model)
    camera = _camera(orbit_cam_to_world(0.2, -0.1))
    config = PhotoWarpConfig(size=GRID)
    target = target_depth(tiny_model, camera, expression, identity, config)
    result = correspond(tiny_model, target, camera, expression, config)
    assert result.coords.shape == (1, GRID, GRID, 2) and result.visible.shape == (1, GRID, GRID)
    assert result.opacity.shape == (1, GRID, GRID)
    own = _centres(GRID)[None]
    error = (result.coords - own).norm(dim=-1)
    assert error[result.visible].max() < 1e-3
    opaque = result.opacity > 0.5
    assert opaque.sum() > 20 and result.visible[opaque].float().mean() > 0.95


def test_rolled_camera_rotates_the_mapping_about_the_centre(tiny_model: HeadModel) -> None:
    expression, identity = _codes(tiny_model)
    roll = 0.15
    config = PhotoWarpConfig(size=GRID, depth_tolerance=0.1)
    target = target_depth(tiny_model, _camera(frontal_cam_to_world()), expression, identity, config)
    result = correspond(tiny_model, target, _camera(orbit_cam_to_world(0.0, 0.0, roll)), expression, config)
    # A roll about the optical axis moves every point's image by the same rotation, whatever its depth:
    # p_0 − c = Rz(roll) (p_j − c).
    rel = _centres(GRID) - 0.5
    c, s = math.cos(roll), math.sin(roll)
    x, y = rel[..., 0], rel[..., 1]
    expected = torch.stack([c * x - s * y, s * x + c * y], dim=-1) + 0.5
    opaque = result.opacity[0] > 0.5
    assert opaque.sum() > 20
    assert (result.coords[0] - expected).norm(dim=-1)[opaque].max() < 1e-3
    assert result.visible[0][opaque].float().mean() > 0.8


def test_camera_moved_sideways_shifts_the_mapping(sphere_model: HeadModel) -> None:
    expression, identity = _codes(sphere_model)
    config = PhotoWarpConfig(size=32)
    target = target_depth(sphere_model, _camera(frontal_cam_to_world()), expression, identity, config)
    moved = frontal_cam_to_world()
    moved[0, 3] = 0.3  # camera 0.3 units to +x: the head appears to the left, so its pixels map to the right
    result = correspond(sphere_model, target, _camera(moved), expression, config)
    shift = result.coords[0] - _centres(32)
    head_at = torch.tensor([0.5 - 2 * 0.3 / 5.2, 0.5])  # where the ball's centre appears
    central = (result.opacity[0] > 0.99) & ((_centres(32) - head_at).norm(dim=-1) < 0.1)
    assert central.sum() > 10
    # A surface point at camera depth z moves by fx·0.3/z in u: the ball's front is 4.4–4.5 units away.
    du = shift[..., 0][central]
    assert torch.all((du > 2 * 0.3 / 4.7) & (du < 2 * 0.3 / 4.3))
    assert shift[..., 1][central].abs().max() < 0.01
    assert result.visible[0][central].all()


@pytest.mark.parametrize("neighbourhood", [1, 3])
def test_turned_camera_hides_the_side_the_photo_does_not_see(
    sphere_model: HeadModel, neighbourhood: int
) -> None:
    expression, identity = _codes(sphere_model)
    config = PhotoWarpConfig(size=32, neighbourhood=neighbourhood)
    target = target_depth(sphere_model, _camera(frontal_cam_to_world()), expression, identity, config)
    result = correspond(sphere_model, target, _camera(orbit_cam_to_world(1.0)), expression, config)
    opaque = result.opacity[0] > 0.99
    visible, coords = result.visible[0], result.coords[0]
    # Swung 57° toward −x, the camera sees the ball's −x side, beyond the photo's left rim (u ≈ 0.19); the
    # points just behind the rim project onto its edge pixels and count as seen (measured: 13 % hidden).
    assert 0.08 < 1.0 - visible[opaque].float().mean() < 0.5
    assert coords[opaque & ~visible][:, 0].mean() < coords[opaque & visible][:, 0].mean() - 0.05
    assert result.depth_gap[0][opaque & ~visible].min() > config.depth_tolerance


def test_rays_that_hit_nothing_map_to_themselves(sphere_model: HeadModel) -> None:
    expression, identity = _codes(sphere_model)
    config = PhotoWarpConfig(size=16)
    target = target_depth(sphere_model, _camera(frontal_cam_to_world()), expression, identity, config)
    result = correspond(sphere_model, target, _camera(orbit_cam_to_world(0.3)), expression, config)
    empty = result.opacity[0] < config.min_opacity
    assert empty.sum() > 10
    assert torch.equal(result.coords[0][empty], _centres(16)[empty]) and result.visible[0][empty].all()


def test_inverse_warp_undoes_the_warp(sphere_model: HeadModel) -> None:
    sphere_model.field.warp = BumpWarp()
    points = torch.rand(2, 50, 3) * 1.6 - 0.8
    beta = torch.zeros(2, sphere_model.config.field.expression_dim)
    beta[:, 0] = torch.tensor([1.0, -0.7])
    canonical = to_canonical(sphere_model, points, beta)
    assert (canonical - points).abs().max() > 0.05
    posed, residual = from_canonical(sphere_model, canonical, beta, iterations=8)
    assert (posed - points).abs().max() < 1e-3 and residual.max() < 1e-3


def test_expression_change_maps_through_the_warp(sphere_model: HeadModel) -> None:
    sphere_model.field.warp = BumpWarp()
    dim = sphere_model.config.field.expression_dim
    beta_0, beta_j = torch.zeros(1, dim), torch.zeros(1, dim)
    beta_j[0, 0] = 1.0
    _, identity = _codes(sphere_model)
    camera = _camera(frontal_cam_to_world())
    config = PhotoWarpConfig(size=24, iterations=8)
    target = target_depth(sphere_model, camera, beta_0, identity, config)
    same = correspond(sphere_model, target, camera, beta_j.clone().zero_(), config)
    driven = correspond(sphere_model, target, camera, beta_j, config)
    opaque = (driven.opacity[0] > 0.99) & (same.opacity[0] > 0.99)
    moved = (driven.coords[0] - same.coords[0]).norm(dim=-1)[opaque]
    assert moved.mean() > 0.005  # the expression moves the surface, and the mapping follows
    assert driven.residual.max() < 1e-3


def test_project_matches_generated_rays() -> None:
    camera = _camera(orbit_cam_to_world(0.3, 0.1, 0.05))
    from model.ray_sampling import generate_rays

    rays = generate_rays(camera, 8, 8)
    points = rays.origins + 3.0 * rays.directions
    uv, distance = project(points, camera)
    assert torch.allclose(uv[0], _centres(8).reshape(-1, 2), atol=1e-5)
    assert torch.allclose(distance, torch.full_like(distance, 3.0), atol=1e-5)


def test_correspondence_at_points_equals_the_grid_at_its_cell_centres(sphere_model: HeadModel) -> None:
    """``correspond_at`` (the fine patches over eyes and mouth) is the grid's correspondence, read anywhere:
    at the grid's own cell centres both agree; between them it is the same mapping, not an interpolation."""
    from model.photo_warp import correspond_at, grid_depth

    sphere_model.field.warp = BumpWarp()
    dim = sphere_model.config.field.expression_dim
    beta_0, beta_j = torch.zeros(1, dim), torch.zeros(1, dim)
    beta_j[0, 0] = 1.0
    _, identity = _codes(sphere_model)
    camera = _camera(orbit_cam_to_world(0.15, 0.05))
    config = PhotoWarpConfig(size=16, iterations=8)
    target = target_depth(sphere_model, camera, beta_0, identity, config)
    _, depth, opacity = grid_depth(sphere_model, camera, beta_j, identity, 16)
    depth, opacity = depth.reshape(1, 16, 16), opacity.reshape(1, 16, 16)
    grid = correspond(sphere_model, target, camera, beta_j, config, driven=(depth, opacity))
    centres = _centres(16).reshape(1, -1, 2)
    at, visible = correspond_at(sphere_model, target, camera, beta_j, centres, (depth, opacity), config)
    assert torch.allclose(at, grid.coords.reshape(1, -1, 2), atol=1e-4)
    assert torch.equal(visible, grid.visible.reshape(1, -1))
    # Halfway between cells: the mapping of that point (a ray through it), near its neighbours' mean.
    between = (centres[:, :-1] + centres[:, 1:]) / 2
    middle, _ = correspond_at(sphere_model, target, camera, beta_j, between, (depth, opacity), config)
    neighbours = (grid.coords.reshape(1, -1, 2)[:, :-1] + grid.coords.reshape(1, -1, 2)[:, 1:]) / 2
    inside = (grid.opacity.reshape(1, -1)[:, :-1] > 0.99) & (grid.opacity.reshape(1, -1)[:, 1:] > 0.99)
    assert (middle - neighbours).norm(dim=-1)[inside].max() < 0.01
