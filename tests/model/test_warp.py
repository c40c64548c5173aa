import dataclasses

import numpy as np
import pytest
import torch

from model.config import preset
from model.field import HeadField
from model.warp import NUM_LANDMARKS, ExpressionWarp


def _spread_warp(radius=0.05, expression_dim=4):
    """Landmarks on a grid 1 head unit apart (≫ radius), so each point feels one landmark at most."""
    grid = np.stack(np.meshgrid(np.arange(9), np.arange(9), np.arange(6), indexing="ij"), -1).reshape(-1, 3)[
        :NUM_LANDMARKS
    ]
    mean = grid.astype(np.float32)
    basis = np.zeros((expression_dim, NUM_LANDMARKS, 3), np.float32)
    basis[0, 10] = (0.02, -0.01, 0.0)  # landmark 10 moves with β_0
    basis[1, 10] = (0.0, 0.0, 0.03)  # and with β_1
    warp = ExpressionWarp(expression_dim, radius)
    warp.set_shape(mean, basis)
    return warp, mean, basis


def test_zero_expression_is_the_identity():
    warp, mean, _ = _spread_warp()
    points = torch.randn(2, 50, 3)
    assert torch.allclose(warp(points, torch.zeros(2, 4)), points, atol=1e-6)


def test_a_moved_landmark_maps_back_to_its_neutral_place():
    warp, mean, basis = _spread_warp()
    beta = torch.tensor([[1.5, -0.5, 0.0, 0.0]])
    moved = mean[10] + 1.5 * basis[0, 10] - 0.5 * basis[1, 10]  # where the expression put landmark 10
    out = warp(torch.tensor(moved)[None, None], beta)
    assert torch.allclose(out[0, 0], torch.tensor(mean[10]), atol=1e-6)
    # A point between landmarks (farther than ~2 radii from every one) does not move.
    far = torch.tensor(mean[10] + 0.5)[None, None]
    assert torch.allclose(warp(far, beta), far, atol=1e-6)
    # Beside the moved landmark the motion fades with a Gaussian of the radius: one radius away, by exp(-1/2).
    beside = torch.tensor(moved + np.array([0.05, 0.0, 0.0], np.float32))[None, None]
    expected = torch.tensor(1.5 * basis[0, 10] - 0.5 * basis[1, 10]) * np.exp(-0.5)
    assert torch.allclose(
        beside - warp(beside, beta), expected, atol=1e-5
    )  # float32 |x|² expansion: ~3e-4 relative


def test_components_beyond_the_basis_stay_zero_and_gradients_reach_beta():
    warp, _, _ = _spread_warp(expression_dim=4)
    assert warp.is_set and not ExpressionWarp(4, 0.05).is_set
    beta = torch.zeros(1, 4, requires_grad=True)
    point = torch.tensor(_spread_warp()[1][10])[None, None]
    (grad,) = torch.autograd.grad(warp(point, beta).sum(), beta)
    assert (
        torch.isfinite(grad).all()
        and torch.count_nonzero(grad[0, :2]) == 2
        and torch.count_nonzero(grad[0, 2:]) == 0
    )
    with pytest.raises(ValueError):
        warp.set_shape(np.zeros((10, 3)), np.zeros((4, 10, 3)))
    with pytest.raises(ValueError):
        ExpressionWarp(4, 0.0)


def test_field_with_warp_keeps_density_blind_to_direction_and_stores_the_shape():
    from tracking.landmark_model import LandmarkModel

    config = dataclasses.replace(preset("tiny").field, warp_radius=0.08, expression_components=10)
    torch.manual_seed(0)
    field = HeadField(config)
    landmarks = LandmarkModel.default()
    field.warp.set_shape(landmarks.mean, landmarks.expression_basis)
    assert {"warp.anchors", "warp.basis"} <= set(field.state_dict())
    points = torch.tensor(landmarks.mean[None, :, None, :])  # every landmark, one sample each
    directions = torch.nn.functional.normalize(torch.randn(1, NUM_LANDMARKS, 3), dim=-1).requires_grad_(True)
    expression, identity = torch.zeros(1, 46), torch.randn(1, 128)
    expression[0, 0] = 2.0
    out = field(points, directions, expression, identity)
    (grad,) = torch.autograd.grad(out.density.sum(), directions, allow_unused=True)
    assert grad is None or torch.count_nonzero(grad) == 0
    # The warp sees the masked code: hidden trailing components move nothing.
    trailing = expression.clone()
    trailing[0, 20] = 5.0
    assert torch.equal(field.density_only(points, trailing, identity), out.density)
    # With the MLP's expression weights zeroed, β still changes σ — through where the points land.
    with torch.no_grad():
        for layer in field.trunk:
            if hasattr(layer, "code"):  # the layers that take β ⊕ proj(z_id)
                layer.code.weight[:, :46] = 0.0
    base = field.density_only(points, torch.zeros(1, 46), identity)
    assert not torch.allclose(field.density_only(points, expression, identity), base)
    without = HeadField(dataclasses.replace(config, warp_radius=0.0))
    without.load_state_dict({k: v for k, v in field.state_dict().items() if not k.startswith("warp.")})
    assert torch.equal(without.density_only(points, expression, identity), base)


def test_warp_stays_float32_under_autocast():
    warp, mean, basis = _spread_warp()
    points = torch.tensor(mean[:20])[None] + 0.01
    beta = torch.tensor([[1.0, 2.0, 0.0, 0.0]])
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the engine renders under float16 autocast on CUDA
        low = warp(points, beta)
    assert low.dtype == torch.float32 and torch.equal(low, warp(points, beta))


def test_gradient_flows_through_the_landmark_motion_only():
    """The weights carry no graph (they are the warp's cost); β's gradient is that of x − W·(Bβ) with W
    held."""
    from tracking.landmark_model import LandmarkModel

    landmarks = LandmarkModel.default()
    warp = ExpressionWarp(46, 0.1)
    warp.set_shape(landmarks.mean, landmarks.expression_basis)
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(2, 300, 3, generator=generator, dtype=torch.float64).float() * 0.6
    beta = torch.randn(2, 46, generator=generator).requires_grad_(True)
    out = warp(points, beta)
    (grad,) = torch.autograd.grad(out.sum(), beta)
    # By hand: W from the formula at the moved landmarks, normalized by max(Σ W, 1).
    basis = torch.as_tensor(landmarks.expression_basis)
    moved = torch.as_tensor(landmarks.mean)[None] + torch.einsum("be,ejc->bjc", beta.detach(), basis)
    weights = torch.exp(-((points[:, :, None] - moved[:, None]) ** 2).sum(-1) / (2 * 0.1**2))
    weights = weights / weights.sum(-1, keepdim=True).clamp_min(1.0)
    assert torch.allclose(
        out, points - weights @ torch.einsum("be,ejc->bjc", beta.detach(), basis), atol=1e-5
    )
    expected = -torch.einsum("bpj,ejc->be", weights, basis)
    assert torch.allclose(grad, expected, rtol=1e-4, atol=1e-5)
    assert (out - points).abs().max() > 1e-3  # the points near the face did move


def _dense_displacement(warp: ExpressionWarp, points: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """The warp's formula over every landmark, no cutoff (float64)."""
    motion = torch.einsum("be,ejc->bjc", beta.double(), warp.basis.double())
    moved = warp.anchors.double() + motion
    weights = torch.exp(-0.5 * torch.cdist(points.double(), moved).square() / warp.radius**2)
    weights = weights / weights.sum(-1, keepdim=True).clamp_min(1.0)
    return weights @ motion


def test_the_cutoff_drops_only_points_too_far_to_move():
    """Only points within the cutoff of a moved landmark are weighed: the result is the dense formula's on
    points near the face, far from it, and with a motion larger than the distance grid's margin."""
    from tracking.landmark_model import LandmarkModel

    landmarks = LandmarkModel.default()
    warp = ExpressionWarp(8, 0.1)
    warp.set_shape(landmarks.mean, landmarks.expression_basis)
    torch.manual_seed(0)
    near = torch.tensor(landmarks.mean)[None] + 0.1 * torch.randn(2, NUM_LANDMARKS, 3)
    points = torch.cat([near, 1.5 * torch.randn(2, 2000, 3)], dim=1)
    for scale in (1.0, 40.0):  # 40: landmarks move farther than the grid's margin (no cutoff then)
        beta = scale * torch.randn(2, 8)
        found = warp.displacement(points, beta).double()
        expected = _dense_displacement(warp, points, beta)
        assert torch.allclose(found, expected, atol=1e-5)
    assert (found.norm(dim=-1) > 1e-3).float().mean() > 0.1  # the comparison is not between zeros
    # Points the grid drops did not move (exactly), and most far points are dropped.
    beta = torch.randn(2, 8)
    far = warp.displacement(points[:, NUM_LANDMARKS:], beta)
    assert (far.abs().sum(-1) == 0).float().mean() > 0.3
