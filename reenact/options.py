"""Typed options and results of the library commands (:mod:`reenact.api`).

The command line parses click's values into one of these once and passes it on; its click defaults read the
dataclass's (``default=TrainOptions.seed``), so a default is defined in one place. Where a default is a model
setting, the option reads it from :mod:`model.config` (light: no torch). Results carry ``to_json()`` with the
keys the ``--json`` output has always had.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.config import FIT_ITERATIONS, TrainConfig


class _Summary:
    """A command's result: ``to_json()`` is its ``--json`` object (the fields, in order)."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class DriveJob:
    """``reenact drive``: what drives what, and where the result goes. How it is driven and written (motion,
    smoothing, output size, the target fit) is :class:`reenact.pipeline.DriveOptions`."""

    source: str | None = None
    """Video, folder of frames or videos, or '-' for stdin (None with ``pairs``)."""
    target: str | None = None
    """Image, video or folder (None with ``identity_path`` or ``pairs``)."""
    output: str | None = None
    """Output video, a folder for batch runs, or '-' for stdout (None: TARGET_by_SOURCE.mp4 here)."""
    checkpoint: Path | None = None
    """Model checkpoint (None: the shipped model)."""
    identity_path: Path | None = None
    """Load the target's codes instead of fitting the target."""
    save_identity: Path | None = None
    """Write the fitted target codes here."""
    track_path: Path | None = None
    """Use a saved source track instead of tracking the source."""
    preview: Path | None = None
    """Also write a video of the source tracking."""
    pairs: Path | None = None
    """CSV of source,target pairs for a batch run."""
    force: bool = False
    """Overwrite an existing output."""
    device: str = "auto"


@dataclass(frozen=True)
class BatchResult:
    """A batch drive: one row per pair (source, target, output, status and frames/seconds or the reason), in
    order."""

    rows: tuple[dict[str, Any], ...]
    failures: int


@dataclass(frozen=True)
class TrackOptions:
    """``reenact track``."""

    source: str
    """Video, image, folder of frames, or '-' for stdin."""
    output: Path
    """Track file to write (.npz)."""
    preview: Path | None = None
    """Also write a video with landmarks, fitted model and pose axes."""
    smooth: float = 0.0
    """Temporal smoothing strength (0 = off: the raw track is usually what you want to save)."""
    crop_size: int = 256
    """Size of the aligned crop the model sees."""
    face: str = "largest"
    """Which face to follow: 'largest' or an index (left to right)."""
    identity_encoder: str | None = None
    """'dlib' (None: the default) or a path to an ONNX ArcFace/AdaFace model."""
    basis: Path | None = None
    """Landmark morphable model (.npz) instead of the shipped one."""


@dataclass(frozen=True)
class TrackSummary(_Summary):
    output: str
    frames: int
    valid_frames: int
    detected_frames: int
    landmark_error: float
    frames_per_second: float
    seconds: float
    fps: float


@dataclass(frozen=True)
class FitOptions:
    """``reenact fit``."""

    image: str
    """The target image (or a video: its first frame with a face)."""
    output: Path
    """Codes file to write (.npz)."""
    checkpoint: Path | None = None
    """Model checkpoint (None: the shipped model)."""
    iterations: int = FIT_ITERATIONS
    """Optimisation steps of the codes and camera."""
    finetune_renderer: bool | None = None
    """Fine-tune a copy of the neural renderer on the image (None: the fit's default, on)."""
    finetune_roll: float | None = None
    """Largest camera roll (degrees) of renderer fine-tuning's extra views (None: the fit's default)."""
    finetune_expressions: int | None = None
    """Expression pseudo-views of renderer fine-tuning (None: the fit's default)."""
    save_render: Path | None = None
    """Write the fitted render next to the input crop (PNG)."""
    device: str = "auto"


@dataclass(frozen=True)
class FitSummary(_Summary):
    output: str
    psnr: float
    ssim: float
    l1: float
    iterations: int
    seconds: float
    device: str


@dataclass(frozen=True)
class RenderOptions:
    """``reenact render``."""

    identity_path: Path
    """Codes file from ``reenact fit``."""
    output: Path
    """.mp4 for a sequence, .png for one frame."""
    checkpoint: Path | None = None
    """Model checkpoint (None: the shipped model)."""
    track_path: Path | None = None
    """Render the pose and expression of every frame of this track."""
    yaw: str | None = None
    """Yaw sweep in degrees 'start:stop' (or one value)."""
    pitch: str | None = None
    """Pitch sweep in degrees 'start:stop' (or one value)."""
    interpolate_to: Path | None = None
    """Interpolate from ``identity_path`` to this codes file."""
    interpolate: str = "both"
    """Which codes ``interpolate_to`` interpolates: identity, expression or both."""
    frames: int = 48
    """Frames of a sweep or interpolation."""
    fps: float = 25.0
    batch_size: int = 8
    device: str = "auto"


@dataclass(frozen=True)
class RenderSummary(_Summary):
    output: str
    frames: int
    seconds: float
    frames_per_second: float
    device: str


@dataclass(frozen=True)
class EvalOptions:
    """``reenact eval``."""

    checkpoint: Path
    videos: tuple[str, ...]
    """Clips of unseen people (files or folders)."""
    cross_targets: tuple[str, ...] = ()
    """Portraits (or folders) driven by the clips (cross-identity)."""
    ablation_checkpoint: Path | None = None
    """The landmark-identity ablation, compared in the same run."""
    max_frames: int = 60
    """Frames per clip evaluated."""
    fit_iterations: int = FIT_ITERATIONS
    fit_finetune_renderer: bool | None = None
    """Renderer fine-tuning in the fits (None: the fit's default, as drive)."""
    fit_finetune_roll: float | None = None
    fit_finetune_expressions: int | None = None
    smooth: float | None = None
    """Strength of the ``smoothed`` row (None: ``reenact drive``'s; 0: no such row)."""
    viewer_dir: Path | None = None
    """Where the viewer rows' videos (model, morph, still per cross pair and per clip's photo
    self-reenactment) are kept (None: not kept)."""
    device: str = "auto"


@dataclass(frozen=True)
class EvalResult(_Summary):
    """``reenact eval``'s measurements (``reenact/evaluate.py``): per clip, cross pairs, and per-method
    means."""

    checkpoint: str
    clips: list[dict[str, Any]]
    cross: list[dict[str, Any]]
    viewer: list[dict[str, Any]]
    """Per cross pair: clip, portrait and the rows model, morph, still (``reenact/viewer_eval.py``)."""
    viewer_summary: dict[str, dict[str, float]]
    """Per viewer row, the mean over the pairs."""
    photo_summary: dict[str, dict[str, float]]
    """Self-reenactment at the photo output's size: per row (model, morph, still), the mean over the clips of
    each clip's ``photo`` entry (``reenact.viewer_eval.photo_self_rows``)."""
    summary: dict[str, dict[str, float]]
    max_frames: int
    fit_iterations: int
    fit_finetune_renderer: bool
    fit_finetune_roll: float
    fit_finetune_expressions: int


@dataclass(frozen=True)
class ExportSummary(_Summary):
    output: str
    bytes: int
    step: int


@dataclass(frozen=True)
class TrainOptions:
    """``reenact train``: what to train on, where, and the model and optimisation settings."""

    data: tuple[str, ...] = ()
    """Videos, still portraits, folders of them, or one prepared cache folder."""
    output: Path = Path("runs/train")
    """Run folder: ``last.pt``, previews, and the cache unless ``cache`` is given."""
    preset: str = "cpu"
    """Model preset (``model.config.preset``)."""
    cache: Path | None = None
    """Preprocessed-frame cache folder (None: ``output/cache``)."""
    steps: int | None = None
    """Training steps (None: ``TrainConfig.steps``)."""
    batch_size: int | None = None
    """Frames per step (None: ``TrainConfig.batch_size``)."""
    lr: float | None = None
    """Initial learning rate (None: ``TrainConfig.lr``)."""
    seed: int = TrainConfig.seed
    """Seed of initialisation, frame order and sample jitter."""
    every: int = 2
    """Use every n-th frame of each video when building the cache."""
    hold_out: tuple[str, ...] = ()
    """Person ids (or clip-name prefixes) left out of the cache."""
    vgg16: Path | None = None
    """VGG16 ImageNet weights for the paper's perceptual loss (None: the random-conv features)."""
    identity_source: str = "embedding"
    """z_id from the recognition ``embedding`` or the landmark ``identity_shape`` (the Table 1 ablation)."""
    expression_reference: str = TrainConfig.expression_reference
    """What β is measured from: ``clip_mean`` or ``none``."""
    init: Path | None = None
    """Start from this checkpoint's weights (fresh optimiser and schedule)."""
    expression_components: int = 10
    """Leading expression components the field sees (0 = all). ``FieldConfig.expression_components``'s 0 is
    what a stored config without the key means (models trained before it existed); a new run's default is this
    10."""
    geometry_weight: float = 0.0
    """Weight of the geometry prior (0 = off)."""
    warp_radius: float = 0.0
    """Expression-warp radius in head units (0 = off)."""
    warp_kind: str = "gaussian"
    """Which expression warp: ``gaussian`` (landmarks' mean motion) or ``surface`` (the face mesh's nearest
    point's motion, on each frame's own face)."""
    resume: bool = True
    """Continue from ``output/last.pt`` when it exists."""
    time_limit: float | None = None
    """Stop, with a checkpoint, after this many minutes."""
    device: str = "auto"
    """``auto``, ``cpu`` or ``cuda``."""

    def replace(self, **changes: Any) -> TrainOptions:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TrainSummary(_Summary):
    """What one training run did."""

    checkpoint: str
    step: int
    start_step: int
    seconds: float
    final_loss: float | None
    cache: str


@dataclass(frozen=True)
class StageSummary:
    """One stage of a recipe run: trained now (``status`` ``trained``) or finished earlier (``skipped``)."""

    name: str
    status: str
    checkpoint: str
    export: str | None
    train: TrainSummary | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "checkpoint": self.checkpoint,
            "export": self.export,
            "train": None if self.train is None else self.train.to_json(),
        }


@dataclass(frozen=True)
class RecipeSummary:
    """A recipe run: its stages in order and the final exported model."""

    recipe: str
    output: str
    model: str
    stages: tuple[StageSummary, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "output": self.output,
            "model": self.model,
            "stages": [stage.to_json() for stage in self.stages],
        }
