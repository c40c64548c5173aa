"""The code file written by ``reenact fit`` and read by ``render``/``drive``: a ``.npz`` holding

    ``identity``     (D,)   float32  identity code z_id (as fitted, in the encoder's space)
    ``expression``   (E,)   float32  expression code β of the fitted image
    ``cam_to_world`` (4, 4) float32  corrected camera of the fitted image (``model/camera.py`` convention)
    ``format``       ()     str      ``"reenact-codes-1"``
and optionally ``renderer_state.<name>`` arrays (a fine-tuned neural renderer's ``state_dict``).
Loading raises :class:`reenact.errors.InputError` for a missing or malformed file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reenact.errors import InputError

CODES_FORMAT = "reenact-codes-1"
"""Value of the ``format`` entry."""
_RENDERER_PREFIX = "renderer_state."


@dataclass
class Codes:
    """Codes of one person/image."""

    identity: np.ndarray
    """(D,) float32."""
    expression: np.ndarray
    """(E,) float32."""
    cam_to_world: np.ndarray
    """(4, 4) float32."""
    renderer_state: dict[str, torch.Tensor] | None = None
    """Fine-tuned neural-renderer weights, if any."""


def save_codes(path: str | os.PathLike, codes: Codes) -> None:
    """Write ``codes`` to ``path`` (``.npz``; the suffix is added by numpy if missing)."""
    arrays = {
        "identity": np.asarray(codes.identity, np.float32),
        "expression": np.asarray(codes.expression, np.float32),
        "cam_to_world": np.asarray(codes.cam_to_world, np.float32),
        "format": np.array(CODES_FORMAT),
    }
    for name, tensor in (codes.renderer_state or {}).items():
        arrays[_RENDERER_PREFIX + name] = tensor.detach().cpu().numpy()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def load_codes(path: str | os.PathLike) -> Codes:
    """Read a file written by :func:`save_codes`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"codes file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data.files or str(data["format"]) != CODES_FORMAT:
                raise InputError(f"{path} is not a reenact codes file")
            renderer = {k[len(_RENDERER_PREFIX):]: torch.from_numpy(data[k].copy()) for k in data.files if k.startswith(_RENDERER_PREFIX)}
            identity, expression, cam = data["identity"], data["expression"], data["cam_to_world"]
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"cannot read codes file {path}: {error}") from error
    if identity.ndim != 1 or expression.ndim != 1 or cam.shape != (4, 4):
        raise InputError(f"codes file {path} has malformed arrays")
    return Codes(identity.astype(np.float32), expression.astype(np.float32), cam.astype(np.float32), renderer or None)
