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
    driven_alpha,
    make_plan,
    sample_map,
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
def test_outside_the_head_region_the_output_is_the_photo(size: int) -> None:
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
    alpha = np.zeros((height, width), np.float32)
    x0, y0, x1, y1 = plan.window
    side = plan.box[2] - plan.box[0]
    alpha[y0:y1, x0:x1] = driven_alpha(sample_map(frame.opacity, plan.grid), side, plan.config)
    outside = (plan.hole == 0) & (alpha == 0)
    assert outside.mean() > 0.5
    assert np.array_equal(out[outside], plan.photo[outside])
    # Inside, the head moved: the output differs from the photo where the driven head is.
    assert np.abs(out[alpha > 0.99].astype(int) - plan.photo[alpha > 0.99]).mean() > 5


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


def test_where_the_head_left_the_clean_plate_shows_no_ghost() -> None:
    photo = _photo(seed=3)
    photo[90:190, 230:330] = (200, 40, 40)  # a red "head" in the box's middle
    render = np.full((RENDER, RENDER, 3), 200, np.uint8)
    plan = make_plan(photo, BOX, render, _disc(N, (0.5, 0.5), 0.35), CompositeConfig())
    # The driven head is gone (opacity 0): its former place shows the inpainted plate, not the red head.
    ones = np.ones((N, N), np.float32)
    frame = FrameMap(coords=cell_centres(N), visible=ones, opacity=ones * 0)
    out = compose(plan, frame, render)
    centre = out[125:155, 265:295].astype(int)
    assert np.abs(centre - np.array([200, 40, 40])).sum(-1).mean() > 60


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
