"""The steps of ``reenact drive`` as small functions: track the source, get the target's codes, turn
the source's motion into per-frame parameters, render, compose, write. No tensor math here (that lives
in ``reenact/engine.py`` and ``model/``); no printing (progress through the reporter's callbacks).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from model.fit import FitConfig, FitResult
from model.geometry import FaceMesh
from reenact.codes import Codes
from reenact.console import Reporter
from reenact.defaults import DRIVE_SMOOTH, DRIVE_SMOOTH_EXPRESSION
from reenact.engine import Engine
from reenact.errors import InputError
from reenact.media.images import read_image
from reenact.media.reading import VideoReader, open_video
from reenact.media.writing import VideoWriter
from reenact.motion import drive_parameters, face_changes, model_expressions, photo_like_frame
from tracking.errors import NoFaceError
from tracking.landmark_model import LandmarkModel
from tracking.media_files import is_image_path
from tracking.smoothing import smooth_track
from tracking.tracker import Tracker, TrackerConfig
from tracking.types import Track

TARGET_VIDEO_SEARCH_FRAMES = 250
"""How many frames of a target video are searched for a first good face."""


@dataclass(frozen=True)
class DriveOptions:
    """Options of one drive run (the CLI's flags, resolved)."""

    motion: str = "relative"
    """'relative' or 'absolute' (see reenact/motion.py)."""
    smooth: float = DRIVE_SMOOTH
    """Smoothing strength of the source's head pose; 0 = off."""
    smooth_expression: float = DRIVE_SMOOTH_EXPRESSION
    """Smoothing strength of the source's expression; 0 = off."""
    size: int | None = None
    """Long side of the output (pixels): a cap on the photo's size (never enlarged; None = the composite's
    default, 1024), or the head crop's side with ``crop`` (None = the model's render size)."""
    crop: bool = False
    """Write the aligned head crop (the model's render alone) instead of the target's photo."""
    side_by_side: bool = False
    """Write source | result, the source scaled to the result's height."""
    audio: bool = True
    """Copy the source's audio into the output."""
    batch_size: int = 8
    """Frames rendered at once."""
    fit_iterations: int | None = None
    """Target fitting iterations; None = FitConfig's default."""
    finetune_renderer: bool | None = None
    """Fine-tune the neural renderer on the target after the code fit; None = on for ``crop`` (FitConfig's
    default), off for the photo output: it shows the model's render only where the photo lacks the point,
    and the fine-tuning changed none of the viewer measures there while doubling the fit's time."""
    finetune_roll: float | None = None
    """Largest camera roll (degrees) of that fine-tuning's extra views; None = FitConfig's default."""
    finetune_expressions: int | None = None
    """Expression pseudo-views of that fine-tuning; None = FitConfig's default."""

    def fit_config(self) -> FitConfig:
        """The target fit these options ask for."""
        finetune = self.finetune_renderer
        return build_fit_config(
            iterations=self.fit_iterations,
            finetune_renderer=finetune if finetune is not None or self.crop else False,
            finetune_roll=self.finetune_roll,
            finetune_expressions=self.finetune_expressions,
        )


def build_fit_config(
    iterations: int | None = None,
    finetune_renderer: bool | None = None,
    finetune_roll: float | None = None,
    finetune_expressions: int | None = None,
) -> FitConfig:
    """:class:`FitConfig` with the command line's fit options applied; None keeps FitConfig's default. The one
    mapping of those flags, for drive, fit and eval."""
    overrides = {
        "iterations": iterations,
        "finetune_renderer": finetune_renderer,
        "finetune_roll_degrees": finetune_roll,
        "finetune_expression_views": finetune_expressions,
    }
    return replace(FitConfig(), **{key: value for key, value in overrides.items() if value is not None})


# ------------------------------------------------------------------------------------------ sources
@dataclass
class Source:
    """A readable video path; stdin is spooled to a temporary file so it can be decoded twice."""

    path: Path
    spooled: bool = False

    def cleanup(self) -> None:
        if self.spooled:
            self.path.unlink(missing_ok=True)


def open_source(source: str) -> Source:
    if source == "-":
        handle = tempfile.NamedTemporaryFile(prefix="reenact-stdin-", suffix=".video", delete=False)
        with handle:
            shutil.copyfileobj(sys.stdin.buffer, handle, length=1 << 20)
        if os.path.getsize(handle.name) == 0:
            os.unlink(handle.name)
            raise InputError("no video data on stdin")
        return Source(Path(handle.name), spooled=True)
    path = Path(source)
    if not path.exists():
        raise InputError(f"source not found: {source}")
    return Source(path)


@contextlib.contextmanager
def using_tracker(config: TrackerConfig, tracker: Tracker | None = None) -> Iterator[Tracker]:
    """``tracker`` when given (the caller's: one per run, left open), else a new one, closed at the end. Each
    MediaPipe graph costs about a second to build; a run that tracks more than once passes its one tracker."""
    if tracker is not None:
        yield tracker
        return
    with Tracker(config) as own:
        yield own


def track_video(
    path: Path,
    config: TrackerConfig,
    reporter: Reporter,
    label: str = "tracking",
    tracker: Tracker | None = None,
) -> Track:
    """Track every frame of a video (streamed: memory flat in its length)."""
    with open_video(path) as reader:
        info = reader.info
        with (
            reporter.progress(f"{label} {path.name}", info.frame_count) as advance,
            using_tracker(config, tracker) as tracker,
        ):
            return tracker.track_frames(
                reader, fps=info.fps, size=(info.width, info.height), progress=advance
            )


# ------------------------------------------------------------------------------------------ targets
@dataclass
class Target:
    """A target face: its full image, one-frame track, and the aligned crop and head mask a fit compares
    with."""

    image: np.ndarray  # (H, W, 3) uint8, the whole picture (the photo output animates it)
    track: Track  # N = 1
    crop: np.ndarray  # (S, S, 3) uint8, S = the tracker config's crop_size
    mask: np.ndarray  # (S, S) float32 in [0, 1]


def load_target(target: Path, config: TrackerConfig, tracker: Tracker | None = None) -> Target:
    """The target: an image, or a video's first frame with a face. One tracker does detection, crop and mask
    (MediaPipe graphs take about a second each to build on a CPU)."""
    if not target.exists():
        raise InputError(f"target not found: {target}")

    def prepare(image: np.ndarray, tracker: Tracker) -> Target:
        track = tracker.track_image(image)
        crop, mask = tracker.crop_frame(image, track, 0, config.crop_size)
        return Target(image=image, track=track, crop=crop, mask=mask)

    if is_image_path(target):
        image = read_image(target)
        with using_tracker(config, tracker) as tracker:
            return prepare(image, tracker)
    with open_video(target) as reader, using_tracker(config, tracker) as tracker:
        for frame in reader:
            if frame.index >= TARGET_VIDEO_SEARCH_FRAMES:
                break
            try:
                return prepare(frame.image, tracker)
            except NoFaceError:
                continue
    raise NoFaceError(
        f"no face found in the first {TARGET_VIDEO_SEARCH_FRAMES} frames of target video {target}"
    )


def identity_input(track: Track, engine: Engine) -> np.ndarray:
    """The tracker output that feeds the model's z_id (recognition embedding, or shape for the ablation)."""
    code = track.identity_shape if engine.identity_source == "identity_shape" else track.embedding
    return np.asarray(code, np.float32)


def initial_expression(track: Track, index: int, engine: Engine) -> np.ndarray:
    """The fit's starting β for frame ``index`` seen as a single image, in the model's terms."""
    return model_expressions(
        track.expression[index : index + 1], np.ones(1, bool), engine.expression_reference
    )[0]


@functools.lru_cache(maxsize=1)
def _face_mesh() -> FaceMesh:
    # The shipped landmark model: drive, fit and eval track with it, and the models' warp and geometry prior
    # were trained against it.
    return LandmarkModel.default().face_mesh()


def target_landmarks(track: Track, index: int) -> np.ndarray:
    """Frame ``index``'s face as the tracker reads it: the landmark model's shape for the track's identity
    shape and the frame's tracked expression, (L, 3) head frame (what the fit's expression pseudo-views
    warp)."""
    return _face_mesh().shape(track.identity_shape, track.expression[index : index + 1])[0]


def fit_frame(
    engine: Engine,
    track: Track,
    index: int,
    crop: np.ndarray,
    mask: np.ndarray,
    fit_config: FitConfig,
    progress=None,
) -> FitResult:
    """Fit the model's codes and camera to frame ``index`` of ``track`` (its aligned crop and head mask) seen
    as a single image: tracked pose, β from ``initial_expression``, z_id from ``identity_input``, and for the
    expression pseudo-views (only when they are on) the landmarks and the expression basis. The one fitting
    entry point of drive, fit and eval."""
    views = fit_config.uses_expression_views
    landmarks = target_landmarks(track, index) if views else None
    basis = _face_mesh().expression_basis if views else None
    return engine.fit(
        crop,
        mask,
        track.pose[index],
        initial_expression(track, index, engine),
        identity_input(track, engine),
        fit_config,
        progress=progress,
        landmarks=landmarks,
        expression_basis=basis,
        face=target_landmarks(track, index) if engine.uses_face else None,
    )


def fit_target(
    target: Target, engine: Engine, fit_config: FitConfig, reporter: Reporter, source_name: str = ""
) -> Codes:
    """Fit the model's codes and camera to the target image (paper §4.3)."""
    image, track = target.image, target.track
    with reporter.progress("fitting target", fit_config.total_iterations) as advance:
        result = fit_frame(engine, track, 0, target.crop, target.mask, fit_config, progress=advance)
    codes = Codes.from_fit(
        result,
        track.crop[0],
        (image.shape[1], image.shape[0]),
        engine.checkpoint_id,
        source_name,
        identity_input(track, engine),
    )
    return with_photo(codes, target)


def with_photo(codes: Codes, target: Target) -> Codes:
    """``codes`` carrying what the photo output needs of ``target`` (its photo, tracked face, expression code
    and pose)."""
    track = target.track
    return codes.with_photo(target.image, target_landmarks(track, 0), track.expression[0], track.pose[0])


# ---------------------------------------------------------------------------------------- composing
def crop_frame(render: np.ndarray, size: int) -> np.ndarray:
    """A uint8 (S, S, 3) crop render at size × size."""
    import cv2

    if render.shape[0] == size:
        return render
    interpolation = cv2.INTER_AREA if render.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(render, (size, size), interpolation=interpolation)


def side_by_side(source: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """source | frame, the source scaled to the frame's height (its width rounded to even pixels)."""
    import cv2

    height = frame.shape[0]
    width = max(2, int(round(source.shape[1] * height / source.shape[0] / 2)) * 2)
    scaled = cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.concatenate([scaled, frame], axis=1))


def smoothed(track: Track, options: DriveOptions) -> Track:
    """The source's track as ``drive`` renders it: pose and expression smoothed by the options."""
    if options.smooth <= 0 and options.smooth_expression <= 0:
        return track
    return smooth_track(track, options.smooth, options.smooth_expression)


def photo_rig(codes: Codes, engine: Engine, options: DriveOptions):  # noqa: ANN201 - reenact.photo.PhotoRig
    """The photo output of one target (``reenact/photo.py``) at the options' size."""
    from reenact.composite import CompositeConfig
    from reenact.photo import PhotoConfig, PhotoRig, PhotoTarget

    if not codes.has_photo:
        raise InputError(
            "these codes carry no photo (fitted before the photo output): give TARGET too, or use --crop"
        )
    mesh = _face_mesh()
    composite = CompositeConfig() if options.size is None else CompositeConfig(size=options.size)
    pose = codes.tracked_pose if codes.tracked_pose.size else None
    target = PhotoTarget(codes.photo, codes.face, mesh.expression_basis, pose)
    return PhotoRig(engine, codes, target, mesh.triangles, PhotoConfig(composite=composite))


# ----------------------------------------------------------------------------------------- drive one
def render_video(
    source: Path,
    track: Track,
    codes: Codes,
    engine: Engine,
    options: DriveOptions,
    output: str,
    reporter: Reporter,
) -> dict:
    """Render the driven video and write it (atomically) to ``output``; returns the summary numbers. The
    target's photo animated (``reenact/photo.py``), or with ``options.crop`` the head crop alone."""
    reference = None  # the source frame that stands for the photo (reenact/motion.py)
    if codes.has_photo:
        shapes = _face_mesh().shape(track.identity_shape, track.expression)
        reference = photo_like_frame(shapes, track.valid, codes.face)
    pose, expression = drive_parameters(
        track.pose,
        track.expression,
        track.valid,
        codes.cam_to_world,
        codes.expression,
        options.motion,
        engine.expression_reference,
        source_crops=None if options.crop else track.crop,
        reference=reference,
    )
    identity = np.repeat(codes.identity[None], len(pose), axis=0)
    if options.crop:
        rig = None
        side = options.size or engine.render_size
        size = (side, side)
    else:
        rig = photo_rig(codes, engine, options)
        changes = face_changes(
            track.expression, track.valid, codes.tracked_expression, options.motion, reference
        )
        size = rig.size

    def batches() -> Iterator[list[np.ndarray]]:
        for start in range(0, len(pose), options.batch_size):
            part = slice(start, start + options.batch_size)
            if rig is None:
                yield [
                    crop_frame(r, size[0])
                    for r in engine.render(pose[part], expression[part], identity[part], codes.rest_face)
                ]
            else:
                yield rig.frames(pose[part], expression[part], changes[part])

    started = time.perf_counter()
    render_seconds = 0.0
    width = size[0]
    source_reader: VideoReader | None = open_video(source) if options.side_by_side else None
    source_frames = iter(source_reader) if source_reader is not None else None
    audio_from = source if options.audio else None
    try:
        with (
            VideoWriter(output, fps=track.fps, audio_from=audio_from) as writer,
            reporter.progress("rendering", len(pose)) as advance,
        ):
            frames = batches()
            while True:
                tick = time.perf_counter()
                batch = next(frames, None)
                render_seconds += time.perf_counter() - tick
                if batch is None:
                    break
                for frame in batch:
                    if source_frames is not None:
                        frame = side_by_side(_next_image(source_frames, frame.shape[:2]), frame)
                    writer.write(frame)
                    width = frame.shape[1]
                advance(len(batch))
            frames_written = writer.frames_written
    finally:
        if source_reader is not None:
            source_reader.close()
    seconds = time.perf_counter() - started
    return {
        "frames": frames_written,
        "fps": track.fps,
        # Rendering and composing the frames (model, correspondence, compositing).
        "render_seconds": render_seconds,
        # Encoding, muxing audio (and decoding the source for --side-by-side).
        "encode_seconds": seconds - render_seconds,
        "width": width,
        "height": size[1],
    }


def _next_image(frames: Iterator, fallback_shape: tuple[int, int]) -> np.ndarray:
    frame = next(frames, None)
    if frame is None:  # a track longer than its video (e.g. --track from elsewhere): pad with black
        return np.zeros((*fallback_shape, 3), np.uint8)
    return frame.image


# ------------------------------------------------------------------------------------------- extras
def has_audio(path: Path | None) -> bool:
    if path is None:
        return False
    try:
        from reenact.media.reading import probe

        return bool(probe(path).has_audio)
    except InputError:
        return False


def write_track_preview(
    source: Path, track: Track, output: Path, config: TrackerConfig, reporter: Reporter
) -> None:
    """A video of the source with landmarks, the fitted landmark model and the pose axes drawn on it."""
    from tracking.preview import draw_preview

    landmark_model = LandmarkModel.load(config.basis_path) if config.basis_path else LandmarkModel.default()
    with (
        open_video(source) as reader,
        VideoWriter(output, fps=track.fps) as writer,
        reporter.progress("preview", len(track)) as advance,
    ):
        for frame in reader:
            if frame.index >= len(track):
                break
            writer.write(draw_preview(frame.image, track.frame(frame.index), landmark_model))
            advance(1)


def write_fit_comparison(target: Target, codes: Codes, engine: Engine, output: Path) -> None:
    """PNG of [target crop | fitted render] for a person to look at."""
    from reenact.media.images import write_image

    render = engine.render(
        codes.cam_to_world[None], codes.expression[None], codes.identity[None], codes.rest_face
    )[0]
    crop = target.crop
    if crop.shape[0] != render.shape[0]:
        import cv2

        crop = cv2.resize(crop, render.shape[1::-1], interpolation=cv2.INTER_AREA)
    write_image(output, np.concatenate([crop, render], axis=1))
