"""Training throughput: samples per second of one optimisation step (forward, losses, backward, AdamW).

    python benchmarks/train_speed.py                     # IFRNet and IFRNet_S, batch 2, 224x224, fp32 and bf16
    python benchmarks/train_speed.py --device cuda --precisions fp32 bf16 fp16

Random frames and a random flow label (so the distillation term runs too); data loading is
not included. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ifrnet.devices import native_bf16, resolve_device
from ifrnet.engine import PRECISIONS
from ifrnet.models import create_model
from ifrnet.training.losses import LossForward


def measure(
    name: str,
    precision: str,
    device: torch.device,
    batch: int,
    size: int,
    steps: int,
    warmup: int,
    channels_last: bool = False,
    compiled: bool = False,
) -> float:
    torch.manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    step = LossForward(create_model(name).to(device, memory_format=layout)).train()
    optimizer = torch.optim.AdamW(step.parameters(), lr=1e-4)
    forward = torch.compile(step) if compiled else step
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16" and device.type == "cuda")
    img0, imgt, img1 = (
        torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=layout) for _ in range(3)
    )
    flow = torch.randn(batch, 4, size, size, device=device)
    embt = torch.full((batch, 1, 1, 1), 0.5, device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    times = []
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = forward(img0, img1, embt, imgt, flow)["total"]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss.float()).backward()
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["IFRNet", "IFRNet_S"])
    # --amp and none: the names ifrnet train used before --precision
    parser.add_argument(
        "--precisions",
        "--amp",
        nargs="+",
        default=["fp32", "bf16"],
        choices=PRECISIONS,
        type=lambda text: "fp32" if text == "none" else text,
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true", help="NHWC memory layout for model and frames")
    parser.add_argument("--compile", action="store_true", help="torch.compile the forward and losses")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(
        f"device {device}, {torch.get_num_threads()} threads, batch {args.batch}, {args.size}x{args.size}, "
        f"median of {args.steps} steps"
        + (", channels_last" if args.channels_last else "")
        + (", compiled" if args.compile else "")
    )
    if device.type == "cpu":
        native = native_bf16(device)
        print(f"native bf16 convolutions on this CPU (oneDNN): {'yes' if native else 'no: bf16 runs a slow fallback'}")
    print(f"{'variant':<10}" + "".join(f"{p + ' samples/s':>18}" for p in args.precisions))
    for name in args.models:
        rates = [
            measure(name, p, device, args.batch, args.size, args.steps, args.warmup, args.channels_last, args.compile)
            for p in args.precisions
        ]
        print(f"{name:<10}" + "".join(f"{r:>18.2f}" for r in rates), flush=True)


if __name__ == "__main__":
    main()
