"""Tests of reenact.media on synthetic clips and the real clips in ../shared/data (small, fast)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reenact.errors import InputError, exit_code
from reenact.media.images import read_image
from reenact.media.reading import Frame, VideoInfo, VideoReader, open_video, probe
from reenact.media.writing import VideoWriter
from tracking.media_files import is_image_path

FPS = 25
N_FRAMES = 48
W, H = 64, 48


# -- helpers ---------------------------------------------------------------------------------------


def pattern(i: int, width: int = W, height: int = H) -> np.ndarray:
    """A smooth colour gradient with a green square moving right: easy for H.264, easy to check."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:, :, 0] = 180
    img[:, :, 2] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    x = (2 * i) % (width - 16)
    img[10:26, x : x + 16] = (30, 220, 60)
    return img


def write_sine(path: Path, seconds: float, codec: str = "aac", rate: int = 44100) -> None:
    """A 440 Hz mono tone encoded with PyAV (e.g. aac in .m4a, pcm_s16le in .wav, libmp3lame in .mp3)."""
    offered = {f.name for f in av.codec.Codec(codec, "w").audio_formats}
    fmt = next(f for f in ("fltp", "flt", "s16", "s16p") if f in offered)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        total, chunk, start = int(seconds * rate), 1024, 0
        while start < total:
            n = min(chunk, total - start)
            wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(start, start + n) / rate)
            data = wave.astype(np.float32) if fmt.startswith("flt") else (wave * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(data[None], format=fmt, layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
            start += n
        for packet in stream.encode(None):
            out.mux(packet)


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.codec_context.sample_rate


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def run_python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], **{"timeout": 60, "check": True, **kwargs}
    )


@pytest.fixture(scope="module")
def sine_m4a(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "sine.m4a"
    write_sine(path, N_FRAMES / FPS)
    return path


@pytest.fixture(scope="module")
def synthetic_mp4(tmp_path_factory, sine_m4a) -> Path:
    path = tmp_path_factory.mktemp("video") / "synthetic.mp4"
    with VideoWriter(path, FPS, audio_from=sine_m4a) as writer:
        for i in range(N_FRAMES):
            writer.write(pattern(i))
    assert writer.frames_written == N_FRAMES
    return path


# -- writer + reader round trip --------------------------------------------------------------------


def test_roundtrip_frames_times_pixels_and_audio(synthetic_mp4: Path) -> None:
    with open_video(synthetic_mp4) as video:
        info = video.info
        frames = list(video)
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height, info.codec, info.rotation) == (W, H, "h264", 0)
    assert info.fps == pytest.approx(FPS)
    assert info.frame_count == N_FRAMES
    assert info.has_audio and info.audio_codec == "aac"
    assert len(frames) == N_FRAMES
    for i, frame in enumerate(frames):
        assert isinstance(frame, Frame) and frame.index == i
        assert frame.image.shape == (H, W, 3) and frame.image.dtype == np.uint8
        assert frame.image.flags.c_contiguous
        assert frame.time == pytest.approx(i / FPS, abs=1e-6)
        error = np.abs(frame.image.astype(np.int16) - pattern(i)).mean()
        assert error < 6.0, f"frame {i}: mean abs error {error:.2f}"
    assert audio_seconds(synthetic_mp4) == pytest.approx(N_FRAMES / FPS, abs=0.1)


def test_writer_output_is_browser_friendly(synthetic_mp4: Path) -> None:
    with av.open(str(synthetic_mp4)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == FPS
        order = "".join(p.stream.type[0] for p in container.demux() if p.size)
    data = synthetic_mp4.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "+faststart: the index must come first"
    assert "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv" not in order[:40], "audio and video are not interleaved"


def test_writer_pads_odd_size_to_even(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 10, size=(33, 21)) as writer:
        for i in range(3):
            writer.write(pattern(i, 33, 21))
        with pytest.raises(ValueError, match="34x22|33x21"):
            writer.write(pattern(0, 40, 20))
    info = probe(out)
    assert (info.width, info.height) == (34, 22)
    with VideoReader(out) as video:
        first = next(iter(video)).image
    assert np.abs(first[:21, :33].astype(np.int16) - pattern(0, 33, 21)).mean() < 8


def test_audio_reencoded_to_aac(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    write_sine(wav, 3.0, codec="pcm_s16le", rate=22050)
    out = tmp_path / "reencoded.mp4"
    with VideoWriter(out, FPS, audio_from=wav) as writer:
        for i in range(FPS):
            writer.write(pattern(i))
    info = probe(out)
    assert info.audio_codec == "aac"
    assert audio_seconds(out) == pytest.approx(3.0, abs=0.1)  # all of it, from the start


@pytest.mark.parametrize("codec", ["aac", "mp3"])
def test_audio_stream_copied(tmp_path: Path, sine_m4a: Path, codec: str) -> None:
    source = sine_m4a
    if codec == "mp3":
        if "libmp3lame" not in av.codecs_available:
            pytest.skip("this PyAV build has no MP3 encoder to make the input")
        source = tmp_path / "sine.mp3"
        write_sine(source, 2.0, codec="libmp3lame")
    out = tmp_path / "copy.mp4"
    with VideoWriter(out, FPS, audio_from=source) as writer:
        for i in range(FPS):
            writer.write(pattern(i))
    assert probe(out).audio_codec == codec  # copied as is, not re-encoded
    assert audio_seconds(out) == pytest.approx(audio_seconds(source), abs=0.1)


def test_variable_frame_rate_times_are_real_pts(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    pts_ms = [0, 40, 80, 200, 240, 400, 440]  # a stall, as phones produce
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, ms in enumerate(pts_ms):
            frame = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with VideoReader(path) as video:
        times = [f.time for f in video]
    assert times == pytest.approx([ms / 1000 for ms in pts_ms], abs=1e-3)


def test_rotation_metadata_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.set_display_rotation(-90)  # = the "rotate=90" of a phone held upright
        for _i in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pattern(0), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with VideoReader(path) as video:
        assert (video.info.width, video.info.height, video.info.rotation) == (H, W, 90)
        image = next(iter(video)).image
    expected = np.rot90(pattern(0), k=-1)  # 90 degrees clockwise
    assert image.shape == expected.shape
    assert np.abs(image.astype(np.int16) - expected).mean() < 6


# -- real clips ------------------------------------------------------------------------------------


def test_odd_frame_rate_clip(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "videos" / "retalking" / "1.mp4"
    with VideoReader(clip) as video:
        info = video.info
        times, first = [], []
        for frame in video:
            times.append(frame.time)
            if frame.index < 5:
                first.append(frame.image)
    assert info.fps == pytest.approx(1350 / 61)
    assert info.frame_count is not None and abs(len(times) - info.frame_count) <= 1
    assert all(b > a for a, b in zip(times, times[1:])), "times must increase strictly"
    assert first[0].shape == (info.height, info.width, 3)

    out = tmp_path / "odd_fps.mp4"
    with VideoWriter(out, info.fps, crf=30) as writer:
        for image in first:
            writer.write(image[::4, ::4])
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == Fraction(1350, 61)
    with VideoReader(out) as video:
        assert [f.time for f in video] == pytest.approx([i * 61 / 1350 for i in range(5)], abs=1e-4)


def test_mpeg4_part2_clip(shared_data: Path) -> None:
    clip = next(iter(sorted((shared_data / "videos" / "sadtalker").glob("*.mp4"))))
    with VideoReader(clip) as video:
        info = video.info
        for frame in video:
            if frame.index == 9:
                break
    assert info.codec == "mpeg4"
    assert info.has_audio and info.audio_codec == "aac"
    assert frame.index == 9 and frame.image.shape == (info.height, info.width, 3)
    assert frame.image.std() > 10  # real picture content, not a blank frame


def test_edit_list_clip_count_matches_decoded_frames(shared_data: Path) -> None:
    # obama_news.mp4 stores 158 frames but its edit list shows only the last 55 (as players do).
    clip = shared_data / "videos" / "misc" / "obama_news.mp4"
    with VideoReader(clip) as video:
        times = [frame.time for frame in video]
        info = video.info
    assert info.frame_count is not None and abs(len(times) - info.frame_count) <= 1
    assert times[0] == 0.0 and times[-1] == pytest.approx((len(times) - 1) / info.fps, abs=0.01)


# -- atomic writes ---------------------------------------------------------------------------------


def test_exception_inside_writer_leaves_nothing(tmp_path: Path, sine_m4a: Path) -> None:
    out = tmp_path / "never.mp4"
    before = sha1(sine_m4a)
    with pytest.raises(KeyError):
        with VideoWriter(out, FPS, audio_from=sine_m4a) as writer:
            for i in range(60):  # past the encoder's lookahead, so packets reach the file
                writer.write(pattern(i))
            assert [p.name.startswith(".never.mp4.") for p in tmp_path.iterdir()] == [True], (
                "frames should go to one hidden temp file next to the output"
            )
            raise KeyError("boom")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert sha1(sine_m4a) == before


def test_aborted_write_keeps_existing_file(tmp_path: Path, synthetic_mp4: Path) -> None:
    out = tmp_path / "existing.mp4"
    out.write_bytes(synthetic_mp4.read_bytes())
    before = sha1(out)
    with pytest.raises(RuntimeError):
        with VideoWriter(out, FPS, audio_from=out) as writer:
            writer.write(pattern(0))
            raise RuntimeError("interrupted")
    assert sha1(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["existing.mp4"]


def test_closing_without_frames_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        with VideoWriter(tmp_path / "empty.mp4", FPS):
            pass
    assert list(tmp_path.iterdir()) == []


# -- standard input / output -----------------------------------------------------------------------


def test_write_to_stdout_is_fragmented_mp4(tmp_path: Path) -> None:
    out = tmp_path / "stdout.mp4"
    code = f"""
        import numpy as np
        from reenact.media.writing import VideoWriter
        with VideoWriter("-", 25) as writer:
            for i in range(6):
                writer.write(np.full(({H}, {W}, 3), 40 * i, np.uint8))
    """
    with out.open("wb") as stdout:
        run_python(code, stdout=stdout)
    assert b"moof" in out.read_bytes()
    with VideoReader(out) as video:
        frames = list(video)
    assert len(frames) == 6 and frames[0].image.shape == (H, W, 3)
    assert [int(f.image.mean() + 0.5) for f in frames] == pytest.approx([40 * i for i in range(6)], abs=3)


@pytest.mark.parametrize("piped", [False, True], ids=["redirected", "pipe"])
def test_read_from_stdin(shared_data: Path, piped: bool) -> None:
    # The commands' "-": pipeline.open_source spools standard input to a file the reader can seek in.
    clip = shared_data / "videos" / "pcavs" / "00010.mp4"  # moov at the end: needs seeking
    expected = sum(1 for _ in VideoReader(clip))
    code = """
        from reenact.media.reading import VideoReader
        from reenact.pipeline import open_source
        source = open_source("-")
        with VideoReader(source.path) as video:
            print(sum(1 for _ in video), video.info.width)
        source.cleanup()
        assert not source.path.exists()
    """
    if piped:
        result = run_python(
            code, input=clip.read_bytes(), capture_output=True, timeout=300
        )  # the pipeline loads torch
    else:
        with clip.open("rb") as stdin:
            result = run_python(code, stdin=stdin, capture_output=True, timeout=300)
    count, width = map(int, result.stdout.split())
    assert count == expected and width == probe(clip).width


# -- folders of frames and still images ------------------------------------------------------------


def test_folder_of_frames(tmp_path: Path) -> None:
    for i in (1, 2, 10):  # natural order: 1, 2, 10 (not 1, 10, 2)
        Image.fromarray(pattern(i)).save(tmp_path / f"frame{i}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    with open_video(tmp_path, fps_for_folder=10) as video:
        assert (video.info.width, video.info.height, video.info.frame_count) == (W, H, 3)
        frames = list(video)
    assert [f.time for f in frames] == pytest.approx([0.0, 0.1, 0.2])
    for frame, i in zip(frames, (1, 2, 10)):
        assert np.array_equal(frame.image, pattern(i))


def test_read_image_modes(tmp_path: Path) -> None:
    grey = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (8, 1))
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    out = read_image(tmp_path / "grey.png")
    assert out.shape == (8, 32, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :, 0], grey) and np.array_equal(out[:, :, 2], grey)

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (255, 0, 0, 255)  # opaque red on top, fully transparent below
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    out = read_image(tmp_path / "alpha.png")
    assert out.shape == (4, 4, 3)
    assert (out[0, 0] == (255, 0, 0)).all() and (out[3, 3] == (255, 255, 255)).all()

    deep = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4096).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    out = read_image(tmp_path / "deep.png")
    assert out.dtype == np.uint8 and out[3, 3, 0] == round(15 * 4096 / 257)

    Image.fromarray(pattern(0)).convert("P").save(tmp_path / "palette.png")
    assert read_image(tmp_path / "palette.png").shape == (H, W, 3)


def test_read_image_applies_exif_orientation(tmp_path: Path) -> None:
    image = Image.fromarray(pattern(0))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: the stored picture must be turned 90 degrees clockwise
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "rotated.jpg")
    expected = np.rot90(pattern(0), k=-1)
    assert out.shape == expected.shape == (W, H, 3)
    assert np.abs(out.astype(np.int16) - expected).mean() < 6


def test_read_real_greyscale_portrait(shared_data: Path) -> None:
    folder = shared_data / "portraits" / "codeformer_gray"
    first = sorted(p for p in folder.iterdir() if is_image_path(p))[0]
    out = read_image(first)
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8 and out.flags.c_contiguous
    assert np.array_equal(out[:, :, 0], out[:, :, 1])


def test_is_image_path() -> None:
    assert is_image_path("a/b.JPG") and is_image_path("x.webp") and is_image_path(Path("y.png"))
    assert not is_image_path("clip.mp4") and not is_image_path("-") and not is_image_path("folder")


# -- bad inputs ------------------------------------------------------------------------------------


def test_bad_inputs_raise_input_error(tmp_path: Path, sine_m4a: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    photo = tmp_path / "photo.png"
    Image.fromarray(pattern(0)).save(photo)
    disguised = tmp_path / "photo.mp4"
    Image.fromarray(pattern(0)).save(disguised, format="JPEG")
    no_images = tmp_path / "no_images"
    no_images.mkdir()
    cases = {
        tmp_path / "missing.mp4": "not found",
        empty: "empty",
        text: "not a readable video",
        photo: "is an image, not a video",
        disguised: "is an image, not a video",
        sine_m4a: "has no video stream",
        no_images: "has no images",
    }
    for source, fragment in cases.items():
        with pytest.raises(InputError, match=fragment) as caught:
            VideoReader(source)
        assert str(source) in str(caught.value)
        assert exit_code(caught.value) == 3
    with pytest.raises(InputError, match="not found"):
        VideoWriter(tmp_path / "out.mp4", FPS, audio_from=tmp_path / "missing.wav")
    with pytest.raises(InputError, match="not a readable image"):
        read_image(text)
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "missing.png")
