import pytest
import torch

from model.config import LossConfig
from model.losses import HeadLoss, LaplacianPyramidLoss, Vgg16Perceptual
from reenact.errors import MissingWeightsError


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
    shapes = [(64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256), (512, 256), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
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


def test_region_term_is_the_image_loss_again_inside_the_regions():
    g = torch.Generator().manual_seed(1)
    image, render = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    mask = torch.ones(2, 1, 16, 16)
    mask[..., :, :2] = 0  # the regions' part outside the head is never weighted
    regions = torch.zeros(2, 1, 16, 16)
    regions[..., 4:8, 0:6] = 1
    base = HeadLoss(LossConfig(perceptual="none"))(render, image, mask, None, regions)
    assert base.region is None  # weight 0: off
    terms = HeadLoss(LossConfig(perceptual="none", region_weight=0.5))(render, image, mask, None, regions)
    inside = (render - image)[..., 4:8, 2:6].abs()
    assert torch.isclose(terms.region, inside.mean(), atol=1e-6)
    assert torch.isclose(terms.total, base.total + 0.5 * inside.mean(), atol=1e-6)
    assert HeadLoss(LossConfig(perceptual="none", region_weight=0.5))(render, image, mask).region is None  # no map, no term

    perceptual = HeadLoss(LossConfig(region_weight=1.0))
    same = perceptual(image * mask, image, mask, None, regions)
    assert float(same.region) < 1e-7
    changed = image * mask
    changed[..., 5, 3] += 0.5  # one pixel inside a region
    outside = image * mask
    outside[..., 12, 12] += 0.5  # one pixel of the head outside the regions
    assert float(perceptual(changed, image, mask, None, regions).region) > 0
    assert float(perceptual(outside, image, mask, None, regions).region) < 1e-7


def test_motion_term_is_l1_of_the_change_between_paired_frames():
    from model.losses import motion_l1

    g = torch.Generator().manual_seed(0)
    target = torch.rand(4, 3, 8, 8, generator=g)
    mask = torch.ones(4, 1, 8, 8)
    # A render off by the same amount in both frames of a pair has the photos' change exactly: no motion error.
    offset = torch.rand(2, 3, 8, 8, generator=g)
    render = target + offset.repeat(2, 1, 1, 1)
    assert float(motion_l1(render, target, mask)) < 1e-6
    # A render that does not move while the photos do: the error is the photos' change.
    still = target[:2].repeat(2, 1, 1, 1)
    expected = (target[:2] - target[2:]).abs().mean()
    assert float(motion_l1(still, target, mask)) == pytest.approx(float(expected), rel=1e-5)
    # Only pixels inside either frame's mask count.
    half_mask = torch.zeros(4, 1, 8, 8)
    half_mask[:, :, :, :4] = 1
    expected = (target[:2] - target[2:])[..., :4].abs().mean()
    assert float(motion_l1(still, target, half_mask)) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="even"):
        motion_l1(render[:3], target[:3], mask[:3])


def test_motion_term_only_with_pairs_and_weight():
    image = torch.rand(2, 3, 16, 16)
    mask = torch.ones(2, 1, 16, 16)
    render = image[:1].repeat(2, 1, 1, 1)  # right on frame one, still on frame two
    loss = HeadLoss(LossConfig(perceptual="none", motion_weight=2.0))
    paired = loss(render, image, mask, pairs=True)
    assert paired.motion is not None and float(paired.motion) > 0.01
    assert float(paired.total) == pytest.approx(float(paired.l1) + 2.0 * float(paired.motion), rel=1e-5)
    assert loss(render, image, mask).motion is None  # a fit's single images are never paired
    assert HeadLoss(LossConfig(perceptual="none")).forward(render, image, mask, pairs=True).motion is None
