"""``reenact drive`` end to end on real clips: tracking, fitting, rendering, muxing, batch runs, pipes and
bad input. A tiny randomly initialised checkpoint keeps it fast; the code path is the real one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from reenact.cli import main
from reenact.codes import Codes
from reenact.engine import Engine
from reenact.media.reading import VideoReader, probe
from reenact.media.writing import VideoWriter
from tests.conftest import SHORT_CLIP_FRAMES


@pytest.fixture(scope="module")
def work(tmp_path_factory, shared_data, short_clip, tiny_checkpoint) -> dict[str, Path]:
    from reenact.media.images import write_image

    root = tmp_path_factory.mktemp("drive")
    no_face = root / "wall.png"
    gradient = np.linspace(0, 255, 128 * 128 * 3).reshape(128, 128, 3).astype(np.uint8)
    write_image(no_face, gradient)
    no_face_video = root / "wall.mp4"
    with VideoWriter(no_face_video, fps=10) as writer:
        for i in range(10):
            writer.write(np.roll(gradient, i, axis=1))
    return {
        "root": root,
        "checkpoint": tiny_checkpoint,
        "clip": short_clip,
        "target": shared_data / "portraits" / "liveportrait" / "s1.jpg",
        "no_face": no_face,
        "no_face_video": no_face_video,
    }


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_drive_one_pair_keeps_frames_duration_and_audio(capsys, work):
    out = work["root"] / "one.mp4"
    identity = work["root"] / "s1_codes.npz"
    code, stdout, err = run(
        capsys,
        "drive",
        work["clip"],
        work["target"],
        "-o",
        out,
        "--checkpoint",
        work["checkpoint"],
        "--fit-iterations",
        3,
        "--save-identity",
        identity,
        "--json",
        "--device",
        "cpu",
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert (
        summary["output"] == str(out) and summary["frames"] == SHORT_CLIP_FRAMES and summary["audio"] is True
    )
    source_info, out_info = probe(work["clip"]), probe(out)
    assert out_info.has_audio and out_info.codec == "h264"
    assert abs(out_info.fps - source_info.fps) < 1e-3
    with VideoReader(out) as reader:
        frames = [f.image for f in reader]
    assert len(frames) == SHORT_CLIP_FRAMES
    assert abs(out_info.duration - source_info.duration) <= 1.0 / source_info.fps + 1e-3
    # The default output is the target's photo at its own framing, long side capped at 1024 (even sides).
    from reenact.composite import canvas_size
    from reenact.media.images import read_image

    photo = read_image(work["target"])
    assert (out_info.width, out_info.height) == canvas_size(photo.shape[1], photo.shape[0], 1024)
    # Relative motion: at the source frame that stands for the photo (the one that looks most like it,
    # reenact/motion.py) the target has its own camera and expression, so the photo comes back (H.264 loss
    # only), however crude the tiny random model's own render is.
    codes = Codes.load(identity)
    # The fit is saved with what drive --identity needs; the photo output skips renderer fine-tuning.
    assert codes.has_photo and not codes.renderer_state
    assert codes.tracked_pose.shape == (4, 4) and abs(np.linalg.det(codes.tracked_pose[:3, :3]) - 1) < 1e-4
    canvas = cv2.resize(photo, (out_info.width, out_info.height), interpolation=cv2.INTER_AREA)
    assert max(_psnr(frame, canvas) for frame in frames) > 35.0
    # And sharper than the plain render of the same frame (the --crop output), scaled to the same face size.
    engine = Engine.load(work["checkpoint"], "cpu")
    with engine.renderer_override(codes.renderer_state):
        plain = engine.render(codes.cam_to_world[None], codes.expression[None], codes.identity[None])[0]
    scale = out_info.width / codes.image_size[0]
    x0, y0, x1, y1 = (np.asarray(codes.crop) * scale).round().astype(int)
    best = frames[int(np.argmax([_psnr(frame, canvas) for frame in frames]))]
    face = best[max(y0, 0) : y1, max(x0, 0) : x1]
    plain = cv2.resize(plain, (face.shape[1], face.shape[0]), interpolation=cv2.INTER_CUBIC)
    assert _sharpness(face) > 3 * _sharpness(plain)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _sharpness(image: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def test_drive_reuses_identity_and_track_files(capsys, work):
    track = work["root"] / "clip_track.npz"
    codes = work["root"] / "fitted_codes.npz"
    code, stdout, err = run(
        capsys,
        "fit",
        work["target"],
        "-o",
        codes,
        "--checkpoint",
        work["checkpoint"],
        "--iterations",
        3,
        "--json",
    )
    assert code == 0, err
    assert {"psnr", "ssim", "output"} <= set(json.loads(stdout))
    assert Codes.load(codes).renderer_state  # fine-tuned by default
    plain = work["root"] / "plain_codes.npz"
    assert (
        run(
            capsys,
            "fit",
            work["target"],
            "-o",
            plain,
            "--checkpoint",
            work["checkpoint"],
            "--iterations",
            3,
            "--no-finetune-renderer",
        )[0]
        == 0
    )
    assert not Codes.load(plain).renderer_state
    assert run(capsys, "track", work["clip"], "-o", track)[0] == 0
    out = work["root"] / "reused.mp4"
    code, _, err = run(
        capsys,
        "drive",
        work["clip"],
        "-o",
        out,
        "--identity",
        codes,
        "--track",
        track,
        "--checkpoint",
        work["checkpoint"],
        "--side-by-side",
        "--no-audio",
        "--crop",
        "--size",
        64,
    )
    assert code == 0, err
    info = probe(out)
    assert not info.has_audio and (info.width, info.height) == (128, 64)


def test_drive_output_exists_needs_force(capsys, work):
    out = work["root"] / "exists.mp4"
    out.write_bytes(b"keep me")
    code, _, err = run(
        capsys, "drive", work["clip"], work["target"], "-o", out, "--checkpoint", work["checkpoint"]
    )
    assert code == 3 and "--force" in err
    assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize("target_key", ["no_face", "no_face_video"])
def test_drive_target_without_face(capsys, work, target_key):
    out = work["root"] / f"noface_{target_key}.mp4"
    code, _, err = run(
        capsys, "drive", work["clip"], work[target_key], "-o", out, "--checkpoint", work["checkpoint"]
    )
    assert code == 4, err
    assert "face" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_drive_folder_with_broken_file(capsys, work):
    sources = work["root"] / "sources"
    sources.mkdir()
    os.link(work["clip"], sources / "good.mp4")
    (sources / "broken.mp4").write_text("not a video")
    out_dir = work["root"] / "batch_out"
    argv = [
        "drive",
        sources,
        work["target"],
        "-o",
        out_dir,
        "--checkpoint",
        work["checkpoint"],
        "--fit-iterations",
        2,
        "--json",
    ]
    code, stdout, err = run(capsys, *argv)
    assert code == 6, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    status = {Path(r["source"]).name: r["status"] for r in rows}
    assert status == {"good.mp4": "ok", "broken.mp4": "failed"}
    assert (out_dir / "s1_by_good.mp4").exists() and not (out_dir / "s1_by_broken.mp4").exists()
    # Rerun: the finished pair is skipped (resume), the broken one fails again.
    code, stdout, _ = run(capsys, *argv)
    rows = {Path(r["source"]).name: r["status"] for r in map(json.loads, stdout.splitlines())}
    assert code == 6 and rows["good.mp4"] == "skipped"


def test_drive_stdin_to_stdout(work):
    env = dict(os.environ)
    with open(work["clip"], "rb") as stdin:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "reenact",
                "drive",
                "-",
                str(work["target"]),
                "-o",
                "-",
                "--checkpoint",
                str(work["checkpoint"]),
                "--fit-iterations",
                "2",
                "-q",
            ],
            stdin=stdin,
            capture_output=True,
            env=env,
            timeout=600,
        )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    piped = work["root"] / "piped.mp4"
    piped.write_bytes(result.stdout)
    with VideoReader(piped) as reader:
        assert sum(1 for _ in reader) == SHORT_CLIP_FRAMES


def test_drive_crop_writes_the_head_crop(capsys, work):
    out = work["root"] / "crop.mp4"
    code, _, err = run(
        capsys,
        "drive",
        work["clip"],
        work["target"],
        "-o",
        out,
        "--checkpoint",
        work["checkpoint"],
        "--fit-iterations",
        2,
        "--no-finetune-renderer",
        "--crop",
    )
    assert code == 0, err
    engine = Engine.load(work["checkpoint"], "cpu")
    info = probe(out)
    assert (info.width, info.height) == (engine.render_size, engine.render_size)


def test_fit_once_drive_twice_gives_the_inline_output(capsys, work):
    """``fit`` then ``drive --identity`` (no TARGET: the codes carry the photo) = ``drive`` fitting inline;
    side by side, the source is scaled to the output's height."""
    codes = work["root"] / "once.npz"
    common = ["--checkpoint", work["checkpoint"], "--no-audio", "--size", 200, "--side-by-side"]
    fit = ["--fit-iterations", 3, "--no-finetune-renderer"]
    inline, loaded = work["root"] / "inline.mp4", work["root"] / "loaded.mp4"
    code, _, err = run(
        capsys, "drive", work["clip"], work["target"], "-o", inline, "--save-identity", codes, *fit, *common
    )
    assert code == 0, err
    code, _, err = run(capsys, "drive", work["clip"], "-o", loaded, "--identity", codes, *common)
    assert code == 0, err
    with VideoReader(inline) as a, VideoReader(loaded) as b:
        first, second = [f.image for f in a], [f.image for f in b]
    assert len(first) == len(second) == SHORT_CLIP_FRAMES
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    info, source = probe(inline), probe(work["clip"])
    source_width = round(source.width * 200 / source.height / 2) * 2
    assert (info.width, info.height) == (source_width + 200, 200)  # s1.jpg is square


def test_drive_identity_without_photo_needs_the_target(capsys, work):
    """A codes file from before the photo output: drive asks for TARGET (or --crop) in one line."""
    old = work["root"] / "old_codes.npz"
    fit = ["--iterations", 2, "--no-finetune-renderer", "--checkpoint", work["checkpoint"]]
    assert run(capsys, "fit", work["target"], "-o", old, *fit)[0] == 0
    codes = Codes.load(old)
    assert codes.has_photo
    codes.photo = np.zeros((0, 0, 3), np.uint8)
    codes.save(old)
    out = work["root"] / "old.mp4"
    code, _, err = run(
        capsys, "drive", work["clip"], "-o", out, "--identity", old, "--checkpoint", work["checkpoint"]
    )
    assert code == 3 and "carries no photo" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    code, _, err = run(
        capsys,
        "drive",
        work["clip"],
        "-o",
        out,
        "--identity",
        old,
        "--crop",
        "--checkpoint",
        work["checkpoint"],
        "--no-audio",
    )
    assert code == 0, err


def test_track_preview_and_json(capsys, work):
    preview = work["root"] / "preview.mp4"
    code, stdout, err = run(
        capsys, "track", work["clip"], "-o", work["root"] / "t.npz", "--preview", preview, "--json"
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["frames"] == SHORT_CLIP_FRAMES and summary["valid_frames"] == SHORT_CLIP_FRAMES
    assert summary["landmark_error"] < 0.03 and summary["frames_per_second"] > 0
    with VideoReader(preview) as reader:
        assert sum(1 for _ in reader) == SHORT_CLIP_FRAMES


def test_drive_pairs_csv(capsys, work):
    pairs = work["root"] / "pairs.csv"
    pairs.write_text(f"source,target\n{work['clip']},{work['target']}\n")
    out_dir = work["root"] / "pairs_out"
    code, stdout, err = run(
        capsys,
        "drive",
        "--pairs",
        pairs,
        "-o",
        out_dir,
        "--checkpoint",
        work["checkpoint"],
        "--fit-iterations",
        2,
        "--json",
        "-q",
    )
    assert code == 0, err
    assert [json.loads(line)["status"] for line in stdout.splitlines()] == ["ok"]
    assert (out_dir / "s1_by_clip.mp4").is_file()


def test_drive_options_fit_config():
    """drive's fit flags reach the fit (the batch cache keys codes files by this config)."""
    from dataclasses import replace

    from model.fit import FitConfig
    from reenact.pipeline import DriveOptions

    # The photo output skips renderer fine-tuning unless asked; the head crop (the render itself) keeps it.
    assert DriveOptions().fit_config() == replace(FitConfig(), finetune_renderer=False)
    assert DriveOptions(crop=True).fit_config() == FitConfig() and FitConfig().finetune_renderer
    assert DriveOptions(finetune_renderer=True).fit_config().finetune_renderer
    config = DriveOptions(
        fit_iterations=5, finetune_renderer=False, finetune_roll=7.5, finetune_expressions=3
    ).fit_config()
    assert (config.iterations, config.finetune_renderer, config.finetune_roll_degrees) == (5, False, 7.5)
    assert config.finetune_expression_views == 3
