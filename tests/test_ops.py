"""Stateless helpers: warping, padding, resizing."""

from __future__ import annotations

import pytest
import torch

from ifrnet.models.ops import base_grid, padded_side, resize, warp
from ifrnet.times import Padder

from .conftest import smooth_frames


def test_warp_with_zero_flow_is_identity():
    img = smooth_frames(2, 24, 40)
    out = warp(img, torch.zeros(2, 2, 24, 40))
    torch.testing.assert_close(out, img, rtol=0, atol=2e-6)


@pytest.mark.parametrize(("dx", "dy"), [(3, 0), (0, -2), (2, 5), (-4, -1)])
def test_integer_flow_is_a_shift_away_from_borders(dx, dy):
    img = torch.rand(1, 3, 30, 36)
    flow = torch.zeros(1, 2, 30, 36)
    flow[:, 0], flow[:, 1] = dx, dy
    out = warp(img, flow)
    # out[y, x] = img[y + dy, x + dx] wherever that source pixel exists
    shifted = torch.roll(img, shifts=(-dy, -dx), dims=(2, 3))
    ys = slice(max(0, -dy), 30 - max(0, dy))
    xs = slice(max(0, -dx), 36 - max(0, dx))
    torch.testing.assert_close(out[..., ys, xs], shifted[..., ys, xs], rtol=0, atol=1e-5)


def test_warp_clamps_to_the_border():
    img = torch.rand(1, 1, 8, 8)
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 0] = 100.0
    out = warp(img, flow)
    torch.testing.assert_close(out, img[..., -1:].expand_as(img), rtol=0, atol=1e-6)


def test_base_grid_spans_minus_one_to_one():
    grid = base_grid(1, 5, 7, torch.device("cpu"), torch.float32)
    assert grid.shape == (1, 2, 5, 7)
    assert grid[0, 0, 0, 0] == -1 and grid[0, 0, 0, -1] == 1  # x along width
    assert grid[0, 1, 0, 0] == -1 and grid[0, 1, -1, 0] == 1  # y along height


@pytest.mark.parametrize(
    ("side", "scale", "expected"),
    [
        (256, 1.0, 256),
        (257, 1.0, 272),
        (333, 1.0, 336),
        (1, 1.0, 16),
        (720, 0.5, 736),
        (2160, 0.5, 2176),
        (1080, 0.8, 1080),
        (1081, 0.8, 1100),
        (100, 0.25, 128),
    ],
)
def test_padded_side(side, scale, expected):
    padded = padded_side(side, scale)
    assert padded == expected
    inner = int(padded * scale)
    assert inner % 16 == 0
    assert resize(torch.zeros(1, 1, inner, 1), 1 / scale).shape[2] == padded


def test_padder_replicates_edges():
    img = torch.arange(6.0).view(1, 1, 2, 3)
    out = Padder(2, 3, multiple=4).pad(img)
    assert out.shape == (1, 1, 4, 4)
    assert torch.equal(out[..., :2, :3], img)
    assert torch.equal(out[0, 0, 3], torch.tensor([3.0, 4, 5, 5]))


def test_grids_are_cached_in_inference_only():
    import torch

    from ifrnet.models import ops

    cpu = torch.device("cpu")
    with torch.inference_mode():
        first = base_grid(1, 20, 30, cpu, torch.float32)
        assert base_grid(1, 20, 30, cpu, torch.float32) is first
    assert torch.equal(first, ops._make_grid(1, 20, 30, cpu, torch.float32))
    # with autograd on, a fresh grid every time (a cached inference tensor could not enter autograd)
    assert base_grid(1, 20, 30, cpu, torch.float32) is not base_grid(1, 20, 30, cpu, torch.float32)


def test_in_place_resblock_matches_the_autograd_path():
    import torch

    from .conftest import seeded_model

    model = seeded_model("IFRNet_S")
    block = model.decoder2.convblock[1]
    x = torch.randn(1, block.conv1[0].in_channels, 12, 16)
    expected = block(x)  # grad enabled: split + cat
    with torch.inference_mode():
        got = block(x.clone())
    assert torch.equal(got, expected.detach())


def test_reference_eager_turns_the_fast_paths_off_with_the_same_result():
    import torch

    from ifrnet.models.ops import fast_paths_enabled, reference_eager

    from .conftest import seeded_model, smooth_frames

    model = seeded_model("IFRNet_S")
    frames = smooth_frames(2, 32, 48, seed=3)
    embt = torch.full((1, 1, 1, 1), 0.5)
    calls = []
    block = model.decoder2.convblock[1]
    handle = block.conv2.register_forward_hook(lambda mod, inp, out: calls.append(fast_paths_enabled()))
    try:
        with torch.no_grad():
            fast = model.inference(frames[0:1], frames[1:2], embt)
            with reference_eager():
                plain = model.inference(frames[0:1], frames[1:2], embt)
                assert base_grid(1, 8, 8, torch.device("cpu"), torch.float32) is not base_grid(
                    1, 8, 8, torch.device("cpu"), torch.float32
                )
            assert fast_paths_enabled()
    finally:
        handle.remove()
    assert calls == [True, False]
    assert torch.equal(fast, plain)
