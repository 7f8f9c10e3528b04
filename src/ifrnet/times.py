"""Times and sizes, without torch: shared by the PyTorch engine and the onnxruntime backend.

Which times t a pair can be asked for, how 2x-only weights reach them by recursive bisection,
and which padded size the network maps back to itself (:class:`Padder` pads and crops). Nothing
here imports torch, so the onnxruntime backend runs where PyTorch is not installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TypeVar

import numpy as np

from .errors import InputError

#: The network downsamples four times by 2, so its input sides must be multiples of this.
NETWORK_STRIDE = 16
#: Deepest bisection level for 2x-only weights: times down to 1/2**MAX_BISECTION_DEPTH.
MAX_BISECTION_DEPTH = 10

Frame = TypeVar("Frame")


def factor_times(factor: int) -> list[float]:
    """The ``factor - 1`` evenly spaced times strictly between two frames (``k / factor``)."""
    if not isinstance(factor, int) or factor < 2:
        raise InputError(f"interpolation factor must be an integer >= 2; got {factor!r}")
    return [k / factor for k in range(1, factor)]


def check_times(times: Sequence[float]) -> list[float]:
    """Validate that every t lies strictly between 0 and 1; returns them as floats."""
    if isinstance(times, (int, float)):
        times = [times]
    values = [float(t) for t in times]
    if not values:
        raise InputError("no times given; pass at least one t in (0, 1)")
    for t in values:
        if not 0.0 < t < 1.0:
            raise InputError(f"time t={t:g} is outside (0, 1): t=0 and t=1 are the input frames themselves")
    return values


def dyadic(t: float) -> Fraction | None:
    """``t`` as k / 2**n (n <= MAX_BISECTION_DEPTH) if it is one, else ``None``."""
    frac = Fraction(t).limit_denominator(2**MAX_BISECTION_DEPTH)
    if abs(float(frac) - t) > 1e-9 or frac.denominator & (frac.denominator - 1):
        return None
    return frac


def bisect(
    middle: Callable[[Frame, Frame], Frame], frame0: Frame, frame1: Frame, times: Sequence[float]
) -> list[Frame]:
    """The frames at dyadic ``times`` from a 2x-only ``middle(a, b)``, by recursive bisection.

    Each midpoint is predicted once from its two neighbours and reused by every time below it.
    Raises :class:`InputError` for a time that is not k / 2**n, naming what would reach it.
    """
    fractions = []
    for t in times:
        frac = dyadic(t)
        if frac is None:
            raise InputError(
                f"t={t:g} cannot be reached with these weights: they ignore t (2x-only, like the "
                "released Vimeo90K checkpoints), so only t = k/2^n works by recursive bisection; "
                "use a GoPro or other arbitrary-t checkpoint for other times"
            )
        fractions.append(frac)
    known: dict[Fraction, Frame] = {}

    def into(a: Frame, b: Frame, lo: Fraction, hi: Fraction, wanted: set[Fraction]) -> None:
        inside = {f for f in wanted if lo < f < hi}
        if not inside:
            return
        mid = (lo + hi) / 2
        known[mid] = middle(a, b)
        into(a, known[mid], lo, mid, inside)
        into(known[mid], b, mid, hi, inside)

    into(frame0, frame1, Fraction(0), Fraction(1), set(fractions))
    return [known[f] for f in fractions]


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


class Padder:
    """Pads ``(..., H, W)`` frames (numpy arrays or torch tensors) to a size the network maps back
    to itself, and crops its outputs back.

    Padding repeats the edge pixels (replicate). By default it goes on the bottom and right, as
    the authors' inference scripts do, to :func:`padded_side` at ``scale_factor``; ``multiple``
    pads to the next multiple of that instead and ``centred`` splits it half before (rounded
    down), half after, as the SNU-FILM protocol has it (multiples of 20, ``docs/IFRNET.md`` section 6).
    Every place that runs the network pads through one of these.
    """

    def __init__(
        self, height: int, width: int, scale_factor: float = 1.0, *, multiple: int | None = None, centred: bool = False
    ) -> None:
        self.height, self.width = int(height), int(width)

        def target(side: int) -> int:
            if multiple is None:
                return padded_side(side, scale_factor)
            return side + ((side // multiple + 1) * multiple - side) % multiple

        extra_h, extra_w = target(self.height) - self.height, target(self.width) - self.width
        self.top = extra_h // 2 if centred else 0
        self.left = extra_w // 2 if centred else 0
        self.bottom, self.right = extra_h - self.top, extra_w - self.left

    @classmethod
    def like(cls, frame, scale_factor: float = 1.0) -> Padder:
        """The network's padder for frames shaped like ``frame`` ``(..., H, W)``."""
        return cls(int(frame.shape[-2]), int(frame.shape[-1]), scale_factor)

    @property
    def padded(self) -> tuple[int, int]:
        """(height, width) after padding."""
        return self.height + self.top + self.bottom, self.width + self.left + self.right

    def pad(self, frame: Frame) -> Frame:
        """``frame`` replicate-padded to :attr:`padded`; the same object when no padding is needed."""
        if not (self.top or self.bottom or self.left or self.right):
            return frame
        if isinstance(frame, np.ndarray):
            spec = [(0, 0)] * (frame.ndim - 2) + [(self.top, self.bottom), (self.left, self.right)]
            return np.pad(frame, spec, mode="edge")
        import torch.nn.functional as F

        return F.pad(frame, (self.left, self.right, self.top, self.bottom), mode="replicate")

    def unpad(self, frame: Frame) -> Frame:
        """The original ``H x W`` region of a padded-size ``frame``."""
        return frame[..., self.top : self.top + self.height, self.left : self.left + self.width]
