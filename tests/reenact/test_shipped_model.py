"""The model that ships in the repository: loads safely, is small, and renders a face, not noise."""

from __future__ import annotations

import numpy as np

from model.fit import FitConfig
from reenact.console import Reporter
from reenact.engine import ABLATION_CHECKPOINT, DEFAULT_CHECKPOINT, Engine
from reenact.pipeline import fit_target, load_target
from reenact.tracked_measures import cosine
from tracking.tracker import Tracker, TrackerConfig


def test_shipped_checkpoint_is_small_and_loads_weights_only():
    import torch

    assert DEFAULT_CHECKPOINT.is_file(), "the shipped model is missing"
    assert DEFAULT_CHECKPOINT.stat().st_size <= 30 * 2**20
    payload = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)  # no code can run
    assert payload["optimizer_state"] is None
    engine = Engine.load(None, "cpu")
    assert engine.expression_dim == 46 and engine.identity_source == "embedding"


def test_shipped_ablation_is_the_identity_shape_model_at_the_same_settings():
    """The ablation differs from the shipped model in its identity code only: same size, warp and
    expression."""
    import torch

    assert ABLATION_CHECKPOINT.stat().st_size + DEFAULT_CHECKPOINT.stat().st_size <= 30 * 2**20
    assert torch.load(ABLATION_CHECKPOINT, map_location="cpu", weights_only=True)["optimizer_state"] is None
    shipped, ablation = Engine.load(None, "cpu"), Engine.load(ABLATION_CHECKPOINT, "cpu")
    assert ablation.identity_source == "identity_shape"
    assert ablation.identity_dim != shipped.identity_dim
    assert (ablation.expression_dim, ablation.render_size) == (shipped.expression_dim, shipped.render_size)
    assert ablation.expression_reference == shipped.expression_reference
    for name in ("expression_components", "warp_radius"):
        assert getattr(ablation.config.field, name) == getattr(shipped.config.field, name), name


def test_shipped_model_renders_the_fitted_face(shared_data):
    """Fit unseen portraits briefly; every render must be detected as a face, and on average its identity
    embedding must be closer to the portrait's than a render with a random identity code is. (One portrait
    alone is too coarse a check: dlib similarities of 128² renders of anyone lie around 0.85, and for
    ``s2`` alone the stage-4 model's fitted render scores below a random code: 0.845 vs 0.864.)"""
    engine = Engine.load(None, "cpu")
    config = TrackerConfig(crop_size=engine.render_size, smoothing=0.0)
    fitted_similarities, random_similarities = [], []
    with Tracker(config) as tracker:
        for name in ("liveportrait/s2.jpg", "liveportrait/s11.jpg", "liveportrait/d8.jpg"):
            target = load_target(shared_data / "portraits" / name, config)
            # The network itself: a renderer fine-tuned on the portrait would make any code look like it.
            codes = fit_target(
                target, engine, FitConfig(iterations=60, finetune_renderer=False), Reporter(quiet=True)
            )
            assert codes.psnr > 15.0, name
            fitted = engine.render(codes.cam_to_world[None], codes.expression[None], codes.identity[None])[0]
            generator = np.random.default_rng(0)
            random_identity = generator.normal(size=codes.identity.shape).astype(np.float32)
            random_identity *= np.linalg.norm(codes.identity) / np.linalg.norm(random_identity)
            random_render = engine.render(
                codes.cam_to_world[None], codes.expression[None], random_identity[None]
            )[0]
            fitted_track = tracker.track_image(fitted)  # NoFaceError here means the render is not a face
            fitted_similarities.append(cosine(fitted_track.embedding, target.track.embedding))
            try:
                random_similarities.append(
                    cosine(tracker.track_image(random_render).embedding, target.track.embedding)
                )
            except Exception:  # noqa: BLE001 - a random code that yields no detectable face is the least similar
                random_similarities.append(-1.0)
    assert np.mean(fitted_similarities) > np.mean(random_similarities), (
        fitted_similarities,
        random_similarities,
    )
