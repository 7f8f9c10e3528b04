"""Lay out the training and held-out footage for the shipped starter weights.

    python scripts/prepare_starter_data.py [--shared ../shared/data] [--out /work/train_data]

Writes OUT/footage/ (training videos: symlinks to the shared clips, and frames 300-794 of
opencv_vtest.avi re-encoded losslessly) and OUT/holdout/ (frames 0-299 of opencv_vtest.avi, which
include the repo's examples, and visp_castel.mkv, never trained on). See MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ifrnet.video import open_source
from ifrnet.video.writer import VideoFileWriter

TRAIN_CLIPS = (
    "opencv_box.mp4",
    "opencv_cup.mp4",
    "opencv_tree.avi",
    "visp_cube.mkv",
    "visp_mire2.mkv",
    "visp_mbt_cube.mkv",
)
HELD_OUT_CLIPS = ("visp_castel.mkv",)
VTEST = "opencv_vtest.avi"
#: opencv_vtest.avi frames [0, VTEST_SPLIT) are held out, the rest train
VTEST_SPLIT = 300


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=repo.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("/work/train_data"))
    args = parser.parse_args()
    footage, holdout = args.out / "footage", args.out / "holdout"
    footage.mkdir(parents=True, exist_ok=True)
    holdout.mkdir(parents=True, exist_ok=True)
    for names, folder in ((TRAIN_CLIPS, footage), (HELD_OUT_CLIPS, holdout)):
        for name in names:
            link = folder / name
            if not link.exists():
                link.symlink_to((args.shared / name).resolve())
    with open_source(args.shared / VTEST) as reader:
        info = reader.info
        train = VideoFileWriter(
            footage / f"opencv_vtest_f{VTEST_SPLIT}-794.mkv", info, info.rate, codec="ffv1", pix_fmt="bgr0"
        )
        held = VideoFileWriter(
            holdout / f"opencv_vtest_f0-{VTEST_SPLIT - 1}.mkv", info, info.rate, codec="ffv1", pix_fmt="bgr0"
        )
        for frame in reader.frames():
            if frame.index < VTEST_SPLIT:
                held.write(frame.image, frame.index)
            else:
                train.write(frame.image, frame.index - VTEST_SPLIT)
        train.close()
        held.close()
    print(f"training footage in {footage}, held-out footage in {holdout}")


if __name__ == "__main__":
    main()
