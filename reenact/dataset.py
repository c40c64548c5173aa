"""Build the training cache from videos and still portraits: track each clip, crop and mask its frames once,
store arrays.

One ``.npz`` per clip in the cache folder, in the format ``model/data.py`` reads:
``images (N,S,S,3) uint8``, ``masks (N,S,S) uint8``, ``pose (N,4,4) f32``, ``expression (N,E) f32``,
``identity (D,) f32`` (recognition embedding), ``identity_shape (K,) f32`` (landmark-model identity
coefficients, for the paper's ablation), ``person`` (str), ``clip`` (str). A clip already in the cache (same
name, same size and frame step) is not recomputed, so an interrupted build resumes.

A still image becomes a one-frame clip named ``still_<folder>_<stem>``: it adds a person (identity
coverage, the paper's reason for large identity sets) but no motion. Under ``clip_mean`` its β is zero, as
for a target image at inference.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from reenact.console import Reporter
from reenact.errors import InputError
from reenact.media.reading import open_video
from reenact.pipeline import load_target, using_tracker
from tracking.build_basis import person_of
from tracking.errors import NoFaceError, TrackingInputError
from tracking.media_files import find_videos, is_image_path
from tracking.npz_io import save_npz
from tracking.tracker import Tracker, TrackerConfig
from tracking.types import Track


def clip_name(path: Path) -> str:
    """Cache key of a clip: its folder and stem (``pcavs_00015``); stills get a ``still_`` prefix so a
    portrait never shares a key with a video of the same name."""
    name = f"{path.parent.name}_{path.stem}"
    return f"still_{name}" if is_image_path(path) else name


def held_out(path: Path, hold_out: tuple[str, ...]) -> bool:
    """True when the clip's person (or its clip name) matches a held-out id or prefix."""
    person = person_of(path)
    name = clip_name(path)
    return any(person == item or person.startswith(item) or name.startswith(item) for item in hold_out)


def build_still(
    image_path: Path,
    out_file: Path,
    size: int,
    every: int,
    config: TrackerConfig,
    tracker: Tracker | None = None,
) -> int:
    """Track one portrait (as a drive target is) and write it as a one-frame cache entry; returns 1."""
    target = load_target(image_path, replace(config, crop_size=size), tracker)
    _save(out_file, image_path, target.track, [0], target.crop[None], target.mask[None], size, every)
    return 1


def build_clip(
    video: Path,
    out_file: Path,
    size: int,
    every: int,
    config: TrackerConfig,
    reporter: Reporter,
    tracker: Tracker | None = None,
) -> int:
    """Track ``video``, keep every ``every``-th valid frame, write its cache entry; returns frames kept. Two
    decoding passes (the crops need the whole track) with one tracker: ``tracker`` (the run's), else a new
    one."""
    if is_image_path(video):
        return build_still(video, out_file, size, every, config, tracker)
    with contextlib.ExitStack() as stack:
        return _build_clip(
            video, out_file, size, every, stack.enter_context(using_tracker(config, tracker)), reporter
        )


def _build_clip(
    video: Path, out_file: Path, size: int, every: int, tracker: Tracker, reporter: Reporter
) -> int:
    with open_video(video) as reader:
        info = reader.info
        with reporter.progress(f"tracking {video.name}", info.frame_count) as advance:
            track = tracker.track_frames(
                reader, fps=info.fps, size=(info.width, info.height), progress=advance
            )
    keep = [i for i in range(len(track)) if i % every == 0 and track.detected[i]]
    if not keep:
        raise NoFaceError(f"no face tracked in {video}")
    images = np.zeros((len(keep), size, size, 3), np.uint8)
    masks = np.zeros((len(keep), size, size), np.float32)
    wanted = {index: slot for slot, index in enumerate(keep)}
    with open_video(video) as reader:
        for frame in reader:
            slot = wanted.get(frame.index)
            if slot is None:
                continue
            crop, mask = tracker.crop_frame(frame.image, track, frame.index, size)
            images[slot] = crop
            masks[slot] = mask
    _save(out_file, video, track, keep, images, masks, size, every)
    return len(keep)


def _save(
    out_file: Path,
    source: Path,
    track: Track,
    keep: list[int],
    images: np.ndarray,
    masks: np.ndarray,
    size: int,
    every: int,
) -> None:
    """One cache entry: uint8 crops (N,S,S,3), float head masks (N,S,S) in [0, 1] stored as uint8."""
    save_npz(
        out_file,
        dict(
            images=images,
            masks=np.clip(masks * 255.0 + 0.5, 0, 255).astype(np.uint8),
            pose=track.pose[keep].astype(np.float32),
            expression=track.expression[keep].astype(np.float32),
            identity=np.asarray(track.embedding, np.float32),
            identity_shape=np.asarray(track.identity_shape, np.float32),
            person=np.asarray(person_of(source)),
            clip=np.asarray(clip_name(source)),
            frame_index=np.asarray(keep, np.int64),
            size=np.int64(size),
            every=np.int64(every),
        ),
    )


def build_cache(
    inputs: list[str | Path],
    cache_dir: Path,
    size: int,
    every: int = 2,
    hold_out: tuple[str, ...] = (),
    reporter: Reporter | None = None,
) -> list[Path]:
    """Build (or complete) the cache for all videos and stills under ``inputs`` except held-out people."""
    reporter = reporter or Reporter(quiet=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    config = TrackerConfig(crop_size=size, smoothing=0.0)  # raw per-frame parameters match their frames
    written = []
    with contextlib.ExitStack() as stack:
        _build_all(inputs, cache_dir, size, every, hold_out, reporter, config, stack, written)
    if not written:
        raise InputError("no training clips: every input was held out or had no face")
    return written


def _build_all(inputs, cache_dir, size, every, hold_out, reporter, config, stack, written) -> None:
    tracker = None  # one for the whole cache, made at the first clip that needs tracking
    for video in find_videos(inputs, stills=True):
        if held_out(video, hold_out):
            reporter.debug(f"held out: {video}")
            continue
        out_file = cache_dir / f"{clip_name(video)}.npz"
        if out_file.exists() and _cache_matches(out_file, size, every):
            written.append(out_file)
            continue
        try:
            tracker = tracker or stack.enter_context(Tracker(config))
            kept = build_clip(video, out_file, size, every, config, reporter, tracker)
            reporter.info(f"cached {kept} frames of {video}")
            written.append(out_file)
        except (NoFaceError, TrackingInputError, InputError) as exc:
            reporter.warn(f"skipped {video}: {exc}")


def _cache_matches(path: Path, size: int, every: int) -> bool:
    try:
        with np.load(path, allow_pickle=False) as data:
            return int(data["size"]) == size and int(data["every"]) == every
    except Exception:  # a broken entry is rebuilt
        return False
