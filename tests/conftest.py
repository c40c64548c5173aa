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
    """The first 30 frames (1.2 s) of a real talking-head clip, with its audio (those 1.2 s of it,
    stream-copied)."""
    import av

    source = shared_data / "videos" / "pcavs" / "00015.mp4"
    clip = tmp_path_factory.mktemp("clips") / "clip.mp4"
    with av.open(str(source)) as video_in, av.open(str(source)) as audio_in, av.open(str(clip), "w") as out:
        stream = video_in.streams.video[0]
        rate = stream.average_rate
        video_out = out.add_stream("libx264", rate=rate)
        video_out.width, video_out.height, video_out.pix_fmt = stream.width, stream.height, "yuv420p"
        audio_out = out.add_stream_from_template(audio_in.streams.audio[0])
        for index, frame in enumerate(video_in.decode(stream)):
            if index >= SHORT_CLIP_FRAMES:
                break
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = index, 1 / rate
            for packet in video_out.encode(frame):
                out.mux(packet)
        for packet in video_out.encode(None):
            out.mux(packet)
        end = SHORT_CLIP_FRAMES / rate
        for packet in audio_in.demux(audio_in.streams.audio[0]):
            if packet.pts is None or packet.size == 0:
                continue
            if packet.pts * packet.time_base >= end:
                break
            packet.stream = audio_out
            out.mux(packet)
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
