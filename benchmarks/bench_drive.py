"""End-to-end ``reenact drive`` on this machine: frames/s, where the time goes, and peak memory on a long
vs a short source measured in the same run (the ratio is what matters on a noisy machine), beside the 2D
landmark morph of the same portrait by the long source (``reenact/morph.py``, the yardstick), timed in the
same run.

    python benchmarks/bench_drive.py [--checkpoint CKPT] [--short 5] [--long 30] [--device cpu]
        [--no-finetune-renderer] [--finetune-roll DEG] [--finetune-expressions N]

Sources are made by looping a real clip (``../shared/data/videos/pcavs/00015.mp4``, 224², 25 fps) to the
requested lengths; the target is a real portrait. Each drive runs in its own process so its peak RSS is
its own (``ru_maxrss`` of the child).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "data").resolve()
sys.path.insert(0, str(REPO))


def looped_clip(source: Path, seconds: float, out: Path) -> int:
    """Write ``seconds`` of ``source`` played in a loop to ``out``; returns the frame count."""
    from reenact.media.reading import VideoReader
    from reenact.media.writing import VideoWriter

    with VideoReader(source) as reader:
        fps = reader.info.fps
        frames = [f.image for f in reader]
    count = int(round(seconds * fps))
    with VideoWriter(out, fps=fps) as writer:
        for i in range(count):
            writer.write(frames[i % len(frames)])
    return count


def drive(
    source: Path, target: Path, output: Path, checkpoint: str | None, device: str, extra: list[str]
) -> dict:
    argv = [
        sys.executable,
        "-m",
        "reenact",
        "drive",
        str(source),
        str(target),
        "-o",
        str(output),
        "--json",
        "-q",
        "--device",
        device,
        "--force",
    ]
    if checkpoint:
        argv += ["--checkpoint", checkpoint]
    argv += extra
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    stdout = process.stdout.read().decode()
    stderr = process.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"drive failed: {stderr.strip()[-500:]}")
    summary = json.loads(stdout)
    summary["peak_rss_mib"] = usage.ru_maxrss / 1024.0
    return summary


def time_morph(target: Path, source: Path, output: Path) -> float:
    """Wall seconds of the 2D landmark morph of ``target`` by ``source`` (all its frames)."""
    from reenact.morph import morph_video

    started = time.perf_counter()
    morph_video(target, source, output)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped model")
    parser.add_argument("--short", type=float, default=5.0, help="seconds of the short source")
    parser.add_argument("--long", type=float, default=30.0, help="seconds of the long source")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--no-finetune-renderer",
        action="store_true",
        help="fit the target without renderer fine-tuning (drive's default fine-tunes)",
    )
    parser.add_argument(
        "--finetune-roll", type=float, default=None, help="drive's --finetune-roll (default: drive's)"
    )
    parser.add_argument(
        "--finetune-expressions",
        type=int,
        default=None,
        help="drive's --finetune-expressions (default: drive's)",
    )
    args = parser.parse_args()
    extra = ["--no-finetune-renderer"] if args.no_finetune_renderer else []
    if args.finetune_roll is not None:
        extra += ["--finetune-roll", str(args.finetune_roll)]
    if args.finetune_expressions is not None:
        extra += ["--finetune-expressions", str(args.finetune_expressions)]
    clip = SHARED / "videos" / "pcavs" / "00015.mp4"
    target = SHARED / "portraits" / "liveportrait" / "s1.jpg"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in (args.short, args.long):
            source = Path(tmp) / f"source_{seconds:g}s.mp4"
            frames = looped_clip(clip, seconds, source)
            summary = drive(
                source, target, Path(tmp) / f"out_{seconds:g}s.mp4", args.checkpoint, args.device, extra
            )
            rows.append((seconds, frames, summary))
        morph_seconds = time_morph(target, source, Path(tmp) / "morph.mp4")
    header = (
        f"{'source':>8} {'frames':>6} {'total s':>8} {'fps':>6} {'fit s':>6} {'track s':>7} "
        f"{'render s':>8} {'encode s':>8} {'peak MiB':>8}"
    )
    print(
        f"reenact drive end to end, device {args.device}, render {rows[0][2]['width']}×{rows[0][2]['height']}"
    )
    print(header)
    print("-" * len(header))
    for seconds, frames, s in rows:
        print(
            f"{seconds:>7g}s {frames:>6} {s['seconds']:>8.1f} {s['frames_per_second']:>6.2f} "
            f"{s['fit_seconds']:>6.1f} "
            f"{s['tracking_seconds']:>7.1f} {s['render_seconds']:>8.1f} {s['encode_seconds']:>8.1f} "
            f"{s['peak_rss_mib']:>8.0f}"
        )
    long_summary = rows[1][2]
    per_frame = {
        k: long_summary[k] / rows[1][1] * 1000
        for k in ("tracking_seconds", "render_seconds", "encode_seconds")
    }
    print(
        f"per output frame on the long source: tracking {per_frame['tracking_seconds']:.0f} ms, rendering "
        f"{per_frame['render_seconds']:.0f} ms, encoding {per_frame['encode_seconds']:.0f} ms "
        f"(+ a one-off target fit of {long_summary['fit_seconds']:.0f} s)"
    )
    print(
        f"peak memory ratio long/short: {rows[1][2]['peak_rss_mib'] / rows[0][2]['peak_rss_mib']:.2f} "
        f"(for {rows[1][1] / rows[0][1]:.0f}× the frames; goal: flat ≈ 1)"
    )
    print(
        f"frames/s excluding the one-off fit (long source): "
        f"{rows[1][1] / (long_summary['seconds'] - long_summary['fit_seconds']):.2f}; rendering alone "
        f"(model, correspondence, compositing): {long_summary['render_frames_per_second']:.2f} "
        "(goal ≥ 8 on this 2-core CPU)"
    )
    print(
        f"2D landmark morph of the same portrait by the long source: {morph_seconds:.1f} s "
        f"({rows[1][1] / morph_seconds:.2f} frames/s); drive end to end, fit included, takes "
        f"{long_summary['seconds'] / morph_seconds:.1f}× the morph's time (goal ≤ 3×)"
    )


if __name__ == "__main__":
    main()
