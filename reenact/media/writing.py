"""Writing videos: H.264 (libx264, yuv420p, BT.709 tagged, limited range) in mp4 with ``+faststart``, so
browsers play it; ``"-"`` streams fragmented mp4 to standard output. The audio of another file can be carried
over (``reenact/media/audio.py``).

Images are ``(H, W, 3)`` ``uint8`` RGB. Writing streams: one frame in memory at a time, whatever the video
length. A file that cannot be written raises :class:`reenact.errors.InputError`; programming errors (a wrong
array shape, writing after close) raise ``ValueError``/``RuntimeError``.
"""

from __future__ import annotations

import os
import secrets
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from reenact.errors import InputError
from reenact.media.audio import AudioSource
from reenact.media.files import AV_ERRORS, reason
from reenact.media.reading import fps_fraction

STDIO = "-"


class VideoWriter:
    """Encode RGB frames to a browser-playable H.264 mp4, atomically, optionally with audio.

    ``size`` is ``(width, height)``; without it the first frame fixes the size. Odd sizes are padded
    to even by repeating the last row/column (yuv420p needs even sizes). The file appears at ``path``
    only when the writer closes without an exception (an existing file there is replaced then); until
    then frames go to a hidden temporary file in the same folder. ``path == "-"`` streams fragmented
    mp4 to standard output.

    Audio: when ``audio_from`` has an audio stream, it is placed from that file's video start (its frames'
    ``Frame.time`` 0) at time 0 of the output, to its end, interleaved with the video. A file without audio
    adds none.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction,
        size: tuple[int, int] | None = None,
        *,
        audio_from: str | os.PathLike | None = None,
        crf: int = 18,
        preset: str = "veryfast",
    ) -> None:
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {crf}")
        self.rate = fps_fraction(fps)
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
        self._audio = AudioSource.open(audio_from) if audio_from else None
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
        except AV_ERRORS as err:
            raise InputError(f"{path}: cannot write video ({reason(err)})") from err

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
            raise RuntimeError(f"video encoding failed: {reason(err)}") from err
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
                raise RuntimeError(f"finishing the video failed: {reason(err)}") from err
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
