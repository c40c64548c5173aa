"""The surface warp: β bends the field's sample points the way the landmark model moves the face *surface*.

Inputs
    points (B, P, 3) in the canonical head frame (``model/camera.py``), expression β (B, E) (already masked to
    the components the field uses), and optionally each sample's own face at rest, vertices (B, V, 3) (the
    identity shape the tracker fits; the mean face when none is given).
Outputs
    points (B, P, 3) moved back to where they were before the expression: x − w(d) · D(x, β).

Why: the Gaussian warp (``model/warp.py``) averages the motion of every landmark within its radius. The inner
lips are 0.05 head units apart and the eyelids 0.066 (the eyes are 0.7 apart), so near the mouth it averages
the upper lip's motion with the lower lip's: measured on the shipped landmark model it carries 7 % of the
jaw-opening component's lip-gap change and 11 % of the second component's (docs/experiments.md). Here a point
takes the motion of the *nearest point of the posed face mesh*, as RigNeRF does with its morphable model: the
face mesh's triangles (MediaPipe's tessellation) leave the mouth and the eyes open, so a point by the lower
lip follows the lower lip and a point by the upper lid the upper lid.

Conventions
    * The mesh's rest vertices are the sample's face at the reference expression (β = 0); the posed vertices
      add Σ_k β_k basis_k. D(x) is the barycentric blend of the posed vertices' motion at the point of the
      posed mesh nearest to x, found among the triangles around x's ``candidates`` nearest posed vertices
      (exact for every point whose nearest surface point lies on a triangle around one of them: all but
      slivers far from the face, where w is ~0 anyway).
    * w(d) = exp(−d² / (2 r²)) with d the distance to that surface point and r = ``radius``: a point on the
      face moves exactly with it, the skin just below moves along, hair and the back of the head (d ≫ r) stay.
    * β = 0 gives the identity map, so the warp maps the posed face back to the rest face.
    * Geometry (nearest triangle, barycentric weights, w) is computed without a graph; the gradient flows
      through the vertices' motion only, so a fit's β moves the face as the basis says.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

NUM_VERTICES = 468
"""Vertices of the MediaPipe face mesh the landmark model is defined on."""


def vertex_triangles(triangles: np.ndarray, num_vertices: int) -> np.ndarray:
    """(V, K) indices of the triangles around each vertex, padded with −1 (K = the largest vertex degree)."""
    rings: list[list[int]] = [[] for _ in range(num_vertices)]
    for index, triangle in enumerate(np.asarray(triangles)):
        for vertex in triangle:
            rings[int(vertex)].append(index)
    width = max(len(ring) for ring in rings)
    table = np.full((num_vertices, width), -1, np.int64)
    for vertex, ring in enumerate(rings):
        table[vertex, : len(ring)] = ring
    return table


def closest_points_on_triangles(
    points: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Closest point of each triangle (a, b, c) to each point, all (..., 3): returns barycentric weights
    (..., 3) of that point and its squared distance (...). Degenerate triangles fall back to their edges."""
    ab, ac = b - a, c - a
    normal = torch.cross(ab, ac, dim=-1)
    area2 = normal.square().sum(-1)
    ap = points - a
    # Barycentric coordinates of the projection onto the triangle's plane.
    inv = 1.0 / area2.clamp_min(1e-20)
    v = (torch.cross(ap, ac, dim=-1) * normal).sum(-1) * inv
    w = (torch.cross(ab, ap, dim=-1) * normal).sum(-1) * inv
    u = 1.0 - v - w
    inside = (u >= 0) & (v >= 0) & (w >= 0) & (area2 > 1e-20)
    inside_weights = torch.stack([u, v, w], dim=-1)

    def segment(p0: torch.Tensor, p1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        edge = p1 - p0
        t = ((points - p0) * edge).sum(-1) / edge.square().sum(-1).clamp_min(1e-20)
        t = t.clamp(0.0, 1.0)
        distance = (points - (p0 + t.unsqueeze(-1) * edge)).square().sum(-1)
        return t, distance

    t_ab, d_ab = segment(a, b)
    t_bc, d_bc = segment(b, c)
    t_ca, d_ca = segment(c, a)
    zero = torch.zeros_like(t_ab)
    edge_weights = torch.stack(
        [
            torch.stack([1 - t_ab, t_ab, zero], dim=-1),
            torch.stack([zero, 1 - t_bc, t_bc], dim=-1),
            torch.stack([t_ca, zero, 1 - t_ca], dim=-1),
        ],
        dim=-2,
    )  # (..., 3 edges, 3)
    edge_distances = torch.stack([d_ab, d_bc, d_ca], dim=-1)
    best = edge_distances.argmin(-1, keepdim=True)
    outside_weights = torch.gather(edge_weights, -2, best.unsqueeze(-1).expand(*best.shape, 3)).squeeze(-2)
    outside_distance = torch.gather(edge_distances, -1, best).squeeze(-1)
    plane_distance = (ap * normal).sum(-1).square() * inv
    weights = torch.where(inside.unsqueeze(-1), inside_weights, outside_weights)
    distance = torch.where(inside, plane_distance, outside_distance)
    return weights, distance


class SurfaceWarp(nn.Module):
    """x ↦ x − w(d) D(x, β); see the module docstring."""

    def __init__(self, expression_dim: int, radius: float, candidates: int = 3) -> None:
        super().__init__()
        if radius <= 0:
            raise ValueError(f"warp radius must be > 0, got {radius}")
        self.radius = float(radius)
        self.candidates = int(candidates)
        self.register_buffer("anchors", torch.zeros(NUM_VERTICES, 3))
        self.register_buffer("basis", torch.zeros(expression_dim, NUM_VERTICES, 3))
        self.register_buffer("triangles", torch.zeros(0, 3, dtype=torch.long))
        self.register_buffer("rings", torch.zeros(NUM_VERTICES, 0, dtype=torch.long))

    def set_shape(self, mean: np.ndarray, expression_basis: np.ndarray, triangles: np.ndarray) -> None:
        """Take the landmark model's mean (V, 3), expression basis (E', V, 3) and mesh triangles (T, 3);
        components beyond the field's ``expression_dim`` are dropped, missing ones stay zero."""
        mean_t = torch.as_tensor(np.asarray(mean, np.float32))
        basis_t = torch.as_tensor(np.asarray(expression_basis, np.float32))
        if mean_t.shape != self.anchors.shape or basis_t.shape[1:] != self.basis.shape[1:]:
            raise ValueError(
                f"landmark model shapes {tuple(mean_t.shape)}, {tuple(basis_t.shape)} do not fit the warp "
                f"({tuple(self.anchors.shape)}, {tuple(self.basis.shape)})"
            )
        used = min(basis_t.shape[0], self.basis.shape[0])
        triangles = np.asarray(triangles, np.int64)
        with torch.no_grad():
            self.anchors.copy_(mean_t)
            self.basis.zero_()
            self.basis[:used].copy_(basis_t[:used])
        self.triangles = torch.as_tensor(triangles, device=self.anchors.device)
        self.rings = torch.as_tensor(vertex_triangles(triangles, NUM_VERTICES), device=self.anchors.device)

    @property
    def is_set(self) -> bool:
        """False until :meth:`set_shape` ran (or a state dict filled the buffers)."""
        return bool(self.triangles.shape[0] > 0 and self.basis.abs().sum() > 0)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001 - torch's signature
        # The mesh buffers' sizes come from the state dict (an unset warp has empty ones).
        for name in ("triangles", "rings"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key], device=self.anchors.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def displacement(
        self,
        points: torch.Tensor,
        expression: torch.Tensor,
        rest: torch.Tensor | None = None,
        motion: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """w(d) D(x, β) (B, P, 3) for points (B, P, 3), β (B, E) and rest vertices (B, V, 3) (None: the mean
        face), in float32. ``motion`` (B, V, 3): the vertices' motion given directly, instead of β · basis
        (e.g. β's motion with a constraint applied; ``expression`` is then unused)."""
        if not self.is_set:
            raise RuntimeError("the surface warp has no mesh: call set_shape or load a state dict")
        with torch.autocast(points.device.type, enabled=False):
            if motion is None:
                motion = torch.einsum("be,evc->bvc", expression.float(), self.basis.float())  # (B, V, 3)
            motion = motion.float()
            base = self.anchors.float().expand(points.shape[0], -1, -1) if rest is None else rest.float()
            with torch.no_grad():
                weights, corners, falloff = self._nearest(points.detach().float(), base + motion)
            # Gather the motion of each nearest triangle's corners and blend it (with the graph).
            batch = torch.arange(points.shape[0], device=points.device)[:, None, None]
            corner_motion = motion[batch, corners]  # (B, P, 3 corners, 3)
            return (weights.unsqueeze(-1) * corner_motion).sum(-2) * falloff.unsqueeze(-1)

    def _nearest(
        self, points: torch.Tensor, vertices: torch.Tensor, chunk: int = 32768
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Barycentric weights (B, P, 3), corner vertex indices (B, P, 3) and falloff w (B, P) of each point's
        nearest point on the posed mesh ``vertices`` (B, V, 3). Points farther than ``reach`` from every
        vertex have w = 0 and are not searched (most samples lie in empty space or the back of the head).
        Chunked over points to bound memory."""
        batch, count = points.shape[:2]
        weights = points.new_zeros(batch, count, 3)
        corners = torch.zeros(batch, count, 3, dtype=torch.long, device=points.device)
        falloff = points.new_zeros(batch, count)
        # Beyond 4 radii w < 3.4e-4; a point's nearest vertex is at most one edge farther than its nearest
        # surface point.
        edges = vertices[:, self.triangles] - vertices[:, self.triangles.roll(1, dims=1)]
        reach = 4.0 * self.radius + float(edges.norm(dim=-1).max())
        for start in range(0, count, chunk):
            part = points[:, start : start + chunk]  # (B, p, 3)
            distances = torch.cdist(part, vertices)  # (B, p, V)
            closest, nearest = distances.topk(self.candidates, dim=-1, largest=False)  # (B, p, k)
            b_index, p_index = torch.nonzero(closest[..., 0] < reach, as_tuple=True)
            if b_index.numel() == 0:
                continue
            candidates = self.rings[nearest[b_index, p_index]].flatten(-2)  # (n, k * ring), −1 = padding
            triangle_corners = self.triangles[candidates.clamp_min(0)]  # (n, c, 3)
            corner_points = vertices[b_index[:, None, None], triangle_corners]  # (n, c, 3, 3)
            query = part[b_index, p_index].unsqueeze(1).expand_as(corner_points[..., 0, :])
            bary, squared = closest_points_on_triangles(
                query, corner_points[..., 0, :], corner_points[..., 1, :], corner_points[..., 2, :]
            )
            squared = squared.masked_fill(candidates < 0, float("inf"))
            best = squared.argmin(-1, keepdim=True)  # (n, 1)
            rows = p_index + start
            weights[b_index, rows] = torch.gather(bary, 1, best.unsqueeze(-1).expand(-1, -1, 3)).squeeze(1)
            corners[b_index, rows] = torch.gather(
                triangle_corners, 1, best.unsqueeze(-1).expand(-1, -1, 3)
            ).squeeze(1)
            falloff[b_index, rows] = torch.exp(
                -0.5 * torch.gather(squared, 1, best).squeeze(1) / self.radius**2
            )
        return weights, corners, falloff

    def forward(
        self,
        points: torch.Tensor,
        expression: torch.Tensor,
        rest: torch.Tensor | None = None,
        motion: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return (points.float() - self.displacement(points, expression, rest, motion)).to(points.dtype)
