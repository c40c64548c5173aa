"""The shipped landmark model and the basis builder."""

from __future__ import annotations

import numpy as np
import pytest

from model.camera import EYE_CORNER_DISTANCE, HEAD_CENTER_DEPTH
from tracking.build_basis import build_model, person_of
from tracking.errors import ModelFileError
from tracking.landmark_model import DEFAULT_MODEL_PATH, NUM_EXPRESSION, LandmarkModel


def test_shipped_model_shape_units_and_size():
    model = LandmarkModel.default()
    assert DEFAULT_MODEL_PATH.stat().st_size < 2_000_000
    assert model.mean.shape == (468, 3) and model.mean.dtype == np.float32
    assert model.expression_basis.shape == (NUM_EXPRESSION, 468, 3)
    assert 1 <= model.num_identity <= 40
    assert np.linalg.norm(model.mean[33] - model.mean[263]) == pytest.approx(EYE_CORNER_DISTANCE, rel=1e-4)
    assert np.allclose(model.mean.mean(0), [0, 0, -HEAD_CENTER_DEPTH], atol=1e-4)
    # axes: subject's left eye at +x, chin below forehead (+y), nose tip toward the camera (−z)
    assert model.mean[263, 0] > model.mean[33, 0]
    assert model.mean[152, 1] > model.mean[10, 1]
    assert model.mean[1, 2] < model.mean[:, 2].mean()
    # σ units: basis norms are the stds, directions orthonormal
    directions = model.expression_basis.reshape(NUM_EXPRESSION, -1) / model.expression_std[:, None]
    assert np.allclose(directions @ directions.T, np.eye(NUM_EXPRESSION), atol=1e-3)
    assert np.all(np.diff(model.expression_std) <= 1e-6)
    assert "command" in model.metadata


def test_save_load_round_trip(tmp_path):
    model = LandmarkModel.default()
    model.save(tmp_path / "m.npz")
    again = LandmarkModel.load(tmp_path / "m.npz")
    assert np.array_equal(again.expression_basis, model.expression_basis)
    assert again.metadata == model.metadata
    with pytest.raises(ModelFileError):
        LandmarkModel.load(tmp_path / "missing.npz")


def test_person_grouping():
    assert person_of("videos/mead/M030_front_happy_level3_001.mp4") == person_of(
        "x/mead/M030_front_sad_level3_001.mp4"
    )
    assert person_of("v/liveportrait/d18.mp4") == person_of("v/liveportrait/d19.mp4")
    assert person_of("v/sadtalker/WDA_AlexandriaOcasioCortez_000.mp4") == person_of("v/misc/vexpress_aoc.mp4")
    assert person_of("v/pcavs/00002.mp4") != person_of("v/pcavs/00010.mp4")


def test_build_model_removes_rigid_motion():
    """Synthetic people with two true deformation modes, seen under random similarity transforms:
    the expression basis must span the true modes, not rotation."""
    rng = np.random.default_rng(0)
    base = LandmarkModel.default()
    modes = base.expression_basis[:2].astype(np.float64)
    by_person = {}
    for person in range(5):
        shape = base.mean + 0.3 * np.tensordot(rng.normal(size=base.num_identity), base.identity_basis, 1)
        frames = []
        for _ in range(40):
            coeffs = rng.normal(size=2)
            points = shape + np.tensordot(coeffs, modes, 1)
            angle = rng.normal(0, 0.3, 3)
            from model.camera import rotation_matrix

            frames.append(100 * points @ rotation_matrix(angle).T + rng.normal(0, 10, 3))
        by_person[f"p{person}"] = [np.array(frames)]
    model, _ = build_model(by_person, num_expression=4)
    leading = model.expression_basis[:2].reshape(2, -1)
    true = modes.reshape(2, -1)
    q_true, _ = np.linalg.qr(true.T)
    captured = np.linalg.norm(q_true.T @ (leading / np.linalg.norm(leading, axis=1, keepdims=True)).T, axis=0)
    assert np.all(captured > 0.95)
    assert model.expression_std[2] < 0.05 * model.expression_std[1]
