"""GoPro and Adobe240: 8x interpolation triplets from 9-frame windows of high-frame-rate video.

Layout (``docs/IFRNET.md`` section 5): ``<root>/<video>/`` holds each video's frames as images,
train and test videos side by side; frames are taken in file-name order. Windows of 9 frames
start every 8 frames, ``(frames - 9) // 8 + 1`` per video; a window's frames 0 and 8 are the
inputs and each of frames 1..7 a target at t = k / 8, so one window gives 7 triplets. The
dataset indexes those triplets: item ``7 * w + (k - 1)`` is target k of window w.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..video.paths import IMAGE_SUFFIXES
from .augment import Frames
from .vimeo import SplitDataset, check_root, read_frames

WINDOW = 9
WINDOW_STRIDE = 8
TARGETS_PER_WINDOW = WINDOW - 2

GOPRO_TRAIN_VIDEOS = (
    "GOPR0372_07_00",
    "GOPR0374_11_01",
    "GOPR0378_13_00",
    "GOPR0384_11_01",
    "GOPR0384_11_04",
    "GOPR0477_11_00",
    "GOPR0868_11_02",
    "GOPR0884_11_00",
    "GOPR0372_07_01",
    "GOPR0374_11_02",
    "GOPR0379_11_00",
    "GOPR0384_11_02",
    "GOPR0385_11_00",
    "GOPR0857_11_00",
    "GOPR0871_11_01",
    "GOPR0374_11_00",
    "GOPR0374_11_03",
    "GOPR0380_11_00",
    "GOPR0384_11_03",
    "GOPR0386_11_00",
    "GOPR0868_11_01",
    "GOPR0881_11_00",
)
GOPRO_TEST_VIDEOS = (
    "GOPR0384_11_00",
    "GOPR0385_11_01",
    "GOPR0410_11_00",
    "GOPR0862_11_00",
    "GOPR0869_11_00",
    "GOPR0881_11_01",
    "GOPR0384_11_05",
    "GOPR0396_11_00",
    "GOPR0854_11_00",
    "GOPR0868_11_00",
    "GOPR0871_11_00",
)
GOPRO_LAYOUT = "ROOT/<video>/ holding each video's frames as image files, taken in file-name order"


def windows_in(frames: int) -> int:
    """Number of 9-frame windows starting every 8 frames in a video of ``frames`` frames."""
    return max(0, (frames - WINDOW) // WINDOW_STRIDE + 1)


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


class GoProWindows(SplitDataset):
    """GoPro 8x triplets (t = k/8, k = 1..7) from 9-frame windows; ``len`` = windows * 7.

    ``videos`` overrides the split's video list (the spec's 22 train / 11 test names); every
    listed video must exist. Videos shorter than 9 frames contribute no window. Window datasets
    add the spec's time reversal to the augmentation.
    """

    time_reversal = True
    dataset_name = "GoPro"

    def _open(self, videos: Sequence[str] | None = None) -> None:
        split = self.split
        check_root(self.root, self.dataset_name, GOPRO_LAYOUT)
        names = list(self.default_videos() if videos is None else videos)
        if not names:
            raise InputError(f"{self.root}: no videos to read for the {self.dataset_name} {split} split")
        self.videos: list[str] = []
        self.files: list[list[Path]] = []
        for name in names:
            folder = self.root / name
            if not folder.is_dir():
                raise InputError(
                    f"{folder}: video folder {name} is missing; the {self.dataset_name} layout is {GOPRO_LAYOUT}"
                )
            self.videos.append(name)
            self.files.append(_frame_files(folder))
        counts = [windows_in(len(f)) for f in self.files]
        # starts[v]: index of video v's first window among all windows
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64).tolist()
        if self.starts[-1] == 0:
            raise InputError(
                f"{self.root}: no video of the {self.dataset_name} {split} split has the {WINDOW} frames a window needs"
            )

    def default_videos(self) -> Sequence[str]:
        return GOPRO_TRAIN_VIDEOS if self.split == "train" else GOPRO_TEST_VIDEOS

    @property
    def num_windows(self) -> int:
        return self.starts[-1]

    def __len__(self) -> int:
        return self.num_windows * TARGETS_PER_WINDOW

    def locate(self, index: int) -> tuple[int, int, int]:
        """(video number, first frame of the window, target offset k in 1..7) of a triplet index."""
        window, k = divmod(index, TARGETS_PER_WINDOW)
        video = bisect_right(self.starts, window) - 1
        return video, (window - self.starts[video]) * WINDOW_STRIDE, k + 1

    def _load(self, index: int, rng: np.random.Generator) -> tuple[Frames, np.ndarray | None, float]:
        video, first, k = self.locate(index)
        files = self.files[video]
        frames = read_frames([files[first], files[first + k], files[first + WINDOW - 1]])
        return frames, None, k / (WINDOW - 1)


class Adobe240Windows(GoProWindows):
    """Adobe240 in the same 9-frame-window scheme: every sub-folder of ``root`` is a video.

    The set has no official train/test lists here, so both splits mean all sub-folders (sorted);
    pass ``videos`` to choose.
    """

    dataset_name = "Adobe240"

    def default_videos(self) -> Sequence[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
