"""``ifrnet bench``: every variant x backend x precision side by side, or the paper's speed table."""

from __future__ import annotations

import argparse

from ..engine import PRECISIONS
from .options import int_at_least, size

NAME = "bench"
HELP = "every variant x backend x precision side by side: ms/frame, speed-up, difference, memory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", default=None, help="variants (default: all)")
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=size,
        default=None,
        metavar="WxH",
        help="default 448x256 1280x720 1920x1080 (with --paper: 448x256 1280x720)",
    )
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=None)
    parser.add_argument(
        "--onnx-dir",
        default=None,
        help="add onnxruntime and OpenVINO rows; graphs are exported here once (an int8 VARIANT_int8.xml "
        "from 'ifrnet export --precision int8' there adds its row)",
    )
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int_at_least(1), default=5)
    parser.add_argument("--warmup", type=int_at_least(0), default=1)
    parser.add_argument("--no-uhd", action="store_true", help="skip the 4K peak-memory measurement")
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows (slow to start)")
    parser.add_argument(
        "--paper",
        action="store_true",
        help="the paper's speed table instead: params, conv GFLOPs and eager fp32 ms/frame per variant "
        "(only the eager baseline is timed; no 4K memory)",
    )
    parser.add_argument("--json", default=None, help="also write the figures as JSON")
    parser.add_argument("-q", "--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError

    if args.paper and (args.precisions or args.onnx_dir or args.compile):
        raise InputError("--paper times only the eager fp32 baseline; drop --precisions, --onnx-dir and --compile")
    if args.paper:
        return print_paper(args.device, args.models, args.sizes, args.repeats, args.warmup, args.quiet, args.json)
    from .. import bench as tool
    from ..devices import resolve_device

    device = resolve_device(args.device)
    models = _models(args.models)
    rows = tool.bench(
        models,
        args.sizes or list(tool.BENCH_SIZES),
        device,
        onnx_graphs=_graphs(models, args.onnx_dir),
        precisions=args.precisions,
        repeats=args.repeats,
        warmup=args.warmup,
        on_row=None if args.quiet else _print_row,
        compile=args.compile,
    )
    print(tool.timing_line(device, args.repeats, args.warmup))
    print(tool.format_rows(rows))
    uhd = [] if args.no_uhd else tool.uhd_memory(models, device)
    for entry in uhd:
        print(f"4K peak memory, {entry['model']} at scale {entry['scale_factor']:g}: {entry['peak_mib']:.0f} MiB")
    if args.json:
        print(f"wrote {tool.write_json(args.json, device, rows, uhd)}")
    return 0


def print_paper(
    device: str | None,
    models: list[str] | None = None,
    sizes: list[tuple[int, int]] | None = None,
    repeats: int = 5,
    warmup: int = 1,
    quiet: bool = False,
    json: str | None = None,
) -> int:
    """``ifrnet bench --paper`` and ``ifrnet eval --speed``: the paper's speed table on ``device``."""
    from .. import bench as tool
    from ..devices import resolve_device

    where = resolve_device(device)
    rows = tool.paper_rows(
        _models(models), where, sizes or tool.PAPER_SIZES, repeats, warmup, None if quiet else _print_row
    )
    print(tool.timing_line(where, repeats, warmup))
    print(tool.format_paper(rows))
    if json:
        print(f"wrote {tool.write_json(json, where, rows, [])}")
    return 0


def _models(names: list[str] | None) -> list[str]:
    from ..models import canonical_name, list_models

    return [canonical_name(m) for m in names] if names else list_models()


def _graphs(models: list[str], folder: str | None) -> dict:
    """Each variant's graph in ``folder`` (``--onnx-dir``), exported there once."""
    if not folder:
        return {}
    from pathlib import Path

    from .. import bench as tool
    from ..graphs.export import export_onnx

    graphs = {}
    Path(folder).mkdir(parents=True, exist_ok=True)
    for name in models:
        graphs[name] = Path(folder) / f"{name}.onnx"
        if not graphs[name].is_file():
            print(f"exporting {name} to {graphs[name]} (once; reused next time)", flush=True)
            export_onnx(tool.seeded_variant(name), graphs[name])
    return graphs


def _print_row(row) -> None:
    print(f"  {row.model} {row.width}x{row.height} {row.backend} {row.precision}: {row.ms:.1f} ms", flush=True)
