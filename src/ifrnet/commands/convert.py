"""``ifrnet convert``: Convert a checkpoint to .safetensors; several sources of one variant are
averaged."""

from __future__ import annotations

import argparse

NAME = "convert"
HELP = "convert a checkpoint to .safetensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="+", help=".pth or .safetensors checkpoint(s); several are averaged")
    parser.add_argument("destination", help="output .safetensors file")
    parser.add_argument("--fp16", action="store_true", help="store weights as fp16 (half the size)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def run(args: argparse.Namespace) -> int:
    from ..weights import convert_checkpoint

    path, variant = convert_checkpoint(args.source, args.destination, half=args.fp16, overwrite=args.overwrite)
    averaged = f", average of {len(args.source)}" if len(args.source) > 1 else ""
    print(f"wrote {path} ({variant}{', fp16' if args.fp16 else ''}{averaged})")
    return 0
