"""reenact/photo.py: the photo output's geometry on the shipped landmark model."""

from __future__ import annotations

import numpy as np
import torch

from reenact.photo import close_openings
from tracking.landmark_model import LandmarkModel
from tracking.landmarks import CHIN, LOWER_INNER_LIP, LOWER_LIDS, NOSE_TIP, UPPER_INNER_LIP, UPPER_LIDS


def test_lips_and_lids_meet_instead_of_passing_through_each_other() -> None:
    model = LandmarkModel.default()
    face = torch.as_tensor(model.shape())
    down = face[CHIN] - face[NOSE_TIP]
    down = down / down.norm()
    upper, lower = [*UPPER_INNER_LIP, *UPPER_LIDS], [*LOWER_INNER_LIP, *LOWER_LIDS]
    motion = torch.zeros(2, *face.shape)
    motion[0, upper] += 0.2 * down  # frame 0: upper lip and lids pushed far past the lower ones
    motion[1, lower] += 0.01 * down  # frame 1: opened a little: nothing to correct
    fixed = close_openings(face, motion)
    posed = face[None] + fixed
    gaps = ((posed[:, lower] - posed[:, upper]) * down).sum(-1)
    assert torch.all(gaps[0].abs() < 1e-5)  # they meet
    assert torch.equal(fixed[1], motion[1])
    # Only the paired points move, along the face's vertical, and each pair keeps its midpoint.
    others = np.setdiff1d(np.arange(face.shape[0]), upper + lower)
    assert torch.equal(fixed[0, others], motion[0, others])
    before = (face[None] + motion)[0, upper] + (face[None] + motion)[0, lower]
    assert torch.allclose(posed[0, upper] + posed[0, lower], before, atol=1e-6)
