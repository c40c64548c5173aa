"""Does the model follow motion on people it was trained on? Self-reenactment without fitting, on a
training cache: every frame is rendered with its own cached pose, expression and the clip's identity code,
and compared (masked L1 / PSNR, as ``reenact eval``) with the static baseline — the clip's first frame's
parameters repeated. Set beside ``reenact eval`` (unseen people, fitted codes) it separates "the model does
not respond to motion" from "the model does not generalise to new identities".

    python benchmarks/diagnose_seen_motion.py runs/shipped/last.pt runs/cache128 --frames 40

Prints one row per clip (the clips with the most head motion first) and the mean.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from model.data import FrameDataset
from reenact.engine import Engine
from reenact.evaluate import image_metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("cache")
    parser.add_argument("--frames", type=int, default=40, help="first N cached frames of each clip")
    parser.add_argument("--clips", type=int, default=6, help="how many clips (most yaw range first)")
    args = parser.parse_args()

    engine = Engine.load(args.checkpoint, "cpu")
    data = FrameDataset(args.cache, engine.render_size, expression_reference=engine.expression_reference)
    spans = []
    for clip in range(len(data.clip_files)):
        index = torch.nonzero(data.clip_index == clip)[:, 0][: args.frames]
        forward = data.cam_to_world[index, :3, 2]
        yaw = torch.rad2deg(torch.atan2(forward[:, 0], forward[:, 2]))
        spans.append((float(yaw.max() - yaw.min()), clip, index))
    spans.sort(key=lambda item: -item[0])
    print(
        f"{'clip':32s} {'yaw range °':>11s} {'model PSNR':>10s} {'static PSNR':>11s} {'model L1':>9s} "
        f"{'static L1':>9s}"
    )
    rows = []
    for span, clip, index in spans[: args.clips]:
        batch = data.batch(index, "cpu")
        pose, expression, identity = (
            batch.cam_to_world.numpy(),
            batch.expression.numpy(),
            batch.identity.numpy(),
        )
        renders = np.concatenate(list(engine.render_batches(pose, expression, identity, 8)))
        static = np.repeat(engine.render(pose[:1], expression[:1], identity[:1]), len(index), 0)
        real = (batch.image.permute(0, 2, 3, 1).numpy() * 255.0).round().astype(np.uint8)
        mask = batch.mask[:, 0].numpy()
        model = image_metrics(renders[1:], real[1:], mask[1:])
        base = image_metrics(static[1:], real[1:], mask[1:])
        rows.append((model["psnr"], base["psnr"], model["l1"], base["l1"]))
        print(
            f"{data.clip_files[clip].stem:32s} {span:11.1f} {model['psnr']:10.2f} {base['psnr']:11.2f} "
            f"{model['l1']:9.4f} {base['l1']:9.4f}"
        )
    mean = np.mean(rows, axis=0)
    print(f"{'mean':32s} {'':11s} {mean[0]:10.2f} {mean[1]:11.2f} {mean[2]:9.4f} {mean[3]:9.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
