"""Where weights lose to the DIS-flow baseline on generated animation: PSNR and flow precision.

    python scripts/diagnose_cel_flow.py --checkpoint runs/v2/ifrnet_s_v2_soup75_fp16.safetensors
        [--scenes 24] [--shift 40] [--seed 1000]

Renders ``--scenes`` cel scenes as ``scripts/make_v2_heldout.py``'s animation is rendered
(``SyntheticMotion(style="cel")``, 384x288, 1-4 layers) with layers moving up to ``--shift`` px
between the inputs (40: the held-out animation's 2x pairs) and the middle frame at t = 1/2, and
prints, averaged over the scenes:

- PSNR (dB) of the weights, of the weights' own mask and residual with the exact flows put in
  place of theirs ("oracle flow"; below the weights' own when mask and residual were learnt around
  their flows), and of the DIS-flow baseline (``ifrnet.evaluation.baselines.DISInterpolation``);
- the end-point error (px) of the final t -> 0 flow against the exact label, over every pixel, over
  pixels one layer owns in all three frames (no occlusion), and over those of them on an edge (Sobel
  magnitude of the middle frame's grey level > 100 on 0-255), where a flow error shows as a doubled
  outline; a flat region's flow is free to be wrong without cost.

Numbers in MODEL_CARD.md, "Fourth stage". Seeds 1000 + i are not those of the held-out or tuning clips.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from ifrnet import load_model
from ifrnet.data import SyntheticMotion
from ifrnet.evaluation.baselines import DISInterpolation
from ifrnet.metrics import psnr

#: Sobel gradient magnitude (grey levels 0-255) above which a pixel counts as an edge
EDGE_GRADIENT = 100.0


def _tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="weights (a tag or a file)")
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--shift", type=float, default=40.0, help="largest layer motion between the inputs, px")
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()

    model = load_model(checkpoint=args.checkpoint, device="cpu").float()
    scenes = SyntheticMotion(1, size=(288, 384), style="cel", max_shift=args.shift, layers=(1, 4), fixed_t=0.5)
    dis = DISInterpolation()
    scores: dict[str, list[float]] = {}
    errors: dict[str, list[np.ndarray]] = {"all": [], "unoccluded": [], "unoccluded edges": []}
    for i in range(args.scenes):
        item = scenes.render(np.random.default_rng(args.seed + i))
        img0, imgt, img1 = (_tensor(f) for f in item.frames)
        label = torch.from_numpy(item.flow).permute(2, 0, 1)[None]
        x0, x1, mean = model.normalize(img0, img1)
        decoded = model.decode(*model.encode(x0, x1), torch.full((1, 1, 1, 1), item.t))
        oracle = decoded._replace(flow0=label[:, :2], flow1=label[:, 2:])
        outputs = {
            "weights": model.synthesize(x0, x1, mean, decoded),
            "oracle flow": model.synthesize(x0, x1, mean, oracle),
            "dis": dis(img0, img1, [item.t])[0],
        }
        for name, out in outputs.items():
            scores.setdefault(name, []).append(psnr(out, imgt).item())
        error = (decoded.flow0 - label[:, :2]).norm(dim=1)[0].numpy()
        grey = cv2.cvtColor(item.frames[1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
        unoccluded = (item.owner[0] == item.owner[1]) & (item.owner[2] == item.owner[1]) & item.solid[1]
        errors["all"].append(error.ravel())
        errors["unoccluded"].append(error[unoccluded])
        errors["unoccluded edges"].append(error[unoccluded & (gradient > EDGE_GRADIENT)])

    print(f"{args.checkpoint}: {args.scenes} cel scenes, layers moving up to {args.shift:g} px, t = 1/2")
    print("PSNR dB: " + ", ".join(f"{name} {np.mean(v):.2f}" for name, v in scores.items()))
    for name, parts in errors.items():
        e = np.concatenate(parts)
        spread = f"mean {e.mean():.2f}, median {np.median(e):.2f}, p90 {np.percentile(e, 90):.2f}"
        print(f"t->0 flow EPE px, {name} ({e.size} px): {spread}")


if __name__ == "__main__":
    main()
