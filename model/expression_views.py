"""Pseudo-views of a fitted target making another expression, for renderer fine-tuning.

A fit has one photo at one expression. Fine-tuned on it (and on rolled views of it, ``model/augment.py``), the
copy of the neural renderer sharpens what that frame shows, not what a new expression changes: driven frames
carry the change at the network's own blur, which the tracker reads badly (``docs/experiments.md``, "The blur
floor"). The landmark model says where each of the target's face landmarks goes for an expression change δβ,
for any face; the photo warped by that motion, projected with the fitted camera, is an approximate photo of
the target making that expression — right in where the landmarks go, wrong inside a mouth that opens (a warp
stretches the lips, it cannot invent teeth). Paired with the feature map the field renders for β + δβ, it
shows the copy what the change should look like at the photo's sharpness.

Conventions
    * The image-plane twin of the field's warp (``model/warp.py``), a backward map: output pixel q samples the
      photo at q − D(q), D(q) = Σ_j g_j(q) m_j / max(Σ_j g_j(q), 1), m_j the projected motion of landmark j
      and g_j a Gaussian of width ``radius`` around landmark j's *moved* position; away from the face D fades
      to zero, so hair and background stay where they are.
    * Crop-normalized coordinates (``model/camera.py``): pixel j's centre at (j + 0.5) / W, which is
      ``grid_sample``'s ``align_corners=False``.
    * Inputs: photo (1, 3, H, W) and mask (1, 1, H, W) in [0, 1]; landmarks (L, 3), the target's tracked face
      in the head frame; motion (N, L, 3) head units; one cam_to_world (4, 4). No parameters.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from model.camera import project

DEFAULT_RADIUS = 0.02
"""Width of the warp's Gaussians, crop-normalized (2.6 px of a 128² crop). The landmarks lie ~0.015 apart in
the crop (0.04 head units at the tracker's camera distance), so inside the face every pixel has several; the
field's 3D radius (0.1 head units, ~0.04 here) would average a lip's motion with the other lip's."""


def warp_grid(
    before: torch.Tensor, after: torch.Tensor, size: int, radius: float = DEFAULT_RADIUS
) -> torch.Tensor:
    """``grid_sample`` grid (N, size, size, 2) of the backward warp that takes landmarks at ``before`` (L, 2)
    to ``after`` (N, L, 2), both crop-normalized."""
    centres = (torch.arange(size, dtype=torch.float32, device=after.device) + 0.5) / size
    pixels = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), -1).reshape(
        1, -1, 2
    )  # (1, P, 2) as (u, v)
    motion = after - before[None]
    weights = torch.exp(-torch.cdist(pixels.expand(len(after), -1, -1), after).square() / (2 * radius**2))
    total = weights.sum(-1, keepdim=True)
    weights = weights / total.clamp_min(1.0)
    source = pixels - torch.bmm(weights, motion)
    return (source * 2 - 1).reshape(len(after), size, size, 2)


def expression_views(
    image: torch.Tensor,
    mask: torch.Tensor,
    landmarks: torch.Tensor,
    motion: torch.Tensor,
    cam_to_world: torch.Tensor,
    radius: float = DEFAULT_RADIUS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The photo and its mask warped as the landmarks move by ``motion`` (N, L, 3): (N, 3, H, W),
    (N, 1, H, W)."""
    camera = cam_to_world.detach().cpu().double().numpy()
    points = landmarks.detach().cpu().double().numpy()
    before = project(points, camera)
    after = project(points[None] + motion.detach().cpu().double().numpy(), camera)
    grid = warp_grid(
        torch.as_tensor(before, dtype=torch.float32),
        torch.as_tensor(after, dtype=torch.float32),
        image.shape[-1],
        radius,
    ).to(image.device)
    count = len(after)
    images = F.grid_sample(
        image.expand(count, -1, -1, -1), grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    masks = F.grid_sample(
        mask.expand(count, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return images, masks


def random_expression_changes(count: int, components: int, scale: float, seed: int = 1) -> torch.Tensor:
    """(count, components) δβ in σ units (the tracker's codes are per-component standardized), normal with
    standard deviation ``scale``, from a fixed seed: a fit is reproducible."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, components, generator=generator) * scale


def landmark_motion(changes: torch.Tensor, expression_basis: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(N, L, 3) head-unit motion of every landmark for changes (N, K) and the basis's first K components."""
    basis = torch.as_tensor(
        np.asarray(expression_basis, np.float32)
        if isinstance(expression_basis, np.ndarray)
        else expression_basis.float()
    )
    return torch.einsum("nk,klc->nlc", changes.float(), basis[: changes.shape[1]].to(changes.device))
