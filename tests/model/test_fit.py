import numpy as np
import pytest
import torch

from model.camera import orbit_cam_to_world
from model.checkpoint import load_checkpoint
from model.config import preset
from model.fit import FitConfig, axis_angle_matrix, fit_codes
from model.train import TrainConfig, train

from .conftest import write_cache


def test_axis_angle_matrix_matches_numpy():
    from model.camera import rotation_matrix

    omega = torch.tensor([0.1, -0.2, 0.3])
    assert torch.allclose(
        axis_angle_matrix(omega), torch.from_numpy(rotation_matrix(omega.numpy())).float(), atol=1e-6
    )
    assert torch.allclose(axis_angle_matrix(torch.zeros(3)), torch.eye(3))


def test_fit_raises_psnr_on_held_out_real_frame(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "cache", clip_frames[:10])
    config = TrainConfig(
        steps=250,
        batch_size=2,
        lr=5e-3,
        checkpoint_every=1000,
        preview_every=0,
        out_dir=str(tmp_path / "run"),
    )
    train(preset("tiny"), config, cache)
    model, _ = load_checkpoint(tmp_path / "run" / "last.pt")
    held_out = torch.from_numpy(clip_frames[11]).permute(2, 0, 1).float() / 255.0
    mask = torch.ones(1, 64, 64)
    identity = torch.from_numpy(np.load(cache / "M030.npz")["identity"])
    before = [p.clone() for p in model.parameters()]
    # Start from a camera that is off by ~6° of yaw and ~3° of pitch, like a tracking error.
    start_camera = torch.from_numpy(orbit_cam_to_world(0.1, -0.06)).float()
    result = fit_codes(
        model,
        held_out,
        mask,
        start_camera,
        torch.zeros(46),
        identity,
        FitConfig(iterations=60, finetune_renderer=False),
    )
    assert result.psnr > result.psnr_initial + 1.5, (
        result.psnr_initial,
        result.psnr,
    )  # measured 19.0 → 23.0 dB
    assert result.ssim > result.ssim_initial
    assert (
        result.identity.shape == (128,)
        and result.expression.shape == (46,)
        and result.cam_to_world.shape == (4, 4)
    )
    assert len(result.loss_history) == 60 and result.render.shape == (3, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # network frozen and unchanged
    assert all(p.requires_grad for p in model.parameters())  # caller's flags restored

    tuned = fit_codes(
        model,
        held_out,
        mask,
        result.cam_to_world,
        result.expression,
        result.identity,
        FitConfig(
            iterations=5,
            optimize_camera=False,
            finetune_renderer=True,
            finetune_iterations=30,
            finetune_lr=1e-3,
            finetune_roll_degrees=0.0,
        ),
    )
    assert tuned.renderer_state is not None and tuned.psnr > result.psnr
    # A progress bar sized by total_iterations ends exactly full: one report per code and renderer step.
    tuned_config = FitConfig(
        iterations=5, optimize_camera=False, finetune_renderer=True, finetune_iterations=30
    )
    assert len(tuned.loss_history) == tuned_config.total_iterations == 35
    assert (
        FitConfig(iterations=7).total_iterations == 107
        and FitConfig(iterations=7, finetune_renderer=False).total_iterations == 7
    )
    # Fine-tuning on rolled views too: the tuned copy draws a rolled camera closer to the photo turned to
    # match (an exact new view) than the copy tuned on the fitted view alone, which learned one pixel layout.
    rolled = fit_codes(
        model,
        held_out,
        mask,
        result.cam_to_world,
        result.expression,
        result.identity,
        FitConfig(
            iterations=5,
            optimize_camera=False,
            finetune_iterations=30,
            finetune_lr=1e-3,
            finetune_roll_degrees=20.0,
            finetune_views=3,
        ),
    )
    assert len(rolled.loss_history) == 35 and rolled.renderer_state is not None
    assert _rolled_view_error(model, rolled, held_out, mask, 20.0) < _rolled_view_error(
        model, tuned, held_out, mask, 20.0
    )
    # Expression pseudo-views: the copy tuned on them draws the first drawn change closer to the photo warped
    # for it than the copy tuned without (the change is paired with its own warped photo, not the fitted one).
    from tracking.landmark_model import LandmarkModel

    mesh = LandmarkModel.default().face_mesh()
    landmarks, basis = torch.from_numpy(mesh.mean), torch.from_numpy(mesh.expression_basis)
    changed_config = FitConfig(
        iterations=5,
        optimize_camera=False,
        finetune_iterations=30,
        finetune_lr=1e-3,
        finetune_roll_degrees=20.0,
        finetune_views=3,
        finetune_expression_views=2,
        finetune_expression_scale=2.0,
    )
    with pytest.raises(ValueError, match="expression basis"):
        fit_codes(
            model, held_out, mask, result.cam_to_world, result.expression, result.identity, changed_config
        )
    changed = fit_codes(
        model,
        held_out,
        mask,
        result.cam_to_world,
        result.expression,
        result.identity,
        changed_config,
        landmarks=landmarks,
        expression_basis=basis,
    )
    assert len(changed.loss_history) == 35
    assert _changed_view_error(
        model, changed, held_out, mask, landmarks, basis, changed_config
    ) < _changed_view_error(model, rolled, held_out, mask, landmarks, basis, changed_config)
    # The codes file (reenact/codes.py, the one format drive/render read) carries the fine-tuned renderer.
    from reenact.codes import Codes

    path = tmp_path / "id.npz"
    Codes(
        identity=result.identity.numpy(),
        expression=result.expression.numpy(),
        cam_to_world=result.cam_to_world.numpy(),
        crop=np.zeros(4, np.float32),
        image_size=(32, 32),
        renderer_state={k: v.numpy() for k, v in tuned.renderer_state.items()},
    ).save(path)
    loaded = Codes.load(path)
    assert np.array_equal(loaded.identity, result.identity.numpy()) and set(loaded.renderer_state) == set(
        tuned.renderer_state
    )


def _render_with(model, renderer_state, cam_to_world, expression, identity):
    """The model's render (1, 3, S, S) of one camera (4, 4) and codes, its neural renderer's weights replaced
    by ``renderer_state`` (None: the network's own)."""
    import copy

    from model.camera import Camera

    renderer = copy.deepcopy(model).eval()
    if renderer_state is not None:
        renderer.renderer.load_state_dict(renderer_state)
    with torch.no_grad():
        return renderer(Camera(cam_to_world[None]), expression[None], identity[None]).image


def _at_size(size: int, image, mask):
    """Photo (3, H, W) and mask (1, H, W) area-resized to the render's size, batched: (1, C, size, size)."""
    return (torch.nn.functional.interpolate(x[None], size=(size, size), mode="area") for x in (image, mask))


def _rolled_view_error(model, result, image, mask, degrees: float) -> float:
    """Masked L1 between the render of ``result``'s camera rolled by ``degrees`` (with its tuned renderer) and
    the photo turned to match."""
    from model.augment import roll_cameras, roll_images
    from model.metrics import masked_l1

    angle = torch.tensor([np.radians(degrees)], dtype=torch.float32)
    rolled = roll_cameras(result.cam_to_world[None], angle)[0]
    render = _render_with(model, result.renderer_state, rolled, result.expression, result.identity)
    image, mask = _at_size(render.shape[-1], image, mask)
    photo, weight = roll_images(image, angle, "border"), roll_images(mask, angle, "zeros")
    return float(masked_l1(render, photo * weight, weight)[0])


def _changed_view_error(model, result, image, mask, landmarks, basis, config) -> float:
    """Masked L1 between the render of ``result``'s codes moved by the fit's first drawn expression change
    (with its tuned renderer) and the photo warped for that change."""
    from model.expression_views import expression_views, landmark_motion, random_expression_changes
    from model.metrics import masked_l1

    seen = model.config.field.seen_expression_components
    change = random_expression_changes(
        config.finetune_expression_views, seen, config.finetune_expression_scale
    )[:1]
    expression = result.expression.clone()
    expression[:seen] += change[0]
    render = _render_with(model, result.renderer_state, result.cam_to_world, expression, result.identity)
    image, mask = _at_size(render.shape[-1], image, mask)
    photo, weight = expression_views(
        image, mask, landmarks, landmark_motion(change, basis), result.cam_to_world
    )
    return float(masked_l1(render, photo * weight, weight)[0])
