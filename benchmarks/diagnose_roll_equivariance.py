"""Does the model render a rolled camera as the unrolled render turned in the image? With the principal point at
the crop centre that is what an exact renderer does (``model/augment.py``); ``reenact train --roll-augment``
trains for it. On frames of a training cache, with their own codes (no fit), for each angle: the mean |Δ| inside
the turned head mask between the rolled camera's render and the unrolled render turned, and each one's L1 to the
turned photo. Several checkpoints are measured on the same frames, side by side.

    python benchmarks/diagnose_roll_equivariance.py runs/roll9/last.pt runs/control9/last.pt --cache runs/cache128

Prints one row per checkpoint and angle.
"""

from __future__ import annotations

import argparse
import math

import torch

from model.augment import roll_cameras, roll_images
from model.camera import Camera
from model.data import FrameDataset
from reenact.engine import Engine

ANGLES = (2.0, 4.0, 8.0)
"""Degrees of roll."""


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of (B, 3, m, m) ``values`` over the pixels of (B, 1, m, m) ``mask`` (weighted)."""
    return float((values * mask).sum() / (values.shape[1] * mask.sum()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--cache", required=True, help="a training cache folder (model/data.py)")
    parser.add_argument("--frames", type=int, default=12, help="frames spread evenly over the cache")
    args = parser.parse_args()

    print(f"{'checkpoint':28s} {'angle':>6s} {'|rolled − turned|':>18s} {'L1 rolled':>10s} {'L1 turned':>10s}")
    for path in args.checkpoints:
        engine = Engine.load(path, "cpu")
        model = engine.model
        data = FrameDataset(args.cache, engine.render_size, expression_reference=engine.expression_reference)
        batch = data.batch(data.spread(args.frames), "cpu")
        photo = batch.image * batch.mask
        with torch.no_grad():
            base = model(Camera(batch.cam_to_world), batch.expression, batch.identity).image
            for degrees in ANGLES:
                angles = torch.full((len(batch.image),), math.radians(degrees))
                rolled = model(Camera(roll_cameras(batch.cam_to_world, angles)), batch.expression, batch.identity).image
                turned, mask = roll_images(base, angles, "border"), roll_images(batch.mask, angles, "zeros")
                target = roll_images(photo, angles, "zeros")
                print(f"{path[-28:]:28s} {degrees:5.1f}° {masked_mean((rolled - turned).abs(), mask):18.4f} "
                      f"{masked_mean((rolled - target).abs(), mask):10.4f} {masked_mean((turned - target).abs(), mask):10.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
