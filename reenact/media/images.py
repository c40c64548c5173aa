"""Still images: reading photos (any mode, EXIF orientation applied) and writing PNG/JPEG atomically.

Images are ``(H, W, 3)`` ``uint8`` RGB, C-contiguous. A file that cannot be read raises
:class:`reenact.errors.InputError` with one line naming it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from reenact.errors import InputError
from reenact.media.files import check_file


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a still image as (H, W, 3) uint8 RGB with its EXIF orientation applied.

    Greyscale, 16-bit, palette and CMYK images are converted to RGB; transparent pixels are composited
    over white (alpha carries no meaning for a face photo, and black would look like hair).
    """
    path = Path(path)
    check_file(path, "image")
    try:
        with Image.open(path) as img:
            img.load()
            img = _exif_upright(img)
            return np.ascontiguousarray(_pil_to_rgb(img))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(f"{path}: not a readable image ({err})") from err


def _exif_upright(img: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a corrupt EXIF block must not make a readable photo unreadable
        return img


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode.startswith("I"):
        # 16-bit greyscale: scale to 8 bits (PIL's convert("L") would clip instead). Mode "I" is
        # 32-bit and says nothing of the depth: treat it as 16-bit only when values exceed 8 bits.
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.clip(np.rint(arr * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "F":
        grey = np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an RGB uint8 (H, W, 3) image (PNG/JPEG by suffix) atomically: temporary file, then rename."""
    path = Path(path)
    array = np.ascontiguousarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {array.shape} {array.dtype}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part{path.suffix}")
    try:
        Image.fromarray(array).save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
