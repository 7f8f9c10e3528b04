"""``ifrnet bench``: every variant x backend x precision side by side."""

from __future__ import annotations

import argparse

from ..engine import PRECISIONS
from .options import int_at_least, size


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench", help="every variant x backend x precision side by side: ms/frame, speed-up, difference, memory"
    )
    bench.add_argument("--models", nargs="+", default=None, help="variants (default: all)")
    bench.add_argument(
        "--sizes", nargs="+", type=size, default=None, metavar="WxH", help="default 448x256 1280x720 1920x1080"
    )
    bench.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=None)
    bench.add_argument("--onnx-dir", default=None, help="add onnxruntime rows; graphs are exported here once")
    bench.add_argument("--device", default=None)
    bench.add_argument("--repeats", type=int_at_least(1), default=5)
    bench.add_argument("--warmup", type=int, default=1)
    bench.add_argument("--no-uhd", action="store_true", help="skip the 4K peak-memory measurement")
    bench.add_argument("--compile", action="store_true", help="add torch.compile rows (slow to start)")
    bench.add_argument("--json", default=None, help="also write the figures as JSON")
    bench.add_argument("-q", "--quiet", action="store_true")
    bench.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..bench import BENCH_SIZES, bench, format_rows, seeded_variant, uhd_memory, write_json
    from ..devices import resolve_device
    from ..models import canonical_name, list_models

    device = resolve_device(args.device)
    models = [canonical_name(m) for m in args.models] if args.models else list_models()
    graphs = {}
    if args.onnx_dir:
        from ..export import export_onnx

        folder = Path(args.onnx_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name in models:
            graphs[name] = folder / f"{name}.onnx"
            if not graphs[name].is_file():
                print(f"exporting {name} to {graphs[name]} (once; reused next time)", flush=True)
                export_onnx(seeded_variant(name), graphs[name])
    rows = bench(
        models,
        args.sizes or list(BENCH_SIZES),
        device,
        onnx_graphs=graphs,
        precisions=args.precisions,
        repeats=args.repeats,
        warmup=args.warmup,
        on_row=None if args.quiet else _print_row,
        compile=args.compile,
    )
    print(format_rows(rows))
    uhd = [] if args.no_uhd else uhd_memory(models, device)
    for entry in uhd:
        print(f"4K peak memory, {entry['model']} at scale {entry['scale_factor']:g}: {entry['peak_mib']:.0f} MiB")
    if args.json:
        print(f"wrote {write_json(args.json, device, rows, uhd)}")
    return 0


def _print_row(row) -> None:
    print(f"  {row.model} {row.width}x{row.height} {row.backend} {row.precision}: {row.ms:.1f} ms", flush=True)


def paper_table(device: str | None, quiet: bool = False) -> int:
    """``ifrnet eval --speed``: the paper's speed table (params, FLOPs, ms per frame at its two sizes)."""
    from ..benchmark import PAPER_SIZES, speed_table
    from ..devices import resolve_device
    from ..models import list_models

    on_row = None if quiet else lambda n: print(f"  measured {n}", flush=True)
    print(speed_table(list_models(), PAPER_SIZES, resolve_device(device), repeats=5, warmup=1, on_row=on_row))
    return 0
