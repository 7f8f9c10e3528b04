"""Score weights on the held-out real footage, as MODEL_CARD.md reports them.

    python scripts/evaluate_starter.py [--checkpoint starter] [--data DIR] [--out eval/starter] [--overwrite]

Runs ``ifrnet eval --video`` at 2x and 4x on the held-out clips that
``scripts/prepare_starter_data.py`` wrote (frames 0-299 of opencv_vtest.avi, all of visp_castel.mkv)
against linear blend and FFmpeg's minterpolate (and repeat and DIS for context), then measures
whether the weights honour t: on 4x windows, the predictions at t = 1/4 and 3/4 against the t = 1/2
prediction, both scored on the true frames at 1/4 and 3/4, and whether they estimate motion at all:
the end-point error of their flows on rendered scenes with exact flow, against predicting no motion.
Prints markdown for the model card.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ifrnet import IFRNet, Interpolator, load_model
from ifrnet.data import SyntheticMotion
from ifrnet.evaluation.footage import FootageProtocol
from ifrnet.evaluation.run import run_evaluation
from ifrnet.metrics import psnr
from ifrnet.models.ops import resize
from ifrnet.training.losses import DISTILLED_SCALES

#: (clip in the held-out folder, factor, windows) -- windows from the clip's start
RUNS = (
    ("opencv_vtest_f0-299.mkv", 2, 60),
    ("opencv_vtest_f0-299.mkv", 4, 30),
    ("visp_castel.mkv", 2, None),
    ("visp_castel.mkv", 4, None),
)
METHODS = "ifrnet,repeat,blend,dis,minterpolate"


def honours_t(interpolator: Interpolator, clip: Path, cache: Path, windows: int = 20) -> dict[float, float]:
    """Mean PSNR gain (dB) of predicting t = 1/4 and 3/4 directly over using the t = 1/2 frame."""
    protocol = FootageProtocol(clip, factor=4, limit=windows, cache_dir=cache)
    gains: dict[float, list[float]] = {0.25: [], 0.75: []}
    for sample in protocol:
        targets = dict(sample.targets)
        frames = interpolator.interpolate(sample.img0, sample.img1, [0.25, 0.5, 0.75])
        for t, frame in ((0.25, frames[0]), (0.75, frames[2])):
            gains[t].append((psnr(frame, targets[t]) - psnr(frames[1], targets[t])).item())
    return {t: float(np.mean(v)) for t, v in gains.items()}


@torch.no_grad()
def flow_errors(model: IFRNet, scenes: int = 16, seed: int = 2024) -> dict[str, float]:
    """Mean end-point error (px, full resolution) of the t -> 0 flows on rendered scenes with exact flow.

    A network that blends instead of warping has flows near zero: its errors then equal the
    ``no motion`` row. Levels 4, 3, 2 are upsampled to full resolution as the distillation loss does.
    """
    data = SyntheticMotion(scenes, size=(256, 256), seed=seed)
    param = next(model.parameters())
    errors: dict[str, list[float]] = {}
    for i in range(scenes):
        item = data.render(np.random.default_rng(seed + i))
        img0, _, img1 = (torch.from_numpy(f).permute(2, 0, 1)[None].to(param) / 255 for f in item.frames)
        label = torch.from_numpy(item.flow).permute(2, 0, 1)[None, :2].to(param)
        x0, x1, _ = model.normalize(img0, img1)
        decoded = model.decode(*model.encode(x0, x1), torch.full((1, 1, 1, 1), item.t).to(param))
        flows = zip(("level 4", "level 3", "level 2"), decoded.coarse_flows0, DISTILLED_SCALES[::-1], strict=True)
        rows = [(name, scale * resize(flow, scale)) for name, flow, scale in flows]
        rows += [("final", decoded.flow0), ("no motion (zero flow)", torch.zeros_like(label))]
        for name, flow in rows:
            errors.setdefault(name, []).append((flow - label).norm(dim=1).mean().item())
    return {name: float(np.mean(v)) for name, v in errors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="starter")
    parser.add_argument("--data", type=Path, default=Path("/work/train_data"))
    parser.add_argument("--out", type=Path, default=Path("eval/starter"))
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--overwrite", action="store_true", help="recompute rows --out holds from other weights")
    args = parser.parse_args()
    model = load_model(checkpoint=args.checkpoint, device="cpu")
    print("\n### Motion estimation (t -> 0 flow end-point error on 16 rendered scenes, px)\n")
    for name, error in flow_errors(model.float()).items():
        print(f"- {name}: {error:.2f}")
    for clip, factor, limit in RUNS:
        path = args.data / "holdout" / clip
        result = run_evaluation(
            video=str(path),
            factor=factor,
            limit=limit,
            methods=args.methods,
            out=str(args.out / f"{Path(clip).stem}_{factor}x"),
            engine_factory=lambda scale: Interpolator(model, scale_factor=scale),
            progress=False,
            overwrite=args.overwrite,
        )
        print(f"\n### {result.table.splitlines()[0]}\n")
        print("\n".join(result.table.splitlines()[1:]), flush=True)
    gains = honours_t(
        Interpolator(model), args.data / "holdout" / RUNS[0][0], args.out / "opencv_vtest_f0-299_4x" / ".frames"
    )
    print("\n### Honouring t (opencv_vtest.avi frames 0-80, 4x windows)\n")
    for t, gain in gains.items():
        print(f"- t = {t}: prediction at t beats the t = 0.5 prediction by {gain:+.2f} dB PSNR on the true frame")


if __name__ == "__main__":
    main()
