"""Temporal smoothing of tracks: pure functions over per-frame arrays (no state).

Filter: Savitzky–Golay (scipy), polynomial order 2, applied separately to each contiguous run of valid
frames. A symmetric order-2 filter passes constants, ramps and parabolas unchanged, so it adds **no lag**
on steady motion; on a step it spreads the edge over about half a window. ``strength`` sets the window:
``2·round(3·strength·fps/25) + 1`` frames (strength 1 at 25 fps → 7 frames, 2 → 13); 0 = off.

Rotations are smoothed as unit quaternions made sign-continuous first (q and −q are the same rotation;
each is flipped to agree with its predecessor), filtered component-wise and renormalized, so a head
turning through any angle never flips.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.signal import savgol_filter
from scipy.spatial.transform import Rotation

from tracking.types import Track

POLY_ORDER = 2


def window_length(strength: float, fps: float = 25.0) -> int:
    """Savitzky–Golay window (odd number of frames) for a smoothing strength; 1 means off."""
    if strength <= 0:
        return 1
    half = int(round(3.0 * strength * max(fps, 1.0) / 25.0))
    return 2 * max(half, 1) + 1


def valid_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges of consecutive True values."""
    valid = np.asarray(valid, bool)
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def smooth_array(
    values: np.ndarray, strength: float, valid: np.ndarray | None = None, fps: float = 25.0
) -> np.ndarray:
    """Smooth (N, …) values along axis 0 within runs of ``valid`` frames (all frames if None)."""
    values = np.asarray(values)
    out = values.astype(np.float64, copy=True)
    window = window_length(strength, fps)
    if window <= 1 or len(values) < 3:
        return out.astype(values.dtype)
    valid = np.ones(len(values), bool) if valid is None else np.asarray(valid, bool)
    for start, stop in valid_runs(valid):
        length = stop - start
        w = min(window, length if length % 2 else length - 1)
        if w <= POLY_ORDER + 1:
            continue
        out[start:stop] = savgol_filter(out[start:stop], w, POLY_ORDER, axis=0, mode="interp")
    return out.astype(values.dtype)


def continuous_quaternions(rotations: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations → (N, 4) quaternions with sign continuity (consecutive dot products ≥ 0)."""
    quats = Rotation.from_matrix(np.asarray(rotations, np.float64)).as_quat()
    for i in range(1, len(quats)):
        if quats[i] @ quats[i - 1] < 0:
            quats[i] = -quats[i]
    return quats


def smooth_rotations(
    rotations: np.ndarray, strength: float, valid: np.ndarray | None = None, fps: float = 25.0
) -> np.ndarray:
    """Smooth (N, 3, 3) rotations as sign-continuous quaternions; returns (N, 3, 3)."""
    rotations = np.asarray(rotations)
    if window_length(strength, fps) <= 1 or len(rotations) < 3:
        return rotations.copy()
    quats = smooth_array(continuous_quaternions(rotations), strength, valid, fps)
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    return Rotation.from_quat(quats).as_matrix().astype(rotations.dtype)


def smooth_poses(
    poses: np.ndarray, strength: float, valid: np.ndarray | None = None, fps: float = 25.0
) -> np.ndarray:
    """Smooth (N, 4, 4) rigid transforms: rotation as quaternions, translation (camera centre) linearly."""
    poses = np.asarray(poses)
    out = poses.copy()
    out[:, :3, :3] = smooth_rotations(poses[:, :3, :3], strength, valid, fps)
    out[:, :3, 3] = smooth_array(poses[:, :3, 3], strength, valid, fps)
    return out


def smooth_crops(
    crops: np.ndarray, strength: float, valid: np.ndarray | None = None, fps: float = 25.0
) -> np.ndarray:
    """Smooth (N, 4) square boxes: centre linearly, side in log space; stays square."""
    crops = np.asarray(crops, np.float64)
    center = 0.5 * (crops[:, :2] + crops[:, 2:])
    log_side = np.log(np.maximum(crops[:, 2] - crops[:, 0], 1e-6))
    state = smooth_array(np.concatenate([center, log_side[:, None]], axis=1), strength, valid, fps)
    half = 0.5 * np.exp(state[:, 2:3])
    return np.concatenate([state[:, :2] - half, state[:, :2] + half], axis=1).astype(np.float32)


def smooth_track(track: Track, strength: float, expression_strength: float | None = None) -> Track:
    """A copy of ``track`` with pose and expression smoothed over its valid frames (0 = unchanged copy);
    ``expression_strength`` smooths the expression differently (None: as the pose).

    The crop is *not* changed here: poses are defined relative to each frame's crop, so the tracker
    smooths crops (:func:`smooth_crops`) before fitting. Landmarks stay raw (they are measurements).
    """
    valid = track.valid
    return replace(
        track,
        pose=smooth_poses(track.pose, strength, valid, track.fps).astype(np.float32),
        expression=smooth_array(
            track.expression,
            strength if expression_strength is None else expression_strength,
            valid,
            track.fps,
        ).astype(np.float32),
        extras=dict(track.extras),
    )


def jitter(values: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean absolute frame-to-frame change of (N, …) values over consecutive valid pairs."""
    values = np.asarray(values, np.float64).reshape(len(values), -1)
    valid = np.ones(len(values), bool) if valid is None else np.asarray(valid, bool)
    pairs = valid[1:] & valid[:-1]
    if not pairs.any():
        return float("nan")
    return float(np.abs(np.diff(values, axis=0))[pairs].mean())


def rotation_jitter_deg(rotations: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean geodesic angle (degrees) between consecutive valid rotations (N, 3, 3)."""
    rotations = np.asarray(rotations, np.float64)
    valid = np.ones(len(rotations), bool) if valid is None else np.asarray(valid, bool)
    pairs = valid[1:] & valid[:-1]
    if not pairs.any():
        return float("nan")
    rel = np.einsum("nji,njk->nik", rotations[:-1], rotations[1:])
    angles = np.degrees(np.linalg.norm(Rotation.from_matrix(rel).as_rotvec(), axis=1))
    return float(angles[pairs].mean())
