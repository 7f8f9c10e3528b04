"""Telling apart motion, scene cuts, repeated frames and held drawings between consecutive frames.

The score of a pair: a cut changes both what the picture shows (its colour histogram) and where
(pixel differences); fast motion changes the pixels but keeps the histogram, a lighting change
the reverse. The score is the geometric mean of the two, 0 for equal frames and 50-100 for
unrelated ones.

The decision is relative as well as absolute (the idea of PySceneDetect's AdaptiveDetector): a
pair is a cut when its score exceeds ``threshold``, or when its score reaches ``threshold / 20``
and its pixel change (the mean absolute difference, the score's second factor) is at least
``CUT_RATIO`` times that of the moving pairs around it. A dark scene's cuts score 2-25 while its
motion scores under 1, a fast pan's motion 10-15 pair after pair; an absolute threshold alone
cannot serve both (``benchmarks/scene_cuts.py`` measures it: the pixel change separated cuts from
motion spikes better than the score itself). One rule, used by ``ifrnet video``, ``ifrnet eval
--video`` and the training data's windows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

import numpy as np

from ..errors import InputError
from ..options import Option
from .formats import to_8bit

if TYPE_CHECKING:
    import os

#: A pair scoring above this is always a cut; ``--scene-threshold`` (0-100, the score's scale).
DEFAULT_SCENE_THRESHOLD = 30.0
#: ``--scene-threshold``: its range and help, wherever a threshold comes in
SCENE_THRESHOLD = Option(
    low=1.0,
    high=100.0,
    hint="the cut score's scale: 0 for equal frames, 50-100 for unrelated ones; --no-scene-detect turns detection off",
    help="cut score (1-100; 0 = equal frames, 50-100 = unrelated) above which a pair is always a cut; "
    f"pairs standing out from their neighbours are cuts from 1/20 of it (default {DEFAULT_SCENE_THRESHOLD:g})",
)
#: A pair whose pixel change is this many times that around it is a cut, if its score also
#: reaches threshold / CUT_FLOOR.
CUT_RATIO = 3.0
CUT_FLOOR = 20.0
#: Moving pairs looked at on each side, and how far to search for them past still ones.
CUT_WINDOW = 2
CUT_LOOKAHEAD = 8
#: The least pixel change a reference can have: below it a shot is calm, whatever it shows.
MOVING = 0.5
#: Frames whose pixels differ by at most this much (of 255) everywhere count as repeats.
DUPLICATE_TOLERANCE = 1
#: ``--dedup``: a drawing is held when no 16x16 block of the thumbnails' luma differs by more than
#: this mean (of 255). Measured on the shared clips drawn on twos and encoded with H.264 at CRF 20
#: (256-640 px wide): a held copy's largest block differs by 0.6-1.9, a new drawing's by 2.0 or
#: more (24-56 typical); ``--dedup-tolerance`` for noisier encodes.
DEFAULT_HOLD_TOLERANCE = 2.0
#: ``--dedup-tolerance``: its range and help
HOLD_TOLERANCE = Option(
    low=0.0,
    high=64.0,
    hint=f"a mean difference of 8-bit levels in a block; default {DEFAULT_HOLD_TOLERANCE:g}",
    help=f"largest block mean difference (of 255) of a held copy (default {DEFAULT_HOLD_TOLERANCE:g})",
)
_HOLD_BLOCK = 16
_THUMB_SIDE = 160
_BINS = 32

Item = TypeVar("Item")


class Change(Enum):
    DUPLICATE = "duplicate"
    MOTION = "motion"
    CUT = "cut"


@dataclass
class Thumbnail:
    """A subsampled copy, its luma and colour histograms of a frame, computed once per frame."""

    pixels: np.ndarray
    histogram: np.ndarray
    #: mean of the three channels, what :func:`held` compares (once a frame, not once a pair)
    luma: np.ndarray

    @classmethod
    def of(cls, image: np.ndarray) -> Thumbnail:
        stride = max(1, max(image.shape[:2]) // _THUMB_SIDE)
        # deeper sources are judged on the same 0-255 scale
        small = to_8bit(np.ascontiguousarray(image[::stride, ::stride]))
        # 32 bins per channel: the top five bits, offset per channel so one bincount does all three
        bins = (small >> 3).reshape(-1, 3).astype(np.intp) + np.arange(3) * _BINS
        hist = np.bincount(bins.ravel(), minlength=3 * _BINS).astype(np.float32)
        pixels = small.astype(np.float32)
        return cls(pixels, hist / (small.shape[0] * small.shape[1]), pixels.mean(axis=2))


def pair_measures(a: Thumbnail, b: Thumbnail) -> tuple[float, float]:
    """(score, pixel change): the cut score (0 for equal frames, about 50-100 for unrelated ones)
    and the mean absolute difference of the thumbnails (0-255)."""
    hist = float(np.abs(a.histogram - b.histogram).sum()) / 6.0 * 100.0  # 0..100
    mad = float(np.abs(a.pixels - b.pixels).mean())  # 0..255
    return (hist * mad) ** 0.5, mad


def scene_score(a: Thumbnail, b: Thumbnail) -> float:
    """0 for equal frames, about 50-100 for unrelated ones."""
    return pair_measures(a, b)[0]


def check_scene_threshold(value: float | None) -> float | None:
    """``value`` if it is a usable ``--scene-threshold``; raises :class:`InputError` otherwise."""
    SCENE_THRESHOLD.check("scene_threshold", value)
    return value


def is_cut(scores: Sequence[float], changes: Sequence[float], still: Sequence[bool], i: int, threshold: float) -> bool:
    """Whether pair ``i`` is a cut, from every pair's score, pixel change (:func:`pair_measures`)
    and whether it is still (a repeat or a held drawing, :func:`held`).

    The reference is the second largest pixel change of the ``CUT_WINDOW`` nearest pairs on each
    side that are not still (searched up to ``CUT_LOOKAHEAD`` away; the largest where one side has
    none, at the start or end): the second, so that another cut nearby does not hide this one;
    not still, so that drawings held on twos or threes do not make a shot look calm. A cut must
    also be a peak: motion that speeds up or slows down is not one.
    """
    if scores[i] > threshold:
        return True
    if scores[i] < threshold / CUT_FLOOR:
        return False
    n = len(changes)
    left = [changes[j] for j in range(i - 1, max(-1, i - 1 - CUT_LOOKAHEAD), -1) if not still[j]][:CUT_WINDOW]
    right = [changes[j] for j in range(i + 1, min(n, i + 1 + CUT_LOOKAHEAD)) if not still[j]][:CUT_WINDOW]
    around = sorted(left + right, reverse=True)
    if not around:
        return changes[i] >= CUT_RATIO * MOVING
    # a peak among the moving pairs beside it
    if (left and left[0] > changes[i]) or (right and right[0] > changes[i]):
        return False
    reference = around[1] if left and right and len(around) > 1 else around[0]
    return changes[i] >= CUT_RATIO * max(reference, MOVING)


def cut_mask(
    scores: Sequence[float],
    changes: Sequence[float],
    still: Sequence[bool],
    threshold: float | None = DEFAULT_SCENE_THRESHOLD,
) -> np.ndarray:
    """Boolean per consecutive pair of a whole clip: a cut (:func:`is_cut`); all ``False`` for ``None``."""
    s, c, h = [float(x) for x in scores], [float(x) for x in changes], [bool(x) for x in still]
    if threshold is None:
        return np.zeros(len(s), dtype=bool)
    return np.array([is_cut(s, c, h, i, threshold) for i in range(len(s))], dtype=bool)


def held(a: Thumbnail, b: Thumbnail, tolerance: float = DEFAULT_HOLD_TOLERANCE) -> bool:
    """Whether ``b`` is the drawing ``a`` shows again, up to compression noise (``--dedup``).

    Per-block rather than per-pixel (noise) or whole-frame (a mouth that moves is one block); the
    blocks are 16 thumbnail pixels (1/10 of the longer side or less), large enough to average the
    noise of a lossy encode out.
    """
    diff = np.abs(a.luma - b.luma)
    h, w = (s - s % _HOLD_BLOCK for s in diff.shape)
    if h == 0 or w == 0:
        return float(diff.mean()) <= tolerance
    blocks = diff[:h, :w].reshape(h // _HOLD_BLOCK, _HOLD_BLOCK, w // _HOLD_BLOCK, _HOLD_BLOCK).mean(axis=(1, 3))
    return float(blocks.max()) <= tolerance


def is_held_copy(change: Change, a: Thumbnail, b: Thumbnail, tolerance: float) -> bool:
    """With ``--dedup``: whether frame ``b`` shows frame ``a``'s drawing again and is dropped, so
    that the frames between drawings are made at their own times, as if it had moved on every
    frame. A cut is never a held copy."""
    return change is not Change.CUT and (change is Change.DUPLICATE or held(a, b, tolerance))


def dedup_spans(kept: int, a: int, b: int, change: Change) -> list[tuple[int, int, Change]]:
    """With ``--dedup``: what the output shows from ``kept`` (the last drawing kept) to ``b`` (the
    next), where ``a, b`` is the pair before ``b`` and ``change`` what lies between them, as
    ``(first, last, change)`` source-frame spans. Held copies just before a cut keep the drawing
    until the cut (a ``DUPLICATE`` span), never a frame of the next shot early; otherwise the
    network moves from one drawing to the next. The streaming pipeline and the VapourSynth filter
    both lay their segments out by this rule."""
    if change is Change.CUT:
        return ([(kept, a, Change.DUPLICATE)] if kept != a else []) + [(a, b, Change.CUT)]
    return [(kept, b, Change.MOTION)]


@dataclass
class Judged(Generic[Item]):
    """A consecutive pair of items, what lies between them, and their thumbnails."""

    a: Item
    b: Item
    change: Change
    thumb_a: Thumbnail
    thumb_b: Thumbnail


class SceneDetector:
    """Classify consecutive frames as repeats, motion or cuts, in order, with a bounded lookahead.

    ``threshold`` ``None`` finds no cuts (repeats still); ``cuts`` (a :class:`CutList`, ``--cuts``)
    names cuts that hold whatever their score. :meth:`judge` takes items with ``.image`` arrays
    (and ``.time`` for timecoded cuts) and yields each pair once ``CUT_LOOKAHEAD`` more are known
    (or the input ends).
    """

    def __init__(self, threshold: float | None = DEFAULT_SCENE_THRESHOLD, cuts: CutList | None = None) -> None:
        self.threshold = check_scene_threshold(threshold)
        self.given = cuts or CutList()
        self.given.used.clear()  # a list reused for another run starts afresh

    def judge(self, items: Iterable[Item]) -> Iterator[Judged[Item]]:
        """Each consecutive pair of ``items`` with its change, in order."""
        scores: list[float] = []  # every pair's measures so far: small (a few numbers a frame)
        changes: list[float] = []
        still: list[bool] = []
        pending: deque[tuple[Item, Item, bool]] = deque()
        previous = None
        index = 0
        for item in items:
            thumb = Thumbnail.of(item.image)
            if previous is not None:
                p_item, p_thumb = previous
                measures = measure_pair(p_item.image, item.image, p_thumb, thumb)
                scores.append(measures.score)
                changes.append(measures.change)
                still.append(measures.still)
                pending.append((p_item, item, measures.repeat, p_thumb, thumb))
                while len(pending) > CUT_LOOKAHEAD:
                    yield self._decide(pending.popleft(), scores, changes, still, index)
                    index += 1
            previous = (item, thumb)
        while pending:
            yield self._decide(pending.popleft(), scores, changes, still, index)
            index += 1

    def _decide(self, pair: tuple, scores: list, changes: list, still: list, index: int) -> Judged:
        a, b, repeat, thumb_a, thumb_b = pair
        if self.given.holds(index, getattr(a, "time", None), getattr(b, "time", None)):
            change = Change.CUT
        elif repeat:
            change = Change.DUPLICATE
        elif self.threshold is not None and is_cut(scores, changes, still, index, self.threshold):
            change = Change.CUT
        else:
            change = Change.MOTION
        return Judged(a, b, change, thumb_a, thumb_b)

    def cuts(self, frames: Sequence[np.ndarray]) -> list[int]:
        """Pair indices of the cuts in a list of frames (``i``: between frames i and i+1)."""

        @dataclass
        class _Frame:
            image: np.ndarray

        return [i for i, j in enumerate(self.judge(_Frame(f) for f in frames)) if j.change is Change.CUT]


def is_repeat(a: np.ndarray, b: np.ndarray, thumb_a: Thumbnail, thumb_b: Thumbnail) -> bool:
    """Whether ``b`` repeats ``a`` to within ``DUPLICATE_TOLERANCE`` 8-bit levels everywhere."""
    # the subsampled pixels settle most pairs; only look at every pixel when they agree
    if np.abs(thumb_a.pixels - thumb_b.pixels).max() > DUPLICATE_TOLERANCE or a.shape != b.shape:
        return False
    return _max_abs_diff(a, b) <= DUPLICATE_TOLERANCE


class PairMeasures(NamedTuple):
    """What the cut rule (:func:`is_cut`) needs of one consecutive pair."""

    score: float
    change: float
    #: ``b`` repeats ``a`` (:func:`is_repeat`)
    repeat: bool
    #: a repeat or a held drawing (:func:`held`): no motion to measure
    still: bool


def measure_pair(a: np.ndarray, b: np.ndarray, thumb_a: Thumbnail, thumb_b: Thumbnail) -> PairMeasures:
    """The measures of the pair ``a``, ``b``: ``ifrnet video`` and the training frame cache
    (:mod:`ifrnet.data.folder`) measure pairs with this one function, so that they cut alike."""
    score, change = pair_measures(thumb_a, thumb_b)
    repeat = is_repeat(a, b, thumb_a, thumb_b)
    return PairMeasures(score, change, repeat, repeat or held(thumb_a, thumb_b))


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference in 8-bit levels (uint16 frames scaled by 255/65535); whole-frame, since a
    repeat must repeat everywhere."""
    wide = np.int16 if a.dtype == np.uint8 else np.int32  # no wrap-around
    diff = int(np.abs(a.astype(wide) - b.astype(wide)).max())
    return diff if a.dtype == np.uint8 else diff * 255 / 65535


@dataclass
class CutList:
    """Cuts given by the user (``--cuts FILE``): first frames of new shots, by index or by time.

    ``frames``: 0-based indices in decoder order (as FFmpeg's ``select`` counts) of the first frame
    of each new shot; ``times``: the same as presentation times in seconds.
    """

    frames: set[int] = field(default_factory=set)
    times: list[Fraction] = field(default_factory=list)
    #: where the list came from, for notices
    source: str = ""
    used: set = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.frames) + len(self.times)

    def holds(self, pair: int, a_time: Fraction | None, b_time: Fraction | None) -> bool:
        """Whether the pair joining frames ``pair`` and ``pair + 1`` (at those times) is a given cut."""
        if pair + 1 in self.frames:
            self.used.add(pair + 1)
            return True
        if a_time is None or b_time is None:
            return False
        # a timecode names the frame nearest to it: rounding in the list must not move the cut
        middle = (a_time + b_time) / 2
        hits = [t for t in self.times if middle < t <= b_time + (b_time - a_time) / 2]
        self.used.update(hits)
        return bool(hits)

    def unused(self) -> str | None:
        """A notice naming the cuts no frame pair took (past the end, frame 0, an empty list), or ``None``."""
        if not len(self):
            return f"{self.source}: no cuts in the list" if self.source else None
        frames = sorted(f for f in self.frames if f not in self.used)
        times = [t for t in self.times if t not in self.used]
        if not frames and not times:
            return None
        named = [f"frame {f}" for f in frames[:5]] + [f"{float(t):.3f} s" for t in times[:5]]
        more = len(frames) + len(times) - len(named)
        return (
            f"{self.source}: {len(frames) + len(times)} cut(s) not in the video, ignored: {', '.join(named)}"
            + (f" and {more} more" if more else "")
            + " (frame 0 starts the video; indices and times past the end match nothing)"
        )


_TIMECODE = r"(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)"


def read_cut_list(path: str | os.PathLike) -> CutList:
    """Read ``--cuts FILE``: PySceneDetect's scene-list CSV, or one cut per line.

    Lines: a 0-based frame index (the first frame of the new shot, in decoder order, as FFmpeg's
    ``select`` counts; anything after the number, such as an x264 qpfile's frame type, is ignored),
    or a timecode (``HH:MM:SS.mmm``, ``MM:SS.mmm``) or seconds with a decimal point (``12.345``),
    the cut falling before the frame nearest to it (a time halfway goes to the earlier frame);
    ``#`` starts a comment. A CSV as ``scenedetect ... list-scenes`` writes it (1-based "Start
    Frame" of each scene) is recognised by its header. Raises :class:`InputError` naming the file
    and line of anything else.
    """
    import csv
    import re

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the cut list ({exc.__class__.__name__}: {exc})") from None
    cuts = CutList(source=str(p))
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("Scene Number,")), None)
    if header is not None:
        rows = list(csv.DictReader(lines[header:]))
        try:
            starts = [int(row["Start Frame"]) for row in rows]
        except (KeyError, ValueError, TypeError):
            raise InputError(f"{p}: a PySceneDetect scene list without usable 'Start Frame' values") from None
        cuts.frames = {start - 1 for start in starts[1:]}  # the first scene starts the video
        return cuts
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        token = line.split()[0].rstrip(",")
        if re.fullmatch(r"\d+", token):
            cuts.frames.add(int(token))
        elif m := re.fullmatch(_TIMECODE, token):
            hours, minutes, seconds = m.group(1), m.group(2), m.group(3)
            cuts.times.append(Fraction(int(hours or 0) * 3600 + int(minutes) * 60) + Fraction(seconds))
        elif re.fullmatch(r"\d*\.\d+", token):
            cuts.times.append(Fraction(token))
        else:
            raise InputError(
                f"{p}:{number}: {line!r} is neither a frame index nor a timecode (HH:MM:SS.mmm or seconds)"
            )
    return cuts
