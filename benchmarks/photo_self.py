"""Self-reenactment at the photo output's size, alone: each held-out clip's first tracked frame is the target
photo, driven by the clip as ``reenact drive`` drives it (its defaults), beside the 2D morph and the still
frame (:func:`reenact.viewer_eval.photo_self_rows`, the third table of ``reenact eval``, without the 128²
crop protocol that ``eval`` runs first and that takes most of its time).

    python benchmarks/photo_self.py [CLIP ...] [--sample 1|2] [--max-frames 40] [--fit-iterations 300]
                                    [--out-dir DIR]

Without clips: sample 1 of ``docs/evaluation.md`` (7 held-out clips), or sample 2 (6 more MEAD clips).
Prints L1 / PSNR / SSIM inside the real frame's head box, the whole frame's PSNR, the expression change
distance and the head-rotation error read by the tracker, per clip and row, then the mean per row.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reenact.engine import Engine  # noqa: E402
from reenact.evaluate import load_clip  # noqa: E402
from reenact.pipeline import DriveOptions  # noqa: E402
from reenact.viewer_eval import ROWS, SELF_COLUMNS, photo_self_rows  # noqa: E402
from tracking.tracker import Tracker, TrackerConfig  # noqa: E402

SAMPLE_1 = (
    "retalking/4.mp4",
    "pcavs/00098.mp4",
    "liveportrait/d6.mp4",
    "misc/vexpress_radio.mp4",
    "mead/M030_front_happy_level3_001.mp4",
    "mead/W009_front_surprised_level3_001.mp4",
    "mead/W011_front_angry_level3_001.mp4",
)
SAMPLE_2 = (
    "mead/M030_front_angry_level3_001.mp4",
    "mead/M030_front_sad_level3_001.mp4",
    "mead/W009_front_happy_level3_001.mp4",
    "mead/W009_front_angry_level3_001.mp4",
    "mead/W011_front_happy_level3_001.mp4",
    "mead/W011_front_surprised_level3_001.mp4",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clips", nargs="*", type=Path, help="clips (default: the --sample)")
    parser.add_argument("--sample", type=int, choices=(1, 2), default=1, help="the clips when none is given")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data")
    parser.add_argument("--max-frames", type=int, default=40)
    parser.add_argument("--fit-iterations", type=int, default=300)
    parser.add_argument("--out-dir", type=Path, default=None, help="keep the videos here")
    args = parser.parse_args()
    sample = SAMPLE_1 if args.sample == 1 else SAMPLE_2
    clips = args.clips or [args.data / "videos" / clip for clip in sample]
    engine = Engine.load(None)
    options = DriveOptions(fit_iterations=args.fit_iterations)
    config = TrackerConfig(crop_size=engine.render_size, smoothing=0.0)
    results = {}
    with Tracker(config) as tracker, tempfile.TemporaryDirectory(prefix="photo-self-") as scratch:
        out_dir = args.out_dir or Path(scratch)
        out_dir.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            track, _, _ = load_clip(clip, args.max_frames, engine.render_size, config, tracker)
            results[clip.stem] = photo_self_rows(engine, clip, track, options, out_dir, config, tracker)
            print(f"{clip.stem} done", file=sys.stderr, flush=True)
    print("| clip | row | " + " | ".join(SELF_COLUMNS) + " |")
    print("|---|---|" + "---|" * len(SELF_COLUMNS))
    for name, rows in results.items():
        for row in ROWS:
            print(f"| {name} | {row} | " + " | ".join(f"{rows[row][c]:.3f}" for c in SELF_COLUMNS) + " |")
    for row in ROWS:
        means = [sum(r[row][c] for r in results.values()) / len(results) for c in SELF_COLUMNS]
        print(f"| **mean** | {row} | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main()
