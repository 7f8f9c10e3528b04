"""``ifrnet bench``, the one speed tool: every engine configuration side by side on the same inputs.

For each variant and size, plain eager fp32 ``model.inference`` as the authors' scripts run it
(``torch.no_grad``, grids rebuilt per call, ResBlock side channels copied: :func:`reference_eager`)
is timed first; then each configuration -- the torch engine in fp32 (its defaults, channels_last,
optionally torch.compile), bf16 and fp16 where the device has them, and onnxruntime and OpenVINO
(in each precision the CPU has natively) on an exported graph -- runs on the same frames,
and its row gives the median milliseconds per frame, the speed-up over that eager baseline measured
in the same run, the largest absolute difference from the eager output, and peak memory (CUDA:
``max_memory_allocated``; CPU: the largest growth of the process's resident set during the runs,
sampled every few milliseconds). Separately, peak memory at 4K with scale factor 1.0 and 0.5.

The paper's speed table (``ifrnet bench --paper``, ``ifrnet eval --speed``, ``benchmarks/speed.py``)
is :func:`format_paper` over the eager rows alone: params, conv FLOPs and eager ms per frame.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .backends.torch import Interpolator
from .devices import native_bf16
from .errors import CheckpointError, InputError
from .io.files import atomic_output
from .models import IFRNet, create_model
from .models.ops import reference_eager
from .times import padded_side

#: (width, height) of the issue's table: Vimeo90K's size, 720p and 1080p.
BENCH_SIZES: tuple[tuple[int, int], ...] = ((448, 256), (1280, 720), (1920, 1080))
#: The sizes of the paper's speed table.
PAPER_SIZES = BENCH_SIZES[:2]
UHD = (3840, 2160)


@dataclass
class BenchRow:
    model: str
    backend: str
    precision: str
    width: int
    height: int
    ms: float
    speedup: float
    max_abs_diff: float
    peak_mib: float


#: the CPU features that decide which paths are fast here: bf16 is native only with the last two
CPU_FLAGS = ("avx2", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def cpu_description() -> str:
    """The CPU's model name and which of :data:`CPU_FLAGS` it has (``/proc/cpuinfo``; Linux), e.g.
    ``"AMD EPYC 7B13 (avx2; no avx512f, avx512_bf16, amx_bf16)"``: figures differ between machines
    with and without native bf16, so every figure says which it was taken on."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    field = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[:40])}
    flags = set(field.get("flags", "").split())
    have = [f for f in CPU_FLAGS if f in flags]
    lacks = [f for f in CPU_FLAGS if f not in flags]
    name = field.get("model name") or platform.processor() or platform.machine()
    listed = ", ".join(have) or "none of " + ", ".join(CPU_FLAGS)
    return f"{name} ({listed}" + (f"; no {', '.join(lacks)})" if lacks else ")")


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's (:func:`cpu_description`) with the thread count torch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_description()}, {torch.get_num_threads()} threads"


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


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory(device: torch.device) -> Iterator[list[float]]:
    """Yields a one-item list that holds, on exit, the peak extra memory in MiB during the block."""
    result = [0.0]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield result
        torch.cuda.synchronize(device)
        result[0] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        return
    if not os.path.exists("/proc/self/statm"):  # not Linux: no cheap resident-set reading
        yield result
        result[0] = float("nan")
        return
    base = peak = _rss_bytes()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.002):
            peak = max(peak, _rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result[0] = (max(peak, _rss_bytes()) - base) / 2**20


def _timed(run: Callable[[], np.ndarray], device: torch.device, repeats: int, warmup: int) -> tuple[float, np.ndarray]:
    times, out = [], None
    for i in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), out


@dataclass(frozen=True)
class Config:
    """One torch engine configuration: its row label and ``Interpolator`` options."""

    label: str
    precision: str = "fp32"
    channels_last: bool | None = None
    compile: bool = False


def configurations(
    device: torch.device, precisions: Sequence[str] | None = None, compile: bool = False
) -> list[Config]:
    """The torch configurations to measure on ``device``, eager fp32 excluded.

    fp32 with the engine's defaults and with channels_last (and compiled, if asked); bf16 by
    default only where it is native (:func:`~ifrnet.devices.native_bf16`: elsewhere oneDNN emulates
    it, several times slower than fp32) and fp16 only on a GPU; ``precisions`` names them explicitly
    (fp16 still needs a GPU).
    """
    if precisions is None:
        precisions = ["fp32"]
        if device.type == "cuda":
            precisions.append("fp16")
        if native_bf16(device):
            precisions.append("bf16")
    configs = []
    for precision in precisions:
        if precision == "fp16" and device.type == "cpu":
            continue
        configs.append(Config("torch", precision, channels_last=False))
        if precision == "fp32":
            configs.append(Config("torch channels_last", precision, channels_last=True))
        if compile:
            configs.append(Config("torch compiled", precision, compile=True))
    return configs


def seeded_variant(name: str) -> IFRNet:
    """The variant with random weights seeded with 0: what the bench times, and what ``--onnx-dir``
    exports, so that onnxruntime rows are compared with the same weights."""
    torch.manual_seed(0)
    return create_model(name).eval()


def bench(
    models: Sequence[str],
    sizes: Sequence[tuple[int, int]],
    device: torch.device,
    onnx_graphs: dict[str, Path] | None = None,
    precisions: Sequence[str] | None = None,
    repeats: int = 5,
    warmup: int = 1,
    on_row: Callable[[BenchRow], None] | None = None,
    compile: bool = False,
) -> list[BenchRow]:
    """Rows of the comparison; ``onnx_graphs`` maps a variant to its exported graph (none: no onnx rows).

    Models get random weights seeded with 0 (``torch.manual_seed(0)``): speed does not depend on
    the weights, and graphs exported from the same seed give comparable outputs.
    """
    rows: list[BenchRow] = []
    for name in models:
        model = seeded_variant(name).to(device)
        graph = (onnx_graphs or {}).get(name)
        for width, height in sizes:
            configs = configurations(device, precisions, compile)
            for row in _bench_size(model, width, height, device, graph, configs, repeats, warmup):
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    return rows


def paper_rows(
    models: Sequence[str],
    device: torch.device,
    sizes: Sequence[tuple[int, int]] = PAPER_SIZES,
    repeats: int = 5,
    warmup: int = 1,
    on_row: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
    """The rows of the paper's speed table (:func:`format_paper`): the eager fp32 baseline alone,
    per variant and size (``ifrnet bench --paper`` and ``ifrnet eval --speed``)."""
    return bench(models, sizes, device, precisions=[], repeats=repeats, warmup=warmup, on_row=on_row)


def timing_line(device: torch.device, repeats: int, warmup: int) -> str:
    """What the figures were measured on and how, the line printed above a table."""
    return (
        f"device: {device_name(device)}; torch {torch.__version__}; batch 1, "
        f"median of {repeats} runs after {warmup} warm-up"
    )


def _bench_size(
    model: IFRNet,
    width: int,
    height: int,
    device: torch.device,
    graph: Path | None,
    configs: Sequence[Config],
    repeats: int,
    warmup: int,
) -> Iterator[BenchRow]:
    h, w = padded_side(height), padded_side(width)
    gen = torch.Generator().manual_seed(0)
    img0, img1 = (torch.rand(1, 3, h, w, generator=gen).to(device) for _ in range(2))
    embt = torch.full((1, 1, 1, 1), 0.5, device=device)

    def eager() -> np.ndarray:
        with torch.no_grad(), reference_eager():
            return model.inference(img0, img1, embt).float().cpu().numpy()

    with peak_memory(device) as peak:
        base_ms, reference = _timed(eager, device, repeats, warmup)
    yield BenchRow(model.config.name, "torch eager", "fp32", width, height, base_ms, 1.0, 0.0, peak[0])

    def row(backend: str, precision: str, run: Callable[[], np.ndarray], memory_device: torch.device) -> BenchRow:
        with peak_memory(memory_device) as peak:
            ms, out = _timed(run, device, repeats, warmup)
        diff = float(np.abs(out - reference).max())
        return BenchRow(model.config.name, backend, precision, width, height, ms, base_ms / ms, diff, peak[0])

    for config in configs:
        engine = Interpolator(
            model, device, precision=config.precision, channels_last=config.channels_last, compile=config.compile
        )
        yield row(
            config.label,
            config.precision,
            lambda e=engine: e.interpolate(img0, img1, [0.5])[0].float().cpu().numpy(),
            device,
        )
        model.to(memory_format=torch.contiguous_format)
    if graph is not None:
        from .backends.onnx import OnnxInterpolator

        runtime = OnnxInterpolator(graph, device=str(device))
        # float32 (B, 3, H, W) frames of a size the network takes: interpolate() pads nothing
        a, b = img0.cpu().numpy(), img1.cpu().numpy()
        on_cpu = runtime.device_kind == "cpu"
        yield row(
            "onnxruntime",
            "fp32",
            lambda: runtime.interpolate(a, b, [0.5])[0],
            torch.device("cpu") if on_cpu else device,
        )
        if device.type == "cpu":
            yield from _openvino_rows(graph, a, b, sorted({c.precision for c in configs}), row)


def _openvino_rows(graph: Path, a: np.ndarray, b: np.ndarray, precisions: Sequence[str], row) -> Iterator[BenchRow]:
    """OpenVINO on the same graph, in each of ``precisions`` the CPU has natively (where OpenVINO
    is installed), and on ``VARIANT_int8.xml`` beside it when there is one: the first call compiles
    for the shape, so the warm-up run pays for it."""
    from .backends.openvino import OpenVinoInterpolator

    for precision in precisions:
        try:
            engine = OpenVinoInterpolator(graph, precision=precision)
        except InputError:  # not installed, or not native on this CPU: no row rather than an emulated one
            continue
        yield row("openvino", precision, lambda e=engine: e.interpolate(a, b, [0.5])[0], torch.device("cpu"))
    # an int8 graph beside the fp32 one ('ifrnet export --precision int8 -o DIR/VARIANT_int8.xml')
    int8 = graph.with_name(f"{graph.stem}_int8.xml")
    if int8.is_file():
        try:
            engine = OpenVinoInterpolator(int8)
        except (InputError, CheckpointError):  # OpenVINO missing, or a damaged file: no row, as above
            return
        yield row("openvino", "int8", lambda: engine.interpolate(a, b, [0.5])[0], torch.device("cpu"))


def uhd_memory(models: Sequence[str], device: torch.device, scales: Sequence[float] = (1.0, 0.5)) -> list[dict]:
    """Peak extra memory (MiB) of one 4K inference per variant and scale factor."""
    results = []
    width, height = UHD
    for name in models:
        model = create_model(name).to(device).eval()
        for scale in scales:
            engine = Interpolator(model, device, scale_factor=scale)
            frame = torch.rand(1, 3, height, width, device=device)
            with peak_memory(device) as peak:
                engine.interpolate(frame, frame, [0.5])
            results.append(
                {"model": name, "scale_factor": scale, "width": width, "height": height, "peak_mib": peak[0]}
            )
    return results


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


def format_rows(rows: Sequence[BenchRow]) -> str:
    header = ["variant", "size", "backend", "precision", "ms/frame", "speed-up", "max |diff|", "peak MiB"]
    cells = [
        [r.model, f"{r.width}x{r.height}", r.backend, r.precision, f"{r.ms:.1f}", f"{r.speedup:.2f}x",
         f"{r.max_abs_diff:.1e}", f"{r.peak_mib:.0f}"]
        for r in rows
    ]  # fmt: skip
    return format_table(header, cells)


def format_paper(rows: Sequence[BenchRow]) -> str:
    """The paper's speed table from the eager fp32 rows: per variant its params, and at each size
    the conv GFLOPs and the median ms per frame."""
    eager = {(r.model, r.width, r.height): r.ms for r in rows if r.backend == "torch eager"}
    models = list(dict.fromkeys(m for m, _, _ in eager))
    sizes = list(dict.fromkeys((w, h) for _, w, h in eager))
    header = ["variant", "params (M)"] + [f"GFLOPs {w}x{h}" for w, h in sizes] + [f"ms {w}x{h}" for w, h in sizes]
    cells = []
    for name in models:
        with torch.device("meta"):  # parameters counted without allocating them
            params = count_parameters(create_model(name))
        # counted at the padded size the frames were timed at
        gflops = [count_conv_flops(name, padded_side(w), padded_side(h)) / 1e9 for w, h in sizes]
        cells.append(
            [name, f"{params / 1e6:.2f}"]
            + [f"{g:.1f}" for g in gflops]
            + [f"{eager[name, w, h]:.1f}" for w, h in sizes]
        )
    return format_table(header, cells)


def write_json(path: str | os.PathLike, device: torch.device, rows: Sequence[BenchRow], uhd: Sequence[dict]) -> Path:
    out = Path(path)
    data = {
        "device": device_name(device),
        "torch": torch.__version__,
        "rows": [asdict(r) for r in rows],
        "uhd_memory": list(uhd),
    }
    with atomic_output(out) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return out
