"""Camera roll: an exact new view of a photo, not an approximation.

With the principal point at the crop's centre (``model/camera.py``), turning the camera about its own optical
axis by θ sees the same rays as before, on a pixel grid turned by θ: the photo of the rolled camera is the
photo turned in the image plane. So a photo can be paired with its camera rolled by an angle and its image and
mask turned to match, and the pair stays a true photo of that view (up to bilinear resampling). The fit's
renderer fine-tuning uses it (``model/fit.py``, ``FitConfig.finetune_roll_degrees``): the copy of the neural
renderer learns the target from more than one feature map instead of one pixel layout.

Sign convention, derived once here: for a point seen in direction d' by the rolled camera (cam_to_world · R),
the unrolled camera sees it in direction R·d'. With centred, square intrinsics that is the 2D rotation of R's
upper-left block applied to the normalized image offset, so the rolled photo at grid point g samples the
unrolled photo at R₂·g (``grid_sample`` coordinates, align_corners=False, whose pixel centres match the crop
convention ``(j + 0.5)/W``).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def roll_matrices(angles: torch.Tensor) -> torch.Tensor:
    """(B,) radians → (B, 3, 3) rotations about the camera's +z (viewing) axis."""
    c, s = torch.cos(angles), torch.sin(angles)
    zero, one = torch.zeros_like(angles), torch.ones_like(angles)
    return torch.stack(
        [torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1), torch.stack([zero, zero, one], -1)],
        -2,
    )


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
