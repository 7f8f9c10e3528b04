"""Tiny synthetic datasets in every benchmark layout of ``ifrnet.evaluation.protocols``.

Frames are seeded random noise (written as PNG, so exact), at sizes chosen to exercise the
protocols: SNU-FILM sides that are not multiples of 20, Middlebury frames smaller than the
480x640 canvas, GoPro videos whose frame counts leave a partial window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ifrnet.data.gopro import GOPRO_TEST_VIDEOS
from ifrnet.evaluation.protocols import MIDDLEBURY_OTHER_SEQUENCES
from ifrnet.io.images import write_png

VIMEO_IDS = ("00001/0001", "00001/0002", "00002/0007")
VIMEO_SIZE = (48, 64)
UCF_FOLDERS = ("1", "2")
UCF_SIZE = (40, 44)
# (list, sizes of its triplets): 45x67 pads by 15 rows (7 before) and 13 columns (6 before); 40x60 needs none
SNU_SIZES = {"easy": [(45, 67), (40, 60)], "medium": [(45, 67)], "hard": [(21, 39)], "extreme": [(45, 67)]}
MIDDLEBURY_SIZE = (37, 53)
GOPRO_VIDEOS = {GOPRO_TEST_VIDEOS[0]: 17, GOPRO_TEST_VIDEOS[1]: 12}
GOPRO_SIZE = (40, 56)
ADOBE_VIDEOS = {"clip_a": 9, "clip_b": 26}


def frame(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def make_vimeo(root: Path) -> Path:
    for number, seq in enumerate(VIMEO_IDS):
        for index in (1, 2, 3):
            write_png(root / "sequences" / seq / f"im{index}.png", frame(*VIMEO_SIZE, seed=10 * number + index))
    (root / "tri_testlist.txt").write_text("\n".join(VIMEO_IDS) + "\n\n")
    return root


def make_ucf(root: Path) -> Path:
    for number, name in enumerate(UCF_FOLDERS):
        for index, file in enumerate(("frame_00.png", "frame_01_gt.png", "frame_02.png")):
            write_png(root / name / file, frame(*UCF_SIZE, seed=100 + 10 * number + index))
    return root


def make_snu(root: Path) -> Path:
    """Lists in both spellings the authors' files use: paths behind a ``data/SNU-FILM/`` prefix
    (easy, hard) and paths relative to the root (medium, extreme)."""
    seed = 200
    for difficulty, sizes in SNU_SIZES.items():
        lines = []
        for number, size in enumerate(sizes):
            names = []
            for index in (0, 4, 8):
                relative = f"test/GOPRO_test/{difficulty}{number}/{index:05d}.png"
                write_png(root / relative, frame(*size, seed=seed))
                seed += 1
                names.append(relative if difficulty in ("medium", "extreme") else f"data/SNU-FILM/{relative}")
            # img0 gt img1: frames 0, 4, 8
            lines.append(" ".join(names))
        (root / f"test-{difficulty}.txt").write_text("\n".join(lines) + "\n")
    return root


def make_middlebury(root: Path) -> Path:
    for number, seq in enumerate(MIDDLEBURY_OTHER_SEQUENCES):
        write_png(root / "other-data" / seq / "frame10.png", frame(*MIDDLEBURY_SIZE, seed=300 + 3 * number))
        write_png(root / "other-data" / seq / "frame11.png", frame(*MIDDLEBURY_SIZE, seed=301 + 3 * number))
        write_png(root / "other-gt-interp" / seq / "frame10i11.png", frame(*MIDDLEBURY_SIZE, seed=302 + 3 * number))
    return root


def make_videos(root: Path, videos: dict[str, int], size: tuple[int, int], seed: int = 400) -> Path:
    for number, (video, count) in enumerate(videos.items()):
        for index in range(count):
            write_png(root / video / f"{index:06d}.png", frame(*size, seed=seed + 100 * number + index))
    return root


def make_gopro(root: Path) -> Path:
    """Two of the 11 test videos (17 and 12 frames) and ``two.txt`` naming them."""
    make_videos(root, GOPRO_VIDEOS, GOPRO_SIZE)
    (root / "two.txt").write_text("\n".join(GOPRO_VIDEOS) + "\n")
    return root


def make_adobe(root: Path) -> Path:
    return make_videos(root, ADOBE_VIDEOS, GOPRO_SIZE, seed=700)
