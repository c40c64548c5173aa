import math

import torch

from model import volume_rendering as vr


def test_constant_density_known_opacity():
    near, far, sigma = torch.tensor([[2.0]]), torch.tensor([[3.5]]), 0.8
    t = torch.linspace(2.0, 3.5, 33)[None, 1:-1]
    deltas = vr.interval_lengths(t, near, far)
    assert math.isclose(float(deltas.sum()), 1.5, rel_tol=1e-6)
    w = vr.weights(vr.alphas(torch.full((1, 31, 1), sigma), deltas))
    assert math.isclose(float(vr.accumulated_opacity(w)), 1.0 - math.exp(-sigma * 1.5), rel_tol=1e-5)
    values = torch.full((1, 31, 4), 2.0)
    assert torch.allclose(vr.composite(w, values), 2.0 * vr.accumulated_opacity(w))


def test_weights_sum_at_most_one_and_transmittance():
    g = torch.Generator().manual_seed(0)
    density = torch.rand(3, 10, 20, 1, generator=g) * 50
    t = torch.sort(torch.rand(3, 10, 20, generator=g) * 2 + 1, dim=-1).values
    w = vr.weights(
        vr.alphas(density, vr.interval_lengths(t, torch.ones(3, 10, 1), torch.full((3, 10, 1), 3.0)))
    )
    assert (w >= 0).all() and (w.sum(-1) <= 1 + 1e-6).all()
    alpha = torch.tensor([0.5, 0.5, 1.0, 0.3])
    assert torch.allclose(vr.transmittance(alpha), torch.tensor([1.0, 0.5, 0.25, 0.0]), atol=1e-6)
    assert torch.allclose(vr.weights(alpha), torch.tensor([0.5, 0.25, 0.25, 0.0]), atol=1e-6)


def test_empty_ray_is_background():
    t = torch.full((1, 5), 4.0)
    near = far = torch.tensor([[4.0]])
    w = vr.weights(vr.alphas(torch.full((1, 5, 1), 100.0), vr.interval_lengths(t, near, far)))
    assert float(w.sum()) == 0.0
