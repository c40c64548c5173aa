"""The neural renderer π_ξ: feature map → RGB image (paper §2.2.3, Fig. 2; GIRAFFE-style).

Input: feature map (B, C, n, n) from volume rendering. Output: image (B, 3, m, m) in [0, 1].

Structure (``num_blocks = log2(m / n)``): a 3×3 to-RGB conv decodes the input map; then each block
upsamples the features ×2 (nearest or bilinear), applies a 3×3 conv and a leaky ReLU, and its own 3×3
to-RGB conv decodes the new map; the previous level's RGB is upsampled ×2 (bilinear) and added. The final
sum is clamped to [0, 1] with a straight-through gradient. (A sigmoid here saturated in training: most of
each target is black background, the sum was driven far negative, and the head region's gradient died with
it — measured: all-black renders after 500 steps of the cpu preset, mean |feature| ≈ 51.)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from model.config import NeuralRendererConfig


class NeuralRenderer(nn.Module):
    """π_ξ for ``config`` with ``in_channels`` input features (the field's ``feature_dim``)."""

    def __init__(self, config: NeuralRendererConfig, in_channels: int) -> None:
        super().__init__()
        self.config = config
        channels = (in_channels, *config.block_channels)
        self.blocks = nn.ModuleList(
            nn.Conv2d(channels[i], channels[i + 1], 3, padding=1) for i in range(config.num_blocks)
        )
        self.to_rgb = nn.ModuleList(nn.Conv2d(c, 3, 3, padding=1) for c in channels)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        """(B, C, n, n) → (B, 3, n·2^blocks, n·2^blocks) in [0, 1]."""
        features = feature_map
        rgb = self.to_rgb[0](features)
        for block, to_rgb in zip(self.blocks, self.to_rgb[1:]):
            if self.config.upsample == "nearest":
                features = F.interpolate(features, scale_factor=2.0, mode="nearest")
            else:
                features = F.interpolate(features, scale_factor=2.0, mode="bilinear", align_corners=False)
            features = F.leaky_relu(block(features), 0.2)
            rgb = F.interpolate(rgb, scale_factor=2.0, mode="bilinear", align_corners=False) + to_rgb(
                features
            )
        return straight_through_clamp(rgb)


def straight_through_clamp(values: torch.Tensor) -> torch.Tensor:
    """Values clamped to [0, 1] in the forward pass; the gradient passes as if unclamped (never saturates)."""
    return values + (values.clamp(0.0, 1.0) - values).detach()
