"""Typed results of tracking: the seam between ``tracking`` and the rest of reenact.

A :class:`Track` holds one video's (or one image's) per-frame parameters as stacked arrays; its
``.npz`` form is what ``reenact track -o track.npz`` writes and ``drive --track`` / ``train`` read.
Camera convention: ``model/camera.py`` (poses are OpenCV camera-to-head transforms, crop-normalized
intrinsics of the aligned crop).

Shapes (``frames`` = N, ``landmarks`` = 478 MediaPipe points with iris):

===================  ===============  =========================================================
field                shape / dtype    meaning
===================  ===============  =========================================================
valid                (N,) bool        a face was tracked (or interpolated over a short gap)
detected             (N,) bool        MediaPipe found the face in this very frame
pose                 (N,4,4) f32      camera-to-head extrinsics (``cam_to_world``)
expression           (N,E) f32        expression code β (E = 46 with the shipped basis)
crop                 (N,4) f32        square crop x0, y0, x1, y1 in source pixels
landmarks            (N,478,2) f32    MediaPipe landmarks in source pixels
times                (N,) f64         presentation time of each frame, seconds
identity_shape       (S,) f32         per-video identity-shape coefficients of the landmark model
embedding            (D,) f32         identity embedding z_id (dlib: D = 128), averaged over frames
fps                  () f64           source average frame rate
size                 (2,) i64         source frame width, height
landmark_error       () f64           mean fit error / inter-ocular distance over valid frames
===================  ===============  =========================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from tracking.errors import TrackingInputError
from tracking.npz_io import load_npz, save_npz

TRACK_FORMAT_VERSION = 1


@dataclass
class FrameTrack:
    """One frame's tracking result (a row of a :class:`Track`)."""

    index: int
    time: float
    valid: bool
    pose: np.ndarray  # (4, 4) camera-to-head
    expression: np.ndarray  # (E,)
    crop: np.ndarray  # (4,) x0, y0, x1, y1 source pixels
    landmarks: np.ndarray  # (478, 2) source pixels


@dataclass
class Track:
    """Per-frame tracking of one video or image, stacked (see module docstring for shapes)."""

    valid: np.ndarray
    detected: np.ndarray
    pose: np.ndarray
    expression: np.ndarray
    crop: np.ndarray
    landmarks: np.ndarray
    times: np.ndarray
    identity_shape: np.ndarray
    embedding: np.ndarray
    fps: float
    size: tuple[int, int]
    landmark_error: float = float("nan")
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """Optional extra per-frame arrays (e.g. ``masks`` (N,h,w) uint8) saved alongside."""

    def __len__(self) -> int:
        return int(self.valid.shape[0])

    def frame(self, index: int) -> FrameTrack:
        return FrameTrack(
            index=index,
            time=float(self.times[index]),
            valid=bool(self.valid[index]),
            pose=self.pose[index],
            expression=self.expression[index],
            crop=self.crop[index],
            landmarks=self.landmarks[index],
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write an ``.npz`` atomically (temporary file + rename)."""
        path = Path(path)
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extras"}
        arrays["size"] = np.asarray(self.size, dtype=np.int64)
        arrays["fps"] = np.float64(self.fps)
        arrays["landmark_error"] = np.float64(self.landmark_error)
        arrays["format_version"] = np.int64(TRACK_FORMAT_VERSION)
        for key, value in self.extras.items():
            arrays[f"extra_{key}"] = value
        save_npz(path, arrays, compressed=True)

    @staticmethod
    def load(path: str | os.PathLike) -> Track:
        arrays = load_npz(path, TrackingInputError, "reenact track file")
        missing = {"valid", "pose", "expression", "crop", "landmarks"} - set(arrays)
        if missing:
            raise TrackingInputError(f"track file {path} lacks {', '.join(sorted(missing))}")
        n = arrays["valid"].shape[0]
        return Track(
            valid=arrays["valid"].astype(bool),
            detected=arrays.get("detected", arrays["valid"]).astype(bool),
            pose=arrays["pose"].astype(np.float32),
            expression=arrays["expression"].astype(np.float32),
            crop=arrays["crop"].astype(np.float32),
            landmarks=arrays["landmarks"].astype(np.float32),
            times=arrays.get("times", np.arange(n, dtype=np.float64)).astype(np.float64),
            identity_shape=arrays.get("identity_shape", np.zeros(0, np.float32)).astype(np.float32),
            embedding=arrays.get("embedding", np.zeros(0, np.float32)).astype(np.float32),
            fps=float(arrays.get("fps", 25.0)),
            size=tuple(int(v) for v in arrays.get("size", np.zeros(2, np.int64))),
            landmark_error=float(arrays.get("landmark_error", np.nan)),
            extras={key[len("extra_") :]: value for key, value in arrays.items() if key.startswith("extra_")},
        )
