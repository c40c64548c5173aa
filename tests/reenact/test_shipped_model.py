"""The model that ships in the repository: loads safely, is small, and renders a face, not noise."""

from __future__ import annotations

import numpy as np

from model.fit import FitConfig
from reenact.engine import DEFAULT_CHECKPOINT, Engine
from reenact.evaluate import cosine
from reenact.pipeline import fit_target, load_target
from reenact.console import Reporter
from tracking.tracker import Tracker, TrackerConfig


def test_shipped_checkpoint_is_small_and_loads_weights_only():
    import torch

    assert DEFAULT_CHECKPOINT.is_file(), "the shipped model is missing"
    assert DEFAULT_CHECKPOINT.stat().st_size <= 30 * 2**20
    payload = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)  # no code can run
    assert payload["optimizer_state"] is None
    engine = Engine.load(None, "cpu")
    assert engine.expression_dim == 46 and engine.identity_source == "embedding"


def test_shipped_model_renders_the_fitted_face(shared_data):
    """Fit an unseen portrait briefly; the render must be detected as a face, and its identity embedding
    must be closer to the portrait's than a render with a random identity code is."""
    engine = Engine.load(None, "cpu")
    config = TrackerConfig(crop_size=engine.render_size, smoothing=0.0)
    portrait = shared_data / "portraits" / "liveportrait" / "s2.jpg"
    target = load_target(portrait, config)
    track = target.track
    codes = fit_target(target, engine, FitConfig(iterations=60), Reporter(quiet=True))
    fitted = engine.render(codes.cam_to_world[None], codes.expression[None], codes.identity[None])[0]
    generator = np.random.default_rng(0)
    random_identity = generator.normal(size=codes.identity.shape).astype(np.float32)
    random_identity *= np.linalg.norm(codes.identity) / np.linalg.norm(random_identity)
    random_render = engine.render(codes.cam_to_world[None], codes.expression[None], random_identity[None])[0]
    with Tracker(config) as tracker:
        fitted_track = tracker.track_image(fitted)  # NoFaceError here means the render is not a face
        fitted_similarity = cosine(fitted_track.embedding, track.embedding)
        try:
            random_similarity = cosine(tracker.track_image(random_render).embedding, track.embedding)
        except Exception:  # noqa: BLE001 - a random code that yields no detectable face is the least similar
            random_similarity = -1.0
    assert codes.psnr > 15.0
    assert fitted_similarity > random_similarity
