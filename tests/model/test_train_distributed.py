"""DDP smoke test on CPU (gloo): the same train() under torchrun with two processes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.checkpoint import load_checkpoint

from .conftest import write_cache

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from dataclasses import replace
from model.config import preset
from model.train import TrainConfig, train
config, mesh = preset("tiny"), None
# With the geometry prior, whose rays the module renders outside the DDP wrapper's forward:
if len(sys.argv) > 3:
    from tracking.landmark_model import LandmarkModel
    config = replace(
        config, loss=replace(config.loss, geometry_weight=float(sys.argv[3]), geometry_landmarks=16)
    )
    mesh = LandmarkModel.default().face_mesh()
# train() returns no model and only rank 0 writes the checkpoint, so each rank reports a checksum of its
# weights as its last training forward saw them (after three steps).
steps = []
def hook(module, inputs, output):
    if module.training:  # not rank 0's previews, rendered after the step
        steps.append(sum(float(p.double().sum()) for p in module.parameters()))
import model.head_model as head_model
original = head_model.HeadModel.__init__
def patched(self, *args, **kwargs):
    original(self, *args, **kwargs)
    self.register_forward_hook(hook)
head_model.HeadModel.__init__ = patched
result = train(
    config,
    TrainConfig(steps=4, batch_size=1, checkpoint_every=2, preview_every=2, out_dir=sys.argv[2]),
    sys.argv[1],
    face_mesh=mesh,
)
print("RESULT", result.step, len(result.loss_history))
print("CHECKSUM", repr(steps[-1]))
"""


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "cache", clip_frames[:4])
    script = tmp_path / "run_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        str(script),
        str(cache),
        str(tmp_path / "out"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "RESULT 4 4" in done.stdout and "RESULT 4 0" in done.stdout
    )  # rank 0 records history, rank 1 does not
    sums = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("CHECKSUM")]
    assert len(sums) == 2 and sums[0] == sums[1], done.stdout  # the ranks' gradients were averaged
    _, meta = load_checkpoint(tmp_path / "out" / "last.pt")
    assert meta.step == 4
    assert sorted(p.name for p in (tmp_path / "out").glob("preview_*.png")) == [
        "preview_0000002.png",
        "preview_0000004.png",
    ]


@pytest.mark.slow
def test_torchrun_geometry_prior_keeps_ranks_in_step(tmp_path, clip_frames):
    """The geometry prior renders its rays with the module, not the DDP wrapper: its gradient must still be
    averaged over the ranks, or their weights drift apart."""
    cache = write_cache(tmp_path / "cache", clip_frames[:4])
    script = tmp_path / "run_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29518",
        str(script),
        str(cache),
        str(tmp_path / "out"),
        "5.0",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    sums = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("CHECKSUM")]
    assert len(sums) == 2 and sums[0] == sums[1], done.stdout
