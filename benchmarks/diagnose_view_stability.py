"""How steady is the tracker's expression reading when nothing but the view changes? For each clip the first
frame is fitted (as ``reenact eval`` does); then, with the codes held, the camera is turned by small angles
(yaw and roll) and each render is tracked. The mean |Δβ| over the leading expression components against the
unturned render is expression the render shows that nobody asked for. Beside it, the same reading on the real
crop turned in the image plane and shifted by fractions of a pixel: what the tracker alone does to an image
that has not changed at all (its floor, which every ``reenact eval`` motion column includes).

    python benchmarks/diagnose_view_stability.py reenact/weights/head_cpu.pt \
        --clip ../shared/data/videos/liveportrait/d6.mp4 \
        --clip ../shared/data/videos/mead/W009_front_surprised_level3_001.mp4

Prints one row per clip and kind of change (mean |Δβ| at each angle or shift) and the mean per kind.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy import ndimage

from model.fit import FitConfig, corrected_camera
from reenact.codes import Codes
from reenact.engine import Engine
from reenact.evaluate import fit_first_frame, load_clip
from reenact.tracked_measures import LEADING_EXPRESSION
from tracking.tracker import Tracker, TrackerConfig

ANGLES = (0.5, 1.0, 2.0, 4.0)
"""Degrees the camera (or the real crop) is turned by."""
SHIFTS = (0.25, 0.5, 1.0)
"""Pixels the real crop is shifted by (diagonally)."""


def reading_change(tracker: Tracker, images: list[np.ndarray], reference: np.ndarray) -> np.ndarray:
    """Mean |Δβ| over the leading components of each image's tracked code against ``reference``'s."""
    start = tracker.track_image(reference).expression[0][:LEADING_EXPRESSION]
    return np.array(
        [np.abs(tracker.track_image(i).expression[0][:LEADING_EXPRESSION] - start).mean() for i in images]
    )


def turned_renders(engine: Engine, fit, axis: int) -> list[np.ndarray]:
    """The fitted codes rendered with the camera turned about the head by each of ``ANGLES`` (axis 1 yaw, 2
    roll)."""
    base = torch.as_tensor(fit.cam_to_world, dtype=torch.float32)
    cameras = []
    for angle in ANGLES:
        omega = torch.zeros(3)
        omega[axis] = np.radians(angle)
        cameras.append(corrected_camera(base, omega, torch.zeros(3)).numpy())
    count = len(ANGLES)
    return list(
        engine.render(
            np.stack(cameras),
            np.repeat(fit.expression[None], count, 0),
            np.repeat(fit.identity[None], count, 0),
        )
    )


def moved_image(image: np.ndarray, angle: float = 0.0, shift: float = 0.0) -> np.ndarray:
    out = image.astype(np.float32)
    if angle:
        out = ndimage.rotate(out, angle, reshape=False, order=1)
    if shift:
        out = ndimage.shift(out, (shift, shift, 0), order=1)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--clip", action="append", required=True, help="a clip of a held-out person (repeat)")
    args = parser.parse_args()

    engine = Engine.load(args.checkpoint, "cpu")
    size = engine.render_size
    config = TrackerConfig(crop_size=size, smoothing=0.0)
    angles = " ".join(f"{a:>5.2g}°" for a in ANGLES)
    shifts = " ".join(f"{s:>5.2g}px" for s in SHIFTS)
    print(f"{'clip':24s} {'change':32s} mean |Δβ| (leading {LEADING_EXPRESSION}) at {angles} / {shifts}")
    rows: dict[str, list[float]] = {}
    with Tracker(config) as tracker:
        for clip in args.clip:
            track, crops, masks = load_clip(clip, 2, size, config)
            # The network's own renders (no per-target renderer fine-tuning), as the numbers of
            # ``docs/experiments.md`` ("Steadiness of new views") were measured.
            first, fit = fit_first_frame(engine, track, crops, masks, FitConfig(finetune_renderer=False))
            fit = Codes.from_fit(fit, np.zeros(4), (0, 0))  # the fit in numpy
            render = engine.render(fit.cam_to_world[None], fit.expression[None], fit.identity[None])[0]
            real = crops[first]
            kinds = {
                "render, camera yaw": (turned_renders(engine, fit, 1), render),
                "render, camera roll": (turned_renders(engine, fit, 2), render),
                "render, turned in the image": ([moved_image(render, angle=a) for a in ANGLES], render),
                "real crop, turned in the image": ([moved_image(real, angle=a) for a in ANGLES], real),
                "real crop, shifted": ([moved_image(real, shift=s) for s in SHIFTS], real),
            }
            for kind, (images, reference) in kinds.items():
                change = reading_change(tracker, images, reference)
                rows.setdefault(kind, []).append(float(change.mean()))
                print(
                    f"{clip.split('/')[-1][:24]:24s} {kind:32s} " + " ".join(f"{c:6.2f}" for c in change),
                    flush=True,
                )
    for kind, values in rows.items():
        print(f"{'mean':24s} {kind:32s} {np.mean(values):6.2f} (over all angles/shifts and clips)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
