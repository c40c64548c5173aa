import pytest
import torch

from model.config import LossConfig
from model.errors import MissingWeightsError
from model.losses import HeadLoss, LaplacianPyramidLoss, Vgg16Perceptual


@pytest.mark.parametrize("kind", ["laplacian", "random_conv", "none"])
def test_zero_at_target_positive_elsewhere(kind):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 32, 32, generator=g)
    mask = (torch.rand(2, 1, 32, 32, generator=g) > 0.3).float()
    loss = HeadLoss(LossConfig(perceptual=kind))
    same = loss(image * mask, image, mask, torch.nn.functional.adaptive_avg_pool2d(mask, 8))
    assert float(same.total) < 1e-6
    other = loss(torch.rand(2, 3, 32, 32, generator=g), image, mask)
    assert float(other.total) > 0.01 and float(other.l1) > 0.01


def test_background_weight_zero_ignores_background():
    image = torch.rand(1, 3, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    render = image * mask + (1 - mask) * 0.7
    loss = HeadLoss(LossConfig(perceptual="none", background_weight=0.0))
    assert float(loss(render, image, mask).l1) < 1e-7


def test_laplacian_sensitive_to_detail():
    smooth = torch.full((1, 3, 32, 32), 0.5)
    checker = smooth.clone()
    checker[..., ::2, ::2] += 0.1
    checker[..., 1::2, 1::2] -= 0.1  # same mean, only high frequencies differ
    assert float(LaplacianPyramidLoss()(smooth, checker)) > 0.01


def test_vgg16_missing_and_given_weights(tmp_path):
    with pytest.raises(MissingWeightsError):
        Vgg16Perceptual(str(tmp_path / "vgg16.pth"))
    with pytest.raises(MissingWeightsError):
        HeadLoss(LossConfig(perceptual="vgg16", vgg_path=""))
    # A torchvision-format state_dict (random values, with classifier keys that must be ignored).
    shapes = [
        (64, 3),
        (64, 64),
        (128, 64),
        (128, 128),
        (256, 128),
        (256, 256),
        (256, 256),
        (512, 256),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ]
    indices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    state = {}
    for index, (cout, cin) in zip(indices, shapes):
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3) * 0.01
        state[f"features.{index}.bias"] = torch.zeros(cout)
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    vgg = Vgg16Perceptual(str(path))
    x = torch.rand(1, 3, 32, 32)
    assert float(vgg(x, x)) == 0.0 and float(vgg(x, 1 - x)) > 0
    torch.save({"nope": torch.zeros(1)}, path)
    with pytest.raises(MissingWeightsError):
        Vgg16Perceptual(str(path))
