"""The codes file written by ``reenact fit`` / ``drive --save-identity`` and read by ``--identity``.

One fitted face: identity code z_id (D,), expression code β (E,), camera ``cam_to_world`` (4, 4) in the
head frame of ``model/camera.py``, the aligned crop box in the source image (x0, y0, x1, y1), the fit's
quality, and which checkpoint it was fitted for (codes only mean something to that model). Optional
fine-tuned neural-renderer weights (``fit --finetune-renderer``) travel in the same file as flat arrays.
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
        )


def _numpy(tensor) -> np.ndarray:
    """A CPU tensor of the fit's result as float32 numpy."""
    return tensor.detach().cpu().numpy().astype(np.float32)
