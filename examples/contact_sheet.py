"""A contact sheet of a drive: source frames above the output's frames at a few moments, one JPEG.

    python examples/contact_sheet.py SOURCE OUTPUT -o sheet.jpg [--frames 0,20,40,60,80,100] [--width 1400]

``docs/contact_sheet.jpg`` is this script on the README's main command (``examples/talk.mp4`` driving
``examples/face.jpg`` with drive's defaults): both inputs are the committed, permissively licensed sample
(``examples/README.md``), and the clip's person (``retalking/4``) and the portrait were never trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reenact.media.images import write_image  # noqa: E402
from reenact.media.reading import open_video  # noqa: E402


def frames_at(path: Path, indices: list[int]) -> list[np.ndarray]:
    """The frames of ``path`` at ``indices`` (streamed; indices past the end are skipped)."""
    wanted, found = set(indices), {}
    with open_video(path) as reader:
        for frame in reader:
            if frame.index in wanted:
                found[frame.index] = frame.image
            if frame.index >= max(indices):
                break
    return [found[index] for index in indices if index in found]


def sheet(sources: list[np.ndarray], outputs: list[np.ndarray], width: int) -> np.ndarray:
    """Two rows (sources above outputs), every tile scaled to the output's height, then to ``width``."""
    height = outputs[0].shape[0]

    def row(images: list[np.ndarray]) -> np.ndarray:
        tiles = [cv2.resize(im, (round(im.shape[1] * height / im.shape[0]), height)) for im in images]
        return np.concatenate(tiles, axis=1)

    top, bottom = row(sources), row(outputs)
    top = cv2.resize(top, (bottom.shape[1], round(top.shape[0] * bottom.shape[1] / top.shape[1])))
    image = np.concatenate([top, bottom], axis=0)
    scale = min(1.0, width / image.shape[1])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--frames", default="0,20,40,60,80,100")
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args(argv)
    indices = [int(value) for value in args.frames.split(",")]
    outputs = frames_at(args.output, indices)
    sources = frames_at(args.source, indices)[: len(outputs)]
    write_image(args.out, sheet(sources, outputs, args.width))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
