"""The errors ``model`` raises: one base class, one subclass per kind of expected failure.

``model`` imports nothing from ``reenact``; the command line maps these classes to its exit codes in one
place (``reenact/errors.py``, :func:`reenact.errors.exit_code`).
"""

from __future__ import annotations


class ModelError(Exception):
    """Base class of every expected failure of the model package."""


class CheckpointError(ModelError):
    """A model checkpoint or weights file is missing, corrupt, not a reenact checkpoint, or incompatible."""


class MissingWeightsError(CheckpointError):
    """Optional weights (e.g. VGG16 for the perceptual loss) were asked for but not found at the given
    path."""


class DataError(ModelError):
    """Training data is missing or unusable: an empty or inconsistent training cache, a bad data option."""
