import numpy as np
import torch

from model.camera import Camera, frontal_cam_to_world, orbit_cam_to_world
from model.config import preset
from model.head_model import HeadModel


def _camera(batch=2):
    poses = [frontal_cam_to_world(), orbit_cam_to_world(0.4, -0.1)]
    return Camera(torch.from_numpy(np.stack(poses[:batch])).float())


def test_render_shapes_dtypes_range():
    config = preset("tiny")
    torch.manual_seed(0)
    model = HeadModel(config)
    out = model(_camera(), torch.zeros(2, 46), torch.randn(2, 128))
    n, m = config.renderer.feature_size, config.renderer.output_size
    assert out.image.shape == (2, 3, m, m) and out.feature_map.shape == (2, config.field.feature_dim, n, n)
    assert out.opacity.shape == (2, 1, n, n)
    assert out.image.dtype == out.feature_map.dtype == torch.float32
    assert (out.image >= 0).all() and (out.image <= 1).all()
    assert (out.opacity >= 0).all() and (out.opacity <= 1 + 1e-5).all()


def test_chunking_and_determinism():
    torch.manual_seed(0)
    model = HeadModel(preset("tiny")).eval()
    args = (_camera(), torch.zeros(2, 46), torch.randn(2, 128))
    with torch.no_grad():
        a = model(*args, None, 4096)
        b = model(*args, None, 7)
    assert torch.allclose(a.image, b.image, atol=1e-6)
    with torch.no_grad():
        j1 = model(*args, torch.Generator().manual_seed(3))
        j2 = model(*args, torch.Generator().manual_seed(3))
    assert torch.equal(j1.image, j2.image)


def test_gradients_reach_codes():
    config = preset("tiny")
    model = HeadModel(config)
    expression = torch.zeros(1, 46, requires_grad=True)
    identity = torch.randn(1, 128, requires_grad=True)
    model(_camera(1), expression, identity).image.mean().backward()
    assert expression.grad.abs().sum() > 0 and identity.grad.abs().sum() > 0
