"""Tracker on real images and frames: bad inputs, streaming, crop, mask, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from tracking.crop import to_crop
from tracking.errors import NoFaceError, TrackingInputError
from tracking.landmarks import NUM_LANDMARKS
from tracking.types import Track

from .conftest import PORTRAITS, VIDEOS, read_frames, read_image


@pytest.fixture(scope="module")
def portrait(data_available):
    return read_image(PORTRAITS / "headnerf" / sorted(p.name for p in (PORTRAITS / "headnerf").iterdir())[0])


def test_track_image(portrait, tracker_factory):
    with tracker_factory() as tracker:
        track = tracker.track_image(portrait)
    assert len(track) == 1 and track.valid[0] and track.detected[0]
    assert track.landmarks.shape == (1, NUM_LANDMARKS, 2)
    assert track.pose.shape == (1, 4, 4) and track.expression.shape == (1, 46)
    assert track.landmark_error < 0.03
    assert np.allclose(track.pose[0, 3], [0, 0, 0, 1])
    assert np.allclose(track.pose[0, :3, :3] @ track.pose[0, :3, :3].T, np.eye(3), atol=1e-4)


def test_no_face_raises(tracker_factory):
    rng = np.random.default_rng(0)
    blank = np.full((240, 320, 3), 128, np.uint8)
    noise = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    with tracker_factory() as tracker:
        for image in (blank, noise):
            with pytest.raises(NoFaceError):
                tracker.track_image(image)
        with pytest.raises(NoFaceError):
            tracker.track_frames([blank] * 5, fps=25)


def test_bad_inputs_raise_input_error(tracker_factory):
    with tracker_factory() as tracker:
        with pytest.raises(TrackingInputError):
            tracker.track_image(np.zeros((16, 16, 3), np.uint8))
        with pytest.raises(TrackingInputError):
            tracker.track_image(np.zeros((64, 64, 3, 2), np.uint8))
        with pytest.raises(TrackingInputError):
            tracker.track_image(np.zeros((64, 64, 2), np.uint8))
        with pytest.raises(TrackingInputError):
            tracker.track_frames([], fps=25)


def test_greyscale_photo_works(data_available, tracker_factory):
    from PIL import Image

    path = sorted((PORTRAITS / "codeformer_gray").iterdir())[0]
    with Image.open(path) as image:
        grey = np.asarray(image.convert("L"))
    assert grey.ndim == 2
    with tracker_factory() as tracker:
        track = tracker.track_image(grey)
    assert track.valid[0] and track.landmark_error < 0.05


def test_stream_crop_mask_and_round_trip(data_available, tracker_factory, tmp_path):
    frames = read_frames(VIDEOS / "sadtalker" / "WDA_AlexandriaOcasioCortez_000.mp4", 12, every=3)
    seen = []
    stream = ((i, i / 25.0, image) for i, image in enumerate(frames))
    with tracker_factory(compute_masks=True, crop_size=128) as tracker:
        track = tracker.track_frames(stream, fps=25.0 / 3, progress=seen.append)
        crop, mask = tracker.crop_frame(frames[4], track, 4)
    assert seen == list(range(12)) and track.valid.all()
    assert track.size == (frames[0].shape[1], frames[0].shape[0])
    # square crop containing every face landmark
    side = track.crop[:, 2] - track.crop[:, 0]
    assert np.allclose(side, track.crop[:, 3] - track.crop[:, 1], rtol=1e-5)
    for i in range(len(track)):
        uv = to_crop(track.landmarks[i], track.crop[i])
        assert uv.min() > 0.05 and uv.max() < 0.95
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    assert mask.shape == (128, 128) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    # the mask covers the face and little beyond the head region
    face = to_crop(track.landmarks[4], track.crop[4], 128)
    cols, rows = face[:468, 0].astype(int), face[:468, 1].astype(int)
    assert mask[rows, cols].mean() > 0.8
    assert mask[-10:].mean() < 0.05  # bottom rows (shoulders/neck) are not head
    masks = track.extras["masks"]
    assert masks.shape == (12, 128, 128) and masks.dtype == np.uint8
    assert np.abs(masks[4] / 255.0 - mask).mean() < 0.1
    # save / load round trip
    track.save(tmp_path / "t.npz")
    again = Track.load(tmp_path / "t.npz")
    for name in (
        "valid",
        "detected",
        "pose",
        "expression",
        "crop",
        "landmarks",
        "identity_shape",
        "embedding",
        "times",
    ):
        assert np.array_equal(getattr(again, name), getattr(track, name)), name
    assert again.fps == track.fps and again.size == track.size
    assert again.landmark_error == pytest.approx(track.landmark_error)
    assert np.array_equal(again.extras["masks"], masks)


def test_short_gaps_interpolated(data_available, tracker_factory):
    frames = read_frames(VIDEOS / "mead" / "W009_front_happy_level3_001.mp4", 10, every=2)
    frames[4] = np.full_like(frames[4], 90)
    frames[5] = np.full_like(frames[5], 90)
    with tracker_factory(max_gap_frames=3) as tracker:
        track = tracker.track_frames(frames, fps=12.5)
    assert track.valid.all()
    assert not track.detected[4] and not track.detected[5] and track.detected[[0, 3, 6]].all()
    with tracker_factory(max_gap_frames=1) as tracker:
        track = tracker.track_frames(frames, fps=12.5)
    assert not track.valid[4] and not track.valid[5]
    assert np.array_equal(track.pose[4], track.pose[3])  # invalid frames hold the nearest valid values
