"""``drive``'s default output: the target's own photo, animated by the head model, at the photo's resolution.

The head model decides where every part of the head goes (pose, expression, parts the photo does not show);
the photo's own pixels give the detail. Per target, once (:class:`PhotoRig`): one render pass of the fitted
target (its image, depth and opacity on the feature grid), the composite plan (``reenact/composite.py``:
canvas, clean plate, colour transfer) and the surface warp (``model/surface_warp.py``) on the target's tracked
face. Per batch of frames (:meth:`PhotoRig.frames`): one render pass of the driven frames gives both the
neural render (the fill where the photo does not show a point: mouth interior, the side the head turns to)
and the depth; ``model/photo_warp.py`` maps each pixel of the driven head to the photo (through the driven
depth, the surface warp by the tracker's expression change, the target's camera); ``compose`` puts it
together. With the target's own pose and expression the output is the photo.

Inputs: an :class:`reenact.engine.Engine`, the target's :class:`reenact.codes.Codes` (which carry the photo,
the tracked face and the tracker's expression code of the photo, ``Codes.photo_target``); per batch, the
driven cameras (b, 4, 4), model expressions (b, E) and the tracker-expression change (b, E_t) from the
photo's (``reenact.motion.face_changes``). Output: uint8 (H, W, 3) frames, H × W = the canvas
(``composite.canvas_size``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from model.camera import Camera
from model.mesh_depth import hole_caps, mesh_depth, rim_weights
from model.photo_warp import (
    PhotoWarpConfig,
    Surface,
    TargetDepth,
    correspond,
    correspond_at,
    grid_points,
    on_surface,
    project,
)
from model.surface_warp import SurfaceWarp
from reenact.codes import Codes
from reenact.composite import CompositeConfig, Patch, compose, frame_maps, make_plan, patch_centres
from reenact.engine import Engine
from tracking.landmarks import (
    CHIN,
    INNER_LIP_CORNERS,
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LOWER_INNER_LIP,
    LOWER_LIDS,
    NOSE_TIP,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    UPPER_INNER_LIP,
    UPPER_LIDS,
)

LIPS = (*INNER_LIP_CORNERS, *UPPER_INNER_LIP, *LOWER_INNER_LIP)
"""The landmarks the mouth fill reads: the two corners, then the upper and the lower inner edge (K each)."""
_HALF = len(UPPER_LIDS) // 2
DETAIL_REGIONS = (
    (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, *UPPER_LIDS[:_HALF], *LOWER_LIDS[:_HALF]),
    (LEFT_EYE_INNER, LEFT_EYE_OUTER, *UPPER_LIDS[_HALF:], *LOWER_LIDS[_HALF:]),
    LIPS,
)
"""The parts that get a finer correspondence (:meth:`PhotoRig.patches`): each eye (corners and lids), the
mouth (inner lips)."""


def close_openings(face: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """Vertex motion (B, V, 3) of ``face`` (V, 3) with lips and eyelids that meet instead of passing through
    each other: wherever a lower inner-lip (lower-lid) point would end above its upper partner (along the
    face's nose-to-chin direction), both move to their midpoint. A source that closes its mouth (eyes) from
    an open first frame drives a photo whose mouth (eyes) is less open past closed; this stops it there."""
    down = face[CHIN] - face[NOSE_TIP]
    down = down / down.norm().clamp_min(1e-9)
    posed = face[None] + motion
    upper, lower = [*UPPER_INNER_LIP, *UPPER_LIDS], [*LOWER_INNER_LIP, *LOWER_LIDS]
    gap = ((posed[:, lower] - posed[:, upper]) * down).sum(-1, keepdim=True)  # (B, K, 1)
    shift = gap.clamp(max=0.0) / 2.0 * down  # zero where the lips are apart
    motion = motion.clone()
    motion[:, upper] += shift
    motion[:, lower] -= shift
    return motion


def _mouth(points: np.ndarray) -> tuple[np.ndarray, ...]:
    """``LIPS`` points (…, 2 + 2K, 2) → corners (…, 2, 2), upper and lower edges (…, K, 2), the unit normal of
    the corners' line (…, 2) and the corners' distance (…)."""
    k = len(UPPER_INNER_LIP)
    corners, upper, lower = points[..., :2, :], points[..., 2 : 2 + k, :], points[..., 2 + k :, :]
    line = corners[..., 1, :] - corners[..., 0, :]
    width = np.linalg.norm(line, axis=-1)
    normal = np.stack([-line[..., 1], line[..., 0]], axis=-1) / np.maximum(width, 1e-9)[..., None]
    return corners, upper, lower, normal, width


def _opening(photo_lips: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`photo_opening` and the corners' unit normal on the side of ``down`` it is measured along."""
    _, upper, lower, normal, width = _mouth(photo_lips)
    if normal @ np.asarray(down, np.float64) < 0:
        normal = -normal
    return np.clip((lower - upper) @ normal, 0.0, None) / max(float(width), 1e-9), normal


def photo_opening(photo_lips: np.ndarray, down: np.ndarray) -> np.ndarray:
    """The photo's own mouth opening: (2 + 2K, 2) image points of ``LIPS`` → (K,) gap between the inner lips
    across the mouth (along the corners' normal on the side of ``down``, the nose-to-chin direction; lips
    pressed past each other count as 0), relative to the corners' distance."""
    return _opening(photo_lips, down)[0]


def excess_opening(
    lips: np.ndarray, photo_lips: np.ndarray, down: np.ndarray, fill: float = 1.0
) -> np.ndarray:
    """Where a driven mouth is open beyond the photo's: (b, 2 + 2K, 2) image points of ``LIPS`` of the driven
    frames and (2 + 2K, 2) of the photo → (b, 2 + 2K, 2) polygons (corner, upper edge, corner, lower edge
    reversed). At each of the K positions the gap is measured across the mouth, along the normal of the
    corners' line on the side of ``down`` (2,), the photo's nose-to-chin direction in the image (lips pressed
    past each other have a negative gap: closed), relative to the corners' distance (a head that comes
    closer does not open its mouth); the driven gap keeps its midpoint and shrinks by the photo's gap there,
    so a gap no wider than the photo's closes; ``fill`` scales what is left.

    The side comes from the face, not from the photo's lips: a closed mouth's inner lips cross by a pixel as
    often as not, and a normal taken from their order turned every later opening into a "closed" one."""
    photo_gap, photo_normal = _opening(photo_lips, down)
    corners, upper, lower, normal, width = _mouth(lips)
    normal = normal * np.where(normal @ photo_normal < 0, -1.0, 1.0)[:, None]  # a mouth does not flip
    gap = ((lower - upper) * normal[:, None]).sum(-1)  # (b, K), signed
    excess = np.clip(gap - photo_gap[None] * width[:, None], 0.0, None) * fill
    middle, half = (upper + lower) / 2.0, normal[:, None] * (excess / 2.0)[..., None]
    return np.concatenate(
        [corners[:, :1], middle - half, corners[:, 1:], (middle + half)[:, ::-1]], axis=1
    ).astype(np.float32)


@dataclass(frozen=True)
class PhotoConfig:
    """How the photo output is made."""

    composite: CompositeConfig = CompositeConfig()
    warp: PhotoWarpConfig = PhotoWarpConfig()
    mouth_fill: float = 0.6
    """Share of the mouth's extra opening drawn as its dark interior (``excess_opening``). The photo's lips
    move less than the face mesh says (the coarse depth, the falloff), and a full-size interior covered them:
    on the d6 → anne-hathaway pair the mouth followed at 0.56 with 1.0, 0.91 with 0.6 or 0.4, 0.66 with no
    interior; 0.77 → 0.73 on retalking/4 → tom-hanks."""
    surface_radius: float = 0.1
    """Falloff radius of the surface warp (head units; the eyes are 0.7 apart): the skin within it moves
    with the face mesh, hair and ears beyond it stay."""
    mesh_depth: bool = True
    """Inside the face, map pixels through the face mesh's own depth (``model/mesh_depth.py``) instead of the
    field's 16² depth alone, blended to it at the face's outline: the nose's relief and the lips' edges."""
    cap_eyes: bool = True
    """For the mesh depth, close the face mesh's eye holes (a fan over each rim, ``hole_caps``): a ray
    through an eye meets the lids' surface, so its point takes the lids' motion in full (through the hole it
    met the field's eyeball behind, farther from the lids, and a blink closed the photo's eye by half)."""
    teeth_opening: float = 0.03
    """The drawn teeth (``CompositeConfig.teeth``) only where the photo's mouth is closed: its mean
    :func:`photo_opening` at most this share of the mouth's width (closed mouths measure under 0.01, parted
    lips 0.06 and up). An open photo's own teeth and cavity stretch over the opening; drawn ones sat in the
    middle of it as a second row and made the mouth read less open (``docs/experiments.md``)."""
    cap_mouth: bool = False
    """The same for the mouth's hole."""
    align_face: bool = True
    """Move the photo's face mesh into the fitted model's head frame (:meth:`PhotoTarget.in_model_frame`)."""
    detail_cell: float = 0.008
    """Cell side (crop-normalised) of the finer correspondence over the eyes and the mouth; the n×n grid's
    is 1/n (0.021 at n = 48), about the height of an open eye, so a blink's lids meet a cell apart. 0: off."""
    detail_margin: float = 0.5
    """Each fine patch covers its landmarks' box grown by this share of its size on every side (at least
    ``detail_min`` wide and high)."""
    detail_min: float = 0.08
    """Least side (crop-normalised) of a fine patch."""
    detail_max_cells: int = 24
    """Most cells along a fine patch's side."""


@dataclass(frozen=True)
class PhotoTarget:
    """What the photo output needs of a target besides its codes (stored in the codes file)."""

    image: np.ndarray
    """(H, W, 3) uint8 the photo (EXIF-oriented), possibly downscaled from the original."""
    face: np.ndarray
    """(L, 3) float32 the target's face as the tracker reads it in the photo (landmark model, head frame)."""
    expression_basis: np.ndarray
    """(E_t, L, 3) float32 the landmark model's expression basis (what a tracker-code change moves)."""
    pose: np.ndarray | None = None
    """(4, 4) the tracker's camera-to-head pose of the photo (what sees ``face`` where the photo shows it);
    None: the fitted camera's (codes files from before it was stored)."""

    def in_model_frame(self, cam_to_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``face`` and ``expression_basis`` moved into the fitted model's head frame: the rigid map
        ``cam_to_world ∘ pose⁻¹`` takes a point the tracker's camera sees at a pixel to the point the fitted
        camera sees there, so the face mesh lies on the model's head in the photo's view (they differ by a
        few degrees of roll and hundredths of a head unit: enough to put the lids' motion beside the lids)."""
        if self.pose is None:
            return np.asarray(self.face, np.float32), np.asarray(self.expression_basis, np.float32)
        transform = np.asarray(cam_to_world, np.float64) @ np.linalg.inv(np.asarray(self.pose, np.float64))
        rotation, shift = transform[:3, :3], transform[:3, 3]
        face = np.asarray(self.face, np.float64) @ rotation.T + shift
        basis = np.asarray(self.expression_basis, np.float64) @ rotation.T
        return face.astype(np.float32), basis.astype(np.float32)


class PhotoRig:
    """One target's photo output; :meth:`frames` turns batches of driven parameters into output frames."""

    def __init__(
        self,
        engine: Engine,
        codes: Codes,
        target: PhotoTarget,
        triangles: np.ndarray,
        config: PhotoConfig = PhotoConfig(),
    ) -> None:
        self.engine, self.codes, self.config = engine, codes, config
        device = engine.device
        render, depth, opacity = engine.render_maps(
            codes.cam_to_world[None], codes.expression[None], codes.identity[None], codes.rest_face
        )
        self.target = TargetDepth(
            camera=Camera(torch.as_tensor(codes.cam_to_world[None], device=device)),
            expression=torch.as_tensor(codes.expression[None], device=device),
            identity=torch.as_tensor(codes.identity[None], device=device),
            depth=torch.as_tensor(depth, device=device),
            opacity=torch.as_tensor(opacity, device=device),
        ).at_size(config.warp.size)  # once, not per batch (``correspond`` works on its grid)
        height, width = target.image.shape[:2]
        # The crop box was found on the original photo; the stored photo may be smaller.
        scale = np.array([width / codes.image_size[0], height / codes.image_size[1]] * 2, np.float64)
        crop = np.asarray(codes.crop, np.float64) * scale
        if not config.align_face:
            target = replace(target, pose=None)
        face, basis = target.in_model_frame(codes.cam_to_world)
        self.face = torch.as_tensor(face, device=device)
        self.basis = torch.as_tensor(basis, device=device)
        self.photo_lips = project(self.face[None, LIPS], self.target.camera)[0][0].cpu().numpy()
        nose, chin = project(self.face[None, [NOSE_TIP, CHIN]], self.target.camera)[0][0].cpu().numpy()
        self.photo_down = chin - nose
        mouth_closed = float(photo_opening(self.photo_lips, self.photo_down).mean()) <= config.teeth_opening
        self.plan = make_plan(
            target.image,
            crop,
            render[0],
            opacity[0],
            config.composite,
            mouth=self.photo_lips,
            teeth=mouth_closed,
            down=self.photo_down,
        )
        self.warp = SurfaceWarp(basis.shape[0], radius=config.surface_radius).to(device)
        self.warp.set_shape(face, basis, triangles)  # rest = the photo's face
        self.triangles = torch.as_tensor(np.asarray(triangles, np.int64), device=device)
        holes = [UPPER_LIDS[_HALF // 2], UPPER_LIDS[_HALF + _HALF // 2]] if config.cap_eyes else []
        holes += [UPPER_INNER_LIP[0]] if config.cap_mouth else []
        closed = np.concatenate([np.asarray(triangles, np.int64), hole_caps(triangles, holes)])
        self.depth_triangles = torch.as_tensor(closed, device=device)
        self.rim = torch.as_tensor(rim_weights(triangles, face.shape[0]), device=device)
        if config.mesh_depth:  # the photo's own depth on the same surface the driven frames use
            n = config.warp.size
            depth = on_surface(
                self.target.depth.reshape(1, n * n),
                self.surface(self.target.camera, self.face[None])(grid_points(n, device)),
            )
            self.target = replace(self.target, depth=depth.reshape(1, n, n))

    def surface(self, camera: Camera, vertices: torch.Tensor) -> Surface | None:
        """The face mesh ``vertices`` (B, V, 3) as the surface the correspondence pulls its depth onto
        (None when ``mesh_depth`` is off)."""
        if not self.config.mesh_depth:
            return None
        return lambda uv: mesh_depth(camera, vertices, self.depth_triangles, self.rim, uv)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the output frames."""
        height, width = self.plan.photo.shape[:2]
        return width, height

    @torch.no_grad()
    def frames(
        self, cam_to_world: np.ndarray, expression: np.ndarray, face_change: np.ndarray
    ) -> list[np.ndarray]:
        """Output frames for b driven cameras (b, 4, 4), model expressions (b, E) and tracker-expression
        changes from the photo's (b, E_t)."""
        device = self.engine.device
        identity = np.repeat(self.codes.identity[None], len(cam_to_world), axis=0)
        renders, depth, opacity = self.engine.render_maps(
            cam_to_world, expression, identity, self.codes.rest_face
        )
        camera = Camera(torch.as_tensor(np.asarray(cam_to_world, np.float32), device=device))
        change = torch.as_tensor(np.asarray(face_change, np.float32), device=device)
        motion = close_openings(self.face, torch.einsum("be,evc->bvc", change, self.basis))
        found = correspond(
            self.engine.model,
            self.target,
            camera,
            torch.as_tensor(np.asarray(expression, np.float32), device=device),
            self.config.warp,
            deform=lambda points: self.warp(points, change, motion=motion),
            driven=(torch.as_tensor(depth, device=device), torch.as_tensor(opacity, device=device)),
            surface=self.surface(camera, self.face[None] + motion),
        )
        # The driven mouth: the photo's inner lips moved by the change, seen by the driven camera; what opens
        # beyond the photo's own opening gets the mouth's interior.
        lips = project(self.face[None, LIPS] + motion[:, LIPS], camera)[0].cpu().numpy()
        mouths = excess_opening(lips, self.photo_lips, self.photo_down, self.config.mouth_fill)
        patches = self.patches(camera, expression, change, motion, (depth, opacity))
        maps = [
            replace(frame, mouth=mouth, patches=frame_patches, lips=frame_lips)
            for frame, mouth, frame_patches, frame_lips in zip(frame_maps(found), mouths, patches, lips)
        ]
        return [compose(self.plan, frame, render) for frame, render in zip(maps, renders)]

    def patches(
        self,
        camera: Camera,
        expression: np.ndarray,
        change: torch.Tensor,
        motion: torch.Tensor,
        driven: tuple[np.ndarray, np.ndarray],
    ) -> list[tuple[Patch, ...]]:
        """Per frame, the finer correspondences over the driven eyes and mouth (:data:`DETAIL_REGIONS`): each
        part's box from the driven face mesh seen by the driven camera, a grid of ``detail_cell`` cells over
        it (at most ``detail_max_cells`` a side), mapped to the photo as the coarse grid is."""
        config = self.config
        batch = camera.batch_size
        if config.detail_cell <= 0:
            return [() for _ in range(batch)]
        device = self.engine.device
        posed = self.face[None] + motion
        boxes, grids = [], []  # per frame and region
        for region in DETAIL_REGIONS:
            seen = project(posed[:, list(region)], camera)[0].cpu().numpy()  # (b, K, 2)
            low, high = seen.min(axis=1), seen.max(axis=1)
            half = np.maximum((high - low) * (0.5 + config.detail_margin), config.detail_min / 2.0)
            centre = (low + high) / 2.0
            box = np.concatenate([centre - half, centre + half], axis=1)  # (b, 4)
            cells = np.clip(np.ceil(2.0 * half / config.detail_cell), 2, config.detail_max_cells).astype(int)
            # One grid shape per region for the whole batch (the largest), so the batch maps in one call.
            cols, rows = int(cells[:, 0].max()), int(cells[:, 1].max())
            boxes.append(box)
            grids.append(np.stack([patch_centres(b, rows, cols) for b in box]))  # (b, rows, cols, 2)
        points = torch.as_tensor(
            np.concatenate([g.reshape(batch, -1, 2) for g in grids], axis=1), device=device
        )
        found, _ = correspond_at(
            self.engine.model,
            self.target,
            camera,
            torch.as_tensor(np.asarray(expression, np.float32), device=device),
            points,
            (torch.as_tensor(driven[0], device=device), torch.as_tensor(driven[1], device=device)),
            config.warp,
            deform=lambda p: self.warp(p, change, motion=motion),
            surface=self.surface(camera, posed),
        )
        found = found.cpu().numpy()
        result, start = [[] for _ in range(batch)], 0
        for box, grid in zip(boxes, grids):
            rows, cols = grid.shape[1:3]
            coords = found[:, start : start + rows * cols].reshape(batch, rows, cols, 2)
            start += rows * cols
            for i in range(batch):
                result[i].append(Patch(box=box[i], coords=coords[i]))
        return [tuple(parts) for parts in result]
