"""Builders (not tests) of small training datasets in every supported layout, made from real footage.

Frames come from the clips in ``../shared/data``, resized small so that tests stay fast. Each
builder writes into a given folder and returns what a test needs to check the dataset against
(paths, frame counts, where the scene cut is).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ifrnet.io.flo import write_flo
from ifrnet.io.images import write_png

from .videos import real_frames, write_clip

#: (width, height) of every builder's frames.
FRAME_SIZE = (64, 48)
#: Clips the GoPro builder cycles through, one per video, with a start frame past any damaged opening.
GOPRO_CLIPS = (("opencv_tree.avi", 0), ("opencv_cup.mp4", 0), ("opencv_vtest.avi", 40))


def dis_flow(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The project's default pseudo-label estimator (DIS, medium), as the real datasets get from ``ifrnet flow``."""
    from ifrnet.data.pseudo_flow import DISFlow

    return DISFlow("medium")(target, source)


def _write_list(path: Path, ids: list[str]) -> None:
    # a trailing blank line, as in the real list files, which readers must skip
    path.write_text("\n".join(ids) + "\n\n")


def make_vimeo_triplets(
    root: Path, n_train: int = 4, n_test: int = 2, with_flow: bool = True, size: tuple[int, int] = FRAME_SIZE
) -> Path:
    """A Vimeo90K triplet layout of consecutive ``opencv_vtest.avi`` frames; DIS flow labels if ``with_flow``."""
    root = Path(root)
    frames = real_frames("opencv_vtest.avi", 3 * (n_train + n_test), size)
    ids = [f"00001/{i + 1:04d}" for i in range(n_train)] + [f"00002/{i + 1:04d}" for i in range(n_test)]
    for number, seq in enumerate(ids):
        img0, imgt, img1 = frames[3 * number : 3 * number + 3]
        for name, image in zip(("im1.png", "im2.png", "im3.png"), (img0, imgt, img1), strict=True):
            write_png(root / "sequences" / seq / name, image)
        if with_flow:
            write_flo(root / "flow" / seq / "flow_t0.flo", dis_flow(imgt, img0))
            write_flo(root / "flow" / seq / "flow_t1.flo", dis_flow(imgt, img1))
    _write_list(root / "tri_trainlist.txt", ids[:n_train])
    _write_list(root / "tri_testlist.txt", ids[n_train:])
    return root


def make_vimeo_septuplets(root: Path, n: int = 3, n_test: int = 1, size: tuple[int, int] = FRAME_SIZE) -> Path:
    """A Vimeo90K septuplet layout of consecutive ``opencv_cup.mp4`` frames (fast rotation)."""
    root = Path(root)
    frames = real_frames("opencv_cup.mp4", 7 * (n + n_test), size)
    ids = [f"00001/{i + 1:04d}" for i in range(n + n_test)]
    for number, seq in enumerate(ids):
        for k in range(7):
            write_png(root / "sequences" / seq / f"im{k + 1}.png", frames[7 * number + k])
    _write_list(root / "sep_trainlist.txt", ids[:n])
    _write_list(root / "sep_testlist.txt", ids[n:])
    return root


def make_gopro(root: Path, videos: dict[str, int], size: tuple[int, int] = FRAME_SIZE) -> Path:
    """A GoPro layout: ``root/<name>/000000.png ...`` with ``videos[name]`` frames each, from real clips."""
    root = Path(root)
    for number, (name, count) in enumerate(videos.items()):
        clip, start = GOPRO_CLIPS[number % len(GOPRO_CLIPS)]
        frames = real_frames(clip, count, size, start=start)
        assert len(frames) == count, f"{clip} has fewer than {count} frames after {start}"
        for i, frame in enumerate(frames):
            write_png(root / name / f"{i:06d}.png", frame)
    return root


@dataclass
class Footage:
    """What :func:`make_footage_folder` wrote."""

    root: Path
    video: Path
    video_frames: list[np.ndarray]
    #: the first frame of the second shot: the cut lies between frames ``cut - 1`` and ``cut``
    cut: int
    folder: Path
    folder_frames: list[np.ndarray]


def make_footage_folder(
    root: Path, shot: int = 10, folder_frames: int = 8, size: tuple[int, int] = FRAME_SIZE
) -> Footage:
    """A footage folder: ``clip.mkv`` (two real shots, ``shot`` frames each, a hard cut between them,
    lossless FFV1) and ``frames/`` (``folder_frames`` PNG frames of another clip)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    first = real_frames("opencv_vtest.avi", shot, size)
    second = real_frames("visp_cube.mkv", shot, size, start=20)  # past the cube's static (repeated) opening
    video_frames = first + second
    video = write_clip(root / "clip.mkv", video_frames)
    images = real_frames("opencv_tree.avi", folder_frames, size)
    for i, frame in enumerate(images):
        write_png(root / "frames" / f"frame_{i:04d}.png", frame)
    return Footage(root, video, video_frames, shot, root / "frames", images)
