"""``ifrnet info``: the variants' size and cost, and every weights entry with where it was found."""

from __future__ import annotations

import argparse

from .options import size

NAME = "info"
HELP = "parameters, FLOPs and weights of the variants"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--model", default=None, help="one variant (default: all)")


def run(args: argparse.Namespace) -> int:
    from ..errors import missing_torch
    from ..names import official_variant
    from ..pretrained import DEFAULT, PREFERRED_VARIANTS, WEIGHTS, search_dirs, shipped_graph
    from ..spec import EngineSpec

    try:
        _print_variants(args)
    except ImportError as exc:
        if not missing_torch(exc):
            raise
        print("variants table: needs PyTorch, which is not installed here (pip install 'ifrnet[torch]')")

    wanted = official_variant(args.model) if args.model else None
    entries = [w for w in WEIGHTS.values() if wanted in (None, w.variant)]
    weight_rows = [["tag", "variant", "t", "licence", "PSNR", "found"]]
    for w in entries:
        path = w.find()
        missing = "missing from this installation" if w.shipped else "not found"
        found = f"found: {path}" if path is not None else missing
        if path is not None and shipped_graph(path) is not None:
            found += " (with a ready OpenVINO IR)"
        score = str(w.scores[0]) if w.scores else "-"
        weight_rows.append([w.name, w.variant, "any t" if w.uses_time else "2x only", w.licence, score, found])
    print("weights (--checkpoint TAG; a bare vimeo90k, gopro or starter: --model's, or the first variant's found):")
    print(_left_aligned(weight_rows))
    print("authors' checkpoints are looked for in: " + ", ".join(str(d) for d in search_dirs()))
    print(
        f"default (no --checkpoint): the first checkpoint found of {', '.join(PREFERRED_VARIANTS)}, else {DEFAULT.name}"
    )
    chosen, why = EngineSpec(model=args.model).resolve()
    arithmetic = f"int8 + {chosen.precision}" if chosen.int8 else chosen.precision or "fp32"
    print(f"--backend auto here: {chosen.backend} {arithmetic} on the default device ({why})")
    return 0


def _print_variants(args: argparse.Namespace) -> None:
    """Parameters and convolution FLOPs of each variant (builds the models: needs torch)."""
    from ..bench import count_conv_flops, count_parameters, format_table
    from ..models import create_model, list_models

    width, height = args.size
    names = [args.model] if args.model else list_models()
    rows = []
    for name in names:
        model = create_model(name)
        flops = count_conv_flops(model.config.name, width, height)
        params = count_parameters(model)
        rows.append([model.config.name, f"{params / 1e6:.2f}", f"{flops / 1e9:.1f}", f"{flops / 2e9:.1f}"])
    print(f"conv FLOPs at {width}x{height}, one 2x inference (FLOPs = 2 x multiply-adds):")
    print(format_table(["variant", "params (M)", "GFLOPs", "GMACs"], rows))
    print()


def _left_aligned(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)
