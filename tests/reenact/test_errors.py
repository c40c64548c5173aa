"""One layer per job: ``model`` and ``tracking`` import nothing from ``reenact``, their errors map to the
documented exit codes in one table (``reenact/errors.py``), and a file that is not a reenact checkpoint is one
line, exit 5."""

from __future__ import annotations

import ast
import os
import pickle
import random
from pathlib import Path

import pytest
import torch

import model.errors as model_errors
import tracking.errors as tracking_errors
from reenact.cli import main
from reenact.errors import EXPECTED_ERRORS, BatchFailure, InputError, ReenactError, exit_code

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports are resolved to nothing outside it)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    return files


@pytest.mark.parametrize("package", ["model", "tracking"])
def test_model_and_tracking_do_not_import_reenact(package):
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _files(package)
        for name in sorted(_imported_modules(path))
        if name == "reenact" or name.startswith("reenact.")
    ]
    assert not offenders, offenders


def test_tracking_takes_only_the_camera_and_the_face_mesh_from_model():
    allowed = {"model.camera", "model.geometry"}
    offenders = []
    for path in _files("tracking"):
        for name in _imported_modules(path):
            if name == "model" or name.startswith("model."):
                module = ".".join(name.split(".")[:2])
                if module not in allowed:
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, offenders


def test_runtime_motion_does_not_import_the_training_cache():
    assert "model.data" not in _imported_modules(ROOT / "reenact" / "motion.py")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InputError("x"), 3),
        (BatchFailure("x"), 6),
        (model_errors.CheckpointError("x"), 5),
        (model_errors.MissingWeightsError("x"), 5),
        (model_errors.DataError("x"), 3),
        (tracking_errors.NoFaceError("x"), 4),
        (tracking_errors.TrackingInputError("x"), 3),
        (tracking_errors.ModelFileError("x"), 5),
        (tracking_errors.MissingWeightsError("x"), 5),
        (ValueError("x"), None),
        (KeyboardInterrupt(), None),
    ],
)
def test_exit_code_map(error, code):
    assert exit_code(error) == code
    assert isinstance(error, EXPECTED_ERRORS) == (code is not None)


def test_every_error_class_is_in_the_map():
    for module, base in (
        (model_errors, model_errors.ModelError),
        (tracking_errors, tracking_errors.TrackingError),
    ):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base):
                assert exit_code(value("x")) is not None, value
    assert exit_code(ReenactError("x")) is not None


class _RunsCodeWhenLoaded:
    """Unpickling this would call a function (a harmless one); the weights-only loader must refuse it."""

    def __reduce__(self):
        return (os.getcwd, ())


class _SomeClass:
    pass


def _not_checkpoints(folder: Path) -> dict[str, Path]:
    files = {}
    files["code"] = folder / "evil.pt"
    with open(files["code"], "wb") as handle:
        pickle.dump({"state_dict": {}, "config": _RunsCodeWhenLoaded()}, handle)
    files["class"] = folder / "class.pt"
    torch.save({"x": _SomeClass()}, files["class"])
    files["random"] = folder / "random.pt"
    # Seeded: about one random file in ten parses far enough as an old-style torch file to fail otherwise
    # ("corrupt or truncated", also one line: test_any_garbage_is_one_checkpoint_error).
    files["random"].write_bytes(random.Random(0).randbytes(4096))
    files["keys"] = folder / "keys.pt"
    torch.save({"weights": torch.zeros(3)}, files["keys"])
    return files


@pytest.mark.parametrize("kind", ["code", "class", "random", "keys"])
@pytest.mark.parametrize("command", ["render", "export"])
def test_not_a_checkpoint_is_one_line_exit_5(capsys, tmp_path, kind, command):
    path = _not_checkpoints(tmp_path)[kind]
    if command == "render":
        codes = tmp_path / "codes.npz"
        codes.write_bytes(b"")
        argv = [
            "render",
            str(path),
            "--identity",
            str(codes),
            "-o",
            str(tmp_path / "out.png"),
            "--device",
            "cpu",
        ]
    else:
        argv = ["export", str(path), "-o", str(tmp_path / "out.pt")]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 5, captured.err
    assert captured.err.strip() == f"reenact: error: {path} is not a reenact checkpoint"
    assert "weights_only" not in captured.err and captured.out == ""


def test_any_garbage_is_one_checkpoint_error(tmp_path):
    from model.checkpoint import CheckpointError, read_checkpoint

    path = tmp_path / "garbage.pt"
    for seed in range(60):
        path.write_bytes(random.Random(seed).randbytes(4096))
        with pytest.raises(CheckpointError) as caught:
            read_checkpoint(path)
        message = str(caught.value)
        assert "\n" not in message and (
            "is not a reenact checkpoint" in message or "corrupt or truncated" in message
        )


def test_truncated_checkpoint_is_one_line_exit_5(capsys, tmp_path):
    from model.checkpoint import save_checkpoint
    from model.config import preset
    from model.head_model import HeadModel

    whole = tmp_path / "whole.pt"
    save_checkpoint(whole, HeadModel(preset("tiny")), step=0)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    code = main(["export", str(truncated), "-o", str(tmp_path / "out.pt")])
    err = capsys.readouterr().err
    assert code == 5, err
    assert len(err.strip().splitlines()) == 1 and err.startswith(
        f"reenact: error: cannot read checkpoint {truncated}"
    )
