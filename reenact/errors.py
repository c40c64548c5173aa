"""Typed errors and the one exit-code map of the command line.

Library code raises these; only ``reenact/cli.py`` catches them, prints one line to stderr and exits
with ``exit_code``. Exit codes (documented in the README):

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


class ReenactError(Exception):
    """Base class of every expected failure; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(ReenactError):
    """An input file is missing, unreadable, empty, or not the kind of file expected."""

    exit_code = 3


class NoFaceError(ReenactError):
    """No usable face was found in an image or in (almost all of) a video."""

    exit_code = 4


class CheckpointError(ReenactError):
    """A model checkpoint, basis or weights file is missing, corrupt or incompatible."""

    exit_code = 5


class MissingWeightsError(CheckpointError):
    """Optional weights (VGG16, ONNX face recognizer) were asked for but not found at the given path."""

    exit_code = 5


class BatchFailure(ReenactError):
    """A batch run completed, but some pairs failed (each was reported on its own)."""

    exit_code = 6


EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
