"""Is the tracker's reading of motion limited by sharpness? The ``real`` row of ``reenact eval`` puts the real
crops through the motion metrics (a perfect renderer's score); here the same crops are first blurred
(Gaussian, σ pixels of the 128² crop) as a blurry but perfectly moving renderer would draw them. With
``--checkpoint``, each clip's first frame is also fitted (as ``reenact eval`` fits it) and the σ whose blurred
real crop is closest to the fitted render (masked PSNR) is reported: how blurry the model's renders are on the
same scale.

    python benchmarks/diagnose_blur_floor.py --checkpoint reenact/weights/head_cpu.pt \
        --clip ../shared/data/videos/liveportrait/d6.mp4 \
        --clip ../shared/data/videos/mead/W009_front_surprised_level3_001.mp4

Prints per clip and σ the expression distance over the leading components, the expression change distance and
the pose distance (as ``reenact eval`` defines them), then the means per σ; with a checkpoint, the
render-matched σ.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

from model.fit import FitConfig
from reenact.codes import Codes
from reenact.engine import Engine
from reenact.evaluate import fit_first_frame, image_metrics, load_clip
from reenact.tracked_measures import LEADING_EXPRESSION, motion_metrics, motion_start
from tracking.tracker import Tracker, TrackerConfig

SIGMAS = (0.0, 1.0, 1.5, 2.0, 3.0)
KEYS = (
    ("expression_distance_leading", f"expr {LEADING_EXPRESSION}"),
    ("expression_change_distance", f"expr Δ {LEADING_EXPRESSION}"),
    ("pose_distance_deg", "pose °"),
)


def blurred(images: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 (N, S, S, 3) images blurred by a Gaussian of ``sigma`` pixels (per channel)."""
    if sigma == 0:
        return images
    return np.stack(
        [
            np.clip(ndimage.gaussian_filter(i.astype(np.float32), (sigma, sigma, 0)) + 0.5, 0, 255).astype(
                np.uint8
            )
            for i in images
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", action="append", required=True, help="a clip (repeat)")
    parser.add_argument(
        "--checkpoint", default=None, help="also estimate the blur of this model's fitted renders"
    )
    parser.add_argument("--max-frames", type=int, default=40)
    parser.add_argument(
        "--size", type=int, default=128, help="crop size (a checkpoint's render size overrides it)"
    )
    parser.add_argument(
        "--finetune-renderer",
        action=argparse.BooleanOptionalAction,
        default=FitConfig.finetune_renderer,
        help="fit as drive does, with the renderer fine-tuned on the frame (default: the fit's default)",
    )
    args = parser.parse_args()

    engine = Engine.load(args.checkpoint, "cpu") if args.checkpoint else None
    size = engine.render_size if engine else args.size
    config = TrackerConfig(crop_size=size, smoothing=0.0)
    print(f"{'clip':40s} {'σ px':>5s} " + " ".join(f"{label:>10s}" for _, label in KEYS))
    means: dict[float, list[list[float]]] = {s: [] for s in SIGMAS}
    matched = []
    for clip in args.clip:
        track, crops, masks = load_clip(clip, args.max_frames, size, config)
        valid = np.flatnonzero(track.valid & track.detected)
        first, rest = int(valid[0]), valid[1:]
        with Tracker(config) as tracker:
            for sigma in SIGMAS:
                images = blurred(crops, sigma)
                start = motion_start(tracker, images[first], track.expression[first])
                row = motion_metrics(
                    images[rest], track.pose[rest], track.expression[rest], track.embedding, tracker, start
                )
                values = [row[key] for key, _ in KEYS]
                means[sigma].append(values)
                print(f"{clip[-40:]:40s} {sigma:5.1f} " + " ".join(f"{v:10.2f}" for v in values), flush=True)
        if engine is not None:
            _, fit = fit_first_frame(
                engine, track, crops, masks, FitConfig(finetune_renderer=args.finetune_renderer)
            )
            fit = Codes.from_fit(fit, np.zeros(4), (0, 0))  # the fit in numpy
            with engine.renderer_override(fit.renderer_state):
                render = engine.render(fit.cam_to_world[None], fit.expression[None], fit.identity[None])
            grid = np.arange(0.0, 4.01, 0.25)
            scores = [
                image_metrics(render, blurred(crops[first : first + 1], s), masks[first : first + 1])["psnr"]
                for s in grid
            ]
            matched.append(float(grid[int(np.argmax(scores))]))
            print(
                f"{clip[-40:]:40s} fitted render closest to the real crop blurred by σ = {matched[-1]:.2f} "
                f"px ({max(scores):.2f} dB; unblurred {scores[0]:.2f} dB)",
                flush=True,
            )
    for sigma, rows in means.items():
        print(f"{'mean':40s} {sigma:5.1f} " + " ".join(f"{v:10.2f}" for v in np.nanmean(rows, axis=0)))
    if matched:
        print(f"render-matched σ: mean {np.mean(matched):.2f} px over {len(matched)} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
