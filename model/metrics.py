"""Image-quality metrics for renders vs ground truth.

Inputs: images (B, 3, H, W) float in [0, 1]; masks (B, 1, H, W) in [0, 1]. Outputs: (B,) float tensors.

Conventions: PSNR with peak 1; SSIM with an 11×11 Gaussian window (σ = 1.5), C1 = (0.01)², C2 = (0.03)²,
computed per channel on the valid (unpadded) region and averaged (Wang et al. 2004, as skimage with
``gaussian_weights=True``); masked L1 = Σ mask·|a − b| / (3 · Σ mask).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, (B,)."""
    mse = ((prediction - target) ** 2).flatten(1).mean(dim=1)
    return -10.0 * torch.log10(mse.clamp(min=1e-12))


def gaussian_window(
    size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Normalized separable Gaussian window (size, size)."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim_map(
    prediction: torch.Tensor, target: torch.Tensor, window_size: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """Per-pixel SSIM (B, C, H−10, W−10) with a Gaussian window."""
    channels = prediction.shape[1]
    window = gaussian_window(window_size, sigma, prediction.dtype, prediction.device).expand(
        channels, 1, window_size, window_size
    )
    c1, c2 = 0.01**2, 0.03**2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)

    mu_x, mu_y = blur(prediction), blur(target)
    sigma_xx = blur(prediction * prediction) - mu_x**2
    sigma_yy = blur(target * target) - mu_y**2
    sigma_xy = blur(prediction * target) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (sigma_xx + sigma_yy + c2)
    )


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (B,)."""
    return ssim_map(prediction, target).flatten(1).mean(dim=1)


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error inside ``mask`` (B,); 0 where the mask is empty."""
    diff = (mask * (prediction - target).abs()).flatten(1).sum(dim=1)
    area = (mask.expand_as(prediction)).flatten(1).sum(dim=1)
    return diff / area.clamp(min=1e-8)
