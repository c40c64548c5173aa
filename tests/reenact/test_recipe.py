"""`reenact train --recipe`: a recipe's stages run in order, each from the one before, and a rerun resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reenact.cli import main
from reenact.errors import InputError
from reenact.recipe import load_recipe

TINY = Path(__file__).parent / "data" / "tiny_recipe.toml"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_shipped_recipe_is_the_documented_five_stages():
    recipe = load_recipe("shipped")
    stages = recipe["stage"]
    assert [s["name"] for s in stages] == ["stage1", "stage2", "stage4", "stage7", "stage10"]
    assert [s["steps"] for s in stages] == [6000, 8500, 6000, 4000, 2500]
    assert [s["seed"] for s in stages] == [0, 1, 3, 4, 5]
    assert [s.get("init") for s in stages] == [None, "checkpoint", "checkpoint", "export", "export"]
    assert (
        recipe["hold_out"] == ["retalking/4", "pcavs/00098", "liveportrait/d6"] and recipe["preset"] == "cpu"
    )
    assert stages[-1]["geometry_weight"] == 4.0 and stages[-1]["warp_radius"] == 0.1


def test_unknown_recipes_and_options_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no recipe named"):
        load_recipe("nonesuch")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stage]]\nname = "a"\nsteps = 1\nwarp = 3\n')
    with pytest.raises(InputError, match="unknown option"):
        load_recipe(str(bad))


def test_a_recipe_runs_its_stages_and_resumes(capsys, short_clip, tmp_path):
    from model.checkpoint import load_checkpoint

    out = tmp_path / "run"
    args = (
        "train",
        "--recipe",
        TINY,
        "-o",
        out,
        "--data-root",
        short_clip.parent,
        "--device",
        "cpu",
        "--json",
    )
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    summary = json.loads(stdout)
    assert [s["status"] for s in summary["stages"]] == ["trained", "trained"]
    assert summary["model"] == str(out / "head.pt") and (out / "head.pt").is_file()
    assert (out / "first" / "export.pt").is_file() and list((out / "cache").glob("*.npz"))
    model, meta = load_checkpoint(out / "second" / "last.pt")
    assert meta.step == 3 and model.config.field.warp_radius == 0.08
    assert meta.extra["init_from"] == str(out / "first" / "export.pt")
    first, first_meta = load_checkpoint(out / "first" / "last.pt")
    assert first_meta.step == 2 and first_meta.extra["expression_reference"] == "none"
    assert meta.extra["expression_reference"] == "clip_mean"  # the default where a stage does not say

    # A rerun skips finished stages; an interrupted stage (no done marker) resumes from its last.pt.
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    assert [s["status"] for s in json.loads(stdout)["stages"]] == ["skipped", "skipped"]
    (out / "second" / "done.json").unlink()
    (out / "head.pt").unlink()
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    stages = json.loads(stdout)["stages"]
    assert [s["status"] for s in stages] == ["skipped", "trained"]
    assert stages[1]["train"]["start_step"] == 3 and (out / "head.pt").is_file()


def test_recipe_and_data_are_exclusive(capsys, tmp_path):
    code, _, err = run(capsys, "train", "some.mp4", "--recipe", "shipped", "-o", tmp_path / "x")
    assert code == 2 and "--recipe" in err
    code, _, err = run(capsys, "train", "-o", tmp_path / "x")
    assert code == 2 and "DATA" in err
