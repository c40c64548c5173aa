"""Where does fitting a new face leave its surface? For each clip the first frame is fitted as ``reenact eval``
fits it, once per geometry-prior weight of the fit (``FitConfig.geometry_weight``; 0 = the image losses alone),
and the field's surface is measured at the target's own tracked landmarks (the landmark model's shape for its
identity shape and expression, ``pipeline.target_landmarks``) as ``benchmarks/diagnose_geometry.py`` measures it
on training frames: the depth at which each visible landmark's ray ends against the landmark's distance.

    python benchmarks/diagnose_fit_geometry.py reenact/weights/head_cpu.pt --weight 0 --weight 4 \
        --clip ../shared/data/videos/mead/M030_front_happy_level3_001.mp4 --clip ../shared/data/videos/liveportrait/d6.mp4

Prints per clip and weight: median |depth error| (head units) from the starting codes (tracked camera,
recognition embedding, β of the frame) and after the fit, the median signed error after (+ = surface behind the
landmarks), how far the fit moved the identity code (‖Δz‖; training people lie 0.3–0.6 apart), and the fit's PSNR;
then the means per weight.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch

from model.camera import Camera
from model.fit import FitConfig
from model.geometry import landmark_depth_errors
from reenact.engine import Engine
from reenact.evaluate import fit_first_frame, load_clip
from reenact.pipeline import identity_input, initial_expression, target_landmarks
from tracking.tracker import TrackerConfig


def landmark_error(engine: Engine, cam_to_world: np.ndarray, expression: np.ndarray, identity: np.ndarray,
                   landmarks: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Signed depth error (head units) at the visible landmarks for one set of codes and camera."""
    def as_batch(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array)[None], dtype=torch.float32)

    with torch.no_grad():
        errors, visible, _ = landmark_depth_errors(engine.model, as_batch(landmarks), Camera(as_batch(cam_to_world)),
                                                   as_batch(expression), as_batch(identity), triangles)
    return errors[visible].numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--clip", action="append", required=True, help="a clip of a held-out person (repeat)")
    parser.add_argument("--weight", type=float, action="append", required=True, help="a fit geometry weight (repeat)")
    parser.add_argument("--iterations", type=int, default=FitConfig.iterations, help="fit iterations")
    args = parser.parse_args()

    engine = Engine.load(args.checkpoint, "cpu")
    config = TrackerConfig(crop_size=engine.render_size, smoothing=0.0)
    print(f"{'clip':40s} {'weight':>6s} {'|err| start':>11s} {'|err| fit':>9s} {'err fit':>8s} {'‖Δz‖':>6s} {'fit dB':>7s}")
    rows: dict[float, list[tuple[float, float, float, float]]] = {w: [] for w in args.weight}
    for clip in args.clip:
        track, crops, masks = load_clip(clip, 2, engine.render_size, config)
        for weight in args.weight:
            first, fit = fit_first_frame(engine, track, crops, masks, replace(FitConfig(), iterations=args.iterations, geometry_weight=weight, finetune_renderer=False))
            landmarks, triangles = target_landmarks(track, first)
            start = landmark_error(engine, track.pose[first], initial_expression(track, first, engine),
                                   identity_input(track, engine), landmarks, triangles)
            after = landmark_error(engine, fit.cam_to_world, fit.expression, fit.identity, landmarks, triangles)
            moved = float(np.linalg.norm(fit.identity - identity_input(track, engine)))
            rows[weight].append((float(np.median(np.abs(after))), float(np.median(after)), moved, fit.psnr))
            print(f"{clip[-40:]:40s} {weight:6.2f} {np.median(np.abs(start)):11.4f} {np.median(np.abs(after)):9.4f} "
                  f"{np.median(after):+8.4f} {moved:6.2f} {fit.psnr:7.2f}", flush=True)
    for weight, values in rows.items():
        mean = np.mean(values, axis=0)
        print(f"{'mean':40s} {weight:6.2f} {'':11s} {mean[0]:9.4f} {mean[1]:+8.4f} {mean[2]:6.2f} {mean[3]:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
