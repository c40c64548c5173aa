import pytest
import torch

from model.camera import Camera, frontal_cam_to_world
from model.checkpoint import export_half, load_checkpoint, save_checkpoint
from model.config import preset
from model.errors import CheckpointError
from model.head_model import HeadModel


def _render(model):
    with torch.no_grad():
        return model(
            Camera.from_numpy(frontal_cam_to_world()), torch.zeros(1, 46), torch.ones(1, 128) * 0.1
        ).image


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


def test_checkpoints_written_before_experiments_were_removed(tmp_path):
    # Files written up to commit 902c83e (the shipped ones among them) carry the plain-NeRF baseline head's
    # weights and config keys of removed experiments at their off value: they load and render as before, and
    # export drops both. A file that switched a removed experiment on is one clear CheckpointError.
    torch.manual_seed(0)
    model = HeadModel(preset("tiny")).eval()
    save_checkpoint(tmp_path / "new.pt", model, step=3)
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    payload["state_dict"]["rgb_head.weight"] = torch.zeros(3, preset("tiny").field.feature_dim)
    payload["state_dict"]["rgb_head.bias"] = torch.zeros(3)
    payload["config"]["field"].update(warp_gain=False, expression_in_mlp=True)
    payload["config"]["loss"].update(expression_weight=0.0, region_weight=0.0, motion_weight=0.0)
    torch.save(payload, tmp_path / "old.pt")
    loaded, meta = load_checkpoint(tmp_path / "old.pt")
    assert meta.config == preset("tiny") and torch.equal(_render(loaded), _render(model))
    export_half(tmp_path / "old.pt", tmp_path / "half.pt")
    exported = torch.load(tmp_path / "half.pt", weights_only=True)
    assert not [k for k in exported["state_dict"] if k.startswith("rgb_head.")]
    assert exported["config"] == preset("tiny").to_dict()
    payload["config"]["loss"]["region_weight"] = 0.5
    torch.save(payload, tmp_path / "on.pt")
    with pytest.raises(CheckpointError, match="region_weight") as error:
        load_checkpoint(tmp_path / "on.pt")
    assert "\n" not in str(error.value)
