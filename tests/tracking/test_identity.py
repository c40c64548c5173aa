"""Identity embedding: same person closer than different people; missing weights are reported."""

from __future__ import annotations

import numpy as np
import pytest

from tracking.errors import MissingWeightsError
from tracking.identity import DlibEncoder, OnnxEncoder, load_encoder
from tracking.landmarks import FaceMeshDetector

from .conftest import VIDEOS, read_frames


def test_same_person_closer_than_different(data_available):
    a1, a2 = read_frames(VIDEOS / "mead" / "M030_front_neutral_level1_001.mp4", 2, every=40)
    (a3,) = read_frames(VIDEOS / "mead" / "M030_front_happy_level3_001.mp4", 1, start=30)
    (b1,) = read_frames(VIDEOS / "mead" / "W009_front_neutral_level1_001.mp4", 1, start=10)
    (c1,) = read_frames(VIDEOS / "pcavs" / "00002.mp4", 1, start=10)
    encoder = load_encoder(None)
    assert isinstance(encoder, DlibEncoder) and encoder.dim == 128
    with FaceMeshDetector(static_image_mode=True) as detector:
        embeddings = [encoder.embed(image, detector.detect(image)[0]) for image in (a1, a2, a3, b1, c1)]
    for e in embeddings:
        assert e.shape == (128,) and e.dtype == np.float32 and abs(np.linalg.norm(e) - 1) < 1e-5
    same = [np.linalg.norm(embeddings[0] - embeddings[1]), np.linalg.norm(embeddings[0] - embeddings[2])]
    different = [np.linalg.norm(embeddings[0] - embeddings[3]), np.linalg.norm(embeddings[0] - embeddings[4])]
    assert max(same) < min(different)


def test_onnx_missing_weights(tmp_path):
    with pytest.raises(MissingWeightsError):
        OnnxEncoder(tmp_path / "nope.onnx")
    assert load_encoder("none") is None
