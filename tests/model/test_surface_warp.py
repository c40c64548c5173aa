"""The surface warp carries the landmark model's motion exactly at the face and keeps lips and lids apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.surface_warp import SurfaceWarp, closest_points_on_triangles
from tracking.landmark_model import LandmarkModel, mesh_triangles

UPPER_LIP, LOWER_LIP = [13, 82, 81, 312, 311], [14, 87, 178, 317, 402]
UPPER_LID, LOWER_LID = [159, 158, 160, 386, 385, 387], [145, 144, 153, 374, 373, 380]


@pytest.fixture(scope="module")
def landmarks() -> LandmarkModel:
    return LandmarkModel.default()


def make_warp(mean: np.ndarray, basis: np.ndarray, radius: float = 0.1) -> SurfaceWarp:
    warp = SurfaceWarp(basis.shape[0], radius)
    warp.set_shape(mean, basis, mesh_triangles())
    return warp


def jaw_opening(landmarks: LandmarkModel) -> tuple[np.ndarray, float]:
    """The landmark model's component that moves the inner lips apart most, and β that opens them by 0.1 head
    units (about twice the mean face's gap; y points down in the head frame, so the lower lip's y grows)."""
    gap = landmarks.expression_basis[:, 14, 1] - landmarks.expression_basis[:, 13, 1]
    component = int(np.argmax(np.abs(gap[:10])))
    return component, 0.1 / gap[component]


def test_open_mouth_lands_lips_where_the_model_puts_them(landmarks: LandmarkModel) -> None:
    warp = make_warp(landmarks.mean, landmarks.expression_basis)
    component, amount = jaw_opening(landmarks)
    beta = torch.zeros(1, landmarks.num_expression)
    beta[0, component] = amount
    posed = landmarks.mean + amount * landmarks.expression_basis[component]
    lips = UPPER_LIP + LOWER_LIP
    assert (
        np.linalg.norm(posed[14] - posed[13]) > np.linalg.norm(landmarks.mean[14] - landmarks.mean[13]) + 0.08
    )
    # Points on the posed lips, and just inside the head behind them, go back to their rest places.
    inward = np.array([0.0, 0.0, -0.01], np.float32)
    for offset in (np.zeros(3, np.float32), inward):
        back = warp(torch.tensor(posed[lips] + offset)[None], beta)[0].numpy()
        error = np.linalg.norm(back - (landmarks.mean[lips] + offset), axis=1)
        gap = np.linalg.norm(landmarks.mean[14] - landmarks.mean[13])
        assert error.max() < 0.1 * gap, error


def test_closing_eye_keeps_lids_apart(landmarks: LandmarkModel) -> None:
    # The shipped landmark model has no blink component (its eyelids move < 0.002 head units per σ), so the
    # blink is built on the same mesh: the upper lids come down onto the lower lids.
    mean = landmarks.mean
    blink = np.zeros((1, *mean.shape), np.float32)
    for upper, lower in zip(UPPER_LID, LOWER_LID):
        blink[0, upper] = 0.9 * (mean[lower] - mean[upper])
    warp = make_warp(mean, blink)
    beta = torch.ones(1, 1)
    posed = mean + blink[0]
    lids = UPPER_LID + LOWER_LID
    back = warp(torch.tensor(posed[lids])[None], beta)[0].numpy()
    error = np.linalg.norm(back - mean[lids], axis=1)
    lid_gap = np.linalg.norm(mean[159] - mean[145])
    assert error.max() < 0.15 * lid_gap, error


def test_far_points_and_rest_expression_do_not_move(landmarks: LandmarkModel) -> None:
    warp = make_warp(landmarks.mean, landmarks.expression_basis)
    component, amount = jaw_opening(landmarks)
    beta = torch.zeros(1, landmarks.num_expression)
    beta[0, component] = amount
    centre = landmarks.mean.mean(0)
    far = torch.tensor(centre + np.array([[0, 0, -2.0], [2.0, 0, 0], [0, 2.0, 0]], np.float32))[None]
    assert torch.equal(warp.displacement(far, beta), torch.zeros_like(far))
    near = torch.tensor(landmarks.mean[None] + 0.02)
    assert torch.allclose(warp(near, torch.zeros_like(beta)), near)


def test_gradient_reaches_expression_and_rest_shape(landmarks: LandmarkModel) -> None:
    warp = make_warp(landmarks.mean, landmarks.expression_basis)
    beta = torch.zeros(2, landmarks.num_expression, requires_grad=True)
    rest = torch.tensor(np.repeat(landmarks.mean[None], 2, 0))
    points = rest[:, [14, 13, 1]] + 0.005
    warp(points, beta, rest).sum().backward()
    assert beta.grad is not None and beta.grad[:, :10].abs().sum() > 0


def test_own_face_shape_is_used(landmarks: LandmarkModel) -> None:
    """With a person's rest face the lips found are that person's, not the mean face's."""
    warp = make_warp(landmarks.mean, landmarks.expression_basis)
    component, amount = jaw_opening(landmarks)
    identity = np.zeros(landmarks.num_identity, np.float32)
    identity[:3] = 2.0 * landmarks.identity_std[:3]
    rest = landmarks.shape(identity)
    posed = rest + amount * landmarks.expression_basis[component]
    beta = torch.zeros(1, landmarks.num_expression)
    beta[0, component] = amount
    lips = UPPER_LIP + LOWER_LIP
    back = warp(torch.tensor(posed[lips])[None], beta, torch.tensor(rest)[None])[0].numpy()
    assert np.abs(back - rest[lips]).max() < 1e-4


def test_closest_points_match_dense_sampling() -> None:
    generator = torch.Generator().manual_seed(0)
    a, b, c = (torch.rand(64, 3, generator=generator) for _ in range(3))
    points = torch.rand(64, 3, generator=generator) * 2 - 0.5
    weights, squared = closest_points_on_triangles(points, a, b, c)
    assert torch.allclose(weights.sum(-1), torch.ones(64), atol=1e-5) and (weights >= -1e-6).all()
    found = weights[:, :1] * a + weights[:, 1:2] * b + weights[:, 2:] * c
    assert torch.allclose((points - found).square().sum(-1), squared, atol=1e-5)
    grid = torch.linspace(0, 1, 161)
    u, v = torch.meshgrid(grid, grid, indexing="ij")
    keep = (u + v) <= 1
    u, v = u[keep], v[keep]
    samples = a[:, None] + u[None, :, None] * (b - a)[:, None] + v[None, :, None] * (c - a)[:, None]
    dense = (samples - points[:, None]).square().sum(-1).min(1).values
    assert (squared <= dense + 1e-6).all() and (dense - squared).max() < 1e-3


def test_state_dict_round_trip(landmarks: LandmarkModel) -> None:
    warp = make_warp(landmarks.mean, landmarks.expression_basis)
    copy = SurfaceWarp(landmarks.num_expression, 0.1)
    assert not copy.is_set
    copy.load_state_dict(warp.state_dict())
    assert copy.is_set and torch.equal(copy.triangles, warp.triangles) and torch.equal(copy.rings, warp.rings)


def test_vertex_motion_given_directly_is_beta_times_the_basis(landmarks: LandmarkModel) -> None:
    warp = make_warp(landmarks.mean, landmarks.expression_basis)
    component, amount = jaw_opening(landmarks)
    beta = torch.zeros(1, landmarks.num_expression)
    beta[0, component] = amount
    motion = torch.einsum("be,evc->bvc", beta, torch.as_tensor(landmarks.expression_basis))
    points = torch.as_tensor(landmarks.mean + amount * landmarks.expression_basis[component])[None]
    assert torch.allclose(warp(points, beta), warp(points, beta * 0, motion=motion), atol=1e-6)
