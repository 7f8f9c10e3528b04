"""Classical baselines: exact results for the trivial ones, a known translation for the flow-based ones."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from ifrnet.errors import InputError
from ifrnet.evaluation.baselines import (
    BASELINES,
    DISInterpolation,
    LinearBlend,
    Minterpolate,
    RepeatFrame,
    make_baseline,
)
from ifrnet.metrics import psnr

#: Motion of the texture from frame 0 to frame 1, pixels (x, y).
SHIFT = (6.0, -4.0)
HEIGHT, WIDTH = 96, 128
#: Border left out of the comparisons: content entering the frame cannot be interpolated.
MARGIN = 16


def _blob_frame(shift: tuple[float, float], seed: int = 0) -> torch.Tensor:
    """A smooth random texture of Gaussian blobs, displaced by ``shift``: float (1, 3, H, W).

    The texture is a function of continuous position, so any sub-pixel displacement renders
    exactly, with content from beyond the frame where it moves in from outside.
    """
    rng = np.random.default_rng(seed)
    pad = 24
    count = (HEIGHT + 2 * pad) * (WIDTH + 2 * pad) // 60
    cx = rng.uniform(-pad, WIDTH + pad, count)
    cy = rng.uniform(-pad, HEIGHT + pad, count)
    sigma = rng.uniform(2.0, 5.0, count)
    colour = rng.uniform(-1.0, 1.0, (count, 3))
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    xs, ys = xs - shift[0], ys - shift[1]
    field = np.zeros((3, HEIGHT, WIDTH))
    for k in range(count):
        field += colour[k][:, None, None] * np.exp(-((xs - cx[k]) ** 2 + (ys - cy[k]) ** 2) / (2 * sigma[k] ** 2))
    return torch.from_numpy(0.5 + 0.45 * np.tanh(field))[None].float()


@pytest.fixture(scope="module")
def translated() -> dict[float, torch.Tensor]:
    """Frames at times 0, 0.25, 0.5 and 1 of the texture moving by SHIFT per unit time."""
    return {t: _blob_frame((t * SHIFT[0], t * SHIFT[1])) for t in (0.0, 0.25, 0.5, 1.0)}


def _interior_psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    crop = (..., slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
    return psnr(pred[crop], target[crop]).item()


def test_repeat_returns_the_nearer_input() -> None:
    gen = torch.Generator().manual_seed(0)
    img0, img1 = torch.rand(1, 3, 8, 9, generator=gen), torch.rand(1, 3, 8, 9, generator=gen)
    out = RepeatFrame()(img0, img1, [0.1, 0.49, 0.5, 0.9])
    assert [torch.equal(o, img0) for o in out] == [True, True, False, False]
    assert [torch.equal(o, img1) for o in out] == [False, False, True, True]


def test_blend_is_the_cross_fade() -> None:
    gen = torch.Generator().manual_seed(1)
    img0, img1 = torch.rand(1, 3, 8, 9, generator=gen), torch.rand(1, 3, 8, 9, generator=gen)
    (out,) = LinearBlend()(img0, img1, [0.25])
    assert torch.allclose(out, 0.75 * img0 + 0.25 * img1, atol=1e-7)


def test_dis_interpolation_follows_a_translation(translated: dict[float, torch.Tensor]) -> None:
    img0, img1 = translated[0.0], translated[1.0]
    out = DISInterpolation()(img0, img1, [0.25, 0.5])
    blend = LinearBlend()(img0, img1, [0.25, 0.5])
    for t, ours, cross_fade in zip((0.25, 0.5), out, blend, strict=True):
        assert ours.shape == img0.shape and ours.dtype == img0.dtype
        ours_psnr = _interior_psnr(ours, translated[t])
        assert ours_psnr > 40.0
        assert ours_psnr > _interior_psnr(cross_fade, translated[t]) + 10.0


def test_dis_interpolation_keeps_a_static_scene(translated: dict[float, torch.Tensor]) -> None:
    img = translated[0.0]
    (out,) = DISInterpolation()(img, img, [0.3])
    assert psnr(out, img).item() > 60.0


minterpolate_required = pytest.mark.skipif(
    not Minterpolate.available() and bool(os.environ.get("IFRNET_ALLOW_NO_MINTERPOLATE")),
    reason=f"FFmpeg's minterpolate is unavailable ({Minterpolate.unavailable_reason()}) and "
    "IFRNET_ALLOW_NO_MINTERPOLATE is set",
)


@minterpolate_required
def test_minterpolate_follows_a_translation(translated: dict[float, torch.Tensor]) -> None:
    assert Minterpolate.available(), Minterpolate.unavailable_reason()
    img0, img1 = translated[0.0], translated[1.0]
    out = Minterpolate()(img0, img1, [0.25, 0.5])
    blend = LinearBlend()(img0, img1, [0.25, 0.5])
    for t, ours, cross_fade in zip((0.25, 0.5), out, blend, strict=True):
        assert ours.shape == img0.shape and ours.dtype == img0.dtype
        assert _interior_psnr(ours, translated[t]) > _interior_psnr(cross_fade, translated[t]) + 8.0
    # Each time comes from its own place on the output grid, not a neighbour's.
    assert _interior_psnr(out[0], translated[0.25]) > _interior_psnr(out[0], translated[0.5]) + 5.0


@minterpolate_required
def test_minterpolate_handles_small_frames_and_mixed_grids() -> None:
    gen = torch.Generator().manual_seed(2)
    img0, img1 = torch.rand(1, 3, 20, 27, generator=gen), torch.rand(1, 3, 20, 27, generator=gen)
    # 1/3 and 1/64 need a 192-step grid together, more than the 64 allowed: two runs.
    out = Minterpolate()(img0, img1, [1 / 3, 1 / 64, 0.5])
    assert [o.shape for o in out] == [img0.shape] * 3
    for o in out:
        assert torch.equal(o, (o * 255).round() / 255)  # 8-bit levels


def test_baselines_are_registered_by_name() -> None:
    assert set(BASELINES) == {"repeat", "blend", "dis", "minterpolate"}
    for name, cls in BASELINES.items():
        assert cls.name == name
    assert isinstance(make_baseline("blend"), LinearBlend)
    with pytest.raises(InputError, match="choose one of repeat, blend, dis, minterpolate"):
        make_baseline("bicubic")


def test_baselines_reject_bad_inputs() -> None:
    img = torch.rand(1, 3, 8, 8)
    with pytest.raises(InputError, match="outside"):
        LinearBlend()(img, img, [1.0])
    with pytest.raises(InputError, match="same shape"):
        RepeatFrame()(img, torch.rand(1, 3, 8, 9), [0.5])
    with pytest.raises(InputError, match="float"):
        LinearBlend()(img, (img * 255).to(torch.uint8), [0.5])
