import pytest
import torch

from model.config import NeuralRendererConfig
from model.neural_renderer import NeuralRenderer


@pytest.mark.parametrize(
    "feature_size,output_size,blocks", [(8, 32, 2), (16, 128, 3), (32, 512, 4), (16, 16, 0)]
)
def test_block_count_from_sizes(feature_size, output_size, blocks):
    config = NeuralRendererConfig(
        feature_size=feature_size, output_size=output_size, block_channels=tuple([4] * blocks)
    )
    renderer = NeuralRenderer(config, 6)
    assert (
        config.num_blocks == blocks and len(renderer.blocks) == blocks and len(renderer.to_rgb) == blocks + 1
    )


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_output_shape_and_range(upsample):
    config = NeuralRendererConfig(feature_size=8, output_size=32, block_channels=(16, 8), upsample=upsample)
    renderer = NeuralRenderer(config, 12)
    image = renderer(torch.randn(2, 12, 8, 8) * 100)
    assert image.shape == (2, 3, 32, 32) and image.dtype == torch.float32
    assert (image >= 0).all() and (image <= 1).all()


def test_rgb_skip_reaches_output():
    """Every level's to-RGB conv contributes to the final image."""
    config = NeuralRendererConfig(feature_size=4, output_size=16, block_channels=(8, 8))
    renderer = NeuralRenderer(config, 8)
    renderer(torch.randn(1, 8, 4, 4)).sum().backward()
    assert all(conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0 for conv in renderer.to_rgb)
