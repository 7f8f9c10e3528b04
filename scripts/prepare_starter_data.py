"""Lay out the training and held-out footage for the shipped starter weights.

    python scripts/prepare_starter_data.py [--shared ../shared/data] [--out /work/train_data]

Writes OUT/footage/ (training videos: symlinks to the shared clips, and frames 300-794 of
opencv_vtest.avi re-encoded losslessly) and OUT/holdout/ (frames 0-299 of opencv_vtest.avi, which
include the repo's examples, and visp_castel.mkv, never trained on). See MODEL_CARD.md.

``--frames`` writes every source as a folder of PNG frames instead, decoded with OpenCV: for a
machine without PyAV (a lent GPU machine's image has OpenCV and Pillow, not PyAV); the training
datasets read frame folders without PyAV.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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


def _png_frames(video: Path, folders: dict[range, Path]) -> None:
    """Decode ``video`` with OpenCV; frame i goes to the folder whose range holds i, numbered from the range's start."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise SystemExit(f"{video}: OpenCV cannot open this video")
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        for frames, folder in folders.items():
            if index in frames:
                cv2.imwrite(str(folder / f"{index - frames.start:06d}.png"), image)
        index += 1
    capture.release()
    if index == 0:
        raise SystemExit(f"{video}: no frames decoded")


def write_frame_folders(shared: Path, footage: Path, holdout: Path, jobs: int = 1) -> None:
    """Every clip into its frame folders; ``jobs`` clips at a time, each in its own process."""
    everything = range(10**9)
    work = [(shared / name, {everything: footage / Path(name).stem}) for name in TRAIN_CLIPS]
    for name in HELD_OUT_CLIPS:
        # validation during training reads opencv_vtest's held-out frames first: a device run may
        # leave the other held-out clips behind to fit its upload limit
        if (shared / name).is_file():
            work.append((shared / name, {everything: holdout / Path(name).stem}))
        else:
            print(f"{shared / name}: not there, skipped (held out, not needed for training)")
    work.append(
        (
            shared / VTEST,
            {
                range(VTEST_SPLIT): holdout / f"opencv_vtest_f0-{VTEST_SPLIT - 1}",
                range(VTEST_SPLIT, 10**9): footage / f"opencv_vtest_f{VTEST_SPLIT}-794",
            },
        )
    )
    if jobs <= 1:
        for video, folders in work:
            _png_frames(video, folders)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for done in [pool.submit(_png_frames, video, folders) for video, folders in work]:
            done.result()


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=repo.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("/work/train_data"))
    parser.add_argument("--frames", action="store_true", help="PNG frame folders decoded with OpenCV (no PyAV)")
    parser.add_argument("--jobs", type=int, default=1, help="with --frames: clips decoded at once (processes)")
    args = parser.parse_args()
    footage, holdout = args.out / "footage", args.out / "holdout"
    footage.mkdir(parents=True, exist_ok=True)
    holdout.mkdir(parents=True, exist_ok=True)
    if args.frames:
        write_frame_folders(args.shared, footage, holdout, args.jobs)
        print(f"training frames in {footage}, held-out frames in {holdout}")
        return
    for names, folder in ((TRAIN_CLIPS, footage), (HELD_OUT_CLIPS, holdout)):
        for name in names:
            link = folder / name
            if not link.exists():
                link.symlink_to((args.shared / name).resolve())
    from ifrnet.video import open_source
    from ifrnet.video.options import EncodeSettings
    from ifrnet.video.writer import VideoFileWriter

    with open_source(args.shared / VTEST) as reader:
        info = reader.info
        train = VideoFileWriter(
            footage / f"opencv_vtest_f{VTEST_SPLIT}-794.mkv",
            info,
            info.rate,
            EncodeSettings(codec="ffv1", pix_fmt="bgr0"),
        )
        held = VideoFileWriter(
            holdout / f"opencv_vtest_f0-{VTEST_SPLIT - 1}.mkv",
            info,
            info.rate,
            EncodeSettings(codec="ffv1", pix_fmt="bgr0"),
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
