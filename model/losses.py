"""Training and fitting losses: head-masked L1 + λ·perceptual (+ optional opacity term) (paper Eqs. 9–11).

Inputs: render (B, 3, H, W) in [0, 1]; ground-truth image (B, 3, H, W) in [0, 1]; head mask (B, 1, H, W)
in [0, 1]; optionally the accumulated opacity (B, 1, h, w) of the feature map.
Output: :class:`LossTerms` (scalar tensors).

Conventions
    * The target is the photo with its background blacked out (``image · mask``), because the model's
      background is zero features. L1 weights pixels by ``mask + background_weight · (1 − mask)``.
    * Perceptual term (``LossConfig.perceptual``):
      ``"vgg16"`` — mean squared distance of VGG16 relu1_2/relu2_2/relu3_3/relu4_3 activations (ImageNet
      normalization), weights from a torchvision-format ``state_dict`` given by path (never downloaded);
      ``"random_conv"`` (default) — squared distance of the features of a fixed, seeded random 3-layer conv
      net (random conv features are known to carry much of a perceptual loss's signal; no weights needed);
      ``"laplacian"`` — L1 between 5-level Laplacian pyramids; ``"none"``.
    * The opacity term is L1 between the opacity and the head mask area-downsampled to the feature size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from model.config import LossConfig
from model.errors import MissingWeightsError

_VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)
"""torchvision ``vgg16().features`` up to relu4_3 (indices 0–22)."""
_VGG16_TAPS = (3, 8, 15, 22)
"""Indices of relu1_2, relu2_2, relu3_3, relu4_3 in ``features``."""


@dataclass
class LossTerms:
    """The loss and its parts (scalars)."""

    total: torch.Tensor
    l1: torch.Tensor
    perceptual: torch.Tensor
    opacity: torch.Tensor


class Vgg16Perceptual(nn.Module):
    """VGG16 feature distance with weights from ``path`` (torchvision ``vgg16`` state_dict, ``features.*``
    keys)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in _VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_channels, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                in_channels = int(item)
        self.features = nn.Sequential(*layers)
        if not path or not Path(path).is_file():
            raise MissingWeightsError(
                f"VGG16 weights not found at {path!r}; pass a torchvision vgg16 state_dict path or choose "
                "another perceptual loss"
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001
            raise MissingWeightsError(
                f"cannot read VGG16 weights {path}: not a weights-only state_dict file "
                f"({error.__class__.__name__})"
            ) from error
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        wanted = {
            k: v for k, v in state.items() if k.startswith("features.") and int(k.split(".")[1]) < len(layers)
        }
        try:
            self.load_state_dict(wanted, strict=True)
        except RuntimeError as error:
            raise MissingWeightsError(f"{path} is not a torchvision VGG16 state_dict: {error}") from error
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = (torch.cat([prediction, target]) - self.mean) / self.std
        loss = prediction.new_zeros(())
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in _VGG16_TAPS:
                a, b = x.chunk(2)
                loss = loss + F.mse_loss(a, b)
        return loss


class LaplacianPyramidLoss(nn.Module):
    """Σ over levels of the mean |L_k(a) − L_k(b)| of 5-level Laplacian pyramids (5×5 binomial blur)."""

    def __init__(self, levels: int = 5) -> None:
        super().__init__()
        self.levels = levels
        taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
        kernel = (taps[:, None] * taps[None, :]) / 256.0
        self.register_buffer("kernel", kernel.expand(3, 1, 5, 5).clone())

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), self.kernel.to(x.dtype), groups=3)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = torch.cat([prediction, target])
        loss = prediction.new_zeros(())
        for _ in range(self.levels - 1):
            if min(x.shape[-2:]) < 4:
                break
            down = F.avg_pool2d(self._blur(x), 2)
            band = x - F.interpolate(down, size=x.shape[-2:], mode="bilinear", align_corners=False)
            a, b = band.chunk(2)
            loss = loss + (a - b).abs().mean()
            x = down
        a, b = x.chunk(2)
        return loss + (a - b).abs().mean()


class RandomConvPerceptual(nn.Module):
    """Squared feature distance through a fixed random conv net (seeded; no trained weights)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        widths = (3, 32, 64, 128)
        self.weights = nn.ParameterList()
        for cin, cout in zip(widths[:-1], widths[1:]):
            w = torch.randn(cout, cin, 3, 3, generator=generator) * (2.0 / (cin * 9)) ** 0.5
            self.weights.append(nn.Parameter(w, requires_grad=False))

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = torch.cat([prediction, target]) * 2.0 - 1.0
        loss = prediction.new_zeros(())
        for index, weight in enumerate(self.weights):
            x = F.leaky_relu(F.conv2d(x, weight.to(x.dtype), padding=1, stride=1 if index == 0 else 2), 0.2)
            a, b = x.chunk(2)
            loss = loss + F.mse_loss(a, b)
        return loss


class HeadLoss(nn.Module):
    """The configured loss; build once (loads VGG16 weights for ``"vgg16"``) and move to the device."""

    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.config = config
        self.perceptual: nn.Module | None
        if config.perceptual == "vgg16":
            self.perceptual = Vgg16Perceptual(config.vgg_path)
        elif config.perceptual == "laplacian":
            self.perceptual = LaplacianPyramidLoss()
        elif config.perceptual == "random_conv":
            self.perceptual = RandomConvPerceptual()
        else:
            self.perceptual = None

    def forward(
        self,
        render: torch.Tensor,
        image: torch.Tensor,
        mask: torch.Tensor,
        opacity: torch.Tensor | None = None,
    ) -> LossTerms:
        config = self.config
        target = image * mask
        pixel_weight = mask + config.background_weight * (1.0 - mask)
        l1 = (pixel_weight * (render - target).abs()).sum() / (3.0 * pixel_weight.sum()).clamp(min=1e-8)
        perceptual = self.perceptual(render, target) if self.perceptual is not None else render.new_zeros(())
        if opacity is not None and config.opacity_weight > 0:
            small_mask = F.adaptive_avg_pool2d(mask, opacity.shape[-2:])
            opacity_term = (opacity - small_mask).abs().mean()
        else:
            opacity_term = render.new_zeros(())
        total = (
            config.l1_weight * l1
            + config.perceptual_weight * perceptual
            + config.opacity_weight * opacity_term
        )
        return LossTerms(
            total=total, l1=l1.detach(), perceptual=perceptual.detach(), opacity=opacity_term.detach()
        )
