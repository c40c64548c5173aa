from dataclasses import replace

import numpy as np
import pytest
import torch

from model.camera import orbit_cam_to_world
from model.config import preset
from model.fit import FitConfig, axis_angle_matrix, fit_codes
from model.checkpoint import load_checkpoint
from model.train import TrainConfig, train

from .conftest import write_cache


def test_axis_angle_matrix_matches_numpy():
    from model.camera import rotation_matrix

    omega = torch.tensor([0.1, -0.2, 0.3])
    assert torch.allclose(axis_angle_matrix(omega), torch.from_numpy(rotation_matrix(omega.numpy())).float(), atol=1e-6)
    assert torch.allclose(axis_angle_matrix(torch.zeros(3)), torch.eye(3))


def test_fit_raises_psnr_on_held_out_real_frame(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "cache", clip_frames[:10])
    config = TrainConfig(steps=250, batch_size=2, lr=5e-3, checkpoint_every=1000, preview_every=0, out_dir=str(tmp_path / "run"))
    train(preset("tiny"), config, cache)
    model, _ = load_checkpoint(tmp_path / "run" / "last.pt")
    held_out = torch.from_numpy(clip_frames[11]).permute(2, 0, 1).float() / 255.0
    mask = torch.ones(1, 64, 64)
    identity = torch.from_numpy(np.load(cache / "M030.npz")["identity"])
    before = [p.clone() for p in model.parameters()]
    # Start from a camera that is off by ~6° of yaw and ~3° of pitch, like a tracking error.
    start_camera = torch.from_numpy(orbit_cam_to_world(0.1, -0.06)).float()
    result = fit_codes(model, held_out, mask, start_camera, torch.zeros(46), identity, FitConfig(iterations=60, finetune_renderer=False))
    assert result.psnr > result.psnr_initial + 1.5, (result.psnr_initial, result.psnr)  # measured 19.0 → 23.0 dB
    assert result.ssim > result.ssim_initial
    assert result.identity.shape == (128,) and result.expression.shape == (46,) and result.cam_to_world.shape == (4, 4)
    assert len(result.loss_history) == 60 and result.render.shape == (3, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # network frozen and unchanged
    assert all(p.requires_grad for p in model.parameters())  # caller's flags restored

    tuned = fit_codes(model, held_out, mask, result.cam_to_world, result.expression, result.identity, FitConfig(iterations=5, optimize_camera=False, finetune_renderer=True, finetune_iterations=30, finetune_lr=1e-3, finetune_roll_degrees=0.0))
    assert tuned.renderer_state is not None and tuned.psnr > result.psnr
    # A progress bar sized by total_iterations ends exactly full: one report per code and renderer step.
    tuned_config = FitConfig(iterations=5, optimize_camera=False, finetune_renderer=True, finetune_iterations=30)
    assert len(tuned.loss_history) == tuned_config.total_iterations == 35
    assert FitConfig(iterations=7).total_iterations == 107 and FitConfig(iterations=7, finetune_renderer=False).total_iterations == 7
    # Fine-tuning on rolled views too: the tuned copy draws a rolled camera closer to the photo turned to match
    # (an exact new view) than the copy tuned on the fitted view alone, which learned one pixel layout.
    rolled = fit_codes(model, held_out, mask, result.cam_to_world, result.expression, result.identity,
                       FitConfig(iterations=5, optimize_camera=False, finetune_iterations=30, finetune_lr=1e-3,
                                 finetune_roll_degrees=20.0, finetune_views=3))
    assert len(rolled.loss_history) == 35 and rolled.renderer_state is not None
    assert _rolled_view_error(model, rolled, held_out, mask, 20.0) < _rolled_view_error(model, tuned, held_out, mask, 20.0)
    # Expression pseudo-views: the copy tuned on them draws the first drawn change closer to the photo warped for
    # it than the copy tuned without (the change is paired with its own warped photo, not the fitted one).
    from tracking.landmark_model import LandmarkModel

    mesh = LandmarkModel.default().face_mesh()
    landmarks, basis = torch.from_numpy(mesh.mean), torch.from_numpy(mesh.expression_basis)
    changed_config = FitConfig(iterations=5, optimize_camera=False, finetune_iterations=30, finetune_lr=1e-3,
                               finetune_roll_degrees=20.0, finetune_views=3, finetune_expression_views=2,
                               finetune_expression_scale=2.0)
    with pytest.raises(ValueError, match="expression basis"):
        fit_codes(model, held_out, mask, result.cam_to_world, result.expression, result.identity, changed_config)
    changed = fit_codes(model, held_out, mask, result.cam_to_world, result.expression, result.identity, changed_config,
                        landmarks=landmarks, expression_basis=basis)
    assert len(changed.loss_history) == 35
    assert (_changed_view_error(model, changed, held_out, mask, landmarks, basis, changed_config)
            < _changed_view_error(model, rolled, held_out, mask, landmarks, basis, changed_config))
    # Turned pseudo-views (yaw and pitch, the face only): need the landmarks; tuned with them, the copy draws a turned
    # camera closer to its target (the warped photo on the face, the network's own render off it) than the copy
    # tuned on the fitted view alone.
    turn_config = FitConfig(iterations=5, optimize_camera=False, finetune_iterations=30, finetune_lr=1e-3,
                            finetune_roll_degrees=0.0, finetune_turn_degrees=5.0)
    with pytest.raises(ValueError, match="landmarks"):
        fit_codes(model, held_out, mask, result.cam_to_world, result.expression, result.identity, turn_config)
    turned = fit_codes(model, held_out, mask, result.cam_to_world, result.expression, result.identity, turn_config,
                       landmarks=landmarks)
    assert len(turned.loss_history) == 35
    assert _turned_view_error(model, turned, held_out, mask, landmarks) < _turned_view_error(model, tuned, held_out, mask, landmarks)
    # The codes file (reenact/codes.py, the one format drive/render read) carries the fine-tuned renderer.
    from reenact.codes import Codes

    path = tmp_path / "id.npz"
    Codes(identity=result.identity.numpy(), expression=result.expression.numpy(), cam_to_world=result.cam_to_world.numpy(),
          crop=np.zeros(4, np.float32), image_size=(32, 32),
          renderer_state={k: v.numpy() for k, v in tuned.renderer_state.items()}).save(path)
    loaded = Codes.load(path)
    assert np.array_equal(loaded.identity, result.identity.numpy()) and set(loaded.renderer_state) == set(tuned.renderer_state)


def _render_with(model, renderer_state, cam_to_world, expression, identity):
    """The model's render (1, 3, S, S) of one camera (4, 4) and codes, its neural renderer's weights replaced by
    ``renderer_state`` (None: the network's own)."""
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
    """Masked L1 between the render of ``result``'s codes moved by the fit's first drawn expression change (with
    its tuned renderer) and the photo warped for that change."""
    from model.expression_views import expression_views, landmark_motion, random_expression_changes
    from model.metrics import masked_l1

    seen = model.config.field.seen_expression_components
    change = random_expression_changes(config.finetune_expression_views, seen, config.finetune_expression_scale)[:1]
    expression = result.expression.clone()
    expression[:seen] += change[0]
    render = _render_with(model, result.renderer_state, result.cam_to_world, expression, result.identity)
    image, mask = _at_size(render.shape[-1], image, mask)
    photo, weight = expression_views(image, mask, landmarks, landmark_motion(change, basis), result.cam_to_world)
    return float(masked_l1(render, photo * weight, weight)[0])


def _turned_view_error(model, result, image, mask, landmarks, degrees: float = 5.0) -> float:
    """Masked L1 between the render of ``result``'s camera turned by ``degrees`` of yaw (with its tuned renderer)
    and that view's fine-tuning target: the photo warped by the landmarks' motion on the face, the network's own
    render of the view off it."""
    import math

    from model.expression_views import turned_views
    from model.fit import corrected_camera
    from model.metrics import masked_l1

    turned = corrected_camera(result.cam_to_world, torch.tensor([0.0, math.radians(degrees), 0.0]), torch.zeros(3))
    own = _render_with(model, None, turned, result.expression, result.identity)
    render = _render_with(model, result.renderer_state, turned, result.expression, result.identity)
    image, mask = _at_size(render.shape[-1], image, mask)
    warped, weight, coverage = turned_views(image, mask, landmarks, result.cam_to_world, turned[None])
    target = coverage * warped + (1 - coverage) * own
    return float(masked_l1(render, target * weight, weight)[0])


def _landmark_error(model, points, cam_to_world, expression, identity, triangles) -> float:
    from model.camera import Camera
    from model.geometry import landmark_depth_errors

    with torch.no_grad():
        errors, visible, _ = landmark_depth_errors(model, points[None], Camera(cam_to_world[None]), expression[None],
                                                   identity[None], triangles)
    return float(errors[visible].abs().mean())


def test_fit_geometry_prior_keeps_the_surface_on_the_target_landmarks(clip_frames):
    from model.camera import frontal_cam_to_world
    from model.head_model import HeadModel
    from tracking.landmark_model import LandmarkModel

    torch.manual_seed(0)
    model = HeadModel(preset("tiny"))
    mesh = LandmarkModel.default().face_mesh()
    points, triangles = torch.from_numpy(mesh.mean), torch.from_numpy(mesh.triangles)
    image = torch.from_numpy(clip_frames[0]).permute(2, 0, 1).float() / 255.0
    mask, camera = torch.ones(1, 64, 64), torch.from_numpy(frontal_cam_to_world()).float()
    expression, identity = torch.zeros(46), torch.randn(128) * 0.1
    with pytest.raises(ValueError, match="landmarks"):
        fit_codes(model, image, mask, camera, expression, identity, FitConfig(iterations=1, geometry_weight=1.0))
    start = _landmark_error(model, points, camera, expression, identity, triangles)
    # A random field's surface barely moves with its codes; the camera (a larger step than the default here)
    # is what the prior can move in 40 steps.
    config = FitConfig(iterations=40, camera_lr=1e-2, finetune_renderer=False)
    plain = fit_codes(model, image, mask, camera, expression, identity, config)
    # Landmarks given but the weight 0: the same fit as without them.
    unused = fit_codes(model, image, mask, camera, expression, identity, config, landmarks=points, triangles=triangles)
    assert unused.loss_history == plain.loss_history
    prior = fit_codes(model, image, mask, camera, expression, identity, replace(config, geometry_weight=10.0),
                      landmarks=points, triangles=triangles)
    # The first step's loss is the plain fit's first loss plus the weighted prior at the start, with the
    # landmarks the fit draws (generator seeded 0).
    from model.camera import Camera
    from model.geometry import geometry_loss

    picks = torch.randint(0, len(points), (1, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        term = geometry_loss(model, points[None], Camera(camera[None]), expression[None], identity[None], triangles, picks)
    assert abs(prior.loss_history[0] - (plain.loss_history[0] + 10.0 * float(term))) < 1e-4
    # A random field's surface is diffuse, so the effect is small here (measured 0.221 → 0.201); on the shipped
    # model and held-out faces, see benchmarks/diagnose_fit_geometry.py.
    errors = [_landmark_error(model, points, r.cam_to_world, r.expression, r.identity, triangles) for r in (plain, prior)]
    assert errors[1] < 0.95 * min(start, errors[0]), (start, errors)
