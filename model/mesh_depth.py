"""Where camera rays meet a triangle mesh: the depth of the tracked face surface, per crop point.

The photo output (``reenact/photo.py``) maps each driven pixel back to the photo through a surface point.
The field's depth is rendered on a 16² grid and upsampled; it cannot hold a nose's relief or the edge of a
lip, so a small head turn moved the nose with the cheeks (no parallax) and lips opened by less than the face
mesh said. Inside the face, the face mesh itself (the landmark model's, moved by the drive) is the surface
the expression deformation is defined on; :func:`mesh_depth` gives its depth along each ray, and a weight
that fades from 1 inside the face to 0 at the mesh's outer rim (:func:`rim_weights`), so the two depths
blend without a step where the face meets the hair, the ears and the neck.

Conventions: points are crop-normalised (u, v) of ``model/camera.py``; depth is the distance from the
camera centre along the unit ray through the point (what ``HeadModel.ray_depth`` and
``model.photo_warp.project`` measure). The mesh's holes (the mouth and the eyes) are holes here too: a ray
through an open mouth meets no triangle.
"""

from __future__ import annotations

import numpy as np
import torch

from model.camera import Camera


def _border_edges(triangles: np.ndarray) -> np.ndarray:
    """(K, 2) the edges of a triangle mesh that belong to one triangle only (its boundary), each sorted."""
    triangles = np.asarray(triangles, np.int64)
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    unique, counts = np.unique(np.sort(edges, axis=1), axis=0, return_counts=True)
    return unique[counts == 1]


def boundary_loops(triangles: np.ndarray) -> list[np.ndarray]:
    """The vertex sets of a triangle mesh's boundary loops (edges of one triangle only), largest first."""
    border = _border_edges(triangles)
    parent: dict[int, int] = {}

    def root(v: int) -> int:
        while parent.setdefault(v, v) != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for a, b in border:
        parent[root(int(a))] = root(int(b))
    loops: dict[int, list[int]] = {}
    for v in np.unique(border):
        loops.setdefault(root(int(v)), []).append(int(v))
    return sorted((np.array(sorted(v)) for v in loops.values()), key=len, reverse=True)


def ordered_loop(triangles: np.ndarray, loop: np.ndarray) -> np.ndarray:
    """The vertices of one boundary loop (from :func:`boundary_loops`) in their order around it."""
    members = set(int(v) for v in loop)
    neighbours: dict[int, list[int]] = {v: [] for v in members}
    for a, b in _border_edges(triangles):
        if int(a) in members and int(b) in members:
            neighbours[int(a)].append(int(b))
            neighbours[int(b)].append(int(a))
    order = [int(loop[0])]
    previous = -1
    while len(order) < len(members):
        step = [v for v in neighbours[order[-1]] if v != previous and v not in order[1:]]
        if not step:
            break
        previous = order[-1]
        order.append(step[0])
    return np.array(order, np.int64)


def hole_caps(triangles: np.ndarray, holes: list[int]) -> np.ndarray:
    """(K, 3) triangles closing the mesh's holes that contain the vertices ``holes`` (one vertex each, e.g.
    an upper eyelid's): a fan over each hole's ordered rim. For depth only: a ray through a closed eye then
    meets the lids' surface instead of passing through to the eyeball behind."""
    caps = []
    for loop in boundary_loops(triangles)[1:]:  # the largest loop is the outline, not a hole
        if not set(int(v) for v in holes) & set(int(v) for v in loop):
            continue
        rim = ordered_loop(triangles, loop)
        caps.extend((rim[0], rim[i], rim[i + 1]) for i in range(1, len(rim) - 1))
    return np.asarray(caps, np.int64).reshape(-1, 3)


def rim_weights(triangles: np.ndarray, count: int) -> np.ndarray:
    """(count,) float32 per-vertex weights: 0 on the mesh's outer boundary (its largest loop: the face's
    outline, not the mouth's or the eyes' rims), 1 elsewhere."""
    weights = np.ones(count, np.float32)
    loops = boundary_loops(triangles)
    if loops:
        weights[loops[0]] = 0.0
    return weights


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _bin_triangles(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, tiles: int) -> torch.Tensor:
    """Triangles (T, 2) corners → (tiles², K) table of the triangles whose screen box meets each tile of a
    tiles × tiles grid over [0, 1]² (−1 pads), so a point is tested against its tile's few triangles only."""
    corners = torch.stack([a, b, c], dim=1)  # (T, 3, 2)
    low = (corners.min(dim=1).values * tiles).floor().clamp(0, tiles - 1).long()
    high = (corners.max(dim=1).values * tiles).floor().clamp(0, tiles - 1).long()
    span = int((high - low + 1).max().item())
    step = torch.arange(span, device=a.device)
    dx, dy = torch.meshgrid(step, step, indexing="xy")
    x = low[:, None, 0] + dx.reshape(1, -1)  # (T, span²)
    y = low[:, None, 1] + dy.reshape(1, -1)
    keep = (x <= high[:, None, 0]) & (y <= high[:, None, 1])
    tile = (y * tiles + x)[keep]
    owner = torch.arange(len(corners), device=a.device)[:, None].expand_as(x)[keep]
    order = torch.argsort(tile)
    tile, owner = tile[order], owner[order]
    counts = torch.bincount(tile, minlength=tiles * tiles)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(tile), device=a.device) - starts[tile]
    width = max(int(counts.max().item()), 1)
    table = torch.full((tiles * tiles, width), -1, dtype=torch.long, device=a.device)
    table[tile, rank] = owner
    return table


@torch.no_grad()
def mesh_depth(
    camera: Camera,
    vertices: torch.Tensor,
    triangles: torch.Tensor,
    weights: torch.Tensor,
    uv: torch.Tensor,
    tiles: int = 32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth (B, P) of the nearest triangle of ``vertices`` (B, V, 3, head frame) seen by ``camera`` (batch B)
    along the rays through crop points ``uv`` (B or 1, P, 2), and the vertex ``weights`` (V,) interpolated
    there (B, P); both 0 where no triangle covers the point. ``triangles`` (T, 3) long. Perspective-correct
    (1/z is linear across a projected triangle). Each point is tested against the triangles binned to its
    tile of a ``tiles`` × ``tiles`` grid over the crop (:func:`_bin_triangles`)."""
    c2w = camera.cam_to_world.to(vertices.dtype)
    local = torch.einsum("bji,bvj->bvi", c2w[:, :3, :3], vertices - c2w[:, None, :3, 3])  # camera frame
    k = camera.intrinsics
    z = local[..., 2].clamp(min=1e-6)
    screen = torch.stack([k.fx * local[..., 0] / z + k.cx, k.fy * local[..., 1] / z + k.cy], dim=-1)
    corner_weights = weights.to(vertices.dtype)[triangles]  # (T, 3)
    uv = uv.to(vertices.dtype).expand(vertices.shape[0], -1, -1)
    depths, blends = [], []
    for item in range(vertices.shape[0]):
        a, b, c = (screen[item, triangles[:, i]] for i in range(3))  # (T, 2)
        inv_z = 1.0 / z[item, triangles]  # (T, 3)
        det = _cross(b - a, c - a)
        usable = det.abs() > 1e-12
        det = torch.where(usable, det, torch.ones_like(det))
        table = _bin_triangles(a, b, c, tiles)
        q = uv[item]  # (P, 2)
        cell = (q * tiles).floor().clamp(0, tiles - 1).long()
        candidates = table[cell[:, 1] * tiles + cell[:, 0]]  # (P, K)
        real = candidates >= 0
        index = candidates.clamp(min=0)
        rel = q[:, None] - a[index]  # (P, K, 2)
        l1 = _cross(rel, (c - a)[index]) / det[index]
        l2 = _cross((b - a)[index], rel) / det[index]
        bary = torch.stack([1.0 - l1 - l2, l1, l2], dim=-1)  # (P, K, 3)
        inside = (bary >= -1e-6).all(-1) & usable[index] & real
        point_inv_z = (bary * inv_z[index]).sum(-1)
        point_z = torch.where(inside & (point_inv_z > 0), 1.0 / point_inv_z.clamp(min=1e-9), torch.inf)
        nearest_z, pick = point_z.min(dim=-1)  # (P,)
        hit = torch.isfinite(nearest_z)
        rows = torch.arange(len(q), device=q.device)
        true_bary = bary[rows, pick] * inv_z[index[rows, pick]]  # perspective-correct weights
        true_bary = true_bary / true_bary.sum(-1, keepdim=True).clamp(min=1e-12)
        blend = (true_bary * corner_weights[index[rows, pick]]).sum(-1)
        ray = torch.sqrt(((q[:, 0] - k.cx) / k.fx) ** 2 + ((q[:, 1] - k.cy) / k.fy) ** 2 + 1.0)
        depths.append(torch.where(hit, nearest_z * ray, torch.zeros_like(nearest_z)))
        blends.append(torch.where(hit, blend, torch.zeros_like(blend)))
    return torch.stack(depths), torch.stack(blends)
