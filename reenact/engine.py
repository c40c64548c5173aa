"""The head model at run time: checkpoint, device, autocast, and the only two image conversions
(RGB uint8 (…, H, W, 3) ↔ float (…, 3, H, W) in [0, 1]).

The pipeline hands numpy arrays in and gets numpy arrays back; tensors stay inside this module and
``model/``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.camera import Camera
from model.checkpoint import load_checkpoint
from model.errors import CheckpointError
from model.fit import FitConfig, FitResult, fit_codes
from model.head_model import HeadModel
from reenact.errors import InputError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_CHECKPOINT = WEIGHTS_DIR / "head_cpu.pt"
"""The shipped model (trained by ``reenact train``; command and data in ``docs/training.md``)."""
ABLATION_CHECKPOINT = WEIGHTS_DIR / "ablation_identity_shape.pt"
"""The paper's Table 1 ablation at the shipped model's data and budget (z_id = the landmark model's identity
shape), shipped so that ``reenact eval --ablation`` reproduces the comparison of ``docs/evaluation.md`` on a
fresh install; not used by drive."""


def resolve_device(name: str) -> torch.device:
    """'auto' → CUDA when present, else CPU; 'cuda' without a GPU is an input error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError(
            "--device cuda was asked for, but no CUDA GPU is available (use --device cpu or auto)"
        )
    return torch.device(name)


def file_digest(path: Path) -> str:
    """Short content hash of a file (identifies checkpoints and cache entries)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def images_to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (…, H, W, 3) → float32 (…, 3, H, W) in [0, 1] on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return tensor.movedim(-1, -3).float().div_(255.0)


def tensor_to_images(tensor: torch.Tensor) -> np.ndarray:
    """float (…, 3, H, W) in [0, 1] → uint8 (…, H, W, 3) on the CPU."""
    return tensor.detach().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).movedim(-3, -1).cpu().numpy()


@dataclass
class Engine:
    """A loaded head model on a device."""

    model: HeadModel
    device: torch.device
    checkpoint_id: str
    meta: dict

    @classmethod
    def load(cls, checkpoint: Path | None, device: str = "auto") -> Engine:
        path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
        if not path.is_file():
            if checkpoint is None:
                raise CheckpointError(
                    f"the shipped model is missing ({path}); reinstall reenact or pass --checkpoint"
                )
            raise CheckpointError(f"checkpoint not found: {path}")
        torch_device = resolve_device(device)
        model, meta = load_checkpoint(path, torch_device)
        model.eval()
        return cls(
            model=model,
            device=torch_device,
            checkpoint_id=file_digest(path),
            meta={**meta.extra, "step": meta.step},
        )

    @property
    def config(self):
        return self.model.config

    @property
    def render_size(self) -> int:
        return int(self.model.config.renderer.output_size)

    @property
    def expression_dim(self) -> int:
        return int(self.model.config.field.expression_dim)

    @property
    def identity_dim(self) -> int:
        return int(self.model.config.field.identity_dim)

    @property
    def identity_source(self) -> str:
        """Which tracker output feeds z_id: 'embedding' (recognition network) or 'identity_shape'
        (ablation)."""
        return str(self.meta.get("identity_source", "embedding"))

    @property
    def expression_reference(self) -> str:
        """What the model's β is measured from: 'none' or 'clip_mean' (``model/data.py``)."""
        return str(self.meta.get("expression_reference", "none"))

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def check_codes(self, expression: np.ndarray, identity: np.ndarray) -> None:
        if expression.shape[-1] != self.expression_dim or identity.shape[-1] != self.identity_dim:
            raise CheckpointError(
                f"codes do not fit this model: expression {expression.shape[-1]} / identity "
                f"{identity.shape[-1]} vs the checkpoint's {self.expression_dim} / {self.identity_dim}"
            )

    def render(
        self,
        cam_to_world: np.ndarray,
        expression: np.ndarray,
        identity: np.ndarray,
        face: np.ndarray | None = None,
    ) -> np.ndarray:
        """(B,4,4), (B,E), (B,D) → uint8 (B, S, S, 3) renders of the aligned crop. ``face``: the target's
        face at rest, (L, 3) or (B, L, 3) head frame (``Codes.rest_face``), for a surface-warp model; None:
        the mean face (other models ignore it)."""
        return self.render_maps(cam_to_world, expression, identity, face)[0]

    def _face(self, face: np.ndarray | None, batch: int) -> torch.Tensor | None:
        if face is None or not self.uses_face:
            return None
        tensor = torch.as_tensor(np.asarray(face, np.float32), device=self.device)
        return tensor.expand(batch, -1, -1) if tensor.ndim == 2 else tensor

    @property
    def uses_face(self) -> bool:
        """Whether the model's field warps on the target's own face (a surface warp)."""
        return bool(self.model.config.field.surface_warp)

    @torch.no_grad()
    def render_maps(
        self,
        cam_to_world: np.ndarray,
        expression: np.ndarray,
        identity: np.ndarray,
        face: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`render` with the same pass's geometry: uint8 (B, S, S, 3) renders, and float32 depth
        (B, n, n) (opacity-normalised ray depth, head units) and opacity (B, n, n) on the feature grid."""
        self.check_codes(expression, identity)
        camera = Camera(torch.as_tensor(np.asarray(cam_to_world, np.float32), device=self.device))
        expr = torch.as_tensor(np.asarray(expression, np.float32), device=self.device)
        ident = torch.as_tensor(np.asarray(identity, np.float32), device=self.device)
        with self._autocast():
            output = self.model(camera, expr, ident, face=self._face(face, len(expr)))
        maps = (output.depth[:, 0].float().cpu().numpy(), output.opacity[:, 0].float().cpu().numpy())
        return tensor_to_images(output.image.float()), *maps

    def render_batches(
        self,
        cam_to_world: np.ndarray,
        expression: np.ndarray,
        identity: np.ndarray,
        batch_size: int,
        face: np.ndarray | None = None,
    ) -> Iterator[np.ndarray]:
        """Render N frames in batches; yields uint8 (b, S, S, 3) arrays in order (``face``: one (L, 3) for
        all)."""
        for start in range(0, len(cam_to_world), batch_size):
            stop = start + batch_size
            yield self.render(cam_to_world[start:stop], expression[start:stop], identity[start:stop], face)

    def fit(
        self,
        image_crop: np.ndarray,
        mask_crop: np.ndarray,
        cam_to_world: np.ndarray,
        expression: np.ndarray,
        identity: np.ndarray,
        config: FitConfig,
        progress=None,
        landmarks: np.ndarray | None = None,
        expression_basis: np.ndarray | None = None,
        face: np.ndarray | None = None,
    ) -> FitResult:
        """Fit codes and camera to one aligned crop (uint8 (S,S,3), mask (S,S) in [0,1]);
        ``landmarks`` (L, 3): the target's tracked face (``pipeline.target_landmarks``) and
        ``expression_basis`` (E, L, 3): the landmark model's, for the fit's expression pseudo-views; ``face``
        (L, 3): the target's face at rest, for a surface-warp model (see :meth:`render`).

        ``progress`` is called with increments (one per iteration). Returns :func:`model.fit.fit_codes`'s
        result as it is (tensors on the CPU); :meth:`reenact.codes.Codes.from_fit` makes a target's codes of
        it."""
        self.check_codes(expression, identity)
        image = images_to_tensor(image_crop, self.device)
        mask = torch.as_tensor(np.asarray(mask_crop, np.float32), device=self.device)[None]
        result = fit_codes(
            self.model,
            image,
            mask,
            torch.as_tensor(np.asarray(cam_to_world, np.float32), device=self.device),
            torch.as_tensor(np.asarray(expression, np.float32), device=self.device),
            torch.as_tensor(np.asarray(identity, np.float32), device=self.device),
            config,
            progress=(lambda report: progress(1)) if progress is not None else None,
            landmarks=None
            if landmarks is None
            else torch.as_tensor(np.asarray(landmarks, np.float32), device=self.device),
            expression_basis=None
            if expression_basis is None
            else torch.as_tensor(np.asarray(expression_basis, np.float32)),
            face=self._face(face, 1),
        )
        return result

    @contextlib.contextmanager
    def renderer_override(self, state: dict[str, np.ndarray]) -> Iterator[None]:
        """Use a target's fine-tuned neural-renderer weights (``fit --finetune-renderer``) inside the
        block."""
        if not state:
            yield
            return
        renderer = self.model.renderer
        saved = {k: v.detach().clone() for k, v in renderer.state_dict().items()}
        try:
            renderer.load_state_dict({k: torch.as_tensor(v, device=self.device) for k, v in state.items()})
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"fine-tuned renderer weights do not fit this checkpoint: {exc}") from None
        try:
            yield
        finally:
            renderer.load_state_dict(saved)
