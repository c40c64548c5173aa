import math

import torch

from model.camera import FRONTAL_DISTANCE, HEAD_RADIUS, Camera, frontal_cam_to_world, orbit_cam_to_world
from model.ray_sampling import bin_edges, generate_rays, importance_samples, points_at, stratified_samples


def test_frontal_centre_ray_hits_origin():
    rays = generate_rays(Camera.from_numpy(frontal_cam_to_world()), 3, 3)
    assert (
        rays.origins.shape == (1, 9, 3)
        and rays.directions.shape == (1, 9, 3)
        and rays.near.shape == (1, 9, 1)
    )
    centre = 4  # pixel (1, 1) of a 3×3 image is the crop centre
    assert torch.allclose(rays.directions[0, centre], torch.tensor([0.0, 0.0, 1.0]))
    point = rays.origins[0, centre] + FRONTAL_DISTANCE * rays.directions[0, centre]
    assert torch.allclose(point, torch.zeros(3), atol=1e-6)
    assert math.isclose(float(rays.near[0, centre]), FRONTAL_DISTANCE - HEAD_RADIUS, rel_tol=1e-6)
    assert math.isclose(float(rays.far[0, centre]), FRONTAL_DISTANCE + HEAD_RADIUS, rel_tol=1e-6)
    assert torch.allclose(rays.directions.norm(dim=-1), torch.ones(1, 9))


def test_pixel_order_and_orientation():
    rays = generate_rays(Camera.from_numpy(frontal_cam_to_world()), 2, 4)
    d = rays.directions[0].reshape(2, 4, 3)
    assert (d[:, 1:, 0] > d[:, :-1, 0]).all()  # columns go +x (image right)
    assert (d[1, :, 1] > d[0, :, 1]).all()  # rows go +y (down)


def test_near_far_bracket_sphere_and_misses():
    camera = Camera(torch.from_numpy(orbit_cam_to_world(0.7, 0.2)).float())
    rays = generate_rays(camera, 16, 16)
    for t in (rays.near, rays.far):
        points = rays.origins + t * rays.directions
        hit = (rays.far > rays.near).squeeze(-1)
        assert torch.allclose(points[hit].norm(dim=-1), torch.full((int(hit.sum()),), HEAD_RADIUS), atol=1e-4)
    assert (rays.far >= rays.near).all()
    corner = generate_rays(
        Camera.from_numpy(
            frontal_cam_to_world(),
        ),
        64,
        64,
    )
    assert float(corner.far[0, 0] - corner.near[0, 0]) == 0.0  # crop corner ray misses the head sphere


def test_stratified_and_importance_samples():
    rays = generate_rays(Camera.from_numpy(frontal_cam_to_world()), 4, 4)
    mid = stratified_samples(rays, 8, None)
    edges = bin_edges(rays, 8)
    assert torch.allclose(mid, 0.5 * (edges[..., 1:] + edges[..., :-1]))
    g = torch.Generator().manual_seed(0)
    jittered = stratified_samples(rays, 8, g)
    assert ((jittered >= edges[..., :-1]) & (jittered <= edges[..., 1:])).all()
    weights = torch.zeros(1, 16, 8)
    weights[..., 5] = 1.0  # all mass in bin 5
    fine = importance_samples(edges, weights, 32, torch.Generator().manual_seed(1))
    inside = (fine >= edges[..., 5:6] - 1e-5) & (fine <= edges[..., 6:7] + 1e-5)
    assert inside.float().mean() > 0.95
    assert points_at(rays, fine).points.shape == (1, 16, 32, 3)
