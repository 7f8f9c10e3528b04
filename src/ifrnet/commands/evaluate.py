"""``ifrnet eval``: The paper's benchmarks (--dataset), real-footage scoring (--video) or the speed
table (--speed)."""

from __future__ import annotations

import argparse
import sys

from ..video.scenes import DEFAULT_SCENE_THRESHOLD
from .options import add_engine_args, engine_spec, positive_int

NAME = "eval"
HELP = "score methods on a benchmark or on held-out frames of real footage"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--dataset", default=None, help="vimeo90k, ucf101, snu-film, middlebury-other, gopro or adobe240 (with --root)"
    )
    what.add_argument("--video", default=None, help="a clip: hold out frames and rebuild them")
    what.add_argument("--speed", action="store_true", help="params, FLOPs and runtime per variant ('ifrnet bench')")
    parser.add_argument("--root", default=None, help="benchmark root folder")
    parser.add_argument("--split", default=None, help="SNU-FILM: easy, medium, hard, extreme or all; or a list file")
    parser.add_argument("--factor", type=positive_int, default=2, help="--video: hold out N-1 of every N frames (2)")
    parser.add_argument("--start", type=int, default=0, help="--video: first frame to use")
    parser.add_argument("--limit", type=int, default=None, help="--video: at most this many windows")
    parser.add_argument(
        "--scene-threshold",
        type=float,
        default=DEFAULT_SCENE_THRESHOLD,
        help="--video: skip windows with a cut (the same detector and scale as ifrnet video)",
    )
    parser.add_argument("--no-scene-detect", action="store_true")
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated: ifrnet, repeat, blend, dis, minterpolate (default: ifrnet; all five with --video)",
    )
    parser.add_argument("--out", default=None, help="output folder (default eval/<dataset or clip>)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="recompute results --out holds from other weights (without it they are an error; same ones resume)",
    )
    parser.add_argument(
        "--extra-metrics",
        nargs="*",
        default=[],
        choices=["psnr_uint8", "ssim_2d"],
        help="also report 8-bit PSNR and 2-D SSIM (as RIFE and FILM do)",
    )
    parser.add_argument("--save-predictions", action="store_true", help="write every prediction as PNG")
    parser.add_argument("--report", default=None, help="write an HTML report with comparison images to this folder")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_engine_args(parser)
    # None: the benchmark's own scale (SNU-FILM's is 0.8, the others' 1); a number overrides it
    parser.set_defaults(scale=None)


def run(args: argparse.Namespace) -> int:
    if args.speed:
        from .bench import print_paper

        return print_paper(args.device, quiet=args.quiet)
    from ..evaluation.run import run_evaluation

    def engine(prescribed: float):
        """IFRNet's engine at the benchmark's scale, or at --scale when one is given."""
        # scores are fp32's unless a precision is asked for: auto would take bf16 where it is native
        scale = prescribed if args.scale is None else args.scale
        return engine_spec(args, scale=scale, precision=args.precision or "fp32")

    engine(1.0)  # the engine options are checked before any file is read
    # options that pass through unchanged: the flag is the parameter's name
    passed = ("dataset", "root", "split", "video", "factor", "start", "limit", "methods", "out", "extra_metrics")
    passed += ("save_predictions", "report", "overwrite")
    result = run_evaluation(
        **{name: getattr(args, name) for name in passed},
        scene_threshold=None if args.no_scene_detect else args.scene_threshold,
        engine_factory=lambda prescribed: engine(prescribed).build(),
        progress=not args.quiet,
    )
    for notice in result.notices:
        print(f"ifrnet: note: {notice}", file=sys.stderr)
    print(result.table)
    print(f"\nresults in {result.out}" + (f"; report: {result.report}" if result.report else ""))
    return 0
