"""Scoring on real footage: hold out frames of a clip, rebuild them, compare with the originals.

For ``factor`` N the clip is cut into windows of N + 1 frames starting every N frames; frames 0
and N of each window are the inputs, the N - 1 frames between them are the held-out targets at
t = k/N (every other frame at 2x, 7 of every 8 at 8x). Windows that contain a scene cut are
skipped: no method could rebuild a frame of another shot. The clip is decoded once into the
same frame cache training uses, so any length works in bounded memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.folder import cache_source
from ..data.types import to_tensor
from ..errors import InputError
from ..metrics import psnr
from ..video.scenes import DEFAULT_SCENE_THRESHOLD, check_scene_threshold
from .protocols import BenchmarkProtocol, CropBox, EvalSample, _Entry

if TYPE_CHECKING:
    from ..backends.torch import Interpolator


class FootageProtocol(BenchmarkProtocol):
    """Held-out frames of one video file (or image sequence) as evaluation samples."""

    name = "video"
    title = "Real footage"
    layout = "a video file or a folder of frames"

    def __init__(
        self,
        clip: str | os.PathLike,
        *,
        factor: int = 2,
        start: int = 0,
        limit: int | None = None,
        scene_threshold: float | None = DEFAULT_SCENE_THRESHOLD,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        path = Path(clip)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if not isinstance(factor, int) or factor < 2:
            raise InputError(f"--factor must be an integer >= 2; got {factor}")
        check_scene_threshold(scene_threshold)  # before the clip is decoded
        self.root = path
        self.split = f"{factor}x"
        self.factor = factor
        cache = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "ifrnet_eval_cache"
        self.source = cache_source(path, path.name, cache)
        self.skipped_cuts = 0
        self._entries = []
        cuts = self.source.breaks(scene_threshold) & ~np.asarray(self.source.duplicates, dtype=bool)
        for first in range(start, self.source.frames - factor, factor):
            if cuts[first : first + factor].any():
                self.skipped_cuts += 1
                continue
            times = tuple(k / factor for k in range(1, factor))
            self._entries.append(_Entry(f"{path.stem}/frame_{first:06d}", (), times))
            if limit is not None and len(self._entries) >= limit:
                break
        if not self._entries:
            raise InputError(
                f"{path}: no window of {factor + 1} frames without a scene cut from frame {start} "
                f"({self.source.frames} frames decoded)"
            )

    @property
    def label(self) -> str:
        return f"{self.root.name} ({self.factor}x)"

    def __getitem__(self, index: int) -> EvalSample:  # type: ignore[override]
        entry = self._entries[index]
        first = int(entry.name.rsplit("_", 1)[1])
        frames = np.load(self.source.cache, mmap_mode="r")[first : first + self.factor + 1]
        tensors = [to_tensor(np.array(f)).unsqueeze(0) for f in frames]
        h, w = tensors[0].shape[-2:]
        targets = list(zip(entry.times, tensors[1:-1], strict=True))
        return EvalSample(entry.name, tensors[0], tensors[-1], targets, CropBox(0, 0, h, w))


def honours_t(
    interpolator: Interpolator,
    clip: str | os.PathLike,
    *,
    windows: int = 20,
    cache_dir: str | os.PathLike | None = None,
) -> dict[float, list[float]]:
    """Per window, how many dB predicting t = 1/4 and t = 3/4 directly beats reusing the t = 1/2 frame.

    The clip is cut as :class:`FootageProtocol` cuts it at factor 4 (the first ``windows`` windows
    without a scene cut; the whole clip is decoded once into its frame cache, ``cache_dir`` or
    ``$TMPDIR/ifrnet_eval_cache``): between frames 4k and 4k + 4, frame 4k + 1 is the truth at
    t = 1/4 and 4k + 3 at t = 3/4. Each gain is ``PSNR(pred(t), truth(t)) - PSNR(pred(1/2),
    truth(t))`` in dB (:func:`ifrnet.metrics.psnr` on [0, 1] floats). A network that takes t but
    ignores it scores about 0; weights known to ignore t (``uses_time`` False, the released
    Vimeo90K ones) reach 1/4 by bisection through the interpolator and score above 0 too.
    Returns ``{0.25: [gain per window], 0.75: [...]}``. Raises
    :class:`~ifrnet.errors.InputError` as :class:`FootageProtocol` does.
    """
    protocol = FootageProtocol(clip, factor=4, limit=windows, cache_dir=cache_dir)
    quarters = (0.25, 0.75)
    gains: dict[float, list[float]] = {t: [] for t in quarters}
    for sample in protocol:
        targets = dict(sample.targets)
        *predicted, half = interpolator.interpolate(sample.img0, sample.img1, [*quarters, 0.5])
        for t, frame in zip(quarters, predicted, strict=True):
            gains[t].append((psnr(frame, targets[t]) - psnr(half, targets[t])).item())
    return gains
