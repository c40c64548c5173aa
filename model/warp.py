"""The expression warp: β bends the field's sample points the way the landmark model moves the face.

Inputs
    points (B, P, 3) in the canonical head frame (``model/camera.py``), expression β (B, E) (already masked to
    the components the field uses).
Outputs
    points (B, P, 3) moved back to where they were before the expression: x − D(x, β).

Why: trained on ~30 people, the field's response to β as a plain input is weak (gain ~0.15 on new faces:
``docs/experiments.md``, "Stage 5: expression critic") — it learns β per person, not as motion. The landmark
model (``tracking/``) says how every one of the 468 face landmarks moves per unit of each β component, for any
face; carrying that motion into the space around the landmarks gives β a geometric meaning that does not have
to be learned from the few identities we have. β still enters the MLP for what geometry cannot explain (teeth,
wrinkles).

Conventions
    * Anchors are the mean face's landmarks; ``basis[k]`` is the motion of each landmark per unit of β_k
      (head units), both set once from the landmark model by training (:meth:`set_shape`) and stored in the
      checkpoint's state dict, so a checkpoint renders without ``tracking/``.
    * D(x) = Σ_j g_j(x) m_j / max(Σ_j g_j(x), 1), with m_j the motion of landmark j and g_j a Gaussian of
      width ``radius`` around the *moved* landmark: near the face D is the average motion of the nearby
      landmarks; farther than ~2 radii from every landmark (hair, the back of the head) it fades to zero.
    * With β = 0 the warp is the identity, so the warp is a backward map from the posed to the canonical face
      (the face of the clip's mean expression, or the fitted frame's own).
    * Only points within :data:`CUTOFF` radii of some moved landmark are weighed (beyond, each weight is below
      1e-6; about 40–60 % of a render's samples lie there: empty space, the back of the head). They are found
      on a grid of each cell's distance to the nearest rest landmark, built once per shape, with the motion's
      largest step and the cell's half-diagonal added to the reach, so no point within the cutoff is missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

NUM_LANDMARKS = 468
"""Landmarks of the MediaPipe face mesh the landmark model is defined on."""

CUTOFF = 5.3
"""Radii beyond which a landmark's Gaussian weight (< 8e-7) is taken as zero."""

_GRID_CELLS = 64
"""Most cells along the longest side of the landmarks' box (the cell is half a radius or larger)."""

_CHUNK = 2048
"""Points weighed at once: the (chunk, 468) weights stay in cache (~20 % faster than one pass)."""


@dataclass(frozen=True)
class _DistanceGrid:
    """Each cell's distance to the nearest rest landmark, over the landmarks' box grown by ``margin``."""

    anchors: torch.Tensor
    """(468, 3) the rest landmarks it was built for."""
    origin: torch.Tensor
    """(3,) the grid's low corner."""
    cell: float
    distances: torch.Tensor
    """(X, Y, Z) from each cell's centre."""
    margin: float
    """A point outside the grid is at least this far from every rest landmark."""

    def near(self, points: torch.Tensor, reach: float) -> torch.Tensor:
        """(…,) bool: which ``points`` (…, 3) may lie within ``reach`` of a rest landmark (never a false
        'no'), or all True when ``reach`` exceeds the grid's margin."""
        if reach > self.margin:
            return torch.ones(points.shape[:-1], dtype=torch.bool, device=points.device)
        shape = torch.tensor(self.distances.shape, device=points.device)
        index = torch.floor((points - self.origin) / self.cell).long()
        inside = ((index >= 0) & (index < shape)).all(-1)
        index = torch.minimum(index.clamp_min(0), shape - 1)
        found = self.distances[index[..., 0], index[..., 1], index[..., 2]]
        return inside & (found < reach + 0.5 * math.sqrt(3.0) * self.cell)

    @staticmethod
    def build(anchors: torch.Tensor, radius: float) -> _DistanceGrid:
        anchors = anchors.detach().float()
        margin = (CUTOFF + 2.0) * radius
        low = anchors.min(0).values - margin
        extent = anchors.max(0).values + margin - low
        cell = max(0.5 * radius, float(extent.max()) / _GRID_CELLS)
        counts = [int(math.ceil(float(e) / cell)) for e in extent]
        axes = [low[i] + (torch.arange(counts[i], device=anchors.device) + 0.5) * cell for i in range(3)]
        centres = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        distances = torch.cat(
            [torch.cdist(part, anchors).min(-1).values for part in centres.split(16384)]
        ).reshape(counts)
        return _DistanceGrid(anchors.clone(), low, cell, distances, margin)


class ExpressionWarp(nn.Module):
    """x ↦ x − D(x, β); see the module docstring."""

    def __init__(self, expression_dim: int, radius: float) -> None:
        super().__init__()
        if radius <= 0:
            raise ValueError(f"warp radius must be > 0, got {radius}")
        self.radius = float(radius)
        self.register_buffer("anchors", torch.zeros(NUM_LANDMARKS, 3))
        self.register_buffer("basis", torch.zeros(expression_dim, NUM_LANDMARKS, 3))
        self._grid: _DistanceGrid | None = None

    def set_shape(self, mean: np.ndarray, expression_basis: np.ndarray) -> None:
        """Take the landmark model's mean (468, 3) and expression basis (E', 468, 3); components beyond the
        field's ``expression_dim`` are dropped, missing ones stay zero."""
        mean = torch.as_tensor(np.asarray(mean, np.float32))
        basis = torch.as_tensor(np.asarray(expression_basis, np.float32))
        if mean.shape != self.anchors.shape or basis.shape[1:] != self.basis.shape[1:]:
            raise ValueError(
                f"landmark model shapes {tuple(mean.shape)}, {tuple(basis.shape)} do not fit the warp "
                f"({tuple(self.anchors.shape)}, {tuple(self.basis.shape)})"
            )
        used = min(basis.shape[0], self.basis.shape[0])
        with torch.no_grad():
            self.anchors.copy_(mean)
            self.basis.zero_()
            self.basis[:used].copy_(basis[:used])

    @property
    def is_set(self) -> bool:
        """False until :meth:`set_shape` ran (or a state dict filled the buffers)."""
        return bool(self.basis.abs().sum() > 0)

    def displacement(self, points: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """D(x, β) (B, P, 3) for points (B, P, 3) and β (B, E), in float32 (also under autocast: the squared
        distances below are differences of numbers ~1 against a width² of ~0.01, too fine for float16).

        The gradient flows through the landmark motion only: the Gaussian weights are computed without a
        graph, in place (their (B, P, 468) buffers are most of the warp's cost). So a fit's β moves the face
        as the basis says, with the neighbourhoods held where they are; measured on a 100-iteration fit of
        ``liveportrait/d6``: the same PSNR to 0.001 dB as the full gradient, 20% faster."""
        with torch.autocast(points.device.type, enabled=False):
            motion = torch.einsum("be,ejc->bjc", expression.float(), self.basis.float())  # (B, J, 3)
            flat = points.detach().float()
            with torch.no_grad():
                moved = self.anchors.float().unsqueeze(0) + motion.detach()
                step = float(motion.detach().norm(dim=-1).max()) if motion.numel() else 0.0
                keep = self._distance_grid().near(flat, CUTOFF * self.radius + step)  # (B, P)
            rows = []
            for b in range(flat.shape[0]):
                index = keep[b].nonzero().squeeze(1)
                parts = [self._weights(flat[b, part], moved[b]) @ motion[b] for part in index.split(_CHUNK)]
                values = torch.cat(parts) if parts else flat.new_zeros(0, 3)
                rows.append(flat.new_zeros(flat.shape[1], 3).index_put((index,), values))
            return torch.stack(rows)

    def _weights(self, points: torch.Tensor, moved: torch.Tensor) -> torch.Tensor:
        """Normalised Gaussian weights (p, J) of points (p, 3) on the moved landmarks (J, 3), in place and
        without a graph."""
        with torch.no_grad():
            # |x − a|² expanded (no sqrt: cdist's gradient is undefined at a distance of zero)
            weights = torch.addmm(moved.square().sum(-1).unsqueeze(0), points, moved.T, alpha=-2.0)
            weights.add_(points.square().sum(-1, keepdim=True)).mul_(-0.5 / self.radius**2).exp_()
            return weights.div_(weights.sum(-1, keepdim=True).clamp_min_(1.0))

    def _distance_grid(self) -> _DistanceGrid:
        grid = self._grid
        if (
            grid is None
            or grid.anchors.device != self.anchors.device
            or not torch.equal(grid.anchors, self.anchors.float())
        ):
            grid = self._grid = _DistanceGrid.build(self.anchors, self.radius)
        return grid

    def forward(self, points: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        return (points.float() - self.displacement(points, expression)).to(points.dtype)
