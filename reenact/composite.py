"""The driven head composited into the target's own photo, at the photo's resolution.

Per target, once (:func:`make_plan`): the canvas (the photo scaled so its long side is at most ``size``, even
dimensions), the crop box on the canvas, and a colour transfer from the neural render to the photo.

Per frame (:func:`compose`): a :class:`FrameMap` from ``model/photo_warp.py`` (n×n: where each driven pixel is
in the target's crop, whether the photo sees it, the driven opacity) becomes one displacement field over the
crop box, and the output there is the photo resampled through it (``cv2.remap`` at the canvas resolution):

* on the driven head (opacity ≥ ``shift_opacity``) the displacement is the correspondence's own;
* around it, each cell takes the displacement of the nearest head cell, faded linearly with the distance
  d to the head over L = max(``falloff`` × crop side, ``falloff_motion`` × that displacement): the
  background next to the head moves with it and relaxes to the photo further out, as a 2D warp would. The
  region a head moves away from samples the photo beyond where the head was (background, the neck below the
  chin), never the old head itself, as long as the fade is no steeper than 1/|displacement| (hence the
  motion term in L): no ghost, no inpainting, and the silhouette is the photo's own (sharp, its own hair
  outline) moved by the head model's motion;
* hidden points are only trusted ``hidden_margin`` inside the head's silhouette (the coarse depth is wrong
  at the silhouette);
* at the crop box's border the displacement tapers to 0 over ``border`` × side, so the box meets the
  untouched photo without a seam.

Pixels the photo does not show (the correspondence's hidden points: the side a head turns to) take the
neural render, resized and colour-matched, with a feathered seam. A mouth opened wider than the photo's is
the exception: the face mesh has a hole there, and the points between the parted lips map onto the photo's
lips or skin, which the photo does show. So the part of the driven mouth's opening that exceeds the photo's
own (:attr:`FrameMap.mouth`, from the face mesh's inner lips: ``reenact/photo.py``) is filled with the
mouth's interior: a dark cavity with the upper teeth's edge under the upper lip (:func:`mouth_interior`;
the photo holds neither, and the model's 128² render shows lips there, not an opening). With the target's
own camera and β the displacement is ~0, the mouth opens no wider than the photo's, and the output is the
photo.

Exactness: outside the crop box the output is the canvas photo itself, byte for byte.

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
    shift_opacity: float = 0.5
    """Driven opacity from which a cell's displacement is its own (the head); emptier cells take the nearest
    head cell's, faded."""
    falloff: float = 0.12
    """Least distance (fraction of the crop side) over which the displacement next to the head fades to 0."""
    falloff_motion: float = 1.5
    """The fade is at least this many times the displacement itself (no ghost of the old head)."""
    hidden_margin: float = 0.08
    """Band (fraction of the crop side) inside the head's silhouette where hidden points are not trusted
    (the photo's pixels are used there)."""
    border: float = 0.05
    """Width (fraction of the crop side) over which the displacement tapers to 0 at the crop box's edge."""
    visible_feather: float = 0.006
    """Blur of the visibility mask, fraction of the crop side (a soft seam between photo and render)."""
    colour_opacity: float = 0.9
    """Target opacity above which pixels enter the colour transfer's statistics."""
    mouth_feather: float = 0.006
    """Blur of the mouth opening's edge, fraction of the crop side."""
    mouth_darkness: float = 0.3
    """The mouth's interior colour: the lips' median colour times this."""
    teeth: float = 0.12
    """Height of the upper teeth's visible edge under the upper lip, as a share of the mouth's width (at most
    half the opening), drawn in a shaded interior (:func:`mouth_interior`); 0: the flat interior colour. On
    the 7 pairs: mouth r 0.95 → 0.96, detail 0.79 → 0.82 of the photo's, and an opening reads as a mouth,
    not a hole (``docs/experiments.md``)."""
    patch_feather: float = 0.25
    """Share of a finer patch's sides over which it blends into the coarse map (:func:`apply_patch`)."""


@dataclass(frozen=True)
class FrameMap:
    """One driven frame's correspondence with the target's crop (numpy; see ``model/photo_warp.py``)."""

    coords: np.ndarray
    """(n, n, 2) crop-normalised (u, v) in the target's crop."""
    visible: np.ndarray
    """(n, n) in [0, 1]: the photo sees the point."""
    opacity: np.ndarray
    """(n, n) driven opacity."""
    mouth: np.ndarray | None = None
    """(K, 2) crop-normalised (u, v) polygon: where the driven mouth is open beyond the photo's own opening
    (filled with the mouth's interior colour); None: no mouth fill."""
    patches: tuple[Patch, ...] = ()
    """Finer correspondences over small parts of the crop (the eyes, the mouth), used there instead of the
    n×n map's."""
    lips: np.ndarray | None = None
    """(2 + 2K, 2) crop-normalised driven inner lips (two corners, the upper edge, the lower edge, as
    ``reenact.photo.LIPS``): with ``CompositePlan.lips``, the inside of the driven mouth shows the photo's
    own opening stretched between them (:func:`mouth_membrane`); None: the correspondence's."""


@dataclass(frozen=True)
class Patch:
    """The correspondence on a finer grid over a box of the crop: where the coarse map cannot resolve what
    moves (a lid closing over an eye 2 cells high)."""

    box: np.ndarray
    """(4,) crop-normalised u0, v0, u1, v1."""
    coords: np.ndarray
    """(rows, cols, 2) crop-normalised (u, v) in the target's crop of the box's cell centres."""

    def centres(self) -> np.ndarray:
        """(rows, cols, 2) crop-normalised (u, v) of the box's cell centres."""
        return patch_centres(self.box, *self.coords.shape[:2])


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
    colour: ColourTransfer
    config: CompositeConfig
    interior: np.ndarray | None = None
    """(3,) float32 the colour of a mouth's interior (from the photo's lips)."""
    teeth: np.ndarray | None = None
    """(3,) float32 the colour of the teeth in the mouth's shade (from the lips' brightness); None: none drawn
    (the interior is still shaded when ``config.teeth`` > 0)."""
    lips: np.ndarray | None = None
    """(2 + 2K, 2) crop-normalised inner lips of the photo when its mouth is open (its own teeth and cavity
    to stretch over a driven opening, :func:`mouth_membrane`); None: a closed photo mouth."""
    down: np.ndarray | None = None
    """(2,) the photo's nose-to-chin direction (crop-normalised): which side of the mouth is the lower lip."""


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


def patch_centres(box: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(rows, cols, 2) float32 crop-normalised (u, v) of the cell centres of a rows×cols grid over ``box``
    (u0, v0, u1, v1)."""
    u = box[0] + (np.arange(cols) + 0.5) / cols * (box[2] - box[0])
    v = box[1] + (np.arange(rows) + 0.5) / rows * (box[3] - box[1])
    return np.stack(np.meshgrid(u, v), axis=-1).astype(np.float32)


def apply_patch(shift: np.ndarray, grid: np.ndarray, patch: Patch, feather: float) -> None:
    """Put ``patch``'s displacement into ``shift`` (h, w, 2), the displacement at the crop points ``grid``
    (h, w, 2) (a window's pixel centres, rows and columns each in increasing order), in place: inside the box
    the patch's own, blended into what was there over the outer ``feather`` (fraction of the box's sides)."""
    u0, v0, u1, v1 = (float(x) for x in patch.box)
    cols = np.flatnonzero((grid[0, :, 0] > u0) & (grid[0, :, 0] < u1))
    rows = np.flatnonzero((grid[:, 0, 1] > v0) & (grid[:, 0, 1] < v1))
    if not cols.size or not rows.size:
        return
    window = grid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    a = (window[..., 0] - u0) / (u1 - u0)  # position in the box, [0, 1]
    b = (window[..., 1] - v0) / (v1 - v0)
    height, width = patch.coords.shape[:2]
    own = (patch.coords - patch.centres()).astype(np.float32)
    inner = cv2.remap(
        own,
        (a * width - 0.5).astype(np.float32),
        (b * height - 0.5).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    edge = np.minimum(np.minimum(a, 1.0 - a), np.minimum(b, 1.0 - b))
    weight = np.clip(edge / max(feather, 1e-6), 0.0, 1.0)[..., None]
    region = shift[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    region += weight * (inner - region)


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


def nonzero_box(weight: np.ndarray) -> tuple[slice, slice] | None:
    """(rows, cols) slices of the smallest box holding every weight > 0 of ``weight`` (H, W); None when
    there is none."""
    rows = np.flatnonzero((weight > 0).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero((weight > 0).any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def blend(under: np.ndarray, over: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``over`` ((H, W, 3) uint8, or one (3,) colour) on ``under`` ((H, W, 3) uint8) with ``weight`` (H, W)
    in [0, 1]: uint8, and exactly ``under`` where the weight is 0. Only the box of weights > 0 is computed."""
    out = under.copy()
    box = nonzero_box(weight)
    if box is None:
        return out
    w = weight[box][..., None].astype(np.float32)
    base = under[box].astype(np.float32)
    top = over[box] if over.ndim == 3 else np.asarray(over, np.float32)
    base += w * (top - base)  # a convex combination of 0..255: no clipping needed
    out[box] = (base + 0.5).astype(np.uint8)
    return out


def make_plan(
    photo: np.ndarray,
    crop_box: np.ndarray,
    target_render: np.ndarray,
    target_opacity: np.ndarray,
    config: CompositeConfig = CompositeConfig(),
    mouth: np.ndarray | None = None,
    teeth: bool = True,
    down: np.ndarray | None = None,
) -> CompositePlan:
    """The per-target plan. ``photo`` (H0, W0, 3) uint8 the target's whole photo; ``crop_box`` (4,) its crop
    box in photo pixels; ``target_render`` (S, S, 3) uint8 the neural render of the target as fitted and
    ``target_opacity`` (n, n) its opacity (both over the crop box); ``mouth`` (K, 2) the photo's inner-lip
    contour, crop-normalised, whose colours give the mouth's interior colour (None: no mouth fill);
    ``teeth``: whether the photo's mouth is closed — an opening then gets the upper teeth's edge; where it is
    open (False), no teeth are drawn and, given ``down`` (2,) the face's nose-to-chin direction, the photo's
    own opening is stretched over a driven one (``CompositePlan.lips``, :func:`mouth_membrane`)."""
    height0, width0 = photo.shape[:2]
    width, height = canvas_size(width0, height0, config.size)
    canvas = (
        photo
        if (width, height) == (width0, height0)
        else cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    )
    box = np.asarray(crop_box, np.float64) * np.array([width / width0, height / height0] * 2)
    window = box_window(box, width, height)
    crop_uv = cell_centres(target_render.shape[0])
    photo_crop = sample_box(canvas, box, crop_uv)
    weight = sample_map(np.asarray(target_opacity, np.float32), crop_uv) > config.colour_opacity
    colour = colour_transfer(target_render, photo_crop, weight.astype(np.float32))
    interior = teeth_colour = None
    if mouth is not None:
        polygon = _canvas_points(box, np.asarray(mouth, np.float64))
        lips = canvas[
            np.clip(polygon[:, 1].astype(int), 0, height - 1),
            np.clip(polygon[:, 0].astype(int), 0, width - 1),
        ]
        median = np.median(lips.astype(np.float32), axis=0)
        interior = (median * config.mouth_darkness).astype(np.float32)
        brightness = float(median @ np.array([0.299, 0.587, 0.114], np.float32))
        if teeth:
            shade = np.clip(1.6 * brightness, 140.0, 230.0)
            teeth_colour = (np.array([1.0, 0.96, 0.88], np.float32) * shade).astype(np.float32)
    return CompositePlan(
        photo=canvas,
        box=box,
        window=window,
        grid=window_grid(box, window),
        colour=colour,
        config=config,
        interior=interior,
        teeth=teeth_colour,
        lips=None if teeth or mouth is None or down is None else np.asarray(mouth, np.float32),
        down=None if down is None else np.asarray(down, np.float32),
    )


def _canvas_points(box: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Crop-normalised (u, v) (K, 2) → canvas pixel coordinates (K, 2) (continuous, centres at j + 0.5)."""
    return np.stack([box[0] + uv[:, 0] * (box[2] - box[0]), box[1] + uv[:, 1] * (box[3] - box[1])], axis=-1)


def _fill_polygon(shape: tuple[int, int], points: np.ndarray, sigma: float, offset=(0.0, 0.0)) -> np.ndarray:
    """(h, w) float32 in [0, 1]: the polygon ``points`` (K, 2) (continuous pixel coordinates, minus
    ``offset``) filled with sub-pixel precision, blurred by ``sigma`` pixels. Only the polygon's box grown by
    the blur's reach is drawn and blurred."""
    height, width = shape
    local = points - np.asarray(offset, np.float64)
    reach = int(np.ceil(4.0 * sigma)) + 2
    x0 = max(0, int(np.floor(local[:, 0].min())) - reach)
    y0 = max(0, int(np.floor(local[:, 1].min())) - reach)
    x1 = min(width, int(np.ceil(local[:, 0].max())) + reach)
    y1 = min(height, int(np.ceil(local[:, 1].max())) + reach)
    full = np.zeros(shape, np.float32)
    if x1 <= x0 or y1 <= y0:
        return full
    bits = 4
    scaled = np.round((local - (x0, y0) - 0.5) * (1 << bits)).astype(np.int32)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [scaled.reshape(-1, 1, 2)], 255, lineType=cv2.LINE_AA, shift=bits)
    full[y0:y1, x0:x1] = _blur(mask.astype(np.float32) / 255.0, sigma)
    return full


def _mouth_frame(lips: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, ...]:
    """Inner lips (2 + 2K, 2) → the first corner, the unit axis to the second, the unit normal towards
    ``down``, the corners' distance, and the upper and lower edges' (s, across) coordinates ((K,), (K,)
    each) with s in [0, 1] along the corners' line."""
    k = (len(lips) - 2) // 2
    c0, c1 = lips[0].astype(np.float64), lips[1].astype(np.float64)
    axis = c1 - c0
    width = max(float(np.linalg.norm(axis)), 1e-9)
    axis = axis / width
    normal = np.array([-axis[1], axis[0]])
    if normal @ np.asarray(down, np.float64) < 0:
        normal = -normal
    upper, lower = lips[2 : 2 + k].astype(np.float64) - c0, lips[2 + k :].astype(np.float64) - c0
    return (
        c0,
        axis,
        normal,
        width,
        (upper @ axis / width, upper @ normal),
        (lower @ axis / width, lower @ normal),
    )


def _edge(s: np.ndarray, edge: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The edge's across-coordinate at s (0 at both corners, piecewise linear between its points)."""
    order = np.argsort(edge[0])
    return np.interp(s, np.r_[0.0, edge[0][order], 1.0], np.r_[0.0, edge[1][order], 0.0])


def mouth_membrane(
    uv: np.ndarray, lips: np.ndarray, photo_lips: np.ndarray, down: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where in the photo each point ``uv`` (…, 2) inside a driven mouth looks, for a photo whose own mouth
    is open. Both openings (``lips`` driven, ``photo_lips`` the photo's; 2 + 2K points each) are measured in
    the mouth's frame: s along the corners' line, the depth below the upper lip and the gap, relative to
    the corners' distance. At the same s, the band under the upper lip follows the upper lip unstretched
    (the upper teeth), the band above the lower lip the lower lip (the lower teeth), each as deep as half
    the smaller of the two gaps; a wider driven gap repeats the photo's middle row between them (where the
    drawn interior goes, :func:`excess_opening`), a narrower one leaves the photo's middle out (the jaw
    closing over the cavity). Returns the photo's (u, v) (…, 2) and a mask (…) of the points inside the
    driven opening. ``down`` (2,): the face's nose-to-chin direction (the lower lip's side)."""
    c0, axis, normal, width, upper, lower = _mouth_frame(lips, down)
    q = uv.astype(np.float64) - c0
    s = q @ axis / width
    top, bottom = _edge(s, upper), _edge(s, lower)
    depth = (q @ normal - top) / width  # below the driven upper lip
    gap = (bottom - top) / width
    inside = (s > 0.0) & (s < 1.0) & (depth >= 0.0) & (depth <= gap) & (gap > 1e-6)
    p0, p_axis, p_normal, p_width, p_upper, p_lower = _mouth_frame(photo_lips, down)
    p_top, p_bottom = _edge(s, p_upper), _edge(s, p_lower)
    p_gap = np.maximum((p_bottom - p_top) / p_width, 0.0)
    band = 0.5 * np.minimum(gap, p_gap)
    photo_depth = np.where(
        depth <= band, depth, np.where(depth >= gap - band, p_gap - (gap - depth), 0.5 * p_gap)
    )
    across = p_top + np.clip(photo_depth, 0.0, p_gap) * p_width
    found = p0 + (np.clip(s, 0.0, 1.0) * p_width)[..., None] * p_axis + across[..., None] * p_normal
    return found.astype(np.float32), inside


def mouth_interior(
    polygon: np.ndarray, box: tuple[slice, slice], offset: tuple[int, int], plan: CompositePlan
) -> np.ndarray:
    """(h, w, 3) float32 the mouth's shaded interior over ``box`` (rows, cols of the window; the window at
    canvas ``offset`` (x0, y0)) for the opening ``polygon`` (2 + 2K, 2) canvas points (corner, upper edge,
    corner, lower edge reversed, as ``FrameMap.mouth``). In the mouth's own frame (s along the corners'
    line, t from the upper edge (0) to the lower (1)): the interior colour, darker towards the middle of
    the opening; under the upper edge the teeth's edge, ``plan.config.teeth`` × the width high (at most
    half the opening), fading towards the corners and shaded at its lower rim."""
    k = (len(polygon) - 2) // 2
    upper, lower = polygon[1 : 1 + k], polygon[2 + k :][::-1]
    lips = np.concatenate([polygon[:1], polygon[1 + k : 2 + k], upper, lower])  # as ``LIPS`` orders them
    c0, axis, normal, width, upper_edge, lower_edge = _mouth_frame(lips, (lower - upper).mean(0))
    rows, cols = box
    ys, xs = np.mgrid[rows, cols]
    q = np.stack([xs + offset[0] + 0.5, ys + offset[1] + 0.5], axis=-1) - c0
    s = q @ axis / width
    across = q @ normal
    top, bottom = _edge(s, upper_edge), _edge(s, lower_edge)
    gap = np.maximum(bottom - top, 1e-6)
    t = np.clip((across - top) / gap, 0.0, 1.0)
    shade = 1.0 - 0.45 * np.sin(np.pi * t)  # the cavity darkest mid-way between the lips
    colour = plan.interior[None, None] * shade[..., None]
    if plan.teeth is not None:
        height = np.minimum(plan.config.teeth * width, 0.5 * gap)  # pixels below the upper edge
        depth = (across - top) / np.maximum(height, 1e-6)  # 0 at the edge, 1 at the teeth's rim
        side = np.clip((0.4 - np.abs(s - 0.5)) / 0.12, 0.0, 1.0)  # fading into the corners' shadow
        band = np.clip((1.0 - depth) * 4.0, 0.0, 1.0) * (depth >= -0.5) * side
        light = 0.75 + 0.25 * side - 0.2 * np.clip(depth, 0.0, 1.0)
        teeth = plan.teeth[None, None] * light[..., None]
        colour = colour + band[..., None] * (teeth - colour)
    return colour.astype(np.float32)


def displacement(frame: FrameMap, config: CompositeConfig) -> tuple[np.ndarray, np.ndarray]:
    """The frame's displacement over the crop (n, n, 2), crop-normalised: the correspondence's own on the
    head, the nearest head cell's faded with the distance beside it, tapered at the box's border (see the
    module docstring); and the visibility (n, n) with every cell off the head seen."""
    n = frame.coords.shape[0]
    shift = frame.coords - cell_centres(n)
    head = frame.opacity >= config.shift_opacity
    if not head.any():
        return np.zeros_like(shift), np.ones((n, n), np.float32)
    from scipy.ndimage import binary_erosion, distance_transform_edt

    # Hidden points are trusted inside the head only: at its silhouette the coarse depth puts surface points
    # behind the head, where the photo's own surface would "hide" them.
    core = binary_erosion(head, iterations=max(1, round(config.hidden_margin * n)), border_value=1)
    visible = np.where(core, frame.visible, 1.0).astype(np.float32)
    if not head.all():
        distance, (rows, cols) = distance_transform_edt(~head, return_indices=True)
        shift = shift[rows, cols]
        length = np.maximum(config.falloff, config.falloff_motion * np.linalg.norm(shift, axis=-1)) * n
        shift = shift * np.clip(1.0 - distance / length, 0.0, 1.0)[..., None]
    centres = cell_centres(n)
    edge = np.minimum(centres, 1.0 - centres).min(axis=-1)  # distance to the box's border
    taper = np.clip((edge - 0.5 / n) / max(config.border, 1e-6), 0.0, 1.0)
    return (shift * taper[..., None]).astype(np.float32), visible


def compose(plan: CompositePlan, frame: FrameMap, render: np.ndarray) -> np.ndarray:
    """One output frame (H, W, 3) uint8: the photo resampled through the frame's :func:`displacement` over
    the crop box, the colour-matched ``render`` (S, S, 3) uint8 where the photo does not show the point,
    the photo itself elsewhere."""
    config = plan.config
    x0, y0, x1, y1 = plan.window
    out = plan.photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    shift, visible = displacement(frame, config)
    stacked = np.concatenate([shift, visible[..., None]], axis=-1)
    maps = sample_map(stacked, plan.grid)  # (h, w, 3)
    for patch in frame.patches:
        apply_patch(maps[..., :2], plan.grid, patch, config.patch_feather)
    mapped = plan.grid + maps[..., :2]
    if frame.lips is not None and plan.lips is not None and plan.down is not None:
        # Inside the driven mouth, the photo's own opening stretched between the lips (seen, not filled).
        points = _canvas_points(plan.box, np.asarray(frame.lips, np.float64)) - (x0, y0)
        low = np.clip(np.floor(points.min(axis=0)).astype(int), 0, None)
        high = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 1, (x1 - x0, y1 - y0))
        if (high > low).all():
            lips_box = (slice(low[1], high[1]), slice(low[0], high[0]))
            found, inside = mouth_membrane(plan.grid[lips_box], frame.lips, plan.lips, plan.down)
            mapped[lips_box][inside] = found[inside]
            maps[lips_box][inside, 2] = 1.0
    warped = sample_box(plan.photo, plan.box, mapped)
    side = float(plan.box[2] - plan.box[0])
    seen = _blur(np.clip(maps[..., 2], 0.0, 1.0), config.visible_feather * side)
    hidden = 1.0 - seen
    box = nonzero_box(hidden)
    if box is not None:  # the colour-matched render where the photo does not show the point
        coloured = np.clip(plan.colour.apply(render) + 0.5, 0, 255).astype(np.uint8)
        warped[box] = blend(warped[box], sample_map(coloured, plan.grid[box]), hidden[box])
    if frame.mouth is not None and plan.interior is not None:
        polygon = _canvas_points(plan.box, np.asarray(frame.mouth, np.float64))
        x, y = polygon[:, 0], polygon[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        # A mouth no wider open than the photo's is a degenerate polygon: nothing to fill (not even its
        # anti-aliased outline).
        if area >= 1.0:
            revealed = np.clip(
                _fill_polygon((y1 - y0, x1 - x0), polygon, config.mouth_feather * side, (x0, y0)), 0.0, 1.0
            )
            box = nonzero_box(revealed)
            if config.teeth > 0 and box is not None:
                fill = mouth_interior(polygon, box, (x0, y0), plan)
                warped[box] = blend(warped[box], (fill + 0.5).astype(np.uint8), revealed[box])
            else:
                warped = blend(warped, plan.interior.astype(np.uint8), revealed)
    out[y0:y1, x0:x1] = warped
    return out


def frame_maps(correspondence) -> list[FrameMap]:  # noqa: ANN001 - model.photo_warp.Correspondence (torch)
    """A batched ``model.photo_warp.Correspondence`` as numpy :class:`FrameMap` s (no torch import here)."""
    coords = correspondence.coords.detach().float().cpu().numpy()
    visible = correspondence.visible.detach().float().cpu().numpy()
    opacity = correspondence.opacity.detach().float().cpu().numpy()
    return [FrameMap(coords=coords[i], visible=visible[i], opacity=opacity[i]) for i in range(len(coords))]
