"""How much of a commanded expression change reaches the render? For each clip the first frame is fitted
(as ``reenact eval`` does); then the fitted code is moved along one leading expression component at a time
(a = −2, −1, 0, +1, +2 σ), each render is tracked with the project's tracker, and the slope of the tracked
component against a is the *gain* (1 = the render shows exactly what it was asked; 0 = it ignores it).
The mean |slope| of the other leading components is the *crosstalk*. Several checkpoints are measured in
the same run, on the same fits' inputs, so they compare side by side.

    python benchmarks/diagnose_expression_response.py reenact/weights/head_cpu.pt runs/control5/last.pt \
        --clip ../shared/data/videos/mead/M030_front_happy_level3_001.mp4 \
        --clip ../shared/data/videos/liveportrait/d6.mp4

Prints one row per checkpoint and clip (gain of each component, their mean, crosstalk) and a mean per
checkpoint.
"""

from __future__ import annotations

import argparse

import numpy as np

from model.fit import FitConfig
from reenact.codes import Codes
from reenact.engine import Engine
from reenact.evaluate import fit_first_frame, load_clip
from tracking.tracker import Tracker, TrackerConfig
from tracking.types import Track

AMPLITUDES = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])


def response(
    engine: Engine, track: Track, crops: np.ndarray, masks: np.ndarray, components: int, tracker: Tracker
) -> tuple[np.ndarray, float]:
    """(gains (K,), crosstalk) of one checkpoint on one clip (its track and crops from ``load_clip``)."""
    # The network's own response: the codes fitted as eval fits them, without the per-target renderer
    # fine-tuning.
    _, fit = fit_first_frame(engine, track, crops, masks, FitConfig(finetune_renderer=False))
    fit = Codes.from_fit(fit, np.zeros(4), (0, 0))  # the fit in numpy
    slopes = np.zeros((components, components))
    for k in range(components):
        codes = np.repeat(fit.expression[None], len(AMPLITUDES), 0)
        codes[:, k] += AMPLITUDES
        renders = engine.render(
            np.repeat(fit.cam_to_world[None], len(AMPLITUDES), 0),
            codes,
            np.repeat(fit.identity[None], len(AMPLITUDES), 0),
        )
        tracked = np.stack([tracker.track_image(r).expression[0][:components] for r in renders])
        slopes[k] = np.polyfit(AMPLITUDES, tracked, 1)[0]
    gains = np.diag(slopes).copy()
    crosstalk = float(np.abs(slopes[~np.eye(components, dtype=bool)]).mean())
    return gains, crosstalk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--clip", action="append", required=True, help="a clip of a held-out person (repeat)")
    parser.add_argument("--components", type=int, default=10, help="leading components to command")
    args = parser.parse_args()

    engines = [Engine.load(path, "cpu") for path in args.checkpoints]
    size = engines[0].render_size
    if any(engine.render_size != size for engine in engines):
        parser.error("the checkpoints render at different sizes; compare them in separate runs")
    config = TrackerConfig(crop_size=size, smoothing=0.0)
    print(
        f"{'checkpoint':28s} {'clip':20s} {'gains (leading components)':{7 * args.components}s} {'mean':>6s} "
        f"{'cross':>6s}"
    )
    means: dict[str, list[tuple[float, float]]] = {path: [] for path in args.checkpoints}
    with Tracker(config) as tracker:
        for clip in args.clip:
            track, crops, masks = load_clip(clip, 2, size, config)  # once per clip, for every checkpoint
            for path, engine in zip(args.checkpoints, engines):
                gains, crosstalk = response(engine, track, crops, masks, args.components, tracker)
                means[path].append((float(gains.mean()), crosstalk))
                cells = "".join(f"{g:7.2f}" for g in gains)
                print(
                    f"{path[-28:]:28s} {clip.split('/')[-1][:20]:20s} {cells} {gains.mean():6.2f} "
                    f"{crosstalk:6.2f}",
                    flush=True,
                )
    for path, rows in means.items():
        gain, cross = np.mean(rows, axis=0)
        print(f"{path[-28:]:28s} {'mean':20s} {'':{7 * args.components}s} {gain:6.2f} {cross:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
