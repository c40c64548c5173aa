"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (``../shared/data`` next to the repository); skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is missing (see its README.md)")
    return SHARED_DATA


SHORT_CLIP_FRAMES = 30


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory, shared_data) -> Path:
    """The first 30 frames (1.2 s) of a real talking-head clip, with its audio."""
    from reenact.video import VideoReader, VideoWriter

    source = shared_data / "videos" / "pcavs" / "00015.mp4"
    clip = tmp_path_factory.mktemp("clips") / "clip.mp4"
    with VideoReader(source) as reader, VideoWriter(
        clip, fps=reader.info.fps, audio_from=source, audio_duration=SHORT_CLIP_FRAMES / reader.info.fps
    ) as writer:
        for frame in reader:
            if frame.index >= SHORT_CLIP_FRAMES:
                break
            writer.write(frame.image)
    return clip


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised checkpoint of the tiny preset (fast; exercises the real code path)."""
    import torch

    from model.checkpoint import save_checkpoint
    from model.config import preset
    from model.head_model import HeadModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, HeadModel(preset("tiny")), step=0)
    return path
