"""What a viewer sees: measures of a driven video taken from outside, independent of how it was made.

A drive is a triple (source video, output video, target portrait). Both videos are tracked as whole frames
by MediaPipe's face mesh in video mode (one detector per video, frames in order: how a viewer's tracker
would follow them); the portrait in static mode. Every signal is divided by the inter-ocular distance of
the outer eye corners (landmarks 33–263), so the output may have another size or framing than the source
(a head crop, the full photo).

- following: Pearson correlation over frames, where both have a face, between source and output of
  mouth opening (inner-lip gap 13–14), eye opening (mean of 159–145 and 386–374), yaw proxy (nose tip 1
  minus the eyes' midpoint, x) and pitch proxy (the same, y); see :func:`follow_signals`, :func:`pearson`;
- identity: dlib's raw 128-d face descriptor (dlib's rule: distance < 0.6 is the same person) of every
  10th output frame, mean distance to the target portrait and to the source's first face frame;
- jitter: :func:`jitter` of the output over that of the source;
- detail: :func:`face_detail` (variance of the Laplacian of the face box at 64 px between the eyes),
  median over output frames, over the same measure on the target photo.

Entry points: :func:`measure_drive` (paths), or :func:`track_video` / :func:`track_frames`,
:func:`portrait_face` and :func:`compare` to reuse a tracked source or target across several outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tracking.identity import DlibEncoder
from tracking.landmarks import NUM_MESH_LANDMARKS, FaceFollower, FaceMeshDetector, as_rgb_uint8

EYE_OUTER = (33, 263)
"""Outer eye corners; their distance is the unit of every signal."""
INNER_LIPS = (13, 14)
EYE_LIDS = ((159, 145), (386, 374))
NOSE_TIP = 1
SIGNALS = ("mouth", "eyes", "yaw", "pitch")
SAME_PERSON = 0.6
"""dlib's threshold on its descriptor distance: below it, the same person."""
DETAIL_EYE_PX = 64.0
"""Eye-corner distance (px) the face crop is scaled to before the Laplacian."""
SOURCE_ONLY_FIRST = 1 << 30
"""``identity_every`` for a source: only its first face frame is described."""
MIN_FRAMES = 3
"""Fewest common frames for a correlation; below it :func:`pearson` is NaN."""


def read_video(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Stream the RGB uint8 frames (H, W, 3) of a video, at most ``max_frames`` (the project's one reader,
    ``reenact.media.reading.open_video``)."""
    from reenact.media.reading import open_video

    with open_video(path) as reader:
        for frame in reader:
            if max_frames is not None and frame.index >= max_frames:
                break
            yield frame.image


def video_fps(path: str | Path) -> float:
    """Frames per second of a video, as ``reenact.media.reading`` reads it."""
    from reenact.media.reading import open_video

    with open_video(path) as reader:
        return reader.info.fps


def load_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3), read as drive reads a portrait (``reenact.media.images``)."""
    from reenact.media.images import read_image

    return read_image(path)


class FaceDescriber(DlibEncoder):
    """dlib's *raw* face descriptor (128,), not L2-normalised, so that dlib's 0.6 rule applies.

    (``DlibEncoder.embed`` normalises; raw descriptors have norms near 1.5, which would rescale distances.)
    """

    def describe(self, image_rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
        """Descriptor (128,) float64 of the face whose mesh landmarks (≥468, ≥2) are given, in pixels."""
        x0, y0, x1, y1 = self.face_box(landmarks_px)
        image = np.ascontiguousarray(image_rgb)
        shape = self._predictor(image, self._dlib.rectangle(x0, y0, x1, y1))
        return np.array(self._recognizer.compute_face_descriptor(image, shape, self.jitters), np.float64)


def eye_distance(landmarks: np.ndarray) -> np.ndarray:
    """Outer-eye-corner distance (..., 468, 2) → (...,)."""
    return np.linalg.norm(landmarks[..., EYE_OUTER[0], :] - landmarks[..., EYE_OUTER[1], :], axis=-1)


def face_detail(image_rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """Variance of the Laplacian of the grey face box, scaled so the eye corners are 64 px apart.

    ``landmarks`` (468, 2) pixels. The box is the landmarks' bounding box (clipped to the image); NaN if
    the landmarks are missing or the box is empty.
    """
    if not np.all(np.isfinite(landmarks)):
        return float("nan")
    height, width = image_rgb.shape[:2]
    x0, y0 = np.floor(landmarks.min(axis=0)).astype(int)
    x1, y1 = np.ceil(landmarks.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    scale = DETAIL_EYE_PX / max(float(eye_distance(landmarks)), 1e-6)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return float("nan")
    grey = cv2.cvtColor(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    size = (max(int(round((x1 - x0) * scale)), 3), max(int(round((y1 - y0) * scale)), 3))
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(grey.astype(np.float64), cv2.CV_64F).var())


@dataclass
class VideoTrack:
    """A video as a viewer's tracker sees it.

    ``landmarks`` (N, 468, 2) float64 pixels, NaN where no face; ``detail`` (N,) :func:`face_detail` per
    frame (NaN where no face); ``descriptors`` (K, 128) raw dlib descriptors of the frames
    ``descriptor_frames`` (K,): every ``identity_every``-th frame with a face, plus the first face frame.
    """

    landmarks: np.ndarray
    detail: np.ndarray
    descriptors: np.ndarray
    descriptor_frames: np.ndarray

    @property
    def face_found(self) -> np.ndarray:
        """(N,) bool: frames with a face."""
        return np.all(np.isfinite(self.landmarks), axis=(1, 2))


@dataclass
class PortraitFace:
    """A still image's face: ``landmarks`` (468, 2) pixels, ``descriptor`` (128,), ``detail`` (scalar)."""

    image: np.ndarray
    landmarks: np.ndarray
    descriptor: np.ndarray
    detail: float


def track_frames(
    frames: Iterable[np.ndarray], identity_every: int = 10, describer: FaceDescriber | None = None
) -> VideoTrack:
    """Track RGB frames (H, W, 3) in order with one MediaPipe detector in video mode (largest face).

    ``identity_every`` > 0 samples dlib descriptors (``describer`` built when None); 0 skips them.
    """
    if identity_every > 0 and describer is None:
        describer = FaceDescriber()
    marks, details, descriptors, descriptor_frames = [], [], [], []
    follower = FaceFollower()
    with FaceMeshDetector(static_image_mode=False) as detector:
        for index, frame in enumerate(frames):
            frame = as_rgb_uint8(frame)
            face = follower.choose(detector.detect(frame))
            if face is None:
                marks.append(np.full((NUM_MESH_LANDMARKS, 2), np.nan))
                details.append(float("nan"))
                continue
            points = face[:NUM_MESH_LANDMARKS, :2].astype(np.float64)
            marks.append(points)
            details.append(face_detail(frame, points))
            if identity_every > 0 and (index % identity_every == 0 or not descriptors):
                descriptors.append(describer.describe(frame, points))
                descriptor_frames.append(index)
    return VideoTrack(
        landmarks=np.array(marks, np.float64).reshape(-1, NUM_MESH_LANDMARKS, 2),
        detail=np.array(details, np.float64),
        descriptors=np.array(descriptors, np.float64).reshape(-1, 128),
        descriptor_frames=np.array(descriptor_frames, np.int64),
    )


def track_video(
    path: str | Path,
    max_frames: int | None = None,
    identity_every: int = 10,
    describer: FaceDescriber | None = None,
) -> VideoTrack:
    """:func:`track_frames` on a video file streamed with PyAV (the first ``max_frames`` frames)."""
    return track_frames(read_video(path, max_frames), identity_every, describer)


def detect_portrait(image_rgb: np.ndarray) -> np.ndarray | None:
    """Largest face's mesh landmarks (468, 2) float64 in a still image (static mode), or None."""
    with FaceMeshDetector(static_image_mode=True, max_num_faces=4) as detector:
        faces = detector.detect(as_rgb_uint8(image_rgb))
    return None if not faces else FaceFollower().choose(faces)[:NUM_MESH_LANDMARKS, :2].astype(np.float64)


def portrait_face(image: np.ndarray | str | Path, describer: FaceDescriber | None = None) -> PortraitFace:
    """Landmarks, descriptor and detail of a portrait (path or RGB array). Raises ValueError if no face."""
    image_rgb = load_image(image) if isinstance(image, (str, Path)) else as_rgb_uint8(image)
    landmarks = detect_portrait(image_rgb)
    if landmarks is None:
        raise ValueError("no face found in the target portrait")
    describer = describer or FaceDescriber()
    return PortraitFace(
        image=image_rgb,
        landmarks=landmarks,
        descriptor=describer.describe(image_rgb, landmarks),
        detail=face_detail(image_rgb, landmarks),
    )


def follow_signals(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Mouth, eyes, yaw and pitch per frame from (N, 468, 2) landmarks → name → (N,), NaN where no face.

    All over the outer-eye-corner distance (33–263): mouth = |p13 − p14|; eyes = mean(|p159 − p145|,
    |p386 − p374|); yaw = x of (p1 − (p33 + p263)/2); pitch = y of the same.
    """
    landmarks = np.asarray(landmarks, np.float64)
    unit = eye_distance(landmarks)
    gap = lambda a, b: np.linalg.norm(landmarks[:, a] - landmarks[:, b], axis=-1)  # noqa: E731
    nose = landmarks[:, NOSE_TIP] - 0.5 * (landmarks[:, EYE_OUTER[0]] + landmarks[:, EYE_OUTER[1]])
    return {
        "mouth": gap(*INNER_LIPS) / unit,
        "eyes": 0.5 * (gap(*EYE_LIDS[0]) + gap(*EYE_LIDS[1])) / unit,
        "yaw": nose[:, 0] / unit,
        "pitch": nose[:, 1] / unit,
    }


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (N,) signals over the frames where both are finite.

    NaN when fewer than :data:`MIN_FRAMES` such frames, or when either signal is constant there (a still
    output has no correlation with anything; it is not an error).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < MIN_FRAMES:
        return float("nan")
    a, b = a[both], b[both]
    if any(np.std(x) <= 1e-12 * (1.0 + np.abs(x).max()) for x in (a, b)):
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float(np.clip((a * b).sum() / norm, -1.0, 1.0))


def jitter(landmarks: np.ndarray) -> float:
    """Mean landmark acceleration, (N, 468, 2) → scalar.

    ‖L[t+1] − 2 L[t] + L[t−1]‖ averaged over the 468 landmarks, divided by the eye-corner distance at t,
    averaged over every t whose three frames all have a face; NaN with no such t. Smooth motion scores
    low, frame-to-frame shake high (steady motion at constant velocity scores 0).
    """
    landmarks = np.asarray(landmarks, np.float64)
    if len(landmarks) < 3:
        return float("nan")
    second = landmarks[2:] - 2 * landmarks[1:-1] + landmarks[:-2]
    per_frame = np.linalg.norm(second, axis=-1).mean(axis=-1) / eye_distance(landmarks[1:-1])
    per_frame = per_frame[np.isfinite(per_frame)]
    return float(per_frame.mean()) if len(per_frame) else float("nan")


@dataclass
class DriveMeasures:
    """The viewer's measures of one (source, output, target) triple.

    ``follow``: name (mouth, eyes, yaw, pitch) → Pearson r, source against output; ``amplitude``: name →
    std(output)/std(source) over the same frames (how much of the motion is reproduced; 0 for a still);
    ``id_to_target`` / ``id_to_source``: mean dlib distance of sampled output frames to the portrait / to
    the source's first face frame (< 0.6: same person); ``jitter_ratio``: :func:`jitter` output / source;
    ``detail_ratio``: median :func:`face_detail` of the output over the portrait's; ``face_found``:
    fraction of output frames with a face; ``frames``: frames compared (the shorter video's count).
    """

    follow: dict[str, float]
    amplitude: dict[str, float]
    id_to_target: float
    id_to_source: float
    jitter_ratio: float
    detail_ratio: float
    face_found: float
    frames: int

    @property
    def mean_follow(self) -> float:
        """Mean of the four correlations (NaN ones skipped; NaN if all are)."""
        values = [v for v in self.follow.values() if np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")


def _mean_distance(descriptors: np.ndarray, reference: np.ndarray) -> float:
    if len(descriptors) == 0 or reference is None or not np.all(np.isfinite(reference)):
        return float("nan")
    return float(np.linalg.norm(descriptors - reference[None], axis=-1).mean())


def compare(source: VideoTrack, output: VideoTrack, target: PortraitFace) -> DriveMeasures:
    """Measures of an output track against its source track and target portrait (frames aligned by index,
    the longer video cut to the shorter)."""
    frames = min(len(source.landmarks), len(output.landmarks))
    src, out = follow_signals(source.landmarks[:frames]), follow_signals(output.landmarks[:frames])
    follow, amplitude = {}, {}
    for name in SIGNALS:
        follow[name] = pearson(src[name], out[name])
        both = np.isfinite(src[name]) & np.isfinite(out[name])
        spread = np.std(src[name][both]) if both.sum() >= MIN_FRAMES else 0.0
        amplitude[name] = float(np.std(out[name][both]) / spread) if spread > 0 else float("nan")
    first_source = source.descriptors[0] if len(source.descriptors) else None
    sampled = output.descriptor_frames < frames
    source_jitter = jitter(source.landmarks[:frames])
    output_detail = output.detail[:frames]
    output_detail = output_detail[np.isfinite(output_detail)]
    return DriveMeasures(
        follow=follow,
        amplitude=amplitude,
        id_to_target=_mean_distance(output.descriptors[sampled], target.descriptor),
        id_to_source=_mean_distance(output.descriptors[sampled], first_source),
        jitter_ratio=jitter(output.landmarks[:frames]) / source_jitter if source_jitter > 0 else float("nan"),
        detail_ratio=float(np.median(output_detail)) / target.detail if len(output_detail) else float("nan"),
        face_found=float(output.face_found[:frames].mean()) if frames else 0.0,
        frames=frames,
    )


def measure_drive(
    source_video: str | Path,
    output_video: str | Path,
    target_image: str | Path | np.ndarray,
    max_frames: int | None = None,
    identity_every: int = 10,
) -> DriveMeasures:
    """Track source, output and target from outside and compare them (see the module docstring)."""
    describer = FaceDescriber()
    source = track_video(source_video, max_frames, SOURCE_ONLY_FIRST, describer)
    output = track_video(output_video, max_frames, identity_every, describer)
    return compare(source, output, portrait_face(target_image, describer))
