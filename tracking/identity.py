"""Identity embedding z_id behind a small interface.

``IdentityEncoder``: ``dim`` and ``embed(image_rgb (H, W, 3) uint8, landmarks_px (478, ≥2)) -> (dim,)
float32``, L2-normalised. Implementations:

- :class:`DlibEncoder` (default, offline): dlib's ResNet face descriptor (128-d). Weights are the
  ``.dat`` files of the installed ``face_recognition_models`` package, located without importing it (its
  ``__init__`` needs ``pkg_resources``). The face box comes from the MediaPipe landmarks; dlib's 5-point
  shape predictor places the face chip. ~75 ms per face on CPU, so videos embed a few sampled frames and
  average (``Tracker``).
- :class:`OnnxEncoder`: an ArcFace/AdaFace-style ONNX model by path (the paper uses AdaFace, 512-d):
  112×112 RGB crop aligned by a 5-point similarity to the standard ArcFace template, (x − 127.5)/127.5,
  NCHW. onnxruntime is imported only when used.

:func:`load_encoder` maps a spec string to one of these.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from tracking.errors import MissingWeightsError
from tracking.landmarks import (
    CHIN,
    LEFT_IRIS_CENTER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    NOSE_TIP,
    NUM_MESH_LANDMARKS,
    RIGHT_IRIS_CENTER,
)

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float32,
)
"""Standard 112×112 five-point template: eye (image left), eye (image right), nose tip, mouth corners."""
BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)


@runtime_checkable
class IdentityEncoder(Protocol):
    dim: int

    def embed(self, image_rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray: ...


def _normalise(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, np.float32).ravel()
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def five_points(landmarks_px: np.ndarray) -> np.ndarray:
    """(5, 2) points in ARCFACE_TEMPLATE order from MediaPipe landmarks (iris centres as eye centres)."""
    pts = np.asarray(landmarks_px)[:, :2]
    if len(pts) > LEFT_IRIS_CENTER:
        eyes = [pts[RIGHT_IRIS_CENTER], pts[LEFT_IRIS_CENTER]]
    else:  # 468-point mesh: eye-corner midpoints
        eyes = [(pts[33] + pts[133]) / 2, (pts[362] + pts[263]) / 2]
    return np.array([eyes[0], eyes[1], pts[NOSE_TIP], pts[MOUTH_RIGHT], pts[MOUTH_LEFT]], np.float32)


def _model_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError(
            "the face_recognition_models package (dlib face descriptor weights) is not installed"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models"


class DlibEncoder:
    """dlib ResNet 128-d face descriptor on the face found by MediaPipe."""

    dim = 128

    def __init__(self, jitters: int = 0) -> None:
        import dlib

        folder = _model_dir()
        predictor = folder / "shape_predictor_5_face_landmarks.dat"
        recognizer = folder / "dlib_face_recognition_resnet_model_v1.dat"
        for path in (predictor, recognizer):
            if not path.is_file():
                raise MissingWeightsError(f"dlib weights missing: {path}")
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(predictor))
        self._recognizer = dlib.face_recognition_model_v1(str(recognizer))
        self.jitters = jitters

    def face_box(self, landmarks_px: np.ndarray) -> tuple[int, int, int, int]:
        """A dlib-detector-like face box (brows to chin) from the mesh landmarks."""
        pts = np.asarray(landmarks_px)[:NUM_MESH_LANDMARKS, :2]
        x0, x1 = pts[:, 0].min(), pts[:, 0].max()
        y0 = pts[list(BROWS), 1].min()
        y1 = pts[CHIN, 1]
        return int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1))

    def embed(self, image_rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self.face_box(landmarks_px)
        rect = self._dlib.rectangle(x0, y0, x1, y1)
        image = np.ascontiguousarray(image_rgb)
        shape = self._predictor(image, rect)
        descriptor = self._recognizer.compute_face_descriptor(image, shape, self.jitters)
        return _normalise(np.array(descriptor))


class OnnxEncoder:
    """An ONNX face-recognition network (ArcFace/AdaFace, 112×112 aligned RGB input)."""

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        if not path.is_file():
            raise MissingWeightsError(f"ONNX identity model not found: {path}")
        try:
            import onnxruntime
        except ImportError:
            raise MissingWeightsError(
                "onnxruntime is not installed (pip install onnxruntime) — needed for an ONNX identity model"
            ) from None
        self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        out_shape = self._session.get_outputs()[0].shape
        self.dim = int(out_shape[-1]) if isinstance(out_shape[-1], int) else 512

    @staticmethod
    def align(image_rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
        """112×112 RGB crop aligned to ARCFACE_TEMPLATE by a 5-point similarity."""
        matrix, _ = cv2.estimateAffinePartial2D(five_points(landmarks_px), ARCFACE_TEMPLATE, method=cv2.LMEDS)
        return cv2.warpAffine(
            image_rgb, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    def embed(self, image_rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
        face = self.align(image_rgb, landmarks_px).astype(np.float32)
        blob = ((face - 127.5) / 127.5).transpose(2, 0, 1)[None]
        output = self._session.run(None, {self._input: blob})[0]
        return _normalise(output)


def load_encoder(spec: str | None) -> IdentityEncoder | None:
    """``None``/``"dlib"`` → :class:`DlibEncoder`; ``"none"`` → no encoder (embedding left empty);
    a path to an ``.onnx`` file → :class:`OnnxEncoder`."""
    if spec is None or spec == "dlib":
        return DlibEncoder()
    if spec == "none":
        return None
    return OnnxEncoder(spec)
