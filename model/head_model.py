"""The drivable head model: connects rays, field, volume rendering and the neural renderer, nothing else.

Inputs: :class:`model.camera.Camera` (B cameras), expression β (B, E), identity z_id (B, D).
Outputs: :class:`RenderOutput` — image (B, 3, m, m) in [0, 1], feature map (B, C, n, n), accumulated
opacity (B, 1, n, n) — with n = ``renderer.feature_size`` and m = ``renderer.output_size``.

Sampling: stratified coarse samples (jittered only when a generator is given) are evaluated by the field;
with ``importance`` the coarse weights (detached) place the fine samples, which the same field evaluates;
the two sets are merged in t order and composited together (one network, as in mip-NeRF).
Rays are processed in chunks of ``chunk_rays`` per batch item to bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model import volume_rendering as vr
from model.camera import Camera
from model.config import ModelConfig
from model.field import HeadField
from model.neural_renderer import NeuralRenderer
from model.ray_sampling import (
    Rays,
    bin_edges,
    generate_rays,
    importance_samples,
    points_at,
    stratified_samples,
)


@dataclass
class RenderOutput:
    """What one rendering produces."""

    image: torch.Tensor
    """(B, 3, m, m) RGB in [0, 1]."""
    feature_map: torch.Tensor
    """(B, C, n, n) volume-rendered features I_F."""
    opacity: torch.Tensor
    """(B, 1, n, n) accumulated opacity Σ w_i."""
    depth: torch.Tensor
    """(B, 1, n, n) where the rays end: opacity-normalised mean distance Σ w t / Σ w (head units; what
    :meth:`HeadModel.ray_depth` gives for the same rays)."""


class HeadModel(nn.Module):
    """f_θ + π_ξ built from a :class:`ModelConfig`."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.field = HeadField(config.field)
        self.renderer = NeuralRenderer(config.renderer, config.field.feature_dim)

    def _ray_samples(
        self,
        rays: Rays,
        expression: torch.Tensor,
        identity: torch.Tensor,
        generator: torch.Generator | None,
        face: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Merged sample distances t (B, R, S), their compositing weights (B, R, S) and features
        (B, R, S, C)."""
        sampler = self.config.sampler
        coarse_gen = generator if sampler.stratified else None
        t_coarse = stratified_samples(rays, sampler.coarse_samples, coarse_gen)
        coarse = self.field(points_at(rays, t_coarse).points, rays.directions, expression, identity, face)
        if not sampler.importance or sampler.fine_samples == 0:
            t_all, density, features = t_coarse, coarse.density, coarse.features
        else:
            coarse_weights = vr.weights(
                vr.alphas(coarse.density, vr.interval_lengths(t_coarse, rays.near, rays.far))
            )
            t_fine = importance_samples(
                bin_edges(rays, sampler.coarse_samples), coarse_weights, sampler.fine_samples, generator
            )
            fine = self.field(points_at(rays, t_fine).points, rays.directions, expression, identity, face)
            t_all, order = torch.sort(torch.cat([t_coarse, t_fine], dim=-1), dim=-1)
            density = torch.gather(torch.cat([coarse.density, fine.density], dim=2), 2, order.unsqueeze(-1))
            merged = torch.cat([coarse.features, fine.features], dim=2)
            features = torch.gather(merged, 2, order.unsqueeze(-1).expand(-1, -1, -1, merged.shape[-1]))
        sample_weights = vr.weights(vr.alphas(density, vr.interval_lengths(t_all, rays.near, rays.far)))
        return t_all, sample_weights, features

    def render_rays(
        self,
        rays: Rays,
        expression: torch.Tensor,
        identity: torch.Tensor,
        generator: torch.Generator | None = None,
        face: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Composited features (B, R, C) and opacity (B, R, 1) of ``rays``."""
        features, opacity, _ = self._render_rays(rays, expression, identity, generator, face)
        return features, opacity

    def _render_rays(
        self,
        rays: Rays,
        expression: torch.Tensor,
        identity: torch.Tensor,
        generator: torch.Generator | None,
        face: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features (B, R, C), opacity (B, R, 1) and opacity-normalised depth (B, R, 1) of one pass."""
        t_all, sample_weights, features = self._ray_samples(rays, expression, identity, generator, face)
        opacity = vr.accumulated_opacity(sample_weights)
        depth = vr.composite(sample_weights, t_all.unsqueeze(-1)) / opacity.clamp(min=1e-6)
        return vr.composite(sample_weights, features), opacity, depth

    def ray_depth(
        self,
        rays: Rays,
        expression: torch.Tensor,
        identity: torch.Tensor,
        generator: torch.Generator | None = None,
        face: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Where ``rays`` end: the opacity-normalised mean distance Σ w t / Σ w (B, R, 1) and the opacity
        (B, R, 1).

        The field alone (no neural renderer): what the geometry prior supervises and its diagnostic reads."""
        _, opacity, depth = self._render_rays(rays, expression, identity, generator, face)
        return depth, opacity

    def _render_map(
        self,
        camera: Camera,
        size: int,
        expression: torch.Tensor,
        identity: torch.Tensor,
        generator: torch.Generator | None,
        chunk_rays: int,
        face: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Feature map (B, C, n, n), opacity (B, 1, n, n) and depth (B, 1, n, n) of an n×n grid, n = size."""
        rays = generate_rays(camera, size, size)
        parts = [
            self._render_rays(rays.chunk(start, start + chunk_rays), expression, identity, generator, face)
            for start in range(0, rays.num_rays, chunk_rays)
        ]
        batch = camera.batch_size
        feature_map, opacity, depth = (
            torch.cat(maps, dim=1).transpose(1, 2).reshape(batch, -1, size, size) for maps in zip(*parts)
        )
        return feature_map, opacity, depth

    def forward(
        self,
        camera: Camera,
        expression: torch.Tensor,
        identity: torch.Tensor,
        generator: torch.Generator | None = None,
        chunk_rays: int = 4096,
        face: torch.Tensor | None = None,
    ) -> RenderOutput:
        """Render B images; ``generator`` jitters the samples (training), ``None`` renders
        deterministically. ``face`` (B, V, 3): each image's face at rest, for a surface-warp field
        (``model/field.py``; None: the mean face)."""
        feature_map, opacity, depth = self._render_map(
            camera, self.config.renderer.feature_size, expression, identity, generator, chunk_rays, face
        )
        return RenderOutput(
            image=self.renderer(feature_map), feature_map=feature_map, opacity=opacity, depth=depth
        )
