"""Training-cache build from a real video and a real portrait (one-frame clip)."""

from __future__ import annotations

import numpy as np

from model.data import FrameDataset
from reenact.dataset import build_cache, clip_name
from tracking.media_files import find_videos


def test_a_portrait_becomes_a_one_frame_clip(tmp_path, shared_data, short_clip):
    portrait = shared_data / "portraits" / "liveportrait" / "s1.jpg"
    folder = tmp_path / "stills"
    folder.mkdir()
    (folder / portrait.name).symlink_to(portrait)
    (folder / "notes.txt").write_text("not an image")
    assert find_videos([folder], stills=True) == [
        folder / portrait.name
    ]  # images are found, other files ignored
    assert find_videos([folder]) == []  # `reenact eval` takes videos only
    assert clip_name(folder / "s1.jpg") == "still_stills_s1" and clip_name(short_clip).startswith(
        short_clip.parent.name
    )

    cache = tmp_path / "cache"
    written = build_cache([short_clip, folder], cache, size=32, every=3)
    assert len(written) == 2
    with np.load(cache / "still_stills_s1.npz") as still:
        assert still["images"].shape == (1, 32, 32, 3) and still["masks"].shape == (1, 32, 32)
        assert still["masks"].max() == 255 and still["images"].std() > 10  # a real crop with a head mask
        assert still["pose"].shape == (1, 4, 4) and still["identity"].shape == (128,)
    data = FrameDataset(cache, 32, expression_reference="clip_mean")
    portrait_rows = data.clip_index == [f.stem for f in data.clip_files].index("still_stills_s1")
    assert int(portrait_rows.sum()) == 1
    assert float(data.expression[portrait_rows].abs().max()) == 0.0  # a single image is its own mean
    assert float(data.expression[~portrait_rows].abs().max()) > 0.0
