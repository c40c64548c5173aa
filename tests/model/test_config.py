import dataclasses

import pytest

from model.config import FieldConfig, ModelConfig, NeuralRendererConfig, preset


@pytest.mark.parametrize("name", ["tiny", "cpu", "paper"])
def test_round_trip(name):
    config = preset(name)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_paper_preset_matches_paper():
    config = preset("paper")
    assert (config.renderer.feature_size, config.field.feature_dim, config.renderer.output_size) == (
        32,
        512,
        512,
    )
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


@pytest.mark.parametrize(
    "key, old_behaviour, values, invalid",
    [
        (
            "expression_components",
            0,
            {"expression_components": 10},
            {"expression_dim": 46, "expression_components": 47},
        ),
        ("warp_radius", 0.0, {"warp_radius": 0.1}, {"warp_radius": -0.1}),  # 0: no expression warp
    ],
)
def test_field_keys_added_later_default_to_how_older_checkpoints_behave(key, old_behaviour, values, invalid):
    # Checkpoints written before the key existed must still load, and behave as they were trained.
    data = preset("cpu").to_dict()
    del data["field"][key]
    assert getattr(ModelConfig.from_dict(data).field, key) == old_behaviour
    changed = dataclasses.replace(preset("cpu"), field=dataclasses.replace(preset("cpu").field, **values))
    assert ModelConfig.from_dict(changed.to_dict()) == changed
    with pytest.raises(ValueError, match=key):
        FieldConfig(**invalid)


@pytest.mark.parametrize(
    "part, key, off, on",
    [
        ("field", "warp_gain", False, True),
        ("field", "expression_in_mlp", True, False),
        ("loss", "expression_weight", 0.0, 0.5),
        ("loss", "region_weight", 0.0, 0.5),
        ("loss", "motion_weight", 0.0, 1.0),
    ],
)
def test_keys_of_removed_experiments_load_only_when_off(part, key, off, on):
    # Checkpoints written before an experiment was removed hold its key; at its off value they rebuild as they
    # were trained, a config that switched it on cannot be rebuilt.
    data = preset("cpu").to_dict()
    data[part][key] = off
    assert ModelConfig.from_dict(data) == preset("cpu")
    data[part][key] = on
    with pytest.raises(ValueError, match=f"{part}.{key}"):
        ModelConfig.from_dict(data)
