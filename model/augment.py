"""Camera-roll augmentation of training frames: an exact new view, not an approximation.

With the principal point at the crop's centre (``model/camera.py``), turning the camera about its own optical
axis by θ sees the same rays as before, on a pixel grid turned by θ: the photo of the rolled camera is the
photo turned in the image plane. So a frame can be paired with its camera rolled by a random angle and its
image and mask turned to match, and the training target stays a true photo of that view (up to bilinear
resampling). Why it is worth having: the tracked heads of the training clips barely roll, and the measured
weakness of the model is that small new views change what the renders look like far more than turning a
photo does (README, "Warp only, learned warp gain"): the upsampler and the 16² feature-map grid have only ever
seen heads at one orientation on that grid.

Sign convention, derived once here: for a point seen in direction d' by the rolled camera (cam_to_world · R),
the unrolled camera sees it in direction R·d'. With centred, square intrinsics that is the 2D rotation of R's
upper-left block applied to the normalized image offset, so the rolled photo at grid point g samples the
unrolled photo at R₂·g (``grid_sample`` coordinates, align_corners=False, whose pixel centres match the crop
convention ``(j + 0.5)/W``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch.nn import functional as F

from model.data import FrameBatch


def roll_matrices(angles: torch.Tensor) -> torch.Tensor:
    """(B,) radians → (B, 3, 3) rotations about the camera's +z (viewing) axis."""
    c, s = torch.cos(angles), torch.sin(angles)
    zero, one = torch.zeros_like(angles), torch.ones_like(angles)
    return torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1),
                        torch.stack([zero, zero, one], -1)], -2)


def roll_cameras(cam_to_world: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """(B, 4, 4) cameras rolled about their optical axes by ``angles`` (B,) radians; centres unchanged."""
    rolled = cam_to_world.clone()
    rolled[:, :3, :3] = cam_to_world[:, :3, :3] @ roll_matrices(angles).to(cam_to_world)
    return rolled


def roll_images(images: torch.Tensor, angles: torch.Tensor, padding: str) -> torch.Tensor:
    """(B, C, m, m) photos of the unrolled cameras → what the rolled cameras see (bilinear). ``padding``:
    "border" for photos (the crop's edge replication), "zeros" for masks (no head outside the crop)."""
    rotation = roll_matrices(angles).to(images)[:, :2, :2]
    theta = torch.cat([rotation, torch.zeros_like(rotation[:, :, :1])], -1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def random_roll_angles(count: int, max_degrees: float, generator: torch.Generator) -> torch.Tensor:
    """(count,) radians, uniform in ±``max_degrees``, drawn on the generator's device."""
    return (torch.rand(count, generator=generator, device=generator.device) * 2 - 1) * math.radians(max_degrees)


def roll_batch(batch: FrameBatch, angles: torch.Tensor) -> FrameBatch:
    """Each frame's camera rolled by its angle (B,) radians, its image, mask and regions turned to match.
    Codes are unchanged: the head did not move, only the camera turned."""
    angles = angles.to(batch.image.device)
    regions = None if batch.regions is None else roll_images(batch.regions, angles, "zeros")
    return replace(batch, image=roll_images(batch.image, angles, "border"), mask=roll_images(batch.mask, angles, "zeros"),
                   cam_to_world=roll_cameras(batch.cam_to_world, angles), regions=regions)
