"""The paper's test protocols: which frames go in, how they are padded, where the metrics look.

Each benchmark of ``docs/IFRNET.md`` section 6 is one small class that reads a dataset root in
the authors' layout and yields :class:`EvalSample` items: the two input frames already padded or
placed as the protocol says, the ground-truth frames with their times, and the crop box that
maps a prediction back onto the region the metrics are computed on. Running methods and scoring
is :mod:`ifrnet.evaluation.results`' job.

Every file a protocol needs is checked when it is built, so a wrong root or an incomplete copy
fails at once, naming the first missing path and the expected layout, not hours into a run.
Images are read lazily, one sample at a time.

``split`` means, per benchmark:

* ``vimeo90k``, ``ucf101``, ``middlebury-other``, ``adobe240``: ``None`` for the whole test set,
  or the path of a list file (relative to the root, or absolute) naming a subset, one sequence /
  folder / video per line, blank lines skipped;
* ``snu-film``: ``easy``, ``medium``, ``hard``, ``extreme`` or ``all`` (the four lists in that order;
  ``None`` means ``all``);
* ``gopro``: ``None`` or ``test`` for the spec's 11 test videos, ``train`` for the 22 training
  videos, or a list file of video names as above.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor

from ..data.gopro import (
    GOPRO_LAYOUT,
    GOPRO_TRAIN_VIDEOS,
    TARGETS_PER_WINDOW,
    WINDOW,
    WINDOW_STRIDE,
    Adobe240Windows,
    GoProWindows,
    windows_in,
)
from ..data.types import to_tensor
from ..data.vimeo import check_root, read_frames, read_list_file, require_file
from ..errors import InputError
from ..times import Padder


class CropBox(NamedTuple):
    """The region of a (padded / placed) frame that holds the original image: rows
    ``top .. top + height``, columns ``left .. left + width``."""

    top: int
    left: int
    height: int
    width: int


class EvalSample(NamedTuple):
    """One evaluation item: inputs ready for a method, targets ready for the metrics.

    ``img0`` and ``img1`` are float ``(1, 3, H, W)`` tensors in [0, 1], already padded or placed
    on a canvas as the protocol says; ``targets`` pairs each time ``t`` with its float
    ``(1, 3, h, w)`` ground truth, at the size of :meth:`unpad`'s output; ``crop`` is where that
    region lies in the method's output.
    """

    name: str
    img0: Tensor
    img1: Tensor
    targets: list[tuple[float, Tensor]]
    crop: CropBox

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.targets]

    def unpad(self, pred: Tensor) -> Tensor:
        """The part of a prediction (at the inputs' size) that the metrics compare with the targets."""
        top, left, height, width = self.crop
        return pred[..., top : top + height, left : left + width]


class _Entry(NamedTuple):
    name: str
    paths: tuple[Path, ...]  # img0, img1, then one ground truth per time
    times: tuple[float, ...]


def _resolve_list_file(root: Path, split: str | os.PathLike, what: str, layout: str) -> list[str]:
    """The names in a split list file, relative to ``root`` (an absolute ``split`` replaces the root)."""
    return read_list_file(root / split, what, layout)


def _subfolders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


class BenchmarkProtocol(Sequence[EvalSample]):
    """A benchmark's test set as a sequence of :class:`EvalSample` (images read on access).

    Subclasses fill ``self._entries`` in ``__init__`` and may override :meth:`_prepare`, which
    turns the decoded frames of one entry into inputs, targets and a crop box.
    """

    #: Registry key (``make_protocol``'s ``name``).
    name: ClassVar[str] = ""
    #: Name for tables and messages.
    title: ClassVar[str] = ""
    #: The expected dataset layout, in words, for error messages.
    layout: ClassVar[str] = ""
    #: The metrics the paper reports for this benchmark (the columns of ``summary.md``).
    reported_metrics: ClassVar[tuple[str, ...]] = ("psnr", "ssim", "ie")
    #: IFRNet's ``scale_factor`` on this benchmark as the paper ran it (``ifrnet eval --scale`` overrides it).
    scale_factor: ClassVar[float] = 1.0

    def __init__(self, root: str | os.PathLike, split: str | os.PathLike | None = None) -> None:
        self.root = Path(root)
        self.split = None if split is None else str(split)
        check_root(self.root, self.title, self.layout)
        self._entries: list[_Entry] = []

    @property
    def label(self) -> str:
        """Title and split, for headings and progress bars ("SNU-FILM (hard)")."""
        return self.title if self.split is None else f"{self.title} ({self.split})"

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> EvalSample:  # type: ignore[override]
        entry = self._entries[index]
        frames = [to_tensor(f).unsqueeze(0) for f in read_frames(list(entry.paths))]
        img0, img1, targets, crop = self._prepare(frames, entry.paths)
        return EvalSample(entry.name, img0, img1, list(zip(entry.times, targets, strict=True)), crop)

    def __iter__(self) -> Iterator[EvalSample]:
        for index in range(len(self)):
            yield self[index]

    def describe(self, index: int) -> tuple[str, tuple[float, ...]]:
        """Name and target times of sample ``index``, without reading its images (for resuming)."""
        entry = self._entries[index]
        return entry.name, entry.times

    @property
    def num_targets(self) -> int:
        """Number of (sample, t) pairs: the rows one method adds to ``samples.csv``."""
        return sum(len(e.times) for e in self._entries)

    def _prepare(self, frames: list[Tensor], paths: Sequence[Path]) -> tuple[Tensor, Tensor, list[Tensor], CropBox]:
        """Default: inputs and targets as read, metrics on the whole frame."""
        h, w = frames[0].shape[-2:]
        return frames[0], frames[1], frames[2:], CropBox(0, 0, h, w)

    def _add(self, name: str, paths: Sequence[Path], times: Sequence[float]) -> None:
        for path in paths:
            require_file(path, self.title, self.layout)
        self._entries.append(_Entry(name, tuple(paths), tuple(float(t) for t in times)))

    def _require_entries(self, what: str) -> None:
        if not self._entries:
            raise InputError(f"{self.root}: {what} holds no samples; the {self.title} layout is {self.layout}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, samples={len(self)})"


class Vimeo90KTest(BenchmarkProtocol):
    """Vimeo90K triplet test set: 448x256 frames at scale 1, no padding, t = 0.5."""

    name = "vimeo90k"
    title = "Vimeo90K"
    layout = (
        "ROOT/tri_testlist.txt listing sequence ids and ROOT/sequences/<id>/im1.png, im2.png (ground truth), im3.png"
    )

    def __init__(self, root: str | os.PathLike, split: str | os.PathLike | None = None) -> None:
        super().__init__(root, split)
        ids = _resolve_list_file(self.root, split or "tri_testlist.txt", self.title, self.layout)
        for seq in ids:
            folder = self.root / "sequences" / seq
            self._add(seq, [folder / "im1.png", folder / "im3.png", folder / "im2.png"], [0.5])
        self._require_entries("the list")


class UCF101Test(BenchmarkProtocol):
    """UCF101 triplets (256x256) at scale 1, no padding, t = 0.5: every sub-folder of the root is one triplet."""

    name = "ucf101"
    title = "UCF101"
    layout = "ROOT/<triplet>/frame_00.png, frame_01_gt.png (ground truth), frame_02.png, one folder per triplet"

    def __init__(self, root: str | os.PathLike, split: str | os.PathLike | None = None) -> None:
        super().__init__(root, split)
        folders = (
            _subfolders(self.root) if split is None else _resolve_list_file(self.root, split, self.title, self.layout)
        )
        for name in folders:
            folder = self.root / name
            self._add(name, [folder / "frame_00.png", folder / "frame_02.png", folder / "frame_01_gt.png"], [0.5])
        self._require_entries("the folder" if split is None else "the list")


SNU_FILM_SPLITS = ("easy", "medium", "hard", "extreme")
SNU_FILM_MULTIPLE = 20
SNU_FILM_SCALE = 0.8


class SNUFILMTest(BenchmarkProtocol):
    """SNU-FILM at one difficulty (or all four): replicate-padded to a multiple of 20, centred, scale 0.8.

    Each list line holds three paths, ``img0 gt img1``. The authors' lists carry a prefix such as
    ``data/SNU-FILM/test/...`` that matches no one's disk, so a path is tried relative to the root
    first and then with its leading components stripped one at a time until a file is found (the
    number stripped from the previous path is tried first, which keeps this cheap); the error for a
    path that resolves nowhere names it as joined to the root.
    """

    name = "snu-film"
    title = "SNU-FILM"
    layout = (
        "ROOT/test-easy.txt, test-medium.txt, test-hard.txt, test-extreme.txt, each line three image paths "
        "(img0 gt img1) relative to ROOT, optionally behind a prefix such as data/SNU-FILM/"
    )
    scale_factor = SNU_FILM_SCALE

    def __init__(self, root: str | os.PathLike, split: str | None = None) -> None:
        super().__init__(root, split)
        split = split or "all"
        if split not in (*SNU_FILM_SPLITS, "all"):
            raise InputError(f"SNU-FILM split must be one of {', '.join(SNU_FILM_SPLITS)}, all; got {split!r}")
        self.split = split
        self._strip = 0
        names: set[str] = set()
        for difficulty in SNU_FILM_SPLITS if split == "all" else (split,):
            list_path = self.root / f"test-{difficulty}.txt"
            if not list_path.is_file():
                raise InputError(f"{list_path}: no such list file; the {self.title} layout is {self.layout}")
            for number, line in enumerate(list_path.read_text().splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 3:
                    raise InputError(
                        f"{list_path}, line {number}: expected three paths (img0 gt img1); got {len(parts)} fields"
                    )
                img0, gt, img1 = (self._resolve(p) for p in parts)
                name = f"{difficulty}/{self._short_name(gt)}"
                while name in names:  # the same ground truth twice in one list: keep names unique
                    name += "+"
                names.add(name)
                self._add(name, [img0, img1, gt], [0.5])
        self._require_entries(f"the {split} split")

    def _resolve(self, text: str) -> Path:
        parts = Path(text).parts
        if Path(text).is_absolute():
            if Path(text).is_file():
                return Path(text)
            parts = parts[1:]
        order = [self._strip, *(k for k in range(len(parts)) if k != self._strip)]
        for strip in order:
            if strip < len(parts):
                candidate = self.root.joinpath(*parts[strip:])
                if candidate.is_file():
                    self._strip = strip
                    return candidate
        raise InputError(f"{self.root / text}: no such file; the {self.title} layout is {self.layout}")

    def _short_name(self, path: Path) -> str:
        if path.is_relative_to(self.root):  # else an absolute path outside the root, kept whole
            path = path.relative_to(self.root)
        return path.with_suffix("").as_posix()

    def _prepare(self, frames: list[Tensor], paths: Sequence[Path]) -> tuple[Tensor, Tensor, list[Tensor], CropBox]:
        h, w = frames[0].shape[-2:]
        padder = Padder(h, w, multiple=SNU_FILM_MULTIPLE, centred=True)
        box = CropBox(padder.top, padder.left, padder.height, padder.width)
        return padder.pad(frames[0]), padder.pad(frames[1]), frames[2:], box


MIDDLEBURY_OTHER_SEQUENCES = (
    "Beanbags",
    "Dimetrodon",
    "DogDance",
    "Grove2",
    "Grove3",
    "Hydrangea",
    "MiniCooper",
    "RubberWhale",
    "Urban2",
    "Urban3",
    "Venus",
    "Walking",
)
MIDDLEBURY_CANVAS = (480, 640)


class MiddleburyOther(BenchmarkProtocol):
    """Middlebury "other" set: each frame at the top-left of a zero 480x640 canvas, output cropped back.

    The paper reports the interpolation error (IE) only here, so ``reported_metrics`` is ``("ie",)``:
    ``summary.md`` shows the IE column; ``samples.csv`` and ``summary.json`` still hold every metric
    that was computed (PSNR and SSIM of these 12 images are not comparable to any published number).
    """

    name = "middlebury-other"
    title = "Middlebury Other"
    layout = (
        "ROOT/other-data/<sequence>/frame10.png, frame11.png and ROOT/other-gt-interp/<sequence>/frame10i11.png "
        f"for {', '.join(MIDDLEBURY_OTHER_SEQUENCES)}"
    )
    reported_metrics = ("ie",)

    def __init__(self, root: str | os.PathLike, split: str | os.PathLike | None = None) -> None:
        super().__init__(root, split)
        sequences = (
            MIDDLEBURY_OTHER_SEQUENCES
            if split is None
            else _resolve_list_file(self.root, split, self.title, self.layout)
        )
        for seq in sequences:
            inputs = self.root / "other-data" / seq
            gt = self.root / "other-gt-interp" / seq / "frame10i11.png"
            self._add(seq, [inputs / "frame10.png", inputs / "frame11.png", gt], [0.5])
        self._require_entries("the list")

    def _prepare(self, frames: list[Tensor], paths: Sequence[Path]) -> tuple[Tensor, Tensor, list[Tensor], CropBox]:
        h, w = frames[0].shape[-2:]
        canvas_h, canvas_w = MIDDLEBURY_CANVAS
        if h > canvas_h or w > canvas_w:
            raise InputError(
                f"{paths[0]}: {w}x{h} does not fit the protocol's {canvas_w}x{canvas_h} canvas; "
                "is this the Middlebury other-data set?"
            )

        def place(x: Tensor) -> Tensor:
            canvas = torch.zeros(1, 3, canvas_h, canvas_w, dtype=x.dtype)
            canvas[..., :h, :w] = x
            return canvas

        return place(frames[0]), place(frames[1]), frames[2:], CropBox(0, 0, h, w)


GOPRO_TEST_CROP = 512


class GoProTest(BenchmarkProtocol):
    """GoPro 8x test: 9-frame windows every 8 frames, inputs 0 and 8, targets 1..7 at t = k/8.

    Every frame (inputs and targets) is cut to the ``crop_size`` centre crop -- rows
    ``H/2 - 256 .. H/2 + 256``, the same for columns, at the default 512 -- before the method sees
    it, so methods run on 512x512 inputs and the metrics look at the whole output. Frames smaller
    than the crop are an error (``crop_size`` exists for small synthetic test data). Video folders
    and frame order come from :mod:`ifrnet.data.gopro`.
    """

    name = "gopro"
    title = "GoPro"
    layout = GOPRO_LAYOUT
    _windows_class: ClassVar[type[GoProWindows]] = GoProWindows

    def __init__(
        self, root: str | os.PathLike, split: str | os.PathLike | None = None, *, crop_size: int = GOPRO_TEST_CROP
    ) -> None:
        super().__init__(root, split)
        if crop_size < 1:
            raise InputError(f"crop size must be positive; got {crop_size}")
        self.crop_size = int(crop_size)
        windows = self._windows_class(self.root, "test", videos=self._videos(split))
        for video, files in zip(windows.videos, windows.files, strict=True):
            for window in range(windows_in(len(files))):
                first = window * WINDOW_STRIDE
                frames = files[first : first + WINDOW]
                self._add(
                    f"{video}/{frames[0].stem}",
                    [frames[0], frames[-1], *frames[1:-1]],
                    [k / (WINDOW - 1) for k in range(1, TARGETS_PER_WINDOW + 1)],
                )
        self._require_entries("the split")

    def _videos(self, split: str | os.PathLike | None) -> list[str] | None:
        if split is None or split == "test":
            return None  # the dataset class's default: the spec's test videos
        if split == "train":
            return list(GOPRO_TRAIN_VIDEOS)
        return _resolve_list_file(self.root, split, self.title, self.layout)

    def _prepare(self, frames: list[Tensor], paths: Sequence[Path]) -> tuple[Tensor, Tensor, list[Tensor], CropBox]:
        h, w = frames[0].shape[-2:]
        size = self.crop_size
        if h < size or w < size:
            raise InputError(f"{paths[0]}: {w}x{h} is smaller than the protocol's {size}x{size} centre crop")
        top, left = h // 2 - size // 2, w // 2 - size // 2
        cropped = [f[..., top : top + size, left : left + size] for f in frames]
        return cropped[0], cropped[1], cropped[2:], CropBox(0, 0, size, size)


class Adobe240Test(GoProTest):
    """Adobe240 in GoPro's 8x protocol (windows, times, centre crop): every sub-folder of the root is a
    video unless ``split`` names a list file of video folders."""

    name = "adobe240"
    title = "Adobe240"
    _windows_class = Adobe240Windows

    def _videos(self, split: str | os.PathLike | None) -> list[str] | None:
        if split is None:
            return None  # every sub-folder
        return _resolve_list_file(self.root, split, self.title, self.layout)


#: Benchmark name -> protocol class.
PROTOCOLS: dict[str, type[BenchmarkProtocol]] = {
    cls.name: cls for cls in (Vimeo90KTest, UCF101Test, SNUFILMTest, MiddleburyOther, GoProTest, Adobe240Test)
}


def make_protocol(
    name: str, root: str | os.PathLike, split: str | os.PathLike | None = None, **options: int
) -> BenchmarkProtocol:
    """The protocol ``name`` (a key of :data:`PROTOCOLS`) over the dataset at ``root``.

    ``options`` go to the class (``crop_size`` for ``gopro`` / ``adobe240``).
    """
    cls = PROTOCOLS.get(name)
    if cls is None:
        raise InputError(f"unknown benchmark {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return cls(root, split, **options)  # type: ignore[call-arg]
