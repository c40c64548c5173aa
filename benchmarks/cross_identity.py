"""Cross-identity drives measured from outside: held-out clips driving portraits never trained on.

    python benchmarks/cross_identity.py [--max-frames 100] [--pairs NAME ...] [--out-dir DIR]
                                        [--model-outputs DIR] [--drive] [--drive-args "ARGS"]

Per pair, rows (each an mp4 measured with :func:`reenact.viewer_metrics.compare`):

- ``still``: the target portrait repeated (no motion): the floor for following, the ceiling for identity;
- ``morph``: the 2D landmark morph (:mod:`reenact.morph`): the yardstick a model should beat;
- ``model``: with ``--model-outputs DIR``, an existing ``reenact drive`` output ``DIR/<pair>.mp4``;
- ``drive``: with ``--drive``, ``reenact drive`` run here with its defaults (plus ``--drive-args``) on the
  clip's first ``--max-frames`` frames (re-encoded into the out dir) and the portrait, fit included.

Columns: Pearson r of mouth, eyes, yaw, pitch (source against output); motion: the median over those
four of std(output) / std(source) (near 0: the output hardly moves, and its r are tracker noise); dlib
distance of the output to the target portrait and to the source's first frame (< 0.6: same person);
jitter ratio (output / source); detail ratio (output face / target photo face); fraction of output
frames with a face. Then the mean per row over pairs (NaN entries skipped). Generated videos go to
``--out-dir`` (a temporary folder when not given).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reenact.viewer_eval import (  # noqa: E402
    COLUMNS,
    baseline_videos,
    measure_outputs,
    measures_row,
    pair_name,
)
from reenact.viewer_metrics import DriveMeasures, FaceDescriber  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Pair:
    """A held-out clip (under videos/) driving a portrait the model never trained on (under portraits/)."""

    clip: str
    portrait: str

    @property
    def name(self) -> str:
        return pair_name(Path(self.clip), Path(self.portrait))


PAIRS = (
    Pair("retalking/4.mp4", "portrait4d/tom-hanks.jpg"),
    Pair("pcavs/00098.mp4", "headnerf/img_000190.png"),
    Pair("liveportrait/d6.mp4", "portrait4d/anne-hathaway.jpg"),
    Pair("misc/vexpress_radio.mp4", "headnerf/img_000208.png"),
    Pair("mead/M030_front_angry_level3_001.mp4", "deca/image02673.png"),
    Pair("mead/W009_front_surprised_level3_001.mp4", "portrait4d/michelle-yeoh.jpg"),
    Pair("mead/W011_front_happy_level3_001.mp4", "headnerf/img_000224.png"),
)
"""Held-out clips (retalking/4, pcavs/00098, liveportrait/d6, misc/vexpress_radio, mead/M030, W009, W011)
onto portraits outside the training folders (portrait4d/, headnerf/, deca/)."""


def row_values(measures: DriveMeasures) -> list[float]:
    """The table's columns for one row."""
    row = measures_row(measures)
    return [row[column] for column in COLUMNS]


def format_row(label: str, values: list[float]) -> str:
    return f"  {label:<8}" + "".join(f"{value:>8.2f}" for value in values)


def header() -> str:
    names = {"id_to_target": "id→tgt", "id_to_source": "id→src"}
    return f"  {'row':<8}" + "".join(f"{names.get(column, column):>8}" for column in COLUMNS)


def measure_pair(
    pair: Pair,
    data: Path,
    out_dir: Path,
    max_frames: int,
    model_outputs: Path | None,
    describer: FaceDescriber,
    drive_args: list[str] | None = None,
) -> dict[str, DriveMeasures]:
    """Make the still and morph outputs of one pair, and measure them (and the model's, if given)."""
    clip, portrait_path = data / "videos" / pair.clip, data / "portraits" / pair.portrait
    outputs = baseline_videos(clip, portrait_path, max_frames, out_dir)
    if model_outputs is not None:
        model = model_outputs / f"{pair.name}.mp4"
        if model.is_file():
            outputs["model"] = model
        else:
            print(f"  (no model output {model})")
    if drive_args is not None:
        outputs["drive"] = run_drive(clip, portrait_path, out_dir, pair.name, max_frames, drive_args)
    return measure_outputs(clip, portrait_path, outputs, max_frames, describer)


def run_drive(clip: Path, portrait: Path, out_dir: Path, name: str, max_frames: int, args: list[str]) -> Path:
    """``reenact drive`` on the clip's first ``max_frames`` frames and the portrait; the output's path."""
    from reenact.media.reading import open_video
    from reenact.media.writing import VideoWriter

    trimmed = out_dir / f"{name}__source.mp4"
    with open_video(clip) as reader, VideoWriter(trimmed, fps=reader.info.fps) as writer:
        for frame in reader:
            if frame.index >= max_frames:
                break
            writer.write(frame.image)
    output = out_dir / f"{name}__drive.mp4"
    command = [sys.executable, "-m", "reenact", "drive", str(trimmed), str(portrait), "-o", str(output)]
    subprocess.run([*command, "--force", "-q", *args], check=True, cwd=ROOT)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--max-frames", type=int, default=100, help="frames per clip (from its start)")
    parser.add_argument("--pairs", nargs="*", default=None, help="pair names to run (default: all)")
    parser.add_argument("--out-dir", type=Path, default=None, help="where the still and morph videos go")
    parser.add_argument("--model-outputs", type=Path, default=None, help="folder of <pair>.mp4 drive outputs")
    parser.add_argument("--drive", action="store_true", help="run reenact drive on each pair (fit included)")
    parser.add_argument("--drive-args", default="", help="extra reenact drive options, one string")
    args = parser.parse_args(argv)
    drive_args = shlex.split(args.drive_args) if args.drive else None

    pairs = [pair for pair in PAIRS if args.pairs is None or pair.name in args.pairs]
    if not pairs:
        parser.error(f"no such pair; known: {', '.join(pair.name for pair in PAIRS)}")
    temporary = tempfile.TemporaryDirectory() if args.out_dir is None else None
    out_dir = Path(temporary.name) if temporary else args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    describer = FaceDescriber()
    table: dict[str, list[list[float]]] = {}
    for pair in pairs:
        print(f"{pair.name}  ({pair.clip} → {pair.portrait})")
        measured = measure_pair(
            pair, args.data, out_dir, args.max_frames, args.model_outputs, describer, drive_args
        )
        print(header())
        for label, measures in measured.items():
            values = row_values(measures)
            table.setdefault(label, []).append(values)
            print(format_row(label, values))
        print(f"  ({next(iter(measured.values())).frames} frames)", flush=True)
    print(f"mean over {len(pairs)} pairs (NaN skipped)")
    print(header())
    for label, rows in table.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (a still's following)
            print(format_row(label, list(np.nanmean(np.array(rows), axis=0))))
    if temporary:
        temporary.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
