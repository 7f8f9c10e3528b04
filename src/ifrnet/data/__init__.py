"""Training data: datasets in the layouts IFRNet was trained on, your own footage, and the augmentations.

Every dataset is a ``torch.utils.data.Dataset`` of :class:`Sample` (picklable, for DataLoader
workers); :func:`collate` stacks them into a :class:`Batch`. :func:`build_dataset` turns the
``KIND:PATH`` strings of the command line into a dataset (``synthetic:N`` takes an item count
instead of a path).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from .augment import Augment, TripletDataset
from .folder import FootageWindows
from .gopro import Adobe240Windows, GoProWindows
from .synthetic import SyntheticMotion
from .types import Batch, FlowEstimator, Sample, collate, to_tensor
from .vimeo import Vimeo90KSeptuplets, Vimeo90KTriplets

#: The dataset kinds :func:`build_dataset` understands, with the class each builds.
DATASET_KINDS: dict[str, type[TripletDataset]] = {
    "vimeo90k": Vimeo90KTriplets,
    "vimeo90k-septuplet": Vimeo90KSeptuplets,
    "gopro": GoProWindows,
    "adobe240": Adobe240Windows,
    "folder": FootageWindows,
    "synthetic": SyntheticMotion,
}


def _synthetic(spec: str, rest: str, split: str, augment: Augment | None, kw: dict[str, Any]) -> SyntheticMotion:
    """``synthetic:N`` or ``synthetic:N:WxH``: N rendered items per epoch, frames of W x H (default 256x256)."""
    count, _, size = rest.partition(":")
    usage = (
        f"dataset {spec!r}: expected synthetic:N or synthetic:N:WxH (N items per epoch, e.g. synthetic:10000:256x256)"
    )
    if not count.strip().isdigit() or int(count) < 1:
        raise InputError(usage)
    if size:
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size)
        if match is None:
            raise InputError(usage)
        kw.setdefault("size", (int(match.group(2)), int(match.group(1))))
    if split == "test":
        kw.setdefault("seed", 0)  # the same scenes at every validation
    return SyntheticMotion(int(count), augment=augment, **kw)


def _option_value(key: str, text: str) -> Any:
    if key == "flow":  # an on-the-fly flow estimator: flow=dis, flow=dis:fast, flow=package.module:Class
        from .pseudo_flow import get_estimator

        return get_estimator(text)
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _split_options(spec: str) -> tuple[str, dict[str, Any]]:
    """``KIND:PATH?window=5&stride=2&flow=dis`` -> (``KIND:PATH``, options for the dataset's constructor)."""
    base, sep, query = spec.partition("?")
    options: dict[str, Any] = {}
    if sep:
        for part in filter(None, query.split("&")):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise InputError(f"dataset {spec!r}: options must look like ?name=value&name=value; got {part!r}")
            key = key.strip().replace("-", "_")
            options["flow_estimator" if key == "flow" else key] = _option_value(key, value.strip())
    return base, options


def build_dataset(spec: str, split: str = "train", augment: Augment | None = None, **kw: Any) -> TripletDataset:
    """The dataset a ``KIND:PATH`` string names (``vimeo90k:/data/vimeo_triplet``, ``folder:~/clips``, ...).

    ``kw`` goes to the dataset's constructor (``seed``, ``skip_bad``, ``window`` ...). Own footage
    (``folder``) has no splits: the same folder serves either, and for ``split="test"`` its
    random target frames are fixed (seed 0 unless given) so that validation scores are comparable.
    Options for the dataset's constructor may follow a ``?``: ``folder:~/clips?window=5&stride=2&flow=dis``
    (``flow=`` names an on-the-fly flow estimator, see :func:`~ifrnet.data.pseudo_flow.get_estimator`;
    ``motion_tries=4`` crops the most-changing of 4 placements, see :func:`~ifrnet.data.augment.motion_crop`).
    ``synthetic:N`` (or ``synthetic:N:WxH``) renders N items per epoch of :class:`SyntheticMotion`
    (256x256 unless given), fixed scenes for ``split="test"`` likewise.
    """
    spec, options = _split_options(str(spec))
    kw = {**options, **kw}
    tries = kw.pop("motion_tries", None)
    if tries is not None and augment is not None:
        # per dataset: still-camera footage wants it, synthetic scenes move everywhere anyway
        augment = augment.with_motion_tries(tries)
    kind, sep, path = spec.partition(":")
    choices = ", ".join("synthetic:N" if k == "synthetic" else f"{k}:PATH" for k in DATASET_KINDS)
    if not sep or kind not in DATASET_KINDS:
        raise InputError(f"unknown dataset {spec!r}; expected one of {choices}")
    if kind == "synthetic":
        return _synthetic(spec, path, split, augment, kw)
    if not path:
        raise InputError(f"dataset {spec!r} names no folder; expected {kind}:PATH")
    root = Path(os.path.expanduser(path))
    cls = DATASET_KINDS[kind]
    try:
        if cls is FootageWindows:
            if split == "test":
                kw.setdefault("seed", 0)
            return FootageWindows(root, augment=augment, **kw)
        return cls(root, split=split, augment=augment, **kw)
    except TypeError as exc:  # an option the dataset does not take
        raise InputError(f"dataset {spec!r}: {exc}") from None


__all__ = [
    "DATASET_KINDS",
    "Adobe240Windows",
    "Augment",
    "Batch",
    "FlowEstimator",
    "FootageWindows",
    "GoProWindows",
    "Sample",
    "SyntheticMotion",
    "TripletDataset",
    "Vimeo90KSeptuplets",
    "Vimeo90KTriplets",
    "build_dataset",
    "collate",
    "to_tensor",
]
