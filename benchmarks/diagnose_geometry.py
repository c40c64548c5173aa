"""Does the field put the face surface where the tracker's landmarks are? On frames of a training cache, with
their own codes (no fit): a ray from the frame's camera through each of the 468 landmarks of the landmark
model's shape for the frame's tracked codes (``tracking/landmark_model.py``), and the distance along it at
which the field's density ends the ray (Σ w t / Σ w, ``HeadModel.ray_depth``) against the landmark's own
distance. Landmarks the face itself hides from the camera (the far cheek of a turned head) are left out by a
normal test on the mesh. Several checkpoints on the same frames, side by side.

    python benchmarks/diagnose_geometry.py reenact/weights/head_cpu.pt --cache runs/cache128

Prints one row per checkpoint: median and mean |depth error| in head units (the mean face's outer eye corners
are 0.7 apart), the median signed error (+ = the field's surface lies behind the landmarks), the share of
landmarks within 0.05, and the mean opacity along the landmark rays.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from model.camera import Camera
from model.data import FrameDataset
from model.geometry import landmark_depth_errors
from reenact.engine import Engine
from tracking.landmark_model import LandmarkModel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--cache", required=True, help="a training cache folder (model/data.py)")
    parser.add_argument("--frames", type=int, default=24, help="frames spread evenly over the cache")
    args = parser.parse_args()

    mesh = LandmarkModel.default().face_mesh()
    print(
        f"{'checkpoint':34s} {'median |err|':>12s} {'mean |err|':>10s} {'median err':>10s} {'≤ 0.05':>7s} "
        f"{'opacity':>8s}"
    )
    for path in args.checkpoints:
        engine = Engine.load(path, "cpu")
        data = FrameDataset(
            args.cache, engine.render_size, expression_reference=engine.expression_reference, face_mesh=mesh
        )
        batch = data.batch(data.spread(args.frames), "cpu")
        with torch.no_grad():
            errors, visible, opacity = landmark_depth_errors(
                engine.model,
                batch.landmarks,
                Camera(batch.cam_to_world),
                batch.expression,
                batch.identity,
                mesh.triangles,
            )
        error = errors[visible].numpy()
        print(
            f"{path[-34:]:34s} {np.median(np.abs(error)):12.4f} {np.abs(error).mean():10.4f} "
            f"{np.median(error):10.4f} "
            f"{(np.abs(error) <= 0.05).mean():7.1%} {float(opacity[visible].mean()):8.3f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
