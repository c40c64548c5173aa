"""Safe ``.npz`` files for every reenact data file (tracks, landmark models, codes, training cache).

Writes go to a hidden temporary file in the same folder and are renamed into place, so an interrupted
write never leaves a half file under the final name. Reads use ``allow_pickle=False`` (a data file can
never run code) and turn every failure into the caller's error type with one clear message.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray], compressed: bool = False) -> None:
    """Write ``arrays`` to ``path`` atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            (np.savez_compressed if compressed else np.savez)(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_npz(path: str | os.PathLike, error: type[Exception], what: str) -> dict[str, np.ndarray]:
    """All arrays of ``path``; raises ``error`` ("<what> not found" / "not a <what>") on any failure."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except Exception as exc:  # zip/format errors of a file that is not an .npz
        raise error(f"not a {what}: {path} ({exc.__class__.__name__})") from None
