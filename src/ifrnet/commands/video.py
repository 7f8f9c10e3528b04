"""``ifrnet video``: Raise the frame rate of a video (or make slow motion). Audio is copied when the
duration is kept; scene cuts are held across, never blended."""

from __future__ import annotations

import argparse
import sys

from ..options import options_of
from ..video.options import EncodeSettings, VideoOptions
from .options import add_engine_args, add_options, engine_spec, int_at_least

NAME = "video"
HELP = "interpolate a video file into a smoother or slower one"


def add_arguments(parser: argparse.ArgumentParser, batch: bool = False) -> None:
    """The options of ``ifrnet video``; ``batch``: those of ``ifrnet batch``, which takes many
    sources and an output folder, and always resumes."""
    if batch:
        parser.add_argument(
            "input", nargs="+", help="folders (searched recursively), video files, globs, or .txt lists"
        )
        parser.add_argument("-o", "--output", required=True, help="the folder the outputs go into (structure kept)")
    else:
        parser.add_argument(
            "input",
            help="video file, folder of images, pattern such as frames/%%08d.png, or - for standard input (y4m)",
        )
        parser.add_argument(
            "-o",
            "--output",
            required=True,
            help="output video file, frames/%%08d.png for PNG frames, or - for YUV4MPEG2 on standard output",
        )
    add_options(parser.add_argument_group("pipes"), VideoOptions, only=("input_format", "output_format"), ranges=False)
    rate = parser.add_mutually_exclusive_group()
    add_options(rate, VideoOptions, only=("factor", "fps", "slowmo"), ranges=False)
    add_options(parser.add_argument_group("encoding"), EncodeSettings, ranges=False)
    scenes = parser.add_argument_group("scene cuts")
    add_options(scenes, VideoOptions, only=("scene_threshold",), ranges=False)
    scenes.add_argument("--no-scene-detect", action="store_true", help="detect no cuts (those from --cuts still hold)")
    scenes.add_argument(
        "--cuts",
        default=None,
        metavar="FILE",
        help="cuts to hold: one 0-based frame index (first frame of the new shot) or timecode a line, "
        "or PySceneDetect's scene-list CSV",
    )
    add_options(parser.add_argument_group("animation"), VideoOptions, only=("dedup", "dedup_tolerance"), ranges=False)
    add_options(parser, VideoOptions, only=("input_fps", "deinterlace"), ranges=False)
    parser.add_argument("--uhd", action="store_true", help="shorthand for --scale 0.5 (4K input)")
    add_options(parser, VideoOptions, only=("batch",), ranges=False)
    par = parser.add_argument_group("parallel workers (same output as one process)")
    par.add_argument("--workers", type=int_at_least(1), default=None, help="run the network in N processes")
    par.add_argument("--devices", default=None, help="one worker per device, e.g. cuda:0,cuda:1")
    add_job_arguments(parser, resume=not batch)
    add_options(parser, VideoOptions, only=("overwrite",))
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument(
        "--progress",
        choices=("bar", "json", "none"),
        default="bar",
        help="a progress bar (default), JSON lines on standard error for front-ends, or none",
    )
    add_engine_args(parser)


def add_job_arguments(parser: argparse.ArgumentParser, resume: bool = True) -> None:
    """Chunks, resume and the executor: ``ifrnet video`` and ``ifrnet batch`` share them."""
    from ..jobs.run import DEFAULT_CHUNK_SECONDS

    job = parser.add_argument_group("long jobs (chunks, resume, Ray)")
    job.add_argument(
        "--chunk-seconds",
        type=float,
        default=None,
        metavar="S",
        help=f"run in chunks of about S seconds of source, kept beside the output until joined, so --resume can "
        f"finish an interrupted run (default with --resume, --keep-work or --executor ray: {DEFAULT_CHUNK_SECONDS:g})",
    )
    if resume:
        job.add_argument("--resume", action="store_true", help="finish the chunked run an earlier command left")
    job.add_argument("--keep-work", action="store_true", help="keep the chunk files after the join")
    job.add_argument(
        "--executor", choices=("local", "ray"), default="local", help="render chunks here (default) or on Ray"
    )
    job.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="auto or HOST:PORT of a running Ray cluster (default: start one on this machine, loopback only)",
    )
    job.add_argument(
        "--ray-workers",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="Ray workers (default: one per GPU with --device cuda, else the cluster's cores / --threads)",
    )


def is_job(args: argparse.Namespace) -> bool:
    """Whether the options ask for a chunked job."""
    return args.chunk_seconds is not None or args.resume or args.keep_work or args.executor == "ray"


def executor(args: argparse.Namespace):
    """The executor a chunked job's chunks run on."""
    from ..errors import InputError

    if args.executor == "ray":
        if args.workers or args.devices:
            raise InputError("--workers and --devices are for one process; with --executor ray give --ray-workers")
        from ..jobs.ray_cluster import RayExecutor

        return RayExecutor(engine_spec(args), args.ray_address, args.ray_workers, args.threads)
    if args.ray_address or args.ray_workers:
        raise InputError("--ray-address and --ray-workers need --executor ray")
    from ..jobs import LocalExecutor

    return LocalExecutor(lambda: _engine(args))


def _resume_hint(output: str) -> None:
    """After an interrupted chunked run: where its chunks are and how to finish it."""
    from pathlib import Path

    from ..jobs.work import work_folder_of

    folder = work_folder_of(Path(output))
    if folder.is_dir():
        done = len(list(folder.glob("chunk-*.nut")))
        print(
            f"ifrnet: note: {done} finished chunk(s) kept in {folder}; the same command with --resume finishes the job",
            file=sys.stderr,
        )


def progress_factory(args: argparse.Namespace):
    """The progress display ``--progress`` and ``--quiet`` ask for (``None``: none)."""
    from ..video.pipeline import JsonProgress, tqdm_progress

    if args.progress == "json":
        return JsonProgress
    return None if args.quiet or args.progress == "none" else tqdm_progress


def _engine(args: argparse.Namespace):
    """The engine for ``ifrnet video``: in this process, or a pool for --workers/--devices."""
    from ..errors import InputError
    from ..video.parallel import WorkerPool, parse_devices

    if args.uhd and args.scale != 1.0:
        raise InputError(f"give either --uhd or --scale {args.scale}, not both (--uhd is --scale 0.5)")
    spec = engine_spec(args, scale=0.5) if args.uhd else engine_spec(args)
    if args.devices:
        if args.device:
            raise InputError("give either --device or --devices, not both")
        devices = parse_devices(args.devices)
        if args.workers not in (None, len(devices)):
            raise InputError(f"--workers {args.workers} disagrees with the {len(devices)} --devices given")
    else:
        devices = [args.device] * (args.workers or 1)
    if len(devices) == 1:
        return spec.on(devices[0]).build()
    return WorkerPool(spec, devices)


def video_options(args: argparse.Namespace) -> VideoOptions:
    """The :class:`~ifrnet.video.VideoOptions` the parsed options describe, checked (by the option
    table: :class:`InputError` naming the flag)."""
    from ..video import parse_rate
    from ..video.scenes import read_cut_list

    engine_spec(args)  # the engine options are checked before any file is opened
    values = {name: getattr(args, name) for name, _, _ in options_of(VideoOptions) if hasattr(args, name)}
    for name in ("fps", "input_fps"):  # rates as people write them: 60, 59.94, 60000/1001
        if values[name] is not None:
            values[name] = parse_rate(values[name])
    if values["fps"] is None and values["slowmo"] is None and values["factor"] is None:
        values["factor"] = 2
    if args.no_scene_detect:
        values["scene_threshold"] = None
    return VideoOptions(**values, cuts=read_cut_list(args.cuts) if args.cuts else None)


def run(args: argparse.Namespace) -> int:
    from ..video import interpolate_video

    options = video_options(args)
    if is_job(args):
        from ..jobs import JobOptions, run_video_job

        job = JobOptions(resume=args.resume, keep_work=args.keep_work)
        if args.chunk_seconds is not None:
            job.chunk_seconds = args.chunk_seconds
        runner = executor(args)
        try:
            summary = run_video_job(args.input, args.output, runner, options, job, progress_factory(args))
        except KeyboardInterrupt:
            _resume_hint(args.output)
            raise
        finally:
            runner.close()
    else:
        summary = interpolate_video(args.input, args.output, lambda: _engine(args), options, progress_factory(args))
    for notice in summary.notices:
        print(f"ifrnet: note: {notice}", file=sys.stderr)
    if not args.quiet:
        # standard output may be the video itself (-o -): the report never goes there then
        print("\n".join(summary.lines()), file=sys.stderr if args.output == "-" else sys.stdout)
    return 0
