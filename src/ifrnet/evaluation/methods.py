"""What an evaluated method is: frames in, frames at the asked times out, unquantised floats.

Every method -- IFRNet and the classical baselines -- takes two float ``(1, 3, H, W)`` tensors
in [0, 1] and a list of times and returns one float tensor of the same shape per time. The
paper's PSNR is computed on unquantised predictions, so nothing here rounds to 8 bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor

from ..engine import Engine


class Method(Protocol):
    """An interpolation method under evaluation."""

    name: str

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        """Frames at ``times`` between ``img0`` (t=0) and ``img1`` (t=1)."""
        ...


class IFRNetMethod:
    """IFRNet through any :class:`~ifrnet.engine.Engine` (PyTorch or onnxruntime), on float32 frames."""

    def __init__(self, engine: Engine, name: str = "ifrnet") -> None:
        self.engine = engine
        self.name = name

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        # float32 (B, 3, H, W) arrays are what every engine takes without rounding to 8 bits
        frames = self.engine.interpolate(
            img0.float().cpu().numpy(), img1.float().cpu().numpy(), [float(t) for t in times]
        )
        return [torch.from_numpy(f).to(img0.device) for f in frames]

    @property
    def fingerprint(self) -> str:
        """The engine in words plus a digest of its weights: two runs agree on it only with the same weights."""
        return self.engine.fingerprint()


def fingerprint(method: Method) -> str:
    """What identifies a method's results: its ``fingerprint`` if it has one (IFRNet: its weights), else its name."""
    return str(getattr(method, "fingerprint", method.name))
