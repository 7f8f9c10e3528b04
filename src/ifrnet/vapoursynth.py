"""IFRNet as a VapourSynth filter: ``ifrnet.vapoursynth.interpolate(clip, ...)``.

>>> import vapoursynth as vs  # doctest: +SKIP
>>> from ifrnet.vapoursynth import interpolate  # doctest: +SKIP
>>> rgb = vs.core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s="709")  # doctest: +SKIP
>>> smooth = interpolate(rgb, fps_num=60000, fps_den=1001, backend="onnxruntime")  # doctest: +SKIP

The output is what ``ifrnet video`` writes for the same frames and options, frame for frame: the
same time map (:class:`ifrnet.video.schedule.FrameMap`, exact fractions), the same scene rules
(:mod:`ifrnet.video.scenes`), the same ``--dedup`` logic and any :class:`~ifrnet.engine.Engine`.
VapourSynth asks for frames in any order and from several threads; each output frame is worked
out from the frames around it, so any order gives the same frames.

Needs VapourSynth (``pip install vapoursynth``, Python 3.12 or later) and numpy; the torch engine
needs torch, ``backend="onnxruntime"`` or ``"openvino"`` with a graph from ``ifrnet export`` do not.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .engine import Engine
from .errors import InputError
from .spec import EngineSpec
from .video.options import VideoOptions
from .video.scenes import (
    CUT_LOOKAHEAD,
    DEFAULT_HOLD_TOLERANCE,
    DEFAULT_SCENE_THRESHOLD,
    Change,
    PairMeasures,
    Thumbnail,
    dedup_spans,
    is_cut,
    is_held_copy,
    measure_pair,
)
from .video.schedule import FrameMap, Step

if TYPE_CHECKING:
    import vapoursynth as vs

__all__ = ["interpolate"]

#: output frames of one pair computed in one engine call (the pair encoded once) when a frame of
#: it is asked for; a longer span (a drawing held for many frames, with dedup) goes frame by frame
PAIR_BATCH = 8
#: what is kept between requests: decoded frames, thumbnails and pair measures, finished pairs
_FRAMES_KEPT = 16
_THUMBS_KEPT = 512
_PAIRS_KEPT = 8
#: the source frames, relative to an output frame's own, that making it reads: the pair, and the
#: CUT_LOOKAHEAD pairs each side the cut rule weighs for it and for its neighbours' cut marks
_OFFSETS = tuple(range(-(CUT_LOOKAHEAD + 1), CUT_LOOKAHEAD + 3))
#: looped one-frame clips kept (what the requests of nearby output frames share)
_LOOPED_KEPT = 64
#: frame properties of scene changes (set by misc.SCDetect, mv.SCDetection and others)
_NEXT, _PREV = "_SceneChangeNext", "_SceneChangePrev"


def interpolate(
    clip: vs.VideoNode,
    factor: int | None = None,
    fps_num: int | None = None,
    fps_den: int = 1,
    *,
    model: str | None = None,
    checkpoint: str | None = None,
    backend: str = "auto",
    device: str | None = None,
    scale: float | str = 1.0,
    precision: str | None = None,
    threads: int | None = None,
    int8: bool | None = None,
    streams: int | None = None,
    scene_detect: bool = True,
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD,
    dedup: bool = False,
    dedup_tolerance: float = DEFAULT_HOLD_TOLERANCE,
    engine: Engine | None = None,
    player: bool = False,
) -> vs.VideoNode:
    """The clip at ``factor`` times its frame rate (default 2) or at ``fps_num / fps_den`` exactly.

    ``clip``: RGBS or RGBH (float RGB in [0, 1]), constant size and frame rate; anything else
    raises ``ValueError`` naming the conversion (``core.resize.Bicubic(clip, format=vs.RGBS,
    matrix_in_s="709")`` for YUV). The output has the same format, ``len(FrameMap)`` frames
    (``factor * len(clip)``, or every ``1 / fps`` up to the end of the last frame), the new rate,
    and ``_DurationNum``/``_DurationDen`` of one output interval on every frame; output frames
    that show a source frame carry its other properties, new ones those of the frame before.

    Scene cuts are never blended: where the frames carry ``_SceneChangeNext`` /
    ``_SceneChangePrev`` those decide, elsewhere the project's detector (``scene_detect``,
    ``scene_threshold`` as ``ifrnet video --scene-threshold``); a cut is marked on the output
    frames on either side of it. ``dedup`` drops drawings shown again (anime on twos) and makes the
    frames between drawings at their own times, as ``ifrnet video --dedup``.

    The engine: the :class:`~ifrnet.spec.EngineSpec` options as on the command line, or an
    ``engine`` built already (shared between calls). Each output frame asks VapourSynth for the
    source frames it needs (``CUT_LOOKAHEAD`` each side to judge cuts, unless cut properties are
    set); a pair's output frames are made in one call. ``player``: for mpv (:class:`_Player`).

    Raises ``ValueError`` for a clip or option it cannot take (before any frame is made).
    """
    import vapoursynth as vs

    try:
        fps = None if fps_num is None else Fraction(fps_num, fps_den)
        threshold = scene_threshold if scene_detect else None
        options = VideoOptions(
            factor=factor, fps=fps, scene_threshold=threshold, dedup=dedup, dedup_tolerance=dedup_tolerance
        )
        engine_options = {"model": model, "checkpoint": checkpoint, "device": device, "precision": precision}
        spec = EngineSpec(backend=backend, scale=scale, threads=threads, int8=int8, streams=streams, **engine_options)
        if player:
            return _Player(clip, options, spec if engine is None else engine).output(vs)
        return _Interpolation(clip, options, spec if engine is None else engine).output(vs)
    except InputError as exc:
        raise ValueError(f"ifrnet.vapoursynth.interpolate: {exc}") from None


def _planes(frame: vs.VideoFrame) -> np.ndarray:
    """An RGB frame's planes as float32 ``(3, H, W)``."""
    return np.stack([np.asarray(frame[p], dtype=np.float32) for p in range(3)])


def _write(frame: vs.VideoFrame, image: np.ndarray) -> None:
    """Float planes ``(3, H, W)`` into a writable frame of the clip's own format (RGBS or RGBH)."""
    for plane in range(3):
        np.copyto(np.asarray(frame[plane]), image[plane], casting="unsafe")


def _between(engine: Engine, planes0: np.ndarray, planes1: np.ndarray, times) -> dict[Fraction, np.ndarray]:
    """The frames at ``times`` between two frames' planes, from one engine call, clipped to [0, 1]."""
    results = engine.interpolate(planes0[None], planes1[None], [float(t) for t in times])
    return {t: np.clip(r[0], 0.0, 1.0) for t, r in zip(times, results, strict=True)}


class _Player:
    """``player=True``: the clip mpv's ``--vf=vapoursynth`` hands a script, at ``factor`` times its rate.

    mpv's clip has no frame count (``INT_MAX / 16`` stands for it), no constant rate and real
    timestamps: each frame's ``_DurationNum``/``_DurationDen`` is its own, and mpv keeps only a
    few frames around the one playing. So output frame ``k`` reads source frames ``k // factor``
    and the next one only (a seek, or any request, decodes nothing else), is at ``t = (k mod
    factor) / factor`` between them, and lasts its source frame's duration divided by
    ``factor``; ``_AbsoluteTime``, where the source has it, advances by as much. Cuts are those
    the frames' properties name (``misc.SCDetect`` before this filter), and a repeated frame is
    copied; the detector's look-ahead window and ``dedup`` would need frames mpv no longer holds,
    so they are not offered here.
    """

    def __init__(self, clip: vs.VideoNode, options: VideoOptions, engine: Engine | EngineSpec) -> None:
        import vapoursynth as vs

        if not isinstance(clip, vs.VideoNode) or clip.format is None or clip.format.id not in (vs.RGBS, vs.RGBH):
            raise InputError("player=True takes an RGBS or RGBH clip of one size: convert mpv's video_in first")
        if options.fps is not None or options.dedup:
            raise InputError("player=True takes a factor; fps_num and dedup need frames mpv no longer holds")
        self.clip, self.factor = clip, options.factor or 2
        if not 2 <= self.factor <= 16:
            raise InputError(f"player=True: factor must be from 2 to 16; got {self.factor}")
        self.engine = engine if isinstance(engine, Engine) else engine.build()
        self._pairs = _LRU(_PAIRS_KEPT)

    def output(self, vs) -> vs.VideoNode:
        core, n = vs.core, self.factor
        # mpv's stand-in frame count times the factor must stay a VapourSynth frame count
        sources = min(self.clip.num_frames, (2**31 - 1) // n)
        rate = self.clip.fps * n if self.clip.fps.numerator else Fraction(0, 1)
        blank = core.std.BlankClip(
            self.clip, length=sources * n, fpsnum=rate.numerator, fpsden=rate.denominator, keep=True
        )
        # Interleave of n copies: frame k of it is source frame k // n (and of the shifted one, the next)
        # (with the source's own durations, which _make divides)
        first = core.std.Interleave([self.clip[:sources]] * n, modify_duration=False)
        second = core.std.Interleave([(self.clip[1:] + self.clip[-1])[:sources]] * n, modify_duration=False)
        return core.std.ModifyFrame(blank, [blank, first, second], self._make)

    def _make(self, n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        out, a, b = f[0].copy(), f[1], f[2]
        step = Fraction(n % self.factor, self.factor)
        _write(out, self._image(n // self.factor, a, b, step))
        props = out.props
        for key, value in a.props.items():
            props[key] = value
        source = self._duration(a)
        duration = source / self.factor
        props["_DurationNum"], props["_DurationDen"] = duration.numerator, duration.denominator
        if "_AbsoluteTime" in a.props:
            props["_AbsoluteTime"] = float(a.props["_AbsoluteTime"]) + float(step * source)
        return out

    def _duration(self, frame: vs.VideoFrame) -> Fraction:
        props = frame.props
        if "_DurationNum" in props and "_DurationDen" in props and props["_DurationDen"]:
            return Fraction(int(props["_DurationNum"]), int(props["_DurationDen"]))
        if self.clip.fps.numerator:
            return 1 / Fraction(self.clip.fps.numerator, self.clip.fps.denominator)
        raise ValueError("ifrnet.vapoursynth.interpolate(player=True): a source frame has no _DurationNum/_DurationDen")

    def _image(self, j: int, a: vs.VideoFrame, b: vs.VideoFrame, step: Fraction) -> np.ndarray:
        planes_a = _planes(a)
        if step == 0:
            return planes_a
        planes_b = _planes(b)
        if a.props.get(_NEXT) or b.props.get(_PREV) or np.array_equal(planes_a, planes_b):
            return planes_a if step < Fraction(1, 2) else planes_b  # a cut or a repeat: never a blend
        times = [Fraction(i, self.factor) for i in range(1, self.factor)]
        return self._pairs.get(j, lambda: _between(self.engine, planes_a, planes_b, times))[step]


class Segment(NamedTuple):
    """Source frames ``a`` < ``b`` and the output frames between them (``FrameMap.steps(a, b)``):
    made by the network for motion, else a copy of ``a`` before t = 1/2 and of ``far`` from it."""

    a: int
    b: int
    change: Change
    far: int


class _LRU:
    """A small thread-safe map that forgets its oldest entries; ``get`` computes what is missing
    once, however many threads ask for it at the same time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()
        self.busy: dict[Any, threading.Event] = {}

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        while True:
            with self.lock:
                if key in self.items:
                    self.items.move_to_end(key)
                    return self.items[key]
                waiting = self.busy.get(key)
                if waiting is None:
                    self.busy[key] = threading.Event()
                    break
            waiting.wait()
        try:
            value = make()
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
            return value
        finally:
            with self.lock:
                self.busy.pop(key).set()


class _Interpolation:
    """One ``interpolate`` call: the clip, its time map, the engine and what is kept between requests."""

    def __init__(self, clip: vs.VideoNode, options: VideoOptions, engine: Engine | EngineSpec) -> None:
        import vapoursynth as vs

        if not isinstance(clip, vs.VideoNode):
            raise InputError(f"clip must be a VapourSynth VideoNode; got {type(clip).__name__}")
        fmt = clip.format
        if fmt is None or clip.width == 0 or clip.height == 0:
            raise InputError("the clip changes format or size between frames; give it one (resize) first")
        if fmt.id not in (vs.RGBS, vs.RGBH):
            conversion = "core.resize.Bicubic(clip, format=vs.RGBS" + (
                ', matrix_in_s="709")' if fmt.color_family == vs.YUV else ")"
            )
            raise InputError(f"the clip is {fmt.name}; IFRNet takes RGBS or RGBH: convert with {conversion}")
        if clip.fps.numerator == 0:
            raise InputError("the clip has no constant frame rate (fps 0/1); set one with core.std.AssumeFPS")
        factor, fps = options.factor or (None if options.fps is not None else 2), options.fps
        rate = Fraction(clip.fps.numerator, clip.fps.denominator)
        options.rates(rate)  # the command line's checks: one rate option, --fps at most MAX_FACTOR a frame
        self.clip = clip
        self.half = fmt.id == vs.RGBH
        self.rate = rate
        self.out_rate = fps if fps is not None else rate * factor
        self.map = FrameMap(clip.num_frames, rate, factor=factor, sample_rate=fps)
        self.threshold = options.scene_threshold
        self.dedup = options.dedup
        self.dedup_tolerance = options.dedup_tolerance
        self.engine = engine if isinstance(engine, Engine) else engine.build()
        self._frames = _LRU(_FRAMES_KEPT)
        self._thumbs = _LRU(_THUMBS_KEPT)
        self._measures = _LRU(_THUMBS_KEPT)
        self._pairs = _LRU(_PAIRS_KEPT)
        self._located = _LRU(_THUMBS_KEPT)
        self._looped = _LRU(_LOOPED_KEPT)
        #: the source frames VapourSynth delivered for the output frame this thread is making
        self._delivered = threading.local()

    # -- the output clip --

    def output(self, vs) -> vs.VideoNode:
        length = len(self.map)
        if length > 2**31 - 1:
            raise InputError(f"the output would have {length} frames, more than VapourSynth allows")
        out = self.out_rate
        blank = vs.core.std.BlankClip(self.clip, length=length, fpsnum=out.numerator, fpsden=out.denominator, keep=True)
        # one clip per offset from the output frame's source frame, whose frame k is that source
        # frame: VapourSynth requests them (prefetched, in parallel) before _make runs, so the
        # pair and the neighbours the scene rules judge arrive as frames, not get_frame calls
        feeds = [vs.core.std.FrameEval(blank, functools.partial(self._source_node, d)) for d in _OFFSETS]
        return vs.core.std.ModifyFrame(blank, [blank, *feeds], self._make)

    def _source_node(self, offset: int, n: int) -> vs.VideoNode:
        """A clip whose frame ``n`` is the source frame ``offset`` from output frame ``n``'s own
        (clamped to the clip): that one frame, looped."""
        j = min(max(self.map.source_of(n) + offset, 0), self.clip.num_frames - 1)
        return self._looped.get(j, lambda: self.clip[j].std.Loop(times=len(self.map)))

    def _make(self, n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        base, last = self.map.source_of(n), self.clip.num_frames - 1
        self._delivered.frames = {min(max(base + d, 0), last): frame for d, frame in zip(_OFFSETS, f[1:], strict=True)}
        try:
            return self._made(n, f[0])
        finally:
            self._delivered.frames = {}

    def _made(self, n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        image, props_from = self.frame(n)
        frame = f.copy()
        _write(frame, image)
        props = frame.props
        source = self._frame(props_from)[1]
        for key in source:  # (the blank frame has no scene-change props of its own)
            if key not in (_NEXT, _PREV):
                props[key] = source[key]
        nxt, prev = self.cut_marks(n)
        if nxt:
            props[_NEXT] = 1
        if prev:
            props[_PREV] = 1
        props["_DurationNum"], props["_DurationDen"] = self.out_rate.denominator, self.out_rate.numerator
        return frame

    # -- what each output frame shows --

    def frame(self, k: int) -> tuple[np.ndarray, int]:
        """Output frame ``k`` as float planes ``(3, H, W)`` in [0, 1], and the source frame whose
        properties it carries."""
        seg, step = self._locate(k)
        if step.t == 0:
            return self._frame(seg.a)[0], seg.a
        if seg.change is Change.MOTION:
            return self._predicted(seg.a, seg.b, step), seg.a
        # a cut or a repeat: the nearer source frame, never a blend of two shots
        shown = seg.a if step.t < Fraction(1, 2) else seg.far
        return self._frame(shown)[0], shown

    def _locate(self, k: int) -> tuple[Segment, Step]:
        """Output frame ``k``'s segment and step; kept, since a frame's neighbours ask for it too (cut marks)."""

        def make() -> tuple[Segment, Step]:
            seg = self.segment(self.map.source_of(k))
            return seg, next(s for s in self.map.steps(seg.a, seg.b) if s.index == k)

        return self._located.get(k, make)

    def segment(self, j: int) -> Segment:
        """The source frames around source position ``j`` and what lies between them, as the
        video pipeline groups them (``b`` is ``len(clip)`` at the end)."""
        n = self.clip.num_frames
        if not self.dedup:
            if j == n - 1:
                return Segment(j, n, Change.DUPLICATE, j)
            return Segment(j, j + 1, self.change(j), j + 1)
        a = j
        while a > 0 and not self.kept(a):
            a -= 1
        b = j + 1
        while b < n and not self.kept(b):
            b += 1
        if b == n:  # held copies at the end: the last drawing lasts until the last frame ends
            return Segment(a, n, Change.DUPLICATE, a)
        first, last, change = next(span for span in dedup_spans(a, b - 1, b, self.change(b - 1)) if j < span[1])
        return Segment(first, last, change, first if change is Change.DUPLICATE else last)

    def kept(self, j: int) -> bool:
        """With dedup: whether source frame ``j`` is a new drawing (or starts a shot)."""
        if j == 0:
            return True
        return not is_held_copy(self.change(j - 1), self._thumb(j - 1), self._thumb(j), self.dedup_tolerance)

    def change(self, i: int) -> Change:
        """What lies between source frames ``i`` and ``i + 1`` (the rule of ``SceneDetector``):
        a cut the frames' properties name, a repeat, a cut the detector finds, or motion."""
        props_a, props_b = self._frame(i)[1], self._frame(i + 1)[1]
        measures = self._measure(i)
        if _NEXT in props_a or _PREV in props_b:  # a detector ran before us: its word holds
            if props_a.get(_NEXT) or props_b.get(_PREV):
                return Change.CUT
            return Change.DUPLICATE if measures.repeat else Change.MOTION
        if measures.repeat:
            return Change.DUPLICATE
        if self.threshold is not None:
            lo, hi = max(0, i - CUT_LOOKAHEAD), min(self.clip.num_frames - 2, i + CUT_LOOKAHEAD)
            around = [self._measure(p) for p in range(lo, hi + 1)]
            scores, changes, still = zip(*((m.score, m.change, m.still) for m in around), strict=True)
            if is_cut(scores, changes, still, i - lo, self.threshold):
                return Change.CUT
        return Change.MOTION

    def cut_marks(self, k: int) -> tuple[bool, bool]:
        """(``_SceneChangeNext``, ``_SceneChangePrev``) of output frame ``k``: whether a cut lies
        between it and the next (previous) output frame."""

        def crosses(k0: int, k1: int) -> bool:
            # a cut between source frames i and i + 1 lies between two output frames when the first
            # shows the source at or before i and the second at or after i + 1
            if k0 < 0 or k1 >= len(self.map):
                return False
            lo, hi = self._position(k0), self._position(k1)
            pairs = range(math.ceil(lo), min(math.floor(hi), self.map.frames - 1))
            return any(self.change(i) is Change.CUT for i in pairs)

        return crosses(k, k + 1), crosses(k - 1, k)

    def _position(self, k: int) -> Fraction:
        """Where in the source output frame ``k`` lies, in frames (the frame shown, for a copy)."""
        seg, step = self._locate(k)
        if step.t == 0:
            return Fraction(seg.a)
        if seg.change is Change.MOTION:
            return seg.a + step.t * (seg.b - seg.a)
        return Fraction(seg.a if step.t < Fraction(1, 2) else seg.far)

    # -- frames, their measures and the network --

    def _frame(self, j: int) -> tuple[np.ndarray, dict]:
        """Source frame ``j``: float32 planes ``(3, H, W)`` and its properties."""

        def read() -> tuple[np.ndarray, dict]:
            # delivered by VapourSynth's requests; fetched here only beyond them (a drawing held
            # longer than the window, with dedup)
            frame = getattr(self._delivered, "frames", {}).get(j)
            if frame is None:
                frame = self.clip.get_frame(j)
            return _planes(frame), dict(frame.props)

        return self._frames.get(j, read)

    def _image8(self, j: int) -> np.ndarray:
        """Source frame ``j`` as 8-bit RGB ``(H, W, 3)``: what the scene rules judge, as on the command line."""
        planes = self._frame(j)[0]
        return np.rint(np.clip(planes.transpose(1, 2, 0), 0.0, 1.0) * 255).astype(np.uint8)

    def _thumb(self, j: int) -> Thumbnail:
        return self._thumbs.get(j, lambda: Thumbnail.of(self._image8(j)))

    def _measure(self, i: int) -> PairMeasures:
        def make() -> PairMeasures:
            return measure_pair(self._image8(i), self._image8(i + 1), self._thumb(i), self._thumb(i + 1))

        return self._measures.get(i, make)

    def _predicted(self, a: int, b: int, step: Step) -> np.ndarray:
        """The network's frame at ``step`` between source frames ``a`` and ``b``; the other new
        frames of the pair are made in the same call when there are few."""
        wanted = [s.t for s in self.map.steps(a, b) if s.t != 0]
        times = tuple(wanted) if len(wanted) <= PAIR_BATCH else (step.t,)

        def make() -> dict[Fraction, np.ndarray]:
            return _between(self.engine, self._frame(a)[0], self._frame(b)[0], times)

        return self._pairs.get((a, b, times), make)[step.t]
