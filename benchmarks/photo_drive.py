"""The photo-pixel drive (work in progress for drive's default output; ``docs/experiments.md``, "Photo-pixel
warp"): one clip drives one portrait in the portrait's own frame, its pixels carried through the NeRF's depth
and an expression deformation (``model/photo_warp.py``, ``reenact/composite.py``), then measured from outside
(``reenact/viewer_metrics.py``).

    python benchmarks/photo_drive.py CLIP PORTRAIT -o OUT_DIR [--frames 100] [--grid 32] \\
        [--variants field,surface] [--fit-iterations 150] [--finetune-renderer]

Variants: ``field`` carries the expression through the field's own warp (to canonical under β_j, back under
β_0); ``surface`` through the surface warp on the target's own tracked face, driven by the source's tracked
expression change (all components). Writes OUT_DIR/<variant>.mp4 and prints one row of measures per variant.
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model.camera import Camera  # noqa: E402
from model.photo_warp import PhotoWarpConfig, correspond, target_depth  # noqa: E402
from model.surface_warp import SurfaceWarp  # noqa: E402
from reenact import pipeline  # noqa: E402
from reenact.composite import CompositeConfig, compose, frame_maps, make_plan  # noqa: E402
from reenact.console import Reporter  # noqa: E402
from reenact.engine import Engine  # noqa: E402
from reenact.media.reading import open_video  # noqa: E402
from reenact.morph import write_video  # noqa: E402
from reenact.motion import drive_parameters, fill_invalid, reference_frame  # noqa: E402
from reenact.viewer_metrics import measure_drive  # noqa: E402
from tracking.landmark_model import LandmarkModel, mesh_triangles  # noqa: E402
from tracking.smoothing import smooth_track  # noqa: E402
from tracking.tracker import Tracker, TrackerConfig  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clip", type=Path)
    parser.add_argument("portrait", type=Path)
    parser.add_argument("-o", "--out-dir", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=100, help="frames of the clip, from its start")
    parser.add_argument("--grid", type=int, default=32, help="side of the correspondence grid")
    parser.add_argument("--variants", default="field,surface")
    parser.add_argument("--fit-iterations", type=int, default=150)
    parser.add_argument("--finetune-renderer", action="store_true")
    parser.add_argument("--smooth", type=float, default=1.0)
    args = parser.parse_args(argv)

    engine = Engine.load(None, "cpu")
    config = TrackerConfig()
    started = time.perf_counter()
    with Tracker(config) as tracker:
        target = pipeline.load_target(args.portrait, config, tracker)
        fit = pipeline.build_fit_config(args.fit_iterations, args.finetune_renderer)
        codes = pipeline.fit_target(target, engine, fit, Reporter(quiet=True))
        with open_video(args.clip) as reader:
            info = reader.info
            track = tracker.track_frames(
                islice(iter(reader), args.frames), fps=info.fps, size=(info.width, info.height)
            )
    track = smooth_track(track, args.smooth) if args.smooth > 0 else track
    print(f"fit + track {time.perf_counter() - started:.1f} s, fit PSNR {codes.psnr:.2f} dB")
    pose, expression = drive_parameters(
        track.pose,
        track.expression,
        track.valid,
        codes.cam_to_world,
        codes.expression,
        "relative",
        engine.expression_reference,
    )
    raw = fill_invalid(track.expression, track.valid)
    change = (raw - raw[reference_frame(track.valid)]).astype(np.float32)  # the source's, all components
    landmarks = LandmarkModel.default()
    rest = torch.as_tensor(landmarks.shape(target.track.identity_shape, target.track.expression[0:1])[0])
    surface = SurfaceWarp(landmarks.num_expression, radius=0.1)
    surface.set_shape(landmarks.mean, landmarks.expression_basis, mesh_triangles())

    model, warp_config = engine.model, PhotoWarpConfig(size=args.grid)
    camera = Camera(torch.as_tensor(codes.cam_to_world[None]))
    depth = target_depth(
        model,
        camera,
        torch.as_tensor(codes.expression[None]),
        torch.as_tensor(codes.identity[None]),
        warp_config,
    )
    with engine.renderer_override(codes.renderer_state):
        own = engine.render(codes.cam_to_world[None], codes.expression[None], codes.identity[None])[0]
    plan = make_plan(target.image, codes.crop, own, depth.opacity[0].numpy(), CompositeConfig())

    def frames(variant: str):
        for start in range(0, len(pose), 8):
            part = slice(start, start + 8)
            deform = None
            if variant == "surface":
                delta = torch.as_tensor(change[part])
                faces = rest[None].expand(len(delta), -1, -1)
                deform = lambda points, d=delta, f=faces: surface(points, d, f)  # noqa: E731
            found = correspond(
                model,
                depth,
                Camera(torch.as_tensor(pose[part])),
                torch.as_tensor(expression[part]),
                warp_config,
                deform,
            )
            identity = np.repeat(codes.identity[None], len(pose[part]), 0)
            with engine.renderer_override(codes.renderer_state):
                renders = engine.render(pose[part], expression[part], identity)
            for frame_map, render in zip(frame_maps(found), renders):
                yield compose(plan, frame_map, render)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for variant in args.variants.split(","):
        output = args.out_dir / f"{variant}.mp4"
        started = time.perf_counter()
        count = write_video(output, frames(variant), track.fps)
        seconds = time.perf_counter() - started
        m = measure_drive(args.clip, output, args.portrait, max_frames=args.frames)
        follow = " ".join(f"{name} {value:.2f}" for name, value in m.follow.items())
        print(
            f"{variant:<8} {count} frames, {count / seconds:.2f} frames/s | {follow} | id→tgt "
            f"{m.id_to_target:.2f} id→src {m.id_to_source:.2f} jitter {m.jitter_ratio:.2f} "
            f"detail {m.detail_ratio:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
