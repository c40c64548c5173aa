"""Rendering helpers for videos and sweeps: camera orbits, code interpolation, batched rendering. The one
implementation of orbits and interpolation: ``reenact render`` (``reenact.api.render_parameters``) uses it.

Inputs/outputs as documented per function; cameras are (N, 4, 4) OpenCV cam_to_world tensors in the head
frame (``model/camera.py``), codes are (N, E) / (N, D) tensors, images (B, 3, H, W) float in [0, 1].
Rendering is deterministic (no sample jitter) and runs without gradients on the model's device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from model.camera import FRONTAL_DISTANCE, Camera, orbit_cam_to_world
from model.head_model import HeadModel


def orbit_poses(
    yaws: Sequence[float], pitches: Sequence[float], distance: float = FRONTAL_DISTANCE
) -> np.ndarray:
    """(N, 4, 4) float64 cameras on the orbit at ``distance``, one per (yaw, pitch) pair (radians).

    A single pitch (or yaw) is broadcast over the other sequence.
    """
    yaw_values, pitch_values = np.broadcast_arrays(
        np.asarray(yaws, np.float64), np.asarray(pitches, np.float64)
    )
    return np.stack(
        [
            orbit_cam_to_world(float(y), float(p), 0.0, distance)
            for y, p in zip(yaw_values.ravel(), pitch_values.ravel())
        ]
    )


def orbit_cameras(
    yaws: Sequence[float], pitches: Sequence[float], distance: float = FRONTAL_DISTANCE
) -> torch.Tensor:
    """:func:`orbit_poses` as a float32 tensor."""
    return torch.from_numpy(orbit_poses(yaws, pitches, distance).astype(np.float32))


def interpolate_codes(start, end, steps: int):
    """(steps, K) linear interpolation from ``start`` (K,) to ``end`` (K,), both endpoints included. Tensors
    give a tensor in ``start``'s dtype; numpy arrays a float64 array (weights in float64)."""
    if isinstance(start, torch.Tensor):
        weights = torch.linspace(0.0, 1.0, steps, dtype=start.dtype, device=start.device)[:, None]
    else:
        weights = np.linspace(0.0, 1.0, steps)[:, None]
    return start[None] * (1.0 - weights) + end[None] * weights


def render_batches(
    model: HeadModel,
    cameras: torch.Tensor,
    expressions: torch.Tensor,
    identities: torch.Tensor,
    batch_size: int,
    chunk_rays: int = 4096,
) -> Iterator[torch.Tensor]:
    """Yield renders (B, 3, H, W) (on the model's device) of frames [k·batch_size, (k+1)·batch_size)."""
    if not (len(cameras) == len(expressions) == len(identities)):
        raise ValueError(
            f"cameras, expressions and identities differ in length: {len(cameras)}, {len(expressions)}, "
            f"{len(identities)}"
        )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(cameras), batch_size):
                stop = start + batch_size
                camera = Camera(cameras[start:stop].float().to(device))
                yield model(
                    camera,
                    expressions[start:stop].float().to(device),
                    identities[start:stop].float().to(device),
                    None,
                    chunk_rays,
                ).image
    finally:
        model.train(was_training)
