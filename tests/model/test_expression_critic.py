"""The expression critic: it learns what it is shown, saves and loads, and enters the loss as documented."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from model.config import LossConfig, preset
from model.checkpoint import load_checkpoint
from model.data import FrameDataset
from model.expression_critic import (
    CriticTrainConfig, ExpressionCritic, _gaussian_blur, load_critic, save_critic, train_critic,
)
from model.losses import HeadLoss
from model.train import CRITIC_FILE, TrainConfig, train
from reenact.errors import CheckpointError
from tests.model.conftest import write_cache


def _mouths(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grey faces whose dark 'mouth' bar has a height given by code 0 (code 1 is noise the image does not show)."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.randn(count, 2, generator=g)
    images = torch.full((count, 3, 64, 64), 180, dtype=torch.uint8)
    for i, c in enumerate(codes[:, 0].tolist()):
        height = int(round(6 + 3 * max(min(c, 1.6), -1.6)))  # 1..11 px
        images[i, :, 40:40 + height, 22:42] = 40
    return images, torch.full((count, 1, 64, 64), 255, dtype=torch.uint8), codes


def test_critic_learns_a_visible_code_and_not_an_invisible_one():
    images, masks, codes = _mouths(256, 0)
    critic, history = train_critic(images, masks, codes, 2, CriticTrainConfig(steps=300, batch_size=32, max_blur_sigma=1.0))
    assert sum(history[-30:]) < sum(history[:30])
    test_images, _, test_codes = _mouths(64, 1)
    with torch.no_grad():
        read = critic(test_images.float() / 255.0)
    visible = torch.corrcoef(torch.stack([read[:, 0], test_codes[:, 0]]))[0, 1]
    invisible = torch.corrcoef(torch.stack([read[:, 1], test_codes[:, 1]]))[0, 1]
    assert visible > 0.9 and abs(invisible) < 0.4
    assert not any(p.requires_grad for p in critic.parameters()) and not critic.training


def test_blur_leaves_sharp_images_at_zero_sigma_and_keeps_flat_ones():
    x = torch.rand(2, 3, 16, 16)
    out = _gaussian_blur(x, torch.tensor([0.0, 1.5]))
    assert torch.allclose(out[0], x[0], atol=1e-5)
    assert out[1].std() < x[1].std()
    flat = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(_gaussian_blur(flat, torch.tensor([2.0])), flat, atol=1e-6)


def test_save_load_round_trip_and_bad_file(tmp_path):
    critic = ExpressionCritic(5).eval()
    save_critic(tmp_path / "c.pt", critic)
    loaded = load_critic(tmp_path / "c.pt")
    x = torch.rand(2, 3, 128, 128)
    assert torch.equal(critic(x), loaded(x))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_critic(tmp_path / "bad.pt")


def test_loss_term_is_the_critic_reading_difference_and_trains_only_the_render():
    torch.manual_seed(0)
    critic = ExpressionCritic(3).eval().requires_grad_(False)
    render = torch.rand(2, 3, 64, 64, requires_grad=True)
    image, mask = torch.rand(2, 3, 64, 64), (torch.rand(2, 1, 64, 64) > 0.3).float()
    base = LossConfig(perceptual="none", opacity_weight=0.0)
    plain = HeadLoss(base, critic)(render, image, mask)
    assert plain.expression is None  # weight 0: the critic is not used
    terms = HeadLoss(dataclasses.replace(base, expression_weight=0.5), critic)(render, image, mask)
    expected = (critic(render) - critic(image * mask)).abs().mean()
    assert torch.allclose(terms.expression, expected.detach())
    assert torch.allclose(terms.total, plain.total + 0.5 * expected)
    terms.total.backward()
    assert render.grad is not None and render.grad.abs().sum() > 0


def test_training_with_the_term_trains_the_critic_once_and_reuses_it(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "cache", clip_frames[:10])
    model_config = preset("tiny")
    model_config = dataclasses.replace(model_config, loss=dataclasses.replace(model_config.loss, expression_weight=0.2),
                                       field=dataclasses.replace(model_config.field, expression_components=4))
    config = TrainConfig(steps=2, batch_size=2, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "run"),
                         critic=CriticTrainConfig(steps=5, batch_size=4))
    train(model_config, config, cache)
    path = tmp_path / "run" / CRITIC_FILE
    assert load_critic(path).components == 4
    stamp = path.stat().st_mtime_ns
    result = train(model_config, dataclasses.replace(config, steps=3), cache)  # resume: the same critic
    assert result.start_step == 2 and path.stat().st_mtime_ns == stamp
    assert load_checkpoint(tmp_path / "run" / "last.pt")[0].config.loss.expression_weight == 0.2
    assert FrameDataset(cache, 32).tracked_expression.shape == (10, 46)
