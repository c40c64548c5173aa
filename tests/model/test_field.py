import torch

from model.config import preset
from model.field import HeadField


def _inputs(batch=2, rays=5, samples=7, generator_seed=0):
    g = torch.Generator().manual_seed(generator_seed)
    points = torch.randn(batch, rays, samples, 3, generator=g)
    directions = torch.nn.functional.normalize(torch.randn(batch, rays, 3, generator=g), dim=-1)
    return points, directions, torch.randn(batch, 46, generator=g), torch.randn(batch, 128, generator=g)


def test_shapes_and_dtypes():
    config = preset("tiny").field
    field = HeadField(config)
    points, directions, expression, identity = _inputs()
    out = field(points, directions, expression, identity)
    assert out.density.shape == (2, 5, 7, 1) and out.features.shape == (2, 5, 7, config.feature_dim)
    assert out.density.dtype == torch.float32 and (out.density >= 0).all()
    assert torch.equal(field.density_only(points, expression, identity), out.density)


def test_density_independent_of_direction():
    torch.manual_seed(0)
    field = HeadField(preset("tiny").field)
    points, directions, expression, identity = _inputs()
    directions.requires_grad_(True)
    out = field(points, directions, expression, identity)
    (grad,) = torch.autograd.grad(out.density.sum(), directions, allow_unused=True)
    assert grad is None or torch.count_nonzero(grad) == 0
    (feature_grad,) = torch.autograd.grad(out.features.sum(), directions)
    assert torch.count_nonzero(feature_grad) > 0  # the features do see d
    other = torch.nn.functional.normalize(torch.randn_like(directions), dim=-1)
    out_other = field(points, other, expression, identity)
    assert torch.equal(out.density, out_other.density)
    assert not torch.equal(out.features, out_other.features)


def test_codes_condition_density():
    field = HeadField(preset("tiny").field)
    points, directions, expression, identity = _inputs()
    a = field.density_only(points, expression, identity)
    b = field.density_only(points, expression + 1.0, identity)
    c = field.density_only(points, expression, identity + 1.0)
    assert not torch.equal(a, b) and not torch.equal(a, c)


def test_skip_layer_matches_concatenation():
    """Split first layer == one linear layer on γ(x) ⊕ β ⊕ proj(z_id)."""
    config = preset("cpu").field
    field = HeadField(config)
    points, directions, expression, identity = _inputs(1, 2, 3)
    from model.camera import HEAD_RADIUS
    from model.encoding import positional_encoding

    encoded = positional_encoding(points.reshape(1, 6, 3) / HEAD_RADIUS, config.pos_freqs)
    codes = torch.cat([expression, field.identity_projection(identity)], -1)
    layer = field.trunk[0]
    weight = torch.cat([layer.point.weight, layer.code.weight], dim=1)
    joined = torch.cat([encoded, codes[:, None].expand(1, 6, -1)], -1) @ weight.T + layer.point.bias
    assert torch.allclose(layer(encoded, codes), joined, atol=1e-5)


def test_expression_components_hide_the_trailing_codes():
    import dataclasses

    config = dataclasses.replace(preset("tiny").field, expression_components=10)
    torch.manual_seed(0)
    field = HeadField(config)
    points, directions, expression, identity = _inputs()
    base = field(points, directions, expression, identity)
    trailing = expression.clone()
    trailing[:, 10:] += 3.0
    assert torch.equal(field(points, directions, trailing, identity).features, base.features)
    leading = expression.clone()
    leading[:, 9] += 3.0
    assert not torch.equal(field(points, directions, leading, identity).features, base.features)
    # The mask is derived from the config, not stored: the state dict is the same as with every component.
    assert set(field.state_dict()) == set(HeadField(preset("tiny").field).state_dict())
    # The code's gradient is zero on the hidden part, so a fit leaves it where it started.
    trailing.requires_grad_(True)
    (grad,) = torch.autograd.grad(field(points, directions, trailing, identity).features.sum(), trailing)
    assert torch.count_nonzero(grad[:, 10:]) == 0 and torch.count_nonzero(grad[:, :10]) > 0
