"""Expression calibration: the response is measured as it is, its ridge inverse maps wanted changes, and drive
applies the map to the changes only."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from model.camera import orbit_cam_to_world
from reenact.calibration import CalibrationConfig, calibrate_expression, response_matrix, ridge_inverse
from reenact.motion import drive_parameters


class _LinearWorld:
    """A stand-in renderer and tracker: the 'render' is the commanded code; the tracker reads A @ code (plus a
    fixed offset, as the tracker reads renders with one)."""

    def __init__(self, response: np.ndarray) -> None:
        self.response = response
        self.offset = np.linspace(-0.3, 0.3, response.shape[0])

    def render_batches(self, cameras, expressions, identities, batch_size):
        for start in range(0, len(expressions), batch_size):
            yield np.asarray(expressions[start:start + batch_size], np.float64)

    def track_image(self, image):
        k = self.response.shape[0]
        return SimpleNamespace(expression=(self.response @ image[:k] + self.offset)[None])


def test_response_matrix_recovers_a_linear_response():
    generator = np.random.default_rng(0)
    response = generator.normal(size=(4, 4))
    world = _LinearWorld(response)
    expression = generator.normal(size=6).astype(np.float32)  # more components than are probed
    measured = response_matrix(world, np.eye(4), expression, np.zeros(3), world, components=4, probe=0.5)
    np.testing.assert_allclose(measured, response, atol=1e-5)


def test_ridge_inverse_inverts_and_stays_small_where_the_response_is_weak():
    response = np.array([[0.5, 0.2], [0.0, 0.01]])  # component 1 is barely rendered
    np.testing.assert_allclose(ridge_inverse(response, 1e-9) @ response, np.eye(2), atol=1e-4)
    mapped = ridge_inverse(response, 0.3)
    # Hand value: (AᵀA + 0.3 I)⁻¹Aᵀ.
    expected = np.linalg.inv(response.T @ response + 0.3 * np.eye(2)) @ response.T
    np.testing.assert_allclose(mapped, expected, rtol=1e-5)
    assert np.abs(mapped).max() < 2.0  # the exact inverse would ask for 100× the change of component 1
    # M·w is the command c minimising |A c − w|² + λ|c|²: better than driving w as it is, or not at all.
    def penalised(command, wanted):
        return np.sum((response @ command - wanted) ** 2) + 0.3 * np.sum(command**2)

    for wanted in (np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, -1.0])):
        best = penalised(mapped @ wanted, wanted)
        assert best < penalised(wanted, wanted) and best < penalised(np.zeros(2), wanted)
        for step in (np.array([0.01, 0.0]), np.array([0.0, 0.01])):
            assert best <= penalised(mapped @ wanted + step, wanted) and best <= penalised(mapped @ wanted - step, wanted)


def test_drive_applies_the_map_to_changes_of_the_leading_components_only():
    frames = 3
    pose = np.repeat(orbit_cam_to_world(0.0)[None], frames, 0).astype(np.float32)
    source = np.zeros((frames, 4), np.float32)
    source[1] = [1.0, 0.0, 0.0, 1.0]
    source[2] = [0.0, 2.0, 0.0, 0.0]
    target = np.array([0.5, -0.5, 0.1, 0.2], np.float32)
    valid = np.ones(frames, bool)
    expression_map = np.array([[2.0, 0.0], [1.0, 0.5]], np.float32)
    _, plain = drive_parameters(pose, source, valid, pose[0], target)
    _, mapped = drive_parameters(pose, source, valid, pose[0], target, expression_map=expression_map)
    np.testing.assert_allclose(mapped[0], target)  # no change at the reference frame, whatever the map
    np.testing.assert_allclose(mapped[1], [0.5 + 2.0, -0.5 + 1.0, 0.1, 0.2 + 1.0])
    np.testing.assert_allclose(mapped[2], [0.5, -0.5 + 1.0, 0.1, 0.2])
    _, empty = drive_parameters(pose, source, valid, pose[0], target, expression_map=np.zeros((0, 0), np.float32))
    np.testing.assert_array_equal(empty, plain)


def test_calibration_of_the_shipped_model_brings_read_changes_closer(shared_data):
    """On a real portrait (no fit: the encoder's identity at the tracked camera, to stay quick) the tracker reads
    the calibrated commands' renders closer to the wanted changes than the plain ones', over the leading
    components one at a time."""
    from reenact.engine import Engine
    from reenact.pipeline import identity_input, initial_expression, load_target
    from tracking.tracker import Tracker, TrackerConfig

    engine = Engine.load(None, "cpu")
    config = TrackerConfig(crop_size=engine.render_size, smoothing=0.0)
    target = load_target(shared_data / "portraits" / "liveportrait" / "s2.jpg", config)
    camera = target.track.pose[0]
    expression = initial_expression(target.track, 0, engine)
    identity = identity_input(target.track, engine)
    calibration = CalibrationConfig()
    expression_map = calibrate_expression(engine, camera, expression, identity, calibration)
    k = calibration.components
    assert expression_map.shape == (k, k) and np.isfinite(expression_map).all()

    wanted = np.eye(engine.expression_dim, dtype=np.float32)[:k]  # one unit change of each leading component
    plain = expression[None] + wanted
    calibrated = expression[None].repeat(k, 0)
    calibrated[:, :k] += wanted[:, :k] @ expression_map.T
    cameras = np.repeat(camera[None], k, 0)
    identities = np.repeat(identity[None], k, 0)
    with Tracker(config) as tracker:
        def read(codes: np.ndarray) -> np.ndarray:
            renders = np.concatenate(list(engine.render_batches(cameras[:len(codes)], codes, identities[:len(codes)], 8)))
            return np.stack([tracker.track_image(render).expression[0, :k] for render in renders])

        start = read(expression[None])[0]
        plain_error = np.abs(read(plain) - start - wanted[:, :k]).mean()
        calibrated_error = np.abs(read(calibrated) - start - wanted[:, :k]).mean()
    assert calibrated_error < plain_error, (calibrated_error, plain_error)
