"""What an evaluated method is: frames in, frames at the asked times out, unquantised floats.

Every method -- IFRNet and the classical baselines -- takes two float ``(1, 3, H, W)`` tensors
in [0, 1] and a list of times and returns one float tensor of the same shape per time. The
paper's PSNR is computed on unquantised predictions, so nothing here rounds to 8 bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from torch import Tensor

from ..inference import Interpolator


class Method(Protocol):
    """An interpolation method under evaluation."""

    name: str

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float], scale_factor: float = 1.0) -> list[Tensor]:
        """Frames at ``times`` between ``img0`` (t=0) and ``img1`` (t=1); ``scale_factor`` is a hint
        only IFRNet uses (the spec's protocols run it at 0.8 on SNU-FILM)."""
        ...


class IFRNetMethod:
    """IFRNet through :class:`~ifrnet.inference.Interpolator` (padding, bisection for 2x-only weights)."""

    def __init__(self, interpolator: Interpolator, name: str = "ifrnet") -> None:
        self.interpolator = interpolator
        self.name = name

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float], scale_factor: float = 1.0) -> list[Tensor]:
        return self.interpolator.interpolate(img0, img1, list(times), scale_factor=scale_factor)
