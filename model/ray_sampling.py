"""Camera → rays → sample positions (the one module that turns a tracked camera into 3D samples).

Inputs: :class:`model.camera.Camera` (OpenCV cam_to_world (B, 4, 4) in the canonical head frame,
crop-normalized intrinsics). Outputs: :class:`Rays` (per pixel origin, unit direction, near, far) and
sample distances ``t`` along them.

Conventions
    * Pixel (i, j) of an H×W image has its centre at u = (j + 0.5)/W, v = (i + 0.5)/H; rays are ordered
      row-major (index i·W + j), so a (B, R, C) result reshapes to (B, H, W, C).
    * t is the distance along the unit direction from the camera centre. near/far are where the ray enters
      and leaves the sphere of radius ``HEAD_RADIUS`` about the origin. A ray that misses the sphere gets
      near = far (the closest approach), so every sample interval has zero length and zero weight.
    * Randomness only through an explicit ``torch.Generator`` (on the tensors' device); ``None`` gives the
      deterministic variant (bin midpoints / evenly spaced CDF quantiles).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from model.camera import HEAD_RADIUS, Camera


@dataclass
class Rays:
    """A batch of rays in the head frame."""

    origins: torch.Tensor
    """(B, R, 3) camera centres."""
    directions: torch.Tensor
    """(B, R, 3) unit directions."""
    near: torch.Tensor
    """(B, R, 1) entry distance into the head sphere."""
    far: torch.Tensor
    """(B, R, 1) exit distance (= near for rays that miss)."""

    def chunk(self, start: int, stop: int) -> Rays:
        """Rays [start, stop) of every batch item."""
        return Rays(
            self.origins[:, start:stop],
            self.directions[:, start:stop],
            self.near[:, start:stop],
            self.far[:, start:stop],
        )

    @property
    def num_rays(self) -> int:
        return self.origins.shape[1]


@dataclass
class RaySamples:
    """Sample distances along rays and their positions."""

    t_values: torch.Tensor
    """(B, R, S) sorted distances along each ray."""
    points: torch.Tensor
    """(B, R, S, 3) head-frame positions ``origin + t · direction``."""


def generate_rays(camera: Camera, height: int, width: int) -> Rays:
    """One ray per pixel centre of an H×W rendering of the crop, for every camera of the batch."""
    c2w = camera.cam_to_world
    device, dtype = c2w.device, c2w.dtype
    rows = (torch.arange(height, device=device, dtype=dtype) + 0.5) / height
    cols = (torch.arange(width, device=device, dtype=dtype) + 0.5) / width
    v, u = torch.meshgrid(rows, cols, indexing="ij")
    return rays_through(camera, torch.stack([u, v], dim=-1).reshape(1, -1, 2))


def rays_through(camera: Camera, uv: torch.Tensor) -> Rays:
    """Rays through crop-normalised points ``uv`` (B or 1, R, 2) of every camera of the batch (B)."""
    c2w = camera.cam_to_world
    k = camera.intrinsics
    uv = uv.to(c2w.dtype)
    u, v = uv[..., 0], uv[..., 1]
    dirs_cam = torch.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, torch.ones_like(u)], dim=-1)
    dirs = torch.einsum("bij,brj->bri", c2w[:, :3, :3], dirs_cam.expand(c2w.shape[0], -1, -1))
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    origins = c2w[:, None, :3, 3].expand_as(dirs)
    near, far = sphere_bounds(origins, dirs, HEAD_RADIUS)
    return Rays(origins=origins, directions=dirs, near=near, far=far)


def sphere_bounds(
    origins: torch.Tensor, directions: torch.Tensor, radius: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry/exit distances (…, 1) of unit-direction rays through the origin-centred sphere; misses →
    near = far."""
    closest = -(origins * directions).sum(-1, keepdim=True)  # t of closest approach
    dist_sq = (origins * origins).sum(-1, keepdim=True) - closest**2
    half = torch.sqrt(torch.clamp(radius**2 - dist_sq, min=0.0))
    near = torch.clamp(closest - half, min=0.0)
    far = torch.clamp(closest + half, min=0.0)
    return near, far


def points_at(rays: Rays, t_values: torch.Tensor) -> RaySamples:
    """Positions of distances ``t_values`` (B, R, S) along ``rays``."""
    points = rays.origins.unsqueeze(2) + t_values.unsqueeze(-1) * rays.directions.unsqueeze(2)
    return RaySamples(t_values=t_values, points=points)


def bin_edges(rays: Rays, num_samples: int) -> torch.Tensor:
    """(B, R, S+1) evenly spaced bin edges from near to far."""
    steps = torch.linspace(0.0, 1.0, num_samples + 1, device=rays.near.device, dtype=rays.near.dtype)
    return rays.near + (rays.far - rays.near) * steps


def stratified_samples(rays: Rays, num_samples: int, generator: torch.Generator | None) -> torch.Tensor:
    """(B, R, S) one distance per even bin in [near, far]: uniform in the bin, or its midpoint if no
    generator."""
    edges = bin_edges(rays, num_samples)
    lower, upper = edges[..., :-1], edges[..., 1:]
    if generator is None:
        jitter = torch.full_like(lower, 0.5)
    else:
        jitter = torch.rand(lower.shape, generator=generator, device=lower.device, dtype=lower.dtype)
    return lower + (upper - lower) * jitter


def importance_samples(
    bins: torch.Tensor, weights: torch.Tensor, num_samples: int, generator: torch.Generator | None
) -> torch.Tensor:
    """(B, R, N) distances drawn by inverse CDF from piecewise-constant ``weights`` (B, R, S) on ``bins``
    (B, R, S+1).

    Weights are detached and padded by a small constant so empty rays still sample uniformly.
    """
    weights = weights.detach() + 1e-5
    pdf = weights / weights.sum(-1, keepdim=True)
    cdf = torch.cumsum(pdf, dim=-1)
    cdf = torch.cat([torch.zeros_like(cdf[..., :1]), cdf], dim=-1).clamp(max=1.0)  # (B, R, S+1)
    shape = (*cdf.shape[:-1], num_samples)
    if generator is None:
        quantiles = torch.linspace(0.0, 1.0, num_samples + 2, device=cdf.device, dtype=cdf.dtype)[
            1:-1
        ].expand(shape)
    else:
        quantiles = torch.rand(shape, generator=generator, device=cdf.device, dtype=cdf.dtype)
    quantiles = quantiles.contiguous()
    index = torch.searchsorted(cdf.contiguous(), quantiles, right=True)
    below = (index - 1).clamp(min=0)
    above = index.clamp(max=cdf.shape[-1] - 1)
    cdf_below, cdf_above = torch.gather(cdf, -1, below), torch.gather(cdf, -1, above)
    bin_below, bin_above = torch.gather(bins, -1, below), torch.gather(bins, -1, above)
    span = cdf_above - cdf_below
    fraction = torch.where(
        span > 1e-8, (quantiles - cdf_below) / span.clamp(min=1e-8), torch.zeros_like(span)
    )
    return (bin_below + fraction * (bin_above - bin_below)).detach()
