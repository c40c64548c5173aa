"""Typed errors of ``reenact`` and the one exit-code map of the command line.

``reenact``, ``model`` (``model/errors.py``) and ``tracking`` (``tracking/errors.py``) each raise their own
error classes; only ``reenact/cli.py`` catches them, prints one line to stderr and exits with
:func:`exit_code`, which reads the one table :data:`EXIT_CODES`. The exit codes users see:

==  =========================================================
0   success
1   internal error (a bug: rerun with ``-v`` for the traceback)
2   usage error (bad option or argument; click's own code)
3   input error (missing, unreadable, empty or wrong kind of file)
4   no usable face found in an input
5   checkpoint / model / weights error
6   batch run finished but at least one pair failed
130 interrupted (Ctrl-C)
==  =========================================================
"""

from __future__ import annotations

import model.errors as model_errors
import tracking.errors as tracking_errors


class ReenactError(Exception):
    """Base class of the expected failures raised by ``reenact`` itself."""


class InputError(ReenactError):
    """An input file is missing, unreadable, empty, or not the kind of file expected."""


class BatchFailure(ReenactError):
    """A batch run completed, but some pairs failed (each was reported on its own)."""


EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_NO_FACE = 4
EXIT_CHECKPOINT = 5
EXIT_BATCH = 6
EXIT_INTERRUPTED = 130

EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    # reenact's own
    (BatchFailure, EXIT_BATCH),
    (InputError, EXIT_INPUT),
    (ReenactError, EXIT_INTERNAL),
    # model's
    (model_errors.CheckpointError, EXIT_CHECKPOINT),  # includes MissingWeightsError
    (model_errors.DataError, EXIT_INPUT),
    (model_errors.ModelError, EXIT_INTERNAL),
    # tracking's
    (tracking_errors.NoFaceError, EXIT_NO_FACE),
    (tracking_errors.TrackingInputError, EXIT_INPUT),
    (tracking_errors.ModelFileError, EXIT_CHECKPOINT),
    (tracking_errors.MissingWeightsError, EXIT_CHECKPOINT),
    (tracking_errors.TrackingError, EXIT_INTERNAL),
)
"""The one map from expected error classes to exit codes; the first row whose class matches wins (a subclass
before its base)."""

EXPECTED_ERRORS: tuple[type[Exception], ...] = tuple(cls for cls, _ in EXIT_CODES)
"""Every expected error class, for ``except EXPECTED_ERRORS``: a failure reported in one line, not a bug."""


def exit_code(exc: BaseException) -> int | None:
    """The exit code of an expected error, or None when ``exc`` is not one (a bug, or not an error of
    ours)."""
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return None
