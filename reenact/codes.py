"""The codes file written by ``reenact fit`` / ``drive --save-identity`` and read by ``--identity``.

One fitted face: identity code z_id (D,), expression code β (E,), camera ``cam_to_world`` (4, 4) in the
head frame of ``model/camera.py``, the aligned crop box in the source image (x0, y0, x1, y1), the fit's
quality, and which checkpoint it was fitted for (codes only mean something to that model). Optional
fine-tuned neural-renderer weights (``fit --finetune-renderer``) travel in the same file as flat arrays, and
so does what drive's photo output needs (``reenact/photo.py``): the photo itself (PNG bytes, long side at
most ``PHOTO_STORE_SIZE``), the target's face as the tracker read it (landmark model, head frame) and the
tracker's expression code of the photo. Files written before the photo output lack them: drive then needs
the TARGET image again (or ``--crop``).
Plain ``.npz`` loaded with ``allow_pickle=False``: a codes file cannot run code. Files written up to commit
902c83e hold an ``expression_map`` array (the removed expression calibration): empty, it is ignored; a file
that holds a map was fitted with ``--calibrate-expression`` and is refused (fit the target again).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reenact.errors import InputError
from tracking.npz_io import load_npz, save_npz

CODES_FORMAT_VERSION = 1
PHOTO_STORE_SIZE = 2048
"""Long side (pixels) above which a target's photo is downscaled before it is used and stored."""


def stored_photo(image: np.ndarray) -> np.ndarray:
    """The photo as the codes keep it: (H, W, 3) uint8, downscaled (area) to a long side of at most
    ``PHOTO_STORE_SIZE``; drive uses this same image whether the target was fitted inline or loaded."""
    height, width = image.shape[:2]
    scale = PHOTO_STORE_SIZE / max(height, width)
    if scale >= 1.0:
        return np.ascontiguousarray(image)
    import cv2

    size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


@dataclass
class Codes:
    identity: np.ndarray  # (D,) z_id
    expression: np.ndarray  # (E,) β
    cam_to_world: np.ndarray  # (4, 4)
    crop: np.ndarray  # (4,) x0, y0, x1, y1 in the source image, pixels
    image_size: tuple[int, int]  # source width, height
    checkpoint_id: str = ""
    psnr: float = float("nan")
    ssim: float = float("nan")
    l1: float = float("nan")
    source: str = ""
    embedding: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.float32)
    )  # encoder output before fitting
    renderer_state: dict[str, np.ndarray] = field(default_factory=dict)
    photo: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.uint8))
    """(H, W, 3) uint8 the target's photo (``stored_photo``); empty in files without it."""
    face: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    """(L, 3) the target's tracked face in the photo (landmark model, head frame); empty when unknown."""
    tracked_expression: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    """(E_t,) the tracker's expression code of the photo (what absolute motion measures changes from)."""
    tracked_pose: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    """(4, 4) the tracker's camera-to-head pose of the photo: where ``face`` is seen from (the fitted
    ``cam_to_world`` sees the model's head, which may sit elsewhere in its frame); empty in older files."""

    @property
    def rest_face(self) -> np.ndarray | None:
        """(L, 3) the face a surface-warp model's field rests on when rendering this target
        (``Engine.render``): its tracked face, whose expression is the target's own reference (a single image
        is its own clip mean); None when unknown (the mean face)."""
        return self.face if self.face.size else None

    @property
    def has_photo(self) -> bool:
        """Whether the file carries what the photo output needs."""
        parts = (self.photo, self.face, self.tracked_expression)
        return all(part.size > 0 for part in parts)

    @staticmethod
    def from_fit(
        result,
        crop: np.ndarray,
        image_size: tuple[int, int],
        checkpoint_id: str = "",
        source: str = "",
        embedding: np.ndarray | None = None,
    ) -> Codes:
        """A target's codes: a fit's result (:class:`model.fit.FitResult`, what ``Engine.fit`` returns) and
        where the target's crop lies in its image (``crop`` (4,), ``image_size`` (width, height)), which
        checkpoint it was fitted for, the source's name and the encoder's output ``embedding`` before
        fitting."""
        return Codes(
            identity=_numpy(result.identity),
            expression=_numpy(result.expression),
            cam_to_world=_numpy(result.cam_to_world),
            crop=np.asarray(crop, np.float32),
            image_size=(int(image_size[0]), int(image_size[1])),
            checkpoint_id=checkpoint_id,
            psnr=float(result.psnr),
            ssim=float(result.ssim),
            l1=float(result.l1),
            source=source,
            embedding=np.zeros(0, np.float32) if embedding is None else np.asarray(embedding, np.float32),
            renderer_state={k: v.detach().cpu().numpy() for k, v in (result.renderer_state or {}).items()},
        )

    def with_photo(
        self, image: np.ndarray, face: np.ndarray, tracked_expression: np.ndarray, tracked_pose: np.ndarray
    ) -> Codes:
        """These codes carrying the target's photo (any size: ``stored_photo`` applies), its tracked face
        (L, 3), the tracker's expression code (E_t,) and its pose (4, 4)."""
        self.photo = stored_photo(np.asarray(image, np.uint8))
        self.face = np.asarray(face, np.float32)
        self.tracked_expression = np.asarray(tracked_expression, np.float32)
        self.tracked_pose = np.asarray(tracked_pose, np.float32)
        return self

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "format_version": np.int64(CODES_FORMAT_VERSION),
            "identity": np.asarray(self.identity, np.float32),
            "expression": np.asarray(self.expression, np.float32),
            "cam_to_world": np.asarray(self.cam_to_world, np.float32),
            "crop": np.asarray(self.crop, np.float32),
            "image_size": np.asarray(self.image_size, np.int64),
            "checkpoint_id": np.asarray(self.checkpoint_id),
            "metrics": np.asarray([self.psnr, self.ssim, self.l1], np.float64),
            "source": np.asarray(self.source),
            "embedding": np.asarray(self.embedding, np.float32),
        }
        for key, value in self.renderer_state.items():
            arrays[f"renderer/{key}"] = np.asarray(value)
        if self.has_photo:
            arrays["photo_png"] = _encode_png(self.photo)
            arrays["face"] = np.asarray(self.face, np.float32)
            arrays["tracked_expression"] = np.asarray(self.tracked_expression, np.float32)
            if self.tracked_pose.size:
                arrays["tracked_pose"] = np.asarray(self.tracked_pose, np.float32)
        save_npz(path, arrays)

    @staticmethod
    def load(path: str | os.PathLike) -> Codes:
        arrays = load_npz(path, InputError, "reenact codes file")
        if "identity" not in arrays or "cam_to_world" not in arrays:
            raise InputError(f"not a reenact codes file (no identity/camera): {path}")
        if arrays.get("expression_map", np.zeros(0)).size:
            raise InputError(
                f"{path} was fitted with the removed --calibrate-expression; fit the target again"
            )
        metrics = arrays.get("metrics", np.full(3, np.nan))
        return Codes(
            identity=arrays["identity"].astype(np.float32),
            expression=arrays["expression"].astype(np.float32),
            cam_to_world=arrays["cam_to_world"].astype(np.float32),
            crop=arrays.get("crop", np.zeros(4, np.float32)).astype(np.float32),
            image_size=tuple(int(v) for v in arrays.get("image_size", np.zeros(2, np.int64))),
            checkpoint_id=str(arrays.get("checkpoint_id", "")),
            psnr=float(metrics[0]),
            ssim=float(metrics[1]),
            l1=float(metrics[2]),
            source=str(arrays.get("source", "")),
            embedding=arrays.get("embedding", np.zeros(0, np.float32)).astype(np.float32),
            renderer_state={k[len("renderer/") :]: v for k, v in arrays.items() if k.startswith("renderer/")},
            photo=_decode_png(arrays["photo_png"], path)
            if "photo_png" in arrays
            else np.zeros((0, 0, 3), np.uint8),
            face=arrays.get("face", np.zeros((0, 3), np.float32)).astype(np.float32),
            tracked_expression=arrays.get("tracked_expression", np.zeros(0, np.float32)).astype(np.float32),
            tracked_pose=arrays.get("tracked_pose", np.zeros((0, 4), np.float32)).astype(np.float32),
        )


def _numpy(tensor) -> np.ndarray:
    """A CPU tensor of the fit's result as float32 numpy."""
    return tensor.detach().cpu().numpy().astype(np.float32)


def _encode_png(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) → PNG bytes as a uint8 array (lossless)."""
    import cv2

    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise InputError("could not encode the target's photo as PNG")
    return data.reshape(-1)


def _decode_png(data: np.ndarray, path) -> np.ndarray:  # noqa: ANN001 - str | PathLike, for the message
    import cv2

    image = cv2.imdecode(np.asarray(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: the stored photo is not a readable PNG")
    return np.ascontiguousarray(image[..., ::-1])
