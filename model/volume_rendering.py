"""Volume rendering as pure functions (paper Eq. 7): no parameters, no state.

Inputs: densities σ (…, S, 1) at sorted distances t (…, S) inside [near, far] (…, 1); values (…, S, C).
Outputs: per-sample alphas, transmittance and weights (…, S); composited values (…, C); accumulated
opacity (…, 1).

Conventions
    * Quadrature: each sample stands for the interval between the midpoints to its neighbours, the first
      starting at near and the last ending at far, so the intervals tile [near, far] exactly:
      α_i = 1 − exp(−σ_i δ_i), T_i = Π_{j<i} (1 − α_j), w_i = T_i α_i. Constant σ over a segment of length
      L gives opacity exactly 1 − exp(−σL).
    * The background is zero: compositing adds nothing for the transmittance left at far.
"""

from __future__ import annotations

import torch


def interval_lengths(t_values: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
    """δ (…, S): lengths of the intervals each sample represents (they sum to far − near)."""
    mids = 0.5 * (t_values[..., 1:] + t_values[..., :-1])
    edges = torch.cat([near, mids, far], dim=-1)
    return (edges[..., 1:] - edges[..., :-1]).clamp(min=0.0)


def alphas(density: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """α_i = 1 − exp(−σ_i δ_i); density (…, S, 1), deltas (…, S) → (…, S)."""
    return 1.0 - torch.exp(-density.squeeze(-1) * deltas)


def transmittance(alpha: torch.Tensor) -> torch.Tensor:
    """T_i = Π_{j<i} (1 − α_j) (exclusive product); (…, S) → (…, S), T_0 = 1."""
    survive = torch.cumprod(1.0 - alpha + 1e-10, dim=-1)
    return torch.cat([torch.ones_like(survive[..., :1]), survive[..., :-1]], dim=-1)


def weights(alpha: torch.Tensor) -> torch.Tensor:
    """w_i = T_i α_i; (…, S) → (…, S); Σ w_i ≤ 1."""
    return transmittance(alpha) * alpha


def composite(sample_weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Σ_i w_i v_i over samples; weights (…, S), values (…, S, C) → (…, C) (zero background)."""
    return (sample_weights.unsqueeze(-1) * values).sum(dim=-2)


def accumulated_opacity(sample_weights: torch.Tensor) -> torch.Tensor:
    """Σ_i w_i (…, S) → (…, 1), in [0, 1]."""
    return sample_weights.sum(dim=-1, keepdim=True)
