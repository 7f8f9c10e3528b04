"""Measurements shared by ``ifrnet info``, ``benchmarks/speed.py`` and later the evaluation tools."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .models import IFRNet, create_model

#: The paper's speed-table resolutions, (width, height).
PAPER_SIZES: tuple[tuple[int, int], ...] = ((448, 256), (1280, 720))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_conv_flops(name: str, width: int, height: int) -> int:
    """Convolution FLOPs (2 per multiply-add) of one 2x inference at ``width`` x ``height``.

    Counted by ``torch.utils.flop_counter`` on the meta device, so nothing is computed and
    any size is cheap. Warping, resizing and activations are not included.
    """
    with torch.device("meta"):
        model = create_model(name)
        img = torch.empty(1, 3, height, width)
        embt = torch.full((1, 1, 1, 1), 0.5)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.inference(img, img, embt)
    return int(counter.get_total_flops())


def time_inference(
    model: IFRNet, width: int, height: int, device: torch.device, repeats: int = 10, warmup: int = 2
) -> list[float]:
    """Wall-clock milliseconds of ``repeats`` batch-1 inferences on random frames (after warm-up)."""
    gen = torch.Generator().manual_seed(0)
    img0 = torch.rand(1, 3, height, width, generator=gen).to(device)
    img1 = torch.rand(1, 3, height, width, generator=gen).to(device)
    embt = torch.full((1, 1, 1, 1), 0.5, device=device)
    model = model.to(device).eval()
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model.inference(img0, img1, embt)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000.0)
    return times


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with right-aligned numeric columns."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with the thread count torch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def speed_table(
    names: Sequence[str],
    sizes: Sequence[tuple[int, int]],
    device: torch.device,
    repeats: int = 10,
    warmup: int = 2,
    on_row: Callable[[str], None] | None = None,
) -> str:
    """The paper's speed table: params, conv GFLOPs and median ms per 2x frame for each variant and size."""
    header = ["variant", "params (M)"]
    header += [f"GFLOPs {w}x{h}" for w, h in sizes] + [f"ms {w}x{h}" for w, h in sizes]
    rows = []
    for name in names:
        model = create_model(name)
        row = [model.config.name, f"{count_parameters(model) / 1e6:.2f}"]
        row += [f"{count_conv_flops(name, w, h) / 1e9:.1f}" for w, h in sizes]
        for w, h in sizes:
            row.append(f"{statistics.median(time_inference(model, w, h, device, repeats, warmup)):.1f}")
        rows.append(row)
        if on_row is not None:
            on_row(model.config.name)
    title = f"device: {device_name(device)}; torch {torch.__version__}; median of {repeats} runs, batch 1"
    return title + "\n" + format_table(header, rows)
