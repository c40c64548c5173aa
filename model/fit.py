"""Fitting the head model to one image (paper §4.3): the network is frozen; identity code, expression code
and a camera correction are optimised against the image with the training losses.

Inputs: a trained :class:`HeadModel`; image (3, H, W) float in [0, 1]; head mask (1, H, W) in [0, 1];
initial cam_to_world (4, 4) (tracked), expression (E,) (tracked) and identity (D,) (from the identity
encoder); a :class:`FitConfig`. Output: :class:`FitResult` with the fitted codes and corrected camera, the
PSNR/SSIM/masked-L1 of the fit before and after, the loss history and, when requested, a fine-tuned
neural-renderer ``state_dict``.

Conventions
    * Image and mask are resized (area) to the model's output size. Metrics compare the render with the
      image with its background blacked out (the model's background is black), over the whole crop;
      masked L1 is inside the head mask.
    * Camera correction: cam_to_world' = [R(ω) | τ] · cam_to_world, ω an axis-angle vector (radians) and τ a
      translation in head units, both starting at zero — a small rigid motion of the camera about the head.
    * Rendering is deterministic (bin-midpoint samples). The caller's model is left unchanged: parameters
      are frozen only during the call, and renderer fine-tuning (on by default) works on a copy.
    * Renderer fine-tuning sees the fitted view and, by default, the camera rolled about its optical axis
      (±10°) paired with the photo turned to match — exact new views of the one image (``model/augment.py``).
      Tuned on one feature map, the copy memorises that pixel layout; the driven frames' feature maps are
      never that one.
    * With ``finetune_expression_views`` > 0 it also sees pseudo-views of the target making other expressions:
      the photo warped as the landmark model moves the target's landmarks for a random δβ, paired with the
      field's render of the fitted β + δβ at the fitted camera (``model/expression_views.py``): what a change
      should look like at the photo's sharpness, which no real view of a single image can show.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from model.augment import roll_cameras, roll_images
from model.camera import Camera
from model.config import FIT_ITERATIONS
from model.expression_views import (
    DEFAULT_RADIUS,
    expression_views,
    landmark_motion,
    random_expression_changes,
)
from model.head_model import HeadModel
from model.losses import HeadLoss
from model.metrics import masked_l1, psnr, ssim


@dataclass(frozen=True)
class FitConfig:
    """Settings of :func:`fit_codes`."""

    iterations: int = FIT_ITERATIONS
    """Optimisation steps of the codes and camera (paper: 300)."""
    identity_lr: float = 1e-2
    """Adam learning rate of the identity code."""
    expression_lr: float = 1e-2
    """Adam learning rate of the expression code."""
    camera_lr: float = 1e-3
    """Adam learning rate of the camera correction (radians / head units per step scale)."""
    optimize_camera: bool = True
    """Optimise the camera correction (else keep the given camera)."""
    finetune_renderer: bool = True
    """Afterwards, briefly fine-tune a copy of the neural renderer on the image for fidelity. On by default:
    on held-out people it raised driven frames by 1.8–2.1 dB and identity similarity by 0.03–0.04
    (``docs/experiments.md``, "Renderer fine-tuning on the target"); the network itself is unchanged."""
    finetune_iterations: int = 100
    """Steps of renderer fine-tuning."""
    finetune_lr: float = 1e-4
    """Adam learning rate of renderer fine-tuning."""
    finetune_roll_degrees: float = 10.0
    """Renderer fine-tuning also on the camera rolled about its optical axis by up to this many degrees,
    paired with the photo turned to match (an exact new view, ``model/augment.py``), so the copy learns the
    target from more than one feature map instead of one pixel layout; 0 = the fitted view only. 10: on
    held-out people the driven frames' margin over the still frame grew on both samples
    (``docs/experiments.md``, "Rolled views in the fine-tuning")."""
    finetune_views: int = 3
    """Views of that fine-tuning (evenly spaced rolls in ±``finetune_roll_degrees``, the fitted view among
    them when the count is odd); used only when ``finetune_roll_degrees`` > 0."""
    finetune_expression_views: int = 0
    """Renderer fine-tuning also on this many pseudo-views of the target making other expressions: the photo
    warped as the landmark model moves its landmarks for a random δβ, paired with the field's render of β + δβ
    (``model/expression_views.py``; needs the target's landmarks and the expression basis); 0 = none."""
    finetune_expression_scale: float = 1.0
    """Standard deviation (σ units) of those δβ, per component the field sees."""
    finetune_warp_radius: float = DEFAULT_RADIUS
    """Width (crop-normalized) of the photo warp of the expression pseudo-views."""
    chunk_rays: int = 4096
    """Rays per field evaluation chunk."""

    @property
    def total_iterations(self) -> int:
        """Progress reports one call makes: code steps, then renderer steps when fine-tuning."""
        return self.iterations + (self.finetune_iterations if self.finetune_renderer else 0)

    @property
    def uses_expression_views(self) -> bool:
        """Fine-tuning sees expression pseudo-views (needs the target's landmarks and the expression
        basis)."""
        return self.finetune_renderer and self.finetune_expression_views > 0


@dataclass
class FitProgress:
    """One progress report."""

    iteration: int
    total: int
    loss: float
    stage: str
    """``"codes"`` or ``"renderer"``."""


@dataclass
class FitResult:
    """Outcome of :func:`fit_codes` (tensors on the CPU)."""

    identity: torch.Tensor
    """(D,) fitted identity code."""
    expression: torch.Tensor
    """(E,) fitted expression code."""
    cam_to_world: torch.Tensor
    """(4, 4) corrected camera."""
    psnr: float
    """PSNR (dB) of the final fit."""
    ssim: float
    """SSIM of the final fit."""
    l1: float
    """Masked L1 of the final fit."""
    psnr_initial: float
    """PSNR of the render from the initial codes and camera."""
    ssim_initial: float
    """SSIM of the initial render."""
    loss_history: list[float] = field(default_factory=list)
    """Loss of every iteration (codes, then renderer fine-tuning)."""
    render: torch.Tensor | None = None
    """(3, H, W) final render."""
    renderer_state: dict[str, torch.Tensor] | None = None
    """Fine-tuned neural renderer weights (only with ``finetune_renderer``)."""


def axis_angle_matrix(omega: torch.Tensor) -> torch.Tensor:
    """Differentiable Rodrigues formula: (3,) axis-angle → (3, 3) rotation (smooth at zero)."""
    theta_sq = (omega * omega).sum()
    theta = torch.sqrt(theta_sq + 1e-12)
    zero = omega.new_zeros(())
    k = torch.stack(
        [
            torch.stack([zero, -omega[2], omega[1]]),
            torch.stack([omega[2], zero, -omega[0]]),
            torch.stack([-omega[1], omega[0], zero]),
        ]
    )
    eye = torch.eye(3, dtype=omega.dtype, device=omega.device)
    return eye + (torch.sin(theta) / theta) * k + ((1.0 - torch.cos(theta)) / (theta_sq + 1e-12)) * (k @ k)


def corrected_camera(
    cam_to_world: torch.Tensor, omega: torch.Tensor, translation: torch.Tensor
) -> torch.Tensor:
    """[R(ω) | τ] · cam_to_world, (4, 4)."""
    delta = torch.eye(4, dtype=cam_to_world.dtype, device=cam_to_world.device)
    delta = torch.cat([torch.cat([axis_angle_matrix(omega), translation[:, None]], dim=1), delta[3:]], dim=0)
    return delta @ cam_to_world


def fit_codes(
    model: HeadModel,
    image: torch.Tensor,
    mask: torch.Tensor,
    cam_to_world: torch.Tensor,
    expression: torch.Tensor,
    identity: torch.Tensor,
    config: FitConfig,
    progress: Callable[[FitProgress], None] | None = None,
    landmarks: torch.Tensor | None = None,
    expression_basis: torch.Tensor | None = None,
    face: torch.Tensor | None = None,
) -> FitResult:
    """Fit identity, expression and camera correction to ``image``; see the module docstring. ``landmarks``
    (L, 3), the target's tracked face (head frame), and the landmark model's ``expression_basis`` (E, L, 3)
    are for the expression pseudo-views (``config.finetune_expression_views``; then required). ``face``
    (1, L, 3): the target's face at rest for a surface-warp field (``model/field.py``; None: mean face)."""
    if config.uses_expression_views and (landmarks is None or expression_basis is None):
        raise ValueError(
            "FitConfig.finetune_expression_views > 0 needs the target's landmarks and the expression basis"
        )
    device = next(model.parameters()).device
    size = model.config.renderer.output_size
    image = (
        F.interpolate(image[None].float().to(device), size=(size, size), mode="area")
        if image.shape[-1] != size
        else image[None].float().to(device)
    )
    mask = (
        F.interpolate(mask[None].float().to(device), size=(size, size), mode="area")
        if mask.shape[-1] != size
        else mask[None].float().to(device)
    )
    target = image * mask
    base_camera = cam_to_world.float().to(device)
    identity_code = identity.float().to(device).clone()[None].requires_grad_(True)
    expression_code = expression.float().to(device).clone()[None].requires_grad_(True)
    omega = torch.zeros(3, device=device, requires_grad=True)
    translation = torch.zeros(3, device=device, requires_grad=True)
    loss_fn = HeadLoss(model.config.loss).to(device)
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    model.requires_grad_(False)
    groups = [
        {"params": [identity_code], "lr": config.identity_lr},
        {"params": [expression_code], "lr": config.expression_lr},
    ]
    if config.optimize_camera:
        groups.append({"params": [omega, translation], "lr": config.camera_lr})
    optimizer = torch.optim.Adam(groups)
    history: list[float] = []

    def render(renderer_model: HeadModel) -> tuple[torch.Tensor, torch.Tensor]:
        camera = Camera(corrected_camera(base_camera, omega, translation)[None])
        output = renderer_model(camera, expression_code, identity_code, None, config.chunk_rays, face)
        return output.image, output.opacity

    try:
        with torch.no_grad():
            initial = render(model)[0]
        psnr_initial, ssim_initial = float(psnr(initial, target)), float(ssim(initial, target))
        for iteration in range(1, config.iterations + 1):
            rendered, opacity = render(model)
            loss = loss_fn(rendered, image, mask, opacity).total
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.append(float(loss.detach()))
            if progress is not None:
                progress(FitProgress(iteration, config.iterations, history[-1], "codes"))
        renderer_state = None
        final_model = model
        if config.finetune_renderer and config.finetune_iterations > 0:
            final_model = copy.deepcopy(model)
            final_model.renderer.requires_grad_(True)
            tune = torch.optim.Adam(final_model.renderer.parameters(), lr=config.finetune_lr)
            with torch.no_grad():
                fitted_camera = corrected_camera(base_camera, omega, translation)
                tune_camera = fitted_camera[None]
                tune_image, tune_mask = image, mask
                if config.finetune_roll_degrees > 0 and config.finetune_views > 1:
                    angles = torch.deg2rad(
                        torch.linspace(
                            -config.finetune_roll_degrees,
                            config.finetune_roll_degrees,
                            config.finetune_views,
                            device=device,
                        )
                    )
                    tune_camera = roll_cameras(tune_camera.expand(len(angles), -1, -1), angles)
                    tune_image = roll_images(image.expand(len(angles), -1, -1, -1), angles, "border")
                    tune_mask = roll_images(mask.expand(len(angles), -1, -1, -1), angles, "zeros")
                tune_expression = expression_code.expand(len(tune_camera), -1)
                if config.uses_expression_views:
                    seen = model.config.field.seen_expression_components
                    changes = random_expression_changes(
                        config.finetune_expression_views, seen, config.finetune_expression_scale
                    ).to(device)
                    warped, warped_mask = expression_views(
                        image,
                        mask,
                        landmarks,
                        landmark_motion(changes, expression_basis),
                        fitted_camera,
                        config.finetune_warp_radius,
                    )
                    changed = expression_code.expand(len(changes), -1).clone()
                    changed[:, :seen] += changes
                    tune_camera = torch.cat([tune_camera, fitted_camera[None].expand(len(changes), -1, -1)])
                    tune_image, tune_mask = (
                        torch.cat([tune_image, warped]),
                        torch.cat([tune_mask, warped_mask]),
                    )
                    tune_expression = torch.cat([tune_expression, changed])
                views = len(tune_camera)
                fixed = final_model(
                    Camera(tune_camera),
                    tune_expression,
                    identity_code.expand(views, -1),
                    None,
                    config.chunk_rays,
                    None if face is None else face.expand(views, -1, -1),
                )
            for iteration in range(1, config.finetune_iterations + 1):
                rendered = final_model.renderer(
                    fixed.feature_map
                )  # every view each step (one view in turn: worse)
                loss = loss_fn(rendered, tune_image, tune_mask, fixed.opacity).total
                tune.zero_grad(set_to_none=True)
                loss.backward()
                tune.step()
                history.append(float(loss.detach()))
                if progress is not None:
                    progress(FitProgress(iteration, config.finetune_iterations, history[-1], "renderer"))
            renderer_state = {
                k: v.detach().cpu().clone() for k, v in final_model.renderer.state_dict().items()
            }
        with torch.no_grad():
            final = render(final_model)[0]
            final_camera = corrected_camera(base_camera, omega, translation)
    finally:
        for parameter, flag in zip(model.parameters(), flags):
            parameter.requires_grad_(flag)
        model.train(was_training)
    return FitResult(
        identity=identity_code.detach()[0].cpu(),
        expression=expression_code.detach()[0].cpu(),
        cam_to_world=final_camera.detach().cpu(),
        psnr=float(psnr(final, target)),
        ssim=float(ssim(final, target)),
        l1=float(masked_l1(final, target, mask)),
        psnr_initial=psnr_initial,
        ssim_initial=ssim_initial,
        loss_history=history,
        render=final[0].detach().cpu(),
        renderer_state=renderer_state,
    )
