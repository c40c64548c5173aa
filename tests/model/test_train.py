from dataclasses import replace

import numpy as np
import pytest
import torch

from model.checkpoint import load_checkpoint
from model.config import preset
from model.errors import CheckpointError
from model.train import TrainConfig, train

from .conftest import write_cache


def test_one_image_overfit(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "one", clip_frames[:1])
    reports = []
    config = TrainConfig(
        steps=200,
        batch_size=1,
        lr=1e-2,
        lr_final_ratio=1.0,
        checkpoint_every=1000,
        preview_every=100,
        out_dir=str(tmp_path / "run"),
    )
    result = train(preset("tiny"), config, cache, progress=reports.append)
    history = result.loss_history
    assert len(history) == 200 and result.step == 200
    assert history[0] / np.mean(history[-10:]) >= 5.0  # measured ≈ 8×
    assert [r.step for r in reports] == list(range(1, 201))
    previews = sorted((tmp_path / "run").glob("preview_*.png"))
    assert [p.name for p in previews] == ["preview_0000100.png", "preview_0000200.png"]
    assert previews[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "run" / "last.pt").is_file()


class _Interrupt(Exception):
    pass


def test_resume_continues_and_matches_uninterrupted(tmp_path, cache_dir):
    def config(out):
        return TrainConfig(
            steps=6, batch_size=2, lr=1e-3, checkpoint_every=3, preview_every=0, out_dir=str(tmp_path / out)
        )

    straight = train(preset("tiny"), config("straight"), cache_dir)

    def stop_after_three(report):
        if report.step == 3:
            raise _Interrupt  # like Ctrl-C right after the step-3 checkpoint

    with pytest.raises(_Interrupt):
        train(preset("tiny"), config("resumed"), cache_dir, progress=stop_after_three)
    _, meta = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert meta.step == 3 and meta.optimizer_state is not None
    resumed = train(preset("tiny"), config("resumed"), cache_dir)
    assert resumed.start_step == 3 and resumed.step == 6 and len(resumed.loss_history) == 3
    assert resumed.loss_history == straight.loss_history[3:]  # same batches, jitter and optimizer state
    a, _ = load_checkpoint(tmp_path / "straight" / "last.pt")
    b, _ = load_checkpoint(tmp_path / "resumed" / "last.pt")
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), name
    with pytest.raises(CheckpointError):
        train(preset("cpu"), config("resumed"), cache_dir)  # another model config in the same out_dir
    fresh = train(preset("tiny"), config("resumed"), cache_dir, resume=False)
    assert fresh.start_step == 0 and fresh.loss_history == straight.loss_history


def test_init_from_starts_a_new_run_from_given_weights(tmp_path, cache_dir):
    base = TrainConfig(
        steps=2, batch_size=2, lr=1e-3, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "a")
    )
    train(preset("tiny"), base, cache_dir)
    first, _ = load_checkpoint(tmp_path / "a" / "last.pt")
    # Zero steps from an init: the weights are exactly the init's, and the checkpoint says where they came
    # from.
    warm = TrainConfig(
        steps=1,
        batch_size=2,
        lr=0.0,
        lr_final_ratio=1.0,
        checkpoint_every=10,
        preview_every=0,
        out_dir=str(tmp_path / "b"),
        init_from=str(tmp_path / "a" / "last.pt"),
        expression_reference="clip_mean",
    )
    result = train(preset("tiny"), warm, cache_dir)
    assert result.start_step == 0 and result.step == 1
    second, meta = load_checkpoint(tmp_path / "b" / "last.pt")
    assert meta.extra["init_from"].endswith("last.pt") and meta.extra["expression_reference"] == "clip_mean"
    for (name, pa), (_, pb) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(pa, pb), name
    with pytest.raises(CheckpointError):
        train(
            preset("cpu"),
            TrainConfig(steps=1, out_dir=str(tmp_path / "c"), init_from=str(tmp_path / "a" / "last.pt")),
            cache_dir,
        )
    # Hiding expression components keeps the weights' shapes: a new run may start from them, but a run may
    # not be resumed with another setting.
    limited = replace(preset("tiny"), field=replace(preset("tiny").field, expression_components=4))
    limited_run = replace(warm, out_dir=str(tmp_path / "d"))
    assert train(limited, limited_run, cache_dir).step == 1
    stored, _ = load_checkpoint(tmp_path / "d" / "last.pt")
    assert stored.config.field.expression_components == 4
    with pytest.raises(CheckpointError):
        train(preset("tiny"), replace(limited_run, steps=2), cache_dir)
    # A run saved before the key existed resumes: its stored config means "every component".
    payload = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    del payload["config"]["field"]["expression_components"]
    torch.save(payload, tmp_path / "b" / "last.pt")
    assert train(preset("tiny"), replace(warm, steps=2), cache_dir).start_step == 1


def test_warp_switched_on_from_a_checkpoint_without_it(tmp_path, cache_dir):
    from tracking.landmark_model import LandmarkModel

    base = TrainConfig(
        steps=1, batch_size=2, lr=1e-3, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "a")
    )
    train(preset("tiny"), base, cache_dir)
    warped = replace(preset("tiny"), field=replace(preset("tiny").field, warp_radius=0.08))
    run = replace(
        base,
        steps=1,
        lr=0.0,
        lr_final_ratio=1.0,
        out_dir=str(tmp_path / "b"),
        init_from=str(tmp_path / "a" / "last.pt"),
    )
    with pytest.raises(CheckpointError, match="landmark"):
        train(warped, run, cache_dir)  # nothing to fill the warp with
    landmarks = LandmarkModel.default()
    train(warped, run, cache_dir, landmark_shape=(landmarks.mean, landmarks.expression_basis))
    first, _ = load_checkpoint(tmp_path / "a" / "last.pt")
    second, meta = load_checkpoint(tmp_path / "b" / "last.pt")  # strict load: the buffers are stored
    assert meta.config.field.warp_radius == 0.08
    assert torch.equal(second.field.warp.basis, torch.as_tensor(landmarks.expression_basis))
    for name, tensor in first.state_dict().items():  # the trained weights are the init's (lr 0)
        assert torch.equal(tensor, second.state_dict()[name]), name
    # Resuming reads the buffers from the run's own checkpoint; no landmark model needed.
    assert train(warped, replace(run, steps=2, lr=1e-3), cache_dir).start_step == 1
    # And a run without the warp can start from a warped checkpoint (the buffers are dropped).
    assert (
        train(
            preset("tiny"),
            replace(run, out_dir=str(tmp_path / "c"), init_from=str(tmp_path / "b" / "last.pt")),
            cache_dir,
        ).step
        == 1
    )


def test_geometry_prior_is_reported_and_needs_the_face_mesh(tmp_path, cache_dir):
    from tracking.landmark_model import LandmarkModel

    config = replace(
        preset("tiny"), loss=replace(preset("tiny").loss, geometry_weight=1.0, geometry_landmarks=16)
    )
    run = TrainConfig(
        steps=2, batch_size=2, lr=1e-3, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "geo")
    )
    with pytest.raises(CheckpointError, match="face_mesh"):
        train(config, run, cache_dir)
    reports = []
    plain = train(preset("tiny"), replace(run, out_dir=str(tmp_path / "plain")), cache_dir)
    result = train(
        config, run, cache_dir, progress=reports.append, face_mesh=LandmarkModel.default().face_mesh()
    )
    assert all(
        r.geometry is not None and 0.0 < r.geometry < 1.35 for r in reports
    )  # head units, inside the sphere
    # Step 1 starts from the same weights and draws the same frames: the total is the image loss plus the
    # prior.
    assert result.loss_history[0] == pytest.approx(plain.loss_history[0] + reports[0].geometry, rel=1e-5)
    _, meta = load_checkpoint(tmp_path / "geo" / "last.pt")
    assert meta.config.loss.geometry_weight == 1.0


def test_surface_warp_run_starts_from_a_gaussian_warp_checkpoint(tmp_path, cache_dir):
    """``warp_kind="surface"``: a run warm-started from a Gaussian-warp checkpoint fills the mesh buffers,
    trains on each frame's own face at rest, stores them, and the checkpoint renders with a given face."""
    from model.camera import Camera
    from model.surface_warp import SurfaceWarp
    from tracking.landmark_model import LandmarkModel

    landmarks = LandmarkModel.default()
    shape = (landmarks.mean, landmarks.expression_basis)
    gaussian = replace(preset("tiny"), field=replace(preset("tiny").field, warp_radius=0.08))
    base = TrainConfig(
        steps=1, batch_size=2, lr=1e-3, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "a")
    )
    train(gaussian, base, cache_dir, landmark_shape=shape)
    surface = replace(gaussian, field=replace(gaussian.field, warp_kind="surface"))
    run = replace(base, out_dir=str(tmp_path / "b"), init_from=str(tmp_path / "a" / "last.pt"))
    with pytest.raises(CheckpointError, match="triangles"):
        train(surface, run, cache_dir, landmark_shape=shape)  # the mesh is needed
    result = train(surface, run, cache_dir, landmark_shape=shape, face_mesh=landmarks.face_mesh())
    assert result.step == 1 and np.isfinite(result.loss_history).all()
    model, meta = load_checkpoint(tmp_path / "b" / "last.pt")
    assert meta.config.field.warp_kind == "surface" and isinstance(model.field.warp, SurfaceWarp)
    assert model.field.warp.is_set
    assert torch.equal(
        model.field.warp.triangles, torch.as_tensor(landmarks.face_mesh().triangles, dtype=torch.long)
    )
    # The face matters to a surface-warp render (the mean face vs a face with the mouth lowered).
    model.eval()
    camera = Camera(torch.as_tensor(np.eye(4, dtype=np.float32))[None])
    camera.cam_to_world[0, 2, 3] = 3.0
    camera.cam_to_world[0, :3, :3] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    expression = torch.zeros(1, 46)
    expression[0, 0] = 3.0
    identity = torch.zeros(1, 128)
    face = torch.as_tensor(landmarks.mean)[None].clone()
    with torch.no_grad():
        mean_face = model(camera, expression, identity).feature_map
        same = model(camera, expression, identity, face=face).feature_map
        face[:, :, 1] += 0.05
        moved = model(camera, expression, identity, face=face).feature_map
    assert torch.allclose(mean_face, same, atol=1e-6)
    assert not torch.allclose(mean_face, moved, atol=1e-4)
