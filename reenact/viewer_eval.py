"""Cross-identity drives as a viewer sees them: ``reenact drive``'s output, the 2D landmark morph and the
still portrait, each measured from outside (``reenact/viewer_metrics.py``) against the same source and
portrait.

Rows of one (clip, portrait) pair:

- ``model``: the portrait driven by the clip exactly as ``reenact drive`` does with its defaults (the
  target's photo animated, drive's smoothing; audio off), on the clip's first ``max_frames`` frames;
- ``morph``: the 2D landmark morph (``reenact/morph.py``): the yardstick the model must beat; never a path
  of ``drive``;
- ``still``: the portrait repeated: the floor for following (its correlations are MediaPipe settling on
  identical frames: read its ``motion``), the ceiling for identity.

Columns (:data:`COLUMNS`): Pearson r of mouth, eyes, yaw, pitch (source against output); ``motion``: the
median over those four of std(output)/std(source); dlib distance of the output to the portrait and to the
source's first frame (< 0.6: the same person); jitter ratio (output / source); detail ratio (output face /
portrait face); fraction of output frames with a face.

Self-reenactment at the photo output's size (:func:`photo_self_rows`): a clip's first tracked frame is the
target photo, and the clip drives it; ``model`` (drive's defaults: fit, smoothing, the photo animated),
``morph`` and ``still`` are compared frame by frame with the clip's real frames, every video scaled to
the size drive writes (the photo's, long side capped at 1024), after H.264 like any drive output. Columns
(:data:`SELF_COLUMNS`): L1, PSNR and SSIM inside the tracker's head box of the real frame (the region the
head crop shows: face, hair, neck), PSNR of the whole frame, and two read by the project's tracker
(``reenact/tracked_measures.py``): the expression change distance (the output frame's tracked code minus the
target photo's, against the real frame's minus the first frame's, leading components: the still frame
scores how far the clip's expression moves) and the head-rotation error (degrees); over every tracked frame
after the first (the first is the target itself).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from model.metrics import psnr, ssim
from reenact.codes import Codes
from reenact.console import Reporter
from reenact.engine import Engine, images_to_tensor
from reenact.media.images import write_image
from reenact.media.writing import VideoWriter
from reenact.morph import morph_video
from reenact.pipeline import DriveOptions, fit_target, load_target, render_video, smoothed, using_tracker
from reenact.tracked_measures import frame_measures, mean_measures, motion_start
from reenact.viewer_metrics import (
    SIGNALS,
    SOURCE_ONLY_FIRST,
    DriveMeasures,
    FaceDescriber,
    compare,
    load_image,
    portrait_face,
    read_video,
    track_video,
    video_fps,
)
from tracking.errors import NoFaceError
from tracking.tracker import Tracker, TrackerConfig
from tracking.types import Track

COLUMNS = (*SIGNALS, "motion", "id_to_target", "id_to_source", "jitter", "detail", "faces")
ROWS = ("model", "morph", "still")
IMAGE_COLUMNS = ("l1", "psnr", "ssim", "psnr_frame")
TRACKED_COLUMNS = ("expression_change_distance", "pose_distance_deg")
SELF_COLUMNS = (*IMAGE_COLUMNS, *TRACKED_COLUMNS)


def measures_row(measures: DriveMeasures) -> dict[str, float]:
    """The :data:`COLUMNS` of one measured output."""
    amplitudes = [measures.amplitude[name] for name in SIGNALS if np.isfinite(measures.amplitude[name])]
    return {
        **{name: measures.follow[name] for name in SIGNALS},
        "motion": float(np.median(amplitudes)) if amplitudes else float("nan"),
        "id_to_target": measures.id_to_target,
        "id_to_source": measures.id_to_source,
        "jitter": measures.jitter_ratio,
        "detail": measures.detail_ratio,
        "faces": measures.face_found,
    }


def pair_name(clip: Path, portrait: Path) -> str:
    return f"{Path(clip).stem}__{Path(portrait).stem}"


def write_still(portrait: np.ndarray, frames: int, fps: float, output: Path) -> None:
    """The portrait repeated ``frames`` times."""
    with VideoWriter(output, fps=fps) as writer:
        for _ in range(frames):
            writer.write(portrait)


def baseline_videos(clip: Path, portrait: Path, frames: int, out_dir: Path) -> dict[str, Path]:
    """The ``still`` and ``morph`` videos of one pair (the clip's first ``frames`` frames), written to
    ``out_dir`` as ``<clip>__<portrait>__{still,morph}.mp4``."""
    name = pair_name(clip, portrait)
    outputs = {row: out_dir / f"{name}__{row}.mp4" for row in ("still", "morph")}
    morph_video(portrait, clip, outputs["morph"], frames)
    write_still(load_image(portrait), frames, video_fps(clip), outputs["still"])
    return outputs


def measure_outputs(
    clip: Path, portrait: Path, outputs: dict[str, Path], frames: int, describer: FaceDescriber
) -> dict[str, DriveMeasures]:
    """Each output video measured against the clip's first ``frames`` frames and the portrait."""
    source = track_video(clip, frames, SOURCE_ONLY_FIRST, describer)
    target = portrait_face(portrait, describer)
    return {
        row: compare(source, track_video(path, frames, describer=describer), target)
        for row, path in outputs.items()
    }


def drive_output(
    engine: Engine,
    clip: Path,
    track: Track,
    codes: Codes,
    options: DriveOptions,
    output: Path,
    reporter: Reporter | None = None,
) -> None:
    """``codes`` driven by ``clip`` (its raw ``track``, smoothed here as drive smooths it) into ``output``, as
    ``reenact drive`` writes it with ``options`` (the photo output; no audio, no side-by-side)."""
    driven = smoothed(track, options)
    options = replace(options, audio=False, side_by_side=False, crop=False)
    with engine.renderer_override(codes.renderer_state):
        render_video(clip, driven, codes, engine, options, str(output), reporter or Reporter(quiet=True))


def viewer_rows(
    engine: Engine,
    clip: Path,
    track: Track,
    portrait: Path,
    codes: Codes,
    options: DriveOptions,
    out_dir: Path,
    describer: FaceDescriber | None = None,
    reporter: Reporter | None = None,
) -> dict[str, dict[str, float]]:
    """The ``model``, ``morph`` and ``still`` rows of one pair. ``track``: the clip's raw track over the
    frames to drive (its length is the number of frames measured); ``codes``: the portrait fitted as drive
    fits it; ``options``: drive's (its defaults for the ``model`` row); the videos go to ``out_dir`` as
    ``<clip>__<portrait>__{model,morph,still}.mp4``."""
    describer = describer or FaceDescriber()
    frames = len(track)
    model = out_dir / f"{pair_name(clip, portrait)}__model.mp4"
    drive_output(engine, clip, track, codes, options, model, reporter)
    outputs = {"model": model, **baseline_videos(clip, portrait, frames, out_dir)}
    measured = measure_outputs(clip, portrait, outputs, frames, describer)
    return {row: measures_row(measured[row]) for row in ROWS}


# ------------------------------------------------------------------------ self-reenactment, photo size
def frame_errors(output: np.ndarray, real: np.ndarray, box: np.ndarray) -> dict[str, float]:
    """:data:`SELF_COLUMNS` of one output frame against the real one (uint8 (H, W, 3), the same size):
    L1, PSNR, SSIM inside ``box`` (x0, y0, x1, y1 pixels, clipped to the frame), PSNR of the whole frame."""
    height, width = real.shape[:2]
    x0, y0 = (max(int(round(v)), 0) for v in box[:2])
    x1, y1 = min(int(round(box[2])), width), min(int(round(box[3])), height)
    if x1 - x0 < 11 or y1 - y0 < 11:  # SSIM's window
        raise ValueError(f"head box {box} is not inside the {width}×{height} frame")
    prediction = images_to_tensor(output[None, y0:y1, x0:x1], torch.device("cpu"))
    target = images_to_tensor(real[None, y0:y1, x0:x1], torch.device("cpu"))
    whole = images_to_tensor(np.stack([output, real]), torch.device("cpu"))
    return {
        "l1": float((prediction - target).abs().mean()),
        "psnr": float(psnr(prediction, target)[0]),
        "ssim": float(ssim(prediction, target)[0]),
        "psnr_frame": float(psnr(whole[:1], whole[1:])[0]),
    }


def scaled(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` at (width, height) ``size`` (area filter when shrinking)."""
    if frame.shape[1] == size[0] and frame.shape[0] == size[1]:
        return frame
    shrink = frame.shape[1] > size[0]
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def photo_self_rows(
    engine: Engine,
    clip: Path,
    track: Track,
    options: DriveOptions,
    out_dir: Path,
    config: TrackerConfig,
    tracker: Tracker | None = None,
    reporter: Reporter | None = None,
) -> dict[str, dict[str, float]]:
    """Self-reenactment of ``clip`` at the photo output's size: its first tracked frame (of ``track``, the
    raw track of the frames measured) fitted and driven as ``reenact drive`` does with ``options``, beside
    the morph and the still frame; mean :data:`SELF_COLUMNS` per row over the tracked frames after the
    first. The target frame and the videos go to ``out_dir`` as ``<clip>__self__{target.png,model,morph,
    still}.mp4``."""
    reporter = reporter or Reporter(quiet=True)
    tracked = np.flatnonzero(track.valid & track.detected)
    if tracked.size < 2:
        raise NoFaceError("fewer than two tracked frames")
    first, rest = int(tracked[0]), tracked[1:]
    frames = len(track)
    reals = read_video(clip, frames)
    for _ in range(first):
        next(reals)
    image = next(reals)
    reals.close()  # the target frame only; the comparison below reads the clip from its start
    name = f"{Path(clip).stem}__self"
    photo = out_dir / f"{name}__target.png"
    write_image(photo, image)
    outputs = {row: out_dir / f"{name}__{row}.mp4" for row in ROWS}
    with using_tracker(config, tracker) as tracker:
        target = load_target(photo, config, tracker)
        codes = fit_target(target, engine, options.fit_config(), reporter, str(photo))
        drive_output(engine, clip, track, codes, options, outputs["model"], reporter)
        morph_video(image, clip, outputs["morph"], frames)
        write_still(image, frames, video_fps(clip), outputs["still"])
        # Every row starts from the target photo: changes are measured from the tracker's reading of it.
        start = motion_start(tracker, image, track.expression[first])
        streams = {row: read_video(path, frames) for row, path in outputs.items()}
        size = None
        errors: dict[str, list[dict[str, float]]] = {row: [] for row in ROWS}
        tracked: dict[str, list[dict[str, float] | None]] = {row: [] for row in ROWS}
        for index, real in enumerate(read_video(clip, frames)):
            videos = {row: next(stream) for row, stream in streams.items()}
            size = size or (videos["model"].shape[1], videos["model"].shape[0])
            if index not in rest:
                continue
            scale = size[0] / real.shape[1]
            box = track.crop[index] * scale
            real = scaled(real, size)
            for row, frame in videos.items():
                frame = scaled(frame, size)
                errors[row].append(frame_errors(frame, real, box))
                tracked[row].append(
                    frame_measures(tracker, frame, track.pose[index], track.expression[index], start=start)
                )
    result = {}
    for row in ROWS:
        means = {column: float(np.mean([e[column] for e in errors[row]])) for column in IMAGE_COLUMNS}
        read = mean_measures(tracked[row])
        result[row] = {**means, **{key: read[key] for key in TRACKED_COLUMNS}}
    return result
