"""Where ``--scale auto`` should switch to half scale: PSNR at scale 1 and 0.5 against the probe's motion.

    python benchmarks/auto_scale.py --checkpoint W CLIP[:FACTOR[:WINDOWS]] ... [--json FILE]

For every window of each clip (``ifrnet eval --video``'s held-out frames: FACTOR 2 holds out every
other frame, 4 three of every four; windows across a scene cut skipped) it runs the weights at
network scale 1 and 0.5 and the probe that ``--scale auto`` uses
(:meth:`ifrnet.backends.torch.Interpolator.pair_scales`: the 95th-percentile displacement between the
inputs from a quarter-scale pass), then prints, for a range of thresholds, the mean PSNR (dB) of
each clip if the pairs whose motion exceeds the threshold ran at 0.5 -- scale 1 is the threshold
"inf", scale 0.5 everywhere the threshold 0. Choose the threshold on clips that are not the ones
you report on. The CPU it ran on (and whether it has native bf16) is printed first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

THRESHOLDS = (0.0, 8.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0, float("inf"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+", help="CLIP[:FACTOR[:WINDOWS]] (factor 2, every window by default)")
    parser.add_argument("--checkpoint", default=None, help="weights (a tag or a file; default: the shipped ones)")
    parser.add_argument("--json", default=None, help="also write the per-window figures here")
    args = parser.parse_args()

    from ifrnet import Interpolator, load_model
    from ifrnet.bench import cpu_description
    from ifrnet.evaluation.footage import FootageProtocol
    from ifrnet.metrics import psnr

    print(f"CPU: {cpu_description()}")
    model = load_model(checkpoint=args.checkpoint, device="cpu").float()
    engines = {scale: Interpolator(model, scale_factor=scale) for scale in (1.0, 0.5)}
    probe = Interpolator(model, scale_factor="auto")
    rows: dict[str, list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for spec in args.clips:
            clip, *rest = spec.split(":")
            factor, windows = (rest + ["2", ""][len(rest) :])[:2]
            protocol = FootageProtocol(
                clip, factor=int(factor), limit=int(windows) if windows else None, cache_dir=cache
            )
            label = f"{Path(clip).stem} {factor}x"
            for sample in protocol:
                motion = probe.motion(sample.img0, sample.img1)[0]
                times, targets = zip(*sample.targets, strict=True)
                scores = []
                for engine in engines.values():
                    frames = engine.interpolate(sample.img0, sample.img1, times)
                    scores.append(float(np.mean([psnr(f, y).item() for f, y in zip(frames, targets, strict=True)])))
                rows.setdefault(label, []).append((motion, *scores))
            print(f"{label}: {len(rows.get(label, []))} windows", flush=True)

    head = ["threshold (px)", *rows]
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for threshold in THRESHOLDS:
        cells = []
        for values in rows.values():
            chosen = [half if motion > threshold else full for motion, full, half in values]
            share = np.mean([motion > threshold for motion, _, _ in values])
            cells.append(f"{np.mean(chosen):.2f} ({share:.0%} at 0.5)")
        print(f"| {threshold:g} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_description(), "windows": rows}, indent=1))


if __name__ == "__main__":
    main()
