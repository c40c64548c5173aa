"""The driven head composited into the target's own photo, at the photo's resolution.

Per target, once (:func:`make_plan`): the canvas (the photo scaled so its long side is at most ``size``, even
dimensions), the crop box on the canvas, the original head's coverage (the target's opacity, dilated and
feathered), an inpainted fill of that region, and a colour transfer from the neural render to the photo.

Per frame (:func:`compose`): a :class:`FrameMap` from ``model/photo_warp.py`` (n×n: where each driven pixel is
in the target's crop, whether the photo sees it, the driven opacity) is upsampled bilinearly to the canvas
pixels of the crop box (the displacement is upsampled, so a zero displacement gives the photo's own pixels).
Visible pixels take the photo's pixel at the mapped point (``cv2.remap`` at the canvas resolution); hidden
ones take the neural render (resized, colour-matched); the driven opacity, sharpened, is the alpha over the
background. The background is the photo, except where the original head's coverage exceeds the driven
head's (the head turned or moved away): there the fill shows, so no ghost of the original head stays. With
the target's own camera and β the coverages agree and the output is the photo.

Exactness: outside the original head's coverage and wherever the alpha is 0 (driven opacity below
``alpha_floor``), the output is the canvas photo itself, byte for byte.

Coordinates: crop boxes (x0, y0, x1, y1) in continuous pixels (pixel j's centre at j + 0.5, as in
``tracking/crop.py``); crop-normalised (u, v) ∈ [0, 1]² over the box (``model/camera.py``); an n×n map's
cell (i, j) is centred at ((j + 0.5)/n, (i + 0.5)/n). Images are RGB uint8 (H, W, 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CompositeConfig:
    """How the head is put into the photo."""

    size: int = 1024
    """Cap of the canvas's long side (pixels); the photo is never enlarged."""
    head_threshold: float = 0.1
    """Target opacity above which a pixel belongs to the original head (the clean plate's hole)."""
    head_dilation: float = 0.04
    """Growth of that hole, fraction of the crop side (the render's silhouette is soft and approximate)."""
    plate_feather: float = 0.02
    """Feather of the hole's edge in the clean plate, fraction of the crop side."""
    inpaint_size: int = 256
    """Long side at which the hole is inpainted (upsampled after: the fill is smooth anyway)."""
    alpha_floor: float = 0.02
    """Driven opacity below which the pixel is the clean plate's alone."""
    alpha_range: tuple[float, float] = (0.2, 0.8)
    """Driven opacity mapped linearly to alpha 0..1 over this range (sharpens the soft silhouette)."""
    alpha_feather: float = 0.004
    """Blur of the alpha, fraction of the crop side."""
    visible_feather: float = 0.006
    """Blur of the visibility mask, fraction of the crop side (a soft seam between photo and render)."""
    colour_opacity: float = 0.9
    """Target opacity above which pixels enter the colour transfer's statistics."""


@dataclass(frozen=True)
class FrameMap:
    """One driven frame's correspondence with the target's crop (numpy; see ``model/photo_warp.py``)."""

    coords: np.ndarray
    """(n, n, 2) crop-normalised (u, v) in the target's crop."""
    visible: np.ndarray
    """(n, n) in [0, 1]: the photo sees the point."""
    opacity: np.ndarray
    """(n, n) driven opacity."""


@dataclass(frozen=True)
class ColourTransfer:
    """Per-channel affine map render → photo colours: ``gain · rgb + offset`` (0..255 floats)."""

    gain: np.ndarray
    """(3,)"""
    offset: np.ndarray
    """(3,)"""

    def apply(self, image: np.ndarray) -> np.ndarray:
        """(…, 3) → float32 (…, 3)."""
        return image.astype(np.float32) * self.gain.astype(np.float32) + self.offset.astype(np.float32)


@dataclass
class CompositePlan:
    """What compositing needs of one target, computed once by :func:`make_plan`."""

    photo: np.ndarray
    """(H, W, 3) uint8 canvas: the photo at the output size."""
    box: np.ndarray
    """(4,) float64 the crop box on the canvas."""
    window: tuple[int, int, int, int]
    """(x0, y0, x1, y1) integer canvas pixels the box covers, clipped to the canvas."""
    grid: np.ndarray
    """(h, w, 2) float32 crop-normalised (u, v) of the window's pixel centres."""
    fill: np.ndarray
    """(H, W, 3) uint8 the canvas inpainted over the original head's region (used where ``hole`` > 0)."""
    hole: np.ndarray
    """(H, W) float32 in [0, 1]: the original head's :func:`coverage` (where the fill may be needed)."""
    colour: ColourTransfer
    config: CompositeConfig

    @property
    def clean_plate(self) -> np.ndarray:
        """(H, W, 3) uint8 the photo with the original head removed: what shows where no head covers."""
        return blend(self.photo, self.fill, self.hole)


def canvas_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) of the canvas: scaled so the long side is ≤ ``size`` (never enlarged), both even."""
    scale = min(1.0, size / max(width, height))
    even = [max(2, int(round(side * scale)) // 2 * 2) for side in (width, height)]
    return even[0], even[1]


def box_window(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer range (x0, y0, x1, y1) of the pixels whose centres lie in ``box``, clipped to the canvas."""
    x0 = max(0, int(np.ceil(box[0] - 0.5)))
    y0 = max(0, int(np.ceil(box[1] - 0.5)))
    x1 = min(width, int(np.floor(box[2] - 0.5)) + 1)
    y1 = min(height, int(np.floor(box[3] - 0.5)) + 1)
    return x0, y0, max(x0, x1), max(y0, y1)


def window_grid(box: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, 2) float32 crop-normalised (u, v) of the centres of the window's pixels."""
    x0, y0, x1, y1 = window
    side_x, side_y = box[2] - box[0], box[3] - box[1]
    u = (np.arange(x0, x1) + 0.5 - box[0]) / side_x
    v = (np.arange(y0, y1) + 0.5 - box[1]) / side_y
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu, vv], axis=-1).astype(np.float32)


def cell_centres(size: int) -> np.ndarray:
    """(size, size, 2) float32 crop-normalised (u, v) of the cell centres of a size×size map."""
    centres = (np.arange(size) + 0.5) / size
    return np.stack(np.meshgrid(centres, centres), axis=-1).astype(np.float32)


def sample_map(values: np.ndarray, uv: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Bilinear samples of an m×m image ``values`` (m, m[, C]) covering the crop at crop-normalised ``uv``
    (h, w, 2) → (h, w[, C]) float32 (uint8 input keeps its dtype)."""
    m = values.shape[0]
    map_x = uv[..., 0] * m - 0.5
    map_y = uv[..., 1] * m - 0.5
    data = values if values.dtype == np.uint8 else values.astype(np.float32)
    return cv2.remap(
        data, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=border
    )


def sample_box(image: np.ndarray, box: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` (H, W, 3) at crop-normalised ``uv`` (h, w, 2) over ``box``; the image's
    edge pixels are replicated beyond its border."""
    map_x = box[0] + uv[..., 0] * (box[2] - box[0]) - 0.5
    map_y = box[1] + uv[..., 1] * (box[3] - box[1]) - 0.5
    return cv2.remap(
        image,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _blur(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma) if sigma > 0.3 else mask


def coverage(
    opacity: np.ndarray,
    window: tuple[int, int, int, int],
    shape: tuple[int, int],
    side: float,
    config: CompositeConfig,
) -> np.ndarray:
    """(H, W) float32 in [0, 1]: where a head covers the canvas, generously — its opacity over the window
    (h, w) thresholded, dilated and feathered (weight 1 on the dilated region, exactly 0 far from it)."""
    height, width = shape
    x0, y0, x1, y1 = window
    radius = max(1, int(round(config.head_dilation * side)))
    sigma = config.plate_feather * side
    pad = radius + int(np.ceil(3 * sigma)) + 2
    px0, py0, px1, py1 = max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)
    hard = np.zeros((py1 - py0, px1 - px0), np.uint8)
    hard[y0 - py0 : y1 - py0, x0 - px0 : x1 - px0] = opacity > config.head_threshold
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    grown = cv2.dilate(hard, kernel).astype(np.float32)
    # Twice the blur, so that the weight stays 1 on the grown region and fades outside it.
    soft = np.maximum(_blur(grown, sigma) * 2.0, grown).clip(0.0, 1.0)
    soft[soft < 1e-3] = 0.0
    full = np.zeros((height, width), np.float32)
    full[py0:py1, px0:px1] = soft
    return full


def inpaint(photo: np.ndarray, hole: np.ndarray, work_size: int) -> np.ndarray:
    """The photo (H, W, 3) uint8 with ``hole`` (H, W) > 0 filled from its surroundings (Telea, at a long side
    of ``work_size``, then upsampled); the fill only, blend it yourself."""
    height, width = photo.shape[:2]
    scale = min(1.0, work_size / max(height, width))
    small_size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    small = cv2.resize(photo, small_size, interpolation=cv2.INTER_AREA)
    small_hole = (cv2.resize(hole, small_size, interpolation=cv2.INTER_LINEAR) > 0).astype(np.uint8)
    filled = cv2.inpaint(small, small_hole, max(3.0, 0.02 * max(small_size)), cv2.INPAINT_TELEA)
    return cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)


def colour_transfer(render: np.ndarray, photo_crop: np.ndarray, weight: np.ndarray) -> ColourTransfer:
    """Per-channel mean/std match of ``render`` to ``photo_crop`` (both (S, S, 3) uint8) over ``weight`` > 0
    (S, S); identity when fewer than 16 pixels qualify. Gains are kept within [0.5, 2]."""
    pick = weight > 0
    if pick.sum() < 16:
        return ColourTransfer(np.ones(3), np.zeros(3))
    r = render[pick].astype(np.float64)
    p = photo_crop[pick].astype(np.float64)
    gain = np.clip(p.std(0) / np.maximum(r.std(0), 1e-3), 0.5, 2.0)
    return ColourTransfer(gain=gain, offset=p.mean(0) - gain * r.mean(0))


def blend(under: np.ndarray, over: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``over`` on ``under`` (both (H, W, 3) uint8) with ``weight`` (H, W) in [0, 1]: uint8, and exactly
    ``under`` where the weight is 0."""
    out = under.copy()
    pick = weight > 0
    if pick.any():
        w = weight[pick][:, None]
        mixed = under[pick].astype(np.float32) * (1.0 - w) + over[pick].astype(np.float32) * w
        out[pick] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out


def make_plan(
    photo: np.ndarray,
    crop_box: np.ndarray,
    target_render: np.ndarray,
    target_opacity: np.ndarray,
    config: CompositeConfig = CompositeConfig(),
) -> CompositePlan:
    """The per-target plan. ``photo`` (H0, W0, 3) uint8 the target's whole photo; ``crop_box`` (4,) its crop
    box in photo pixels; ``target_render`` (S, S, 3) uint8 the neural render of the target as fitted and
    ``target_opacity`` (n, n) its opacity (both over the crop box)."""
    height0, width0 = photo.shape[:2]
    width, height = canvas_size(width0, height0, config.size)
    canvas = (
        photo
        if (width, height) == (width0, height0)
        else cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    )
    box = np.asarray(crop_box, np.float64) * np.array([width / width0, height / height0] * 2)
    window = box_window(box, width, height)
    grid = window_grid(box, window)
    opacity = sample_map(np.asarray(target_opacity, np.float32), grid)
    hole = coverage(opacity, window, (height, width), float(box[2] - box[0]), config)
    fill = inpaint(canvas, hole, config.inpaint_size)
    crop_uv = cell_centres(target_render.shape[0])
    photo_crop = sample_box(canvas, box, crop_uv)
    weight = sample_map(np.asarray(target_opacity, np.float32), crop_uv) > config.colour_opacity
    colour = colour_transfer(target_render, photo_crop, weight.astype(np.float32))
    return CompositePlan(
        photo=canvas, box=box, window=window, grid=grid, fill=fill, hole=hole, colour=colour, config=config
    )


def driven_alpha(opacity: np.ndarray, side: float, config: CompositeConfig) -> np.ndarray:
    """Alpha (h, w) float32 from upsampled driven opacity over a crop box ``side`` pixels wide: sharpened over
    ``alpha_range``, feathered by ``alpha_feather`` × side (the coarse grid's steps would show), 0 where the
    opacity is below the floor."""
    low, high = config.alpha_range
    alpha = np.clip((opacity - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32)
    alpha = _blur(alpha, config.alpha_feather * side)
    alpha[opacity < config.alpha_floor] = 0.0
    return alpha


def compose(plan: CompositePlan, frame: FrameMap, render: np.ndarray) -> np.ndarray:
    """One output frame (H, W, 3) uint8: the photo's pixels carried by ``frame`` where visible, the
    colour-matched ``render`` (S, S, 3) uint8 where hidden, with the driven alpha over a background that is
    the photo except where the original head's coverage exceeds the driven head's (there the fill shows).
    With the target's own camera and β the two coverages agree, so the background is the photo itself."""
    config = plan.config
    x0, y0, x1, y1 = plan.window
    if x1 <= x0 or y1 <= y0:
        return plan.clean_plate
    # The displacement (not the coordinates) is upsampled: exact at the crop's border, 0 → the photo itself.
    shift = frame.coords - cell_centres(frame.coords.shape[0])
    stacked = np.concatenate([shift, frame.visible[..., None], frame.opacity[..., None]], axis=-1)
    maps = sample_map(stacked.astype(np.float32), plan.grid)  # (h, w, 4)
    side = float(plan.box[2] - plan.box[0])
    driven = coverage(maps[..., 3], plan.window, plan.hole.shape, side, config)
    uncovered = np.clip(plan.hole - driven, 0.0, 1.0)
    out = blend(plan.photo, plan.fill, uncovered)
    alpha = driven_alpha(maps[..., 3], side, config)
    if not alpha.any():
        return out
    carried = sample_box(plan.photo, plan.box, plan.grid + maps[..., :2])
    rendered = np.clip(plan.colour.apply(sample_map(render, plan.grid)) + 0.5, 0, 255).astype(np.uint8)
    visible = _blur(np.clip(maps[..., 2], 0.0, 1.0), config.visible_feather * side)
    face = blend(rendered, carried, visible)
    out[y0:y1, x0:x1] = blend(out[y0:y1, x0:x1], face, alpha)
    return out


def frame_maps(correspondence) -> list[FrameMap]:  # noqa: ANN001 - model.photo_warp.Correspondence (torch)
    """A batched ``model.photo_warp.Correspondence`` as numpy :class:`FrameMap` s (no torch import here)."""
    coords = correspondence.coords.detach().float().cpu().numpy()
    visible = correspondence.visible.detach().float().cpu().numpy()
    opacity = correspondence.opacity.detach().float().cpu().numpy()
    return [FrameMap(coords=coords[i], visible=visible[i], opacity=opacity[i]) for i in range(len(coords))]
