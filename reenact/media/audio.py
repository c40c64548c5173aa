"""The audio of another file carried into a written video (``reenact drive`` keeps the source's sound).

Stream-copied when mp4 takes its codec (AAC, MP3, ALAC), otherwise re-encoded to AAC. The audio is rebased to
the source's video timeline: what plays at the source's first video frame (``Frame.time`` 0) plays at time 0
of the output, and audio before it is left out. Failures while reading it raise
:class:`reenact.errors.InputError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from reenact.errors import InputError
from reenact.media.files import AV_ERRORS, check_file, reason
from reenact.media.reading import codec_name, open_input, video_stream

# Audio codecs the mp4 muxer takes as they are; anything else is re-encoded to AAC.
_MP4_AUDIO_COPY = frozenset({"aac", "mp3", "alac"})
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


class AudioSource:
    """The audio of another file, rebased to the start of its video, fed into an output container on
    demand."""

    def __init__(self, container: av.container.InputContainer, stream: Any, start: float):
        self._input = container
        self._stream = stream
        self._start = start  # seconds on the audio's own timeline where the video starts
        self._packets: Iterator[av.Packet] | None = None
        self._pending: av.Packet | None = None
        self._out: Any = None
        self.copy = codec_name(stream) in _MP4_AUDIO_COPY

    @classmethod
    def open(cls, path: str | os.PathLike) -> AudioSource | None:
        """The audio of ``path``; None when it has none."""
        path = Path(path)
        check_file(path, "audio source")
        container = open_input(str(path), str(path))
        if not container.streams.audio:
            container.close()
            return None
        stream = container.streams.audio[0]
        # The origin of the source's video timeline (Frame.time) is the video start.
        video = video_stream(container)
        origin = 0.0
        if video is not None and video.start_time is not None and video.time_base:
            origin = float(video.start_time * video.time_base)
        elif stream.start_time is not None and stream.time_base:
            origin = float(stream.start_time * stream.time_base)
        return cls(container, stream, origin)

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
            raise InputError(f"{self._input.name}: reading its audio failed ({reason(err)})") from err

    def _after_start(self, t1: float) -> bool:
        # Keep anything that ends after the start: a partial first packet is better than a gap.
        return t1 > self._start + 1e-6

    def _copied_packets(self) -> Iterator[av.Packet]:
        tb = self._stream.time_base
        shift = round(Fraction(self._start).limit_denominator(10**9) / tb)
        for packet in self._input.demux(self._stream):
            if packet.pts is None or packet.size == 0:  # the demuxer's final flush packet
                continue
            t0 = float(packet.pts * tb)
            if not self._after_start(t0 + float((packet.duration or 0) * tb)):
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
        samples = 0  # output pts counts samples from 0: the start

        def encode(frames: list[av.AudioFrame]) -> Iterator[av.Packet]:
            nonlocal samples
            for frame in frames:
                frame.pts, frame.time_base = samples, Fraction(1, rate)
                samples += frame.samples
                yield from encoder.encode(frame)

        for frame in self._input.decode(self._stream):
            if frame.time is not None:
                frame = self._trim(frame, float(frame.time))
                if frame is None:
                    continue
            frame.pts = None  # the resampler re-times frames; pts are assigned above
            yield from encode(resampler.resample(frame))
        yield from encode(resampler.resample(None))
        yield from encoder.encode(None)

    def _trim(self, frame: av.AudioFrame, t0: float) -> av.AudioFrame | None:
        """The samples of ``frame`` (starting at ``t0`` s) from the start on; None when none are."""
        rate, n = frame.sample_rate, frame.samples
        first = max(0, round((self._start - t0) * rate))
        if first >= n:
            return None
        if first == 0:
            return frame
        data = frame.to_ndarray()  # planar: (channels, n); packed: (1, n * channels)
        step = 1 if frame.format.is_planar else len(frame.layout.channels)
        trimmed = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(data[:, first * step : n * step]),
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
        except AV_ERRORS:
            pass
