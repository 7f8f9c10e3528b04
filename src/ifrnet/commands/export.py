"""``ifrnet export``: the model as an ONNX graph for the graph engines, or as an int8 OpenVINO IR.

``--precision int8`` quantises the graph's convolutions with NNCF from calibration frames (the
``--calibration`` clips and generated scenes), measures the PSNR it loses on held-out frames of the
same sources, and writes MODEL.xml (+ MODEL.bin) only when no set loses more than ``--max-drop`` dB.
"""

from __future__ import annotations

import argparse

from .options import add_engine_args, checked_type

NAME = "export"
HELP = "write the model as an ONNX graph (any frame size, t as an input), or an int8 OpenVINO IR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..graphs.int8 import DEFAULT_MAX_DROP, DEFAULT_MAX_REVERTED
    from ..graphs.layouts import LAYOUTS
    from ..options import Option

    parser.add_argument("-o", "--output", required=True, help="output .onnx file (.xml with --precision int8)")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 16, for GridSample; default 18)")
    parser.add_argument("--no-verify", action="store_true", help="skip the check against PyTorch at two sizes")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument(
        "--precision",
        choices=("fp32", "int8"),
        default="fp32",
        help="fp32 (default): the ONNX graph; int8: its convolutions quantised (NNCF), as OpenVINO IR",
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="ifrnet",
        help="ifrnet (default): inputs img0, img1, embt, sides multiples of 16, padded by the engine; vs-mlrt: one "
        "(1, 7, H, W) input of frame 0, frame 1 and a t plane, any size (padding inside), for vs-mlrt's plugins",
    )
    parser.add_argument(
        "--calibration",
        nargs="+",
        default=[],
        metavar="CLIP",
        help="int8: clips like the footage to be interpolated (even 3-frame windows calibrate, odd ones "
        "are held out); generated scenes are always added",
    )
    parser.add_argument(
        "--max-drop",
        type=checked_type(Option(help="", low=0.0), float),
        default=None,
        metavar="DB",
        help=f"int8: refuse when a held-out set loses more PSNR than this (default {DEFAULT_MAX_DROP} dB)",
    )
    parser.add_argument(
        "--max-float-convs",
        type=checked_type(Option(help="", low=0), int),
        default=None,
        metavar="N",
        help=f"int8: at most N convolutions put back into float by the accuracy control (default "
        f"{DEFAULT_MAX_REVERTED}; 0: none, "
        "the fastest graph, checked against --max-drop all the same)",
    )
    add_engine_args(parser, only=("model", "checkpoint"))


def run(args: argparse.Namespace) -> int:
    if args.precision == "int8":
        if args.layout != "ifrnet":
            from ..errors import InputError

            raise InputError("--layout vs-mlrt writes an fp32 ONNX graph; it does not combine with --precision int8")
        return _int8(args)
    if args.layout == "vs-mlrt":
        return _vsmlrt(args)
    if args.calibration or args.max_drop is not None or args.max_float_convs is not None:
        from ..errors import InputError

        raise InputError("--calibration, --max-drop and --max-float-convs apply to --precision int8")
    from ..graphs.export import export_onnx, verify_export
    from ..weights import load_model

    model = load_model(args.model, args.checkpoint, "cpu")
    path = export_onnx(model, args.output, opset=args.opset, overwrite=args.overwrite)
    print(f"wrote {path} ({model.config.name}, opset {args.opset}, any batch, height and width)")
    if not args.no_verify:
        for (h, w), diff in verify_export(model, path).items():
            print(f"  onnxruntime vs PyTorch at {w}x{h} (not the traced size): max abs difference {diff:.2e}")
    return 0


def _int8(args: argparse.Namespace) -> int:
    import sys
    from importlib.util import find_spec
    from pathlib import Path

    from ..errors import InputError
    from ..graphs.cache import cached_graph
    from ..graphs.int8 import DEFAULT_MAX_DROP, DEFAULT_MAX_REVERTED, footage_sets, quantize_graph
    from ..graphs.ir import check_ir_output
    from ..graphs.metadata import DEFAULT_OPSET

    out = check_ir_output(args.output, args.overwrite)  # before a minute of export and calibration
    for module, extra in (("nncf", "int8"), ("openvino", "int8"), ("onnxscript", "export")):
        if find_spec(module) is None:
            raise InputError(f"--precision int8 needs {module}: pip install 'ifrnet[{extra}]'")
    if args.opset != DEFAULT_OPSET or args.no_verify:
        raise InputError("--opset and --no-verify apply to the fp32 graph; --precision int8 starts from the cached one")
    for clip in args.calibration:
        if not Path(clip).exists():
            raise InputError(f"{clip}: no such calibration clip")
    if not args.calibration:
        print(
            "ifrnet: note: calibrating on generated scenes only; --calibration CLIP ... with footage like "
            "yours is better",
            file=sys.stderr,
        )
    graph = cached_graph(args.model, args.checkpoint)
    calibration, held_out = footage_sets(args.calibration)
    print(
        f"calibrating on {sum(map(len, calibration.values()))} triplets; held out: "
        + ", ".join(f"{name} ({len(items)})" for name, items in held_out.items()),
        flush=True,
    )
    result = quantize_graph(
        graph,
        out,
        calibration,
        held_out,
        max_drop=DEFAULT_MAX_DROP if args.max_drop is None else args.max_drop,
        overwrite=args.overwrite,
        max_reverted=DEFAULT_MAX_REVERTED if args.max_float_convs is None else args.max_float_convs,
    )
    print(f"wrote {out} and {out.with_suffix('.bin').name} (int8 convolutions; run with --backend openvino)")
    for name, drop in result.drops().items():
        print(f"  {name}: PSNR fp32 {result.fp32[name]:.2f} dB, int8 {result.int8[name]:.2f} dB ({-drop:+.2f})")
    return 0


def _vsmlrt(args: argparse.Namespace) -> int:
    """The weights' graph (exported once into the cache) wrapped in vs-mlrt's layout, checked against it."""
    import numpy as np

    from ..backends.onnx import OnnxInterpolator
    from ..errors import InputError
    from ..graphs.cache import cached_graph
    from ..graphs.layouts import run_vsmlrt_graph, write_vsmlrt_graph
    from ..graphs.metadata import DEFAULT_OPSET
    from ..io.files import check_output_path

    check_output_path(args.output, overwrite=args.overwrite)  # before a minute of export
    if args.opset != DEFAULT_OPSET:
        raise InputError("--opset applies to the default layout; --layout vs-mlrt wraps the cached graph")
    graph = cached_graph(args.model, args.checkpoint)
    path = write_vsmlrt_graph(graph, args.output, overwrite=args.overwrite)
    print(f"wrote {path} (vs-mlrt layout: input (1, 7, H, W) = frame 0 RGB, frame 1 RGB, t; output (1, 3, H, W))")
    if not args.no_verify:
        engine = OnnxInterpolator(graph)
        rng = np.random.default_rng(0)
        for h, w in ((90, 150), (37, 61)):
            img0, img1 = rng.random((2, 1, 3, h, w), dtype=np.float32)
            diff = np.abs(run_vsmlrt_graph(path, img0, img1, 0.3) - engine.interpolate(img0, img1, [0.3])[0]).max()
            print(f"  against the default graph at {w}x{h}: max abs difference {float(diff):.2e}")
    return 0
