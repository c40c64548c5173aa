"""Would the renders follow the driver better if the driving expression change were amplified? The model's
response to a commanded change is well below 1 (``diagnose_expression_response.py``: 0.28 for the shipped
file), so a render asked for k times the driver's change might show about the driver's change. For each clip
the first frame is fitted (as ``reenact eval`` does) and the rest are rendered with β = β_fit + k·(β_t − β_first)
for each k, beside the still frame; the same image and motion metrics as ``reenact eval``.

    python benchmarks/diagnose_expression_scale.py reenact/weights/head_cpu.pt \
        --clip ../shared/data/videos/liveportrait/d10.mp4 --clip ../shared/data/videos/pcavs/00010.mp4

Prints one row per clip and scale and the mean per scale. Pick k on clips of *trained* people (the
calibration set) and only then look at held-out ones.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from model.fit import FitConfig
from reenact.engine import Engine
from reenact.evaluate import fit_first_frame, image_metrics, load_clip, motion_metrics, motion_start
from reenact.motion import drive_parameters
from tracking.tracker import Tracker, TrackerConfig

COLUMNS = {"psnr": "PSNR", "ssim": "SSIM", "expression_distance_leading": "expr10", "expression_change_distance": "exprΔ10",
           "pose_distance_deg": "pose°"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--clip", action="append", required=True, help="a clip (repeat)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0])
    parser.add_argument("--max-frames", type=int, default=40)
    args = parser.parse_args()

    engine = Engine.load(args.checkpoint, "cpu")
    config = TrackerConfig(crop_size=engine.render_size, smoothing=0.0)
    fit_config = replace(FitConfig(), iterations=300, finetune_renderer=False)  # the network's own renders, as measured
    names = ["static"] + [f"k = {k:g}" for k in args.scales]
    print(f"{'clip':24s} {'method':8s} " + " ".join(f"{c:>8s}" for c in COLUMNS.values()))
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for clip in args.clip:
        track, crops, masks = load_clip(clip, args.max_frames, engine.render_size, config)
        first, fit = fit_first_frame(engine, track, crops, masks, fit_config)
        rest = np.flatnonzero(track.valid & track.detected)[1:]
        pose, expression = drive_parameters(track.pose, track.expression, track.valid, fit.cam_to_world, fit.expression)
        identity = np.repeat(fit.identity[None], len(rest), 0)
        fitted = engine.render(fit.cam_to_world[None], fit.expression[None], fit.identity[None])
        images = {"static": np.repeat(fitted, len(rest), 0)}
        for name, k in zip(names[1:], args.scales):
            scaled = fit.expression[None] + k * (expression[rest] - fit.expression[None])
            images[name] = np.concatenate(list(engine.render_batches(pose[rest], scaled, identity, 8)))
        with Tracker(config) as tracker:
            start = motion_start(tracker, fitted[0], track.expression[first])
            for name, renders in images.items():
                row = {**image_metrics(renders, crops[rest], masks[rest]),
                       **motion_metrics(renders, track.pose[rest], track.expression[rest], track.embedding, tracker, start)}
                rows[name].append(row)
                print(f"{clip.split('/')[-1][:24]:24s} {name:8s} " + " ".join(f"{row[c]:8.3f}" for c in COLUMNS), flush=True)
    for name in names:
        print(f"{'mean':24s} {name:8s} " + " ".join(f"{np.nanmean([r[c] for r in rows[name]]):8.3f}" for c in COLUMNS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
