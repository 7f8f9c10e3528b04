"""What an evaluated method is: frames in, frames at the asked times out, unquantised floats.

Every method -- IFRNet and the classical baselines -- takes two float ``(1, 3, H, W)`` tensors
in [0, 1] and a list of times and returns one float tensor of the same shape per time. The
paper's PSNR is computed on unquantised predictions, so nothing here rounds to 8 bits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch
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

    @property
    def fingerprint(self) -> str:
        """The engine in words plus a digest of its weights: two runs agree on it only with the same weights."""
        engine = self.interpolator
        digest = hashlib.sha256()
        model = getattr(engine, "model", None)
        if isinstance(model, torch.nn.Module):
            for key, value in sorted(model.state_dict().items()):
                digest.update(key.encode())
                digest.update(value.detach().cpu().float().contiguous().numpy().tobytes())
        elif isinstance(getattr(engine, "path", None), Path):  # an ONNX graph: its file is its weights
            digest.update(engine.path.read_bytes())
        return f"{getattr(engine, 'description', type(engine).__name__)}, weights sha256 {digest.hexdigest()[:16]}"


def fingerprint(method: Method) -> str:
    """What identifies a method's results: its ``fingerprint`` if it has one (IFRNet: its weights), else its name."""
    return str(getattr(method, "fingerprint", method.name))
