import dataclasses

import pytest

from model.config import FieldConfig, ModelConfig, NeuralRendererConfig, preset


@pytest.mark.parametrize("name", ["tiny", "cpu", "paper"])
def test_round_trip(name):
    config = preset(name)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_paper_preset_matches_paper():
    config = preset("paper")
    assert (config.renderer.feature_size, config.field.feature_dim, config.renderer.output_size) == (32, 512, 512)
    assert config.renderer.num_blocks == 4
    assert (config.field.width, config.field.depth) == (256, 8)
    assert (config.sampler.coarse_samples, config.sampler.fine_samples) == (64, 64)
    assert config.field.expression_dim == 46 and config.loss.perceptual_weight == 10.0


def test_unknown_and_missing_keys_rejected():
    data = preset("tiny").to_dict()
    data["field"]["colour"] = 3
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict(data)
    data = preset("tiny").to_dict()
    data["bogus"] = 1
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict(data)
    data = preset("tiny").to_dict()
    del data["sampler"]["fine_samples"]
    with pytest.raises(ValueError, match="missing"):
        ModelConfig.from_dict(data)
    data = preset("tiny").to_dict()
    data["format_version"] = 99
    with pytest.raises(ValueError, match="format_version"):
        ModelConfig.from_dict(data)


def test_invalid_configs():
    with pytest.raises(ValueError):
        NeuralRendererConfig(feature_size=16, output_size=96, block_channels=(8,))
    with pytest.raises(ValueError):
        NeuralRendererConfig(feature_size=16, output_size=64, block_channels=(8,))
    with pytest.raises(ValueError):
        FieldConfig(depth=4, skip=4)
    with pytest.raises(ValueError):
        preset("huge")
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset("tiny").field.width = 3  # type: ignore[misc]


def test_expression_components_default_for_older_checkpoints():
    # Checkpoints written before the key existed saw every component; their stored config must still load.
    data = preset("cpu").to_dict()
    del data["field"]["expression_components"]
    assert ModelConfig.from_dict(data).field.expression_components == 0
    limited = dataclasses.replace(preset("cpu"), field=dataclasses.replace(preset("cpu").field, expression_components=10))
    assert ModelConfig.from_dict(limited.to_dict()) == limited
    with pytest.raises(ValueError, match="expression_components"):
        FieldConfig(expression_dim=46, expression_components=47)


def test_warp_radius_defaults_to_off_for_older_checkpoints():
    data = preset("cpu").to_dict()
    del data["field"]["warp_radius"]
    assert ModelConfig.from_dict(data).field.warp_radius == 0.0
    warped = dataclasses.replace(preset("cpu"), field=dataclasses.replace(preset("cpu").field, warp_radius=0.1))
    assert ModelConfig.from_dict(warped.to_dict()) == warped
    with pytest.raises(ValueError, match="warp_radius"):
        FieldConfig(warp_radius=-0.1)
