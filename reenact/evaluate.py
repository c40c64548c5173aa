"""``reenact eval``: self- and cross-reenactment metrics of a checkpoint on clips of unseen people, with the
static baseline (and optionally the landmark-identity ablation) measured in the same run.

Self-reenactment, per clip: fit the codes on the clip's first tracked frame, render every later frame with
that frame's tracked pose and expression (relative motion from the fitted frame), and compare with the real
aligned crop *inside the head mask* (pixels outside the real frame's mask are zeroed in both images before
PSNR/SSIM; L1 is averaged over mask pixels only). The renders are then tracked like any video: identity
similarity is the cosine between the render's recognition embedding and the real clip's, expression distance
the mean absolute difference (σ units) between the render's tracked code and the driving code, over all
components and over the leading ones (``reenact/tracked_measures.py``; the basis's trailing components are
landmark motion of ~1% of a head, mostly tracking jitter, and dominate the all-component mean even for a
perfect render); pose distance the angle (degrees) between the render's tracked head rotation and the driving
rotation. Expression *change* distance (leading components) compares motion instead of absolute codes: the
render's tracked code minus that of the fitted first frame's render against the driving code minus the first
real frame's, so a fixed offset between how the tracker reads our renders and the photos (blur, identity)
cancels, and the static baseline scores exactly how far the driver's expression moves. The driving parameters
are in the tracker's terms, whatever the model does inside: for self-reenactment the real frame's tracked pose
and expression. The static baseline is the fitted first frame repeated. The pose-only baseline is the model
driven by the head pose alone, its expression code held at the fitted frame's: model against pose-only is what
transferring the expression adds (or costs) on top of the head motion, which the static baseline cannot tell
apart. The ``smoothed`` row is the model as ``reenact drive`` runs it by default: the same fit driven by the
track after ``tracking.smoothing.smooth_track`` (drive's ``--smooth``), still scored against the raw frames
and the raw tracked parameters. The first frame is fitted as a single image would be
(``pipeline.initial_expression``). The ``real`` row puts the real crops themselves through the motion metrics
(no image metrics: they would be perfect by definition): a perfect renderer's score, the floor the tracker's
own noise sets — it reads a render-size crop differently from the full frame, and moves its reading by 0.1–0.3
σ for a half-pixel shift — so the motion columns are read against it, not against zero.

Cross-identity: a portrait is fitted and driven by the clip; identity similarity is to the portrait,
expression/pose distances to the driving parameters: the portrait's tracked pose and expression moved by
the clip's motion since its first frame. The same fit then drives the portrait as ``reenact drive`` does (its
photo animated), beside the 2D landmark morph and the still portrait, all measured from outside as a viewer
sees them (``reenact/viewer_eval.py``): the ``viewer`` rows, the headline of ``docs/evaluation.md``.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.fit import FitConfig, FitResult
from model.metrics import masked_l1, psnr, ssim
from reenact.codes import Codes
from reenact.console import Reporter
from reenact.engine import Engine, images_to_tensor
from reenact.media.reading import open_video
from reenact.motion import drive_parameters
from reenact.pipeline import (
    DriveOptions,
    build_fit_config,
    fit_frame,
    fit_target,
    load_target,
    target_landmarks,
    using_tracker,
)
from reenact.tracked_measures import motion_metrics, motion_start
from reenact.viewer_eval import ROWS, photo_self_rows, viewer_rows
from reenact.viewer_metrics import FaceDescriber
from tracking.errors import NoFaceError
from tracking.smoothing import smooth_track
from tracking.tracker import Tracker, TrackerConfig
from tracking.types import Track

METRIC_KEYS = (
    "l1",
    "psnr",
    "ssim",
    "identity_similarity",
    "expression_distance",
    "expression_distance_leading",
    "expression_change_distance",
    "pose_distance_deg",
    "face_found",
)


def image_metrics(renders: np.ndarray, reals: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """uint8 (N,S,S,3) renders and real crops, masks (N,S,S) in [0,1] → mean masked L1, PSNR, SSIM."""
    prediction = images_to_tensor(renders, torch.device("cpu"))
    target = images_to_tensor(reals, torch.device("cpu"))
    mask = torch.as_tensor(masks, dtype=torch.float32)[:, None]
    return {
        "l1": float(masked_l1(prediction, target, mask).mean()),
        "psnr": float(psnr(prediction * mask, target * mask).mean()),
        "ssim": float(ssim(prediction * mask, target * mask).mean()),
    }


def load_clip(
    clip: Path, max_frames: int, size: int, config: TrackerConfig, tracker: Tracker | None = None
) -> tuple[Track, np.ndarray, np.ndarray]:
    """Track the first ``max_frames`` frames; return the track and their real crops and head masks. Two
    decoding passes (the crop needs the whole track) share one tracker (``tracker``: the run's, else a new
    one): its graphs take seconds to build."""
    with using_tracker(config, tracker) as tracker:
        with open_video(clip) as reader:
            info = reader.info
            track = tracker.track_frames(
                itertools.islice(reader, max_frames), fps=info.fps, size=(info.width, info.height)
            )
        crops = np.zeros((len(track), size, size, 3), np.uint8)
        masks = np.zeros((len(track), size, size), np.float32)
        with open_video(clip) as reader:
            for frame in itertools.islice(reader, len(track)):
                crops[frame.index], masks[frame.index] = tracker.crop_frame(
                    frame.image, track, frame.index, size
                )
    return track, crops, masks


def fit_first_frame(
    engine: Engine, track: Track, crops: np.ndarray, masks: np.ndarray, fit_config: FitConfig
) -> tuple[int, FitResult]:
    """The clip's first tracked frame and the codes fitted to it, as a single target image is fitted
    (``pipeline.initial_expression``): where self-reenactment and the diagnostics start from."""
    hits = np.flatnonzero(track.valid & track.detected)
    if not hits.size:
        raise NoFaceError("no tracked frame")
    first = int(hits[0])
    return first, fit_frame(engine, track, first, crops[first], masks[first], fit_config)


def evaluate_self(
    engine: Engine,
    track: Track,
    crops: np.ndarray,
    masks: np.ndarray,
    fit_config: FitConfig,
    config: TrackerConfig,
    batch_size: int = 8,
    baselines: bool = True,
    smooth: float = 0.0,
    tracker: Tracker | None = None,
) -> dict[str, dict[str, float]]:
    """Self-reenactment of one clip: the model, and with ``baselines`` the static and the pose-only baseline
    (a second checkpoint measured beside the first, the ablation, needs only its model row). ``smooth`` > 0
    adds the ``smoothed`` row: the same fit driven by the track smoothed as ``reenact drive`` smooths it,
    scored against the raw frames and parameters like every other row."""
    valid = np.flatnonzero(track.valid & track.detected)
    if valid.size < 2:
        raise NoFaceError("fewer than two tracked frames")
    rest = valid[1:]
    first, result = fit_first_frame(engine, track, crops, masks, fit_config)
    codes = Codes.from_fit(result, track.crop[first], (0, 0), engine.checkpoint_id)  # the fit in numpy

    def drive(source: Track) -> tuple[np.ndarray, np.ndarray]:
        return drive_parameters(
            source.pose, source.expression, source.valid, codes.cam_to_world, codes.expression, "relative"
        )

    pose, expression = drive(track)
    identity = np.repeat(codes.identity[None], len(rest), 0)
    face = target_landmarks(track, first)  # the fitted frame's face (a surface-warp model rests on it)
    with engine.renderer_override(codes.renderer_state):  # the fit's fine-tuned renderer, when it made one
        fitted = engine.render(codes.cam_to_world[None], codes.expression[None], codes.identity[None], face)
        methods = {
            "model": np.concatenate(
                list(engine.render_batches(pose[rest], expression[rest], identity, batch_size, face))
            )
        }
        if baselines:
            methods["static"] = np.repeat(fitted, len(rest), 0)
            held = np.repeat(codes.expression[None], len(rest), 0)
            methods["pose_only"] = np.concatenate(
                list(engine.render_batches(pose[rest], held, identity, batch_size, face))
            )
        if smooth > 0:
            pose_s, expression_s = drive(smooth_track(track, smooth, DriveOptions.smooth_expression))
            methods["smoothed"] = np.concatenate(
                list(engine.render_batches(pose_s[rest], expression_s[rest], identity, batch_size, face))
            )
    reals, real_masks = crops[rest], masks[rest]
    driving_pose, driving_expression = track.pose[rest], track.expression[rest]
    with using_tracker(config, tracker) as tracker:
        # Reference identity: the recognition embedding of the real frames (the clip's average).
        reference = track.embedding
        start = motion_start(tracker, fitted[0], track.expression[first])
        rows = {
            method: {
                **image_metrics(images, reals, real_masks),
                **motion_metrics(images, driving_pose, driving_expression, reference, tracker, start),
                "fit_psnr": result.psnr,
            }
            for method, images in methods.items()
        }
        if baselines:  # the real crops read like renders, starting from the real first crop
            real_start = motion_start(tracker, crops[first], track.expression[first])
            rows["real"] = motion_metrics(
                reals, driving_pose, driving_expression, reference, tracker, real_start
            )
        return rows


def evaluate_cross(
    engine: Engine,
    track: Track,
    target_track: Track,
    codes: Codes,
    config: TrackerConfig,
    batch_size: int = 8,
    tracker: Tracker | None = None,
) -> dict[str, float]:
    """Tracker-side measures of the fitted portrait (``codes``, tracked as ``target_track``) driven by
    ``track``, rendered as the model's head crop."""
    pose, expression = drive_parameters(
        track.pose, track.expression, track.valid, codes.cam_to_world, codes.expression, "relative"
    )
    identity = np.repeat(codes.identity[None], len(pose), 0)
    face = codes.rest_face if codes.rest_face is not None else target_landmarks(target_track, 0)
    with engine.renderer_override(codes.renderer_state):
        renders = np.concatenate(list(engine.render_batches(pose, expression, identity, batch_size, face)))
    driving_pose, driving_expression = drive_parameters(
        track.pose,
        track.expression,
        track.valid,
        target_track.pose[0],
        target_track.expression[0],
        "relative",
    )
    with using_tracker(config, tracker) as tracker:
        metrics = motion_metrics(renders, driving_pose, driving_expression, target_track.embedding, tracker)
    metrics["fit_psnr"] = codes.psnr
    return metrics


def mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each key over the rows where it is finite (NaN where it never is, e.g. no face in any
    render)."""
    keys = sorted({k for row in rows for k in row})
    means = {}
    for key in keys:
        values = np.asarray([row.get(key, np.nan) for row in rows], np.float64)
        values = values[np.isfinite(values)]
        means[key] = float(values.mean()) if values.size else float("nan")
    return means


def evaluate(
    checkpoint: Path,
    clips: list[Path],
    portraits: list[Path] = (),
    ablation: Path | None = None,
    max_frames: int = 60,
    fit_iterations: int = 300,
    device: str = "auto",
    reporter: Reporter | None = None,
    smooth: float = DriveOptions.smooth,
    fit_finetune_renderer: bool | None = None,
    fit_finetune_roll: float | None = None,
    fit_finetune_expressions: int | None = None,
    viewer_dir: Path | None = None,
) -> dict[str, Any]:
    """Run every evaluation; returns per-clip rows and means per method. ``smooth``: the strength of the
    ``smoothed`` row (default: ``reenact drive``'s; 0 leaves the row out); ``fit_finetune_renderer``: each fit
    also fine-tunes a copy of the neural renderer on its image, which renders that clip's frames,
    ``fit_finetune_roll``: the largest camera roll of that fine-tuning's extra views,
    ``fit_finetune_expressions``: its expression pseudo-views (None: ``FitConfig``'s defaults, as drive).
    ``viewer_dir``: where the viewer rows' videos go (None: a temporary folder, removed at the end)."""
    reporter = reporter or Reporter(quiet=True)
    engines = {"model": Engine.load(checkpoint, device)}
    if ablation is not None:
        engines["ablation"] = Engine.load(ablation, device)
    size = engines["model"].render_size
    config = TrackerConfig(crop_size=size, smoothing=0.0)
    fit_config = build_fit_config(
        fit_iterations, fit_finetune_renderer, fit_finetune_roll, fit_finetune_expressions
    )
    per_clip: list[dict[str, Any]] = []
    cross: list[dict[str, Any]] = []
    viewer: list[dict[str, Any]] = []
    # The viewer rows' and the photo self-reenactment's model is drive with its defaults.
    drive_options = DriveOptions(fit_iterations=fit_iterations)
    # One tracker for the whole run (each MediaPipe graph costs about a second to build).
    with (
        reporter.progress("evaluating clips", len(clips)) as advance,
        Tracker(config) as tracker,
        tempfile.TemporaryDirectory(prefix="reenact-eval-") as scratch,
    ):
        videos = Path(scratch) if viewer_dir is None else viewer_dir
        videos.mkdir(parents=True, exist_ok=True)
        describer = FaceDescriber() if portraits else None
        for clip in clips:
            track, crops, masks = load_clip(clip, max_frames, size, config, tracker)
            row: dict[str, Any] = {"clip": str(clip)}
            try:
                self_result = evaluate_self(
                    engines["model"], track, crops, masks, fit_config, config, smooth=smooth, tracker=tracker
                )
                row.update(self_result)
                row["photo"] = photo_self_rows(
                    engines["model"], clip, track, drive_options, videos, config, tracker
                )
                if "ablation" in engines:
                    row["ablation"] = evaluate_self(
                        engines["ablation"],
                        track,
                        crops,
                        masks,
                        fit_config,
                        config,
                        baselines=False,
                        tracker=tracker,
                    )["model"]
                for portrait in portraits:
                    engine = engines["model"]
                    target = load_target(portrait, config, tracker)
                    codes = fit_target(target, engine, fit_config, Reporter(quiet=True), str(portrait))
                    pair = {"clip": str(clip), "portrait": str(portrait)}
                    cross.append(
                        {
                            **pair,
                            **evaluate_cross(engine, track, target.track, codes, config, tracker=tracker),
                        }
                    )
                    rows = viewer_rows(engine, clip, track, portrait, codes, drive_options, videos, describer)
                    viewer.append({**pair, **rows})
            except NoFaceError as exc:
                row["error"] = str(exc)
                reporter.warn(f"{clip}: {exc}")
            per_clip.append(row)
            advance(1)
    methods = [
        m
        for m in ("model", "smoothed", "static", "pose_only", "ablation", "real")
        if any(m in row for row in per_clip)
    ]
    summary = {m: mean_rows([row[m] for row in per_clip if m in row]) for m in methods}
    if cross:
        summary["cross"] = mean_rows(
            [{k: v for k, v in row.items() if isinstance(v, float)} for row in cross]
        )
    return {
        "checkpoint": str(checkpoint),
        "clips": per_clip,
        "cross": cross,
        "viewer": viewer,
        "viewer_summary": {row: mean_rows([pair[row] for pair in viewer]) for row in ROWS} if viewer else {},
        "photo_summary": {
            row: mean_rows([clip["photo"][row] for clip in per_clip if "photo" in clip]) for row in ROWS
        }
        if any("photo" in clip for clip in per_clip)
        else {},
        "summary": summary,
        "max_frames": max_frames,
        "fit_iterations": fit_iterations,
        "fit_finetune_renderer": fit_config.finetune_renderer,
        "fit_finetune_roll": fit_config.finetune_roll_degrees,
        "fit_finetune_expressions": fit_config.finetune_expression_views,
    }
