"""The tracker: frames in, a :class:`~tracking.types.Track` out (the library API behind ``reenact track``).

``Tracker(config)`` is a context manager owning the MediaPipe graphs. :meth:`Tracker.track_frames`
streams a video: it never holds frames, only per-frame arrays (landmarks, optional masks, and a few
sampled face crops for the identity embedding). Stages:

1. stream: MediaPipe face mesh in video mode; one face followed (largest at start, or the k-th from the
   left) by box IoU; optional head mask on the raw crop; identity samples kept evenly spread.
2. gaps of ≤ ``max_gap_frames`` without a face are bridged by linear interpolation of the landmarks
   (``valid`` but not ``detected``); longer gaps stay invalid. Fewer than ``min_valid_ratio`` valid frames
   → :class:`~tracking.errors.NoFaceError`.
3. crops (``tracking.crop.compute_crop``) smoothed over time; landmarks go into crop coordinates.
4. identity shape α from up to ``identity_frames`` frames, then per-frame pose + expression fit
   (``tracking.fit``), warm-started; pose and expression smoothed (``tracking.smoothing``) only when
   ``smoothing`` > 0 (default 0: callers smooth as a separate step).
5. masks re-warped from the raw crops to the final crops; identity embedding averaged.

Invalid frames hold the nearest valid frame's crop, pose and expression (so downstream code can render
them) and are flagged ``valid=False``.

Input images: RGB uint8 (H, W, 3). Greyscale (H, W) or (H, W, 1) and RGBA are legitimate photos and are
converted to RGB; images smaller than ``MIN_IMAGE_SIDE`` px or of any other shape raise
:class:`~tracking.errors.TrackingInputError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from model.camera import Intrinsics
from tracking.crop import compute_crop, crop_image, to_crop
from tracking.errors import NoFaceError, TrackingInputError
from tracking.fit import FrameFit, LandmarkFitter
from tracking.identity import IdentityEncoder, load_encoder
from tracking.landmark_model import LandmarkModel
from tracking.landmarks import (
    NUM_LANDMARKS,
    NUM_MESH_LANDMARKS,
    FaceFollower,
    FaceMeshDetector,
    as_rgb_uint8,
    inter_ocular_distance,
)
from tracking.mask import HeadSegmenter, inside_frame_mask
from tracking.smoothing import smooth_crops, smooth_track, valid_runs
from tracking.types import Track

MIN_IMAGE_SIDE = 32
"""Smaller images are rejected (TrackingInputError): no face can be tracked in them."""
PROBE_MAX_FACES = 4
"""How many faces the one-off probe looks for when a face must be chosen."""


@dataclass(frozen=True)
class TrackerConfig:
    """Options of :class:`Tracker`."""

    crop_size: int = 256
    """Side (px) of the aligned crop the model sees; used for masks and :meth:`Tracker.crop_frame`."""
    face: str | int = "largest"
    """Which face to follow when several are visible: "largest" at start, or k = k-th from the left."""
    max_gap_frames: int = 12
    """Gaps without a face of at most this many frames are interpolated (valid); longer ones are not."""
    min_valid_ratio: float = 0.05
    """Fail with NoFaceError if fewer than this fraction of frames (and fewer than 1) are valid."""
    smoothing: float = 0.0
    """Temporal smoothing strength of pose and expression (Savitzky–Golay, ~7 frames at 1); 0 = off, the
    default: smoothing is an explicit, separate step of its callers (``tracking.smoothing``), so it is never
    applied twice."""
    crop_smoothing: float = 3.0
    """Smoothing strength of the crop box (stable crops); applied before fitting; 0 = off."""
    embed_frames: int = 5
    """How many frames (spread over the video) the identity embedding is averaged over; 0 = skip."""
    identity_frames: int = 30
    """How many frames (spread over the video) the identity-shape coefficients are estimated from."""
    basis_path: str | None = None
    """Landmark model .npz (e.g. FaceWarehouse-derived); None = the shipped
    tracking/data/landmark_model.npz."""
    encoder: str | None = None
    """Identity encoder: None/"dlib" (128-d, offline), "none" (no embedding), or a path to an .onnx model."""
    compute_masks: bool = False
    """Also compute a head mask per frame (crop_size², uint8 in Track.extras["masks"])."""
    fit_iterations: int = 3
    """Gauss–Newton iterations per frame (warm-started from the previous frame)."""


class _SampleBuffer:
    """Keeps ≤ 2·capacity evenly spread samples of a stream of unknown length (stride doubling)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.stride = 1
        self.count = 0
        self.items: list[tuple[int, object]] = []

    def wants(self) -> bool:
        return self.capacity > 0 and self.count % self.stride == 0

    def add(self, item: object) -> None:
        if self.wants():
            self.items.append((self.count, item))
            if len(self.items) >= 2 * self.capacity:
                self.stride *= 2
                self.items = [(c, it) for c, it in self.items if c % self.stride == 0]
        self.count += 1

    def pick(self) -> list[object]:
        if len(self.items) <= self.capacity:
            return [it for _, it in self.items]
        idx = np.linspace(0, len(self.items) - 1, self.capacity).round().astype(int)
        return [self.items[i][1] for i in idx]


def _unpack(frame: object, position: int, fps: float) -> tuple[int, float, np.ndarray]:
    if isinstance(frame, np.ndarray):
        return position, position / fps, frame
    if isinstance(frame, tuple) and len(frame) == 3:
        return int(frame[0]), float(frame[1]), frame[2]
    if hasattr(frame, "image"):
        return (
            int(getattr(frame, "index", position)),
            float(getattr(frame, "time", position / fps)),
            frame.image,
        )
    raise TrackingInputError(
        f"frame {position}: expected an image array, an (index, time, image) tuple or a Frame"
    )


def _check_image(image: np.ndarray) -> np.ndarray:
    try:
        rgb = as_rgb_uint8(image)
    except ValueError as exc:
        raise TrackingInputError(str(exc)) from None
    if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
        raise TrackingInputError(
            f"image too small to track a face: {rgb.shape[1]}×{rgb.shape[0]} px (need ≥ {MIN_IMAGE_SIDE} px)"
        )
    return rgb


def interpolate_gaps(landmarks: np.ndarray, detected: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly fill runs of ≤ ``max_gap`` undetected frames lying between detected ones, in place.
    Returns the ``valid`` flags (detected or filled)."""
    valid = detected.copy()
    missing = valid_runs(~detected)
    for start, stop in missing:
        if start == 0 or stop == len(detected) or stop - start > max_gap:
            continue
        a, b = landmarks[start - 1], landmarks[stop]
        weights = (np.arange(start, stop) - (start - 1)) / (stop - (start - 1))
        landmarks[start:stop] = a[None] + weights[:, None, None] * (b - a)[None]
        valid[start:stop] = True
    return valid


def _hold_nearest(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill invalid rows with the nearest valid row."""
    idx = np.flatnonzero(valid)
    if len(idx) == 0 or valid.all():
        return values
    nearest = idx[np.clip(np.searchsorted(idx, np.arange(len(valid))), 0, len(idx) - 1)]
    before = idx[np.clip(np.searchsorted(idx, np.arange(len(valid))) - 1, 0, len(idx) - 1)]
    choose = np.where(
        np.abs(before - np.arange(len(valid))) < np.abs(nearest - np.arange(len(valid))), before, nearest
    )
    out = values.copy()
    out[~valid] = values[choose[~valid]]
    return out


class Tracker:
    """Owns the MediaPipe graphs, the landmark model and the identity encoder (context manager)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.model = (
            LandmarkModel.load(self.config.basis_path) if self.config.basis_path else LandmarkModel.default()
        )
        self.fitter = LandmarkFitter(self.model, Intrinsics())
        self._encoder: IdentityEncoder | None = None
        self._encoder_loaded = False
        self._segmenter: HeadSegmenter | None = None
        self._open: list = []

    # -- resources -------------------------------------------------------------------------------------
    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release every MediaPipe graph (they are re-created on demand)."""
        self._close_stream()
        if self._segmenter is not None:
            self._segmenter.close()
            self._segmenter = None

    def _close_stream(self) -> None:
        for graph in self._open:
            graph.close()
        self._open.clear()

    def _graph(self, graph):
        """Open a per-stream graph (closed at the end of the stream)."""
        graph.__enter__()
        self._open.append(graph)
        return graph

    @property
    def encoder(self) -> IdentityEncoder | None:
        if not self._encoder_loaded:
            self._encoder = load_encoder(self.config.encoder)
            self._encoder_loaded = True
        return self._encoder

    @property
    def segmenter(self) -> HeadSegmenter:
        if self._segmenter is None:
            self._segmenter = HeadSegmenter(model_selection=0).__enter__()
        return self._segmenter

    # -- streaming -------------------------------------------------------------------------------------
    def track_frames(
        self,
        frames: Iterable,
        fps: float,
        size: tuple[int, int] | None = None,
        progress: Callable[[int], None] | None = None,
        static: bool = False,
    ) -> Track:
        """Track a stream of frames (arrays, ``(index, time, image)`` tuples or objects with ``.index``,
        ``.time``, ``.image``). ``size`` = (width, height) of the source (taken from the first frame if
        None). ``progress(i)`` is called after each frame. ``static`` detects every frame afresh (image
        mode) — for unrelated images. Raises NoFaceError if (almost) no frame has a face."""
        cfg = self.config
        fps = float(fps) if fps and fps > 0 else 25.0
        follower = FaceFollower(selection=cfg.face)
        probe = None
        mesh = FaceMeshDetector(static_image_mode=static, max_num_faces=1)
        self._graph(mesh)
        landmarks, detected, times = [], [], []
        raw_crops: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        samples = _SampleBuffer(cfg.embed_frames)
        chosen = False
        try:
            for position, item in enumerate(frames):
                _, time, image = _unpack(item, position, fps)
                image = _check_image(image)
                if size is None:
                    size = (image.shape[1], image.shape[0])
                if not chosen:
                    # choose the face once with a multi-face probe; follow several only if needed
                    if probe is None:
                        probe = self._graph(
                            FaceMeshDetector(static_image_mode=True, max_num_faces=PROBE_MAX_FACES)
                        )
                    faces = probe.detect(image)
                    if faces:
                        chosen = True
                        if len(faces) > 1 or cfg.face != "largest":
                            mesh = self._graph(
                                FaceMeshDetector(
                                    static_image_mode=static,
                                    max_num_faces=min(len(faces) + 1, PROBE_MAX_FACES),
                                )
                            )
                        face = follower.choose(faces)
                        mesh.detect(image)  # prime the video graph on this frame
                    else:
                        face = None
                else:
                    face = follower.choose(mesh.detect(image))
                times.append(time)
                if face is None:
                    landmarks.append(np.full((NUM_LANDMARKS, 3), np.nan, np.float32))
                    detected.append(False)
                    raw_crops.append(np.full(4, np.nan, np.float32))
                    if cfg.compute_masks:
                        masks.append(np.zeros((cfg.crop_size, cfg.crop_size), np.uint8))
                else:
                    landmarks.append(face)
                    detected.append(True)
                    box = compute_crop(face, size, self.model.mean)
                    raw_crops.append(box)
                    if cfg.compute_masks:
                        masks.append(self._mask(image, face, box))
                    if cfg.embed_frames > 0 and samples.wants():
                        samples.add(_face_sample(image, face))
                    else:
                        samples.add(None)
                if progress is not None:
                    progress(position)
        finally:
            self._close_stream()
        if not landmarks:
            raise TrackingInputError("no frames to track")
        return self._finish(
            np.stack(landmarks),
            np.array(detected),
            np.array(times, np.float64),
            np.stack(raw_crops),
            masks,
            samples.pick(),
            fps,
            size,
        )

    def track_image(self, image: np.ndarray) -> Track:
        """Track one photo (N = 1). NoFaceError if it shows no face, TrackingInputError if unusable."""
        track = self.track_frames([(0, 0.0, image)], fps=25.0, static=True)
        return track

    # -- pieces ----------------------------------------------------------------------------------------
    def _mask(self, image: np.ndarray, face: np.ndarray, box: np.ndarray) -> np.ndarray:
        size = self.config.crop_size
        crop = crop_image(image, box, size)
        inside = inside_frame_mask(box, size, (image.shape[1], image.shape[0]))
        mask = self.segmenter.head_mask(crop, to_crop(face, box, size), inside)
        return np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def _finish(self, landmarks, detected, times, raw_crops, masks, samples, fps, size) -> Track:
        cfg = self.config
        count = len(detected)
        valid = interpolate_gaps(landmarks, detected, cfg.max_gap_frames)
        num_valid = int(valid.sum())
        if num_valid == 0 or num_valid < cfg.min_valid_ratio * count:
            raise NoFaceError(
                f"no face found in {count - int(detected.sum())} of {count} frames"
                + ("" if num_valid == 0 else f" (only {num_valid} usable, need {cfg.min_valid_ratio:.0%})")
            )
        crops = np.full((count, 4), np.nan, np.float32)
        for i in np.flatnonzero(valid):
            crops[i] = raw_crops[i] if detected[i] else compute_crop(landmarks[i], size, self.model.mean)
        crops[valid] = smooth_crops(crops, cfg.crop_smoothing, valid, fps)[valid]
        observed = np.zeros((count, NUM_MESH_LANDMARKS, 2))
        for i in np.flatnonzero(valid):
            observed[i] = to_crop(landmarks[i, :NUM_MESH_LANDMARKS], crops[i])
        # identity shape from frames spread over the video
        pool = np.flatnonzero(detected) if detected.any() else np.flatnonzero(valid)
        chosen = pool[np.linspace(0, len(pool) - 1, min(cfg.identity_frames, len(pool))).round().astype(int)]
        identity, _ = self.fitter.fit_identity([observed[i] for i in chosen])
        # per-frame fit
        num_expr = self.model.num_expression
        pose = np.tile(np.eye(4, dtype=np.float32), (count, 1, 1))
        expression = np.zeros((count, num_expr), np.float32)
        errors = np.full(count, np.nan)
        previous: FrameFit | None = None
        for i in range(count):
            if not valid[i]:
                previous = None
                continue
            previous = self.fitter.fit_frame(
                observed[i], identity.astype(np.float64), init=previous, iterations=cfg.fit_iterations
            )
            pose[i] = previous.cam_to_head()
            expression[i] = previous.expression
            iod = float(inter_ocular_distance(to_crop(landmarks[i], crops[i])[None])[0])
            errors[i] = previous.error / max(iod, 1e-9)
        landmark_error = float(np.nanmean(errors[detected])) if detected.any() else float(np.nanmean(errors))
        crops = _hold_nearest(crops, valid)
        track = Track(
            valid=valid,
            detected=detected,
            pose=_hold_nearest(pose, valid),
            expression=_hold_nearest(expression, valid),
            crop=crops.astype(np.float32),
            landmarks=np.nan_to_num(_hold_nearest(landmarks[:, :, :2], valid)).astype(np.float32),
            times=times,
            identity_shape=identity.astype(np.float32),
            embedding=self._embedding(samples),
            fps=fps,
            size=(int(size[0]), int(size[1])),
            landmark_error=landmark_error,
            extras={
                "fit_error": errors.astype(np.float32),
                "landmark_depth": np.nan_to_num(_hold_nearest(landmarks[:, :, 2], valid)).astype(np.float32),
            },
        )
        if masks:
            track.extras["masks"] = _rewarp_masks(masks, raw_crops, crops, valid)
        if cfg.smoothing > 0:
            track = smooth_track(track, cfg.smoothing)
        return track

    def _embedding(self, samples: list) -> np.ndarray:
        samples = [s for s in samples if s is not None]
        encoder = self.encoder if samples and self.config.embed_frames > 0 else None
        if encoder is None:
            return np.zeros(0, np.float32)
        vectors = [encoder.embed(image, lms) for image, lms in samples]
        mean = np.mean(vectors, axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)

    # -- dataset helper ----------------------------------------------------------------------------------
    def crop_frame(
        self, image: np.ndarray, track: Track, index: int, size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The aligned crop of frame ``index`` of ``track`` from its source ``image``, and its head mask:
        ((size, size, 3) uint8, (size, size) float32 in [0, 1]). Invalid frames get an all-zero mask."""
        size = size or self.config.crop_size
        image = _check_image(image)
        box = track.crop[index]
        crop = crop_image(image, box, size)
        if not track.valid[index]:
            return crop, np.zeros((size, size), np.float32)
        inside = inside_frame_mask(box, size, (image.shape[1], image.shape[0]))
        mask = self.segmenter.head_mask(crop, to_crop(track.landmarks[index], box, size), inside)
        return crop, mask


def _face_sample(image: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A small copy of the face region (for the identity embedding later) and its landmarks."""
    pts = face[:, :2]
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.4 * (hi - lo).max()
    x0, y0 = np.maximum(np.floor(lo - pad).astype(int), 0)
    x1, y1 = np.ceil(hi + pad).astype(int)
    region = image[y0:y1, x0:x1]
    scale = min(1.0, 400.0 / max(region.shape[:2]))
    if scale < 1.0:
        region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(region), (pts - [x0, y0]) * scale


def _rewarp_masks(
    masks: list[np.ndarray], raw_crops: np.ndarray, crops: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """Move masks computed on each frame's raw crop onto its final (smoothed) crop."""
    size = masks[0].shape[0]
    out = np.zeros((len(masks), size, size), np.uint8)
    for i, mask in enumerate(masks):
        if not valid[i] or not np.isfinite(raw_crops[i]).all():
            continue
        raw, final = raw_crops[i], crops[i]
        # final-crop pixel c ↔ source x = final0 + c·side_f/size ↔ raw-crop pixel (x − raw0)·size/side_r
        a = (final[2] - final[0]) / (raw[2] - raw[0])
        bx = (final[0] - raw[0]) * size / (raw[2] - raw[0])
        by = (final[1] - raw[1]) * size / (raw[2] - raw[0])
        matrix = np.array([[a, 0, bx + 0.5 * a - 0.5], [0, a, by + 0.5 * a - 0.5]], np.float64)
        out[i] = cv2.warpAffine(
            mask,
            matrix,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
    return out
