"""Tracking benchmark over the real clips of ../shared/data/videos (not a test; prints a table).

    python benchmarks/bench_tracking.py [--clips GLOB ...] [--limit-frames 100] [--size 512]

Per clip: valid-frame ratio, landmark error of the fit (mean distance between the fitted model's
projected landmarks and MediaPipe's, / inter-ocular distance), jitter on near-static stretches with and
without smoothing (pose rotation in degrees/frame, camera position in head units/frame, expression in σ
per frame), and speed: frames/s of landmarks + fit (decoding, masks and identity excluded), with every
frame resized so its longer side is ``--size`` px (default 512; 0 = native size).

Near-static stretch: ≥ 5 consecutive frames where the slow trend of the landmarks moves < 1% of the
inter-ocular distance per frame (see ``static_frames``): there, frame-to-frame change is mostly jitter.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracking.landmarks import inter_ocular_distance  # noqa: E402
from tracking.smoothing import jitter, rotation_jitter_deg, smooth_track  # noqa: E402
from tracking.tracker import Tracker, TrackerConfig  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "data" / "videos"
HARD = {"liveportrait/s13", "liveportrait/s20", "liveportrait/s32", "misc/obama_news"}
"""Deliberately hard clips (full body / small faces): exempt from the valid-ratio goal."""


def decode(path: Path, limit: int, size: int):
    import av
    import cv2

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        for index, frame in enumerate(container.decode(stream)):
            if index >= limit:
                break
            image = frame.to_ndarray(format="rgb24")
            if size:
                scale = size / max(image.shape[:2])
                image = cv2.resize(
                    image,
                    None,
                    fx=scale,
                    fy=scale,
                    interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                )
            frames.append(image)
    return frames, fps


def static_frames(track) -> np.ndarray:
    """Frames in near-static stretches: the slow trend of the landmarks (Savitzky–Golay, 15 frames,
    which removes tracker jitter) moves < 1% of the inter-ocular distance per frame, for ≥ 5 frames."""
    from scipy.signal import savgol_filter

    from tracking.smoothing import valid_runs

    lms = track.landmarks[:, :468]
    iod = np.maximum(inter_ocular_distance(track.landmarks), 1e-6)
    still = np.zeros(len(track), bool)
    for start, stop in valid_runs(track.detected):
        if stop - start < 15:
            continue
        trend = savgol_filter(lms[start:stop], 15, 2, axis=0)
        speed = np.linalg.norm(np.diff(trend, axis=0), axis=-1).mean(-1) / iod[start + 1 : stop]
        slow = np.concatenate([[False], speed < 0.01])
        for a, b in valid_runs(slow):
            if b - a >= 5:
                still[start + a : start + b] = True
    return still


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="*", default=["*"], help="glob(s) on folder/name, e.g. 'mead/*'")
    parser.add_argument("--limit-frames", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--smoothing", type=float, default=1.0)
    args = parser.parse_args(argv)
    clips = sorted(
        p
        for p in VIDEOS.rglob("*.mp4")
        if any(fnmatch.fnmatch(f"{p.parent.name}/{p.stem}", g) for g in args.clips)
    )
    header = (
        f"{'clip':34s} {'frames':>6s} {'valid':>6s} {'err/IOD':>8s} {'static':>6s} "
        f"{'rot°/f raw→sm':>14s} {'pos/f raw→sm':>16s} {'expr/f raw→sm':>14s} {'fps':>6s}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    config = TrackerConfig(smoothing=0.0, embed_frames=0, compute_masks=False)
    with Tracker(config) as tracker:
        for path in clips:
            name = f"{path.parent.name}/{path.stem}"
            frames, fps = decode(path, args.limit_frames, args.size)
            start = time.perf_counter()
            try:
                track = tracker.track_frames(frames, fps=fps)
            except Exception as exc:  # NoFaceError on the hard clips
                elapsed = time.perf_counter() - start
                print(
                    f"{name:34s} {len(frames):6d} {0.0:6.1%} {'—':>8s} {'':6s} {'':14s} {'':16s} {'':14s} "
                    f"{len(frames) / elapsed:6.1f}  ({exc.__class__.__name__})"
                )
                rows.append(
                    (name, 0.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, len(frames) / elapsed)
                )
                continue
            elapsed = time.perf_counter() - start
            smooth = smooth_track(track, args.smoothing)
            still = static_frames(track)
            raw_rot = rotation_jitter_deg(track.pose[:, :3, :3], still)
            sm_rot = rotation_jitter_deg(smooth.pose[:, :3, :3], still)
            raw_pos, sm_pos = jitter(track.pose[:, :3, 3], still), jitter(smooth.pose[:, :3, 3], still)
            raw_ex, sm_ex = jitter(track.expression, still), jitter(smooth.expression, still)
            valid = float(track.valid.mean())
            speed = len(frames) / elapsed
            rows.append(
                (
                    name,
                    valid,
                    track.landmark_error,
                    still.sum(),
                    raw_rot,
                    sm_rot,
                    raw_pos,
                    sm_pos,
                    raw_ex,
                    speed,
                    sm_ex,
                )
            )
            print(
                f"{name:34s} {len(frames):6d} {valid:6.1%} {track.landmark_error:8.4f} {int(still.sum()):6d} "
                f"{raw_rot:6.3f}→{sm_rot:6.3f} {raw_pos:7.4f}→{sm_pos:7.4f} {raw_ex:6.3f}→{sm_ex:6.3f} "
                f"{speed:6.1f}",
                flush=True,
            )
    ok = [r for r in rows if np.isfinite(r[2])]
    normal = [r for r in rows if r[0] not in HARD]
    print("-" * len(header))
    print(
        f"mean landmark error {np.mean([r[2] for r in ok]):.4f} IOD over {len(ok)} tracked clips (goal < "
        "0.03)"
    )
    print(f"clips (not hard) with < 95% valid: {[r[0] for r in normal if r[1] < 0.95]}")
    print("hard clips valid ratio: " + ", ".join(f"{r[0]} {r[1]:.0%}" for r in rows if r[0] in HARD))
    print(
        f"landmarks+fit speed: median {np.median([r[9] for r in rows]):.1f} frames/s at "
        f"{args.size or 'native'} px (goal ≥ 30)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
