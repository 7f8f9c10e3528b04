"""``ifrnet eval``: score methods on a benchmark or on held-out frames of real footage."""

from __future__ import annotations

import argparse
import sys

from .options import add_engine_args, engine_spec, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    from ..video.scenes import DEFAULT_SCENE_THRESHOLD

    ev = sub.add_parser(
        "eval",
        help="score methods on a benchmark or on held-out frames of real footage",
        description="The paper's benchmarks (--dataset), real-footage scoring (--video) or the speed table (--speed).",
    )
    what = ev.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--dataset", default=None, help="vimeo90k, ucf101, snu-film, middlebury-other, gopro or adobe240 (with --root)"
    )
    what.add_argument("--video", default=None, help="a clip: hold out frames and rebuild them")
    what.add_argument("--speed", action="store_true", help="params, FLOPs and runtime per variant ('ifrnet bench')")
    ev.add_argument("--root", default=None, help="benchmark root folder")
    ev.add_argument("--split", default=None, help="SNU-FILM: easy, medium, hard, extreme or all; or a list file")
    ev.add_argument("--factor", type=positive_int, default=2, help="--video: hold out N-1 of every N frames (2)")
    ev.add_argument("--start", type=int, default=0, help="--video: first frame to use")
    ev.add_argument("--limit", type=int, default=None, help="--video: at most this many windows")
    ev.add_argument(
        "--scene-threshold",
        type=float,
        default=DEFAULT_SCENE_THRESHOLD,
        help="--video: skip windows with a cut (the same detector and scale as ifrnet video)",
    )
    ev.add_argument("--no-scene-detect", action="store_true")
    ev.add_argument(
        "--methods",
        default=None,
        help="comma-separated: ifrnet, repeat, blend, dis, minterpolate (default: ifrnet; all five with --video)",
    )
    ev.add_argument("--out", default=None, help="output folder (default eval/<dataset or clip>)")
    ev.add_argument(
        "--overwrite",
        action="store_true",
        help="recompute results --out holds from other weights (without it they are an error; same ones resume)",
    )
    ev.add_argument(
        "--extra-metrics",
        nargs="*",
        default=[],
        choices=["psnr_uint8", "ssim_2d"],
        help="also report 8-bit PSNR and 2-D SSIM (as RIFE and FILM do)",
    )
    ev.add_argument("--save-predictions", action="store_true", help="write every prediction as PNG")
    ev.add_argument("--report", default=None, help="write an HTML report with comparison images to this folder")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_engine_args(ev)
    # None: the benchmark's own scale (SNU-FILM's is 0.8, the others' 1); a number overrides it
    ev.set_defaults(func=run, scale=None)


def run(args: argparse.Namespace) -> int:
    if args.speed:
        from .bench import paper_table

        return paper_table(args.device, quiet=args.quiet)
    from ..evaluation.run import run_evaluation

    given = {} if args.scale is None else {"scale": args.scale}
    engine_spec(args, scale=1.0, **given)  # the engine options are checked before any file is read
    result = run_evaluation(
        dataset=args.dataset,
        root=args.root,
        split=args.split,
        video=args.video,
        factor=args.factor,
        start=args.start,
        limit=args.limit,
        scene_threshold=None if args.no_scene_detect else args.scene_threshold,
        methods=args.methods,
        out=args.out,
        extra_metrics=args.extra_metrics,
        save_predictions=args.save_predictions,
        report=args.report,
        engine_factory=lambda scale: engine_spec(args, scale=args.scale if args.scale is not None else scale).build(),
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    for notice in result.notices:
        print(f"ifrnet: note: {notice}", file=sys.stderr)
    print(result.table)
    print(f"\nresults in {result.out}" + (f"; report: {result.report}" if result.report else ""))
    return 0
