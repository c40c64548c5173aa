"""Closed-loop expression calibration of a fitted target: make the renders' expression *read* like the driver's.

Why: on a new face the model's response to β is weak and mixed — per component the expression the tracker reads
back in the renders follows the commanded change with gains from −2 to 3 and strong crosstalk (README, "Expression
calibration"), while it reads the real frames with gains near 0.85. So relative driving (β_target + the source's
change) puts the source's change through a distorting map A. Here A is measured for the one target: its fitted
view is rendered at β_target ± ``probe`` along each leading component, each render is tracked, and column k of A
is the read change per unit of commanded change k. Driving then commands M·Δ instead of Δ, with M the ridge
inverse (AᵀA + λI)⁻¹Aᵀ: where A is invertible the renders read Δ, where it is not (directions the model barely
renders) M stays small instead of pushing β far outside what the model was trained on.

Conventions
    * Only the ``components`` leading components are mapped (those the tracker reads most reliably; components
      the field does not see stay as the relative rule sets them).
    * The map is linear around the fitted code at the fitted camera: measured once per target (2·K renders and
      tracks, a few seconds), stored in the codes file, used for every frame.
    * A probe render the tracker finds no face in leaves the map out (the plain relative rule), never a guess.

Status: experimental, off by default (``reenact.defaults.CALIBRATE_EXPRESSION``; ``--calibrate-expression``). On
held-out people it did not bring the renders' expression closer to the driver's, and on trained people fitted
like new ones it moved it away (README, "Expression calibration"): one linear map measured at the fitted view
did not carry over to the driven frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.codes import no_expression_map
from reenact.engine import Engine
from reenact.errors import NoFaceError
from tracking.tracker import Tracker, TrackerConfig


@dataclass(frozen=True)
class CalibrationConfig:
    """How a target's expression response is probed and inverted."""

    components: int = 10
    """Leading expression components mapped (at most the ones the model's field sees)."""
    probe: float = 1.0
    """Size of each probe change, in the tracker's units (1 = one standard deviation of the component)."""
    ridge: float = 0.3
    """λ of the ridge inverse: the best of 0.05 / 0.3 / 1 on four clips of the first evaluation sample (README)."""


def response_matrix(engine: Engine, cam_to_world: np.ndarray, expression: np.ndarray, identity: np.ndarray,
                    tracker: Tracker, components: int, probe: float) -> np.ndarray:
    """A (K, K): the tracked change of each leading component per unit commanded change of each, measured by
    central differences at the fitted code and camera (render inside any renderer override of the caller)."""
    k = components
    probes = np.repeat(np.asarray(expression, np.float32)[None], 2 * k, 0)
    for j in range(k):
        probes[2 * j, j] += probe
        probes[2 * j + 1, j] -= probe
    cameras = np.repeat(np.asarray(cam_to_world, np.float32)[None], 2 * k, 0)
    identities = np.repeat(np.asarray(identity, np.float32)[None], 2 * k, 0)
    renders = np.concatenate(list(engine.render_batches(cameras, probes, identities, 8)))
    read = np.stack([tracker.track_image(render).expression[0, :k] for render in renders])
    return np.stack([(read[2 * j] - read[2 * j + 1]) / (2 * probe) for j in range(k)], axis=1).astype(np.float64)


def ridge_inverse(response: np.ndarray, ridge: float) -> np.ndarray:
    """M = (AᵀA + λI)⁻¹Aᵀ (K, K): the command whose reading is closest to a wanted change, kept small."""
    k = response.shape[1]
    return np.linalg.solve(response.T @ response + ridge * np.eye(k), response.T).astype(np.float32)


def calibrate_expression(engine: Engine, cam_to_world: np.ndarray, expression: np.ndarray, identity: np.ndarray,
                         config: CalibrationConfig = CalibrationConfig()) -> np.ndarray:
    """The expression map M (K, K) of one fitted target, or an empty (0, 0) array when a probe render shows no
    face the tracker can read (drive then uses the plain relative rule). Call inside the target's
    ``engine.renderer_override`` so the probes are rendered as its frames will be."""
    k = min(config.components, engine.config.field.seen_expression_components)
    with Tracker(TrackerConfig(crop_size=engine.render_size, smoothing=0.0)) as tracker:
        try:
            response = response_matrix(engine, cam_to_world, expression, identity, tracker, k, config.probe)
        except NoFaceError:
            return no_expression_map()
    return ridge_inverse(response, config.ridge)
