"""Benchmarks of the head model on this machine's CPU (prints plain-text tables).

1. Hybrid rendering (feature volume at n² + neural renderer to m²) vs plain NeRF volume rendering of RGB at
   m² with the same field and samples: frames/s of each and their ratio, measured in one run, for the
   ``tiny`` and ``cpu`` presets.
2. Render frames/s of the ``cpu`` preset (batch 1 and batched).
3. Fitting time of 300 iterations (``cpu`` preset, untrained weights: the time does not depend on them).
4. With ``--loss-comparison``: the perceptual-loss replacements trained for the same number of steps on
   real frames of a MEAD clip (``../shared/data``), compared by PSNR/SSIM on training and held-out frames
   and by a sharpness ratio (mean gradient magnitude of render / ground truth).

Usage: ``python benchmarks/bench_model.py [--threads 2] [--repeats 5] [--fit-iterations 300]
[--loss-comparison --loss-steps 300]``. Timings are wall-clock medians; the machine may be shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.camera import Camera, frontal_cam_to_world  # noqa: E402
from model.config import preset  # noqa: E402
from model.fit import FitConfig, fit_codes  # noqa: E402
from model.head_model import HeadModel  # noqa: E402
from model.metrics import psnr, ssim  # noqa: E402
from model.render import orbit_cameras, render_batches  # noqa: E402
from model.train import TrainConfig, train  # noqa: E402

CLIP_DIR = ROOT.parent / "shared" / "data" / "videos" / "mead"


def median_seconds(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def plain_nerf_rgb(
    model: HeadModel,
    rgb_head: torch.nn.Linear,
    camera: Camera,
    expression: torch.Tensor,
    identity: torch.Tensor,
) -> torch.Tensor:
    """The plain-NeRF baseline: (B, 3, m, m) RGB volume-rendered at the output size m with the model's field
    and samples, its features read out by a linear features → RGB head (untrained: the time does not depend on
    it)."""
    feature_map, _, _ = model._render_map(
        camera, model.config.renderer.output_size, expression, identity, None, 4096
    )
    return torch.sigmoid(rgb_head(feature_map.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)


def bench_hybrid_vs_volume(repeats: int) -> None:
    rows = []
    for name in ("tiny", "cpu"):
        config = preset(name)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = HeadModel(config).eval()
            rgb_head = torch.nn.Linear(config.field.feature_dim, 3)
        camera = Camera.from_numpy(frontal_cam_to_world())
        expression, identity = (
            torch.zeros(1, 46),
            torch.randn(1, 128, generator=torch.Generator().manual_seed(0)) * 0.1,
        )
        with torch.no_grad():
            hybrid = median_seconds(partial(model, camera, expression, identity), repeats)
            volume = median_seconds(
                partial(plain_nerf_rgb, model, rgb_head, camera, expression, identity),
                max(1, repeats // 2) if name == "cpu" else repeats,
            )
        n, m = config.renderer.feature_size, config.renderer.output_size
        samples = config.sampler.coarse_samples + config.sampler.fine_samples
        rows.append(
            [
                name,
                f"{n}²→{m}²",
                f"{m}²",
                str(samples),
                f"{1 / hybrid:.2f}",
                f"{1 / volume:.2f}",
                f"{volume / hybrid:.1f}×",
            ]
        )
    table(
        "1. Hybrid (feature volume + neural renderer) vs plain NeRF RGB volume rendering, batch 1, frames/s",
        ["preset", "hybrid", "plain RGB", "samples/ray", "hybrid fps", "plain fps", "ratio"],
        rows,
    )


def bench_render_fps(repeats: int) -> None:
    config = preset("cpu")
    model = HeadModel(config).eval()
    rows = []
    for batch in (1, 8):
        count = 16
        cameras = orbit_cameras(np.linspace(-0.6, 0.6, count), 0.0)
        expressions, identities = torch.zeros(count, 46), torch.zeros(count, 128)

        def run(cameras=cameras, expressions=expressions, identities=identities, batch=batch) -> None:
            for _ in render_batches(model, cameras, expressions, identities, batch):
                pass

        seconds = median_seconds(run, max(1, repeats // 2))
        rows.append(
            [
                f"cpu ({config.renderer.feature_size}²→{config.renderer.output_size}²)",
                str(batch),
                f"{count / seconds:.2f}",
                f"{1000 * seconds / count:.1f}",
            ]
        )
    table(
        "2. Render speed of the cpu preset (16-frame yaw sweep via render_batches)",
        ["preset", "batch", "frames/s", "ms/frame"],
        rows,
    )


def bench_fit(iterations: int) -> None:
    rows = []
    for name in ("tiny", "cpu"):
        config = preset(name)
        model = HeadModel(config)
        size = config.renderer.output_size
        image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0))
        mask = torch.ones(1, size, size)
        start = time.perf_counter()
        result = fit_codes(
            model,
            image,
            mask,
            torch.from_numpy(frontal_cam_to_world()).float(),
            torch.zeros(46),
            torch.zeros(128),
            FitConfig(iterations=iterations),
        )
        seconds = time.perf_counter() - start
        assert len(result.loss_history) == iterations
        rows.append([name, str(iterations), f"{seconds:.1f}", f"{1000 * seconds / iterations:.0f}"])
    table(
        "3. Fitting time (identity + expression + camera, network frozen), measured",
        ["preset", "iterations", "seconds", "ms/iteration"],
        rows,
    )


def _decode(path: Path, frames: list[int], size: int) -> np.ndarray:
    import av

    wanted, out = set(frames), {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                out[index] = frame.to_ndarray(format="rgb24")
            if index >= max(frames):
                break
    video = torch.from_numpy(np.stack([out[i] for i in frames])).permute(0, 3, 1, 2).float()
    side = min(video.shape[-2:])
    top, left = (video.shape[-2] - side) // 2, (video.shape[-1] - side) // 2
    video = torch.nn.functional.interpolate(
        video[..., top : top + side, left : left + side], size=(size, size), mode="area"
    )
    return video.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def _sharpness(images: torch.Tensor) -> torch.Tensor:
    return (images[..., 1:, :] - images[..., :-1, :]).abs().mean() + (
        images[..., 1:] - images[..., :-1]
    ).abs().mean()


def bench_loss_comparison(steps: int, batch_size: int) -> None:
    clip = CLIP_DIR / "M030_front_neutral_level1_001.mp4"
    base = preset("cpu")
    size = base.renderer.output_size
    train_frames = _decode(clip, list(range(0, 60, 2)), size)
    held_frames = _decode(clip, list(range(61, 100, 8)), size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        count = len(train_frames)
        np.savez(
            cache / "M030.npz",
            images=train_frames,
            masks=np.full(train_frames.shape[:3], 255, np.uint8),
            pose=np.repeat(frontal_cam_to_world()[None].astype(np.float32), count, 0),
            expression=np.zeros((count, 46), np.float32),
            identity=np.zeros(128, np.float32),
            person=np.array("M030"),
        )
        for kind in ("none", "laplacian", "random_conv"):
            config = dataclasses.replace(base, loss=dataclasses.replace(base.loss, perceptual=kind))
            out = Path(tmp) / kind
            start = time.perf_counter()
            train(
                config,
                TrainConfig(
                    steps=steps,
                    batch_size=batch_size,
                    lr=5e-4 * 2,
                    checkpoint_every=steps,
                    preview_every=0,
                    out_dir=str(out),
                    seed=0,
                ),
                cache,
            )
            seconds = time.perf_counter() - start
            from model.checkpoint import load_checkpoint

            model, _ = load_checkpoint(out / "last.pt")
            scores = []
            for frames in (train_frames, held_frames):
                target = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
                cams = torch.from_numpy(np.repeat(frontal_cam_to_world()[None], len(frames), 0)).float()
                render = torch.cat(
                    list(
                        render_batches(
                            model, cams, torch.zeros(len(frames), 46), torch.zeros(len(frames), 128), 8
                        )
                    )
                )
                scores.append(
                    (
                        float(psnr(render, target).mean()),
                        float(ssim(render, target).mean()),
                        float(_sharpness(render) / _sharpness(target)),
                    )
                )
            rows.append(
                [
                    kind,
                    str(steps),
                    f"{seconds:.0f}",
                    f"{scores[0][0]:.2f}",
                    f"{scores[0][1]:.3f}",
                    f"{scores[1][0]:.2f}",
                    f"{scores[1][1]:.3f}",
                    f"{scores[1][2]:.2f}",
                ]
            )
    table(
        f"4. Perceptual-loss replacements: cpu preset, {steps} steps × batch {batch_size}, lr 1e-3, 30 real "
        "frames (M030), frontal camera, zero codes; L1 + 10·perceptual (+0.1·opacity)",
        [
            "perceptual",
            "steps",
            "train s",
            "train PSNR",
            "train SSIM",
            "held-out PSNR",
            "held-out SSIM",
            "sharpness ratio",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fit-iterations", type=int, default=300)
    parser.add_argument("--loss-comparison", action="store_true")
    parser.add_argument("--loss-steps", type=int, default=300)
    parser.add_argument("--loss-batch", type=int, default=4)
    parser.add_argument("--only-loss", action="store_true", help="run only the loss comparison")
    parser.add_argument("--skip-fit", action="store_true", help="skip the fitting-time table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, CPU")
    if not args.only_loss:
        bench_hybrid_vs_volume(args.repeats)
        bench_render_fps(args.repeats)
        if not args.skip_fit:
            bench_fit(args.fit_iterations)
    if args.loss_comparison or args.only_loss:
        bench_loss_comparison(args.loss_steps, args.loss_batch)


if __name__ == "__main__":
    main()
