"""Expression critic: a small CNN, trained by this project on its own training frames, that reads the leading
expression components off a head image. Used as a training loss (``LossConfig.expression_weight``): the
render and the real frame must read the same to it, which pushes the field to show the expression it is
given instead of the blurry average face (the image losses alone leave β a weak handle: measured gains of
0.0–0.7 of a commanded change reach the tracked render, README "Expression critic").

Input: (B, 3, m, m) head images in [0, 1] with the background black (``image · mask``, as the render is);
resized to :data:`CRITIC_SIZE` by area averaging. Output: (B, K) predicted tracker codes (whitened PCA units,
the tracker's own reference, not the model's), K = ``components``.

Training target: the tracker's code of each frame (``FrameDataset.tracked_expression``), not the model's
clip-relative β, because an image shows its absolute expression. Augmentation: Gaussian blur and a
brightness scale, so that blurry, slightly off-colour renders read like the photos they imitate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from reenact.errors import CheckpointError

CRITIC_SIZE = 64
"""Side of the critic's input: mouth and eye shape survive, skin texture and identity detail mostly do not."""


class ExpressionCritic(nn.Module):
    """Four stride-2 3×3 convs (64² → 4²) and a linear read-out of ``components`` codes."""

    def __init__(self, components: int, width: int = 32) -> None:
        super().__init__()
        self.components = components
        self.width = width
        widths = (3, width, 2 * width, 4 * width, 4 * width)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(widths[:-1], widths[1:]))
        self.head = nn.Linear(widths[-1] * (CRITIC_SIZE // 16) ** 2, components)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        if x.shape[-1] != CRITIC_SIZE:
            x = F.interpolate(x, size=(CRITIC_SIZE, CRITIC_SIZE), mode="area")
        x = x * 2.0 - 1.0
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        return self.head(x.flatten(1))


@dataclass(frozen=True)
class CriticTrainConfig:
    """How the critic is trained (seeded: the same data and config give the same critic)."""

    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    max_blur_sigma: float = 2.0
    """Blur σ (pixels of the model's output) drawn uniformly from [0, this] per image."""
    seed: int = 0


def _gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image separable Gaussian blur; ``sigma`` (B,) in pixels (0 leaves the image as it is)."""
    radius = 5
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    sigma = sigma.clamp(min=1e-3)[:, None]
    kernel = torch.exp(-0.5 * (offsets[None] / sigma) ** 2)
    kernel = kernel / kernel.sum(1, keepdim=True)  # (B, 2r+1)
    b, c, h, w = images.shape
    x = images.reshape(1, b * c, h, w)
    k = kernel.repeat_interleave(c, 0)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k[:, None, None, :], groups=b * c)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), k[:, None, :, None], groups=b * c)
    return x.reshape(b, c, h, w)


def augment(images: torch.Tensor, generator: torch.Generator, max_blur_sigma: float) -> torch.Tensor:
    """Random blur and brightness (×0.8–1.2) per image."""
    b = images.shape[0]
    sigma = torch.rand(b, generator=generator) * max_blur_sigma
    scale = 0.8 + 0.4 * torch.rand(b, 1, 1, 1, generator=generator)
    return (_gaussian_blur(images, sigma.to(images.device)) * scale.to(images.device)).clamp(0, 1)


def train_critic(images: torch.Tensor, masks: torch.Tensor, codes: torch.Tensor, components: int,
                 config: CriticTrainConfig = CriticTrainConfig()) -> tuple[ExpressionCritic, list[float]]:
    """Fit a critic to (N,3,m,m) uint8 images, (N,1,m,m) uint8 masks and (N,E) tracker codes (first
    ``components`` used). Returns the critic (eval mode, frozen) and its per-step L1 loss."""
    generator = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        critic = ExpressionCritic(components)
    # Frames stay uint8 and are masked (and shrunk to at most twice the critic's side, so the blur acts
    # before the critic's own downsampling) per batch: a float copy of a whole cache would be 4× its size.
    side = min(images.shape[-1], 2 * CRITIC_SIZE)

    def masked(index: torch.Tensor) -> torch.Tensor:
        x = (images[index].float() / 255.0) * (masks[index].float() / 255.0)
        return F.interpolate(x, size=(side, side), mode="area") if x.shape[-1] != side else x

    targets = codes[:, :components].float()
    optimizer = torch.optim.AdamW(critic.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = []
    for step in range(config.steps):
        lr = config.lr * 0.05 ** (step / max(config.steps - 1, 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        index = torch.randint(0, len(images), (config.batch_size,), generator=generator)
        x = augment(masked(index), generator, config.max_blur_sigma * side / images.shape[-1])
        loss = (critic(x) - targets[index]).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
    critic.eval().requires_grad_(False)
    return critic, history


def save_critic(path: str | os.PathLike, critic: ExpressionCritic) -> None:
    """Write ``{"components", "width", "state_dict"}`` (tensors and ints only) atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"components": critic.components, "width": critic.width, "state_dict": critic.state_dict()}, tmp)
    os.replace(tmp, path)


def load_critic(path: str | os.PathLike, device: torch.device | str = "cpu") -> ExpressionCritic:
    """Read a critic written by :func:`save_critic` (``weights_only``: cannot run code)."""
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        critic = ExpressionCritic(int(stored["components"]), int(stored["width"]))
        critic.load_state_dict(stored["state_dict"])
    except Exception as error:  # noqa: BLE001 — any unreadable file (unpickling errors included) is one message
        raise CheckpointError(f"cannot read expression critic {path}: {error}") from error
    return critic.to(device).eval().requires_grad_(False)
