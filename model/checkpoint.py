"""Saving and loading head-model checkpoints.

A checkpoint is one ``torch.save`` file holding a plain dict (loadable with ``weights_only=True``):
``format_version`` (int), ``config`` (``ModelConfig.to_dict()``), ``state_dict`` (name → tensor),
``step`` (int), ``optimizer_state`` (optional, for resuming training), ``extra`` (dict of tensors,
strings, numbers) and ``dtype`` (``"float32"``, or ``"float16"`` for shipped half-precision files).

Conventions
    * Writes are atomic: a temporary file in the target folder, then ``os.replace``.
    * Loading rebuilds the model from the stored config alone, casts weights to float32 and raises
      :class:`model.errors.CheckpointError` for a missing, corrupt or incompatible file. Files written before
      an experiment was removed still load when they did not use it: its config keys at their off value are
      dropped (``model/config.py``), and so are weights of removed parts (:data:`_REMOVED_PREFIXES`).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from model.config import FORMAT_VERSION, ModelConfig
from model.errors import CheckpointError
from model.head_model import HeadModel


@dataclass
class CheckpointMeta:
    """Everything in a checkpoint besides the weights."""

    config: ModelConfig
    """The model's configuration."""
    step: int
    """Training step the weights belong to."""
    optimizer_state: dict[str, Any] | None = None
    """Optimizer ``state_dict`` for resuming, if stored."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Caller-defined extras (tensors, strings, numbers)."""


def _atomic_save(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is an ordinary file
    try:
        torch.save(payload, tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def save_checkpoint(
    path: str | os.PathLike,
    model: HeadModel,
    *,
    step: int,
    optimizer_state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` (weights + config) atomically to ``path``."""
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    payload = {
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": state,
        "step": int(step),
        "optimizer_state": optimizer_state,
        "extra": dict(extra or {}),
        "dtype": "float32",
    }
    _atomic_save(payload, Path(path))


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The raw checkpoint dict (weights_only load); CheckpointError if missing, unreadable or not a
    checkpoint.

    Every failure is one line: a file the weights-only unpickler refuses (a pickle that would run code or
    needs other globals, or not a pickle at all) or a dict without a checkpoint's keys is "not a reenact
    checkpoint" (never torch's advice to load it with ``weights_only=False``); a damaged zip archive is
    "corrupt or truncated".
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with (
            warnings.catch_warnings()
        ):  # e.g. "Detected pickle protocol 4": a foreign file gets one line, no chatter
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # refused by the weights-only unpickler, or not a pickle
        raise CheckpointError(f"{path} is not a reenact checkpoint") from error
    except Exception as error:  # noqa: BLE001 - any other reading failure means a damaged file
        raise CheckpointError(
            f"cannot read checkpoint {path}: corrupt or truncated file ({error.__class__.__name__})"
        ) from error
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("state_dict"), dict)
        or "config" not in payload
    ):
        raise CheckpointError(f"{path} is not a reenact checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format_version {payload.get('format_version')!r}, expected "
            f"{FORMAT_VERSION}"
        )
    payload["state_dict"] = {
        name: tensor
        for name, tensor in payload["state_dict"].items()
        if not name.startswith(_REMOVED_PREFIXES)
    }
    return payload


_REMOVED_PREFIXES = ("rgb_head.",)
"""Weights that checkpoints written up to commit 902c83e carry for a part the model no longer has (the
plain-NeRF baseline head of ``benchmarks/bench_model.py``, which now builds its own); dropped on reading."""


def _config(payload: dict[str, Any], path: str | os.PathLike) -> ModelConfig:
    try:
        return ModelConfig.from_dict(payload["config"])
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"checkpoint {path} has an incompatible config: {error}") from error


def load_checkpoint(
    path: str | os.PathLike, device: torch.device | str = "cpu"
) -> tuple[HeadModel, CheckpointMeta]:
    """Rebuild the model stored at ``path`` on ``device`` (float32, eval mode) and return it with its
    metadata."""
    payload = read_checkpoint(path)
    config = _config(payload, path)
    model = HeadModel(config)
    state = {
        name: tensor.float() if tensor.is_floating_point() else tensor
        for name, tensor in payload["state_dict"].items()
    }
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {path} does not match its config: {error}") from error
    meta = CheckpointMeta(
        config=config,
        step=int(payload.get("step", 0)),
        optimizer_state=payload.get("optimizer_state"),
        extra=dict(payload.get("extra") or {}),
    )
    return model.to(device).eval(), meta


def export_half(path_in: str | os.PathLike, path_out: str | os.PathLike) -> int:
    """Write a weights-only float16 copy of a checkpoint (no optimizer state) for shipping; returns its size
    in bytes."""
    payload = read_checkpoint(path_in)
    half = {
        name: tensor.half() if tensor.is_floating_point() else tensor
        for name, tensor in payload["state_dict"].items()
    }
    out = {
        "format_version": FORMAT_VERSION,
        "config": _config(payload, path_in).to_dict(),
        "state_dict": half,
        "step": int(payload.get("step", 0)),
        "optimizer_state": None,
        "extra": dict(payload.get("extra") or {}),
        "dtype": "float16",
    }
    _atomic_save(out, Path(path_out))
    return Path(path_out).stat().st_size
