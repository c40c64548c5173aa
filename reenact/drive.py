"""``reenact drive``: one source driving one target, or a batch of pairs (folders or a pairs CSV), with
tracking and fits cached by content in the batch's output folder. ``drive_command`` takes a
:class:`reenact.options.DriveJob` and :class:`reenact.pipeline.DriveOptions` and returns a JSON-ready summary
dict (one pair) or a :class:`reenact.options.BatchResult` (a batch, which emits a JSON line per pair as it
goes). One tracker serves a run.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import time
from pathlib import Path
from typing import Any

from reenact.api import is_image, is_video_folder, list_files, quiet_reporter, tracker_config
from reenact.codes import Codes
from reenact.console import Reporter
from reenact.errors import EXPECTED_ERRORS, InputError, exit_code
from reenact.options import BatchResult, DriveJob
from tracking.errors import NoFaceError
from tracking.media_files import IMAGE_SUFFIXES, VIDEO_SUFFIXES


# ---------------------------------------------------------------------------------------------- drive
def default_output_name(source: str, target: str | None) -> Path:
    source_stem = "stdin" if source == "-" else Path(source).stem
    target_stem = Path(target).stem if target else "identity"
    return Path.cwd() / f"{target_stem}_by_{source_stem}.mp4"


def drive_command(job: DriveJob, options, reporter: Reporter | None = None) -> dict[str, Any] | BatchResult:
    """``reenact drive``: one pair, or every pair of folders / a pairs CSV. ``job``: what to drive and where
    (:class:`reenact.options.DriveJob`); ``options``: how (:class:`reenact.pipeline.DriveOptions`)."""
    reporter = reporter or quiet_reporter()
    source, target, output, identity_path, pairs = (
        job.source,
        job.target,
        job.output,
        job.identity_path,
        job.pairs,
    )
    checkpoint, force, device, track_path = job.checkpoint, job.force, job.device, job.track_path
    source = source or ""
    source_path = Path(source)
    batch = (
        pairs is not None
        or (source != "-" and is_video_folder(source_path))
        or (target is not None and Path(target).is_dir() and not identity_path)
    )
    if batch:
        if output in (None, "-"):
            raise InputError("a batch run needs -o OUT_DIR (a folder)")
        pair_list = read_pairs(pairs) if pairs else list_pairs(source_path, Path(target))
        return drive_batch(pair_list, Path(output), options, checkpoint, force, device, reporter)
    from reenact.engine import Engine

    # Cheap input checks before the model loads: bad input is exit 3 whatever the checkpoint.
    if source != "-" and not source_path.exists():
        raise InputError(f"source not found: {source}")
    if source != "-" and is_image(source_path):
        raise InputError(f"source {source} is an image, not a video")
    if target is not None and not Path(target).exists():
        raise InputError(f"target not found: {target}")
    if source != "-" and track_path is None:
        from reenact.media.reading import probe

        probe(source_path)  # raises InputError for empty, text or stream-less files
    out = output if output is not None else str(default_output_name(source, target))
    _check_output(out, [source, target, str(identity_path) if identity_path else None], force)
    engine = Engine.load(checkpoint, device)
    return drive_one(
        source,
        target,
        out,
        engine,
        options,
        reporter,
        identity_path=identity_path,
        save_identity=job.save_identity,
        track_path=track_path,
        preview=job.preview,
        force=force,
    )


def _check_output(output: str, inputs: list[str | None], force: bool) -> None:
    if output == "-":
        return
    out = Path(output).resolve()
    for item in inputs:
        if item and item != "-" and Path(item).exists() and Path(item).resolve() == out:
            raise InputError(f"output {output} would overwrite an input")
    if out.exists() and not force:
        raise InputError(f"output {output} exists (use --force to overwrite)")
    if not out.parent.is_dir():
        raise InputError(f"output folder does not exist: {out.parent}")


def drive_one(
    source: str,
    target: str | None,
    output: str,
    engine,
    options,
    reporter: Reporter,
    *,
    identity_path: Path | None = None,
    save_identity: Path | None = None,
    track_path: Path | None = None,
    preview: Path | None = None,
    force: bool = False,
    source_track=None,
    target_codes: Codes | None = None,
    tracker=None,
) -> dict[str, Any]:
    """One pair. ``tracker``: the run's tracker (a batch passes its one); None: one for this pair, used for
    both the target and the source."""
    from reenact import pipeline
    from tracking.types import Track

    config = tracker_config(crop_size=engine.render_size)
    with pipeline.using_tracker(config, tracker) as tracker:
        _check_output(output, [source, target, str(identity_path) if identity_path else None], force)
        started = time.perf_counter()
        src = pipeline.open_source(source)
        try:
            if source != "-" and is_image(src.path):
                raise InputError(f"source {source} is an image, not a video")
            # Target first: a target without a face should fail before minutes of source tracking.
            codes = target_codes
            fit_started = time.perf_counter()
            if codes is None and identity_path is not None:
                codes = Codes.load(identity_path)
                if codes.checkpoint_id and codes.checkpoint_id != engine.checkpoint_id:
                    reporter.warn(
                        f"{identity_path} was fitted for another checkpoint ({codes.checkpoint_id})"
                    )
            needs_photo = codes is not None and not options.crop and not codes.has_photo
            if codes is None or needs_photo:
                if target is None and codes is None:
                    raise InputError("TARGET is needed (or --identity codes.npz)")
                if target is None:
                    raise InputError(
                        f"{identity_path} carries no photo (fitted before the photo output): give TARGET "
                        "too, or use --crop"
                    )
                loaded = pipeline.load_target(Path(target), config, tracker)
                if codes is None:
                    codes = pipeline.fit_target(loaded, engine, options.fit_config(), reporter, str(target))
                else:  # an older codes file: the photo, face and tracked code from TARGET
                    codes = pipeline.with_photo(codes, loaded)
            if save_identity is not None:
                codes.save(save_identity)
            fit_seconds = time.perf_counter() - fit_started
            track_started = time.perf_counter()
            track = source_track
            if track is None:
                track = (
                    Track.load(track_path)
                    if track_path
                    else pipeline.track_video(src.path, config, reporter, tracker=tracker)
                )
            if not track.valid.any():
                raise NoFaceError(f"no face found in source {source}")
            tracking_seconds = time.perf_counter() - track_started
            if preview is not None:
                pipeline.write_track_preview(src.path, track, preview, config, reporter)
            track = pipeline.smoothed(track, options)
            with engine.renderer_override(codes.renderer_state):
                result = pipeline.render_video(src.path, track, codes, engine, options, output, reporter)
            audio = bool(options.audio and pipeline.has_audio(src.path))
        finally:
            src.cleanup()
        seconds = time.perf_counter() - started
        summary = {
            "output": output,
            "source": source,
            "target": target,
            "frames": result["frames"],
            "fps": result["fps"],
            "audio": audio,
            "seconds": seconds,
            "frames_per_second": result["frames"] / max(seconds, 1e-9),
            "render_frames_per_second": result["frames"] / max(result["render_seconds"], 1e-9),
            "fit_seconds": fit_seconds,
            "tracking_seconds": tracking_seconds,
            "render_seconds": result["render_seconds"],
            "encode_seconds": result["encode_seconds"],
            "width": result["width"],
            "height": result["height"],
            "fit_psnr": codes.psnr,
            "device": str(engine.device),
        }
        if output != "-":
            reporter.info(
                f"wrote {output}: {summary['frames']} frames in {seconds:.1f} s "
                f"({summary['frames_per_second']:.2f} frames/s)"
            )
        return summary


# ---------------------------------------------------------------------------------------------- batch
def list_pairs(source: Path, target: Path) -> list[tuple[Path, Path]]:
    sources = list_files(source, VIDEO_SUFFIXES) if source.is_dir() else [source]
    if target.is_dir():
        targets = list_files(target, IMAGE_SUFFIXES | VIDEO_SUFFIXES)
    else:
        targets = [target]
    if not sources:
        raise InputError(f"no videos in {source}")
    if not targets:
        raise InputError(f"no images or videos in {target}")
    return [(s, t) for s in sources for t in targets]


def read_pairs(path: Path) -> list[tuple[Path, Path]]:
    """A CSV of ``source,target`` rows (a header row is skipped); paths relative to the CSV's folder."""
    pairs = []
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            if not row or row[0].strip().startswith("#") or row[0].strip().lower() == "source":
                continue
            if len(row) < 2:
                raise InputError(f"{path}: each row needs source,target: {row}")
            pairs.append(tuple((path.parent / cell.strip()) for cell in row[:2]))
    if not pairs:
        raise InputError(f"{path}: no pairs")
    return pairs


def drive_batch(
    pairs: list[tuple[Path, Path]],
    out_dir: Path,
    options,
    checkpoint: Path | None,
    force: bool,
    device: str,
    reporter: Reporter,
) -> BatchResult:
    """Drive every pair; each source is tracked once and each target fitted once (cached on disk by content
    hash in OUT_DIR/.cache, so a rerun resumes); finished outputs are skipped; failures are reported and the
    rest continue. One tracker serves every pair. Emits one JSON line per pair with --json; the command line
    prints the table of the returned rows and exits with BatchFailure's code when any failed."""
    with contextlib.ExitStack() as stack:
        return _drive_batch(pairs, out_dir, options, checkpoint, force, device, reporter, stack)


def _drive_batch(pairs, out_dir, options, checkpoint, force, device, reporter, stack) -> BatchResult:
    from reenact import pipeline
    from reenact.engine import Engine, file_digest
    from tracking.types import Track

    out_dir.mkdir(parents=True, exist_ok=True)
    cache = out_dir / ".cache"
    cache.mkdir(exist_ok=True)
    engine = Engine.load(checkpoint, device)
    config = tracker_config(crop_size=engine.render_size)
    rows = []
    failures = 0
    tracker = stack.enter_context(pipeline.using_tracker(config))  # one for every pair
    for source, target in pairs:
        output = out_dir / f"{target.stem}_by_{source.stem}.mp4"
        row: dict[str, Any] = {"source": str(source), "target": str(target), "output": str(output)}
        if output.exists() and not force:
            row.update(status="skipped", reason="exists")
        else:
            try:
                track_file = cache / f"track_{file_digest(source)}_{engine.render_size}.npz"
                if track_file.exists():
                    track = Track.load(track_file)
                else:
                    track = pipeline.track_video(source, config, reporter, tracker=tracker)
                    track.save(track_file)
                # Keyed by everything the codes depend on: the target, the checkpoint and the whole fit
                # config.
                fit_key = hashlib.sha256(repr(options.fit_config()).encode()).hexdigest()[:12]
                codes_file = cache / f"codes_{file_digest(target)}_{engine.checkpoint_id}_{fit_key}.npz"
                codes = Codes.load(codes_file) if codes_file.exists() else None
                summary = drive_one(
                    str(source),
                    str(target),
                    str(output),
                    engine,
                    options,
                    reporter,
                    force=True,
                    source_track=track,
                    target_codes=codes,
                    tracker=tracker,
                    save_identity=None if codes is not None else codes_file,
                )
                row.update(status="ok", frames=summary["frames"], seconds=round(summary["seconds"], 2))
            except EXPECTED_ERRORS as exc:
                failures += 1
                row.update(status="failed", reason=str(exc), exit_code=exit_code(exc))
                reporter.warn(f"{source.name} × {target.name}: {exc}")
            except Exception as exc:  # noqa: BLE001 - one pair's bug must not stop the others
                failures += 1
                row.update(
                    status="failed", reason=f"internal error: {exc.__class__.__name__}: {exc}", exit_code=1
                )
                reporter.warn(
                    f"{source.name} × {target.name}: internal error: {exc.__class__.__name__}: {exc}"
                )
        rows.append(row)
        if reporter.json_mode:
            reporter.emit_json(row)
    return BatchResult(rows=tuple(rows), failures=failures)
