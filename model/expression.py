"""What the model's expression code β is measured from: one rule for training and for driving.

Runtime code (``reenact/motion.py``) and the training cache reader (``model/data.py``) both import
:func:`relative_to_reference` from here, so driving never needs the training-data module.
"""

from __future__ import annotations

import numpy as np

EXPRESSION_REFERENCES = ("none", "clip_mean")
"""What the model's β is measured from. ``"none"``: the tracker's code as it is. ``"clip_mean"``: the code
minus the mean code of the clip it comes from (a single image is its own mean, so its β is 0). Why: with ~30
training people the tracker's per-person mean code differs between people more than a person's codes vary
(measured on the shipped cache: between-clip variance 26.1 vs within-clip 22.6, summed over components), so
an uncentred β also tells the network *who* it is looking at, and driving an unseen face with it moves the
face toward other people. Training (``model/data.py``) and inference (``reenact/motion.py``) both use
:func:`relative_to_reference`."""


def relative_to_reference(
    expression: np.ndarray, reference: str, valid: np.ndarray | None = None
) -> np.ndarray:
    """(N, E) codes of one clip → (N, E) float32 codes measured from ``reference``; the clip mean is taken
    over the ``valid`` rows (all rows when None or none is valid)."""
    if reference not in EXPRESSION_REFERENCES:
        raise ValueError(f"expression_reference must be one of {EXPRESSION_REFERENCES}, got {reference!r}")
    expression = np.asarray(expression, np.float32)
    if reference == "none":
        return expression.copy()
    rows = expression[np.asarray(valid, bool)] if valid is not None and np.any(valid) else expression
    return (expression - rows.mean(axis=0, keepdims=True)).astype(np.float32)
