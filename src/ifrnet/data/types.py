"""The sample every training dataset yields, and how samples become batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError

#: Estimates the flow from ``target`` to ``source`` (both uint8 (H, W, 3) RGB): a float32
#: (H, W, 2) field, x then y, such that ``source`` backward-warped by it looks like ``target``.
FlowEstimator = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Sample(NamedTuple):
    """One training triplet.

    ``img0``, ``imgt``, ``img1``: float32 ``(3, H, W)`` in [0, 1]. ``flow``: float32
    ``(4, H, W)`` pseudo-label ``[u0, v0, u1, v1]`` = flow from imgt to img0, then to img1, in
    pixels, or ``None``. ``embt``: float32 ``(1, 1, 1)``, the time t of imgt.
    """

    img0: Tensor
    imgt: Tensor
    img1: Tensor
    flow: Tensor | None
    embt: Tensor


class Batch(NamedTuple):
    """Stacked samples: images ``(B, 3, H, W)``, flow ``(B, 4, H, W)`` or ``None``, embt ``(B, 1, 1, 1)``."""

    img0: Tensor
    imgt: Tensor
    img1: Tensor
    flow: Tensor | None
    embt: Tensor


def collate(samples: Sequence[Sample]) -> Batch:
    """``DataLoader`` collate function. A batch has flow labels only if every sample has one."""
    if not samples:
        raise InputError("cannot collate an empty batch")
    shapes = {tuple(s.img0.shape) for s in samples}
    if len(shapes) != 1:
        raise InputError(f"samples in one batch must share a size; got {sorted(shapes)} (crop them)")
    flows = [s.flow for s in samples]
    return Batch(
        img0=torch.stack([s.img0 for s in samples]),
        imgt=torch.stack([s.imgt for s in samples]),
        img1=torch.stack([s.img1 for s in samples]),
        flow=torch.stack(flows) if all(f is not None for f in flows) else None,
        embt=torch.stack([s.embt for s in samples]),
    )


def to_tensor(image: np.ndarray) -> Tensor:
    """uint8 ``(H, W, 3)`` -> float32 ``(3, H, W)`` in [0, 1]. A read-only array (a decoded frame
    held by a cache, say) is copied: torch warns on tensors over memory it may not write."""
    return torch.from_numpy(np.require(image, requirements=("C", "W"))).permute(2, 0, 1).float().div_(255.0)
