"""Stateless tensor helpers shared by the model, the inference engine and the losses.

Each function takes and returns tensors; none owns parameters. The exact formulas matter:
official checkpoints are reproduced bit for bit only when sampling grids and resizes are
computed the way ``docs/IFRNET.md`` section 2 states.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from ..times import NETWORK_STRIDE, padded_side

__all__ = [
    "NETWORK_STRIDE",
    "base_grid",
    "fast_paths_enabled",
    "linspace_pm1",
    "padded_side",
    "reference_eager",
    "resize",
    "warp",
]

_FAST_PATHS = [True]


def fast_paths_enabled() -> bool:
    """Whether eager inference may reuse cached grids and refine activations in place.

    Never while autograd records (training) or under ``torch.compile``/export, which need plain
    functional ops; and not inside :func:`reference_eager`.
    """
    return _FAST_PATHS[0] and not torch.is_grad_enabled() and not torch.compiler.is_compiling()


@contextlib.contextmanager
def reference_eager() -> Iterator[None]:
    """Inference computed the way the authors' scripts compute it: grids rebuilt on every call and
    the ResBlock's side channels copied with ``cat``. The same numbers, only slower; it is the
    baseline ``ifrnet bench`` measures speed-ups against."""
    previous = _FAST_PATHS[0]
    _FAST_PATHS[0] = False
    try:
        yield
    finally:
        _FAST_PATHS[0] = previous


def resize(x: Tensor, scale_factor: float) -> Tensor:
    """Bilinear resize by a factor (``align_corners=False``); output side ``floor(side * s)``.

    Resizing by a factor rather than to a size matters: PyTorch then samples at
    ``(i + 0.5) / s - 0.5``, which is what the official checkpoints were trained with.
    """
    if scale_factor == 1.0:
        return x
    return F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)


def linspace_pm1(n: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``torch.linspace(-1, 1, n)``, bit for bit, from ``arange`` arithmetic.

    The reference builds its grids with ``linspace``, and its values are not ``2 i / (n - 1) - 1``
    (they differ by up to ~4e-6): PyTorch's kernel counts the first half up from -1 and the second
    half down from 1 by a float32 step, with a fused multiply-add. Doing the same in float64 and
    rounding once reproduces it exactly (checked for every n up to 5000), and, unlike ``linspace``,
    exports to ONNX with ``n`` symbolic, so an exported graph works at any frame size.
    """
    if dtype != torch.float32 or (isinstance(n, int) and n < 2):
        return torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype)
    idx = torch.arange(n, device=device, dtype=torch.float64)
    step = (torch.tensor(2.0, device=device, dtype=torch.float32) / (n - 1)).double()
    return torch.where(idx < n // 2, -1.0 + step * idx, 1.0 - step * (n - 1 - idx)).float()


def base_grid(batch: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Normalised pixel grid, shape ``(batch, 2, height, width)``: channel 0 is x, 1 is y, in [-1, 1].

    Built from ``linspace(-1, 1, n)`` (:func:`linspace_pm1`) rather than from ``2 * i / (n - 1) - 1``:
    the two agree algebraically but differ by up to ~4e-6, and the reference uses the former.
    In eager inference the grids are cached per shape (a video asks for the same few sizes for
    hours); callers must not modify the result in place. Under graph export they are always
    computed, from the symbolic shape.
    """
    if not fast_paths_enabled():
        return _make_grid(batch, height, width, device, dtype)
    return _cached_grid(batch, height, width, device, dtype, torch.is_inference_mode_enabled())


@functools.lru_cache(maxsize=32)
def _cached_grid(
    batch: int, height: int, width: int, device: torch.device, dtype: torch.dtype, inference: bool
) -> Tensor:
    # ``inference`` is part of the key: a tensor made in inference mode cannot enter autograd later.
    return _make_grid(batch, height, width, device, dtype)


def _make_grid(batch: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    xs = linspace_pm1(width, device, dtype)
    ys = linspace_pm1(height, device, dtype)
    return torch.cat(
        [
            xs.view(1, 1, 1, width).expand(batch, 1, height, width),
            ys.view(1, 1, height, 1).expand(batch, 1, height, width),
        ],
        dim=1,
    )


def warp(x: Tensor, flow: Tensor) -> Tensor:
    """Backward-warp ``x`` (B,C,H,W) by ``flow`` (B,2,H,W, pixels; channel 0 = x, 1 = y).

    ``out[b, :, i, j] = x[b, :, i + flow_y, j + flow_x]`` sampled bilinearly, with positions
    outside the image clamped to the border (``padding_mode='border'``).
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise InputError(f"flow must have shape (B, 2, H, W); got {tuple(flow.shape)}")
    if x.shape[0] != flow.shape[0] or x.shape[-2:] != flow.shape[-2:]:
        raise InputError(f"image {tuple(x.shape)} and flow {tuple(flow.shape)} must share batch, height and width")
    b, _, h, w = flow.shape
    grid = base_grid(b, h, w, flow.device, flow.dtype)
    offset = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], dim=1)
    return F.grid_sample(
        x,
        (grid + offset).permute(0, 2, 3, 1),
        mode="bilinear",
        padding_mode="border",
        align_corners=True,
    )
