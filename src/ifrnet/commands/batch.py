"""``ifrnet batch``: Interpolate many videos: folders (searched recursively, their structure kept
under the output folder), globs and lists of paths. Each file is a chunked job: a rerun skips the
finished outputs and resumes a half-done file through its chunks; a file that fails is named in
one line and the rest goes on (exit status 1 if any failed)."""

from __future__ import annotations

import argparse
import sys

from .options import int_at_least
from .video import add_arguments as add_video_arguments

NAME = "batch"
HELP = "interpolate every video of folders, globs or lists into an output folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_video_arguments(parser, batch=True)
    parser.add_argument(
        "--container",
        default=None,
        metavar="EXT",
        help="write every output as .EXT (mkv, mp4, ...); default: each input's own container",
    )
    parser.add_argument(
        "--jobs",
        type=int_at_least(1),
        default=1,
        metavar="N",
        help="files in progress at once (default 1); they share the executor, so locally only planning, "
        "decoding and joins overlap, while on Ray every chunk of every file is a task",
    )


def run(args: argparse.Namespace) -> int:
    from ..jobs import JobOptions
    from ..jobs.batch import BatchProgress, run_batch
    from .video import executor, progress_factory, video_options

    options = video_options(args)
    job = JobOptions(keep_work=args.keep_work)
    if args.chunk_seconds is not None:
        job.chunk_seconds = args.chunk_seconds
    runner = executor(args)
    try:
        from ..jobs.batch import find_inputs

        files = len(find_inputs(args.input)[0])
        factory = progress_factory(args)
        progress = BatchProgress(
            files, None if args.progress == "json" else factory, json_lines=args.progress == "json"
        )
        summary = run_batch(args.input, args.output, runner, options, job, args.container, args.jobs, progress)
    finally:
        runner.close()
    for notice in summary.notices:
        print(f"ifrnet: note: {notice}", file=sys.stderr)
    for item in summary.failed:
        print(f"ifrnet: error: {item.message}", file=sys.stderr)
    if not args.quiet:
        print("\n".join(summary.table()))
    return 1 if summary.failed else 0
