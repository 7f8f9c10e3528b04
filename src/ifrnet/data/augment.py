"""Training augmentations (``docs/IFRNET.md`` section 5) and the per-item pipeline every dataset shares.

The augmentations are pure functions on what a dataset decodes: a list of uint8 ``(H, W, 3)`` RGB
frames (a triplet ``[img0, imgt, img1]``), an optional float32 ``(H, W, 4)`` flow label
``[u0, v0, u1, v1]`` (flow from imgt to img0, then to img1, in pixels, x first) and the time t of
imgt. Each geometric change rewrites the flow label so that it still warps the changed frames:
``img0(x + u0, y + v0) ≈ imgt(x, y)`` holds before and after.

:class:`Augment` applies them in the spec's order with the spec's probabilities.
:class:`TripletDataset` is the base of the datasets: it derives each item's randomness from
(seed, epoch, index), replaces corrupt samples when asked to, runs the augmentation and the
optional on-the-fly flow estimator, and builds the :class:`~ifrnet.data.types.Sample`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..errors import InputError
from .types import FlowEstimator, Sample, to_tensor

log = logging.getLogger("ifrnet.data")

Frames = list[np.ndarray]

# Sign and channel bookkeeping of the flow label [u0, v0, u1, v1].
_NEGATE_U = np.array([-1.0, 1.0, -1.0, 1.0], np.float32)
_NEGATE_V = np.array([1.0, -1.0, 1.0, -1.0], np.float32)
_SWAP_UV = [1, 0, 3, 2]
_SWAP_PAIRS = [2, 3, 0, 1]

#: How many other samples ``skip_bad`` tries before giving up on an item.
MAX_REPLACEMENTS = 16


# -- augmentations: pure functions --------------------------------------------------------------------


def _resize2x(stack: np.ndarray) -> np.ndarray:
    """Bilinear x2 of a float32 ``(H, W, C)`` array, as ``F.interpolate`` does (``align_corners=False``)."""
    x = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    y = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return y[0].permute(1, 2, 0).numpy()


def upscale2x(frames: Sequence[np.ndarray], flow: np.ndarray | None) -> tuple[Frames, np.ndarray | None]:
    """Bilinear x2 upscale of every frame and of the flow; flow values double, as pixels got twice as small."""
    stacked = np.concatenate([np.asarray(f, np.float32) for f in frames], axis=2)
    big = np.clip(np.rint(_resize2x(stacked)), 0, 255).astype(np.uint8)
    out = [np.ascontiguousarray(big[:, :, 3 * i : 3 * i + 3]) for i in range(len(frames))]
    return out, None if flow is None else _resize2x(flow) * np.float32(2.0)


def crop(
    frames: Sequence[np.ndarray], flow: np.ndarray | None, top: int, left: int, height: int, width: int
) -> tuple[Frames, np.ndarray | None]:
    """The same ``height`` x ``width`` window at (``top``, ``left``) of every frame and of the flow.

    Flow values need no change: a crop moves both ends of every motion vector alike.
    """
    rows, cols = slice(top, top + height), slice(left, left + width)
    return [f[rows, cols] for f in frames], None if flow is None else flow[rows, cols]


def random_crop(
    frames: Sequence[np.ndarray], flow: np.ndarray | None, size: tuple[int, int], rng: np.random.Generator
) -> tuple[Frames, np.ndarray | None]:
    """A uniformly placed ``size`` = (h, w) window, the same for all frames and the flow."""
    h, w = frames[0].shape[:2]
    ch, cw = size
    if ch > h or cw > w:
        raise InputError(f"frames of {w}x{h} are smaller than the {cw}x{ch} training crop; use a smaller crop")
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return crop(frames, flow, top, left, ch, cw)


def _input_change(frames: Sequence[np.ndarray]) -> float:
    """Mean absolute difference of the two inputs (first and last frame): how much moves in a crop."""
    return float(np.abs(frames[0].astype(np.int16) - frames[-1].astype(np.int16)).mean())


def motion_crop(
    frames: Sequence[np.ndarray],
    flow: np.ndarray | None,
    size: tuple[int, int],
    rng: np.random.Generator,
    tries: int,
) -> tuple[Frames, np.ndarray | None]:
    """Of ``tries`` uniformly placed crops, the one whose inputs differ most.

    Footage from a still camera (surveillance, a tripod) is mostly static background: a uniform
    crop often holds nothing that moves, and the loss then teaches blending. Preferring the crop
    that changes most puts the moving subject in most batches; the placement stays random, so
    static surroundings still appear around it. ``tries=1`` is :func:`random_crop`.
    """
    best: tuple[Frames, np.ndarray | None] | None = None
    best_change = -1.0
    for _ in range(tries):
        candidate = random_crop(frames, flow, size, rng)
        change = _input_change(candidate[0])
        if change > best_change:
            best, best_change = candidate, change
    assert best is not None
    return best


def rgb_to_bgr(frames: Sequence[np.ndarray]) -> Frames:
    """Reverse the colour channels (a colour augmentation; motion, hence the flow, is unchanged)."""
    return [f[:, :, ::-1] for f in frames]


def flip_vertical(frames: Sequence[np.ndarray], flow: np.ndarray | None) -> tuple[Frames, np.ndarray | None]:
    """Upside down: rows reversed, so vertical motion changes sign (v0, v1 negated)."""
    return [f[::-1] for f in frames], None if flow is None else flow[::-1] * _NEGATE_V


def flip_horizontal(frames: Sequence[np.ndarray], flow: np.ndarray | None) -> tuple[Frames, np.ndarray | None]:
    """Mirrored: columns reversed, so horizontal motion changes sign (u0, u1 negated)."""
    return [f[:, ::-1] for f in frames], None if flow is None else flow[:, ::-1] * _NEGATE_U


def transpose(frames: Sequence[np.ndarray], flow: np.ndarray | None) -> tuple[Frames, np.ndarray | None]:
    """Swap the image axes: x becomes y, so u and v swap within each flow pair."""
    return (
        [f.transpose(1, 0, 2) for f in frames],
        None if flow is None else flow.transpose(1, 0, 2)[:, :, _SWAP_UV],
    )


def swap_inputs(
    frames: Sequence[np.ndarray], flow: np.ndarray | None, t: float
) -> tuple[Frames, np.ndarray | None, float]:
    """Exchange img0 and img1 of a triplet ``[img0, imgt, img1]``: the target now sits at ``1 - t``.

    The label's two flows trade places unchanged: they still start at imgt.
    """
    if len(frames) != 3:
        raise InputError(f"swap_inputs takes a triplet [img0, imgt, img1]; got {len(frames)} frames")
    return [frames[2], frames[1], frames[0]], None if flow is None else flow[:, :, _SWAP_PAIRS], 1.0 - t


def reverse_time(
    frames: Sequence[np.ndarray], flow: np.ndarray | None, t: float
) -> tuple[Frames, np.ndarray | None, float]:
    """Play a window backwards: frame order reversed, t -> 1 - t, the label's two flows trade places.

    For window datasets (GoPro) the spec reverses all frames of the window; the triplet drawn from
    it ends up exactly as after :func:`swap_inputs`, which is what this computes on a triplet.
    """
    if len(frames) < 2:
        raise InputError(f"reverse_time needs at least two frames; got {len(frames)}")
    return list(frames[::-1]), None if flow is None else flow[:, :, _SWAP_PAIRS], 1.0 - t


# -- the recipe --------------------------------------------------------------------------------------


class Augmented(NamedTuple):
    """What :class:`Augment` returns: contiguous uint8 frames, float32 flow or ``None``, and t."""

    frames: Frames
    flow: np.ndarray | None
    t: float


def _probability(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise InputError(f"augmentation probability {name} must lie in [0, 1]; got {value}")
    return float(value)


def _tries(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"motion_tries must be a positive integer (1: uniform crops); got {value!r}")
    return value


class Augment:
    """The spec's training augmentation, applied in the spec's order.

    x2 bilinear upscale (``p_upscale``), random crop to ``crop`` = (h, w) (the most-changing of
    ``motion_tries`` placements, see :func:`motion_crop`; 1, the spec's uniform crop, by default), RGB->BGR (``p_bgr``),
    vertical flip (``p_vflip``), horizontal flip (``p_hflip``), transpose (``p_transpose``), swap
    of the inputs (``p_swap``), and for window datasets time reversal (``p_reverse``).

    Two departures keep every sample of a run the same size, which batching needs: the upscale
    is applied only when there is a crop to bring the frames back to size, and the transpose only
    to square frames. Every coin is drawn whether or not it is used, so the random stream, and with
    it the data a resumed run sees, does not depend on the probabilities' outcomes.

    ``rng`` (a Generator or a seed) serves calls that pass none; datasets pass their own per-item
    generator so that an item's augmentation depends only on (seed, epoch, index).
    """

    def __init__(
        self,
        rng: np.random.Generator | int | None = None,
        crop: tuple[int, int] | int | None = None,
        *,
        p_upscale: float = 0.1,
        p_bgr: float = 0.5,
        p_vflip: float = 0.3,
        p_hflip: float = 0.5,
        p_transpose: float = 0.05,
        p_swap: float = 0.5,
        p_reverse: float = 0.5,
        motion_tries: int = 1,
    ) -> None:
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        if isinstance(crop, int):
            crop = (crop, crop)
        if crop is not None:
            if len(crop) != 2 or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in crop):
                raise InputError(f"crop must be a (height, width) pair of positive integers; got {crop!r}")
            crop = (int(crop[0]), int(crop[1]))
        self.crop = crop
        self.p_upscale = _probability("p_upscale", p_upscale)
        self.p_bgr = _probability("p_bgr", p_bgr)
        self.p_vflip = _probability("p_vflip", p_vflip)
        self.p_hflip = _probability("p_hflip", p_hflip)
        self.p_transpose = _probability("p_transpose", p_transpose)
        self.p_swap = _probability("p_swap", p_swap)
        self.p_reverse = _probability("p_reverse", p_reverse)
        self.motion_tries = _tries(motion_tries)

    def with_motion_tries(self, tries: int) -> Augment:
        """A copy of this recipe whose crop is the most-changing of ``tries`` placements."""
        changed = copy.copy(self)
        changed.motion_tries = _tries(tries)
        return changed

    def __repr__(self) -> str:
        return (
            f"Augment(crop={self.crop}, p_upscale={self.p_upscale}, p_bgr={self.p_bgr}, p_vflip={self.p_vflip}, "
            f"p_hflip={self.p_hflip}, p_transpose={self.p_transpose}, p_swap={self.p_swap}, "
            f"p_reverse={self.p_reverse}, motion_tries={self.motion_tries})"
        )

    def __call__(
        self,
        frames: Sequence[np.ndarray],
        flow: np.ndarray | None = None,
        t: float = 0.5,
        rng: np.random.Generator | None = None,
        time_reversal: bool = False,
    ) -> Augmented:
        """Augment a triplet ``[img0, imgt, img1]`` with its flow label and time.

        ``time_reversal`` enables the window datasets' extra reversal step.
        """
        rng = self.rng if rng is None else rng
        frames = list(frames)
        coins = rng.random(7)
        if self.crop is not None:
            if coins[0] < self.p_upscale:
                frames, flow = upscale2x(frames, flow)
            frames, flow = motion_crop(frames, flow, self.crop, rng, self.motion_tries)
        if coins[1] < self.p_bgr:
            frames = rgb_to_bgr(frames)
        if coins[2] < self.p_vflip:
            frames, flow = flip_vertical(frames, flow)
        if coins[3] < self.p_hflip:
            frames, flow = flip_horizontal(frames, flow)
        if coins[4] < self.p_transpose and frames[0].shape[0] == frames[0].shape[1]:
            frames, flow = transpose(frames, flow)
        if coins[5] < self.p_swap:
            frames, flow, t = swap_inputs(frames, flow, t)
        if time_reversal and coins[6] < self.p_reverse:
            frames, flow, t = reverse_time(frames, flow, t)
        frames = [np.ascontiguousarray(f) for f in frames]
        if flow is not None:
            flow = np.ascontiguousarray(flow, dtype=np.float32)
        return Augmented(frames, flow, float(t))


# -- the per-item pipeline shared by the datasets --------------------------------------------------------


def item_rng(seed: int | None, epoch: int, index: int) -> np.random.Generator:
    """The generator for one item: a pure function of (seed, epoch, index).

    Without a seed the entropy comes from NumPy's global state, which the trainer reseeds from
    (seed, epoch, index) before every item and DataLoader seeds differently in every worker:
    deterministic under the trainer, still varied in a bare DataLoader.
    """
    if seed is None:
        return np.random.default_rng([int(np.random.randint(0, 2**31 - 1)), index])
    return np.random.default_rng([seed, epoch, index])


def estimate_flow(estimator: FlowEstimator, frames: Sequence[np.ndarray]) -> np.ndarray:
    """Flow label ``(H, W, 4)`` of a triplet from an estimator: ``estimator(imgt, img0)``, ``estimator(imgt, img1)``."""
    img0, imgt, img1 = (np.ascontiguousarray(f) for f in frames)
    h, w = imgt.shape[:2]
    parts = []
    for source in (img0, img1):
        part = np.asarray(estimator(imgt, source), dtype=np.float32)
        if part.shape != (h, w, 2):
            raise InputError(
                f"the flow estimator returned shape {part.shape} for {w}x{h} frames; expected ({h}, {w}, 2)"
            )
        parts.append(part)
    return np.concatenate(parts, axis=2)


def to_sample(frames: Sequence[np.ndarray], flow: np.ndarray | None, t: float) -> Sample:
    """uint8 triplet, ``(H, W, 4)`` flow and t -> :class:`Sample` (float32 CHW tensors)."""
    img0, imgt, img1 = (to_tensor(f) for f in frames)
    flow_t = None if flow is None else torch.from_numpy(np.ascontiguousarray(flow.transpose(2, 0, 1), np.float32))
    return Sample(img0, imgt, img1, flow_t, torch.full((1, 1, 1), float(t), dtype=torch.float32))


class TripletDataset(Dataset):
    """Base of the training datasets: subclasses implement ``__len__`` and ``_load``.

    ``_load(index, rng)`` returns ``([img0, imgt, img1] uint8, flow (H, W, 4) or None, t)`` and
    raises :class:`InputError` for a corrupt or missing sample. With ``skip_bad`` such a sample
    is replaced by another one (chosen by the item's generator, so still deterministic) and a
    warning is logged; otherwise the error propagates, naming the file.

    ``flow_estimator`` labels flow on the fly, on the final (augmented, cropped) frames so that the
    labels always match what the network sees; this costs an estimator call per item and sample.
    """

    #: Window datasets (GoPro, Adobe240, own footage) add the spec's time reversal.
    time_reversal = False

    def __init__(
        self,
        augment: Augment | None = None,
        seed: int | None = None,
        skip_bad: bool = False,
        flow_estimator: FlowEstimator | None = None,
    ) -> None:
        self.augment = augment
        self.seed = seed
        self.skip_bad = bool(skip_bad)
        self.flow_estimator = flow_estimator
        self.epoch = 0

    def __len__(self) -> int:
        raise NotImplementedError

    def _load(self, index: int, rng: np.random.Generator) -> tuple[Frames, np.ndarray | None, float]:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Vary the per-item randomness by epoch (when a seed is set)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> Sample:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} samples")
        rng = item_rng(self.seed, self.epoch, index)
        frames, flow, t = self._load_robust(index, rng)
        if self.augment is not None:
            frames, flow, t = self.augment(frames, flow, t, rng=rng, time_reversal=self.time_reversal)
        if self.flow_estimator is not None:
            flow = estimate_flow(self.flow_estimator, frames)
        return to_sample(frames, flow, t)

    def _load_robust(self, index: int, rng: np.random.Generator) -> tuple[Frames, np.ndarray | None, float]:
        try:
            return self._load(index, rng)
        except InputError as exc:
            if not self.skip_bad:
                raise
            first = exc
        n = len(self)
        bad, error = index, first
        # distinct candidates in a random order: no sample is tried twice, so when a good one is
        # among the first MAX_REPLACEMENTS others it is found
        candidates = [int(i) for i in rng.permutation(n) if i != index][:MAX_REPLACEMENTS]
        for other in candidates:
            log.warning("skipping bad sample %d (%s); using sample %d instead", bad, error, other)
            try:
                return self._load(other, rng)
            except InputError as exc:
                bad, error = other, exc
        raise InputError(
            f"sample {index} is unreadable ({first}) and so were the {min(MAX_REPLACEMENTS, n - 1)} tried instead"
        ) from None
