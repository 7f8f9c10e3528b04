"""Metrics against hand-computed values and independent slow implementations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from ifrnet.errors import InputError
from ifrnet.metrics import (
    gaussian_window_1d,
    gaussian_window_3d,
    interpolation_error,
    psnr,
    psnr_uint8,
    ssim_2d,
    ssim_3d,
)


def _images(batch: int = 2, height: int = 24, width: int = 28, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, height, width, generator=gen, dtype=torch.float64)


def _slow_ssim_3d(x: np.ndarray, y: np.ndarray) -> float:
    """The paper's SSIM from its definition, one output voxel at a time (float64 numpy)."""
    offsets = np.arange(11) - 5.0
    g = np.exp(-(offsets**2) / 4.5)
    g /= g.sum()
    window = g[:, None, None] * g[None, :, None] * g[None, None, :]
    px = np.pad(x, 5, mode="edge")
    py = np.pad(y, 5, mode="edge")
    c1, c2 = 0.01**2, 0.03**2
    total = 0.0
    depth, height, width = x.shape
    for d in range(depth):
        for i in range(height):
            for j in range(width):
                bx = px[d : d + 11, i : i + 11, j : j + 11]
                by = py[d : d + 11, i : i + 11, j : j + 11]
                mx, my = (window * bx).sum(), (window * by).sum()
                vx = (window * bx * bx).sum() - mx * mx
                vy = (window * by * by).sum() - my * my
                cov = (window * bx * by).sum() - mx * my
                total += (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return total / x.size


def test_psnr_of_a_known_mse() -> None:
    target = _images() * 0.8  # stays in [0, 0.9] after the offset
    pred = target + 0.1
    expected = torch.full((2,), 20.0, dtype=torch.float64)
    assert torch.allclose(psnr(pred, target), expected, atol=1e-9)


def test_psnr_uint8_ignores_sub_level_differences() -> None:
    levels = torch.randint(0, 256, (2, 3, 10, 12), generator=torch.Generator().manual_seed(1)).double()
    target = levels / 255.0
    pred = target + 0.3 / 255.0 * torch.sign(torch.randn(target.shape, dtype=torch.float64))
    pred = pred.clamp(0.0, 1.0)
    assert torch.isinf(psnr_uint8(pred, target)).all()
    assert torch.isfinite(psnr(pred, target)).all()


def test_psnr_uint8_of_a_known_level_difference() -> None:
    target = torch.full((1, 3, 5, 5), 100.0 / 255.0)
    pred = torch.full((1, 3, 5, 5), 102.0 / 255.0)
    # Two levels everywhere: MSE = 4 in 8-bit units.
    assert psnr_uint8(pred, target).item() == pytest.approx(10.0 * math.log10(255.0**2 / 4.0), abs=1e-9)


def test_metrics_return_float64_per_image() -> None:
    a, b = _images().float(), _images(seed=1).float()
    for metric in (psnr_uint8, ssim_3d, ssim_2d, interpolation_error):
        out = metric(a, b)
        assert out.shape == (2,)
        assert out.dtype == torch.float64


def test_windows_are_normalised_gaussians() -> None:
    w1 = gaussian_window_1d()
    assert w1.shape == (11,)
    assert w1.sum().item() == pytest.approx(1.0, abs=1e-12)
    expected = np.exp(-((np.arange(11) - 5.0) ** 2) / 4.5)
    np.testing.assert_allclose(w1.numpy(), expected / expected.sum(), rtol=1e-12)
    w3 = gaussian_window_3d()
    assert w3.shape == (11, 11, 11)
    assert w3.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert w3[5, 5, 5] == w3.max()
    assert w3[2, 7, 4].item() == pytest.approx((w1[2] * w1[7] * w1[4]).item(), rel=1e-12)


@pytest.mark.parametrize("metric", [ssim_3d, ssim_2d])
def test_ssim_of_an_image_with_itself_is_one(metric) -> None:
    x = _images()
    assert torch.allclose(metric(x, x), torch.ones(2, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("metric", [ssim_3d, ssim_2d])
def test_ssim_decreases_with_noise(metric) -> None:
    x = _images(batch=1, height=32, width=32)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    scores = [metric((x + sigma * noise).clamp(0, 1), x).item() for sigma in (0.01, 0.05, 0.1, 0.3)]
    assert all(a > b for a, b in itertools.pairwise(scores))
    assert scores[0] < 1.0


@pytest.mark.parametrize("kind", ["offset", "noise"])
def test_ssim_3d_matches_a_slow_reference(kind: str) -> None:
    x = _images(batch=1, height=12, width=13, seed=3) * 0.8
    if kind == "offset":
        y = x + 0.07
    else:
        y = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)).clamp(
            0, 1
        )
    expected = _slow_ssim_3d(y[0].numpy(), x[0].numpy())
    assert ssim_3d(y, x).item() == pytest.approx(expected, abs=1e-8)


def test_ssim_2d_matches_scikit_image() -> None:
    metrics = pytest.importorskip("skimage.metrics")
    x = _images(height=30, width=27, seed=5)
    y = (x + 0.08 * torch.randn(x.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)).clamp(0, 1)
    ours = ssim_2d(y, x)
    for b in range(2):
        reference = metrics.structural_similarity(
            y[b].numpy(),
            x[b].numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=0,
        )
        assert ours[b].item() == pytest.approx(reference, abs=1e-10)


def test_ssim_2d_rejects_images_smaller_than_its_window() -> None:
    x = _images(height=10, width=30)
    with pytest.raises(InputError, match="at least 11x11"):
        ssim_2d(x, x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_interpolation_error_rounds_half_to_even(dtype: torch.dtype) -> None:
    # Ties go to the even level: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (rounding half up would give 1, 2, 3).
    pred = torch.tensor([0.5, 1.5, 2.5], dtype=dtype).view(1, 3, 1, 1) / 255.0
    target = torch.zeros(1, 3, 1, 1, dtype=dtype)
    assert interpolation_error(pred, target).item() == pytest.approx(4.0 / 3.0, abs=1e-12)
    assert interpolation_error(target, pred).item() == pytest.approx(4.0 / 3.0, abs=1e-12)


def test_interpolation_error_of_a_constant_level_offset() -> None:
    levels = torch.randint(0, 250, (2, 3, 6, 7), generator=torch.Generator().manual_seed(7)).double()
    assert torch.equal(interpolation_error((levels + 5) / 255.0, levels / 255.0), torch.full((2,), 5.0).double())


def test_metrics_reject_mismatched_shapes() -> None:
    a, b = _images(height=20), _images(height=21)
    for metric in (psnr_uint8, ssim_3d, ssim_2d, interpolation_error):
        with pytest.raises(InputError, match="same shape"):
            metric(a, b)
