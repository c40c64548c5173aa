"""What every media reader and writer of :mod:`reenact.media` shares: the checks of an input file and the
one-line reason of an FFmpeg failure."""

from __future__ import annotations

from pathlib import Path

import av

from reenact.errors import InputError

AV_ERRORS = (av.FFmpegError, OSError)
"""What PyAV raises for a file it cannot open, read or write."""


def check_file(path: Path, kind: str) -> None:
    """Raise InputError for a missing, non-regular or empty file."""
    if not path.exists():
        raise InputError(f"{path}: {kind} file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a {kind} file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: {kind} file is empty (0 bytes)")


def reason(err: BaseException) -> str:
    """The reason of a PyAV/FFmpeg error without the file name its message repeats ("...: '/x/y.mp4'")."""
    text = getattr(err, "strerror", None) or str(err)
    return str(text).strip() or type(err).__name__
