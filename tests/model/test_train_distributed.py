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
from model.config import preset
from model.train import TrainConfig, train
result = train(preset("tiny"), TrainConfig(steps=4, batch_size=1, checkpoint_every=2, preview_every=2, out_dir=sys.argv[2]), sys.argv[1])
print("RESULT", result.step, len(result.loss_history))
"""


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path, clip_frames):
    cache = write_cache(tmp_path / "cache", clip_frames[:4])
    script = tmp_path / "run_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", str(script), str(cache), str(tmp_path / "out")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RESULT 4 4" in done.stdout and "RESULT 4 0" in done.stdout  # rank 0 records history, rank 1 does not
    _, meta = load_checkpoint(tmp_path / "out" / "last.pt")
    assert meta.step == 4
    assert sorted(p.name for p in (tmp_path / "out").glob("preview_*.png")) == ["preview_0000002.png", "preview_0000004.png"]
