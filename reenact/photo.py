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
from model.photo_warp import PhotoWarpConfig, TargetDepth, correspond, project
from model.surface_warp import SurfaceWarp
from reenact.codes import Codes
from reenact.composite import CompositeConfig, compose, frame_maps, make_plan
from reenact.engine import Engine
from tracking.landmarks import INNER_LIP_CORNERS, LOWER_INNER_LIP, UPPER_INNER_LIP

LIPS = (*INNER_LIP_CORNERS, *UPPER_INNER_LIP, *LOWER_INNER_LIP)
"""The landmarks the mouth fill reads: the two corners, then the upper and the lower inner edge (K each)."""


def excess_opening(lips: np.ndarray, photo_lips: np.ndarray) -> np.ndarray:
    """Where a driven mouth is open beyond the photo's: (b, 2 + 2K, 2) image points of ``LIPS`` of the driven
    frames and (2 + 2K, 2) of the photo → (b, 2 + 2K, 2) polygons (corner, upper edge, corner, lower edge
    reversed). At each of the K positions the driven gap (upper to lower point) keeps its midpoint and
    shrinks by the photo's gap at that position (both measured relative to the corners' distance, so a
    head that comes closer does not open its mouth); a gap no wider than the photo's closes."""
    k = len(UPPER_INNER_LIP)
    corners, upper, lower = lips[:, :2], lips[:, 2 : 2 + k], lips[:, 2 + k :]
    width = np.linalg.norm(corners[:, 1] - corners[:, 0], axis=-1)[:, None]  # (b, 1)
    photo_width = np.linalg.norm(photo_lips[1] - photo_lips[0])
    photo_gap = np.linalg.norm(photo_lips[2 + k :] - photo_lips[2 : 2 + k], axis=-1) / max(photo_width, 1e-9)
    gap = lower - upper
    length = np.linalg.norm(gap, axis=-1)  # (b, K)
    excess = np.clip(length - photo_gap[None] * width, 0.0, None)
    half = gap / np.maximum(length, 1e-9)[..., None] * (excess / 2.0)[..., None]
    middle = (upper + lower) / 2.0
    return np.concatenate(
        [corners[:, :1], middle - half, corners[:, 1:], (middle + half)[:, ::-1]], axis=1
    ).astype(np.float32)


@dataclass(frozen=True)
class PhotoConfig:
    """How the photo output is made."""

    composite: CompositeConfig = CompositeConfig()
    warp: PhotoWarpConfig = PhotoWarpConfig()
    surface_radius: float = 0.1
    """Falloff radius of the surface warp (head units; the eyes are 0.7 apart): the skin within it moves
    with the face mesh, hair and ears beyond it stay."""


@dataclass(frozen=True)
class PhotoTarget:
    """What the photo output needs of a target besides its codes (stored in the codes file)."""

    image: np.ndarray
    """(H, W, 3) uint8 the photo (EXIF-oriented), possibly downscaled from the original."""
    face: np.ndarray
    """(L, 3) float32 the target's face as the tracker reads it in the photo (landmark model, head frame)."""
    expression_basis: np.ndarray
    """(E_t, L, 3) float32 the landmark model's expression basis (what a tracker-code change moves)."""


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
            codes.cam_to_world[None], codes.expression[None], codes.identity[None]
        )
        self.target = TargetDepth(
            camera=Camera(torch.as_tensor(codes.cam_to_world[None], device=device)),
            expression=torch.as_tensor(codes.expression[None], device=device),
            identity=torch.as_tensor(codes.identity[None], device=device),
            depth=torch.as_tensor(depth, device=device),
            opacity=torch.as_tensor(opacity, device=device),
        )
        height, width = target.image.shape[:2]
        # The crop box was found on the original photo; the stored photo may be smaller.
        scale = np.array([width / codes.image_size[0], height / codes.image_size[1]] * 2, np.float64)
        crop = np.asarray(codes.crop, np.float64) * scale
        basis = np.asarray(target.expression_basis, np.float32)
        self.face = torch.as_tensor(np.asarray(target.face, np.float32), device=device)
        self.lip_basis = torch.as_tensor(basis[:, LIPS], device=device)  # (E_t, K', 3)
        self.photo_lips = project(self.face[None, LIPS], self.target.camera)[0][0].cpu().numpy()
        self.plan = make_plan(
            target.image, crop, render[0], opacity[0], config.composite, mouth=self.photo_lips
        )
        self.warp = SurfaceWarp(basis.shape[0], radius=config.surface_radius).to(device)
        self.warp.set_shape(np.asarray(target.face, np.float32), basis, triangles)  # rest = the photo's face

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
        renders, depth, opacity = self.engine.render_maps(cam_to_world, expression, identity)
        camera = Camera(torch.as_tensor(np.asarray(cam_to_world, np.float32), device=device))
        change = torch.as_tensor(np.asarray(face_change, np.float32), device=device)
        found = correspond(
            self.engine.model,
            self.target,
            camera,
            torch.as_tensor(np.asarray(expression, np.float32), device=device),
            self.config.warp,
            deform=lambda points: self.warp(points, change),
            driven=(torch.as_tensor(depth, device=device), torch.as_tensor(opacity, device=device)),
        )
        # The driven mouth: the photo's inner lips moved by the change, seen by the driven camera; what opens
        # beyond the photo's own opening gets the mouth's interior.
        lips = self.face[None, LIPS] + torch.einsum("be,ekc->bkc", change, self.lip_basis)
        mouths = excess_opening(project(lips, camera)[0].cpu().numpy(), self.photo_lips)
        maps = [replace(frame, mouth=mouth) for frame, mouth in zip(frame_maps(found), mouths)]
        return [compose(self.plan, frame, render) for frame, render in zip(maps, renders)]
