"""How small a head turn can the viewer measure read? A portrait is turned by a known, clean yaw (a smooth
random sequence with a set std in degrees) and the turned frames are measured as ``reenact eval`` measures
an output: MediaPipe's face mesh in video mode (``reenact/viewer_metrics.py``), the yaw proxy (nose tip minus
the eyes' midpoint, x, over the inter-ocular distance) against the proxy of the landmarks as they were
moved. Two ways of turning:

- ``2D warp``: the portrait's own MediaPipe landmarks (with their depth) rotated about the vertical axis
  and the photo warped piecewise-affinely onto them (the landmark morph's warp, ``reenact/morph.py``):
  nothing but the turn changes;
- ``drive``: the portrait fitted as ``reenact drive`` fits it and its photo rendered by the head model with
  the camera turned (``reenact/photo.py``), expression held.

Each is read in video mode (how the eval reads every video) and, for the 2D warp, in static mode (every
frame detected afresh). A row reading r ≪ 1 at an amplitude means the measure cannot follow a turn that
small, whatever made the video: the head motion of the near-static clips of the cross-identity protocol
is 0.6–0.8° (std of the tracked yaw).

    python benchmarks/diagnose_yaw_floor.py [--portrait IMAGE] [--amplitudes 0.5 1 2] [--frames 60]

Prints, per row and amplitude, the Pearson r of the read proxy with the moved one and the slope of the
read proxy on it (1: read at full size).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.camera import Camera  # noqa: E402
from model.photo_warp import project  # noqa: E402
from reenact.console import Reporter  # noqa: E402
from reenact.engine import Engine  # noqa: E402
from reenact.morph import MorphMesh  # noqa: E402
from reenact.pipeline import DriveOptions, fit_target, load_target, photo_rig  # noqa: E402
from reenact.viewer_metrics import follow_signals, load_image, pearson, track_frames  # noqa: E402
from tracking.landmarks import (  # noqa: E402
    NUM_MESH_LANDMARKS,
    FaceFollower,
    FaceMeshDetector,
    as_rgb_uint8,
)
from tracking.tracker import TrackerConfig  # noqa: E402


def yaw_sequence(frames: int, std_deg: float, seed: int = 0) -> np.ndarray:
    """A smooth random yaw (degrees, (frames,)) with the given std: white noise through a 9-frame window."""
    noise = np.random.default_rng(seed).standard_normal(frames + 20)
    smooth = np.convolve(noise, np.hanning(9), "same")[10 : 10 + frames]
    return smooth / smooth.std() * std_deg


def read_yaw(frames: list[np.ndarray], static: bool) -> np.ndarray:
    """The yaw proxy MediaPipe reads in each frame (video mode, as the eval, or static)."""
    if not static:
        return follow_signals(track_frames(frames, identity_every=0).landmarks)["yaw"]
    marks = []
    with FaceMeshDetector(static_image_mode=True, max_num_faces=1) as detector:
        for frame in frames:
            faces = detector.detect(as_rgb_uint8(frame))
            marks.append(
                faces[0][:NUM_MESH_LANDMARKS, :2] if faces else np.full((NUM_MESH_LANDMARKS, 2), np.nan)
            )
    return follow_signals(np.array(marks, np.float64))["yaw"]


def score(moved: np.ndarray, read: np.ndarray) -> tuple[float, float]:
    """Pearson r and the least-squares slope of ``read`` on ``moved`` (frames where both are finite)."""
    both = np.isfinite(moved) & np.isfinite(read)
    return pearson(moved, read), float(np.polyfit(moved[both], read[both], 1)[0])


def warp_frames(image: np.ndarray, yaws: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The portrait warped onto its landmarks turned by each yaw; and the turned landmarks' yaw proxy."""
    with FaceMeshDetector(static_image_mode=True, max_num_faces=4) as detector:
        face = FaceFollower().choose(detector.detect(as_rgb_uint8(image)))
    points = face[:NUM_MESH_LANDMARKS].astype(np.float64)  # x, y, z in pixels
    centre = points.mean(axis=0)
    mesh = MorphMesh.of(image)
    frames, shapes = [], []
    for yaw in yaws:
        turned = (points - centre) @ Rotation.from_euler("y", yaw, degrees=True).as_matrix().T + centre
        shapes.append(turned[:, :2])
        frames.append(mesh.render(turned[:, :2]))
    return frames, follow_signals(np.array(shapes))["yaw"]


def fitted_rig(engine: Engine, portrait: Path):  # noqa: ANN201 - reenact.photo.PhotoRig
    """The portrait fitted and made a photo rig as ``reenact drive`` does (its defaults)."""
    options = DriveOptions()
    config = TrackerConfig(crop_size=engine.render_size, smoothing=0.0)
    codes = fit_target(load_target(portrait, config), engine, options.fit_config(), Reporter(quiet=True), "")
    return photo_rig(codes, engine, options)


def drive_frames(rig, yaws: np.ndarray, batch: int = 8) -> tuple[list[np.ndarray], np.ndarray]:  # noqa: ANN001
    """The rig's photo rendered by the head model with the fitted camera turned about the head's vertical axis
    by each yaw; and the photo's face mesh's yaw proxy seen by those cameras."""
    codes = rig.codes
    turn = np.stack([np.eye(4)] * len(yaws))
    turn[:, :3, :3] = Rotation.from_euler("y", yaws[:, None], degrees=True).as_matrix()
    cameras = (turn @ np.asarray(codes.cam_to_world, np.float64)).astype(np.float32)
    expression = np.repeat(codes.expression[None], len(yaws), axis=0)
    change = np.zeros((len(yaws), rig.basis.shape[0]), np.float32)
    frames = []
    for start in range(0, len(yaws), batch):
        part = slice(start, start + batch)
        frames += rig.frames(cameras[part], expression[part], change[part])
    seen = project(rig.face[None].expand(len(yaws), -1, -1), Camera(torch.as_tensor(cameras)))[0]
    return frames, follow_signals(seen.cpu().numpy()[:, :NUM_MESH_LANDMARKS])["yaw"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = ROOT.parent / "shared" / "data"
    parser.add_argument(
        "--portrait", type=Path, default=data / "portraits" / "portrait4d" / "michelle-yeoh.jpg"
    )
    parser.add_argument("--amplitudes", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--no-drive", action="store_true", help="the 2D warp rows only (no fit, no model)")
    args = parser.parse_args()
    image = load_image(args.portrait)
    rig = None if args.no_drive else fitted_rig(Engine.load(None), args.portrait)
    rows: dict[str, list[str]] = {}
    for amplitude in args.amplitudes:
        yaws = yaw_sequence(args.frames, amplitude)
        frames, moved = warp_frames(image, yaws)
        for name, static in (("2D warp, video mode", False), ("2D warp, static mode", True)):
            r, slope = score(moved, read_yaw(frames, static))
            rows.setdefault(name, []).append(f"{r:.2f} / {slope:.2f}")
        if rig is not None:
            frames, moved = drive_frames(rig, yaws)
            r, slope = score(moved, read_yaw(frames, False))
            rows.setdefault("drive, video mode", []).append(f"{r:.2f} / {slope:.2f}")
        print(f"{amplitude}° done", file=sys.stderr, flush=True)
    print(f"yaw proxy read against the one moved: r / slope ({args.portrait.name}, {args.frames} frames)")
    print("| turned by | " + " | ".join(f"{a:g}° std" for a in args.amplitudes) + " |")
    print("|---|" + "---|" * len(args.amplitudes))
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
