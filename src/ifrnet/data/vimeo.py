"""Vimeo90K: the triplet set the released checkpoints were trained on, and the septuplet set.

Triplets (``docs/IFRNET.md`` section 5): ``tri_trainlist.txt`` / ``tri_testlist.txt`` list
sequence ids; ``sequences/<id>/im1.png, im2.png, im3.png`` are img0, the ground truth at t = 0.5
and img1; ``flow/<id>/flow_t0.flo, flow_t1.flo`` are the optional pseudo-label flows (written by
``ifrnet.data.pseudo_flow``). Septuplets: ``sep_trainlist.txt`` / ``sep_testlist.txt`` and
``sequences/<id>/im1.png .. im7.png``; each item draws three of the seven frames, which gives
training triplets at arbitrary t.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.flo import read_flo
from ..io.images import read_image
from .augment import Augment, Frames, TripletDataset
from .types import FlowEstimator

SPLITS = ("train", "test")
TRIPLET_LISTS = {"train": "tri_trainlist.txt", "test": "tri_testlist.txt"}
SEPTUPLET_LISTS = {"train": "sep_trainlist.txt", "test": "sep_testlist.txt"}
TRIPLET_LAYOUT = (
    "ROOT/tri_trainlist.txt and ROOT/tri_testlist.txt listing sequence ids, frames in "
    "ROOT/sequences/<id>/im1.png, im2.png (ground truth), im3.png and optional flow labels in "
    "ROOT/flow/<id>/flow_t0.flo, flow_t1.flo"
)
SEPTUPLET_LAYOUT = (
    "ROOT/sep_trainlist.txt and ROOT/sep_testlist.txt listing sequence ids, frames in "
    "ROOT/sequences/<id>/im1.png .. im7.png"
)


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    return split


def read_list_file(path: Path, what: str, layout: str) -> list[str]:
    """The names in a list file, one a line (blank lines skipped); the file must name something."""
    if not path.is_file():
        raise InputError(f"{path}: no such list file; the {what} layout is {layout}")
    try:
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the list file ({exc})") from None
    if not names:
        raise InputError(f"{path}: the list file names nothing")
    return names


def read_id_list(root: Path, list_name: str, what: str, layout: str) -> list[str]:
    """The sequence ids of a list file (blank lines skipped); the root and the list must exist."""
    check_root(root, what, layout)
    return read_list_file(root / list_name, what, layout)


def check_root(root: Path, what: str, layout: str) -> None:
    """An error naming ``root`` and the expected layout unless it is a folder."""
    if not root.is_dir():
        raise InputError(f"{root}: no such dataset folder; the {what} layout is {layout}")


def require_file(path: Path, what: str, layout: str) -> Path:
    """``path`` if it is a file, else an error naming it and the expected layout."""
    if not path.is_file():
        raise InputError(f"{path}: no such file; the {what} layout is {layout}")
    return path


def read_frames(paths: list[Path]) -> Frames:
    """Read images that must share one size; a mismatch names the odd file."""
    frames = []
    for path in paths:
        image = read_image(path)
        if frames and image.shape != frames[0].shape:
            h, w = frames[0].shape[:2]
            raise InputError(
                f"{path}: size {image.shape[1]}x{image.shape[0]} differs from {paths[0].name} ({w}x{h}) "
                "of the same sample"
            )
        frames.append(image)
    return frames


class SplitDataset(TripletDataset):
    """A benchmark's ``train`` or ``test`` split under ``root``.

    The test split draws with seed 0 when no ``seed`` is given, so that validation is the same on
    every call. Subclasses read their lists and check their files in ``_open``, which receives
    the options of their own (``flow=``, ``videos=``); an option a dataset does not take is a
    ``TypeError``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        augment: Augment | None = None,
        *,
        seed: int | None = None,
        skip_bad: bool = False,
        flow_estimator: FlowEstimator | None = None,
        **options: object,
    ) -> None:
        self.split = check_split(split)
        super().__init__(augment, 0 if seed is None and self.split == "test" else seed, skip_bad, flow_estimator)
        self.root = Path(root)
        self._open(**options)

    def _open(self) -> None:
        raise NotImplementedError


class Vimeo90KTriplets(SplitDataset):
    """Vimeo90K triplets at t = 0.5, with the stored pseudo-label flow when there is a ``flow/`` folder.

    ``flow=True`` reads ``flow/<id>/flow_t0.flo, flow_t1.flo``: for the train split every listed
    sequence must have them once the ``flow/`` folder exists (a partial labelling is an error, not
    silently weaker training); for the test split they are used where present. Without the folder,
    or with ``flow=False``, samples carry no flow. A ``flow_estimator`` replaces the stored labels
    with flow computed on the final frames.
    """

    def _open(self, flow: bool = True) -> None:
        self.ids = read_id_list(self.root, TRIPLET_LISTS[self.split], "Vimeo90K triplet", TRIPLET_LAYOUT)
        self.flow = bool(flow) and self.flow_estimator is None and (self.root / "flow").is_dir()
        for path in self.frame_paths(self.ids[0]):  # a wrong root fails here, not in a worker
            require_file(path, "Vimeo90K triplet", TRIPLET_LAYOUT)

    def __len__(self) -> int:
        return len(self.ids)

    def frame_paths(self, seq: str) -> list[Path]:
        folder = self.root / "sequences" / seq
        return [folder / "im1.png", folder / "im2.png", folder / "im3.png"]

    def flow_paths(self, seq: str) -> list[Path]:
        folder = self.root / "flow" / seq
        return [folder / "flow_t0.flo", folder / "flow_t1.flo"]

    def _load(self, index: int, rng: np.random.Generator) -> tuple[Frames, np.ndarray | None, float]:
        seq = self.ids[index]
        paths = [require_file(p, "Vimeo90K triplet", TRIPLET_LAYOUT) for p in self.frame_paths(seq)]
        img0, imgt, img1 = read_frames(paths)
        flow = None
        flow_files = self.flow_paths(seq)
        if self.flow and (self.split == "train" or all(p.is_file() for p in flow_files)):
            flow = np.concatenate([self._read_flow(p, imgt.shape[:2]) for p in flow_files], axis=2)
        return [img0, imgt, img1], flow, 0.5

    def _read_flow(self, path: Path, size: tuple[int, int]) -> np.ndarray:
        require_file(path, "Vimeo90K triplet", TRIPLET_LAYOUT)
        flow = read_flo(path)
        if flow.shape[:2] != size:
            raise InputError(
                f"{path}: flow of {flow.shape[1]}x{flow.shape[0]} does not match its frames ({size[1]}x{size[0]})"
            )
        return flow


class Vimeo90KSeptuplets(SplitDataset):
    """Vimeo90K septuplets as triplets at arbitrary t: three of the seven frames per item.

    Each item draws frame numbers i < k < j uniformly among the 35 choices and returns frames i
    and j as inputs and k as the target at t = (k - i) / (j - i). The draw comes from the item's
    generator: fixed per (seed, epoch, index), and fixed per index for the test split. No flow
    labels are stored for this set; a ``flow_estimator`` computes them on the final frames.
    """

    def _open(self) -> None:
        self.ids = read_id_list(self.root, SEPTUPLET_LISTS[self.split], "Vimeo90K septuplet", SEPTUPLET_LAYOUT)
        for path in self.frame_paths(self.ids[0]):
            require_file(path, "Vimeo90K septuplet", SEPTUPLET_LAYOUT)

    def __len__(self) -> int:
        return len(self.ids)

    def frame_paths(self, seq: str) -> list[Path]:
        folder = self.root / "sequences" / seq
        return [folder / f"im{n}.png" for n in range(1, 8)]

    def _load(self, index: int, rng: np.random.Generator) -> tuple[Frames, np.ndarray | None, float]:
        i, k, j = sorted(int(n) for n in rng.choice(7, size=3, replace=False))
        paths = self.frame_paths(self.ids[index])
        chosen = [require_file(paths[n], "Vimeo90K septuplet", SEPTUPLET_LAYOUT) for n in (i, k, j)]
        img0, imgt, img1 = read_frames(chosen)
        return [img0, imgt, img1], None, (k - i) / (j - i)
