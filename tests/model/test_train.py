from dataclasses import replace

import numpy as np
import pytest
import torch

from model.checkpoint import load_checkpoint
from model.config import preset
from model.train import TrainConfig, frame_weights, train
from reenact.errors import CheckpointError

from .conftest import write_cache


def test_one_image_overfit(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "one", clip_frames[:1])
    reports = []
    config = TrainConfig(steps=200, batch_size=1, lr=1e-2, lr_final_ratio=1.0, checkpoint_every=1000, preview_every=100, out_dir=str(tmp_path / "run"))
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
        return TrainConfig(steps=6, batch_size=2, lr=1e-3, checkpoint_every=3, preview_every=0, out_dir=str(tmp_path / out))

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
    base = TrainConfig(steps=2, batch_size=2, lr=1e-3, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "a"))
    train(preset("tiny"), base, cache_dir)
    first, _ = load_checkpoint(tmp_path / "a" / "last.pt")
    # Zero steps from an init: the weights are exactly the init's, and the checkpoint says where they came from.
    warm = TrainConfig(steps=1, batch_size=2, lr=0.0, lr_final_ratio=1.0, checkpoint_every=10, preview_every=0,
                       out_dir=str(tmp_path / "b"), init_from=str(tmp_path / "a" / "last.pt"), expression_reference="clip_mean")
    result = train(preset("tiny"), warm, cache_dir)
    assert result.start_step == 0 and result.step == 1
    second, meta = load_checkpoint(tmp_path / "b" / "last.pt")
    assert meta.extra["init_from"].endswith("last.pt") and meta.extra["expression_reference"] == "clip_mean"
    for (name, pa), (_, pb) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(pa, pb), name
    with pytest.raises(CheckpointError):
        train(preset("cpu"), TrainConfig(steps=1, out_dir=str(tmp_path / "c"), init_from=str(tmp_path / "a" / "last.pt")), cache_dir)
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


def test_frame_weights_balance_clips():
    clip_index = torch.tensor([0] * 9 + [1])  # a 9-frame clip and a portrait
    assert frame_weights(clip_index, 0.0) is None
    half = frame_weights(clip_index, 0.5)
    assert torch.allclose(half[:9].sum() / half[9], torch.tensor(3.0, dtype=torch.float64))  # 9^0.5 : 1
    whole = frame_weights(clip_index, 1.0)
    assert torch.allclose(whole[:9].sum(), whole[9:].sum())


def test_identity_noise_and_clip_balance_are_used_and_recorded(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "cache", clip_frames[:9])
    write_cache(cache, clip_frames[9:10], person="portrait", seed=1)

    def run(out, **extra):
        config = TrainConfig(steps=3, batch_size=2, lr=1e-3, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / out), **extra)
        return train(preset("tiny"), config, cache)

    plain = run("plain")
    augmented = run("augmented", clip_balance=1.0, identity_noise=0.05, roll_augment=10.0)
    again = run("again", clip_balance=1.0, identity_noise=0.05, roll_augment=10.0)
    assert augmented.loss_history == again.loss_history  # noise and draws come from the step's seeded generator
    assert augmented.loss_history != plain.loss_history
    _, meta = load_checkpoint(tmp_path / "augmented" / "last.pt")
    assert meta.extra["clip_balance"] == 1.0 and meta.extra["identity_noise"] == 0.05 and meta.extra["roll_augment"] == 10.0
    _, meta = load_checkpoint(tmp_path / "plain" / "last.pt")
    assert not {"clip_balance", "identity_noise", "roll_augment"} & set(meta.extra)


def test_region_weight_needs_region_maps(tmp_path, clip_frames):
    from reenact.errors import InputError

    cache = write_cache(tmp_path / "cache", clip_frames[:3])
    model_config = preset("tiny")
    model_config = replace(model_config, loss=replace(model_config.loss, region_weight=0.5))
    config = TrainConfig(steps=2, batch_size=2, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "run"))
    with pytest.raises(InputError, match="region"):
        train(model_config, config, cache)
    maps = np.zeros((3, 64, 64), np.uint8)
    maps[:, 36:52, 20:44] = 255
    with np.load(cache / "M030.npz") as clip:
        np.savez(cache / "M030.npz", **{k: clip[k] for k in clip.files}, regions=maps)
    reports = []
    train(model_config, config, cache, progress=reports.append)
    assert all(r.region is not None and r.region > 0 for r in reports)


def test_partner_frames_stay_in_the_anchor_clip():
    from model.train import partner_frames

    clip_index = torch.tensor([0] * 5 + [1] + [2] * 3)  # a 5-frame clip, a portrait, a 3-frame clip
    anchors = torch.arange(9).repeat(50)
    partners = partner_frames(clip_index, anchors, torch.Generator().manual_seed(0))
    assert torch.equal(clip_index[partners], clip_index[anchors])
    assert torch.all(partners[anchors == 5] == 5)  # the portrait pairs with itself
    assert set(partners[anchors < 5].tolist()) == set(range(5))  # every frame of the clip is drawn


def test_motion_weight_trains_on_pairs_of_one_clip(tmp_path, clip_frames):
    from reenact.errors import InputError

    cache = write_cache(tmp_path / "cache", clip_frames[:6])
    write_cache(cache, clip_frames[6:9], person="other", seed=1)
    model_config = preset("tiny")
    model_config = replace(model_config, loss=replace(model_config.loss, motion_weight=1.0))
    config = TrainConfig(steps=3, batch_size=4, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "run"))
    reports = []
    train(model_config, config, cache, progress=reports.append)
    assert all(r.motion is not None and r.motion > 0 for r in reports)
    with pytest.raises(InputError, match="even"):
        train(model_config, replace(config, batch_size=3, out_dir=str(tmp_path / "odd")), cache)
    _, meta = load_checkpoint(tmp_path / "run" / "last.pt")
    assert meta.config.loss.motion_weight == 1.0


def test_warp_switched_on_from_a_checkpoint_without_it(tmp_path, cache_dir):
    from tracking.landmark_model import LandmarkModel

    base = TrainConfig(steps=1, batch_size=2, lr=1e-3, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "a"))
    train(preset("tiny"), base, cache_dir)
    warped = replace(preset("tiny"), field=replace(preset("tiny").field, warp_radius=0.08))
    run = replace(base, steps=1, lr=0.0, lr_final_ratio=1.0, out_dir=str(tmp_path / "b"), init_from=str(tmp_path / "a" / "last.pt"))
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
    # A run that adds the learned gain and takes β out of the MLP starts from it too: the gain starts at 1.
    gained = replace(warped, field=replace(warped.field, warp_gain=True, expression_in_mlp=False))
    train(gained, replace(run, out_dir=str(tmp_path / "d"), init_from=str(tmp_path / "b" / "last.pt")), cache_dir)
    third, meta = load_checkpoint(tmp_path / "d" / "last.pt")
    assert meta.config.field.warp_gain and not meta.config.field.expression_in_mlp
    assert torch.equal(third.field.warp.gain, torch.ones(46)) and torch.equal(third.field.warp.basis, second.field.warp.basis)
    # And a run without the warp can start from a warped checkpoint (the buffers are dropped).
    assert train(preset("tiny"), replace(run, out_dir=str(tmp_path / "c"), init_from=str(tmp_path / "b" / "last.pt")), cache_dir).step == 1


def test_geometry_prior_is_reported_and_needs_the_face_mesh(tmp_path, cache_dir):
    from tracking.landmark_model import LandmarkModel

    config = replace(preset("tiny"), loss=replace(preset("tiny").loss, geometry_weight=1.0, geometry_landmarks=16))
    run = TrainConfig(steps=2, batch_size=2, lr=1e-3, checkpoint_every=10, preview_every=0, out_dir=str(tmp_path / "geo"))
    with pytest.raises(CheckpointError, match="face_mesh"):
        train(config, run, cache_dir)
    reports = []
    plain = train(preset("tiny"), replace(run, out_dir=str(tmp_path / "plain")), cache_dir)
    result = train(config, run, cache_dir, progress=reports.append, face_mesh=LandmarkModel.default().face_mesh())
    assert all(r.geometry is not None and 0.0 < r.geometry < 1.35 for r in reports)  # head units, inside the sphere
    # Step 1 starts from the same weights and draws the same frames: the total is the image loss plus the prior.
    assert result.loss_history[0] == pytest.approx(plain.loss_history[0] + reports[0].geometry, rel=1e-5)
    _, meta = load_checkpoint(tmp_path / "geo" / "last.pt")
    assert meta.config.loss.geometry_weight == 1.0
