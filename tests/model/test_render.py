import math

import numpy as np
import torch

from model.camera import euler_yaw_pitch_roll
from model.config import preset
from model.head_model import HeadModel
from model.image_io import encode_png
from model.render import interpolate_codes, orbit_cameras, render_batches


def test_orbit_cameras():
    cams = orbit_cameras([-0.3, 0.0, 0.3], 0.1)
    assert cams.shape == (3, 4, 4) and cams.dtype == torch.float32
    yaw, pitch, _ = euler_yaw_pitch_roll(cams[2, :3, :3].double().numpy())
    assert math.isclose(yaw, 0.3, abs_tol=1e-6) and math.isclose(pitch, 0.1, abs_tol=1e-6)


def test_interpolate_codes():
    codes = interpolate_codes(torch.zeros(4), torch.ones(4) * 2, 5)
    assert torch.allclose(codes[:, 0], torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0]))


def test_render_batches_matches_single_renders():
    model = HeadModel(preset("tiny"))
    cams = orbit_cameras(np.linspace(-0.5, 0.5, 5), 0.0)
    expressions, identities = torch.zeros(5, 46), interpolate_codes(torch.zeros(128), torch.ones(128), 5)
    batches = list(render_batches(model, cams, expressions, identities, batch_size=2))
    assert [b.shape[0] for b in batches] == [2, 2, 1]
    one = next(render_batches(model, cams[4:], expressions[4:], identities[4:], 1))
    assert torch.allclose(batches[-1], one, atol=1e-6)


def test_png_encoder():
    import struct
    import zlib

    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    data = encode_png(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (3, 2)
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + idat_len])
    assert raw == b"\x00" + image[0].tobytes() + b"\x00" + image[1].tobytes()
