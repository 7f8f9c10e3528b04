"""Speed table in the paper's format: params, conv FLOPs and median ms per frame per variant.

    python benchmarks/speed.py                  # 448x256 and 1280x720, all variants, best device
    python benchmarks/speed.py --device cpu --repeats 5 --sizes 448x256

Prints figures; asserts nothing. Each time is one batch-1 2x inference (``model.inference``)
on random frames after warm-up, the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch

from ifrnet.benchmark import PAPER_SIZES, count_conv_flops, count_parameters, format_table, time_inference
from ifrnet.devices import resolve_device
from ifrnet.models import create_model, list_models


def _size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list_models())
    parser.add_argument("--sizes", nargs="+", type=_size, default=list(PAPER_SIZES), metavar="WxH")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    device = resolve_device(args.device)
    header = ["variant", "params (M)"]
    header += [f"GFLOPs {w}x{h}" for w, h in args.sizes] + [f"ms {w}x{h}" for w, h in args.sizes]
    rows = []
    for name in args.models:
        model = create_model(name)
        row = [model.config.name, f"{count_parameters(model) / 1e6:.2f}"]
        row += [f"{count_conv_flops(name, w, h) / 1e9:.1f}" for w, h in args.sizes]
        for w, h in args.sizes:
            times = time_inference(model, w, h, device, repeats=args.repeats, warmup=args.warmup)
            row.append(f"{statistics.median(times):.1f}")
        rows.append(row)
        print(f"  measured {model.config.name}", flush=True)
    print(f"\ndevice: {device_name(device)}; torch {torch.__version__}; median of {args.repeats} runs, batch 1")
    print(format_table(header, rows))


if __name__ == "__main__":
    main()
