"""Where each pixel of a driven render was in the target's photo, read off the model's own geometry.

A driven frame renders the fitted target with camera P_j and expression β_j; the target's photo was fitted
with P_0 and β_0 (same identity). For every pixel of an n×n grid over the driven crop:

1. the driven ray ends at x_j = o + t·d, t the opacity-normalised depth (``HeadModel.ray_depth``);
2. the field's expression warp takes it to the canonical head, x_c = warp(x_j, β_j) (no warp: x_c = x_j);
3. the inverse warp under β_0 takes it to the target's posed head: solve warp(x_0, β_0) = x_c by the fixed
   point x_0 ← x_0 + (x_c − warp(x_0, β_0)) (= x_c + D(x_0, β_0) for a warp x − D(x, β)), started at x_c;
4. x_0 is projected with P_0 into the target's crop: crop-normalised (u, v) ∈ [0, 1]² (``model/camera.py``);
5. visibility: x_0 is hidden in the photo when the target's own surface lies in front of it by more than
   ``depth_tolerance`` (the target's depth map, rendered once on the same grid, sampled bilinearly at (u, v));
   where the target is nearly transparent nothing hides it (the photo shows what is there, e.g. the fringe
   of the hair). The test takes the farthest target surface within ``neighbourhood`` × ``neighbourhood``
   pixels: at the silhouette the depth map jumps within a pixel, and a point just inside it must not count
   as hidden behind the neighbour's surface. Hidden points (mouth interior, the side the head turns to) are
   the neural render's to fill. A point in front of the target's surface is not hidden by it.

Inputs: a :class:`HeadModel`, the target's camera / β_0 / z_id, a batch of driven cameras and β_j.
Outputs: :class:`Correspondence` — source coordinates (B, n, n, 2), visibility (B, n, n), driven opacity
(B, n, n), and two diagnostics (depth gap, inverse-warp residual).

Conventions: grids follow ``model/ray_sampling.py`` (pixel (i, j) centred at ((j + 0.5)/n, (i + 0.5)/n),
row-major); coordinates are (u, v) = (x, y) in crop-normalised units; distances in head units. The field's
``warp`` may be None or any object with ``forward(points (B, P, 3), expression (B, E)) → (B, P, 3)``; β is
masked as the field masks it (``expression_mask``) before the warp sees it. No neural renderer is run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from model.camera import Camera
from model.head_model import HeadModel
from model.ray_sampling import Rays, generate_rays, rays_through


@dataclass(frozen=True)
class PhotoWarpConfig:
    """How the correspondence is computed."""

    size: int = 48
    """Side n of the correspondence grid. The driven and target depth maps may come coarser (the render
    pass's feature grid) and are upsampled to it (:func:`upsample_depth`): the grid must resolve the lip gap
    (the mouth follows at 0.44 with n = 16, 0.68 with n = 32 on the first cross-identity pair)."""
    iterations: int = 6
    """Fixed-point iterations of the inverse warp under β_0."""
    depth_tolerance: float = 0.06
    """Largest |distance − target depth| (head units) of a visible point (the eyes are 0.7 apart)."""
    min_target_opacity: float = 0.5
    """Target opacity below which the target's depth is not trusted: nothing opaque hides the point there."""
    min_opacity: float = 0.02
    """Driven opacity below which a ray has no surface point (it maps to itself, seen)."""
    neighbourhood: int = 3
    """Side (odd, grid pixels) of the window whose farthest target surface a point is tested against."""
    chunk_rays: int = 8192
    """Rays per batch item evaluated at once (memory bound)."""


@dataclass
class TargetDepth:
    """The target as fitted to its photo, with its own depth map (computed once per target)."""

    camera: Camera
    """Batch-1 camera P_0 of the target's crop."""
    expression: torch.Tensor
    """(1, E) β_0."""
    identity: torch.Tensor
    """(1, D) z_id."""
    depth: torch.Tensor
    """(1, n, n) opacity-normalised ray depth of the target's render (head units)."""
    opacity: torch.Tensor
    """(1, n, n) accumulated opacity of the target's render."""

    def at_size(self, size: int) -> TargetDepth:
        """The same target with its maps upsampled to size × size (:func:`upsample_depth`)."""
        if self.depth.shape[-1] == size:
            return self
        depth, opacity = upsample_depth(self.depth, self.opacity, size)
        return TargetDepth(self.camera, self.expression, self.identity, depth, opacity)


@dataclass
class Correspondence:
    """Per driven pixel: where it is in the target's photo and whether the photo sees it."""

    coords: torch.Tensor
    """(B, n, n, 2) crop-normalised (u, v) of the pixel's surface point in the target's crop."""
    visible: torch.Tensor
    """(B, n, n) bool: the photo shows that point."""
    opacity: torch.Tensor
    """(B, n, n) accumulated opacity of the driven render."""
    depth_gap: torch.Tensor
    """(B, n, n) distance of x_0 from the target camera minus the target's depth there (head units)."""
    residual: torch.Tensor
    """(B, n, n) |warp(x_0, β_0) − x_c| left by the inverse warp (head units)."""

    @property
    def batch_size(self) -> int:
        return self.coords.shape[0]


def _masked_expression(model: HeadModel, expression: torch.Tensor) -> torch.Tensor:
    """β as the field's warp sees it: zeroed beyond the components the field uses (when it masks)."""
    mask = getattr(model.field, "expression_mask", None)
    return expression if mask is None else expression * mask.to(expression.dtype)


def to_canonical(model: HeadModel, points: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
    """Posed points (B, P, 3) → canonical points (B, P, 3) under β (B, E): the field's warp (or none)."""
    warp = getattr(model.field, "warp", None)
    if warp is None:
        return points
    return warp(points, _masked_expression(model, expression))


def from_canonical(
    model: HeadModel, canonical: torch.Tensor, expression: torch.Tensor, iterations: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`to_canonical`: posed points x (B, P, 3) with warp(x, β) ≈ ``canonical`` (B, P, 3),
    by ``iterations`` fixed-point steps from x = canonical; returns x and the residual |warp(x, β) − x_c|
    (B, P)."""
    warp = getattr(model.field, "warp", None)
    if warp is None:
        return canonical, torch.zeros(canonical.shape[:2], device=canonical.device, dtype=canonical.dtype)
    beta = _masked_expression(model, expression)
    posed = canonical
    error = canonical - warp(posed, beta)
    for _ in range(iterations):
        posed = posed + error
        error = canonical - warp(posed, beta)
    return posed, error.norm(dim=-1)


def project(points: torch.Tensor, camera: Camera) -> tuple[torch.Tensor, torch.Tensor]:
    """Head-frame points (B, P, 3) seen by ``camera`` (batch B or 1): crop-normalised (u, v) (B, P, 2) and the
    distance from the camera centre (B, P), the quantity ``ray_depth`` measures along a unit ray."""
    c2w = camera.cam_to_world.to(points.dtype)
    rotation, centre = c2w[:, :3, :3], c2w[:, None, :3, 3]
    relative = points - centre
    local = torch.einsum("bji,bpj->bpi", rotation, relative)  # R^T (x - c)
    k = camera.intrinsics
    z = local[..., 2].clamp(min=1e-6)
    uv = torch.stack([k.fx * local[..., 0] / z + k.cx, k.fy * local[..., 1] / z + k.cy], dim=-1)
    return uv, relative.norm(dim=-1)


def _chunked_depth(
    model: HeadModel, rays: Rays, expression: torch.Tensor, identity: torch.Tensor, chunk_rays: int
) -> tuple[torch.Tensor, torch.Tensor]:
    depths, opacities = [], []
    for start in range(0, rays.num_rays, chunk_rays):
        depth, opacity = model.ray_depth(rays.chunk(start, start + chunk_rays), expression, identity)
        depths.append(depth)
        opacities.append(opacity)
    return torch.cat(depths, dim=1)[..., 0], torch.cat(opacities, dim=1)[..., 0]


@torch.no_grad()
def grid_depth(
    model: HeadModel,
    camera: Camera,
    expression: torch.Tensor,
    identity: torch.Tensor,
    size: int,
    chunk_rays: int = 8192,
) -> tuple[Rays, torch.Tensor, torch.Tensor]:
    """Rays of a size×size grid over the crop, their depth (B, R) and opacity (B, R), R = size²."""
    rays = generate_rays(camera, size, size)
    depth, opacity = _chunked_depth(model, rays, expression, identity, chunk_rays)
    return rays, depth, opacity


@torch.no_grad()
def target_depth(
    model: HeadModel,
    camera: Camera,
    expression: torch.Tensor,
    identity: torch.Tensor,
    config: PhotoWarpConfig = PhotoWarpConfig(),
) -> TargetDepth:
    """The target's own depth and opacity maps (1, n, n) for ``camera`` (batch 1), β_0 (1, E), z_id (1, D)."""
    if camera.batch_size != 1:
        raise ValueError(f"the target is one camera, got a batch of {camera.batch_size}")
    n = config.size
    _, depth, opacity = grid_depth(model, camera, expression, identity, n, config.chunk_rays)
    return TargetDepth(
        camera=camera,
        expression=expression,
        identity=identity,
        depth=depth.reshape(1, n, n),
        opacity=opacity.reshape(1, n, n),
    )


OPEN_DEPTH = 1e3
"""Depth given to transparent target pixels: nothing there hides anything (head units, far past the head)."""


def occluder_depth(target: TargetDepth, config: PhotoWarpConfig) -> torch.Tensor:
    """(1, n, n) the farthest opaque target surface within the ``neighbourhood`` window of each pixel, and
    ``OPEN_DEPTH`` on the transparent pixels themselves (nothing there hides anything)."""
    opaque = target.opacity >= config.min_target_opacity
    depth = torch.where(opaque, target.depth, torch.full_like(target.depth, -OPEN_DEPTH))
    size = config.neighbourhood
    if size > 1:
        depth = F.max_pool2d(depth.unsqueeze(1), size, stride=1, padding=size // 2)[:, 0]
    return torch.where(opaque, depth, torch.full_like(depth, OPEN_DEPTH))


def upsample_depth(
    depth: torch.Tensor, opacity: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth and opacity maps (B, m, m) → (B, n, n), n = ``size``, bilinear over cell centres; the depth is
    opacity-weighted (Σ w·o·t / Σ w·o), so a silhouette's empty cells do not pull the surface's depth
    towards the far plane. Unchanged when m = n."""
    if depth.shape[-1] == size:
        return depth, opacity

    def up(values: torch.Tensor) -> torch.Tensor:
        return F.interpolate(values.unsqueeze(1), size=(size, size), mode="bilinear", align_corners=False)[
            :, 0
        ]

    weight = opacity.clamp(min=1e-4)
    return up(depth * weight) / up(weight), up(opacity)


def _sample_maps(maps: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``maps`` (1 or B, C, n, n) at crop-normalised ``uv`` (B, P, 2) → (B, C, P)."""
    grid = (uv * 2.0 - 1.0).unsqueeze(1)  # (B, 1, P, 2): align_corners=False puts centres at (j + 0.5)/n
    maps = maps.expand(uv.shape[0], -1, -1, -1)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=False)[:, :, 0]


def _map_points(
    model: HeadModel,
    target: TargetDepth,
    rays: Rays,
    depth: torch.Tensor,
    opacity: torch.Tensor,
    own: torch.Tensor,
    expression: torch.Tensor,
    config: PhotoWarpConfig,
    deform: Callable[[torch.Tensor], torch.Tensor] | None,
) -> tuple[torch.Tensor, ...]:
    """Steps 1–5 of the module docstring for B × P rays with their depth and opacity (B, P); ``own`` (1 or B,
    P, 2): the rays' own crop points (where an empty ray maps). Returns uv (B, P, 2), visible (B, P), the
    depth gap and the inverse warp's residual (B, P)."""
    batch = depth.shape[0]
    points = rays.origins + depth.unsqueeze(-1) * rays.directions  # (B, P, 3)
    # A ray that hits (almost) nothing has no surface point; it is given its camera centre (far outside any
    # deformation's reach, so a surface warp skips it) and below its own position in the crop, seen.
    empty = opacity < config.min_opacity
    points = torch.where(empty.unsqueeze(-1), rays.origins.expand_as(points), points)
    if deform is None:
        canonical = to_canonical(model, points, expression)
        posed, residual = from_canonical(
            model, canonical, target.expression.expand(batch, -1), config.iterations
        )
    else:
        posed = deform(points)
        residual = torch.zeros(posed.shape[:2], device=posed.device, dtype=posed.dtype)
    uv, distance = project(posed, target.camera)
    target = target.at_size(config.size)
    maps = torch.stack([target.depth, occluder_depth(target, config)], dim=1)  # (1, 2, n, n)
    seen_depth, occluder = _sample_maps(maps, uv).unbind(1)
    gap = distance - seen_depth
    inside = ((uv >= 0.0) & (uv <= 1.0)).all(dim=-1)
    visible = inside & (distance <= occluder + config.depth_tolerance)
    uv = torch.where(empty.unsqueeze(-1), own.to(uv.dtype).expand_as(uv), uv)
    return uv, visible | empty, gap, residual


Surface = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""Crop points (B or 1, P, 2) → a surface's depth along their rays and its weight (B, P) (0: not covered):
e.g. the driven face mesh's (``model/mesh_depth.py``)."""


def on_surface(depth: torch.Tensor, surface: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The field's depth (B, P) pulled onto a surface's where it covers the point: d + w · (d_s − d)."""
    surface_depth, weight = surface
    return torch.where(weight > 0, depth + weight * (surface_depth - depth), depth)


def grid_points(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(1, n·n, 2) crop points of the n×n grid's cell centres, row-major."""
    own = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n
    return torch.stack(torch.meshgrid(own, own, indexing="xy"), dim=-1).reshape(1, n * n, 2)


@torch.no_grad()
def correspond(
    model: HeadModel,
    target: TargetDepth,
    camera: Camera,
    expression: torch.Tensor,
    config: PhotoWarpConfig = PhotoWarpConfig(),
    deform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    driven: tuple[torch.Tensor, torch.Tensor] | None = None,
    surface: Surface | None = None,
) -> Correspondence:
    """The correspondence of B driven frames (cameras P_j, β_j (B, E)) with the target's photo on the
    ``config.size`` grid. ``deform`` maps driven surface points (B, P, 3) straight to the target's posed head
    (e.g. the surface warp on the target's own face, ``model/surface_warp.py``); None: through the field's
    warp (to canonical under β_j, back under β_0). ``driven``: the frames' depth and opacity maps (B, m, m)
    when a render pass already has them (``RenderOutput.depth`` / ``.opacity``, any m, upsampled here);
    None: the field is run on the grid's own rays. ``surface``: a finer surface the depth is pulled onto
    where it covers a point (:func:`on_surface`)."""
    n = config.size
    batch = camera.batch_size
    identity = target.identity.expand(batch, -1)
    if driven is None:
        rays, depth, opacity = grid_depth(model, camera, expression, identity, n, config.chunk_rays)
    else:
        rays = generate_rays(camera, n, n)
        depth, opacity = upsample_depth(driven[0], driven[1], n)
        depth, opacity = depth.reshape(batch, n * n), opacity.reshape(batch, n * n)
    own = grid_points(n, depth.device).to(depth.dtype)
    if surface is not None:
        depth = on_surface(depth, surface(own))
    uv, visible, gap, residual = _map_points(
        model, target, rays, depth, opacity, own, expression, config, deform
    )
    return Correspondence(
        coords=uv.reshape(batch, n, n, 2),
        visible=visible.reshape(batch, n, n),
        opacity=opacity.reshape(batch, n, n),
        depth_gap=gap.reshape(batch, n, n),
        residual=residual.reshape(batch, n, n),
    )


@torch.no_grad()
def correspond_at(
    model: HeadModel,
    target: TargetDepth,
    camera: Camera,
    expression: torch.Tensor,
    uv: torch.Tensor,
    driven: tuple[torch.Tensor, torch.Tensor],
    config: PhotoWarpConfig = PhotoWarpConfig(),
    deform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    surface: Surface | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`correspond` at any crop points ``uv`` (B, P, 2) of the driven frames instead of a grid: their
    depth and opacity are read (bilinearly) off the frames' maps ``driven`` (B, m, m), upsampled to the
    grid's size first, as :func:`correspond` reads them. Returns the points' (u, v) in the target's crop
    (B, P, 2) and their visibility (B, P). Finer than the grid where one asks (the lids and lips:
    ``reenact/photo.py``), and equal to it at the grid's own cell centres."""
    depth, opacity = upsample_depth(driven[0], driven[1], config.size)
    weight = opacity.clamp(min=1e-4)
    sampled = _sample_maps(torch.stack([depth * weight, weight, opacity], dim=1), uv)
    point_depth, point_opacity = sampled[:, 0] / sampled[:, 1], sampled[:, 2]
    if surface is not None:
        point_depth = on_surface(point_depth, surface(uv))
    rays = rays_through(camera, uv)
    found, visible, _, _ = _map_points(
        model, target, rays, point_depth, point_opacity, uv, expression, config, deform
    )
    return found, visible
