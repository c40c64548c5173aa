"""train → fit → render → eval through the command line on a tiny config and a short real clip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from reenact.cli import main
from reenact.evaluate import image_metrics
from reenact.media.reading import VideoReader
from reenact.tracked_measures import rotation_distance_deg


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory, short_clip):
    import contextlib
    import io

    run_dir = tmp_path_factory.mktemp("train") / "run"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "train",
                str(short_clip),
                "-o",
                str(run_dir),
                "--preset",
                "tiny",
                "--steps",
                "4",
                "--every",
                "3",
                "--json",
                "--device",
                "cpu",
            ]
        )
    assert code == 0, err.getvalue()
    return run_dir, json.loads(out.getvalue())


def test_train_writes_a_resumable_checkpoint(capsys, trained, short_clip):
    run_dir, summary = trained
    assert summary["step"] == 4 and (run_dir / "last.pt").is_file()
    assert list((run_dir / "cache").glob("*.npz"))
    code, stdout, err = run(
        capsys, "train", run_dir / "cache", "-o", run_dir, "--preset", "tiny", "--steps", "6", "--json"
    )
    assert code == 0, err
    resumed = json.loads(stdout)
    assert resumed["start_step"] == 4 and resumed["step"] == 6
    # A new run from those weights that sees only the leading expression components; too many is one clear
    # error.
    code, stdout, err = run(
        capsys,
        "train",
        run_dir / "cache",
        "-o",
        run_dir.parent / "limited",
        "--preset",
        "tiny",
        "--steps",
        "1",
        "--init",
        run_dir / "last.pt",
        "--expression-components",
        "10",
        "--json",
    )
    assert code == 0, err
    from model.checkpoint import load_checkpoint

    assert load_checkpoint(run_dir.parent / "limited" / "last.pt")[0].config.field.expression_components == 10
    code, _, err = run(
        capsys,
        "train",
        run_dir / "cache",
        "-o",
        run_dir.parent / "bad",
        "--preset",
        "tiny",
        "--steps",
        "1",
        "--expression-components",
        "47",
    )
    assert code != 0 and "expression-components" in err and "Traceback" not in err


def test_geometry_weight_from_the_command_line(capsys, trained, tmp_path):
    from model.checkpoint import load_checkpoint

    run_dir, _ = trained  # a cache the real tracker built: identity-shape coefficients and all
    code, stdout, err = run(
        capsys,
        "train",
        run_dir / "cache",
        "-o",
        tmp_path / "geometry_run",
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--init",
        run_dir / "last.pt",
        "--geometry-weight",
        "0.5",
        "--json",
    )
    assert code == 0, err
    assert load_checkpoint(tmp_path / "geometry_run" / "last.pt")[0].config.loss.geometry_weight == 0.5


def test_warp_radius_from_the_command_line(capsys, trained, tmp_path):
    from model.checkpoint import load_checkpoint
    from tracking.landmark_model import LandmarkModel

    run_dir, _ = trained
    code, _, err = run(
        capsys,
        "train",
        run_dir / "cache",
        "-o",
        tmp_path / "warp_run",
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--init",
        run_dir / "last.pt",
        "--warp-radius",
        "0.08",
    )
    assert code == 0, err
    model = load_checkpoint(tmp_path / "warp_run" / "last.pt")[0]
    assert model.config.field.warp_radius == 0.08
    assert torch.equal(model.field.warp.anchors, torch.as_tensor(LandmarkModel.default().mean))


def test_fit_render_and_export(capsys, trained, shared_data, tmp_path):
    run_dir, _ = trained
    checkpoint = run_dir / "last.pt"
    codes = tmp_path / "codes.npz"
    target = shared_data / "portraits" / "liveportrait" / "s2.jpg"
    code, stdout, err = run(
        capsys,
        "fit",
        target,
        "-o",
        codes,
        "--checkpoint",
        checkpoint,
        "--iterations",
        3,
        "--save-render",
        tmp_path / "fit.png",
        "--json",
    )
    assert code == 0, err
    assert math.isfinite(json.loads(stdout)["psnr"]) and (tmp_path / "fit.png").is_file()
    sweep = tmp_path / "sweep.mp4"
    code, stdout, err = run(
        capsys,
        "render",
        checkpoint,
        "--identity",
        codes,
        "--yaw",
        "-20:20",
        "--frames",
        5,
        "-o",
        sweep,
        "--json",
    )
    assert code == 0, err
    with VideoReader(sweep) as reader:
        frames = [f.image for f in reader]
    assert len(frames) == 5 and not np.array_equal(frames[0], frames[-1])
    assert (
        run(
            capsys,
            "render",
            checkpoint,
            "--identity",
            codes,
            "--to",
            codes,
            "--frames",
            3,
            "-o",
            tmp_path / "strip.png",
        )[0]
        == 0
    )
    exported = tmp_path / "half.pt"
    code, stdout, err = run(capsys, "export", checkpoint, "-o", exported, "--json")
    assert code == 0, err and json.loads(stdout)["bytes"] == exported.stat().st_size


def test_eval_on_a_short_clip(capsys, trained, short_clip, shared_data):
    run_dir, _ = trained
    portrait = shared_data / "portraits" / "liveportrait" / "s2.jpg"
    code, stdout, err = run(
        capsys,
        "eval",
        run_dir / "last.pt",
        short_clip,
        "--max-frames",
        6,
        "--fit-iterations",
        2,
        "--cross",
        portrait,
        "--ablation",
        run_dir / "last.pt",
        "--json",
    )
    assert code == 0, err
    result = json.loads(stdout)
    # The same checkpoint as its own ablation: the same fit and renders, so the same row (its baselines are
    # not re-run).
    assert result["clips"][0]["ablation"] == result["clips"][0]["model"]
    for method in ("model", "smoothed", "static", "pose_only"):
        values = result["summary"][method]
        assert 0.0 <= values["l1"] <= 1.0 and math.isfinite(values["psnr"]) and -1.0 <= values["ssim"] <= 1.0
    clip = result["clips"][0]
    # One fit for all three: they differ only in what drives the renders after the fitted frame.
    assert clip["model"]["fit_psnr"] == clip["static"]["fit_psnr"] == clip["pose_only"]["fit_psnr"]
    # The clip's head moves, so driving by pose alone is not the still frame.
    assert clip["pose_only"]["l1"] != clip["static"]["l1"]
    # drive's smoothing (on by default) changes the driving parameters, so the renders.
    assert (
        clip["smoothed"]["fit_psnr"] == clip["model"]["fit_psnr"]
        and clip["smoothed"]["l1"] != clip["model"]["l1"]
    )
    assert "cross" in result["summary"] and len(result["cross"]) == 1
    # The viewer rows: drive's output, the 2D morph and the still portrait, measured from outside.
    (pair,) = result["viewer"]
    assert pair["portrait"] == str(portrait) and set(result["viewer_summary"]) == {"model", "morph", "still"}
    for row in ("model", "morph", "still"):
        assert set(pair[row]) >= {"mouth", "eyes", "yaw", "pitch", "id_to_target", "jitter", "detail"}
    # The still portrait is the portrait: the same person, its detail; the morph moves it, the still does not.
    assert pair["still"]["id_to_target"] < 0.2 and abs(pair["still"]["detail"] - 1.0) < 0.2
    assert pair["morph"]["motion"] > pair["still"]["motion"]
    # drive's output is the portrait's own photo (even a tiny random model keeps its identity and detail).
    assert pair["model"]["faces"] == 1.0 and pair["model"]["id_to_target"] < 0.45
    assert "as a viewer sees it" in err
    # Self-reenactment at the photo output's size: drive's output, the morph and the still first frame
    # against the real frames.
    photo = result["clips"][0]["photo"]
    assert set(photo) == set(result["photo_summary"]) == {"model", "morph", "still"}
    for row in photo.values():
        assert (
            0.0 < row["l1"] < 0.5 and 0.0 < row["ssim"] < 1.0 and row["psnr"] > 10 and row["psnr_frame"] > 10
        )
    # The morph follows the moving head, so it is nearer the real frames than the still first frame (a
    # comparison off by a frame, or against the wrong frames, would not show this).
    assert photo["morph"]["psnr"] > photo["still"]["psnr"] and photo["morph"]["ssim"] > photo["still"]["ssim"]
    # Read by the tracker: the still frame's change distance is how far the clip's expression moves (> 0), and
    # the morph, which turns with the head, is nearer the real head rotation than the still frame.
    assert photo["still"]["expression_change_distance"] > 0.0
    assert all(np.isfinite(row["expression_change_distance"]) for row in photo.values())
    assert photo["morph"]["pose_distance_deg"] < photo["still"]["pose_distance_deg"], photo
    assert "self-reenactment at the photo output's size" in err
    # The real crops through the motion metrics only: every one has a face, and there is no image row to fake.
    real = result["summary"]["real"]
    assert real["face_found"] == 1.0 and "l1" not in real and "fit_psnr" not in real
    assert real["pose_distance_deg"] < 5.0, real  # the tracker reads a real crop's pose as it read the frame


def test_eval_fit_options(capsys, trained, short_clip):
    """Renderer fine-tuning (on by default, as in drive) and its options reach the fits: recorded in the JSON,
    and the fine-tuned renderer draws the clip's renders (the still frame differs from a plain fit's)."""
    run_dir, _ = trained
    common = (
        "eval",
        run_dir / "last.pt",
        short_clip,
        "--max-frames",
        4,
        "--fit-iterations",
        2,
        "--smooth",
        0,
        "--json",
    )
    code, stdout, err = run(capsys, *common, "--no-fit-finetune-renderer")
    assert code == 0, err
    plain = json.loads(stdout)
    code, stdout, err = run(
        capsys, *common, "--fit-finetune-roll", 12, "--fit-finetune-expressions", 2
    )  # fine-tuning: the default
    assert code == 0, err
    tuned = json.loads(stdout)
    assert plain["fit_finetune_renderer"] is False
    assert (tuned["fit_finetune_renderer"], tuned["fit_finetune_roll"]) == (True, 12.0)
    assert tuned["fit_finetune_expressions"] == 2
    assert tuned["clips"][0]["static"]["l1"] != plain["clips"][0]["static"]["l1"]
    assert tuned["clips"][0]["model"]["fit_psnr"] > plain["clips"][0]["model"]["fit_psnr"]


def test_image_metrics_hand_values():
    renders = np.zeros((1, 16, 16, 3), np.uint8)
    reals = np.full((1, 16, 16, 3), 255, np.uint8)
    masks = np.zeros((1, 16, 16), np.float32)
    masks[:, :8] = 1.0  # half the image is head
    metrics = image_metrics(renders, reals, masks)
    assert metrics["l1"] == pytest.approx(1.0)  # inside the mask the error is 1 everywhere
    # Outside the mask both are zeroed: MSE = 0.5 over the whole image → PSNR = 10·log10(2).
    assert metrics["psnr"] == pytest.approx(10 * math.log10(2.0), abs=1e-4)


def test_rotation_distance_deg():
    from model.camera import orbit_cam_to_world

    assert rotation_distance_deg(
        orbit_cam_to_world(0.0), orbit_cam_to_world(np.radians(30))
    ) == pytest.approx(30.0, abs=1e-4)


def test_motion_metrics_hand_values():
    from types import SimpleNamespace

    from model.camera import orbit_cam_to_world
    from reenact.tracked_measures import LEADING_EXPRESSION, motion_metrics

    seen = np.zeros((1, 46), np.float32)
    seen[0, :LEADING_EXPRESSION] = 1.0  # off by 1 on the leading components, exact on the rest
    tracked = SimpleNamespace(
        embedding=np.array([1.0, 0.0]), expression=seen, pose=orbit_cam_to_world(np.radians(10))[None]
    )

    class Tracker:  # answers every render with the same tracked face
        def track_image(self, image):
            return tracked

    renders = np.zeros((2, 8, 8, 3), np.uint8)
    metrics = motion_metrics(
        renders,
        np.stack([orbit_cam_to_world(0.0)] * 2),
        np.zeros((2, 46), np.float32),
        np.array([1.0, 1.0]),
        Tracker(),
    )
    assert metrics["identity_similarity"] == pytest.approx(1 / math.sqrt(2))
    assert metrics["expression_distance"] == pytest.approx(LEADING_EXPRESSION / 46)
    assert metrics["expression_distance_leading"] == pytest.approx(1.0)
    assert metrics["pose_distance_deg"] == pytest.approx(10.0, abs=1e-4) and metrics["face_found"] == 1.0
    assert math.isnan(metrics["expression_change_distance"])  # no start to measure change from
    # Change from the start: the renders' tracked code moved by `seen` from the start render; the driver moved
    # by 0.5 on component 0 only → |1 − 0.5| on component 0, 1 on the other nine leading ones.
    driving = np.zeros((2, 46), np.float32)
    driving[:, 0] = 0.5
    metrics = motion_metrics(
        renders,
        np.stack([orbit_cam_to_world(0.0)] * 2),
        driving,
        np.array([1.0, 1.0]),
        Tracker(),
        (np.zeros(46, np.float32), np.zeros(46, np.float32)),
    )
    assert metrics["expression_change_distance"] == pytest.approx((0.5 + 9.0) / LEADING_EXPRESSION)
    assert metrics["expression_distance_leading"] == pytest.approx((0.5 + 9.0) / LEADING_EXPRESSION)
    metrics = motion_metrics(
        renders,
        np.stack([orbit_cam_to_world(0.0)] * 2),
        driving,
        np.array([1.0, 1.0]),
        Tracker(),
        (seen[0], np.zeros(46, np.float32)),
    )  # a render that does not move from its start
    assert metrics["expression_change_distance"] == pytest.approx(0.5 / LEADING_EXPRESSION)
