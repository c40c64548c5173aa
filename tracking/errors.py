"""The errors ``tracking`` raises: one base class, one subclass per kind of expected failure.

``tracking`` imports nothing from ``reenact`` (and from ``model`` only the camera convention and the face-mesh
geometry); the command line maps these classes to its exit codes in one place (``reenact/errors.py``,
:func:`reenact.errors.exit_code`).
"""

from __future__ import annotations


class TrackingError(Exception):
    """Base class of every expected failure of the tracking package."""


class NoFaceError(TrackingError):
    """No usable face was found in an image or in (almost all of) a video."""


class TrackingInputError(TrackingError):
    """An input is missing, unreadable, empty, or not the kind of input expected (frames, track files,
    paths)."""


class ModelFileError(TrackingError):
    """The landmark model file is missing, corrupt or incompatible."""


class MissingWeightsError(TrackingError):
    """Optional weights of the identity encoder (ONNX model, dlib descriptor) were asked for but not found."""
