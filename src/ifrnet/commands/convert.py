"""``ifrnet convert``: a checkpoint (or the average of several) as .safetensors."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    convert = sub.add_parser(
        "convert",
        help="convert a checkpoint to .safetensors",
        description="Convert a checkpoint to .safetensors; several sources of one variant are averaged.",
    )
    convert.add_argument("source", nargs="+", help=".pth or .safetensors checkpoint(s); several are averaged")
    convert.add_argument("destination", help="output .safetensors file")
    convert.add_argument("--fp16", action="store_true", help="store weights as fp16 (half the size)")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    convert.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..weights import convert_checkpoint

    path, variant = convert_checkpoint(args.source, args.destination, half=args.fp16, overwrite=args.overwrite)
    averaged = f", average of {len(args.source)}" if len(args.source) > 1 else ""
    print(f"wrote {path} ({variant}{', fp16' if args.fp16 else ''}{averaged})")
    return 0
