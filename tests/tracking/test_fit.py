"""Pose / identity / expression fit: synthetic known answers and real MEAD frames."""

from __future__ import annotations

import numpy as np

from model.camera import Intrinsics, euler_yaw_pitch_roll, orbit_cam_to_world, project
from tracking.fit import LandmarkFitter, rotation_angles_deg
from tracking.landmark_model import LandmarkModel


def _synthetic(yaw_deg, pitch_deg, roll_deg, seed=0):
    model = LandmarkModel.default()
    rng = np.random.default_rng(seed)
    identity = rng.normal(0, 0.7, model.num_identity)
    expression = rng.normal(0, 0.7, model.num_expression)
    cam_to_head = orbit_cam_to_world(
        np.radians(yaw_deg), np.radians(pitch_deg), np.radians(roll_deg), distance=5.2
    )
    cam_to_head[:3, 3] += [0.05, -0.1, 0.0]
    observed = project(model.shape(identity, expression), cam_to_head, Intrinsics())
    return model, identity, expression, cam_to_head, observed


def test_recovers_known_rotation_from_scratch():
    for yaw, pitch, roll in [(25.0, -10.0, 5.0), (-35.0, 12.0, -8.0), (0.0, 0.0, 0.0)]:
        model, identity, expression, cam_to_head, observed = _synthetic(yaw, pitch, roll)
        fitter = LandmarkFitter(model)
        fit = fitter.fit_frame(observed, identity, init=None, iterations=10)
        fitted = fit.cam_to_head()
        assert rotation_angles_deg(fitted[:3, :3], cam_to_head[:3, :3]) < 1.0
        got = np.degrees(euler_yaw_pitch_roll(fitted[:3, :3]))
        assert np.allclose(got, [yaw, pitch, roll], atol=1.0)
        assert np.linalg.norm(fitted[:3, 3] - cam_to_head[:3, 3]) < 0.05
        assert (
            np.corrcoef(fit.expression, expression)[0, 1] > 0.85
        )  # 2D landmarks: depth modes shrink to the prior


def test_rotation_recovery_with_identity_unknown():
    model, identity, expression, cam_to_head, observed = _synthetic(20.0, 5.0, -3.0, seed=1)
    fitter = LandmarkFitter(model)
    alpha, fits = fitter.fit_identity([observed])
    assert rotation_angles_deg(fits[0].cam_to_head()[:3, :3], cam_to_head[:3, :3]) < 1.0
    assert fits[0].error < 1e-3  # crop-normalized units


def test_expression_stays_put_under_pure_head_rotation():
    """Same shape seen from several cameras → same expression code (the fit separates pose)."""
    codes = []
    for yaw in (-30.0, -10.0, 10.0, 30.0):
        model, identity, expression, _, observed = _synthetic(yaw, 0.0, 0.0, seed=3)
        codes.append(LandmarkFitter(model).fit_frame(observed, identity, iterations=10).expression)
    codes = np.array(codes)
    assert np.abs(codes - codes.mean(0)).max() < 0.3


def test_real_frames_fit_error_bound(mead_tracks):
    for name, track in mead_tracks.items():
        assert track.valid.all(), name
        assert track.landmark_error < 0.03, (name, track.landmark_error)
        assert np.nanmax(track.extras["fit_error"]) < 0.05, name
        distance = np.linalg.norm(track.pose[:, :3, 3], axis=1)
        assert np.all((distance > 3.5) & (distance < 8.0)), name


def test_neutral_clip_near_zero_and_emotions_differ(mead_tracks):
    emotions = np.concatenate([mead_tracks[k].expression for k in ("happy", "surprised", "angry", "neutral")])
    spread = emotions.std(0)[:10]
    neutral = mead_tracks["neutral"].expression.mean(0)[:10]
    # neutral's mean code is small relative to the spread of codes over the emotion clips
    assert np.mean(np.abs(neutral) / spread) < 0.8
    happy = mead_tracks["happy"].expression[:, :10]
    surprised = mead_tracks["surprised"].expression[:, :10]
    pooled = np.sqrt(0.5 * (happy.var(0) + surprised.var(0))) + 1e-6
    separation = np.abs(happy.mean(0) - surprised.mean(0)) / pooled
    assert separation.max() > 3.0  # at least one component separates them by > 3 pooled σ
    # a nearest-centroid classifier on the codes tells every frame apart
    centre_h, centre_s = happy.mean(0), surprised.mean(0)
    assert np.all(np.linalg.norm(happy - centre_h, axis=1) < np.linalg.norm(happy - centre_s, axis=1))
    assert np.all(np.linalg.norm(surprised - centre_s, axis=1) < np.linalg.norm(surprised - centre_h, axis=1))
