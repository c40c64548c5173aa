"""reenact/composite.py: the driven head composited into the photo at the photo's resolution."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reenact.composite import (
    CompositeConfig,
    FrameMap,
    canvas_size,
    cell_centres,
    compose,
    displacement,
    make_plan,
)

N = 16
RENDER = 32


def _photo(height: int = 301, width: int = 517, seed: int = 0) -> np.ndarray:
    """A textured photo: blurred noise plus a gradient (fine detail everywhere)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, (height, width, 3)).astype(np.float32), (0, 0), 1.5)
    ramp = np.linspace(0, 80, width, dtype=np.float32)[None, :, None]
    return np.clip((noise - 128) * 3 + 128 + ramp - 40, 0, 255).astype(np.uint8)


def _disc(n: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """(n, n) float32 soft disc in crop-normalised units."""
    uv = cell_centres(n)
    distance = np.hypot(uv[..., 0] - centre[0], uv[..., 1] - centre[1])
    return np.clip((radius - distance) * n / 2 + 0.5, 0.0, 1.0).astype(np.float32)


BOX = np.array([180.0, 40.0, 380.0, 240.0])  # the crop box in photo pixels (200 px square)


def _plan(photo: np.ndarray, size: int = 1024) -> object:
    render = np.full((RENDER, RENDER, 3), 120, np.uint8)
    return make_plan(photo, BOX, render, _disc(N, (0.5, 0.5), 0.3), CompositeConfig(size=size))


def test_canvas_keeps_the_aspect_ratio_and_even_dimensions() -> None:
    assert canvas_size(517, 301, 256) == (256, 148)
    assert canvas_size(517, 301, 1024) == (516, 300)  # never enlarged, only made even
    assert canvas_size(1080, 1920, 1024) == (576, 1024)
    for width, height in [(517, 301), (333, 999), (1001, 1001)]:
        w, h = canvas_size(width, height, 300)
        assert w % 2 == 0 and h % 2 == 0 and max(w, h) <= 300
        assert abs(w / h - width / height) < 0.02 * width / height


@pytest.mark.parametrize("size", [1024, 256])
def test_outside_the_crop_box_the_output_is_the_photo(size: int) -> None:
    photo = _photo()
    plan = _plan(photo, size)
    frame = FrameMap(
        coords=cell_centres(N) + np.float32(0.05),
        visible=np.ones((N, N), np.float32),
        opacity=_disc(N, (0.6, 0.45), 0.3),
    )
    render = np.full((RENDER, RENDER, 3), 30, np.uint8)
    out = compose(plan, frame, render)
    height, width = plan.photo.shape[:2]
    assert out.shape == plan.photo.shape and out.dtype == np.uint8
    assert (width, height) == canvas_size(photo.shape[1], photo.shape[0], size)
    expected = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)  # 517×301 is never even
    assert np.array_equal(plan.photo, expected)
    x0, y0, x1, y1 = plan.window
    outside = np.ones((height, width), bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], plan.photo[outside])
    # Inside, the head moved: the output differs from the photo in the middle of the box.
    middle = (
        slice((y0 + y1) // 2 - 10, (y0 + y1) // 2 + 10),
        slice((x0 + x1) // 2 - 10, (x0 + x1) // 2 + 10),
    )
    assert np.abs(out[middle].astype(int) - plan.photo[middle]).mean() > 5


def test_displacement_is_the_heads_own_fades_beside_it_and_vanishes_at_the_border() -> None:
    config = CompositeConfig(falloff=0.2, falloff_motion=0.0)
    n = 32
    opacity = _disc(n, (0.5, 0.5), 0.2)
    coords = cell_centres(n) + np.array([0.03, -0.02], np.float32)
    shift, visible = displacement(FrameMap(coords, np.zeros((n, n), np.float32), opacity), config)
    head = opacity >= config.shift_opacity
    assert np.allclose(shift[head], [0.03, -0.02], atol=1e-6)
    assert np.all(shift[0] == 0) and np.all(shift[:, -1] == 0)  # the box's border
    # Beside the head the displacement shrinks with the distance, in the head's direction.
    row = shift[n // 2, :, 0]
    outside = [row[j] for j in range(n // 2, n) if not head[n // 2, j]]
    assert all(a >= b for a, b in zip(outside, outside[1:])) and 0 < outside[0] < 0.03
    # Hidden points count only well inside the head; off it everything is seen.
    assert visible[n // 2, n // 2] == 0 and visible[~head].min() == 1.0
    assert visible[head].max() == 1.0  # the band just inside the silhouette


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_identity_correspondence_reproduces_the_photo() -> None:
    photo = _photo(300, 516, seed=1)  # even: the canvas is the photo itself
    plan = _plan(photo, 1024)
    assert plan.photo is photo
    ones = np.ones((N, N), np.float32)
    frame = FrameMap(coords=cell_centres(N), visible=ones, opacity=ones)
    out = compose(plan, frame, np.zeros((RENDER, RENDER, 3), np.uint8))
    x0, y0, x1, y1 = plan.window
    assert (x1 - x0, y1 - y0) == (200, 200)
    assert _psnr(out[y0:y1, x0:x1], plan.photo[y0:y1, x0:x1]) > 35.0
    assert np.array_equal(out, plan.photo)


def test_hidden_pixels_take_the_colour_matched_render() -> None:
    photo = _photo(seed=2)
    uv = cell_centres(RENDER)
    # The render is the photo's crop, darker and flatter: the colour transfer must undo that.
    crop = cv2.remap(
        photo,
        (BOX[0] + uv[..., 0] * 200 - 0.5).astype(np.float32),
        (BOX[1] + uv[..., 1] * 200 - 0.5).astype(np.float32),
        cv2.INTER_AREA,
    )
    render = (crop.astype(np.float32) * 0.5 + 10).astype(np.uint8)
    opacity = np.ones((N, N), np.float32)
    plan = make_plan(photo, BOX, render, opacity, CompositeConfig())
    frame = FrameMap(coords=cell_centres(N), visible=np.zeros((N, N), np.float32), opacity=opacity)
    out = compose(plan, frame, render)
    x0, y0, x1, y1 = plan.window
    mean_out = out[y0:y1, x0:x1].reshape(-1, 3).mean(0)
    mean_photo = plan.photo[y0:y1, x0:x1].reshape(-1, 3).mean(0)
    assert np.abs(mean_out - mean_photo).max() < 3.0


def test_where_the_head_moved_away_no_ghost_of_it_stays() -> None:
    photo = _photo(seed=3)
    photo[90:190, 230:330] = (200, 40, 40)  # a red "head" in the box's middle (u, v in 0.25..0.75)
    render = np.full((RENDER, RENDER, 3), 200, np.uint8)
    plan = make_plan(photo, BOX, render, _disc(N, (0.5, 0.5), 0.35), CompositeConfig())
    # The driven head moved right by 0.15 of the box: its pixels come from 0.15 to their left.
    ones = np.ones((N, N), np.float32)
    frame = FrameMap(
        coords=cell_centres(N) - np.array([0.15, 0.0], np.float32),
        visible=ones,
        opacity=_disc(N, (0.65, 0.5), 0.3),
    )
    out = compose(plan, frame, render).astype(int)
    red = np.abs(out - np.array([200, 40, 40])).sum(-1) < 60
    assert red[125:155, 290:320].mean() > 0.9  # the head, moved right
    assert red[125:155, 232:246].mean() < 0.05  # where its left part was: background, no ghost


def test_a_tiny_model_drives_the_photo_sharper_than_its_render() -> None:
    """The whole detail path on a tiny random model: frame 0 of a relative drive (the target's own camera
    and β) gives the photo back; a turned frame stays far sharper than the model's own render."""
    torch = pytest.importorskip("torch")
    from model.camera import Camera, frontal_cam_to_world, orbit_cam_to_world
    from model.config import preset
    from model.head_model import HeadModel
    from model.photo_warp import PhotoWarpConfig, correspond, target_depth
    from reenact.composite import frame_maps

    torch.manual_seed(0)
    model = HeadModel(preset("tiny")).eval()
    dims = model.config.field
    identity, beta = torch.randn(1, dims.identity_dim), torch.zeros(2, dims.expression_dim)
    poses = np.stack([frontal_cam_to_world(), orbit_cam_to_world(0.15, 0.05)])
    cameras = Camera(torch.from_numpy(poses).float())
    config = PhotoWarpConfig(size=N)
    target = target_depth(model, Camera(cameras.cam_to_world[:1]), beta[:1], identity, config)
    with torch.no_grad():
        output = model(cameras, beta, identity.expand(2, -1))
    renders = (output.image.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    photo = _photo(300, 516, seed=4)
    plan = make_plan(photo, BOX, renders[0], target.opacity[0].numpy(), CompositeConfig())
    frames = frame_maps(correspond(model, target, cameras, beta, config))
    first, turned = (compose(plan, frame, render) for frame, render in zip(frames, renders))
    x0, y0, x1, y1 = plan.window
    assert _psnr(first[y0:y1, x0:x1], photo[y0:y1, x0:x1]) > 30.0

    def sharpness(image: np.ndarray) -> float:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
        return float(cv2.Laplacian(grey, cv2.CV_64F).var())

    inner = (slice(y0 + 60, y1 - 60), slice(x0 + 60, x1 - 60))  # the middle of the head
    plain = cv2.resize(renders[1], (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)[60:-60, 60:-60]
    assert sharpness(turned[inner]) > 5 * sharpness(plain)
    assert not np.array_equal(turned[inner], photo[inner])  # and it moved


def test_a_mouth_opened_wider_than_the_photos_gets_an_interior() -> None:
    from reenact.photo import LIPS, excess_opening

    DOWN = np.array([0.0, 1.0])  # the face's nose-to-chin direction in the image
    k = (len(LIPS) - 2) // 2
    x = np.linspace(0.4, 0.6, k + 2)[1:-1]
    photo_lips = np.concatenate(
        [[[0.4, 0.6], [0.6, 0.6]], np.stack([x, np.full(k, 0.595)], -1), np.stack([x, np.full(k, 0.605)], -1)]
    )
    # The photo's own (slightly parted) mouth: no excess; the same mouth 0.06 wider open: a 0.06 gap.
    same = excess_opening(photo_lips[None], photo_lips, DOWN)[0]
    assert np.allclose(same[1 : 1 + k], same[2 + k :][::-1], atol=1e-6)  # upper and lower edges meet
    crossed = photo_lips.copy()  # lips pressed past each other (a source closing from an open first frame)
    crossed[2 : 2 + k, 1] += 0.03
    pressed = excess_opening(crossed[None], photo_lips, DOWN)[0]
    assert np.allclose(
        pressed[1 : 1 + k], pressed[2 + k :][::-1], atol=1e-6
    )  # closed, not "open" upside down
    opened = photo_lips.copy()
    opened[2 : 2 + k, 1] -= 0.02
    opened[2 + k :, 1] += 0.04
    polygon = excess_opening(opened[None], photo_lips, DOWN)[0]
    gaps = polygon[2 + k :][::-1, 1] - polygon[1 : 1 + k, 1]
    assert np.allclose(gaps, 0.06, atol=1e-5)
    # A closed photo mouth whose inner lips cross by a hair (the lower edge a little above the upper) opens
    # just the same.
    shut = photo_lips.copy()
    shut[2 : 2 + k, 1], shut[2 + k :, 1] = 0.6005, 0.5995
    crossing = excess_opening(opened[None], shut, DOWN)[0]
    assert np.allclose(crossing[2 + k :][::-1, 1] - crossing[1 : 1 + k, 1], 0.07, atol=1e-5)
    # Composited: dark inside that polygon, the photo elsewhere.
    photo = _photo(300, 516, seed=5)
    photo[150:170, 250:310] = (180, 90, 90)  # lips-coloured around the mouth
    render = np.full((RENDER, RENDER, 3), 120, np.uint8)
    plan = make_plan(photo, BOX, render, np.ones((N, N), np.float32), CompositeConfig(), mouth=photo_lips)
    ones = np.ones((N, N), np.float32)
    frame = FrameMap(coords=cell_centres(N), visible=ones, opacity=ones, mouth=polygon)
    out = compose(plan, frame, render)
    centre_y = int(BOX[1] + 0.61 * 200)  # the polygon's middle (v = 0.58 … 0.64)
    assert out[centre_y, 270:290].mean() < 0.6 * photo[centre_y, 270:290].mean()
    closed = compose(plan, FrameMap(cell_centres(N), ones, ones, mouth=same), render)
    assert np.array_equal(closed, photo)
    from dataclasses import replace

    # With teeth: just under the upper edge (v = 0.58) the teeth's edge, brighter than the dark cavity in the
    # middle of the opening; the lips' corners stay dark.
    assert plan.config.teeth > 0  # the default
    toothy = out.astype(float)
    flat = compose(replace(plan, config=replace(plan.config, teeth=0.0)), frame, render).astype(float)
    upper_y = int(BOX[1] + 0.58 * 200)
    assert toothy[upper_y + 2, 270:290].mean() > 2.0 * toothy[centre_y, 270:290].mean()
    assert toothy[upper_y + 2, 270:290].mean() > 1.5 * flat[upper_y + 2, 270:290].mean()
    assert toothy[upper_y + 2, 262:264].mean() < toothy[upper_y + 2, 275:285].mean()  # fading to the corner
    # A photo whose mouth is open shows its own teeth: none drawn, the cavity still dark and shaded.
    open_plan = make_plan(
        photo, BOX, render, np.ones((N, N), np.float32), CompositeConfig(), mouth=photo_lips, teeth=False
    )
    assert open_plan.teeth is None
    plain = compose(open_plan, frame, render).astype(float)
    assert plain[upper_y + 2, 270:290].mean() < 0.6 * toothy[upper_y + 2, 270:290].mean()
    assert plain[centre_y, 270:290].mean() < 0.6 * photo[centre_y, 270:290].mean()


def test_the_photos_own_opening_is_measured_across_the_mouth() -> None:
    from reenact.photo import LIPS, photo_opening

    down = np.array([0.0, 1.0])
    k = (len(LIPS) - 2) // 2
    x = np.linspace(0.4, 0.6, k + 2)[1:-1]
    corners = [[0.4, 0.6], [0.6, 0.6]]

    def lips(upper: float, lower: float) -> np.ndarray:
        return np.concatenate(
            [corners, np.stack([x, np.full(k, upper)], -1), np.stack([x, np.full(k, lower)], -1)]
        )

    assert np.allclose(photo_opening(lips(0.59, 0.61), down), 0.1)  # 0.02 apart over a 0.2-wide mouth
    assert np.allclose(photo_opening(lips(0.6005, 0.5995), down), 0.0)  # lips crossed by a hair: closed
    assert np.allclose(photo_opening(lips(0.59, 0.61), -down), 0.0)  # the side comes from the face


def test_a_patch_carries_a_sharp_edge_the_coarse_map_blurs() -> None:
    """A fine patch (the eyes, the mouth) replaces the coarse displacement inside its box and blends into it
    at its edge; outside the box nothing changes. The patch holds a step the coarse grid cannot: a lid that
    closes shifts the rows above a line and not those below it."""
    from reenact.composite import Patch, apply_patch, patch_centres, window_grid

    box = np.array([0.0, 0.0, 200.0, 200.0])
    grid = window_grid(box, (0, 0, 200, 200))  # 200 × 200 pixel centres over the crop
    coarse = np.zeros((200, 200, 2), np.float32)
    patch_box = np.array([0.3, 0.4, 0.7, 0.6])
    rows, cols = 40, 20
    centres = patch_centres(patch_box, rows, cols)
    coords = centres.copy()
    coords[centres[..., 1] < 0.5, 1] -= 0.02  # above the line: sample 0.02 higher in the photo
    shift = coarse.copy()
    apply_patch(shift, grid, Patch(box=patch_box, coords=coords), feather=0.25)
    outside = (grid[..., 0] < 0.3) | (grid[..., 0] > 0.7) | (grid[..., 1] < 0.4) | (grid[..., 1] > 0.6)
    assert np.all(shift[outside] == 0.0)
    column = shift[:, 100, 1]  # down the middle of the patch (u = 0.5025)
    v = grid[:, 100, 1]
    # Just above and below the line, at full weight (the middle half of the box), the step is sharp:
    # −0.02 two pixels above it, 0 two pixels below, not a ramp over a coarse cell (1/48 of the crop).
    assert column[(v > 0.46) & (v < 0.495)] == pytest.approx(-0.02, abs=1e-6)
    assert np.all(column[(v > 0.505) & (v < 0.54)] == 0.0)
    # In the feathered band the patch blends: weight 0 at the box's edge, rising inwards.
    band = column[(v > 0.4) & (v < 0.45)]
    assert np.all(np.diff(band) <= 1e-7) and band[0] > -0.005 and band[-1] < -0.015


def _lips(upper: float, lower: float, x0: float = 0.4, x1: float = 0.6) -> np.ndarray:
    """Inner lips as ``reenact.photo.LIPS`` orders them: corners at v = 0.6, flat upper and lower edges."""
    from reenact.photo import LIPS

    k = (len(LIPS) - 2) // 2
    x = np.linspace(x0, x1, k + 2)[1:-1]
    corners = [[x0, 0.6], [x1, 0.6]]
    return np.concatenate(
        [corners, np.stack([x, np.full(k, upper)], -1), np.stack([x, np.full(k, lower)], -1)]
    )


def test_the_mouth_membrane_stretches_the_photos_opening_between_the_driven_lips() -> None:
    from dataclasses import replace

    from reenact.composite import mouth_membrane

    down = np.array([0.0, 1.0])
    photo, driven = _lips(0.55, 0.65), _lips(0.52, 0.70)  # the driven mouth 1.8 times as open
    points = np.array([[0.5, 0.52], [0.5, 0.61], [0.5, 0.70], [0.45, 0.6], [0.5, 0.72], [0.35, 0.6]])
    found, inside = mouth_membrane(points, driven, photo, down)
    # The lips' edges land on the photo's, the middle of the opening on the middle of the photo's.
    assert np.allclose(found[0], [0.5, 0.55], atol=1e-5) and np.allclose(found[2], [0.5, 0.65], atol=1e-5)
    assert np.allclose(found[1], [0.5, 0.60], atol=1e-5) and abs(found[3][0] - 0.45) < 1e-5
    assert inside[:4].all() and not inside[4] and not inside[5]  # below the lower lip, beside the corner
    # A mouth closing from the photo's: the upper teeth keep their size under the upper lip (v 0.59, 0.05 of
    # the width below it, shows the photo's 0.56), the lower lip brings the photo's bottom band (v 0.615 shows
    # 0.645), and the photo's middle is left out.
    found, inside = mouth_membrane(np.array([[0.5, 0.59], [0.5, 0.615]]), _lips(0.58, 0.62), photo, down)
    assert inside.all() and np.allclose(found[:, 1], [0.56, 0.645], atol=1e-5)

    # Composited: under the driven upper lip the photo's own upper teeth (a white band just under its upper
    # lip), the cavity stretched below; without the membrane (a closed photo mouth) the correspondence's.
    image = _photo(300, 516, seed=5)
    image[BOX_ROW(0.55) : BOX_ROW(0.57), 250:310] = 250  # the photo's teeth, under its upper inner lip
    image[BOX_ROW(0.57) : BOX_ROW(0.65), 250:310] = 20  # its dark cavity
    render = np.full((RENDER, RENDER, 3), 120, np.uint8)
    ones = np.ones((N, N), np.float32)
    plan = make_plan(image, BOX, render, ones, CompositeConfig(), mouth=photo, teeth=False, down=down)
    assert plan.teeth is None and plan.lips is not None
    frame = FrameMap(coords=cell_centres(N), visible=ones, opacity=ones, lips=driven)
    out = compose(plan, frame, render).astype(float)
    # The teeth: the photo's first 20 % of its opening → the driven first 20 %, v 0.52 … 0.556.
    assert out[BOX_ROW(0.535), 270:290].mean() > 200
    assert out[BOX_ROW(0.64), 270:290].mean() < 60  # the cavity stretched over the rest
    plain = compose(replace(plan, lips=None), frame, render).astype(float)
    assert plain[BOX_ROW(0.535), 270:290].mean() < 200  # the identity map shows the photo above its lips


def BOX_ROW(v: float) -> int:  # noqa: N802 - a constant-like helper
    """The photo row at crop-normalised height ``v`` of ``BOX`` (the photo is the canvas: no scaling)."""
    return int(BOX[1] + v * (BOX[3] - BOX[1]))
