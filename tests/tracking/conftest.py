"""Shared helpers for tracking tests: real frames from ../shared/data (read, never copied)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
VIDEOS = DATA / "videos"
PORTRAITS = DATA / "portraits"


def read_frames(path: Path, count: int, every: int = 1, start: int = 0) -> list[np.ndarray]:
    """Up to ``count`` RGB frames (every ``every``-th from ``start``) decoded with PyAV."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= start and (index - start) % every == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) >= count:
                    break
    return frames


def read_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="session")
def data_available() -> None:
    if not VIDEOS.is_dir():
        pytest.skip("../shared/data is not available")


@pytest.fixture(scope="session")
def tracker_factory():
    from tracking.tracker import Tracker, TrackerConfig

    def make(**overrides):
        options = dict(embed_frames=0)
        options.update(overrides)
        return Tracker(TrackerConfig(**options))

    return make


@pytest.fixture(scope="session")
def mead_tracks(data_available, tracker_factory):
    """M030 neutral / happy / surprised and W009 happy: 30 frames each (every 2nd), tracked once."""
    clips = {
        "neutral": "M030_front_neutral_level1_001.mp4",
        "happy": "M030_front_happy_level3_001.mp4",
        "surprised": "M030_front_surprised_level3_001.mp4",
        "angry": "M030_front_angry_level3_001.mp4",
    }
    tracks = {}
    with tracker_factory(smoothing=0.0) as tracker:
        for name, file in clips.items():
            frames = read_frames(VIDEOS / "mead" / file, 30, every=2, start=20)
            tracks[name] = tracker.track_frames(frames, fps=12.5)
    return tracks
