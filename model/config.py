"""Configuration of the head model: one frozen dataclass per component, nested in :class:`ModelConfig`.

Inputs: nothing (plain values). Outputs: immutable config objects, ``to_dict`` / ``from_dict`` for storage
inside checkpoints (plain ``dict`` of ints, floats, bools, strings and lists, safe for
``torch.load(weights_only=True)``).

Conventions
    * ``from_dict`` rejects unknown keys and missing keys (a checkpoint must rebuild its model exactly),
      and a ``format_version`` other than :data:`FORMAT_VERSION`. Keys of removed experiments
      (:data:`_REMOVED`) are dropped when they hold their off value and rejected otherwise.
    * ``preset(name)`` gives the three shipped configurations: ``"tiny"`` (tests), ``"cpu"`` (the shipped
      model, trains and renders on a CPU) and ``"paper"`` (32² × 512 features → 512², as in the paper).
    * Sizes are pixels of the square aligned crop; ``output_size / feature_size`` must be a power of two.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

FORMAT_VERSION = 1
"""Version of the checkpoint/config layout; bump when a stored key changes meaning."""

WARP_KINDS = ("gaussian", "surface")
"""The expression warps a field can use (:attr:`FieldConfig.warp_kind`)."""


@dataclass(frozen=True)
class FieldConfig:
    """The conditional field f(γ(x), γ(d), β, z_id) → (σ, F) (paper §2.2.1)."""

    pos_freqs: int = 10
    """Frequencies L of the positional encoding γ(x) of sample points (NeRF: 10)."""
    dir_freqs: int = 4
    """Frequencies of the encoding γ(d) of the view direction (NeRF: 4)."""
    width: int = 256
    """Hidden width of the density MLP."""
    depth: int = 8
    """Number of hidden layers of the density MLP."""
    skip: int = 4
    """Index of the hidden layer whose input is re-joined with γ(x) ⊕ β ⊕ z_id (NeRF-style skip); -1 =
    none."""
    feature_dim: int = 512
    """Channels C of the feature vector F (and of the rendered feature map)."""
    expression_dim: int = 46
    """Size of the expression code β (FaceWarehouse-style coefficients, paper: 46)."""
    expression_components: int = 0
    """How many leading components of β the field sees (0 = all ``expression_dim``); the rest are zeroed at
    its input, so neither training, fitting nor driving can use them. β is in σ units of a PCA basis, so the
    trailing components (landmark motion of ~1% of a head, mostly tracking jitter) are as loud as the leading
    ones; a model that sees them learns per-frame appearance from noise (``docs/experiments.md``, "Stage 4:
    the field sees the 10 leading expression components")."""
    warp_radius: float = 0.0
    """Width (head units) of the landmark-driven expression warp (``model/warp.py``): β moves the sample
    points as the landmark model moves the face, before γ(x). 0 = off (the paper's field, β only as an MLP
    input). The mean landmark spacing is ~0.04, so ~0.06 averages a landmark's few neighbours."""
    warp_kind: str = "gaussian"
    """Which expression warp ``warp_radius`` switches on: ``"gaussian"`` (``model/warp.py``: a point moves by
    the Gaussian-weighted mean motion of the landmarks around it, anchored on the mean face) or ``"surface"``
    (``model/surface_warp.py``: by the motion of the nearest point of the face mesh, which leaves the mouth
    and the eyes open, on each sample's own face at rest)."""
    identity_dim: int = 128
    """Size of the identity embedding z_id as the encoder gives it (dlib: 128, AdaFace: 512)."""
    identity_projection: int = 64
    """Width of the learned linear layer that z_id passes through before joining the MLP input."""

    @property
    def surface_warp(self) -> bool:
        """Whether the field warps with the surface warp (which takes each sample's face at rest)."""
        return self.warp_radius > 0 and self.warp_kind == "surface"

    @property
    def seen_expression_components(self) -> int:
        """How many leading components of β the field sees: ``expression_components``, 0 meaning all."""
        return self.expression_components or self.expression_dim

    def __post_init__(self) -> None:
        if min(self.width, self.depth, self.feature_dim, self.identity_projection) < 1:
            raise ValueError("FieldConfig: width, depth, feature_dim and identity_projection must be >= 1")
        if not 0 <= self.expression_components <= self.expression_dim:
            raise ValueError(
                f"FieldConfig: expression_components {self.expression_components} must be in [0, "
                f"{self.expression_dim}]"
            )
        if self.warp_radius < 0:
            raise ValueError(f"FieldConfig: warp_radius must be >= 0, got {self.warp_radius}")
        if self.warp_kind not in WARP_KINDS:
            raise ValueError(f"FieldConfig: warp_kind must be one of {WARP_KINDS}, got {self.warp_kind!r}")
        if self.skip >= self.depth:
            raise ValueError(f"FieldConfig: skip {self.skip} must be < depth {self.depth} (or -1)")


@dataclass(frozen=True)
class SamplerConfig:
    """Sample placement along each ray, between the ray's entry and exit of the head bounding sphere."""

    coarse_samples: int = 64
    """Stratified samples per ray."""
    fine_samples: int = 64
    """Importance samples per ray drawn from the coarse weights (0 with ``importance=False``)."""
    importance: bool = True
    """Draw ``fine_samples`` extra samples from the coarse weights (one network, coarse+fine merged)."""
    stratified: bool = True
    """Jitter samples inside their bins during training (evaluation always uses bin midpoints)."""


@dataclass(frozen=True)
class NeuralRendererConfig:
    """The GIRAFFE-style neural renderer π_ξ: feature map (C, n, n) → RGB (3, m, m) (paper §2.2.3)."""

    feature_size: int = 32
    """Side n of the volume-rendered feature map (rays per side)."""
    output_size: int = 512
    """Side m of the output image; m / n = 2^blocks."""
    block_channels: tuple[int, ...] = (256, 128, 64, 32)
    """Output channels of each upsample→conv→leaky-ReLU block; length must be log2(m / n)."""
    upsample: str = "nearest"
    """Feature upsampling mode, ``"nearest"`` or ``"bilinear"`` (RGB skips are always bilinear)."""

    @property
    def num_blocks(self) -> int:
        return int(round(math.log2(self.output_size / self.feature_size)))

    def __post_init__(self) -> None:
        ratio = self.output_size / self.feature_size
        if ratio < 1 or 2 ** int(round(math.log2(ratio))) != ratio:
            raise ValueError(
                f"output_size/feature_size must be a power of two, got {self.output_size}/{self.feature_size}"
            )
        if len(self.block_channels) != self.num_blocks:
            raise ValueError(
                f"block_channels needs {self.num_blocks} entries, got {len(self.block_channels)}"
            )
        if self.upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be 'nearest' or 'bilinear', got {self.upsample!r}")


PERCEPTUAL_KINDS = ("vgg16", "laplacian", "random_conv", "none")


@dataclass(frozen=True)
class LossConfig:
    """Training/fitting loss: head-masked L1 + λ·perceptual (+ an optional opacity term) (paper §2.2.4)."""

    l1_weight: float = 1.0
    """Weight of the photometric L1 term."""
    perceptual_weight: float = 10.0
    """λ of the perceptual term (paper: 10)."""
    perceptual: str = "random_conv"
    """``"vgg16"`` (needs ``vgg_path``), ``"random_conv"`` (default: features of a fixed, seeded random conv
    net — no weights to download), ``"laplacian"`` (Laplacian-pyramid L1) or ``"none"``. Chosen by measurement
    (``benchmarks/bench_model.py --loss-comparison``: cpu preset, 300 steps on 30 real frames — random_conv
    24.9 dB / SSIM 0.697 held-out vs 24.4 / 0.689 with no perceptual term and 23.9 / 0.660 Laplacian)."""
    vgg_path: str = ""
    """Path of a torchvision-format VGG16 ``state_dict`` (only for ``perceptual="vgg16"``)."""
    background_weight: float = 1.0
    """Weight of pixels outside the head mask, where the render is pushed to the black background."""
    opacity_weight: float = 0.1
    """Weight of an L1 term between the accumulated opacity and the (downsampled) head mask; 0 disables."""
    geometry_weight: float = 0.0
    """Weight of the geometry prior (training only; ``model/geometry.py``): L1, in head units, between where
    the field ends a ray through a visible face landmark of the tracked codes and the landmark's own distance.
    0 disables."""
    geometry_landmarks: int = 64
    """Landmarks drawn per frame and step for the geometry prior (of 468; the hidden ones among them are left
    out)."""

    def __post_init__(self) -> None:
        if self.perceptual not in PERCEPTUAL_KINDS:
            raise ValueError(f"perceptual must be one of {PERCEPTUAL_KINDS}, got {self.perceptual!r}")
        if self.geometry_weight < 0:
            raise ValueError(f"geometry_weight must be >= 0, got {self.geometry_weight}")
        if self.geometry_landmarks < 1:
            raise ValueError(f"geometry_landmarks must be >= 1, got {self.geometry_landmarks}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a :class:`model.head_model.HeadModel`; stored in every checkpoint."""

    field: FieldConfig = _field(default_factory=FieldConfig)
    """The conditional NeRF field."""
    sampler: SamplerConfig = _field(default_factory=SamplerConfig)
    """Ray sampling."""
    renderer: NeuralRendererConfig = _field(default_factory=NeuralRendererConfig)
    """The neural renderer (also fixes the feature-map and output sizes)."""
    loss: LossConfig = _field(default_factory=LossConfig)
    """Loss used by training and fitting."""
    format_version: int = FORMAT_VERSION
    """Layout version of this config as stored in checkpoints."""

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples become lists)."""
        return _to_plain(dataclasses.asdict(self))

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on unknown or missing keys or another version."""
        if not isinstance(data, dict):
            raise ValueError("model config must be a dict")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"unsupported model config format_version {version!r} (expected {FORMAT_VERSION})"
            )
        _check_keys(ModelConfig, data, "model")
        parts = {}
        for name, cls in (
            ("field", FieldConfig),
            ("sampler", SamplerConfig),
            ("renderer", NeuralRendererConfig),
            ("loss", LossConfig),
        ):
            sub = data[name]
            if not isinstance(sub, dict):
                raise ValueError(f"model config: {name} must be a dict")
            values = {**_ADDED_LATER.get(name, {}), **_without_removed(name, sub)}
            _check_keys(cls, values, name)
            if cls is NeuralRendererConfig:
                values["block_channels"] = tuple(int(c) for c in values["block_channels"])
            parts[name] = cls(**values)
        return ModelConfig(format_version=version, **parts)


_ADDED_LATER: dict[str, dict[str, Any]] = {
    "field": {"expression_components": 0, "warp_radius": 0.0, "warp_kind": "gaussian"},
    "loss": {"geometry_weight": 0.0, "geometry_landmarks": 64},
}
"""Keys added after format version 1, with the value that reproduces how older checkpoints behave."""

_REMOVED: dict[str, dict[str, Any]] = {
    "field": {"warp_gain": False, "expression_in_mlp": True},
    "loss": {"expression_weight": 0.0, "region_weight": 0.0, "motion_weight": 0.0},
}
"""Keys of experiments that were measured, did not ship and were removed (their code is in git history up to
commit 902c83e), with the value at which each was off. A stored config may hold
one at that value (every shipped checkpoint does); a config that switched one on cannot be rebuilt."""


def _without_removed(where: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the removed keys of :data:`_REMOVED`; ``ValueError`` when one is not at its off
    value."""
    removed = _REMOVED.get(where, {})
    for key, off in removed.items():
        if key in values and values[key] != off:
            raise ValueError(
                f"{where}.{key} = {values[key]!r} switches on a removed experiment (only {off!r} is "
                "supported; reenact up to commit 902c83e can load it)"
            )
    return {key: value for key, value in values.items() if key not in removed}


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _check_keys(cls: type, data: dict[str, Any], where: str) -> None:
    expected = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - expected
    missing = expected - set(data)
    if unknown:
        raise ValueError(f"unknown key(s) in {where} config: {sorted(unknown)}")
    if missing:
        raise ValueError(f"missing key(s) in {where} config: {sorted(missing)}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one training run."""

    steps: int = 20000
    """Total optimisation steps (a resumed run continues up to this number)."""
    batch_size: int = 4
    """Frames per step per process (paper: 4)."""
    lr: float = 5e-4
    """Initial Adam learning rate."""
    lr_final_ratio: float = 0.1
    """Learning rate at the last step as a fraction of ``lr`` (exponential decay)."""
    seed: int = 0
    """Seed of initialization, frame order and sample jitter."""
    checkpoint_every: int = 500
    """Write ``last.pt`` every this many steps (and at the end)."""
    preview_every: int = 500
    """Write a preview PNG every this many steps (0 = never)."""
    amp: bool = True
    """Mixed precision on CUDA (ignored on CPU)."""
    out_dir: str = "runs/train"
    """Folder for ``last.pt`` and previews."""
    device: str = "cpu"
    """Device of a single-process run (under torchrun with CUDA: ``cuda:LOCAL_RANK``)."""
    chunk_rays: int = 4096
    """Rays per field evaluation chunk."""
    exclude_persons: tuple[str, ...] = ()
    """Person ids of the cache left out of training (held-out evaluation)."""
    time_limit_minutes: float | None = None
    """Stop early, with a checkpoint, once this much wall time has passed (single-process runs; resume
    later)."""
    identity_key: str = "identity"
    """Cache array fed as z_id: "identity" (recognition embedding) or "identity_shape" (ablation)."""
    expression_reference: str = "clip_mean"
    """What β is measured from (``model/expression.py``: "none" or "clip_mean"); stored in the checkpoint.
    ``reenact train`` reads its default from here (``clip_mean`` since the shipped model's stage 2)."""
    init_from: str | None = None
    """Start a new run from this checkpoint's weights (same architecture; fresh optimizer and schedule)."""


FIT_ITERATIONS = 300
"""Optimisation steps of a target fit (paper: 300): ``model.fit.FitConfig.iterations`` and the
``fit``/``eval`` commands' defaults (here, where the command line can read it without importing torch)."""


PRESETS = ("tiny", "cpu", "paper")


def preset(name: str) -> ModelConfig:
    """The named configuration: ``"tiny"`` (tests: 8² → 32², narrow), ``"cpu"`` (shipped: 16² × 64 → 128²;
    measured 0.47 s per batch-4 training step and ~35 frames/s on 2 shared CPU cores, vs 2.5 s and ~10
    frames/s with a 32² feature map), ``"paper"`` (32² × 512 → 512², width 256, depth 8, 64 + 64 samples)."""
    if name == "tiny":
        return ModelConfig(
            field=FieldConfig(
                pos_freqs=6, dir_freqs=2, width=32, depth=3, skip=-1, feature_dim=16, identity_projection=16
            ),
            sampler=SamplerConfig(coarse_samples=12, fine_samples=8),
            renderer=NeuralRendererConfig(feature_size=8, output_size=32, block_channels=(16, 8)),
        )
    if name == "cpu":
        return ModelConfig(
            field=FieldConfig(
                pos_freqs=8, dir_freqs=4, width=128, depth=5, skip=3, feature_dim=64, identity_projection=64
            ),
            sampler=SamplerConfig(coarse_samples=24, fine_samples=16),
            renderer=NeuralRendererConfig(feature_size=16, output_size=128, block_channels=(64, 32, 32)),
        )
    if name == "paper":
        return ModelConfig(
            field=FieldConfig(
                pos_freqs=10,
                dir_freqs=4,
                width=256,
                depth=8,
                skip=4,
                feature_dim=512,
                identity_projection=128,
            ),
            sampler=SamplerConfig(coarse_samples=64, fine_samples=64),
            renderer=NeuralRendererConfig(
                feature_size=32, output_size=512, block_channels=(256, 128, 64, 32)
            ),
        )
    raise ValueError(f"unknown preset {name!r}; choose one of {PRESETS}")
