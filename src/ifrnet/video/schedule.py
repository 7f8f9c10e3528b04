"""Which output frame shows which moment of the source: exact rational arithmetic.

Output frame k shows source time ``start + k / sample_rate``. Between two source frames at
times a < b it is the interpolation at ``t = (T - a) / (b - a)``; computed with ``Fraction``
there is no drift, however long the video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..errors import InputError

#: Nominal NTSC-family rates people write as decimals (29.97 means 30000/1001).
_NTSC_BASES = (24, 30, 48, 60, 120, 240)


def parse_rate(text: str | float | Fraction) -> Fraction:
    """A frame rate from ``"60000/1001"``, ``"59.94"``, ``"60"`` or a number, as an exact ``Fraction``.

    Decimals within 0.005 of an NTSC rate (23.976, 29.97, 59.94, ...) mean that rate exactly.
    """
    raw = str(text).strip()
    try:
        if "/" in raw:
            num, den = raw.split("/", 1)
            rate = Fraction(int(num), int(den))
        else:
            rate = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"frame rate {raw!r} is not a number or a ratio such as 60000/1001") from None
    if rate <= 0:
        raise InputError(f"frame rate must be positive; got {raw}")
    if "/" not in raw and rate.denominator != 1:
        for base in _NTSC_BASES:
            ntsc = Fraction(base * 1000, 1001)
            if abs(rate - ntsc) < Fraction(5, 1000):
                return ntsc
    return rate


@dataclass(frozen=True)
class Step:
    """One output frame: its number and where it lies between the two source frames around it."""

    index: int
    t: Fraction


class TimeMap:
    """Output frame k samples the source at ``start + k / sample_rate``."""

    def __init__(self, start: Fraction, sample_rate: Fraction) -> None:
        if sample_rate <= 0:
            raise InputError(f"output frame rate must be positive; got {sample_rate}")
        self.start = Fraction(start)
        self.sample_rate = Fraction(sample_rate)

    def time_of(self, index: int) -> Fraction:
        return self.start + Fraction(index) / self.sample_rate

    def first_at_or_after(self, time: Fraction) -> int:
        """The first output frame whose source time is >= ``time``."""
        return max(0, math.ceil((Fraction(time) - self.start) * self.sample_rate))

    def steps_between(self, a: Fraction, b: Fraction) -> list[Step]:
        """Output frames whose source time T lies in [a, b), with ``t = (T - a) / (b - a)``."""
        if b <= a:
            return []
        span = b - a
        return [
            Step(k, (self.time_of(k) - a) / span) for k in range(self.first_at_or_after(a), self.first_at_or_after(b))
        ]

    def count_until(self, end: Fraction) -> int:
        """How many output frames a source ending at ``end`` gives."""
        return self.first_at_or_after(end)
