"""Stateless tensor helpers shared by the model, the inference engine and the losses.

Each function takes and returns tensors; none owns parameters. The exact formulas matter:
official checkpoints are reproduced bit for bit only when sampling grids and resizes are
computed the way the spec (``IFRNET_SPEC.md`` section 3) states.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError

#: The network downsamples four times by 2, so its input sides must be multiples of this.
NETWORK_STRIDE = 16


def resize(x: Tensor, scale_factor: float) -> Tensor:
    """Bilinear resize by a factor (``align_corners=False``); output side ``floor(side * s)``.

    Resizing by a factor rather than to a size matters: PyTorch then samples at
    ``(i + 0.5) / s - 0.5``, which is what the official checkpoints were trained with.
    """
    if scale_factor == 1.0:
        return x
    return F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)


def base_grid(batch: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Normalised pixel grid, shape ``(batch, 2, height, width)``: channel 0 is x, 1 is y, in [-1, 1].

    Built from ``linspace(-1, 1, n)`` rather than from ``2 * i / (n - 1) - 1``: the two agree
    algebraically but differ by up to ~4e-6, and the reference uses the former.
    """
    xs = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype)
    ys = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype)
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


def _resized_side(side: int, scale_factor: float) -> int:
    # The same double-precision formula F.interpolate uses for its output size.
    return math.floor(float(side) * scale_factor)


def padded_side(side: int, scale_factor: float = 1.0) -> int:
    """Smallest side ``>= side`` the network maps back to itself at ``scale_factor``.

    At ``scale_factor`` s the network sees ``floor(side * s)`` pixels, which must be a multiple of
    16, and its outputs are resized by ``1/s`` back to exactly ``side``: for s = 1 this is the next
    multiple of 16, for s = 0.5 of 32, for s = 0.8 of 20.
    """
    if side < 1:
        raise InputError(f"image sides must be positive; got {side}")
    if not 0.0 < scale_factor <= 1.0:
        raise InputError(f"scale_factor must be in (0, 1]; got {scale_factor}")
    limit = side + NETWORK_STRIDE * math.ceil(1.0 / scale_factor) * 4 + 64
    for candidate in range(side, limit):
        inner = _resized_side(candidate, scale_factor)
        fits = inner >= NETWORK_STRIDE and inner % NETWORK_STRIDE == 0
        if fits and _resized_side(inner, 1.0 / scale_factor) == candidate:
            return candidate
    raise InputError(
        f"no padded size maps {side} pixels back to itself at scale_factor {scale_factor}; "
        "use a scale factor such as 1, 0.5 or 0.25"
    )


def pad_to(x: Tensor, height: int, width: int) -> Tensor:
    """Replicate-pad ``x`` (B,C,H,W) at the bottom and right to ``height`` x ``width``."""
    ph, pw = height - x.shape[-2], width - x.shape[-1]
    if ph < 0 or pw < 0:
        raise InputError(f"cannot pad {tuple(x.shape[-2:])} to the smaller size {(height, width)}")
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")
