import math

import torch

from model.encoding import encoded_dim, positional_encoding


def test_shape_and_values():
    values = torch.tensor([[0.25, -0.5, 1.0]])
    encoded = positional_encoding(values, 2)
    assert encoded.shape == (1, encoded_dim(3, 2)) == (1, 15)
    assert torch.equal(encoded[0, :3], values[0])
    assert torch.allclose(encoded[0, 3:6], torch.sin(math.pi * values[0]))
    assert torch.allclose(encoded[0, 6:9], torch.cos(math.pi * values[0]))
    assert torch.allclose(encoded[0, 9:12], torch.sin(2 * math.pi * values[0]), atol=1e-6)
    assert positional_encoding(values.double(), 3).dtype == torch.float64
