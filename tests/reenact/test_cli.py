"""The command line: help, version, and the documented exit codes for bad input (one line, no traceback)."""

import pytest

from reenact.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_subcommands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in ("drive", "track", "fit", "render", "train", "eval", "basis", "doctor"):
        assert name in out


def test_version(capsys):
    from reenact import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out


REMOVED_FLAGS = (
    "--expression-weight",
    "--region-weight",
    "--motion-weight",
    "--warp-gain",
    "--expression-in-mlp",
    "--roll-augment",
    "--calibrate-expression",
    "--fit-geometry-weight",
    "--clip-balance",
    "--identity-noise",
)
"""Flags of experiments that were measured, did not ship and were removed."""


@pytest.mark.parametrize(
    "command", ["drive", "track", "fit", "render", "train", "eval", "basis", "export", "doctor"]
)
def test_help_shows_no_removed_experiment(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "--help" in out
    assert not [flag for flag in REMOVED_FLAGS if flag in out]


def test_unknown_option_is_usage_error(capsys):
    code, _, err = run(capsys, "drive", "--no-such-option", "a.mp4", "b.jpg")
    assert code == 2 and "no-such-option" in err


@pytest.mark.parametrize("make", ["missing", "empty", "text"])
def test_drive_bad_source_is_input_error(capsys, tmp_path, make, shared_data):
    source = tmp_path / "source.mp4"
    if make == "empty":
        source.write_bytes(b"")
    elif make == "text":
        source.write_text("this is not a video\n")
    target = next((shared_data / "portraits" / "liveportrait").iterdir())
    out = tmp_path / "out.mp4"
    code, stdout, err = run(capsys, "drive", str(source), str(target), "-o", str(out), "--device", "cpu")
    assert code == 3, err
    assert err.startswith("reenact: error:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and stdout == ""


def test_drive_image_as_source_is_input_error(capsys, tmp_path, shared_data):
    image = next((shared_data / "portraits" / "liveportrait").iterdir())
    code, _, err = run(capsys, "drive", str(image), str(image), "-o", str(tmp_path / "o.mp4"))
    assert code == 3 and "is an image, not a video" in err


def test_drive_refuses_to_overwrite_input(capsys, tmp_path, shared_data):
    video = shared_data / "videos" / "mead" / "M030_front_happy_level3_001.mp4"
    image = next((shared_data / "portraits" / "liveportrait").iterdir())
    code, _, err = run(capsys, "drive", str(video), str(image), "-o", str(video), "--force")
    assert code == 3 and "overwrite an input" in err


def test_track_text_file_named_mp4(capsys, tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_text("not a video")
    code, _, err = run(capsys, "track", str(bad), "-o", str(tmp_path / "t.npz"))
    assert code == 3 and "Traceback" not in err
    assert not (tmp_path / "t.npz").exists()


def test_tables_in_a_log_file_are_not_cut_to_80_columns():
    import io

    from rich.console import Console
    from rich.table import Table

    from reenact.console import Reporter

    stream = io.StringIO()
    reporter = Reporter(
        console=Console(file=stream, width=80, highlight=False)
    )  # not a terminal, as in a log
    table = Table(title="ten wide columns")
    for index in range(10):
        table.add_column(f"metric {index}")
    table.add_row(*[f"{1.23456789 + index:.4g}" for index in range(10)])
    reporter.table(table)
    text = stream.getvalue()
    assert all(f"{1.23456789 + index:.4g}" in text for index in range(10)) and "…" not in text
    assert reporter.console.width == 80  # restored for what follows


def test_json_output_is_strict_json(capsys):
    """NaN and infinities are not JSON (jq and strict parsers reject them): they come out as null."""
    import json

    import numpy as np

    from reenact.console import Reporter

    Reporter(json_mode=True).emit_json(
        {
            "a": float("nan"),
            "b": [1.5, float("inf")],
            "c": np.float32("nan"),
            "d": np.array([np.nan, 2.0]),
            "e": {"f": (np.float64(-np.inf), 3)},
        }
    )
    line = capsys.readouterr().out

    def reject(constant):
        raise ValueError(constant)

    assert json.loads(line, parse_constant=reject) == {
        "a": None,
        "b": [1.5, None],
        "c": None,
        "d": [None, 2.0],
        "e": {"f": [None, 3]},
    }
