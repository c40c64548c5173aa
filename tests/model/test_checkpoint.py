import pytest
import torch

from model.camera import Camera, frontal_cam_to_world
from model.checkpoint import export_half, load_checkpoint, save_checkpoint
from model.config import preset
from model.head_model import HeadModel
from reenact.errors import CheckpointError


def _render(model):
    with torch.no_grad():
        return model(Camera.from_numpy(frontal_cam_to_world()), torch.zeros(1, 46), torch.ones(1, 128) * 0.1).image


def test_round_trip_identical_renders(tmp_path):
    torch.manual_seed(0)
    model = HeadModel(preset("tiny")).eval()
    path = tmp_path / "ckpt" / "model.pt"
    save_checkpoint(path, model, step=7, extra={"note": "x", "value": torch.arange(3)})
    loaded, meta = load_checkpoint(path)
    assert meta.step == 7 and meta.config == preset("tiny") and meta.extra["note"] == "x"
    assert torch.equal(_render(model), _render(loaded))
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary left behind


def test_half_export(tmp_path):
    model = HeadModel(preset("cpu")).eval()
    save_checkpoint(tmp_path / "full.pt", model, step=1)
    size = export_half(tmp_path / "full.pt", tmp_path / "half.pt")
    assert size < 30 * 2**20
    loaded, _ = load_checkpoint(tmp_path / "half.pt")
    assert next(loaded.parameters()).dtype == torch.float32
    assert torch.allclose(_render(model), _render(loaded), atol=1e-2)


def test_missing_corrupt_incompatible(tmp_path):
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "absent.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_checkpoint(corrupt)
    model = HeadModel(preset("tiny"))
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, step=0)
    payload = torch.load(path, weights_only=True)
    payload["config"]["field"]["width"] = 64  # weights no longer match the config
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "mismatch.pt")
    payload["config"]["field"]["extra_key"] = 1
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "unknown.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        load_checkpoint(truncated)
