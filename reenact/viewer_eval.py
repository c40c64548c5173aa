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
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from reenact.codes import Codes
from reenact.console import Reporter
from reenact.engine import Engine
from reenact.media.writing import VideoWriter
from reenact.morph import morph_video
from reenact.pipeline import DriveOptions, render_video
from reenact.viewer_metrics import (
    SIGNALS,
    SOURCE_ONLY_FIRST,
    DriveMeasures,
    FaceDescriber,
    compare,
    load_image,
    portrait_face,
    track_video,
    video_fps,
)
from tracking.smoothing import smooth_track
from tracking.types import Track

COLUMNS = (*SIGNALS, "motion", "id_to_target", "id_to_source", "jitter", "detail", "faces")
ROWS = ("model", "morph", "still")


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
    reporter = reporter or Reporter(quiet=True)
    describer = describer or FaceDescriber()
    frames = len(track)
    model = out_dir / f"{pair_name(clip, portrait)}__model.mp4"
    driven = smooth_track(track, options.smooth) if options.smooth > 0 else track
    options = replace(options, audio=False, side_by_side=False, crop=False)
    with engine.renderer_override(codes.renderer_state):
        render_video(clip, driven, codes, engine, options, str(model), reporter)
    outputs = {"model": model, **baseline_videos(clip, portrait, frames, out_dir)}
    measured = measure_outputs(clip, portrait, outputs, frames, describer)
    return {row: measures_row(measured[row]) for row in ROWS}
