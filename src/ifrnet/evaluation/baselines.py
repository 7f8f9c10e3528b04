"""Classical frame-interpolation baselines, to put IFRNet's scores in context.

Each baseline is an :class:`~ifrnet.evaluation.methods.Method`: two float ``(B, 3, H, W)``
tensors in [0, 1] (the protocols pass B = 1) and a list of times in (0, 1) in, one frame per time
out, same shape, device and dtype. ``scale_factor`` is accepted and ignored: it is a hint for
IFRNet only.

- :class:`RepeatFrame` (``"repeat"``): the nearer input frame, what a player does without
  interpolation; the floor any method must beat.
- :class:`LinearBlend` (``"blend"``): the cross-fade ``(1 - t) img0 + t img1``.
- :class:`DISInterpolation` (``"dis"``): flow-based interpolation with OpenCV's DIS optical
  flow, linear-motion intermediate flows and occlusion-aware blending; needs OpenCV.
- :class:`Minterpolate` (``"minterpolate"``): FFmpeg's motion-compensated ``minterpolate``
  filter through PyAV; its outputs are 8-bit.

:func:`make_baseline` builds one by name.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..models.ops import warp
from ..times import check_times
from .methods import Method


def _check_inputs(img0: Tensor, img1: Tensor) -> None:
    for name, img in (("img0", img0), ("img1", img1)):
        if not isinstance(img, Tensor) or img.dim() != 4 or img.shape[1] != 3 or not img.is_floating_point():
            desc = f"{img.dtype} tensor of shape {tuple(img.shape)}" if isinstance(img, Tensor) else type(img).__name__
            raise InputError(f"{name} must be a float (B, 3, H, W) tensor in [0, 1]; got a {desc}.")
    if img0.shape != img1.shape:
        raise InputError(f"img0 and img1 must have the same shape; got {tuple(img0.shape)} and {tuple(img1.shape)}.")


def _to_uint8(img: Tensor) -> np.ndarray:
    """One (3, H, W) float image in [0, 1] as a contiguous uint8 (H, W, 3) RGB array."""
    arr = (img.detach().double() * 255.0).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(arr.permute(1, 2, 0).cpu().numpy())


class RepeatFrame:
    """The nearer input frame: ``img0`` for t < 0.5, ``img1`` for t >= 0.5 (sample-and-hold)."""

    name = "repeat"

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        _check_inputs(img0, img1)
        return [(img0 if t < 0.5 else img1).clone() for t in check_times(times)]


class LinearBlend:
    """The cross-fade ``(1 - t) img0 + t img1``: no motion at all, ghosting wherever things move."""

    name = "blend"

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        _check_inputs(img0, img1)
        return [(1.0 - t) * img0 + t * img1 for t in check_times(times)]


def _splat(values: Tensor, displacement: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Forward-splat ``values`` (1, C, H, W) by ``displacement`` (1, 2, H, W, pixels, x then y).

    Every source pixel adds ``weight * values`` to the four pixels around where it lands, with
    bilinear shares; returns the weighted sums (1, C, H, W) and the summed weights (1, 1, H, W),
    so that sums / weights is the weighted average of whatever landed on a pixel.
    """
    _, channels, h, w = values.shape
    ys = torch.arange(h, device=values.device, dtype=values.dtype).view(h, 1)
    xs = torch.arange(w, device=values.device, dtype=values.dtype).view(1, w)
    x, y = xs + displacement[0, 0], ys + displacement[0, 1]
    left, top = torch.floor(x), torch.floor(y)
    weighted = torch.cat([values[0] * weight[0], weight[0]], dim=0).reshape(channels + 1, h * w)
    sums = torch.zeros(channels + 1, h * w, device=values.device, dtype=values.dtype)
    for cx in (left, left + 1):
        for cy in (top, top + 1):
            share = ((1.0 - (x - cx).abs()) * (1.0 - (y - cy).abs())).reshape(-1)
            inside = ((cx >= 0) & (cx <= w - 1) & (cy >= 0) & (cy <= h - 1)).reshape(-1)
            index = (cy * w + cx).reshape(-1)[inside].long()
            sums.index_add_(1, index, (weighted * share)[:, inside])
    sums = sums.reshape(1, channels + 1, h, w)
    return sums[:, :channels], sums[:, channels:]


class DISInterpolation:
    """Classical flow-based interpolation: DIS optical flow projected to time t, occlusion-aware blending.

    1. Flow both ways between the inputs with OpenCV's DIS
       (:class:`~ifrnet.data.pseudo_flow.DISFlow`, on 8-bit greyscale copies): ``F01`` on frame
       0's grid pointing into frame 1, ``F10`` back.
    2. Occlusion by the forward-backward check of Sundaram et al. (2010): a pixel x of frame 0 is
       hidden in frame 1 (``occ0(x) = 1``) when ``|F01(x) + F10(x + F01(x))|^2 > 0.01 (|F01(x)|^2 +
       |F10(x + F01(x))|^2) + 0.5`` or when ``x + F01(x)`` leaves the image; likewise ``occ1``.
       The check also fires where a flow is merely wrong, so a flagged pixel is trusted at
       ``1 - OCCLUSION_DOUBT`` (0.5) rather than not at all; this scored better, both on a
       synthetic scene with occlusions and on real footage, than full distrust.
    3. Flow projection (linear motion): each pixel x of frame 0 is splatted (bilinearly) to where
       it is at time t, ``x + t F01(x)``, carrying the intermediate flows ``F_t0 = -t F01(x)`` and
       ``F_t1 = (1 - t) F01(x)`` and its visibilities (1 in frame 0, ``1 - doubt0(x)`` in frame 1);
       each pixel of frame 1 likewise to ``x + (1 - t) F10(x)`` with ``F_t0 = t F10(x)`` and
       ``F_t1 = -(1 - t) F10(x)``. Where several land on one pixel (a foreground moving over a
       background) their weights decide: ``exp(-20 |I0(x) - I1(x + F01(x))|)`` (mean over
       channels) times the visibility in the other frame, times ``1 - t`` for frame 0's pixels and
       ``t`` for frame 1's, the nearer frame's motion being the more reliable. Pixels nothing lands
       on take Super SloMo's approximation (Jiang et al., 2018), ``F_t0 = -(1 - t) t F01 + t^2 F10``
       and ``F_t1 = (1 - t)^2 F01 - t (1 - t) F10`` evaluated at the pixel itself, fully visible.
    4. Both inputs are backward-warped to time t (:func:`~ifrnet.models.ops.warp`, on the float
       inputs, so nothing is quantised): ``g0 = warp(img0, F_t0)``, ``g1 = warp(img1, F_t1)``.
    5. ``out = (w0 g0 + w1 g1) / (w0 + w1)`` with ``w0 = (1 - t) V0`` and ``w1 = t V1``, V the
       projected visibilities; where both weights vanish, the plain blend ``(1 - t) g0 + t g1``.

    For a pure translation d every step is exact: ``F_t0 = -t d`` and ``F_t1 = (1 - t) d``.
    The two flows are computed once per pair and serve every requested time.
    """

    name = "dis"

    #: How far a pixel the forward-backward check flags is distrusted (1 would ignore it entirely).
    OCCLUSION_DOUBT = 0.5
    #: Sharpness of the photo-consistency weight that settles collisions when splatting.
    PHOTO_SHARPNESS = 20.0
    #: Below this total weight a pixel counts as empty (splatting) or occluded in both frames (blending).
    MIN_WEIGHT = 1e-3

    def __init__(self, preset: str = "medium") -> None:
        # Imported here so that the cheap baselines work without OpenCV; DISFlow checks for it.
        from ..data.pseudo_flow import DISFlow

        self.flow = DISFlow(preset)

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        _check_inputs(img0, img1)
        values = check_times(times)
        x0, x1 = img0.float(), img1.float()
        outputs: list[list[Tensor]] = [[] for _ in values]
        for b in range(x0.shape[0]):
            frames = self._interpolate(x0[b : b + 1], x1[b : b + 1], values)
            for out, frame in zip(outputs, frames, strict=True):
                out.append(frame)
        return [torch.cat(out, dim=0).to(img0.dtype) for out in outputs]

    def _flows(self, img0: Tensor, img1: Tensor) -> tuple[Tensor, Tensor]:
        a, b = _to_uint8(img0[0]), _to_uint8(img1[0])
        f01, f10 = (
            torch.from_numpy(self.flow(p, q)).permute(2, 0, 1)[None].to(img0.device) for p, q in ((a, b), (b, a))
        )
        return f01, f10

    @staticmethod
    def _occlusion(forward: Tensor, backward: Tensor) -> Tensor:
        """1 where a pixel of the frame ``forward`` starts from is hidden in the other frame, else 0."""
        _, _, h, w = forward.shape
        back_at_target = warp(backward, forward)
        mismatch = ((forward + back_at_target) ** 2).sum(dim=1, keepdim=True)
        scale = (forward**2).sum(dim=1, keepdim=True) + (back_at_target**2).sum(dim=1, keepdim=True)
        inconsistent = mismatch > 0.01 * scale + 0.5
        xs = torch.arange(w, device=forward.device, dtype=forward.dtype).view(1, 1, 1, w) + forward[:, 0:1]
        ys = torch.arange(h, device=forward.device, dtype=forward.dtype).view(1, 1, h, 1) + forward[:, 1:2]
        # Pixels that move out of the frame have no counterpart there; warp would clamp them to the border.
        outside = (xs < 0) | (xs > w - 1) | (ys < 0) | (ys > h - 1)
        return (inconsistent | outside).to(forward.dtype)

    def _interpolate(self, img0: Tensor, img1: Tensor, times: list[float]) -> list[Tensor]:
        f01, f10 = self._flows(img0, img1)
        seen0_in1 = 1.0 - self.OCCLUSION_DOUBT * self._occlusion(f01, f10)
        seen1_in0 = 1.0 - self.OCCLUSION_DOUBT * self._occlusion(f10, f01)
        photo0 = torch.exp(-self.PHOTO_SHARPNESS * (img0 - warp(img1, f01)).abs().mean(dim=1, keepdim=True))
        photo1 = torch.exp(-self.PHOTO_SHARPNESS * (img1 - warp(img0, f10)).abs().mean(dim=1, keepdim=True))
        ones = torch.ones_like(seen0_in1)
        frames = []
        for t in times:
            # Channels: F_t0 (2), F_t1 (2), visibility in frame 0, visibility in frame 1.
            from0 = torch.cat([-t * f01, (1.0 - t) * f01, ones, seen0_in1], dim=1)
            from1 = torch.cat([t * f10, -(1.0 - t) * f10, seen1_in0, ones], dim=1)
            sums0, weights0 = _splat(from0, t * f01, (1.0 - t) * photo0 * seen0_in1)
            sums1, weights1 = _splat(from1, (1.0 - t) * f10, t * photo1 * seen1_in0)
            weights = weights0 + weights1
            projected = (sums0 + sums1) / weights.clamp_min(self.MIN_WEIGHT)
            approximate = torch.cat(
                [-(1.0 - t) * t * f01 + t * t * f10, (1.0 - t) ** 2 * f01 - t * (1.0 - t) * f10, ones, ones], dim=1
            )
            fields = torch.where(weights > self.MIN_WEIGHT, projected, approximate)
            ft0, ft1, vis0, vis1 = fields[:, 0:2], fields[:, 2:4], fields[:, 4:5], fields[:, 5:6]
            g0, g1 = warp(img0, ft0), warp(img1, ft1)
            w0, w1 = (1.0 - t) * vis0, t * vis1
            total = w0 + w1
            blended = (w0 * g0 + w1 * g1) / total.clamp_min(self.MIN_WEIGHT)
            frames.append(torch.where(total > self.MIN_WEIGHT, blended, (1.0 - t) * g0 + t * g1))
        return frames


#: minterpolate's settings: motion-compensated interpolation (mci) with adaptive overlapped block
#: motion compensation (aobmc), bidirectional motion estimation and variable-size block motion
#: compensation (vsbmc), the usual high-quality choice. Scene-change detection is off (scd=none):
#: with it on, a pair with much motion or a brightness change counts as a cut and the filter just
#: repeats a frame, which would make this a second "repeat" baseline on exactly the hard cases.
MINTERPOLATE_OPTIONS = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none"
#: The finest output grid :class:`Minterpolate` uses: a time t is produced at the nearest k / n, n <= this.
MINTERPOLATE_MAX_GRID = 64
#: minterpolate refuses frames with a side below this; smaller inputs are edge-padded up to it.
MINTERPOLATE_MIN_SIDE = 32


def _run_minterpolate(frame0: np.ndarray, frame1: np.ndarray, grid: int) -> dict[int, np.ndarray]:
    """All of minterpolate's outputs between two uint8 RGB frames on the grid k / ``grid``, by k.

    The frames go in at 1 frame per second (pts 0 and 1, time base 1/1) and come out at ``grid``
    frames per second, so output k is time k / grid. The filter interpolates between the middle
    two of the four frames it holds and only emits up to the second once a later frame has
    arrived, so frame 1 is pushed a second time (pts 2) as that look-ahead; it duplicates the
    very first frame itself for the look-behind. Its ``yuv444p`` working format (the filter takes
    no RGB) is chosen explicitly so that no chroma is subsampled on the way.
    """
    import av
    import av.filter

    height, width = frame0.shape[:2]
    graph = av.filter.Graph()
    chain = [
        graph.add_buffer(width=width, height=height, format="rgb24", time_base=Fraction(1, 1)),
        graph.add("format", "yuv444p"),
        graph.add("minterpolate", f"fps={grid}:{MINTERPOLATE_OPTIONS}"),
        graph.add("format", "rgb24"),
        graph.add("buffersink"),
    ]
    for upstream, downstream in itertools.pairwise(chain):
        upstream.link_to(downstream)
    graph.configure()
    outputs: dict[int, np.ndarray] = {}
    for pts, array in enumerate((frame0, frame1, frame1)):
        frame = av.VideoFrame.from_ndarray(array, format="rgb24")
        frame.pts = pts
        frame.time_base = Fraction(1, 1)
        graph.push(frame)
        while True:
            try:
                out = graph.pull()
            except (av.BlockingIOError, av.EOFError):
                break
            outputs[int(out.pts)] = out.to_ndarray(format="rgb24")
    return outputs


@functools.cache
def _minterpolate_problem() -> str | None:
    """Why minterpolate cannot be used here, or ``None`` when a trial run works."""
    try:
        import av
        import av.filter
    except ImportError:
        return "PyAV is not installed (pip install av)"
    if "minterpolate" not in av.filter.filters_available:
        return "this PyAV's FFmpeg was built without the minterpolate filter"
    try:
        gen = np.random.default_rng(0)
        a = gen.integers(0, 256, (MINTERPOLATE_MIN_SIDE, MINTERPOLATE_MIN_SIDE, 3), dtype=np.uint8)
        outputs = _run_minterpolate(a, a[::-1].copy(), 2)
    except Exception as exc:  # any failure of the trial means the filter is unusable, whatever the cause
        return f"a trial run of FFmpeg's minterpolate filter failed ({type(exc).__name__}: {exc})"
    if sorted(outputs) != [0, 1, 2]:
        return f"a trial run of FFmpeg's minterpolate filter gave frames {sorted(outputs)} instead of 0, 1 and 2"
    return None


def _grid_groups(times: list[float], max_grid: int) -> dict[int, list[tuple[int, int]]]:
    """Group the times by the output grid that produces them: ``{n: [(index into times, k), ...]}``.

    Each t becomes the nearest fraction k / q with q <= ``max_grid``. If one grid (the least
    common multiple of the q) of at most ``max_grid`` steps holds them all, that is the only
    run; otherwise each q gets its own run, which is still exact for every fraction.
    """
    fractions = [Fraction(t).limit_denominator(max_grid) for t in times]
    common = math.lcm(*(f.denominator for f in fractions))
    groups: dict[int, list[tuple[int, int]]] = {}
    for index, frac in enumerate(fractions):
        n = common if common <= max_grid else frac.denominator
        groups.setdefault(n, []).append((index, frac.numerator * (n // frac.denominator)))
    return groups


class Minterpolate:
    """FFmpeg's motion-compensated ``minterpolate`` filter, run in-process through PyAV.

    Settings are :data:`MINTERPOLATE_OPTIONS` (mci, aobmc, bidirectional motion estimation,
    vsbmc, no scene-cut detection). The pair is fed as a 1 frame-per-second stream and the filter
    asked for n frames per second, which produces every time k / n; see :func:`_run_minterpolate`
    for how two frames are made enough for the filter. A requested t is produced at the nearest
    k / q with q <= ``max_grid`` (64 by default: exact for any t = k/2^m up to 1/64, and at most
    1/(2 * 64) off otherwise; a t very near 0 or 1 may snap to the input frame itself). All times
    of a call share one run when one grid of at most ``max_grid`` steps holds them.

    The outputs are 8-bit (the filter's formats are 8-bit, and the frames pass through an
    RGB -> YUV 4:4:4 -> RGB conversion, about 52 dB on its own), so they are returned
    quantised, unlike the other methods. Frames with a side below 32 pixels, which the filter
    refuses, are edge-padded for it and cropped back.
    """

    name = "minterpolate"

    def __init__(self, max_grid: int = MINTERPOLATE_MAX_GRID) -> None:
        problem = _minterpolate_problem()
        if problem is not None:
            raise InputError(f"the minterpolate baseline is unavailable: {problem}.")
        if isinstance(max_grid, bool) or not isinstance(max_grid, int) or max_grid < 2:
            raise InputError(f"max_grid must be an integer of at least 2; got {max_grid!r}.")
        self.max_grid = max_grid

    @classmethod
    def available(cls) -> bool:
        """Whether FFmpeg's minterpolate filter works through PyAV here (checked once, by a trial run)."""
        return _minterpolate_problem() is None

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why :meth:`available` is False, as a phrase for a notice; ``None`` when it is available."""
        return _minterpolate_problem()

    def __call__(self, img0: Tensor, img1: Tensor, times: Sequence[float]) -> list[Tensor]:
        _check_inputs(img0, img1)
        values = check_times(times)
        groups = _grid_groups(values, self.max_grid)
        _, _, height, width = img0.shape
        pad_h, pad_w = max(0, MINTERPOLATE_MIN_SIDE - height), max(0, MINTERPOLATE_MIN_SIDE - width)
        outputs: list[list[Tensor]] = [[] for _ in values]
        for b in range(img0.shape[0]):
            a0, a1 = (np.pad(_to_uint8(img[b]), ((0, pad_h), (0, pad_w), (0, 0)), mode="edge") for img in (img0, img1))
            for n, members in groups.items():
                frames = _run_minterpolate(a0, a1, n)
                for index, k in members:
                    frame = torch.from_numpy(frames[k][:height, :width].copy()).permute(2, 0, 1)
                    outputs[index].append(frame[None].to(img0.device, img0.dtype) / 255.0)
        return [torch.cat(out, dim=0) for out in outputs]


#: The baselines by name.
BASELINES: dict[str, type[Any]] = {
    RepeatFrame.name: RepeatFrame,
    LinearBlend.name: LinearBlend,
    DISInterpolation.name: DISInterpolation,
    Minterpolate.name: Minterpolate,
}


def make_baseline(name: str) -> Method:
    """Build the baseline called ``name`` (a key of :data:`BASELINES`) with its default settings.

    Raises :class:`InputError` for an unknown name, and when the baseline cannot run here
    (OpenCV missing for ``"dis"``, the minterpolate filter unusable for ``"minterpolate"``).
    """
    cls = BASELINES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InputError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}.")
    return cls()
