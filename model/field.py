"""The conditional head field f(γ(x), γ(d), β, z_id) → (σ, F) (paper §2.2.1, Fig. 1).

Inputs
    points (B, R, S, 3): sample positions in the canonical head frame (``model/camera.py``), head units.
    directions (B, R, 3): unit view directions of the rays (world frame).
    expression (B, E): expression code β.  identity (B, D): identity embedding z_id.
Outputs
    :class:`FieldOutput` with density σ (B, R, S, 1) ≥ 0 and features F (B, R, S, C).

Conventions
    * Points are divided by ``HEAD_RADIUS`` before γ, so the bounding sphere maps to the unit ball.
    * With ``warp_radius`` > 0 the points are first moved by the expression warp (``model/warp.py``, or
      ``model/surface_warp.py`` with ``warp_kind="surface"``): σ then depends on β also through where a point
      lands, still never on d. The surface warp takes each sample's face at rest, ``face`` (B, V, 3) in the
      head frame (the face mesh at β = 0: the tracked face minus the motion of the β the field sees); None
      stands for the mean face. The Gaussian warp ignores ``face``.
    * z_id first passes through a learned linear layer (``identity_projection`` wide) so any encoder size
      works; then γ(x) ⊕ β ⊕ proj(z_id) feeds a ReLU MLP with a NeRF-style skip. The first and skip layers
      are computed as W_x·γ(x) + W_c·(β ⊕ proj(z_id)) — identical to a linear layer on the concatenation,
      but the code part is computed once per batch item instead of once per sample.
    * σ = softplus of a linear read-out of the trunk. Only then does γ(d) join: a bottleneck of the trunk
      ⊕ γ(d) → ReLU layer → linear layer to F. σ therefore never depends on d (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from model.camera import HEAD_RADIUS
from model.config import FieldConfig
from model.encoding import encoded_dim, positional_encoding
from model.surface_warp import SurfaceWarp
from model.warp import ExpressionWarp


@dataclass
class FieldOutput:
    """Field values at the samples."""

    density: torch.Tensor
    """σ (B, R, S, 1), non-negative, per head unit."""
    features: torch.Tensor
    """F (B, R, S, C)."""


class _ConditionedLinear(nn.Module):
    """Linear layer on [hidden ⊕ γ(x) ⊕ codes] with the per-batch code term broadcast over samples."""

    def __init__(self, hidden_dim: int, encoding_dim: int, code_dim: int, out_dim: int) -> None:
        super().__init__()
        self.point = nn.Linear(hidden_dim + encoding_dim, out_dim)
        self.code = nn.Linear(code_dim, out_dim, bias=False)

    def forward(self, inputs: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        # inputs (B, P, hidden+enc), codes (B, code_dim) -> (B, P, out)
        return self.point(inputs) + self.code(codes).unsqueeze(1)


class HeadField(nn.Module):
    """f_θ: see the module docstring. ``forward`` gives σ and F; ``density_only`` gives σ alone."""

    def __init__(self, config: FieldConfig) -> None:
        super().__init__()
        self.config = config
        self.position_dim = encoded_dim(3, config.pos_freqs)
        self.direction_dim = encoded_dim(3, config.dir_freqs)
        code_dim = config.expression_dim + config.identity_projection
        # Not persistent: a function of the config, so state dicts stay as they were.
        self.register_buffer(
            "expression_mask",
            (torch.arange(config.expression_dim) < config.seen_expression_components).float(),
            persistent=False,
        )
        self.identity_projection = nn.Linear(config.identity_dim, config.identity_projection)
        self.warp: ExpressionWarp | SurfaceWarp | None = None
        if config.warp_radius > 0:
            kind = SurfaceWarp if config.surface_warp else ExpressionWarp
            self.warp = kind(config.expression_dim, config.warp_radius)
        layers = []
        for index in range(config.depth):
            if index == 0:
                layers.append(_ConditionedLinear(0, self.position_dim, code_dim, config.width))
            elif index == config.skip:
                layers.append(_ConditionedLinear(config.width, self.position_dim, code_dim, config.width))
            else:
                layers.append(nn.Linear(config.width, config.width))
        self.trunk = nn.ModuleList(layers)
        self.density_head = nn.Linear(config.width, 1)
        self.bottleneck = nn.Linear(config.width, config.width)
        self.view_layer = nn.Linear(config.width + self.direction_dim, config.width // 2)
        self.feature_head = nn.Linear(config.width // 2, config.feature_dim)

    def rest_face(self, face: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """The face at rest (B, V, 3) the surface warp takes, from a sample's tracked face ``face`` (B, V, 3)
        and its β (B, E): the face minus the motion of the components the field sees (the others stay in
        it)."""
        if not isinstance(self.warp, SurfaceWarp):
            return face
        seen = (expression * self.expression_mask).float()
        return face - torch.einsum("be,evc->bvc", seen, self.warp.basis.float())

    def _trunk(
        self,
        points: torch.Tensor,
        expression: torch.Tensor,
        identity: torch.Tensor,
        face: torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch, rays, samples, _ = points.shape
        expression = expression * self.expression_mask
        points = points.reshape(batch, rays * samples, 3)
        if isinstance(self.warp, SurfaceWarp):
            points = self.warp(points, expression, rest=face)
        elif self.warp is not None:
            points = self.warp(points, expression)
        encoded = positional_encoding(points / HEAD_RADIUS, self.config.pos_freqs)
        codes = torch.cat([expression, self.identity_projection(identity)], dim=-1)
        hidden = encoded
        for index, layer in enumerate(self.trunk):
            if index == 0:
                hidden = layer(encoded, codes)
            elif index == self.config.skip:
                hidden = layer(torch.cat([hidden, encoded], dim=-1), codes)
            else:
                hidden = layer(hidden)
            hidden = F.relu(hidden)
        return hidden  # (B, R*S, width)

    def _density(self, hidden: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        return F.softplus(self.density_head(hidden)).reshape(*shape[:3], 1)

    def density_only(
        self,
        points: torch.Tensor,
        expression: torch.Tensor,
        identity: torch.Tensor,
        face: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """σ (B, R, S, 1) at ``points`` (B, R, S, 3); the view direction is not an input."""
        return self._density(self._trunk(points, expression, identity, face), points.shape)

    def forward(
        self,
        points: torch.Tensor,
        directions: torch.Tensor,
        expression: torch.Tensor,
        identity: torch.Tensor,
        face: torch.Tensor | None = None,
    ) -> FieldOutput:
        """σ and F at ``points`` (B, R, S, 3) seen along ``directions`` (B, R, 3); ``face``: see the module
        docstring."""
        batch, rays, samples, _ = points.shape
        hidden = self._trunk(points, expression, identity, face)
        density = self._density(hidden, points.shape)
        encoded_dirs = positional_encoding(directions, self.config.dir_freqs)  # (B, R, Dd)
        encoded_dirs = (
            encoded_dirs.unsqueeze(2).expand(batch, rays, samples, -1).reshape(batch, rays * samples, -1)
        )
        view = F.relu(self.view_layer(torch.cat([self.bottleneck(hidden), encoded_dirs], dim=-1)))
        features = self.feature_head(view).reshape(batch, rays, samples, self.config.feature_dim)
        return FieldOutput(density=density, features=features)
