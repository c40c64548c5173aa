"""Build the landmark morphable model (``tracking/data/landmark_model.npz``) from real video.

The shipped file was produced by::

    python -m tracking.build_basis ../shared/data/videos -o tracking/data/landmark_model.npz --every 3

i.e. from *all* 62 clips of ``../shared/data/videos`` (every 3rd frame). The file is a landmark
statistic (a mean shape and principal directions of 468 MediaPipe landmarks), not a trained image
model: it holds no pixels and cannot reproduce any frame or face image.

Method
1. MediaPipe face mesh (video mode) on every ``--every``-th frame → 468 3D landmarks per frame (x, y in
   pixels, MediaPipe's relative depth z scaled like x).
2. Rigid pose removal: weighted generalized Procrustes (3D similarity: rotation, translation, scale) of
   every frame onto a common reference, in two passes. Pass 2 weights each landmark by the inverse of its
   within-person variance from pass 1, so rotation is judged on the rigid parts of the face (forehead,
   nose bridge, eye corners) and an open mouth does not tilt the head.
3. Persons: clip files are grouped by person (:func:`person_of`). Each person has a reference shape:
   the mean of their *neutral* clip where one exists (MEAD ``*_neutral_*``), else the mean of all their
   frames (talking-head clips are mostly near-neutral). The reference is subtracted from that person's
   frames; PCA of what is left (within-person deformation, uncentred, so β = 0 is the neutral face as in
   FaceWarehouse) gives the 46-component expression basis. PCA of the references around their mean
   gives the identity basis (components up to 98% of the between-person variance).
4. Everything is mapped into the canonical head frame of ``model/camera.py`` (x from the subject's right
   to left outer eye corner, y toward the chin, z = x × y away from the camera, scale so the outer eye
   corners are ``EYE_CORNER_DISTANCE`` apart, origin ``HEAD_CENTER_DEPTH`` behind the landmark centroid).
   Bases are scaled to σ units (unit-variance coefficients over the data).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from model.camera import EYE_CORNER_DISTANCE, HEAD_CENTER_DEPTH
from tracking.landmark_model import NUM_EXPRESSION, LandmarkModel
from tracking.landmarks import (
    CHIN,
    FOREHEAD,
    LEFT_EYE_OUTER,
    NUM_MESH_LANDMARKS,
    RIGHT_EYE_OUTER,
    FaceFollower,
    FaceMeshDetector,
)
from tracking.media_files import find_videos

# Clips known to show the same person (the shared data folder's own README.md): mapped to one person label.
_KNOWN_SAME_PERSON = {
    "liveportrait/d18": "liveportrait_d18_d19",
    "liveportrait/d19": "liveportrait_d18_d19",
    "sadtalker/WDA_AlexandriaOcasioCortez_000": "aoc",
    "misc/vexpress_aoc": "aoc",
    # Found by dlib descriptor distance between clips (0.11 and 0.23, where different people here are > 0.3).
    "retalking/3": "aoc",
    "pcavs/00002": "pcavs_00002_517600055",
    "pcavs/517600055": "pcavs_00002_517600055",
}


def person_of(path: str | Path) -> str:
    """Person label of a clip: MEAD files by their speaker prefix (M030_, W009_, …), known repeats
    merged, every other clip its own person."""
    path = Path(path)
    key = f"{path.parent.name}/{path.stem}"
    if key in _KNOWN_SAME_PERSON:
        return _KNOWN_SAME_PERSON[key]
    match = re.match(r"^([MW]\d{3})_", path.stem)
    if match:
        return f"mead_{match.group(1)}"
    return key


def video_landmarks(
    path: Path, every: int = 3, max_frames: int | None = None, z_scale: float = 1.0
) -> np.ndarray:
    """MediaPipe 3D landmarks (F, 468, 3) of every ``every``-th frame of one video (frames without a
    face are skipped)."""
    import av

    shapes = []
    follower = FaceFollower()
    with av.open(str(path)) as container, FaceMeshDetector(static_image_mode=False) as detector:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every:
                continue
            faces = detector.detect(frame.to_ndarray(format="rgb24"))
            face = follower.choose(faces)
            if face is not None:
                shapes.append(face[:NUM_MESH_LANDMARKS])
            if max_frames is not None and len(shapes) >= max_frames:
                break
    shapes = np.asarray(shapes, np.float64).reshape(-1, NUM_MESH_LANDMARKS, 3)
    shapes[..., 2] *= z_scale
    return shapes


def similarity_align(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted 3D similarity (Umeyama) of each source shape onto target: (F, P, 3) → aligned (F, P, 3)."""
    w = weights / weights.sum()
    target_mean = (w[:, None] * target).sum(0)
    tc = target - target_mean
    out = np.empty_like(source)
    for f, shape in enumerate(source):
        mean = (w[:, None] * shape).sum(0)
        sc = shape - mean
        cov = (tc * w[:, None]).T @ sc  # 3x3
        u, sing, vt = np.linalg.svd(cov)
        d = np.sign(np.linalg.det(u @ vt))
        fix = np.diag([1.0, 1.0, d])
        rot = u @ fix @ vt
        scale = (sing * np.diag(fix)).sum() / (w[:, None] * sc * sc).sum()
        out[f] = scale * sc @ rot.T + target_mean
    return out


def generalized_procrustes(shapes: np.ndarray, weights: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Align all shapes (F, P, 3) to their evolving weighted mean; returns the aligned shapes."""
    reference = shapes[0]
    aligned = shapes
    for _ in range(iterations):
        aligned = similarity_align(shapes, reference, weights)
        reference = aligned.mean(0)
    return aligned


def _pca(samples: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """samples (F, D) about their reference point → (directions (count, D), RMS along each (count,),
    cumulative explained ratio of the second moment)."""
    _, sing, vt = np.linalg.svd(samples, full_matrices=False)
    var = sing**2 / max(len(samples), 1)
    ratio = np.cumsum(var) / var.sum()
    return vt[:count], np.sqrt(var[:count]), ratio


def canonical_frame(mean: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Rotation (3,3), scale and translation taking the aligned mean to the canonical head frame."""
    x_axis = mean[LEFT_EYE_OUTER] - mean[RIGHT_EYE_OUTER]
    x_axis /= np.linalg.norm(x_axis)
    y_axis = mean[CHIN] - mean[FOREHEAD]
    y_axis -= x_axis * (y_axis @ x_axis)
    y_axis /= np.linalg.norm(y_axis)
    z_axis = np.cross(x_axis, y_axis)
    rotation = np.stack([x_axis, y_axis, z_axis])  # rows: new axes in old coordinates
    scale = EYE_CORNER_DISTANCE / np.linalg.norm(mean[LEFT_EYE_OUTER] - mean[RIGHT_EYE_OUTER])
    centred = (mean - mean.mean(0)) @ rotation.T * scale
    translation = -(mean.mean(0) @ rotation.T) * scale + np.array([0.0, 0.0, -HEAD_CENTER_DEPTH])
    # origin lies HEAD_CENTER_DEPTH behind (+z) the centroid ⇒ centroid sits at z = -HEAD_CENTER_DEPTH
    assert np.allclose(centred.mean(0), 0.0, atol=1e-9)
    return rotation, float(scale), translation


def build_model(
    shapes_by_person: dict[str, list[np.ndarray]],
    neutral_clip: dict[str, int] | None = None,
    num_expression: int = NUM_EXPRESSION,
    identity_variance: float = 0.98,
    max_identity: int = 30,
) -> tuple[LandmarkModel, dict[str, str]]:
    """PCA model from per-person lists of (F, 468, 3) MediaPipe landmark arrays (one per clip);
    ``neutral_clip[person]`` = index of that person's neutral clip in their list, if any."""
    neutral_clip = neutral_clip or {}
    people = sorted(p for p, lists in shapes_by_person.items() if sum(len(s) for s in lists))
    stacks = [np.concatenate(shapes_by_person[p]) for p in people]
    owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(stacks)])
    neutral = np.zeros(len(owner), bool)
    offset = 0
    for person in people:
        for k, clip in enumerate(shapes_by_person[person]):
            neutral[offset : offset + len(clip)] = neutral_clip.get(person) == k
            offset += len(clip)
    shapes = np.concatenate(stacks)
    weights = np.ones(NUM_MESH_LANDMARKS)
    for _ in range(2):  # pass 2 reweights landmarks by their within-person variability
        aligned = generalized_procrustes(shapes, weights)
        person_means = np.stack(
            [
                aligned[(owner == i) & neutral].mean(0)
                if ((owner == i) & neutral).any()
                else aligned[owner == i].mean(0)
                for i in range(len(people))
            ]
        )
        residual = aligned - person_means[owner]
        variance = (residual**2).sum(-1).mean(0)
        weights = 1.0 / (variance + 0.1 * np.median(variance))
    global_mean = person_means.mean(0)
    rotation, scale, translation = canonical_frame(global_mean)

    def to_head(points: np.ndarray) -> np.ndarray:
        return points @ rotation.T * scale

    expr_dirs, expr_std, expr_ratio = _pca(residual.reshape(len(shapes), -1), num_expression)
    id_samples = (person_means - global_mean).reshape(len(people), -1)
    id_dirs, id_std, id_ratio = _pca(id_samples, max(len(people) - 1, 0))
    num_identity = int(min(max_identity, np.searchsorted(id_ratio, identity_variance) + 1, len(id_std)))
    mean = to_head(global_mean) + translation
    expression_basis = to_head((expr_dirs * expr_std[:, None]).reshape(-1, NUM_MESH_LANDMARKS, 3))
    identity_basis = to_head(
        (id_dirs[:num_identity] * id_std[:num_identity, None]).reshape(-1, NUM_MESH_LANDMARKS, 3)
    )
    info = {
        "people": str(len(people)),
        "frames": str(len(shapes)),
        "expression_variance_10_20_46": " ".join(
            f"{expr_ratio[min(k, len(expr_ratio)) - 1]:.4f}" for k in (10, 20, num_expression)
        ),
        "identity_components": str(num_identity),
        "identity_variance": f"{id_ratio[num_identity - 1]:.4f}" if num_identity else "0",
    }
    model = LandmarkModel(
        mean=mean,
        identity_basis=identity_basis,
        expression_basis=expression_basis,
        identity_std=id_std[:num_identity] * scale,
        expression_std=expr_std * scale,
        metadata=info,
    )
    return model, info


def main(argv: list[str] | None = None, log: Callable[[str], None] = print) -> int:
    """Command line: ``python -m tracking.build_basis VIDEOS_OR_DIRS... -o OUT.npz [--every 3]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tracking.build_basis", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("inputs", nargs="+", help="video files or folders (searched recursively)")
    parser.add_argument("-o", "--output", required=True, help="output .npz")
    parser.add_argument("--every", type=int, default=3, help="use every k-th frame (default 3)")
    parser.add_argument(
        "--z-scale", type=float, default=1.0, help="scale of MediaPipe's depth relative to x, y (default 1)"
    )
    parser.add_argument("--max-frames", type=int, default=None, help="at most this many frames per clip")
    args = parser.parse_args(argv)
    videos = find_videos(args.inputs)
    by_person: dict[str, list[np.ndarray]] = {}
    neutral_clip: dict[str, int] = {}
    used = []
    for path in videos:
        shapes = video_landmarks(path, every=args.every, max_frames=args.max_frames, z_scale=args.z_scale)
        log(f"{path}: {len(shapes)} frames with a face ({person_of(path)})")
        if len(shapes):
            clips = by_person.setdefault(person_of(path), [])
            if "_neutral_" in Path(path).stem:
                neutral_clip[person_of(path)] = len(clips)
            clips.append(shapes)
            used.append(str(Path(path).as_posix()))
    model, info = build_model(by_person, neutral_clip)
    model.metadata.update(
        command="python -m tracking.build_basis "
        + " ".join(args.inputs)
        + f" -o {args.output} --every {args.every}",
        clips=str(len(used)),
    )
    model.save(args.output)
    log(f"wrote {args.output}: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
