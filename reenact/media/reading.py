"""Reading videos: a video file in any container/codec FFmpeg decodes (mp4/mov/mkv/webm/avi; H.264, HEVC,
MPEG-4 Part 2, VP8/9, AV1, ...), or a folder of frames (image files, natural sort order: ``f2.png`` before
``f10.png``) played at a given frame rate (25 fps unless told). Standard input is not read here:
``reenact/pipeline.open_source`` spools it to a file first.

Conventions
    * Images are ``(H, W, 3)`` ``uint8`` RGB, C-contiguous, everywhere.
    * ``Frame.time`` is seconds from the first frame of the video stream (pts x time_base, so variable
      frame rate clips give real times); the first frame is at 0.0.
    * Rotation metadata (phone videos) is applied on read; ``VideoInfo`` sizes are after rotation and
      ``VideoInfo.rotation`` is the clockwise rotation applied, in degrees (the old ``rotate`` tag).
    * Reading streams: one frame in memory at a time, whatever the video length.
    * Every failure caused by a bad input raises :class:`reenact.errors.InputError` with one line
      naming the file; PyAV/FFmpeg exceptions never escape raw. Programming errors raise
      ``ValueError``/``RuntimeError``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import ColorRange

from reenact.errors import InputError
from reenact.media.files import AV_ERRORS, check_file, reason
from reenact.media.images import read_image
from tracking.media_files import IMAGE_SUFFIXES, is_image_path

DEFAULT_FOLDER_FPS = 25.0


@dataclass(frozen=True)
class VideoInfo:
    """What a video (or folder of frames) is; sizes are after rotation."""

    width: int
    height: int
    fps: float  # average frame rate, e.g. 1350/61 = 22.13 for odd clips
    time_base: Fraction | None
    frame_count: int | None  # the container's estimate; may be off by one or None
    duration: float | None  # seconds
    rotation: int  # clockwise degrees applied on read: 0, 90, 180 or 270
    codec: str
    has_audio: bool
    audio_codec: str | None


@dataclass
class Frame:
    """One decoded frame: ``image`` is (H, W, 3) uint8 RGB, C-contiguous."""

    index: int
    time: float
    image: np.ndarray


def _natural_key(name: str) -> list[Any]:
    # "f2.png" sorts before "f10.png": digit runs compare as numbers.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _folder_images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and is_image_path(p)]
    return sorted(files, key=lambda p: _natural_key(p.name))


def open_input(file: str, name: str) -> av.container.InputContainer:
    try:
        return av.open(file, "r")
    except AV_ERRORS as err:
        raise InputError(f"{name}: not a readable video ({reason(err)})") from err


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:  # skip cover art
            return stream
    return None


def _is_image_format(demuxer: str) -> bool:
    # A still image under a video name ("photo.mp4") opens through an image demuxer.
    names = demuxer.split(",")
    return any(name in ("image2", "image2pipe") or name.endswith("_pipe") for name in names)


def codec_name(stream: Any) -> str:
    """The codec's own name ("mp3", "av1"), not the decoder's ("mp3float", "libdav1d")."""
    codec = stream.codec_context.codec
    return getattr(codec, "canonical_name", None) or codec.name


def fps_fraction(fps: float | Fraction) -> Fraction:
    """An exact rate from a float rate: 22.131147... -> 1350/61, 29.97002997 -> 30000/1001."""
    rate = Fraction(fps).limit_denominator(100000)
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, got {fps!r}")
    return rate


def _frame_count_estimate(frames: int, duration: float | None, fps: float) -> int | None:
    """The container's frame count, unless an edit list hides part of the stream.

    ``frames`` counts every stored frame, but decoding (like every player) skips the ones an edit
    list cuts; the stream duration is the edited one, so trust it when the two disagree clearly.
    """
    from_duration = int(round(duration * fps)) if duration else None
    if not frames:
        return from_duration
    if from_duration is not None and abs(frames - from_duration) > 2 + 0.1 * from_duration:
        return from_duration
    return frames


def _clockwise_rotation(frame: av.VideoFrame) -> int:
    # PyAV reports the display matrix as a counter-clockwise angle in [-180, 180].
    try:
        ccw = int(round(frame.rotation / 90.0)) * 90
    except (AttributeError, TypeError, ValueError):
        return 0
    return (-ccw) % 360


class VideoReader:
    """Stream the frames of a video file or a folder of frames, single pass.

    >>> with VideoReader("in.mp4") as video:  # doctest: +SKIP
    ...     for frame in video:
    ...         use(frame.index, frame.time, frame.image)
    """

    def __init__(self, source: str | os.PathLike, *, fps_for_folder: float = DEFAULT_FOLDER_FPS) -> None:
        self._container: av.container.InputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._first: av.VideoFrame | None = None
        self._decoder: Iterator[av.VideoFrame] | None = None
        self._images: list[Path] | None = None
        self._first_image: np.ndarray | None = None
        self._iterated = False
        path = Path(source)
        self.name = str(path)
        if path.is_dir():
            self.info = self._open_folder(path, fps_for_folder)
            return
        check_file(path, "video")
        if is_image_path(path):
            raise InputError(f"{path}: is an image, not a video")
        self.info = self._open_container(str(path))

    # -- opening --------------------------------------------------------------------------------

    def _open_container(self, file: str) -> VideoInfo:
        self._container = open_input(file, self.name)
        try:
            if _is_image_format(self._container.format.name):
                raise InputError(f"{self.name}: is an image, not a video")
            stream = video_stream(self._container)
            if stream is None:
                raise InputError(f"{self.name}: has no video stream")
            stream.thread_type = "AUTO"  # frame + slice threads; decode is the reader's hot path
            self._stream = stream
            self._decoder = self._decode_frames()
            # Decode one frame now: it proves the file decodes and carries the rotation side data.
            self._first = next(self._decoder, None)
            if self._first is None:
                raise InputError(f"{self.name}: video stream has no decodable frames")
            return self._container_info(stream, self._first)
        except BaseException:
            self.close()
            raise

    def _container_info(self, stream: av.video.stream.VideoStream, first: av.VideoFrame) -> VideoInfo:
        container = self._container
        rotation = _clockwise_rotation(first)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        time_base = stream.time_base
        duration = None
        if stream.duration and time_base:
            duration = float(stream.duration * time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        fps = float(rate) if rate else DEFAULT_FOLDER_FPS
        frame_count = _frame_count_estimate(stream.frames, duration, fps)
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            width=width,
            height=height,
            fps=fps,
            time_base=Fraction(time_base) if time_base else None,
            frame_count=frame_count,
            duration=duration,
            rotation=rotation,
            codec=codec_name(stream),
            has_audio=audio is not None,
            audio_codec=codec_name(audio) if audio is not None else None,
        )

    def _open_folder(self, folder: Path, fps: float) -> VideoInfo:
        images = _folder_images(folder)
        if not images:
            raise InputError(f"{folder}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        rate = fps_fraction(fps)
        self._images = images
        self._first_image = read_image(images[0])
        height, width = self._first_image.shape[:2]
        return VideoInfo(
            width=width,
            height=height,
            fps=float(rate),
            time_base=1 / rate,
            frame_count=len(images),
            duration=float(len(images) / rate),
            rotation=0,
            codec="images",
            has_audio=False,
            audio_codec=None,
        )

    # -- iteration ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Frame]:
        if self._iterated:
            raise RuntimeError(f"{self.name}: VideoReader is single pass; open the video again")
        self._iterated = True
        if self._images is not None:
            return self._iter_folder()
        if self._container is None:
            raise RuntimeError(f"{self.name}: VideoReader is closed")
        return self._iter_container()

    def _decode_frames(self) -> Iterator[av.VideoFrame]:
        """Decoded frames in presentation order; FFmpeg errors become InputError."""
        count = 0
        try:
            for frame in self._container.decode(self._stream):
                count += 1
                yield frame
        except av.FFmpegError as err:
            raise InputError(f"{self.name}: decoding failed after {count} frames ({reason(err)})") from err

    def _iter_container(self) -> Iterator[Frame]:
        stream, info = self._stream, self.info
        origin = stream.start_time if stream.start_time is not None else self._first.pts
        k = info.rotation // 90
        previous = None
        frames = chain([self._first], self._decoder)
        self._first = None  # do not keep the first frame alive for the whole video
        for index, frame in enumerate(frames):
            if frame.pts is not None and stream.time_base and origin is not None:
                time = float((frame.pts - origin) * stream.time_base)
            else:  # no timestamps (raw streams): assume the nominal rate
                time = previous + 1.0 / info.fps if previous is not None else index / info.fps
            previous = time
            yield Frame(index=index, time=time, image=_frame_to_rgb(frame, k))

    def _iter_folder(self) -> Iterator[Frame]:
        info = self.info
        first, self._first_image = self._first_image, None
        for index, path in enumerate(self._images):
            image = first if index == 0 else read_image(path)
            if image.shape[:2] != (info.height, info.width):
                raise InputError(
                    f"{path}: frame is {image.shape[1]}x{image.shape[0]}, "
                    f"but the folder's first frame is {info.width}x{info.height}"
                )
            yield Frame(index=index, time=index / info.fps, image=image)

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the decoder and files; safe to call twice."""
        self._decoder = None
        self._first = None
        if self._container is not None:
            container, self._container = self._container, None
            try:
                container.close()
            except AV_ERRORS:
                pass

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoReader({self.name!r}, {self.info.width}x{self.info.height} @ {self.info.fps:.3f} fps)"


def _frame_to_rgb(frame: av.VideoFrame, quarter_turns_cw: int) -> np.ndarray:
    # Honour a full-range ("JPEG") tag; unspecified falls back to FFmpeg's default (limited range).
    full = frame.color_range == ColorRange.JPEG
    image = frame.to_ndarray(format="rgb24", src_color_range=ColorRange.JPEG if full else None)
    if quarter_turns_cw:
        image = np.rot90(image, k=-quarter_turns_cw)  # np.rot90 turns counter-clockwise for k > 0
    return np.ascontiguousarray(image)


def open_video(source: str | os.PathLike, fps_for_folder: float = DEFAULT_FOLDER_FPS) -> VideoReader:
    """Open a video file or a folder of frames (at ``fps_for_folder``)."""
    return VideoReader(source, fps_for_folder=fps_for_folder)


def probe(source: str | os.PathLike) -> VideoInfo:
    """The :class:`VideoInfo` of a video without reading it through (decodes one frame)."""
    with VideoReader(source) as video:
        return video.info
