"""The landmark morphable model: reenact's stand-in for the paper's FaceWarehouse expression model.

A 3D shape of the 468 MediaPipe mesh landmarks in the canonical head frame of ``model/camera.py``::

    points (468, 3) = mean + Σ_s identity[s] · identity_basis[s] + Σ_k expression[k] · expression_basis[k]

Units and axes (``model/camera.py``): head units (the mean's outer-eye-corner distance is
``EYE_CORNER_DISTANCE``), x toward image right, y down, z away from a frontal camera; the origin lies
``HEAD_CENTER_DEPTH`` behind the centroid of the mean landmarks along +z. Both bases are scaled so that
coefficients are in σ units: over the data the basis was built from, every coefficient has unit
variance (the NeRF is conditioned on the expression code β, the paper's 46 FaceWarehouse coefficients).

The shipped ``tracking/data/landmark_model.npz`` is built by ``python -m tracking.build_basis`` (see that
module for the exact command and inputs). A FaceWarehouse-derived basis with the same fields can be given
by path instead (:meth:`LandmarkModel.load`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from model.geometry import FaceMesh, landmark_points
from tracking.errors import ModelFileError
from tracking.npz_io import load_npz, save_npz

NUM_EXPRESSION = 46
"""Length of the expression code β (paper: 46 FaceWarehouse coefficients)."""
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "data" / "landmark_model.npz"
MODEL_FORMAT_VERSION = 1


@lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """(T, 3) int64 triangles of the 468-point face mesh: the 3-cliques of MediaPipe's tessellation edges
    (its own connection set, the one source of the mesh's topology; it lists edges, not faces)."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    triangles = {
        tuple(sorted((a, b, c))) for a, near in neighbours.items() for b in near for c in near & neighbours[b]
    }
    return np.array(sorted(triangles), np.int64)


@dataclass
class LandmarkModel:
    """Mean shape and linear identity / expression bases on the 468 mesh landmarks (float32).

    ``mean`` (468, 3); ``identity_basis`` (S, 468, 3); ``expression_basis`` (E, 468, 3);
    ``identity_std`` (S,) and ``expression_std`` (E,): the standard deviations, in head units, that the
    bases were scaled by (basis = std · unit principal direction); ``metadata``: free-form strings
    recording how the model was built.
    """

    mean: np.ndarray
    identity_basis: np.ndarray
    expression_basis: np.ndarray
    identity_std: np.ndarray
    expression_std: np.ndarray
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, np.float32)
        self.identity_basis = np.asarray(self.identity_basis, np.float32).reshape(-1, *self.mean.shape)
        self.expression_basis = np.asarray(self.expression_basis, np.float32).reshape(-1, *self.mean.shape)
        self.identity_std = np.asarray(self.identity_std, np.float32)
        self.expression_std = np.asarray(self.expression_std, np.float32)
        if self.mean.shape != (468, 3):
            raise ModelFileError(f"landmark model mean must be (468, 3), got {self.mean.shape}")

    @property
    def num_identity(self) -> int:
        return int(self.identity_basis.shape[0])

    @property
    def num_expression(self) -> int:
        return int(self.expression_basis.shape[0])

    @property
    def stds(self) -> tuple[np.ndarray, np.ndarray]:
        """(identity_std, expression_std)."""
        return self.identity_std, self.expression_std

    def shape(self, identity: np.ndarray | None = None, expression: np.ndarray | None = None) -> np.ndarray:
        """Head-frame landmarks (468, 3) for coefficients (S,) and (E,); (…, E) expression gives (…, 468,
        3)."""
        return landmark_points(self.mean, self.identity_basis, self.expression_basis, identity, expression)

    def save(self, path: str | os.PathLike) -> None:
        arrays = dict(
            mean=self.mean,
            identity_basis=self.identity_basis,
            expression_basis=self.expression_basis,
            identity_std=self.identity_std,
            expression_std=self.expression_std,
            format_version=np.int64(MODEL_FORMAT_VERSION),
        )
        for key, value in self.metadata.items():
            arrays[f"meta_{key}"] = np.asarray(str(value))
        save_npz(path, arrays, compressed=True)

    @staticmethod
    def load(path: str | os.PathLike) -> LandmarkModel:
        """Load a model file (the shipped one or a FaceWarehouse-derived one with the same fields)."""
        arrays = load_npz(path, ModelFileError, "landmark model file")
        missing = {"mean", "identity_basis", "expression_basis"} - set(arrays)
        if missing:
            raise ModelFileError(f"landmark model {path} lacks {', '.join(sorted(missing))}")
        num_id = arrays["identity_basis"].shape[0]
        num_ex = arrays["expression_basis"].shape[0]
        return LandmarkModel(
            mean=arrays["mean"],
            identity_basis=arrays["identity_basis"],
            expression_basis=arrays["expression_basis"],
            identity_std=arrays.get("identity_std", np.ones(num_id, np.float32)),
            expression_std=arrays.get("expression_std", np.ones(num_ex, np.float32)),
            metadata={k[5:]: str(v) for k, v in arrays.items() if k.startswith("meta_")},
        )

    def face_mesh(self) -> FaceMesh:
        """The model as ``model/geometry.py``'s geometry prior takes it (with the mesh's triangles)."""
        return FaceMesh(self.mean, self.identity_basis, self.expression_basis, mesh_triangles())

    @staticmethod
    def default() -> LandmarkModel:
        """The shipped model ``tracking/data/landmark_model.npz``."""
        return LandmarkModel.load(DEFAULT_MODEL_PATH)
