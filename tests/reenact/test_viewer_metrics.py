"""The viewer's measures on known inputs: correlations, signals, jitter, identity, detail."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from reenact.viewer_metrics import (
    MIN_FRAMES,
    compare,
    face_detail,
    follow_signals,
    jitter,
    load_image,
    pearson,
    portrait_face,
    track_frames,
)


def test_pearson_of_a_shifted_copy() -> None:
    t = np.arange(200) * (2 * np.pi / 50)  # four whole periods
    wave = np.sin(t)
    assert pearson(wave, wave + 3.0) == pytest.approx(1.0)
    assert pearson(wave, -2.0 * wave + 1.0) == pytest.approx(-1.0)
    delay = 5 * (2 * np.pi / 50)  # a copy shifted in time by 5 frames: r = cos(delay)
    assert pearson(wave, np.sin(t - delay)) == pytest.approx(np.cos(delay), abs=1e-9)


def test_pearson_skips_missing_frames_and_is_nan_when_undefined() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=40), rng.normal(size=40)
    a_gaps, b_gaps = a.copy(), b.copy()
    a_gaps[[1, 7]], b_gaps[[3, 30]] = np.nan, np.inf
    keep = np.ones(40, bool)
    keep[[1, 7, 3, 30]] = False
    assert pearson(a_gaps, b_gaps) == pytest.approx(np.corrcoef(a[keep], b[keep])[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(pearson(a, np.full(40, 0.37)))  # a constant signal: NaN, no crash, no warning
        assert np.isnan(pearson(np.full(40, 2.0), np.full(40, 2.0)))
        short = np.full(40, np.nan)
        short[: MIN_FRAMES - 1] = 1.0, 2.0
        assert np.isnan(pearson(short, a))


def synthetic_faces(gaps: np.ndarray, turns: np.ndarray) -> np.ndarray:
    """(N, 468, 2) landmarks with eye corners 10 apart, inner-lip gap ``gaps``, eyelid gap 2, nose 4
    below the eyes' midpoint and ``turns`` to its right."""
    n = len(gaps)
    marks = np.zeros((n, 468, 2))
    marks[:, 33], marks[:, 263] = (0.0, 0.0), (10.0, 0.0)
    marks[:, 13] = (5.0, 8.0)
    marks[:, 14, 0], marks[:, 14, 1] = 5.0, 8.0 + gaps
    marks[:, 159], marks[:, 145], marks[:, 386], marks[:, 374] = (2, -1), (2, 1), (8, -1), (8, 1)
    marks[:, 1, 0], marks[:, 1, 1] = 5.0 + turns, 4.0
    return marks


def test_follow_signals_of_known_landmarks() -> None:
    gaps, turns = np.array([0.0, 1.0, 3.0]), np.array([0.0, -0.5, 2.0])
    marks = synthetic_faces(gaps, turns)
    signals = follow_signals(marks)
    np.testing.assert_allclose(signals["mouth"], gaps / 10)
    np.testing.assert_allclose(signals["eyes"], 0.2)
    np.testing.assert_allclose(signals["yaw"], turns / 10)
    np.testing.assert_allclose(signals["pitch"], 0.4)
    # the same face framed otherwise (bigger, elsewhere): the same signals
    moved = follow_signals(marks * 3.5 + np.array([100.0, -40.0]))
    for name in signals:
        np.testing.assert_allclose(moved[name], signals[name])
    marks[1] = np.nan  # no face in frame 1
    assert np.isnan(follow_signals(marks)["mouth"][1])


def test_jitter_is_zero_for_steady_motion_and_measures_shake() -> None:
    still = synthetic_faces(np.zeros(6), np.zeros(6))
    steady = still + np.arange(6)[:, None, None] * np.array([1.5, -0.5])
    assert jitter(steady) == pytest.approx(0.0, abs=1e-12)
    shake = still + (np.arange(6) % 2)[:, None, None] * np.array([0.3, 0.4])  # 0.5 px back and forth
    assert jitter(shake) == pytest.approx(2 * 0.5 / 10)
    shake[2] = np.nan  # frames 1-3 lose their triple; only t = 4 remains
    assert jitter(shake) == pytest.approx(0.1)
    assert np.isnan(jitter(still[:2]))


@pytest.fixture(scope="module")
def portrait(shared_data):
    return portrait_face(load_image(shared_data / "portraits" / "headnerf" / "img_000190.png"))


def test_still_output_has_the_target_identity_and_no_following(portrait) -> None:
    frames = [portrait.image] * 12
    output = track_frames(frames, identity_every=5)
    assert output.face_found.all() and list(output.descriptor_frames) == [0, 5, 10]
    measures = compare(output, output, portrait)  # itself as source: its own first frame
    assert measures.id_to_target < 0.15 and measures.id_to_source < 0.15
    assert measures.face_found == 1.0 and measures.frames == 12
    assert measures.detail_ratio == pytest.approx(1.0, abs=0.15)


def test_detail_drops_with_blur(portrait) -> None:
    blurred = cv2.GaussianBlur(portrait.image, (0, 0), 3.0)
    assert face_detail(blurred, portrait.landmarks) < 0.5 * portrait.detail
    half = cv2.resize(portrait.image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert face_detail(half, portrait.landmarks * 0.5) == pytest.approx(portrait.detail, rel=0.5)
    assert np.isnan(face_detail(portrait.image, np.full((468, 2), np.nan)))


def test_frame_errors_inside_the_head_box_and_over_the_frame():
    """Self-reenactment's image columns: zero error for the real frame itself; a change inside the head box
    shows in the box's and the frame's numbers, one outside it only in the frame's."""
    from reenact.viewer_eval import frame_errors

    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    box = np.array([40.0, 20.0, 100.0, 90.0])
    same = frame_errors(real, real, box)
    assert same["l1"] == 0.0 and same["ssim"] > 0.999 and same["psnr"] > 100 and same["psnr_frame"] > 100
    inside, outside = real.copy(), real.copy()
    inside[30:80, 50:90] = 0
    outside[100:, :30] = 0
    hit, miss = frame_errors(inside, real, box), frame_errors(outside, real, box)
    assert hit["l1"] > 0.1 and hit["psnr"] < 15 and hit["ssim"] < 0.8 and hit["psnr_frame"] < 30
    assert miss["l1"] == 0.0 and miss["psnr"] > 100 and miss["psnr_frame"] < 30
    # A box reaching past the frame is clipped to it; one outside the frame is refused.
    assert frame_errors(real, real, np.array([-50.0, -50.0, 60.0, 60.0]))["l1"] == 0.0
    with pytest.raises(ValueError):
        frame_errors(real, real, np.array([170.0, 0.0, 200.0, 50.0]))
