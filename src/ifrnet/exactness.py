"""The exactness contract: how far an engine's frames may stray from eager fp32 PyTorch.

Two classes (issue 37; the README's performance section gives the measured figures):

- **fp32-class** engines (torch, onnxruntime, OpenVINO fp32): after rounding to the output's
  bit depth, at most :data:`FP32_LEVELS` level from eager fp32 on at least :data:`FP32_SHARE` of
  the samples, and a PSNR against eager of at least :data:`FP32_PSNR_DB` on real frames. A
  max-abs bound in float (the old 1e-4) says nothing about what a viewer or an encoder sees:
  OpenVINO's GridSample rounds sampling positions differently, by about 3e-4 at worst, which is
  under a tenth of an 8-bit level.
- **reduced precision** (bf16, fp16, int8): its PSNR against the real middle frames within
  :data:`REDUCED_DB` of fp32's, on held-out real live action and on animation. ``--backend auto``
  never picks what misses it.

Torch-free (numpy).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .errors import InputError

FP32_LEVELS = 1
FP32_SHARE = 0.999
FP32_PSNR_DB = 60.0
REDUCED_DB = 0.1


class Agreement(NamedTuple):
    """How closely frames agree with eager fp32's after rounding to ``bits`` bits."""

    #: the share of samples (0..1) within :data:`FP32_LEVELS` level
    share: float
    #: the largest difference in levels
    worst_levels: int
    #: PSNR (dB, peak 1.0) between the unrounded frames; ``inf`` when equal
    psnr: float

    @property
    def fp32_class(self) -> bool:
        """Whether this meets the fp32-class contract."""
        return self.share >= FP32_SHARE and self.psnr >= FP32_PSNR_DB

    def __str__(self) -> str:
        return f"{100 * self.share:.3f}% within {FP32_LEVELS} level (worst {self.worst_levels}), {self.psnr:.1f} dB"


def agreement(frames: np.ndarray, reference: np.ndarray, bits: int = 8) -> Agreement:
    """Compare ``frames`` with ``reference`` (eager fp32): float arrays of one shape, in [0, 1].

    Raises :class:`InputError` for shapes that differ or a bit depth outside 8..16.
    """
    if frames.shape != reference.shape:
        raise InputError(f"frames of shape {frames.shape} against a reference of shape {reference.shape}")
    if not 8 <= bits <= 16:
        raise InputError(f"bits must be 8 to 16; got {bits}")
    peak = (1 << bits) - 1
    a = np.asarray(frames, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    levels = np.abs(np.rint(np.clip(a, 0, 1) * peak) - np.rint(np.clip(b, 0, 1) * peak))
    mse = float(np.mean((a - b) ** 2))
    psnr = math.inf if mse == 0 else 10 * math.log10(1.0 / mse)
    return Agreement(float(np.mean(levels <= FP32_LEVELS)), int(levels.max(initial=0)), psnr)
