"""Smoothing: less jitter, bounded lag, no rotation flips."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from tracking.smoothing import (
    jitter,
    rotation_jitter_deg,
    smooth_array,
    smooth_crops,
    smooth_rotations,
    window_length,
)


def test_strength_zero_is_off():
    values = np.random.default_rng(0).normal(size=(50, 3))
    assert np.array_equal(smooth_array(values, 0.0), values)
    assert window_length(0) == 1 and window_length(1.0) == 7


def test_reduces_jitter_without_lag_on_ramp_and_step():
    rng = np.random.default_rng(1)
    n = 200
    t = np.arange(n, dtype=np.float64)
    ramp = np.clip((t - 50) / 60.0, 0, 1)
    step = (t >= 140).astype(np.float64)
    clean = np.stack([ramp, step], axis=1)
    noisy = clean + rng.normal(0, 0.02, clean.shape)
    smooth = smooth_array(noisy, 1.0)
    assert jitter(smooth) < 0.5 * jitter(noisy)
    # lag on the ramp: no systematic offset in the ramp's interior
    interior = slice(60, 100)
    assert abs(np.mean(smooth[interior, 0] - clean[interior, 0])) < 0.01
    # the step's 50% crossing stays within one frame of the true edge
    crossing = np.argmax(smooth[:, 1] > 0.5)
    assert abs(crossing - 140) <= 1
    # invalid frames split runs and are not touched
    valid = np.ones(n, bool)
    valid[100:105] = False
    marked = noisy.copy()
    marked[100:105] = 99.0
    out = smooth_array(marked, 1.0, valid)
    assert np.all(out[100:105] == 99.0) and np.all(np.abs(out[95:100]) < 2)


def test_rotations_smoothed_without_flips():
    rng = np.random.default_rng(2)
    angles = np.linspace(0, 2.5 * np.pi, 120)  # passes through π, where quaternion signs wrap
    rotvecs = np.stack([np.zeros_like(angles), angles, np.zeros_like(angles)], axis=1)
    truth = Rotation.from_rotvec(rotvecs)
    noisy = (Rotation.from_rotvec(rng.normal(0, 0.01, (120, 3))) * truth).as_matrix()
    smooth = smooth_rotations(noisy, 1.0)
    steps = Rotation.from_matrix(np.einsum("nji,njk->nik", smooth[:-1], smooth[1:])).magnitude()
    assert steps.max() < 0.1  # true step is 0.066 rad; a flip would be ≈ π
    assert rotation_jitter_deg(smooth) < rotation_jitter_deg(noisy)
    error = (Rotation.from_matrix(smooth) * truth.inv()).magnitude()
    assert (
        np.degrees(error[5:-5]).mean()
        < np.degrees((Rotation.from_matrix(noisy) * truth.inv()).magnitude()).mean()
    )


def test_crops_stay_square():
    rng = np.random.default_rng(3)
    centre = np.cumsum(rng.normal(0, 1, (60, 2)), axis=0) + 200
    side = 150 + rng.normal(0, 3, 60)
    crops = np.concatenate([centre - side[:, None] / 2, centre + side[:, None] / 2], axis=1)
    out = smooth_crops(crops, 2.0)
    assert np.allclose(out[:, 2] - out[:, 0], out[:, 3] - out[:, 1], atol=1e-3)
    assert jitter(out) < jitter(crops)
