"""Training the head model on the preprocessed cache (``model/data.py``); the only file that touches
``torch.distributed``.

Inputs: a :class:`ModelConfig`, a :class:`TrainConfig`, the cache folder. Outputs: ``out_dir/last.pt``
(weights + config + optimizer state, resumable; rewritten every ``checkpoint_every`` steps and at the end),
``out_dir/preview_XXXXXXX.png`` (top row ground truth with the background blacked out, bottom row renders of
fixed frames), and a :class:`TrainResult`. Progress goes to an optional callback, never to stdout.

Conventions
    * Adam, batch ``batch_size`` per process, learning rate decayed exponentially to ``lr · lr_final_ratio``.
    * Deterministic given ``seed``: the model is initialized under a forked RNG seeded with ``seed``; the
      frames and sample jitter of step k come from generators seeded with (seed, k), so a resumed run draws
      the same batches as an uninterrupted one.
    * Resuming needs the same field/sampler/renderer config as ``last.pt``; the loss settings may differ
      (the run continues with the given ones, and later checkpoints store them).
    * AMP (float16 autocast + GradScaler) only on CUDA and only with ``amp=True``.
    * Multi-GPU: launch the same entry point with ``torchrun --nproc_per_node=G …``; when ``RANK`` and
      ``WORLD_SIZE`` are set (WORLD_SIZE > 1) the process group is initialised (NCCL on CUDA, else gloo), each
      process uses ``cuda:LOCAL_RANK``, takes its slice of the global batch, and rank 0 alone writes files and
      reports progress. The effective batch is ``batch_size · WORLD_SIZE``. Example:
      ``torchrun --nproc_per_node=2 $(which reenact) train …`` (any script that calls :func:`train` works the
      same way; ``tests/model/test_train_distributed.py`` runs it with two CPU processes on gloo).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import distributed as dist

from model.camera import Camera
from model.checkpoint import load_checkpoint, save_checkpoint
from model.config import ModelConfig, TrainConfig  # noqa: F401 - TrainConfig is imported from here too
from model.data import FrameBatch, FrameDataset
from model.errors import CheckpointError, DataError
from model.geometry import FaceMesh, geometry_loss
from model.head_model import HeadModel
from model.image_io import write_png
from model.losses import HeadLoss
from model.surface_warp import SurfaceWarp


@dataclass
class TrainProgress:
    """One progress report (rank 0 only)."""

    step: int
    total_steps: int
    loss: float
    l1: float
    perceptual: float
    opacity: float
    seconds_per_step: float
    preview_path: str | None = None
    checkpoint_path: str | None = None
    geometry: float | None = None
    """The geometry prior's mean landmark depth error in head units (None when it is off)."""


@dataclass
class TrainResult:
    """Outcome of :func:`train`."""

    step: int
    """Last completed step."""
    checkpoint_path: str
    """Path of ``last.pt``."""
    start_step: int
    """Step training (re)started from."""
    loss_history: list[float] = field(default_factory=list)
    """Total loss of each step run in this call (rank 0)."""
    seconds: float = 0.0
    """Wall time of this call."""


def _extra(cfg: TrainConfig, dataset_dir: str | os.PathLike) -> dict[str, str | int | float]:
    """What a checkpoint records about its data; ``identity_source`` tells users which tracker output is
    z_id."""
    source = "embedding" if cfg.identity_key == "identity" else cfg.identity_key
    extra = {
        "seed": cfg.seed,
        "dataset": str(dataset_dir),
        "identity_source": source,
        "expression_reference": cfg.expression_reference,
    }
    if cfg.init_from:
        extra["init_from"] = str(cfg.init_from)
    return extra


def _step_generator(seed: int, step: int, salt: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed((seed * 1_000_003 + step * 7919 + salt) % (2**63 - 1))
    return generator


def _architecture(config: dict, weights_only: bool = False) -> dict:
    """A stored model config without its loss settings: what must match to resume a run. ``weights_only``
    also drops what the trained weights do not depend on (``field.expression_components``,
    ``field.warp_radius``: the warp adds fixed buffers only): what must match to start a new run from a
    checkpoint's weights."""
    kept = {k: v for k, v in config.items() if k != "loss"}
    if weights_only:
        kept["field"] = {k: v for k, v in kept["field"].items() if k not in _WEIGHTLESS_FIELD_KEYS}
    return kept


_WEIGHTLESS_FIELD_KEYS = ("expression_components", "warp_radius", "warp_kind")
"""Field settings a run may change when it starts from another checkpoint's weights (``--init``)."""
_WARP_BUFFERS = ("field.warp.anchors", "field.warp.basis", "field.warp.triangles", "field.warp.rings")


def _with_config(model: HeadModel, config: ModelConfig) -> HeadModel:
    """A copy of ``model`` carrying ``config`` (same trained weights; other loss settings, or the expression
    warp switched on — its buffers are then left unset for :func:`_train` to fill — or off)."""
    rebuilt = HeadModel(config).to(next(model.parameters()).device)
    wanted = rebuilt.state_dict().keys()
    state = {k: v for k, v in model.state_dict().items() if k in wanted or k not in _WARP_BUFFERS}
    missing, unexpected = rebuilt.load_state_dict(state, strict=False)
    if unexpected or set(missing) - set(_WARP_BUFFERS):
        raise CheckpointError(
            f"weights do not fit the model config (missing {missing}, unexpected {unexpected})"
        )
    return rebuilt


def rest_faces(model: HeadModel, batch: FrameBatch) -> torch.Tensor | None:
    """Each frame's face at rest for a surface-warp field (its tracked face minus the motion of the β the
    field sees, ``HeadField.rest_face``); None for other fields."""
    if not isinstance(model.field.warp, SurfaceWarp) or batch.landmarks is None:
        return None
    return model.field.rest_face(batch.landmarks, batch.expression)


def _preview(
    model: HeadModel, dataset: FrameDataset, indices: torch.Tensor, device: torch.device, chunk_rays: int
) -> np.ndarray:
    batch = dataset.batch(indices, device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        face = rest_faces(model, batch)
        render = model(
            Camera(batch.cam_to_world), batch.expression, batch.identity, None, chunk_rays, face
        ).image
    model.train(was_training)
    top = torch.cat(list(batch.image * batch.mask), dim=2)
    bottom = torch.cat(list(render.float()), dim=2)
    grid = torch.cat([top, bottom], dim=1).clamp(0, 1)
    return (grid.permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    dataset_dir: str | os.PathLike,
    resume: bool = True,
    progress: Callable[[TrainProgress], None] | None = None,
    landmark_shape: tuple[np.ndarray, np.ndarray] | None = None,
    face_mesh: FaceMesh | None = None,
) -> TrainResult:
    """Train (or resume training of) a head model on the cache at ``dataset_dir``; see the module docstring.

    ``landmark_shape``: the landmark model's mean (468, 3) and expression basis (E, 468, 3) — the one the
    cache's β was tracked with — needed when ``field.warp_radius`` > 0 and the run does not resume a
    checkpoint that already holds them. ``face_mesh``: the same landmark model with its triangles, needed when
    ``loss.geometry_weight`` > 0 (``model/geometry.py``)."""
    started = time.perf_counter()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    distributed = "RANK" in os.environ and world_size > 1
    rank = int(os.environ.get("RANK", "0")) if distributed else 0
    if distributed:
        if torch.cuda.is_available():
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local_rank)
            device = torch.device("cuda", local_rank)
            backend = "nccl"
        else:
            device = torch.device("cpu")
            backend = "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend=backend)
    else:
        device = torch.device(train_config.device)
    try:
        return _train(
            model_config,
            train_config,
            dataset_dir,
            resume,
            progress,
            device,
            rank,
            world_size if distributed else 1,
            started,
            landmark_shape,
            face_mesh,
        )
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()


def _train(
    model_config: ModelConfig,
    cfg: TrainConfig,
    dataset_dir: str | os.PathLike,
    resume: bool,
    progress: Callable[[TrainProgress], None] | None,
    device: torch.device,
    rank: int,
    world_size: int,
    started: float,
    landmark_shape: tuple[np.ndarray, np.ndarray] | None,
    face_mesh: FaceMesh | None,
) -> TrainResult:
    out_dir = Path(cfg.out_dir)
    checkpoint_path = out_dir / "last.pt"
    geometry = model_config.loss.geometry_weight > 0
    if geometry and face_mesh is None:
        raise CheckpointError(
            "loss.geometry_weight > 0 needs the landmark model with its triangles (face_mesh)"
        )
    surface = model_config.field.surface_warp
    if surface and face_mesh is None:
        raise CheckpointError("a surface warp needs the landmark model with its triangles (face_mesh)")
    triangles = torch.as_tensor(face_mesh.triangles, dtype=torch.long, device=device) if geometry else None
    dataset = FrameDataset(
        dataset_dir,
        model_config.renderer.output_size,
        exclude_persons=cfg.exclude_persons,
        identity_key=cfg.identity_key,
        expression_reference=cfg.expression_reference,
        face_mesh=face_mesh if geometry or surface else None,
    )
    if (
        dataset.expression_dim != model_config.field.expression_dim
        or dataset.identity_dim != model_config.field.identity_dim
    ):
        raise DataError(
            f"cache codes (expression {dataset.expression_dim}, identity {dataset.identity_dim}) do not "
            "match the model "
            f"(expression {model_config.field.expression_dim}, identity {model_config.field.identity_dim})"
        )

    start_step = 0
    optimizer_state = None
    if resume and checkpoint_path.is_file():
        model, meta = load_checkpoint(checkpoint_path, device)
        # The loaded config went through from_dict: a key added later compares with its default.
        if _architecture(model.config.to_dict()) != _architecture(model_config.to_dict()):
            raise CheckpointError(
                f"{checkpoint_path} was trained with another model config; use a new out_dir or resume=False"
            )
        if model.config != model_config:  # only the loss settings differ: continue with the new ones
            model = _with_config(model, model_config)
        start_step, optimizer_state = meta.step, meta.optimizer_state
    elif cfg.init_from:
        initial, _ = load_checkpoint(cfg.init_from, device)
        if _architecture(initial.config.to_dict(), True) != _architecture(model_config.to_dict(), True):
            raise CheckpointError(f"{cfg.init_from} has another architecture than this run's model config")
        model = _with_config(initial, model_config)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = HeadModel(model_config)
        model = model.to(device)
    warp = model.field.warp
    if warp is not None and not warp.is_set:
        if landmark_shape is None:
            raise CheckpointError(
                "field.warp_radius > 0 needs the landmark model's mean and expression basis (landmark_shape)"
            )
        if surface:
            warp.set_shape(*landmark_shape, face_mesh.triangles)
        else:
            warp.set_shape(*landmark_shape)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    loss_fn = HeadLoss(model_config.loss).to(device)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    network: torch.nn.Module = model
    if world_size > 1:
        network = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    preview_indices = dataset.spread(4)
    history: list[float] = []
    step = start_step
    last_time = time.perf_counter()
    for step in range(start_step + 1, cfg.steps + 1):
        lr = cfg.lr * cfg.lr_final_ratio ** ((step - 1) / max(cfg.steps - 1, 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        index_gen = _step_generator(cfg.seed, step, 0, torch.device("cpu"))
        mine = slice(rank * cfg.batch_size, (rank + 1) * cfg.batch_size)
        global_batch = torch.randint(0, len(dataset), (cfg.batch_size * world_size,), generator=index_gen)
        batch = dataset.batch(global_batch[mine], device)
        jitter = _step_generator(cfg.seed, step, 1 + rank, device)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
            face = rest_faces(model, batch)
            output = network(
                Camera(batch.cam_to_world), batch.expression, batch.identity, jitter, cfg.chunk_rays, face
            )
            terms = loss_fn(output.image.float(), batch.image, batch.mask, output.opacity.float())
            total = terms.total
            geometry_term = None
            if geometry:  # landmarks drawn for the global batch and sliced, like the other per-frame draws
                picks = torch.randint(
                    0,
                    batch.landmarks.shape[1],
                    (cfg.batch_size * world_size, model_config.loss.geometry_landmarks),
                    generator=index_gen,
                )[mine]
                # The module itself, not the DDP wrapper: its reducer sees one backward of the summed loss
                # either way.
                geometry_term = geometry_loss(
                    model,
                    batch.landmarks,
                    Camera(batch.cam_to_world),
                    batch.expression,
                    batch.identity,
                    triangles,
                    picks.to(device),
                    jitter,
                    face,
                )
                total = total + model_config.loss.geometry_weight * geometry_term.float()
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
        total_value = float(total.detach())
        if not math.isfinite(total_value):
            raise FloatingPointError(f"training loss became {total_value} at step {step}")
        if rank != 0:
            continue
        history.append(total_value)
        preview_path = None
        saved_path = None
        if cfg.preview_every > 0 and (step % cfg.preview_every == 0 or step == cfg.steps):
            preview_path = str(out_dir / f"preview_{step:07d}.png")
            write_png(preview_path, _preview(model, dataset, preview_indices, device, cfg.chunk_rays))
        # Single-process runs only: ranks of a DDP run must stop on the same step.
        out_of_time = (
            world_size == 1
            and cfg.time_limit_minutes is not None
            and time.perf_counter() - started > 60.0 * cfg.time_limit_minutes
        )
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time:
            save_checkpoint(
                checkpoint_path,
                model,
                step=step,
                optimizer_state=optimizer.state_dict(),
                extra=_extra(cfg, dataset_dir),
            )
            saved_path = str(checkpoint_path)
        now = time.perf_counter()
        if progress is not None:
            progress(
                TrainProgress(
                    step,
                    cfg.steps,
                    total_value,
                    float(terms.l1),
                    float(terms.perceptual),
                    float(terms.opacity),
                    now - last_time,
                    preview_path,
                    saved_path,
                    None if geometry_term is None else float(geometry_term.detach()),
                )
            )
        last_time = now
        if out_of_time:
            break
    if rank == 0 and not checkpoint_path.is_file():
        save_checkpoint(
            checkpoint_path,
            model,
            step=step,
            optimizer_state=optimizer.state_dict(),
            extra=_extra(cfg, dataset_dir),
        )
    return TrainResult(
        step=step,
        checkpoint_path=str(checkpoint_path),
        start_step=start_step,
        loss_history=history,
        seconds=time.perf_counter() - started,
    )
