"""Typed options: one default per setting (the command line reads the dataclass's), results keep their JSON
keys, and ``reenact render``'s parameters come from the one orbit/interpolation implementation
(``model/render.py``)."""

from __future__ import annotations

import dataclasses

import click
import numpy as np
import pytest

from model.camera import orbit_cam_to_world
from model.config import TrainConfig
from model.fit import FitConfig
from reenact.cli import cli
from reenact.codes import Codes
from reenact.options import (
    EvalOptions,
    FitOptions,
    RenderOptions,
    TrackOptions,
    TrackSummary,
    TrainOptions,
    TrainSummary,
)


def _defaults(command: str) -> dict[str, object]:
    """Each optional flag's default as the command line applies it (unset: False for an on/off flag, else
    None)."""
    plain = (str, int, float, bool, tuple, type(None))
    return {
        p.name: p.default if isinstance(p.default, plain) else (False if p.is_flag else None)
        for p in cli.commands[command].params
        if isinstance(p, click.Option) and not p.required
    }


@pytest.mark.parametrize(
    "command, options",
    [
        ("train", TrainOptions),
        ("track", TrackOptions),
        ("fit", FitOptions),
        ("render", RenderOptions),
        ("eval", EvalOptions),
    ],
)
def test_command_line_defaults_are_the_options_defaults(command, options):
    flags = _defaults(command)
    for field in dataclasses.fields(options):
        if (
            field.name in flags
            and field.default is not dataclasses.MISSING
            and field.name not in ("data", "videos")
        ):
            default = flags[field.name]
            default = () if default in (None, []) and field.default == () else default
            assert default == field.default, (command, field.name, default, field.default)


def test_library_and_command_line_training_defaults_agree():
    assert TrainOptions.expression_reference == TrainConfig.expression_reference == "clip_mean"
    assert TrainOptions.seed == TrainConfig.seed
    assert FitOptions.iterations == EvalOptions.fit_iterations == FitConfig.iterations == 300


def test_results_keep_their_json_keys():
    summary = TrainSummary(checkpoint="a", step=2, start_step=0, seconds=1.0, final_loss=None, cache="c")
    assert list(summary.to_json()) == ["checkpoint", "step", "start_step", "seconds", "final_loss", "cache"]
    track = TrackSummary("o", 3, 2, 2, 0.1, 9.0, 1.0, 25.0)
    assert list(track.to_json()) == [
        "output",
        "frames",
        "valid_frames",
        "detected_frames",
        "landmark_error",
        "frames_per_second",
        "seconds",
        "fps",
    ]


def test_render_parameters_orbit_and_interpolate_as_before():
    from reenact.api import render_parameters

    rng = np.random.default_rng(0)
    cam = orbit_cam_to_world(0.2, -0.1).astype(np.float32)
    codes = Codes(
        rng.normal(size=8).astype(np.float32), rng.normal(size=5).astype(np.float32), cam, np.zeros(4), (1, 1)
    )
    other = dataclasses.replace(
        codes,
        identity=rng.normal(size=8).astype(np.float32),
        expression=rng.normal(size=5).astype(np.float32),
    )
    pose, expression, identity = render_parameters(codes, 7, "-20:20", "5", None, other, "both")
    # The formulas reenact render used before it shared model/render.py's.
    yaws, pitches = np.radians(np.linspace(-20, 20, 7)), np.full(7, np.radians(5.0))
    expected = np.stack([orbit_cam_to_world(y, p, distance=1.0) for y, p in zip(yaws, pitches)])
    expected[:, :3, 3] = 0.0
    expected = (expected @ cam.astype(np.float64)).astype(np.float32)
    weights = np.linspace(0.0, 1.0, 7)[:, None]
    np.testing.assert_array_equal(pose, expected)
    np.testing.assert_array_equal(
        identity, ((1 - weights) * codes.identity + weights * other.identity).astype(np.float32)
    )
    np.testing.assert_array_equal(
        expression, ((1 - weights) * codes.expression + weights * other.expression).astype(np.float32)
    )


def test_drive_flags_default_to_drive_options():
    from reenact.options import DriveJob
    from reenact.pipeline import DriveOptions

    flags = _defaults("drive")
    for field in dataclasses.fields(DriveOptions):
        name = "no_audio" if field.name == "audio" else field.name
        if name in flags:
            expected = not field.default if field.name == "audio" else field.default
            assert flags[name] == expected, (name, flags[name], expected)
    for field in dataclasses.fields(DriveJob):
        if field.name in flags:
            assert flags[field.name] == field.default, (field.name, flags[field.name], field.default)
