"""Image-quality metrics (``IFRNET_SPEC.md`` section 5)."""

from __future__ import annotations

import torch
from torch import Tensor


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image PSNR in dB of [0, 1] float images (B, C, H, W): ``-10 log10(MSE)``, unquantised.

    Identical images give ``inf``.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape; got {tuple(pred.shape)} and {tuple(target.shape)}")
    mse = ((pred.double() - target.double()) ** 2).flatten(1).mean(dim=1)
    return -10.0 * torch.log10(mse)
