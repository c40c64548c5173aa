"""Training recipes: a model's stages and their options as data (``reenact/recipes/NAME.toml``), run by
``reenact train --recipe NAME -o RUN_DIR`` stage by stage.

Each stage trains in ``RUN_DIR/<stage>`` (its ``last.pt``); the first builds the frame cache in
``RUN_DIR/cache`` from the recipe's ``data`` (relative to the data root) and the others train on it. A stage
that returned (its steps done, or its own time limit reached, as the shipped runs ended) writes
``RUN_DIR/<stage>/done.json`` and is skipped by a rerun; one that was interrupted resumes from its
``last.pt``. Exports (``reenact export``) go to
``RUN_DIR/<stage>/export.pt``; the last stage's to ``RUN_DIR/head.pt``. The file format is described in
``reenact/recipes/shipped.toml``.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from reenact.console import Reporter
from reenact.errors import InputError
from reenact.options import RecipeSummary, StageSummary, TrainOptions, TrainSummary

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
DEFAULT_DATA_ROOT = Path("../shared/data/videos")
"""Where a recipe's ``data`` folders are, unless ``--data-root`` says otherwise (the shipped runs' layout)."""

_STAGE_KEYS = {"name", "init", "export"}
_INIT = (None, "checkpoint", "export")
_PATH_OPTIONS = {"cache", "vgg16", "init", "output", "data"}
_TRAIN_KEYS = {f.name for f in fields(TrainOptions)} - _PATH_OPTIONS - {"device", "resume"}


def recipe_path(name: str) -> Path:
    """A shipped recipe's name (``shipped``) or a path to a ``.toml`` file."""
    path = Path(name)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise InputError(f"recipe not found: {name}")
        return path
    shipped = RECIPES_DIR / f"{name}.toml"
    if not shipped.is_file():
        known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.toml")))
        raise InputError(f"no recipe named {name!r} (shipped: {known}; or give a .toml path)")
    return shipped


def load_recipe(name: str) -> dict[str, Any]:
    """The parsed recipe: shared options, ``data`` and a non-empty ``stage`` list, each key checked."""
    path = recipe_path(name)
    try:
        recipe = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"recipe {path}: {exc}") from None
    stages = recipe.get("stage")
    if not isinstance(stages, list) or not stages:
        raise InputError(f"recipe {path}: no [[stage]] tables")
    shared = set(recipe) - {"stage", "description", "data"}
    if shared - _TRAIN_KEYS:
        raise InputError(f"recipe {path}: unknown option(s) {sorted(shared - _TRAIN_KEYS)}")
    names = set()
    for index, stage in enumerate(stages):
        unknown = set(stage) - _TRAIN_KEYS - _STAGE_KEYS
        if unknown:
            raise InputError(f"recipe {path}: stage {index + 1}: unknown option(s) {sorted(unknown)}")
        if "name" not in stage or stage["name"] in names:
            raise InputError(f"recipe {path}: stage {index + 1} needs a name of its own")
        if stage.get("init") not in _INIT or (index == 0 and stage.get("init")):
            raise InputError(
                f"recipe {path}: stage {stage['name']}: init is 'checkpoint' or 'export' (not on the first)"
            )
        names.add(stage["name"])
    return recipe


def _options(values: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in _TRAIN_KEYS}


def run_recipe(
    name: str,
    output: Path,
    data_root: Path = DEFAULT_DATA_ROOT,
    device: str = "auto",
    reporter: Reporter | None = None,
) -> RecipeSummary:
    """Run recipe ``name`` into ``output`` (see the module docstring)."""
    from reenact.api import export_command, quiet_reporter, train_command

    reporter = reporter or quiet_reporter()
    recipe = load_recipe(name)
    shared = _options(recipe)
    output.mkdir(parents=True, exist_ok=True)
    cache = output / "cache"
    data = tuple(str(data_root / item) for item in recipe.get("data", ()))
    stages = recipe["stage"]
    results: list[StageSummary] = []
    previous: StageSummary | None = None
    for index, stage in enumerate(stages):
        last = index == len(stages) - 1
        stage_dir = output / stage["name"]
        checkpoint = stage_dir / "last.pt"
        export = output / "head.pt" if last else (stage_dir / "export.pt" if stage.get("export") else None)
        done = stage_dir / "done.json"
        if done.is_file() and (export is None or export.is_file()):
            reporter.info(f"stage {stage['name']}: finished earlier, skipped")
            previous = StageSummary(
                stage["name"], "skipped", str(checkpoint), None if export is None else str(export)
            )
            results.append(previous)
            continue
        init = None
        if stage.get("init") == "checkpoint":
            init = Path(previous.checkpoint)
        elif stage.get("init") == "export":
            if previous.export is None:
                raise InputError(
                    f"recipe {name}: stage {stage['name']} starts from an export the stage before does not "
                    "write"
                )
            init = Path(previous.export)
        built = any(cache.glob("*.npz")) if cache.is_dir() else False
        options = TrainOptions(
            data=(str(cache),) if built else data,
            output=stage_dir,
            cache=None if built else cache,
            init=init,
            device=device,
            resume=True,
            **{**shared, **_options(stage)},
        )
        reporter.info(
            f"stage {stage['name']} ({index + 1}/{len(stages)}): {options.steps} steps → {stage_dir}"
        )
        summary: TrainSummary = train_command(options, reporter)
        done.write_text(json.dumps(summary.to_json(), indent=1) + "\n")
        if export is not None:
            export_command(checkpoint, export, reporter=reporter)
        previous = StageSummary(
            stage["name"], "trained", str(checkpoint), None if export is None else str(export), summary
        )
        results.append(previous)
    return RecipeSummary(
        recipe=name, output=str(output), model=str(output / "head.pt"), stages=tuple(results)
    )
