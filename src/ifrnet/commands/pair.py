"""``ifrnet pair``: Write the frames between two images as PNG."""

from __future__ import annotations

import argparse
import time

from .options import add_engine_args, engine_spec, positive_int

NAME = "pair"
HELP = "interpolate frames between two images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("frame0", help="first image (t = 0)")
    parser.add_argument("frame1", help="second image (t = 1)")
    parser.add_argument("-o", "--output", required=True, help="output folder for the PNG frames")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--factor", type=positive_int, default=2, help="make N-1 evenly spaced frames (default 2)")
    when.add_argument("--times", type=float, nargs="+", metavar="T", help="explicit times in (0, 1)")
    parser.add_argument("--gif", default=None, help="also write the sequence (inputs included) as an animated GIF")
    parser.add_argument("--gif-fps", type=float, default=10.0, help="GIF frame rate (default 10)")
    parser.add_argument("--overlay", action="store_true", help="also write overlay.png, the two inputs blended 50/50")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_engine_args(parser)


def run(args: argparse.Namespace) -> int:
    from ..pair import PairJob
    from ..times import check_times, factor_times

    times = check_times(args.times) if args.times else factor_times(args.factor)
    spec = engine_spec(args)  # options checked before the images are read
    start = time.perf_counter()
    job = PairJob.prepare(
        args.frame0,
        args.frame1,
        args.output,
        times,
        gif=args.gif,
        gif_fps=args.gif_fps,
        write_overlay=args.overlay,
        overwrite=args.overwrite,
    )
    with spec.build() as engine:
        job.run(engine)
        mode = "direct t" if engine.uses_time else "recursive bisection (2x-only weights)"
        described = engine.describe_choice()
    elapsed = time.perf_counter() - start
    listed = ", ".join(f"{t:.4g}" for t in job.times)
    print(f"wrote {len(job.times)} frame(s) to {args.output} (t = {listed})")
    for extra in (job.overlay, job.gif):
        if extra is not None:
            print(f"wrote {extra}")
    print(f"{described}, {mode}, {elapsed:.2f} s")
    return 0
