"""All video and image I/O of reenact, on PyAV (no ffmpeg binary is ever needed).

Inputs
    * a video file in any container/codec FFmpeg decodes (mp4/mov/mkv/webm/avi; H.264, HEVC,
      MPEG-4 Part 2, VP8/9, AV1, ...),
    * a folder of frames (image files, natural sort order: ``f2.png`` before ``f10.png``) played at a
      given frame rate (25 fps unless told),
    * ``"-"``: a video on standard input. A seekable stdin (``< file.mp4``) is read in place; a pipe is
      first spooled to an anonymous temporary file on disk, because an mp4 whose index (``moov``) sits at
      the end cannot be demuxed from a pipe.
    * still images (jpg/png/webp/bmp/tiff) through :func:`read_image`.

Outputs
    H.264 (libx264, yuv420p, BT.709 tagged, limited range) in mp4 with ``+faststart``, so browsers play
    it; ``"-"`` streams fragmented mp4 to standard output. The audio of another file can be carried
    over: stream-copied when mp4 takes its codec (AAC, MP3, ALAC), otherwise re-encoded to AAC.

Conventions
    * Images are ``(H, W, 3)`` ``uint8`` RGB, C-contiguous, everywhere.
    * ``Frame.time`` is seconds from the first frame of the video stream (pts x time_base, so variable
      frame rate clips give real times); the first frame is at 0.0.
    * Rotation metadata (phone videos) is applied on read; ``VideoInfo`` sizes are after rotation and
      ``VideoInfo.rotation`` is the clockwise rotation applied, in degrees (the old ``rotate`` tag).
    * Reading and writing stream: one frame in memory at a time, whatever the video length.
    * Every failure caused by a bad input raises :class:`reenact.errors.InputError` with one line
      naming the file; PyAV/FFmpeg exceptions never escape raw. Programming errors (a wrong array
      shape, writing after close) raise ``ValueError``/``RuntimeError``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import IO, Any

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image, ImageOps, UnidentifiedImageError

from reenact.errors import InputError
from tracking.media_files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, is_image_path  # the one list; re-exported here

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "Frame",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "is_image_path",
    "open_video",
    "probe",
    "read_image",
]

STDIO = "-"
DEFAULT_FOLDER_FPS = 25.0

# Audio codecs the mp4 muxer takes as they are; anything else is re-encoded to AAC.
_MP4_AUDIO_COPY = frozenset({"aac", "mp3", "alac"})
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_AV_ERRORS = (av.FFmpegError, OSError)


# --------------------------------------------------------------------------------------------------
# Data types


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


# --------------------------------------------------------------------------------------------------
# Images


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a still image as (H, W, 3) uint8 RGB with its EXIF orientation applied.

    Greyscale, 16-bit, palette and CMYK images are converted to RGB; transparent pixels are composited
    over white (alpha carries no meaning for a face photo, and black would look like hair).
    """
    path = Path(path)
    _check_file(path, "image")
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


def _natural_key(name: str) -> list[Any]:
    # "f2.png" sorts before "f10.png": digit runs compare as numbers.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _folder_images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and is_image_path(p)]
    return sorted(files, key=lambda p: _natural_key(p.name))


# --------------------------------------------------------------------------------------------------
# Reading


def _check_file(path: Path, kind: str) -> None:
    """Raise InputError for a missing, non-regular or empty file."""
    if not path.exists():
        raise InputError(f"{path}: {kind} file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a {kind} file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: {kind} file is empty (0 bytes)")


def _open_input(file: str | IO[bytes], name: str) -> av.container.InputContainer:
    try:
        return av.open(file, "r")
    except _AV_ERRORS as err:
        raise InputError(f"{name}: not a readable video ({_reason(err)})") from err


def _reason(err: BaseException) -> str:
    # FFmpeg messages repeat the file name ("...: '/x/y.mp4'"); keep only the reason.
    text = getattr(err, "strerror", None) or str(err)
    return str(text).strip() or type(err).__name__


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:  # skip cover art
            return stream
    return None


def _is_image_format(demuxer: str) -> bool:
    # A still image under a video name ("photo.mp4") opens through an image demuxer.
    names = demuxer.split(",")
    return any(name in ("image2", "image2pipe") or name.endswith("_pipe") for name in names)


def _codec_name(stream: Any) -> str:
    """The codec's own name ("mp3", "av1"), not the decoder's ("mp3float", "libdav1d")."""
    codec = stream.codec_context.codec
    return getattr(codec, "canonical_name", None) or codec.name


def _stdin_file() -> IO[bytes]:
    """Standard input as a seekable binary file (pipes are spooled to an unnamed temp file)."""
    stdin = sys.stdin.buffer
    try:
        if stdin.seekable():
            return stdin
    except (OSError, ValueError):
        pass
    spool = tempfile.TemporaryFile(prefix="reenact-stdin-")
    shutil.copyfileobj(stdin, spool, length=1 << 20)
    spool.seek(0)
    return spool


def _fps_fraction(fps: float | Fraction) -> Fraction:
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
    """Stream the frames of a video file, a folder of frames, or stdin (``"-"``), single pass.

    >>> with VideoReader("in.mp4") as video:  # doctest: +SKIP
    ...     for frame in video:
    ...         use(frame.index, frame.time, frame.image)
    """

    def __init__(self, source: str | os.PathLike, *, fps_for_folder: float = DEFAULT_FOLDER_FPS) -> None:
        self._container: av.container.InputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._spool: IO[bytes] | None = None
        self._first: av.VideoFrame | None = None
        self._decoder: Iterator[av.VideoFrame] | None = None
        self._images: list[Path] | None = None
        self._first_image: np.ndarray | None = None
        self._iterated = False
        if str(source) == STDIO:
            self.name = "standard input"
            file = _stdin_file()
            self._spool = file if file is not sys.stdin.buffer else None
            self.info = self._open_container(file)
            return
        path = Path(source)
        self.name = str(path)
        if path.is_dir():
            self.info = self._open_folder(path, fps_for_folder)
            return
        _check_file(path, "video")
        if is_image_path(path):
            raise InputError(f"{path}: is an image, not a video")
        self.info = self._open_container(str(path))

    # -- opening --------------------------------------------------------------------------------

    def _open_container(self, file: str | IO[bytes]) -> VideoInfo:
        self._container = _open_input(file, self.name)
        try:
            if _is_image_format(self._container.format.name):
                raise InputError(f"{self.name}: is an image, not a video")
            stream = _video_stream(self._container)
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
            codec=_codec_name(stream),
            has_audio=audio is not None,
            audio_codec=_codec_name(audio) if audio is not None else None,
        )

    def _open_folder(self, folder: Path, fps: float) -> VideoInfo:
        images = _folder_images(folder)
        if not images:
            raise InputError(f"{folder}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        rate = _fps_fraction(fps)
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
            raise InputError(f"{self.name}: decoding failed after {count} frames ({_reason(err)})") from err

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
            except _AV_ERRORS:
                pass
        if self._spool is not None:
            self._spool.close()
            self._spool = None

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
    """Open a video file, a folder of frames (at ``fps_for_folder``) or ``"-"`` (stdin)."""
    return VideoReader(source, fps_for_folder=fps_for_folder)


def probe(source: str | os.PathLike) -> VideoInfo:
    """The :class:`VideoInfo` of a video without reading it through (decodes one frame)."""
    with VideoReader(source) as video:
        return video.info


# --------------------------------------------------------------------------------------------------
# Writing


class VideoWriter:
    """Encode RGB frames to a browser-playable H.264 mp4, atomically, optionally with audio.

    ``size`` is ``(width, height)``; without it the first frame fixes the size. Odd sizes are padded
    to even by repeating the last row/column (yuv420p needs even sizes). The file appears at ``path``
    only when the writer closes without an exception (an existing file there is replaced then); until
    then frames go to a hidden temporary file in the same folder. ``path == "-"`` streams fragmented
    mp4 to standard output.

    Audio: when ``audio_from`` has an audio stream, its span ``[audio_start, audio_start +
    audio_duration]`` (seconds on that file's video timeline, i.e. the ``Frame.time`` of its frames;
    to its end when ``audio_duration`` is None) is placed at time 0 of the output, interleaved with
    the video. A file without audio adds none.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction,
        size: tuple[int, int] | None = None,
        *,
        audio_from: str | os.PathLike | None = None,
        crf: int = 18,
        audio_start: float = 0.0,
        audio_duration: float | None = None,
        preset: str = "veryfast",
    ) -> None:
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {crf}")
        if audio_start < 0 or (audio_duration is not None and audio_duration < 0):
            raise ValueError("audio_start and audio_duration must not be negative")
        self.rate = _fps_fraction(fps)
        self.crf = crf
        self.preset = preset
        self.frames_written = 0
        self._stdout = str(path) == STDIO
        self.path = Path(path) if not self._stdout else None
        self._tmp: Path | None = None
        self._container: av.container.OutputContainer | None = None
        self._video: av.video.stream.VideoStream | None = None
        self._size: tuple[int, int] | None = None  # frames' size as given (may be odd)
        self._closed = False
        self._audio = _AudioSource.open(audio_from, audio_start, audio_duration) if audio_from else None
        try:
            if size is not None:
                self._start(tuple(int(v) for v in size))
        except BaseException:
            self._abort()
            raise

    @property
    def has_audio(self) -> bool:
        """Whether the output gets an audio track."""
        return self._audio is not None

    # -- opening --------------------------------------------------------------------------------

    def _start(self, size: tuple[int, int]) -> None:
        width, height = size
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {size}")
        self._size = size
        self._container = self._open_output()
        self._video = self._add_video_stream(width + width % 2, height + height % 2)
        if self._audio is not None:
            self._audio.attach(self._container)

    def _open_output(self) -> av.container.OutputContainer:
        if self._stdout:
            movflags = "frag_keyframe+empty_moov+default_base_moof"
            return av.open(sys.stdout.buffer, "w", format="mp4", container_options={"movflags": movflags})
        path = self.path
        suffix = path.suffix.lower() or ".mp4"
        fmt = None if path.suffix else "mp4"
        options = {"movflags": "+faststart"} if suffix in (".mp4", ".m4v", ".mov") else {}
        # Hidden, unique, same suffix (the muxer is chosen from it), same folder (os.replace is atomic).
        self._tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part{suffix}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp.touch()  # FFmpeg opens the file only at the first packet: fail here instead
            return av.open(str(self._tmp), "w", format=fmt, container_options=options)
        except _AV_ERRORS as err:
            raise InputError(f"{path}: cannot write video ({_reason(err)})") from err

    def _add_video_stream(self, width: int, height: int) -> av.video.stream.VideoStream:
        stream = self._container.add_stream(
            "libx264", rate=self.rate, options={"crf": str(self.crf), "preset": self.preset}
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        ctx = stream.codec_context
        ctx.time_base = 1 / self.rate  # pts = frame index: exact for any rate, e.g. 1350/61
        ctx.framerate = self.rate
        # Tag what the RGB->YUV conversion below uses, so players do not guess the matrix.
        ctx.colorspace, ctx.color_primaries, ctx.color_trc = 1, 1, 1  # BT.709
        ctx.color_range = ColorRange.MPEG
        return stream

    # -- writing --------------------------------------------------------------------------------

    def write(self, image: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        if self._closed:
            raise RuntimeError("VideoWriter is closed")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        if self._container is None:
            try:
                self._start((width, height))
            except BaseException:
                self._abort()
                raise
        if (width, height) != self._size:
            raise ValueError(f"frame is {width}x{height}, but this video is {self._size[0]}x{self._size[1]}")
        frame = self._to_video_frame(image)
        try:
            for packet in self._video.encode(frame):
                self._mux_video(packet)
        except av.FFmpegError as err:
            raise RuntimeError(f"video encoding failed: {_reason(err)}") from err
        self.frames_written += 1

    def _to_video_frame(self, image: np.ndarray) -> av.VideoFrame:
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame = rgb.reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
        frame.pts = self.frames_written
        frame.time_base = 1 / self.rate
        return frame

    def _mux_video(self, packet: av.Packet) -> None:
        self._container.mux(packet)
        if self._audio is not None and packet.pts is not None:
            # Keep audio level with the video so the file is interleaved (plays while downloading).
            self._audio.pump(self._container, until=float(packet.pts * packet.time_base))

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush the encoder, finish the file and move it into place; safe to call twice."""
        if self._closed:
            return
        try:
            if self._container is None:
                raise ValueError("no frames were written")
            for packet in self._video.encode(None):
                self._mux_video(packet)
            if self._audio is not None:
                self._audio.pump(self._container, until=None)
            container, self._container = self._container, None
            container.close()
        except BaseException as err:
            self._abort()
            if isinstance(err, av.FFmpegError):
                raise RuntimeError(f"finishing the video failed: {_reason(err)}") from err
            raise
        self._closed = True
        self._close_audio()
        if self._tmp is not None:
            os.replace(self._tmp, self.path)
            self._tmp = None

    def _abort(self) -> None:
        """Drop everything: no file at ``path``, no temp file left behind."""
        self._closed = True
        if self._container is not None:
            container, self._container = self._container, None
            try:
                container.close()
            except Exception:  # the file is discarded anyway
                pass
        self._close_audio()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def _close_audio(self) -> None:
        if self._audio is not None:
            self._audio.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


class _AudioSource:
    """The audio of another file, rebased to start at 0, fed into an output container on demand."""

    def __init__(self, container: av.container.InputContainer, stream: Any, start: float, end: float | None):
        self._input = container
        self._stream = stream
        self._start, self._end = start, end
        self._packets: Iterator[av.Packet] | None = None
        self._pending: av.Packet | None = None
        self._out: Any = None
        self.copy = _codec_name(stream) in _MP4_AUDIO_COPY

    @classmethod
    def open(cls, path: str | os.PathLike, start: float, duration: float | None) -> _AudioSource | None:
        path = Path(path)
        _check_file(path, "audio source")
        container = _open_input(str(path), str(path))
        if not container.streams.audio:
            container.close()
            return None
        stream = container.streams.audio[0]
        # Span times are on the source's video timeline (Frame.time), whose origin is the video start.
        video = _video_stream(container)
        origin = 0.0
        if video is not None and video.start_time is not None and video.time_base:
            origin = float(video.start_time * video.time_base)
        elif stream.start_time is not None and stream.time_base:
            origin = float(stream.start_time * stream.time_base)
        start_abs = origin + start
        return cls(container, stream, start_abs, None if duration is None else start_abs + duration)

    def attach(self, output: av.container.OutputContainer) -> None:
        """Add the audio stream to ``output`` (before its header is written)."""
        if self.copy:
            self._out = output.add_stream_from_template(self._stream)
            self._packets = self._copied_packets()
        else:
            source = self._stream.codec_context
            rate = source.sample_rate if source.sample_rate in _AAC_RATES else 48000
            layout = "stereo" if source.channels >= 2 else "mono"
            self._out = output.add_stream("aac", rate=rate, layout=layout)
            self._out.codec_context.bit_rate = 128000 if layout == "stereo" else 96000
            self._packets = self._encoded_packets(rate, layout)

    def pump(self, output: av.container.OutputContainer, until: float | None) -> None:
        """Mux audio packets up to output time ``until`` (all that remain when None)."""
        try:
            while True:
                if self._pending is None:
                    self._pending = next(self._packets, None)
                    if self._pending is None:
                        return
                packet = self._pending
                if until is not None and float(packet.pts * packet.time_base) > until:
                    return
                self._pending = None
                output.mux(packet)
        except av.FFmpegError as err:
            raise InputError(f"{self._input.name}: reading its audio failed ({_reason(err)})") from err

    def _in_span(self, t0: float, t1: float) -> bool:
        # Keep anything overlapping the span: a partial first packet is better than a gap.
        return t1 > self._start + 1e-6 and (self._end is None or t0 < self._end - 1e-6)

    def _copied_packets(self) -> Iterator[av.Packet]:
        tb = self._stream.time_base
        shift = round(Fraction(self._start).limit_denominator(10**9) / tb)
        for packet in self._input.demux(self._stream):
            if packet.pts is None or packet.size == 0:  # the demuxer's final flush packet
                continue
            t0 = float(packet.pts * tb)
            if self._end is not None and t0 >= self._end:
                return
            if not self._in_span(t0, t0 + float((packet.duration or 0) * tb)):
                continue
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = self._out
            yield packet

    def _encoded_packets(self, rate: int, layout: str) -> Iterator[av.Packet]:
        encoder = self._out
        frame_size = encoder.codec_context.frame_size or 1024
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate, frame_size=frame_size)
        samples = 0  # output pts counts samples from 0: the span start

        def encode(frames: list[av.AudioFrame]) -> Iterator[av.Packet]:
            nonlocal samples
            for frame in frames:
                frame.pts, frame.time_base = samples, Fraction(1, rate)
                samples += frame.samples
                yield from encoder.encode(frame)

        for frame in self._input.decode(self._stream):
            if frame.time is not None:
                t0 = float(frame.time)
                if self._end is not None and t0 >= self._end:
                    break
                frame = self._trim(frame, t0)
                if frame is None:
                    continue
            frame.pts = None  # the resampler re-times frames; pts are assigned above
            yield from encode(resampler.resample(frame))
        yield from encode(resampler.resample(None))
        yield from encoder.encode(None)

    def _trim(self, frame: av.AudioFrame, t0: float) -> av.AudioFrame | None:
        """The samples of ``frame`` (starting at ``t0`` s) inside the span; None when none are."""
        rate, n = frame.sample_rate, frame.samples
        first = max(0, round((self._start - t0) * rate))
        last = n if self._end is None else min(n, round((self._end - t0) * rate))
        if first >= last:
            return None
        if (first, last) == (0, n):
            return frame
        data = frame.to_ndarray()  # planar: (channels, n); packed: (1, n * channels)
        step = 1 if frame.format.is_planar else len(frame.layout.channels)
        trimmed = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(data[:, first * step : last * step]),
            format=frame.format.name,
            layout=frame.layout.name,
        )
        trimmed.sample_rate = rate
        return trimmed

    def close(self) -> None:
        self._packets = None
        self._pending = None
        try:
            self._input.close()
        except _AV_ERRORS:
            pass


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
