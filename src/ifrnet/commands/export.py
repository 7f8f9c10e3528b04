"""``ifrnet export``: the model as an ONNX graph for the onnxruntime engine."""

from __future__ import annotations

import argparse

from .options import add_engine_args

NAME = "export"
HELP = "write the model as an ONNX graph (any frame size, t as an input) for --backend onnxruntime"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="output .onnx file")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 16, for GridSample; default 18)")
    parser.add_argument("--no-verify", action="store_true", help="skip the check against PyTorch at two sizes")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_engine_args(parser, only=("model", "checkpoint"))


def run(args: argparse.Namespace) -> int:
    from ..export import export_onnx, verify_export
    from ..weights import load_model

    model = load_model(args.model, args.checkpoint, "cpu")
    path = export_onnx(model, args.output, opset=args.opset, overwrite=args.overwrite)
    print(f"wrote {path} ({model.config.name}, opset {args.opset}, any batch, height and width)")
    if not args.no_verify:
        for (h, w), diff in verify_export(model, path).items():
            print(f"  onnxruntime vs PyTorch at {w}x{h} (not the traced size): max abs difference {diff:.2e}")
    return 0
