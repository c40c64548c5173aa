import numpy as np
import pytest
import torch

from model.data import FrameDataset
from model.errors import DataError

from .conftest import write_cache


def test_loads_resizes_and_batches(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "cache", clip_frames[:4])
    write_cache(cache, clip_frames[4:7], person="W009", seed=1)
    data = FrameDataset(cache, 32)
    assert len(data) == 7 and sorted(data.persons) == ["M030", "W009"]
    batch = data.batch(torch.tensor([0, 6]), "cpu")
    assert batch.image.shape == (2, 3, 32, 32) and batch.mask.shape == (2, 1, 32, 32)
    assert (
        batch.image.dtype == torch.float32 and 0 <= float(batch.image.min()) and float(batch.image.max()) <= 1
    )
    assert float(batch.mask.min()) == 1.0  # 255 masks scale to 1
    assert (
        batch.cam_to_world.shape == (2, 4, 4)
        and batch.expression.shape == (2, 46)
        and batch.identity.shape == (2, 128)
    )
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(clip_frames[:1]).permute(0, 3, 1, 2).float(), size=(32, 32), mode="area"
    )
    assert torch.allclose(batch.image[0] * 255, expected[0].round(), atol=0.5)
    assert len(FrameDataset(cache, 32, exclude_persons=("W009",))) == 4


def test_bad_caches(tmp_path, clip_frames):
    with pytest.raises(DataError):
        FrameDataset(tmp_path / "nothing", 32)
    (tmp_path / "bad").mkdir()
    np.savez(tmp_path / "bad" / "clip.npz", images=clip_frames[:2])
    with pytest.raises(DataError):
        FrameDataset(tmp_path / "bad", 32)


def test_clip_mean_expression_reference_centres_each_clip(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "cache", clip_frames[:4])
    with np.load(cache / "M030.npz") as clip:
        arrays = dict(clip)
    arrays["expression"] = np.arange(4 * 46, dtype=np.float32).reshape(4, 46)
    np.savez(cache / "M030.npz", **arrays)
    plain = FrameDataset(cache, 32)
    centred = FrameDataset(cache, 32, expression_reference="clip_mean")
    assert torch.equal(plain.expression, torch.from_numpy(arrays["expression"]))
    expected = arrays["expression"] - arrays["expression"].mean(0)
    assert torch.allclose(centred.expression, torch.from_numpy(expected))
    with pytest.raises(ValueError):
        FrameDataset(cache, 32, expression_reference="median")


def test_spread_picks_evenly_spaced_frames_first_and_last_included(tmp_path, clip_frames):
    data = FrameDataset(write_cache(tmp_path / "c", clip_frames[:10]), 32)
    assert data.spread(4).tolist() == [0, 3, 6, 9]
    assert data.spread(1).tolist() == [0]
    assert data.spread(50).tolist() == list(range(10))  # never more frames than there are
