"""Write the held-out sets issue 26 scores starter weights v2 on, besides vtest frames 0-299 and visp_castel.

    python scripts/make_v2_heldout.py [--holdout /work/train_data/holdout] [--out /work/train_data/heldout_v2]

- **Fast motion**: the held-out clips (``scripts/prepare_starter_data.py``) keeping every 3rd
  and every 4th frame (``*_stride3.mkv``, ``*_stride4.mkv``), so each scored pair is 6 or 8 source
  frames apart. Lossless FFV1, the rate kept.
- **Animation**: ``anime_cel.mkv``, 16 generated shots of 9 frames each (``SyntheticMotion(style="cel")``,
  384x288, up to 160 px of motion over a shot, so 20 px a frame), joined by cuts that
  ``ifrnet eval --video`` skips. The generators are ``default_rng(2_600_000 + k)``, which no
  training item draws from (training derives its generators from the config's seed, epoch and
  index). The clip is the same on every machine.

Score each with ``ifrnet eval --video CLIP --factor 2`` (and ``--factor 4``).

``--tuning DIR`` writes instead ``DIR/anime_cel_tuning.mkv``: the same kind of animation from
``default_rng(2_700_000 + k)``, for choosing settings (``benchmarks/auto_scale.py``'s threshold)
on material that is neither trained on nor reported.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

ANIME_SHOTS = 16
ANIME_FRAMES = 9
ANIME_SIZE = (288, 384)
ANIME_SEED = 2_600_000
TUNING_SEED = 2_700_000
STRIDES = (3, 4)


def _write(path: Path, frames: list[np.ndarray], rate: Fraction) -> None:
    """Lossless FFV1 (bgr0) through the package's own writer, under a temporary name until complete."""
    from ifrnet.io.files import atomic_output
    from ifrnet.video.frames import VideoInfo
    from ifrnet.video.options import EncodeSettings
    from ifrnet.video.writer import VideoFileWriter

    height, width = frames[0].shape[:2]
    with atomic_output(path) as tmp:
        sink = VideoFileWriter(
            tmp,
            VideoInfo(path, width, height, rate),
            rate,
            EncodeSettings(codec="ffv1", pix_fmt="bgr0"),
            container_format="matroska",
        )
        for i, image in enumerate(frames):
            sink.write(image, i)
        sink.close()
    print(f"wrote {path} ({len(frames)} frames, {width}x{height}, {float(rate):g} fps)")


def strided(holdout: Path, out: Path) -> None:
    from ifrnet.video.reader import open_source

    for clip in sorted(holdout.glob("*.mkv")):
        with open_source(clip) as source:
            rate = source.info.rate
            frames = [f.image for f in source.frames()]
        for stride in STRIDES:
            _write(out / f"{clip.stem}_stride{stride}.mkv", frames[::stride], rate)


def animation(path: Path, seed: int = ANIME_SEED) -> None:
    from ifrnet.data import SyntheticMotion

    scenes = SyntheticMotion(1, size=ANIME_SIZE, style="cel", max_shift=160.0, layers=(1, 4))
    frames = []
    for k in range(ANIME_SHOTS):
        frames += scenes.render_clip(np.random.default_rng(seed + k), ANIME_FRAMES)
    _write(path, frames, Fraction(24000, 1001))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdout", type=Path, default=Path("/work/train_data/holdout"))
    parser.add_argument("--out", type=Path, default=Path("/work/train_data/heldout_v2"))
    parser.add_argument("--tuning", type=Path, default=None, help="write only the tuning animation, here")
    args = parser.parse_args()
    if args.tuning is not None:
        args.tuning.mkdir(parents=True, exist_ok=True)
        animation(args.tuning / "anime_cel_tuning.mkv", TUNING_SEED)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    strided(args.holdout, args.out)
    animation(args.out / "anime_cel.mkv")


if __name__ == "__main__":
    main()
