"""An int8 graph against its fp32 graph on the project's held-out clips, and their speed.

    python benchmarks/int8_quality.py --fp32 IFRNet_S.onnx --int8 IFRNet_S_int8.xml [--json FILE]

Held out (never calibrated on, never trained on by the shipped weights): triplets of
``opencv_vtest.avi`` frames 0-299 and of ``visp_castel.mkv`` from ``../shared/data``, at their own
size, t = 0.5, scored by PSNR (8-bit, :func:`ifrnet.metrics.psnr_uint8`) against the real middle
frame, both graphs on OpenVINO in fp32 arithmetic (``--precision bf16``: bf16 for their float ops);
then median ms per 1280x720 frame for each. The rows are labelled fp32 and int8 after the graphs.
Prints which CPU flags the figures were taken with (avx512_bf16 or not).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import av
import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: clip, first frame, last frame, step between triplets
HELD_OUT = (("opencv_vtest.avi", 0, 299, 15), ("visp_castel.mkv", 0, 29, 3))


def _frames(name: str, last: int) -> list[np.ndarray]:
    with av.open(str(SHARED / name)) as container:
        frames = []
        for i, frame in enumerate(container.decode(video=0)):
            if i > last:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", required=True, help="the graph from 'ifrnet export'")
    parser.add_argument("--int8", required=True, help="the IR from 'ifrnet export --precision int8'")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--precision", default="fp32", choices=("fp32", "bf16"),
        help="OpenVINO's arithmetic for both graphs' float ops (bf16: what auto runs where the CPU has it)",
    )  # fmt: skip
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import torch

    from ifrnet.backends.openvino import OpenVinoInterpolator
    from ifrnet.bench import cpu_description
    from ifrnet.metrics import psnr_uint8

    engines = {
        "fp32": OpenVinoInterpolator(args.fp32, precision=args.precision),
        "int8": OpenVinoInterpolator(args.int8, precision=args.precision),
    }
    report: dict = {"cpu": cpu_description(), "psnr": {}, "ms_1280x720": {}}
    print(f"CPU: {report['cpu']}")
    for name, first, last, step in HELD_OUT:
        frames = _frames(name, last)
        triplets = [(frames[i], frames[i + 1], frames[i + 2]) for i in range(first, len(frames) - 2, step)]
        scores = {}
        for label, engine in engines.items():
            values = []
            for a, truth, b in triplets:
                out = engine.interpolate(a, b, [0.5])[0]
                pred = torch.from_numpy(out.transpose(2, 0, 1).copy())[None].float() / 255
                target = torch.from_numpy(truth.transpose(2, 0, 1).copy())[None].float() / 255
                values.append(float(psnr_uint8(pred, target)[0]))
            scores[label] = statistics.mean(values)
        report["psnr"][name] = {**scores, "triplets": len(triplets)}
        print(
            f"{name}: {len(triplets)} triplets, PSNR fp32 {scores['fp32']:.2f} dB, int8 {scores['int8']:.2f} dB "
            f"({scores['int8'] - scores['fp32']:+.2f})",
            flush=True,
        )
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(2))
    for label, engine in engines.items():
        engine.interpolate(a, b, [0.5])  # compiles for the shape
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            engine.interpolate(a, b, [0.5])
            times.append((time.perf_counter() - start) * 1000)
        report["ms_1280x720"][label] = statistics.median(times)
        print(f"{label}: {report['ms_1280x720'][label]:.0f} ms per 1280x720 frame (median of {args.repeats})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
