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


def pass_through_tolerance(rate: Fraction, sample_rate: Fraction, tick: Fraction = Fraction(0)) -> Fraction:
    """How near an output time must be to a source frame for that frame to be passed through
    (``--fps``): half a timestamp tick (what the container's rounding can move a frame by), but at
    least 1/50 and at most 1/10 of the shorter frame interval: invisible, yet enough for jittery
    phone timestamps to land on the output times they mean. The cap matters where a tick is as
    long as a frame (AVI, YUV4MPEG2: time base 1/rate): such stamps round nothing within a frame,
    and half of one would pass every output time through as the nearest source frame."""
    shorter = 1 / max(Fraction(rate), Fraction(sample_rate))
    return max(min(Fraction(tick) / 2, shorter / 10), shorter / 50)


def stamp_time_base(write_rate: Fraction, tick: Fraction | None = None, parts: int = 1) -> Fraction:
    """The time base an output's timestamps are written in: ``1 / write_rate`` where only the
    output grid is needed (``tick`` None: ``--fps``, image sequences), else the largest that
    holds both the grid and the source's tick split in ``parts`` (``--factor N``: N), so a source
    frame at any tick and the frames between two of them are stamped where they are, never
    rounded onto each other. A denominator that would not fit a 32-bit timescale (MP4, x264)
    falls back to microseconds."""
    grid = 1 / Fraction(write_rate)
    if not tick:
        return grid
    fine = Fraction(tick) / parts
    base = Fraction(
        math.gcd(grid.numerator * fine.denominator, fine.numerator * grid.denominator),
        grid.denominator * fine.denominator,
    )
    return base if base.denominator < 2**31 else Fraction(1, 1_000_000)


@dataclass(frozen=True)
class Step:
    """One output frame: its number, where it lies between the two source frames around it
    (``t`` in [0, 1)), and the moment of the source it shows (``time``, seconds on the source's
    clock: the writer stamps it, so variable-rate input keeps its timing)."""

    index: int
    t: Fraction
    time: Fraction


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
            Step(k, (self.time_of(k) - a) / span, self.time_of(k))
            for k in range(self.first_at_or_after(a), self.first_at_or_after(b))
        ]

    def count_until(self, end: Fraction) -> int:
        """How many output frames a source ending at ``end`` gives."""
        return self.first_at_or_after(end)


class Timeline:
    """Which output frames lie between each pair of consecutive source frames, fed in order.

    Two ways to place them:

    * ``factor`` N (``--factor``, ``--slowmo``): by index. Each source interval holds N output
      frames at ``t = k / N``, the first being the source frame itself, so a constant-rate input
      gives exactly N times its frames whatever its timestamps' precision (Matroska's 1 ms ticks,
      GIF's 10 ms, a phone's jitter). An interval that spans m nominal frames (a dropped frame, a
      gap in a numbered sequence) holds N * m frames at ``t = k / (N m)``, so timing is kept.
    * ``sample_rate`` (``--fps``): by time. Output frame k shows ``first + k / sample_rate``; a
      source frame is passed through when an output time falls within ``tolerance`` of it.

    Source times are first put back on the nominal grid (``first + n / rate``) when they are within
    half a timestamp tick of it: that is where a constant-rate source's frames really are, before
    the container rounded them.
    """

    def __init__(
        self,
        first: Fraction,
        rate: Fraction,
        *,
        factor: int | None = None,
        sample_rate: Fraction | None = None,
        time_base: Fraction | None = None,
    ) -> None:
        if (factor is None) == (sample_rate is None):
            raise InputError("a timeline needs exactly one of factor and sample_rate")
        self.origin = Fraction(first)
        self.rate = Fraction(rate)
        self.tick = Fraction(time_base) if time_base else Fraction(0)
        self.factor = factor
        self.previous = self.origin
        self.next_index = 0
        #: source intervals (``factor``) that span several nominal frames, each given N per frame
        self.long_intervals = 0
        if sample_rate is not None:
            self.map = TimeMap(self.origin, sample_rate)
            self.tolerance = pass_through_tolerance(self.rate, Fraction(sample_rate), self.tick)

    def snap(self, time: Fraction) -> Fraction:
        """``time`` on the nominal grid if a rounding of the timestamp explains the difference."""
        n = round((time - self.origin) * self.rate)
        grid = self.origin + Fraction(n) / self.rate
        return grid if abs(time - grid) <= self.tick / 2 else Fraction(time)

    def steps_to(self, time: Fraction) -> list[Step]:
        """The output frames from the previous source frame up to (not including) the one at ``time``."""
        a, b = self.previous, self.snap(time)
        self.previous = b
        return self._interval(a, b - a)

    def finish(self, duration: Fraction | None) -> list[Step]:
        """The output frames shown by the last source frame (one nominal interval if ``duration`` is unknown)."""
        return self._interval(self.previous, duration if duration and duration > 0 else 1 / self.rate)

    def count(self, frames: int | None, duration: Fraction | None) -> int | None:
        """Expected output frames for a source of ``frames`` frames or ``duration`` seconds (progress bars)."""
        if self.factor is not None:
            return self.factor * frames if frames else None
        return self.map.count_until(self.origin + duration) if duration else None

    def _interval(self, a: Fraction, span: Fraction) -> list[Step]:
        if span <= 0:
            return []
        if self.factor is not None:
            slots = max(1, round(span * self.rate))
            self.long_intervals += slots > 1
            n = self.factor * slots
            steps = [Step(self.next_index + k, Fraction(k, n), a + span * Fraction(k, n)) for k in range(n)]
            self.next_index += n
            return steps
        return _sampled_steps(self.map, self.tolerance, a, span)


def _sampled_steps(tmap: TimeMap, tolerance: Fraction, start: Fraction, span: Fraction) -> list[Step]:
    """Output frames of ``tmap`` in the source interval ``[start, start + span)`` (shifted back by
    ``tolerance``), with ``t`` across it: 0 for a frame within ``tolerance`` of ``start``."""
    steps = []
    for k in range(tmap.first_at_or_after(start - tolerance), tmap.first_at_or_after(start + span - tolerance)):
        offset = tmap.time_of(k) - start
        steps.append(Step(k, Fraction(0) if abs(offset) <= tolerance else offset / span, tmap.time_of(k)))
    return steps


class FrameMap:
    """Random access to the time map of a constant-rate source (a VapourSynth clip): which output
    frames lie between source frames ``a`` and ``b`` and at which t, in any order.

    The placement is :class:`Timeline`'s for a source whose frame n is at ``n / rate`` and lasts
    ``1 / rate``: ``factor`` N puts N output frames in each source interval (N m across an
    interval of m frames, as with ``--dedup``), ``sample_rate`` shows output frame k at
    ``k / sample_rate``, passing a source frame through within :func:`pass_through_tolerance`.
    ``tests/test_video.py`` checks it against :class:`Timeline` fed in order.
    """

    def __init__(
        self, frames: int, rate: Fraction, *, factor: int | None = None, sample_rate: Fraction | None = None
    ) -> None:
        if (factor is None) == (sample_rate is None):
            raise InputError("a frame map needs exactly one of factor and sample_rate")
        if frames < 1:
            raise InputError(f"a clip needs at least one frame; got {frames}")
        self.frames, self.rate, self.factor = int(frames), Fraction(rate), factor
        if sample_rate is not None:
            self.map = TimeMap(Fraction(0), Fraction(sample_rate))
            self.tolerance = pass_through_tolerance(self.rate, Fraction(sample_rate))

    def __len__(self) -> int:
        """Output frames in all (the last source frame lasting one interval)."""
        return self._first(self.frames)

    def _first(self, n: int) -> int:
        """The first output frame at or after source frame ``n`` (within the tolerance)."""
        if self.factor is not None:
            return self.factor * n
        return self.map.first_at_or_after(n / self.rate - self.tolerance)

    def source_of(self, k: int) -> int:
        """The source frame at or before output frame ``k`` (0 <= k < len): the start of its interval."""
        if not 0 <= k < len(self):
            raise IndexError(f"output frame {k} is outside 0..{len(self) - 1}")
        if self.factor is not None:
            return k // self.factor
        return min(self.frames - 1, math.floor((self.map.time_of(k) + self.tolerance) * self.rate))

    def steps(self, a: int, b: int) -> list[Step]:
        """The output frames from source frame ``a`` up to (not including) ``b`` (``frames`` for the
        end), with ``t`` measured across ``[a, b)``: 0 for ``a`` passed through."""
        if self.factor is not None:
            first, n = self._first(a), self.factor * (b - a)
            return [Step(first + k, Fraction(k, n), (a + Fraction(k * (b - a), n)) / self.rate) for k in range(n)]
        return _sampled_steps(self.map, self.tolerance, a / self.rate, (b - a) / self.rate)
