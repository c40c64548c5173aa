"""Which files are videos and which are still images, and finding them in folders: the one list for the
whole project (``reenact basis``/``python -m tracking.build_basis``, batch driving, the training cache, eval).

Inputs: paths. Outputs: sorted lists of paths; ``TrackingInputError`` (``tracking/errors.py``) for a path that
does not exist. By suffix only (case-insensitive); hidden files are skipped; any file can still be opened
directly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tracking.errors import TrackingInputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts", ".3gp"}
)
"""What counts as a video when a folder is searched."""


def is_image_path(path: str | os.PathLike) -> bool:
    """True when ``path`` names a still image by its suffix (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def find_videos(inputs: Iterable[str | os.PathLike], stills: bool = False) -> list[Path]:
    """Videos (and still images when ``stills``) given directly or found (recursively) in the given folders,
    sorted per folder. ``reenact eval`` and the landmark basis want videos only; the training cache takes
    stills too."""
    videos: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            videos.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and not p.name.startswith(".")
                    and (p.suffix.lower() in VIDEO_SUFFIXES or (stills and is_image_path(p)))
                )
            )
        elif path.is_file():
            videos.append(path)
        else:
            raise TrackingInputError(f"not found: {item}")
    return videos
