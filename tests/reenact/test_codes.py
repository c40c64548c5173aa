"""The codes file: round trip, and bad files give the input error."""

import numpy as np
import pytest

from reenact.codes import Codes
from reenact.errors import InputError


def test_codes_round_trip(tmp_path):
    codes = Codes(
        identity=np.arange(4, dtype=np.float32),
        expression=np.ones(3, np.float32),
        cam_to_world=np.eye(4, dtype=np.float32),
        crop=np.array([1, 2, 3, 4], np.float32),
        image_size=(640, 480),
        checkpoint_id="abc",
        psnr=20.5,
        ssim=0.8,
        l1=0.1,
        source="x.jpg",
        renderer_state={"conv.weight": np.zeros((2, 2), np.float32)},
    )
    path = tmp_path / "codes.npz"
    codes.save(path)
    loaded = Codes.load(path)
    np.testing.assert_array_equal(loaded.identity, codes.identity)
    np.testing.assert_array_equal(loaded.cam_to_world, codes.cam_to_world)
    assert loaded.image_size == (640, 480)
    assert loaded.checkpoint_id == "abc" and loaded.psnr == pytest.approx(20.5)
    assert set(loaded.renderer_state) == {"conv.weight"}
    assert not list(tmp_path.glob(".*tmp"))
    # Files written before the expression calibration was removed hold an expression map: empty (a fit without
    # calibration, the default) it loads as it did; a fit that calibrated is refused, not driven differently.
    with np.load(path) as stored:
        arrays = dict(stored)
    np.savez(tmp_path / "old.npz", **arrays, expression_map=np.zeros((0, 0), np.float32))
    np.testing.assert_array_equal(Codes.load(tmp_path / "old.npz").identity, codes.identity)
    np.savez(tmp_path / "calibrated.npz", **arrays, expression_map=np.eye(2, dtype=np.float32))
    with pytest.raises(InputError, match="calibrate-expression"):
        Codes.load(tmp_path / "calibrated.npz")


def test_codes_bad_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        Codes.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_text("hello")
    with pytest.raises(InputError, match="not a reenact codes file"):
        Codes.load(bad)
