"""Shared fixtures: a few real frames of a MEAD clip (decoded with PyAV here, in the tests only) and a
training cache built from them in the format of ``model/data.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.camera import frontal_cam_to_world

CLIP = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "videos"
    / "mead"
    / "M030_front_neutral_level1_001.mp4"
)


def decode_frames(path: Path, count: int, every: int, size: int) -> np.ndarray:
    """``count`` frames (every ``every``-th) as (count, size, size, 3) uint8, centre-cropped and
    area-resized."""
    av = pytest.importorskip("av")
    frames = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= count:
                break
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    side = min(video.shape[-2:])
    top, left = (video.shape[-2] - side) // 2, (video.shape[-1] - side) // 2
    video = torch.nn.functional.interpolate(
        video[..., top : top + side, left : left + side], size=(size, size), mode="area"
    )
    return video.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


@pytest.fixture(scope="session")
def clip_frames() -> np.ndarray:
    """(12, 64, 64, 3) uint8 real frames of M030 (every 4th frame)."""
    if not CLIP.is_file():
        pytest.skip(f"test clip not available: {CLIP}")
    return decode_frames(CLIP, 12, 4, 64)


def write_cache(
    folder: Path, frames: np.ndarray, person: str = "M030", seed: int = 0, identity_shape: bool = True
) -> Path:
    """One clip file in the cache format: full masks, frontal camera, zero expression, fixed identity (and the
    mean face's identity-shape coefficients unless ``identity_shape`` is False)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = len(frames)
    np.savez(
        folder / f"{person}.npz",
        images=frames,
        masks=np.full(frames.shape[:3], 255, np.uint8),
        pose=np.repeat(frontal_cam_to_world()[None].astype(np.float32), count, 0),
        expression=np.zeros((count, 46), np.float32),
        identity=(np.random.RandomState(seed).randn(128) * 0.1).astype(np.float32),
        person=np.array(person),
        **({"identity_shape": np.zeros(18, np.float32)} if identity_shape else {}),
    )
    return folder


@pytest.fixture
def cache_dir(tmp_path: Path, clip_frames: np.ndarray) -> Path:
    """A cache folder with the first 10 real frames (the last 2 are held out)."""
    return write_cache(tmp_path / "cache", clip_frames[:10])
