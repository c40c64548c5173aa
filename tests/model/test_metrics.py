import math

import torch

from model.metrics import gaussian_window, masked_l1, psnr, ssim


def test_psnr_hand_value():
    a = torch.zeros(1, 3, 4, 4)
    b = torch.full((1, 3, 4, 4), 0.1)  # MSE 0.01 → 20 dB
    assert math.isclose(float(psnr(a, b)), 20.0, rel_tol=1e-5)


def test_ssim_hand_values():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 16, 16, generator=g)
    assert math.isclose(float(ssim(x, x)), 1.0, rel_tol=1e-6)
    # Constant images: SSIM reduces to the luminance term (2ab + C1)/(a² + b² + C1).
    a, b, c1 = 0.2, 0.6, 0.01**2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    value = float(ssim(torch.full((1, 3, 16, 16), a), torch.full((1, 3, 16, 16), b)))
    assert math.isclose(value, expected, rel_tol=1e-4)
    window = gaussian_window()
    assert window.shape == (11, 11) and math.isclose(float(window.sum()), 1.0, rel_tol=1e-6)


def test_masked_l1_hand_value():
    a = torch.zeros(1, 3, 2, 2)
    b = torch.tensor([0.5, 1.0, 9.0, 9.0]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    mask = torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 1, 2, 2)
    assert math.isclose(float(masked_l1(a, b, mask)), 0.75, rel_tol=1e-6)
