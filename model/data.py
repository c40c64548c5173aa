"""Training frames from the preprocessed cache (the seam with the pipeline that tracks videos).

Cache format — a folder of per-clip ``.npz`` files (any names; sorted order), each holding:
    ``images``     (N, S, S, 3) uint8   aligned square crops, RGB
    ``masks``      (N, S, S)    uint8   head mask, 0 = background, 255 (or 1) = head
    ``pose``       (N, 4, 4)    float32 OpenCV cam_to_world in the canonical head frame (``model/camera.py``)
    ``expression`` (N, E)       float32 expression code β per frame
    ``identity``   (D,)         float32 identity embedding z_id of the clip's person
    ``person``     ()           str     person id (used to split training / held-out data by person)
S may be larger than the model's output size m: frames and masks are resized to m×m with area averaging
(``F.interpolate(mode="area")``) once, at load; crop-normalized intrinsics make that exact for the camera.
Mask values are scaled to [0, 1] (``mask / mask.max()`` per clip, so 0/1 and 0/255 both work).
With ``expression_reference="clip_mean"`` each clip's expression codes are taken relative to the clip's mean
(see :data:`model.expression.EXPRESSION_REFERENCES`).

Output: :class:`FrameBatch` tensors on the caller's device — image (B, 3, m, m) and mask (B, 1, m, m)
float in [0, 1], cam_to_world (B, 4, 4), expression (B, E), identity (B, D) float32, and with a face mesh
the landmarks (B, L, 3) of the geometry prior.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from model.errors import DataError
from model.expression import relative_to_reference
from model.geometry import FaceMesh

CACHE_KEYS = ("images", "masks", "pose", "expression", "identity", "person")
"""Arrays every cache file must hold."""


@dataclass
class FrameBatch:
    """A batch of training frames."""

    image: torch.Tensor
    """(B, 3, m, m) RGB in [0, 1]."""
    mask: torch.Tensor
    """(B, 1, m, m) head mask in [0, 1]."""
    cam_to_world: torch.Tensor
    """(B, 4, 4) cameras."""
    expression: torch.Tensor
    """(B, E) expression codes."""
    identity: torch.Tensor
    """(B, D) identity embeddings."""
    landmarks: torch.Tensor | None = None
    """(B, L, 3) head-frame face landmarks of the tracked codes (``model/geometry.py``), or None unless the
    dataset was given a face mesh."""


def _resize_uint8(frames: np.ndarray, size: int, chunk: int = 64) -> torch.Tensor:
    """(N, S, S, C) uint8 → (N, C, size, size) uint8 by area averaging."""
    out = []
    for start in range(0, len(frames), chunk):
        x = torch.from_numpy(np.ascontiguousarray(frames[start : start + chunk])).permute(0, 3, 1, 2).float()
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="area")
        out.append(x.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out) if out else torch.zeros((0, frames.shape[-1], size, size), dtype=torch.uint8)


class FrameDataset:
    """All frames of a cache folder, held in memory at the model's output size.

    ``persons``: keep only these person ids (None = all); ``exclude_persons``: drop these.
    ``identity_key``: the array that feeds z_id — ``"identity"`` (recognition embedding, the paper) or
    ``"identity_shape"`` (landmark-model identity coefficients: the paper's Table 1 ablation).
    ``expression_reference``: see :data:`model.expression.EXPRESSION_REFERENCES`.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        output_size: int,
        persons: tuple[str, ...] | None = None,
        exclude_persons: tuple[str, ...] = (),
        identity_key: str = "identity",
        expression_reference: str = "none",
        face_mesh: FaceMesh | None = None,
    ) -> None:
        relative_to_reference(
            np.zeros((1, 1), np.float32), expression_reference
        )  # unknown names fail before any I/O
        cache_dir = Path(cache_dir)
        files = sorted(cache_dir.glob("*.npz")) if cache_dir.is_dir() else []
        if not files:
            raise DataError(f"no .npz clip files in training cache {cache_dir}")
        images, masks, poses, expressions, identities, clip_index, landmarks = [], [], [], [], [], [], []
        self.persons: list[str] = []
        self.clip_files: list[Path] = []
        for path in files:
            try:
                with np.load(path, allow_pickle=False) as clip:
                    missing = [k for k in CACHE_KEYS if k not in clip.files]
                    if missing:
                        raise DataError(f"cache file {path} lacks {missing}")
                    person = str(clip["person"])
                    if (persons is not None and person not in persons) or person in exclude_persons:
                        continue
                    frames, clip_masks = clip["images"], clip["masks"]
                    if identity_key not in clip.files:
                        raise DataError(f"cache file {path} lacks {identity_key!r}")
                    pose, expression, identity = clip["pose"], clip["expression"], clip[identity_key]
                    if face_mesh is not None and "identity_shape" not in clip.files:
                        raise DataError(
                            f"cache file {path} lacks 'identity_shape', which the geometry prior needs"
                        )
                    identity_shape = clip["identity_shape"] if face_mesh is not None else None
            except (OSError, ValueError) as error:
                raise DataError(f"cannot read cache file {path}: {error}") from error
            count = len(frames)
            if count == 0:
                continue
            if (
                frames.ndim != 4
                or frames.shape[-1] != 3
                or clip_masks.shape != frames.shape[:3]
                or pose.shape != (count, 4, 4)
                or len(expression) != count
                or identity.ndim != 1
            ):
                raise DataError(f"cache file {path} has inconsistent shapes")
            scale = 255.0 / max(float(clip_masks.max()), 1.0)
            clip_masks = (clip_masks.astype(np.float32) * scale).round().astype(np.uint8)
            images.append(_resize_uint8(frames, output_size))
            masks.append(_resize_uint8(clip_masks[..., None], output_size))
            poses.append(torch.from_numpy(pose.astype(np.float32)))
            expressions.append(torch.from_numpy(relative_to_reference(expression, expression_reference)))
            identities.append(torch.from_numpy(identity.astype(np.float32)).expand(count, -1))
            if face_mesh is not None:
                landmarks.append(torch.from_numpy(face_mesh.shape(identity_shape, expression)))
            clip_index.append(torch.full((count,), len(self.clip_files), dtype=torch.long))
            self.persons.append(person)
            self.clip_files.append(path)
        if not images:
            raise DataError(f"no frames for the selected persons in {cache_dir}")
        self.images = torch.cat(images)
        self.masks = torch.cat(masks)
        self.cam_to_world = torch.cat(poses)
        self.expression = torch.cat(expressions)
        self.identity = torch.cat(identities).contiguous()
        self.landmarks = torch.cat(landmarks) if landmarks else None
        """(N, L, 3) float32 landmarks of each frame's tracked codes, or None without a face mesh."""
        self.clip_index = torch.cat(clip_index)
        self.output_size = output_size

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def expression_dim(self) -> int:
        return self.expression.shape[1]

    @property
    def identity_dim(self) -> int:
        return self.identity.shape[1]

    def spread(self, count: int) -> torch.Tensor:
        """(min(count, N),) indices of frames spread evenly over the whole dataset, first and last included
        (training previews and the diagnostics look at the same kind of sample)."""
        return torch.linspace(0, len(self) - 1, min(count, len(self))).round().long()

    def batch(self, indices: torch.Tensor, device: torch.device | str) -> FrameBatch:
        """Frames ``indices`` (B,) as float tensors on ``device``."""
        indices = indices.cpu()
        return FrameBatch(
            image=self.images[indices].to(device).float() / 255.0,
            mask=self.masks[indices].to(device).float() / 255.0,
            cam_to_world=self.cam_to_world[indices].to(device),
            expression=self.expression[indices].to(device),
            identity=self.identity[indices].to(device),
            landmarks=None if self.landmarks is None else self.landmarks[indices].to(device),
        )
