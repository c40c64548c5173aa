"""The 2D landmark-morph yardstick on a real portrait and a real clip."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.morph import MorphMesh, morph_video, similarity_linear
from reenact.viewer_metrics import SIGNALS, load_image, measure_drive, read_video

LOWER_INNER_LIP = [14, 87, 178, 88, 95, 317, 402, 318, 324]


def test_similarity_linear_recovers_scale_and_rotation() -> None:
    rng = np.random.default_rng(1)
    points = rng.normal(size=(12, 2))
    angle, scale = 0.4, 2.5
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    np.testing.assert_allclose(similarity_linear(points, points @ linear.T + np.array([3.0, -7.0])), linear)


@pytest.fixture(scope="module")
def mesh(shared_data) -> MorphMesh:
    return MorphMesh.of(load_image(shared_data / "portraits" / "liveportrait" / "s1.jpg"))


def test_rest_shape_gives_the_portrait_back(mesh: MorphMesh) -> None:
    np.testing.assert_array_equal(mesh.render(mesh.landmarks), mesh.image)


def test_lowering_the_lower_lip_moves_the_mouth_only(mesh: MorphMesh) -> None:
    moved = mesh.landmarks.copy()
    eyes = np.linalg.norm(moved[33] - moved[263])
    moved[LOWER_INNER_LIP, 1] += 0.2 * eyes
    out = mesh.render(moved).astype(int)
    changed = np.abs(out - mesh.image).sum(axis=2) > 0
    lip = mesh.landmarks[LOWER_INNER_LIP]
    x0, y0 = np.floor(lip.min(axis=0)).astype(int)
    x1, y1 = np.ceil(lip.max(axis=0) + [0, 0.2 * eyes]).astype(int)
    assert changed[y0:y1, x0:x1].mean() > 0.3
    corner = max(4, min(out.shape[:2]) // 10)
    for rows in (slice(0, corner), slice(-corner, None)):
        for cols in (slice(0, corner), slice(-corner, None)):
            assert not changed[rows, cols].any()


def test_morphed_clip_follows_the_source_and_keeps_the_portrait(shared_data, tmp_path) -> None:
    source = shared_data / "videos" / "mead" / "W009_front_happy_level3_001.mp4"
    portrait = shared_data / "portraits" / "liveportrait" / "s1.jpg"
    output = tmp_path / "morph.mp4"
    assert morph_video(portrait, source, output, max_frames=10) == 10
    frames = list(read_video(output))
    assert len(frames) == 10 and frames[0].shape[0] % 2 == 0 and frames[0].shape[1] % 2 == 0
    measures = measure_drive(source, output, portrait, max_frames=10)
    assert measures.frames == 10 and measures.face_found == 1.0
    assert all(np.isfinite(measures.follow[name]) for name in SIGNALS)
    assert measures.follow["mouth"] > 0.5
    assert measures.id_to_target < 0.6 < measures.id_to_source
