"""The ``reenact`` command line: parses options into typed options once (:mod:`reenact.options`), calls
:mod:`reenact.api` with them, and prints the results (lines, tables, ``--json``).

The only place that catches the expected errors of ``reenact``, ``model`` and ``tracking`` and turns them into
one line on stderr and an exit code (:func:`reenact.errors.exit_code` and its table in ``reenact/errors.py``).
A traceback is printed only with ``-v``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any

import click

from model.config import WARP_KINDS
from reenact import __version__
from reenact.console import Reporter
from reenact.defaults import DRIVE_SMOOTH, DRIVE_SMOOTH_EXPRESSION
from reenact.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    EXPECTED_ERRORS,
    BatchFailure,
    exit_code,
)
from reenact.options import (
    BatchResult,
    DriveJob,
    EvalOptions,
    FitOptions,
    RenderOptions,
    TrackOptions,
    TrainOptions,
)
from reenact.recipe import DEFAULT_DATA_ROOT

DEVICE_CHOICE = click.Choice(["auto", "cpu", "cuda"])


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every subcommand shares: --device, --json, -q, -v."""

    @click.option(
        "--device", type=DEVICE_CHOICE, default="auto", show_default=True, help="Where to run the model."
    )
    @click.option(
        "--json",
        "json_mode",
        is_flag=True,
        help="Print one JSON object on stdout; human output goes to stderr.",
    )
    @click.option("-q", "--quiet", is_flag=True, help="No progress bars or messages (errors still print).")
    @click.option("-v", "--verbose", count=True, help="More detail; tracebacks on errors.")
    @click.pass_context
    @wraps(func)
    def wrapper(
        ctx: click.Context, *args: Any, device: str, json_mode: bool, quiet: bool, verbose: int, **kwargs: Any
    ):
        state = ctx.find_root().obj
        if isinstance(state, dict):
            state["verbose"] = verbose
        reporter = Reporter(quiet=quiet, verbose=verbose, json_mode=json_mode)
        return func(*args, reporter=reporter, device=device, **kwargs)

    return wrapper


def _path(exists: bool = True, **kwargs: Any) -> click.Path:
    return click.Path(exists=exists, path_type=Path, **kwargs)


def target_fit_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The target-fit options drive and fit share (each passes them on as keyword arguments)."""
    for option in reversed(
        (
            click.option(
                "--finetune-roll",
                type=click.FloatRange(min=0.0, max=45.0),
                default=None,
                help="Largest camera roll (degrees) of the extra views that renderer fine-tuning also learns "
                "the target from: the photo turned to match, an exact new view (0 = the fitted view "
                "only; default: the fit's default).",
            ),
            click.option(
                "--finetune-expressions",
                type=click.IntRange(min=0, max=64),
                default=None,
                help="Pseudo-views of the target making other expressions that renderer fine-tuning also "
                "learns from: the photo warped as the landmark model moves its face (0 = none; default: "
                "the fit's default).",
            ),
        )
    ):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="reenact")
def cli() -> None:
    """Face reenactment with a drivable, generalized NeRF head model.

    Typical use: reenact drive source.mp4 target.jpg
    """


# --------------------------------------------------------------------------------------------- drive
@cli.command()
@click.argument("source", type=str, required=False)
@click.argument("target", type=str, required=False)
@click.option(
    "-o", "--output", type=str, default=None, help="Output video (or folder for batch runs); '-' for stdout."
)
@click.option(
    "--checkpoint",
    type=_path(dir_okay=False),
    default=None,
    help="Model checkpoint (default: the shipped model).",
)
@click.option(
    "--identity",
    "identity_path",
    type=_path(dir_okay=False),
    default=None,
    help="Load the target's codes (from `reenact fit` or --save-identity) instead of fitting TARGET.",
)
@click.option(
    "--save-identity",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the fitted target codes here for reuse.",
)
@click.option(
    "--track",
    "track_path",
    type=_path(dir_okay=False),
    default=None,
    help="Use a saved source track (`reenact track`) instead of tracking SOURCE.",
)
@click.option(
    "--motion",
    type=click.Choice(["relative", "absolute"]),
    default="relative",
    show_default=True,
    help="relative: apply the source's change since its frame most like the target (mouth and eyes) to the "
    "target's own pose and expression.",
)
@click.option(
    "--smooth",
    type=click.FloatRange(min=0.0),
    default=DRIVE_SMOOTH,
    show_default=True,
    help="Temporal smoothing strength of the head pose (0 = off).",
)
@click.option(
    "--smooth-expression",
    type=click.FloatRange(min=0.0),
    default=DRIVE_SMOOTH_EXPRESSION,
    show_default=True,
    help="Temporal smoothing strength of the expression (0 = off: a smoothed mouth talks and blinks less).",
)
@click.option(
    "--size",
    type=click.IntRange(min=16),
    default=None,
    help="Long side of the output in pixels: a cap on the target photo's size (default 1024; a photo is "
    "never enlarged), or with --crop the crop's side (default: the model's render size).",
)
@click.option(
    "--crop",
    is_flag=True,
    help="Write the aligned head crop rendered by the model alone, instead of the target's photo animated.",
)
@click.option(
    "--side-by-side", is_flag=True, help="Write source | result, the source scaled to the result's height."
)
@click.option("--no-audio", is_flag=True, help="Drop the source's audio.")
@click.option(
    "--preview",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a video of the source tracking.",
)
@click.option(
    "--fit-iterations",
    type=click.IntRange(min=0),
    default=None,
    help="Iterations when fitting the target (default: the fit config's 300).",
)
@click.option(
    "--finetune-renderer/--no-finetune-renderer",
    default=None,
    help="After fitting the target, fine-tune a copy of the neural renderer on it (default: on with --crop, "
    "where it makes the head sharper and closer to the target; off for the photo output, which shows the "
    "render only where the photo lacks the point).",
)
@target_fit_options
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Frames rendered at once."
)
@click.option(
    "--pairs",
    type=_path(dir_okay=False),
    default=None,
    help="CSV of source,target pairs for a batch run (-o is then a folder).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@common_options
def drive(reporter: Reporter, device: str, **options: Any) -> None:
    """Drive TARGET (image, video or folder) with the motion of SOURCE (video, folder or '-' for stdin)."""
    from reenact import drive

    if options["pairs"] is None and options["source"] is None:
        raise click.UsageError("SOURCE is required unless --pairs is given")
    if options["pairs"] is None and options["target"] is None and options["identity_path"] is None:
        raise click.UsageError("TARGET is required unless --identity or --pairs is given")
    from reenact.pipeline import DriveOptions

    job_fields = {field.name for field in dataclasses.fields(DriveJob)}
    job = DriveJob(device=device, **{k: v for k, v in options.items() if k in job_fields})
    how = {k: v for k, v in options.items() if k not in job_fields}
    how["audio"] = not how.pop("no_audio")
    result = drive.drive_command(job, DriveOptions(**how), reporter)
    if isinstance(result, BatchResult):  # its JSON lines went out pair by pair
        reporter.table(batch_table(result))
        if result.failures:
            raise BatchFailure(f"{result.failures} of {len(result.rows)} pairs failed")
    elif reporter.json_mode:
        reporter.emit_json(result)


def batch_table(result: BatchResult):
    """The table of a batch drive: one row per pair."""
    from rich.table import Table

    table = Table(title=f"reenact drive: {len(result.rows)} pairs")
    for column in ("source", "target", "status", "frames", "seconds"):
        table.add_column(column)
    for row in result.rows:
        table.add_row(
            Path(row["source"]).name,
            Path(row["target"]).name,
            row["status"],
            str(row.get("frames", "")),
            str(row.get("seconds", "")),
        )
    return table


# --------------------------------------------------------------------------------------------- track
@cli.command()
@click.argument("source", type=str)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Track file to write (.npz)."
)
@click.option(
    "--preview",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a video with landmarks, fitted model and pose axes.",
)
@click.option(
    "--smooth",
    type=click.FloatRange(min=0.0),
    default=TrackOptions.smooth,
    show_default=True,
    help="Temporal smoothing strength (0 = off; the raw track is usually what you want to save).",
)
@click.option(
    "--crop-size",
    type=click.IntRange(min=32),
    default=TrackOptions.crop_size,
    show_default=True,
    help="Size of the aligned crop the model sees.",
)
@click.option(
    "--face",
    type=str,
    default=TrackOptions.face,
    show_default=True,
    help="Which face to follow when several are in frame: 'largest' or an index (left to right).",
)
@click.option(
    "--identity-encoder",
    type=str,
    default=None,
    help="'dlib' (default) or a path to an ONNX ArcFace/AdaFace model.",
)
@click.option(
    "--basis",
    type=_path(dir_okay=False),
    default=None,
    help="Landmark morphable model (.npz) to use instead of the shipped one.",
)
@common_options
def track(reporter: Reporter, device: str, **options: Any) -> None:
    """Track head pose, expression, crop and identity in SOURCE (video, image, folder or '-')."""
    from reenact import api

    result = api.track_command(TrackOptions(**options), reporter)
    if reporter.json_mode:
        reporter.emit_json(result.to_json())


# ----------------------------------------------------------------------------------------------- fit
@cli.command()
@click.argument("image", type=str)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Codes file to write (.npz), loadable by drive/render --identity.",
)
@click.option(
    "--checkpoint",
    type=_path(dir_okay=False),
    default=None,
    help="Model checkpoint (default: the shipped model).",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=0),
    default=FitOptions.iterations,
    show_default=True,
    help="Optimization steps (paper: 300).",
)
@click.option(
    "--finetune-renderer/--no-finetune-renderer",
    default=None,
    help="Then fine-tune a copy of the neural renderer on the image (default: on; sharper, closer to the "
    "target; stored in the codes file).",
)
@target_fit_options
@click.option(
    "--save-render",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the fitted render next to the input crop (PNG).",
)
@common_options
def fit(reporter: Reporter, device: str, **options: Any) -> None:
    """Fit identity, expression and camera codes of the face in IMAGE (or a video's first good frame)."""
    from reenact import api

    result = api.fit_command(FitOptions(device=device, **options), reporter)
    if reporter.json_mode:
        reporter.emit_json(result.to_json())


# -------------------------------------------------------------------------------------------- render
@cli.command()
@click.argument("checkpoint", type=_path(dir_okay=False), required=False)
@click.option(
    "--identity",
    "identity_path",
    type=_path(dir_okay=False),
    required=True,
    help="Codes file from `reenact fit`.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help=".mp4 for a sequence, .png for one frame.",
)
@click.option(
    "--track",
    "track_path",
    type=_path(dir_okay=False),
    default=None,
    help="Render the pose and expression of every frame of this track.",
)
@click.option("--yaw", type=str, default=None, help="Yaw sweep in degrees 'start:stop' (or one value).")
@click.option("--pitch", type=str, default=None, help="Pitch sweep in degrees 'start:stop' (or one value).")
@click.option(
    "--to",
    "interpolate_to",
    type=_path(dir_okay=False),
    default=None,
    help="Interpolate from --identity to this codes file.",
)
@click.option(
    "--interpolate",
    type=click.Choice(["identity", "expression", "both"]),
    default=RenderOptions.interpolate,
    show_default=True,
    help="Which codes --to interpolates.",
)
@click.option(
    "--frames",
    type=click.IntRange(min=1),
    default=RenderOptions.frames,
    show_default=True,
    help="Frames of a sweep or interpolation.",
)
@click.option("--fps", type=click.FloatRange(min=1.0), default=RenderOptions.fps, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=RenderOptions.batch_size, show_default=True)
@common_options
def render(reporter: Reporter, device: str, **options: Any) -> None:
    """Render fitted codes: novel-view sweeps, a tracked sequence, or code interpolation."""
    from reenact import api

    result = api.render_command(RenderOptions(device=device, **options), reporter)
    if reporter.json_mode:
        reporter.emit_json(result.to_json())


# --------------------------------------------------------------------------------------------- train
@cli.command()
@click.argument("data", type=str, nargs=-1, required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Run folder: checkpoints, previews, log.",
)
@click.option(
    "--recipe",
    type=str,
    default=None,
    help="Run a training recipe instead (a shipped one's name, e.g. 'shipped', or a .toml path): its stages "
    "in order, each in OUTPUT/<stage>, resumable; the final model is OUTPUT/head.pt.",
)
@click.option(
    "--data-root",
    type=click.Path(path_type=Path, file_okay=False),
    default=str(DEFAULT_DATA_ROOT),
    show_default=True,
    help="With --recipe: the folder its data paths are relative to.",
)
@click.option(
    "--preset", type=click.Choice(["tiny", "cpu", "paper"]), default=TrainOptions.preset, show_default=True
)
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    default=None,
    help="Preprocessed-frame cache folder (default: OUTPUT/cache).",
)
@click.option(
    "--steps", type=click.IntRange(min=1), default=None, help="Training steps (default: the preset's)."
)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=None)
@click.option("--seed", type=int, default=TrainOptions.seed, show_default=True)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=TrainOptions.every,
    show_default=True,
    help="Use every n-th frame of each video.",
)
@click.option(
    "--hold-out", type=str, multiple=True, help="Person ids (or clip name prefixes) to leave out of training."
)
@click.option(
    "--vgg16",
    type=_path(dir_okay=False),
    default=None,
    help="VGG16 ImageNet weights (torchvision state_dict) for the paper's perceptual loss.",
)
@click.option(
    "--identity-source",
    type=click.Choice(["embedding", "identity_shape"]),
    default=TrainOptions.identity_source,
    show_default=True,
    help="z_id from the recognition embedding (paper) or the landmark identity shape (the paper's Table 1 "
    "ablation).",
)
@click.option(
    "--expression-reference",
    type=click.Choice(["clip_mean", "none"]),
    default=TrainOptions.expression_reference,
    show_default=True,
    help="Measure β from each clip's mean code (clip_mean) or use the tracker's code as it is.",
)
@click.option(
    "--init",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Start from this checkpoint's weights (same preset; fresh optimizer and schedule).",
)
@click.option(
    "--expression-components",
    type=click.IntRange(min=0),
    default=TrainOptions.expression_components,
    show_default=True,
    help="Leading expression components the model sees (0 = all); the rest are zeroed at the field's input "
    "(the trailing ones are mostly tracking jitter).",
)
@click.option(
    "--geometry-weight",
    type=click.FloatRange(min=0.0),
    default=TrainOptions.geometry_weight,
    show_default=True,
    help="Weight of the geometry prior: the field's surface along rays through the visible tracked face "
    "landmarks is pulled to the landmarks (L1, head units; 0 = off).",
)
@click.option(
    "--warp-radius",
    type=click.FloatRange(min=0.0),
    default=TrainOptions.warp_radius,
    show_default=True,
    help="Expression warp: β moves the field's sample points as the landmark model moves the face, "
    "over this distance (head units, ~0.06-0.1); 0 = off.",
)
@click.option(
    "--warp-kind",
    type=click.Choice(list(WARP_KINDS)),
    default=TrainOptions.warp_kind,
    show_default=True,
    help="gaussian: a point moves by the mean motion of the landmarks around it; surface: by the motion of "
    "the nearest point of the face mesh (lips and lids apart), on each frame's own tracked face.",
)
@click.option("--resume/--no-resume", default=TrainOptions.resume, show_default=True)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Stop (with a checkpoint) after this many minutes.",
)
@common_options
def train(reporter: Reporter, device: str, **options: Any) -> None:
    """Train the head model on DATA: videos, still portraits, folders of them, or a prepared cache folder
    (or run a --recipe)."""
    from reenact import api

    recipe, data_root = options.pop("recipe"), options.pop("data_root")
    if recipe is not None:
        from reenact.recipe import run_recipe

        if options["data"]:
            raise click.UsageError("--recipe names its own data (relative to --data-root); give no DATA")
        summary = run_recipe(recipe, options["output"], data_root, device, reporter)
        reporter.info(f"recipe {recipe}: {len(summary.stages)} stages → {summary.model}")
    else:
        if not options["data"]:
            raise click.UsageError("DATA is required unless --recipe is given")
        summary = api.train_command(TrainOptions(device=device, **options), reporter)
    if reporter.json_mode:
        reporter.emit_json(summary.to_json())


# ---------------------------------------------------------------------------------------------- eval
@cli.command(name="eval")
@click.argument("checkpoint", type=_path(dir_okay=False))
@click.argument("videos", type=str, nargs=-1, required=True)
@click.option(
    "--cross",
    "cross_targets",
    type=str,
    multiple=True,
    help="Portrait(s) to drive with the clips (cross-identity).",
)
@click.option(
    "--ablation",
    "ablation_checkpoint",
    type=_path(dir_okay=False),
    default=None,
    help="Checkpoint of the landmark-identity ablation to compare in the same run.",
)
@click.option(
    "--max-frames",
    type=click.IntRange(min=2),
    default=EvalOptions.max_frames,
    show_default=True,
    help="Frames per clip evaluated.",
)
@click.option(
    "--fit-iterations", type=click.IntRange(min=0), default=EvalOptions.fit_iterations, show_default=True
)
@click.option(
    "--fit-finetune-renderer/--no-fit-finetune-renderer",
    default=None,
    help="Each fit also fine-tunes the neural renderer on its image, as reenact drive and fit do (default: "
    "the fit's default, on).",
)
@click.option(
    "--fit-finetune-roll",
    type=click.FloatRange(min=0.0, max=45.0),
    default=None,
    help="Largest camera roll (degrees) of the fits' extra fine-tuning views, as drive/fit --finetune-roll "
    "(default: the fit's default).",
)
@click.option(
    "--fit-finetune-expressions",
    type=click.IntRange(min=0, max=64),
    default=None,
    help="Expression pseudo-views of the fits' fine-tuning, as drive/fit --finetune-expressions (default: "
    "the fit's default).",
)
@click.option(
    "--smooth",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Smoothing strength of the 'smoothed' row, the model driven as reenact drive drives it (default: "
    "drive's; 0 = no such row).",
)
@click.option(
    "--viewer-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Keep the videos of the viewer rows (drive's output, the 2D morph, the still portrait per --cross "
    "pair and per clip's self-reenactment at the photo's size) in this folder.",
)
@common_options
def eval_(reporter: Reporter, device: str, **options: Any) -> None:
    """Evaluate CHECKPOINT on VIDEOS of unseen people: self- and cross-reenactment against baselines."""
    from reenact import api

    result = api.eval_command(EvalOptions(device=device, **options), reporter).to_json()
    reporter.table(eval_table(result))
    if result["photo_summary"]:
        reporter.table(photo_table(result))
    if result["viewer"]:
        reporter.table(viewer_table(result))
    if reporter.json_mode:
        reporter.emit_json(result)


def eval_table(result: dict[str, Any]):
    """The summary table of ``reenact eval``: one row per method, the mean of each metric."""
    from rich.table import Table

    from reenact.evaluate import METRIC_KEYS
    from reenact.tracked_measures import LEADING_EXPRESSION

    clips = len(result["clips"])
    title = (
        f"reenact eval: {clips} clips, {result['max_frames']} frames each, fit {result['fit_iterations']} it"
    )
    table = Table(title=title)
    headers = (
        "L1",
        "PSNR",
        "SSIM",
        "ID sim",
        "expr dist",
        f"expr dist {LEADING_EXPRESSION}",
        f"expr Δ dist {LEADING_EXPRESSION}",
        "pose °",
        "face found",
    )
    table.add_column("method")
    for header in headers:
        table.add_column(header, justify="right")
    for method, values in result["summary"].items():
        table.add_row(method, *(f"{values[c]:.4g}" if c in values else "—" for c in METRIC_KEYS))
    return table


def photo_table(result: dict[str, Any]):
    """Self-reenactment at the photo output's size: per clip and row, then the mean per row."""
    from rich.table import Table

    from reenact.viewer_eval import ROWS, SELF_COLUMNS

    table = Table(title="self-reenactment at the photo output's size (head box; psnr frame: whole frame)")
    table.add_column("clip")
    table.add_column("row")
    for column in SELF_COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    clips = [clip for clip in result["clips"] if "photo" in clip]
    for name, rows in [(Path(c["clip"]).stem, c["photo"]) for c in clips] + [
        ("mean", result["photo_summary"])
    ]:
        for row in ROWS:
            table.add_row(name, row, *(f"{rows[row][c]:.4g}" for c in SELF_COLUMNS))
    return table


def viewer_table(result: dict[str, Any]):
    """The viewer rows of ``reenact eval``: per cross pair and row, then the mean per row."""
    from rich.table import Table

    from reenact.viewer_eval import COLUMNS, ROWS

    table = Table(title=f"as a viewer sees it: {len(result['viewer'])} cross-identity pairs")
    table.add_column("pair")
    table.add_column("row")
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    for pair in result["viewer"]:
        name = f"{Path(pair['clip']).stem} → {Path(pair['portrait']).stem}"
        for row in ROWS:
            table.add_row(name, row, *(f"{pair[row][c]:.2f}" for c in COLUMNS))
    for row in ROWS:
        table.add_row("mean", row, *(f"{result['viewer_summary'][row][c]:.2f}" for c in COLUMNS))
    return table


# ---------------------------------------------------------------------------------------------- basis
@cli.command()
@click.argument("videos", type=str, nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Landmark morphable model to write (.npz).",
)
@click.option(
    "--every", type=click.IntRange(min=1), default=3, show_default=True, help="Use every n-th frame."
)
@common_options
def basis(reporter: Reporter, device: str, **options: Any) -> None:
    """Rebuild the landmark morphable model (mean, identity and 46-d expression bases) from VIDEOS."""
    from reenact import api

    result = api.basis_command(reporter=reporter, **options)
    if reporter.json_mode:
        reporter.emit_json(result)


# --------------------------------------------------------------------------------------------- export
@cli.command()
@click.argument("checkpoint", type=_path(dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Weights-only fp16 file to write."
)
@common_options
def export(reporter: Reporter, device: str, checkpoint: Path, output: Path) -> None:
    """Write a weights-only fp16 copy of CHECKPOINT (no optimizer state) for shipping."""
    from reenact import api

    result = api.export_command(checkpoint, output, reporter=reporter)
    if reporter.json_mode:
        reporter.emit_json(result.to_json())


# --------------------------------------------------------------------------------------------- doctor
@cli.command()
@common_options
def doctor(reporter: Reporter, device: str) -> None:
    """Check the installation: packages, shipped model and basis, face models, GPU."""
    from reenact import api

    result = api.doctor_command(reporter=reporter, device=device)
    if reporter.json_mode:
        reporter.emit_json(result)


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool) -> Iterator[None]:
    """Send what native libraries write straight to file descriptor 2 (MediaPipe/TFLite/absl start-up
    chatter) to /dev/null, while Python's ``sys.stderr`` keeps the real stderr for our own messages.

    Only when stderr is the process's own (not under a test capture) and ``-v`` was not given."""
    if not enabled or sys.stderr is not sys.__stderr__:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(
        os.dup(saved), "w", buffering=1, encoding=sys.__stderr__.encoding, errors="replace"
    )
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr = sys.__stderr__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns (and exits with) the documented exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)
    with native_stderr_silenced(not verbose):
        return _run(args)


def _run(argv: list[str]) -> int:
    state: dict[str, Any] = {"verbose": 0}
    try:
        cli.main(args=argv, prog_name="reenact", standalone_mode=False, obj=state)
        code = 0
    except click.exceptions.Exit as exc:  # --help, --version
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Abort:
        click.echo("reenact: interrupted", err=True)
        code = EXIT_INTERRUPTED
    except EXPECTED_ERRORS as exc:  # reenact's, model's and tracking's errors: one line, the mapped exit code
        if state.get("verbose"):
            traceback.print_exc()
        click.echo(f"reenact: error: {exc}", err=True)
        code = exit_code(exc)
    except KeyboardInterrupt:
        click.echo("reenact: interrupted", err=True)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `| head`): not an error of ours.
        code = 0
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into exit code 1
        if state.get("verbose"):
            traceback.print_exc()
        click.echo(
            f"reenact: internal error: {exc.__class__.__name__}: {exc} (rerun with -v for the traceback)",
            err=True,
        )
        code = EXIT_INTERNAL
    return code


if __name__ == "__main__":
    sys.exit(main())
