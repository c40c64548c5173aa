"""NeRF positional encoding γ (paper Eq. 6, NeRF §5.1).

Input: ``values`` (..., D) float. Output: (..., D · (1 + 2·L)) — the input itself, then sin(2^k π v) and
cos(2^k π v) for k = 0 … L−1, grouped by frequency. Pure function, no parameters, dtype-preserving.
"""

from __future__ import annotations

import math

import torch


def encoded_dim(input_dim: int, num_freqs: int) -> int:
    """Width of :func:`positional_encoding` for ``input_dim`` inputs and ``num_freqs`` frequencies."""
    return input_dim * (1 + 2 * num_freqs)


def positional_encoding(values: torch.Tensor, num_freqs: int) -> torch.Tensor:
    """γ(v) = (v, sin(2^0 π v), cos(2^0 π v), …, sin(2^{L−1} π v), cos(2^{L−1} π v)); (..., D) →
    (..., D(1+2L))."""
    if num_freqs == 0:
        return values
    freqs = (2.0 ** torch.arange(num_freqs, device=values.device, dtype=values.dtype)) * math.pi
    scaled = values.unsqueeze(-2) * freqs.unsqueeze(-1)  # (..., L, D)
    encoded = torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=-1)  # (..., L, 2D)
    return torch.cat([values, encoded.flatten(-2)], dim=-1)
