"""Training data: datasets in the layouts IFRNet was trained on, your own footage, and the augmentations.

Every dataset is a ``torch.utils.data.Dataset`` of :class:`Sample` (picklable, for DataLoader
workers); :func:`collate` stacks them into a :class:`Batch`. :func:`build_dataset` turns the
``KIND:PATH`` strings of the command line into a dataset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from .augment import Augment, TripletDataset
from .folder import FootageWindows
from .gopro import Adobe240Windows, GoProWindows
from .types import Batch, FlowEstimator, Sample, collate, to_tensor
from .vimeo import Vimeo90KSeptuplets, Vimeo90KTriplets

#: The dataset kinds :func:`build_dataset` understands, with the class each builds.
DATASET_KINDS: dict[str, type[TripletDataset]] = {
    "vimeo90k": Vimeo90KTriplets,
    "vimeo90k-septuplet": Vimeo90KSeptuplets,
    "gopro": GoProWindows,
    "adobe240": Adobe240Windows,
    "folder": FootageWindows,
}


def build_dataset(spec: str, split: str = "train", augment: Augment | None = None, **kw: Any) -> TripletDataset:
    """The dataset a ``KIND:PATH`` string names (``vimeo90k:/data/vimeo_triplet``, ``folder:~/clips``, ...).

    ``kw`` goes to the dataset's constructor (``seed``, ``skip_bad``, ``window`` ...). Own footage
    (``folder``) has no splits: the same folder serves either, and for ``split="test"`` its
    random target frames are fixed (seed 0 unless given) so that validation scores are comparable.
    """
    kind, sep, path = str(spec).partition(":")
    choices = ", ".join(f"{k}:PATH" for k in DATASET_KINDS)
    if not sep or kind not in DATASET_KINDS:
        raise InputError(f"unknown dataset {spec!r}; expected one of {choices}")
    if not path:
        raise InputError(f"dataset {spec!r} names no folder; expected {kind}:PATH")
    root = Path(os.path.expanduser(path))
    cls = DATASET_KINDS[kind]
    if cls is FootageWindows:
        if split == "test":
            kw.setdefault("seed", 0)
        return FootageWindows(root, augment=augment, **kw)
    return cls(root, split=split, augment=augment, **kw)


__all__ = [
    "DATASET_KINDS",
    "Adobe240Windows",
    "Augment",
    "Batch",
    "FlowEstimator",
    "FootageWindows",
    "GoProWindows",
    "Sample",
    "TripletDataset",
    "Vimeo90KSeptuplets",
    "Vimeo90KTriplets",
    "build_dataset",
    "collate",
    "to_tensor",
]
