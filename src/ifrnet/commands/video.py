"""``ifrnet video``: Raise the frame rate of a video (or make slow motion). Audio is copied when the
duration is kept; scene cuts are held across, never blended."""

from __future__ import annotations

import argparse
import sys

from ..video.scenes import DEFAULT_HOLD_TOLERANCE, DEFAULT_SCENE_THRESHOLD
from .options import add_engine_args, engine_spec, int_at_least, positive_int

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
    pipes = parser.add_argument_group("pipes")
    pipes.add_argument(
        "--input-format",
        default=None,
        metavar="FMT",
        help="FFmpeg demuxer of the input (y4m, nut, ...), as ffmpeg's -f; default: probed (a named pipe too)",
    )
    pipes.add_argument(
        "--output-format",
        default=None,
        metavar="FMT",
        help="FFmpeg muxer of the output (y4m, nut, matroska, ...); default: from the extension, y4m for -",
    )
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--factor", type=positive_int, default=None, help="multiply the frame rate by N (default 2)")
    rate.add_argument("--fps", default=None, help="output frame rate: 60, 59.94 or 60000/1001")
    rate.add_argument("--slowmo", type=positive_int, default=None, help="N times slower at the same frame rate")
    enc = parser.add_argument_group("encoding")
    enc.add_argument(
        "--codec",
        default=None,
        help="FFmpeg encoder: libx265, ffv1, ...; default: libx264 where the container takes H.264, else "
        "its own (libvpx-vp9 for .webm, gif for .gif); y4m holds raw frames",
    )
    enc.add_argument("--crf", type=int, default=18, help="quality for x264/x265/vp9/av1 (lower is better; 18)")
    enc.add_argument("--preset", default="medium", help="x264/x265 speed preset (default medium)")
    enc.add_argument(
        "--pix-fmt", default=None, help="output pixel format (default: the source's, or the encoder's nearest)"
    )
    scenes = parser.add_argument_group("scene cuts")
    scenes.add_argument(
        "--scene-threshold",
        type=float,
        default=DEFAULT_SCENE_THRESHOLD,
        help=f"cut score (1-100; 0 = equal frames, 50-100 = unrelated) above which a pair is always a cut; "
        f"pairs standing out from their neighbours are cuts from 1/20 of it (default {DEFAULT_SCENE_THRESHOLD:g})",
    )
    scenes.add_argument("--no-scene-detect", action="store_true", help="detect no cuts (those from --cuts still hold)")
    scenes.add_argument(
        "--cuts",
        default=None,
        metavar="FILE",
        help="cuts to hold: one 0-based frame index (first frame of the new shot) or timecode a line, "
        "or PySceneDetect's scene-list CSV",
    )
    anime = parser.add_argument_group("animation")
    anime.add_argument(
        "--dedup",
        action="store_true",
        help="drop drawings shown again (anime on twos/threes) and interpolate at their times",
    )
    anime.add_argument(
        "--dedup-tolerance",
        type=float,
        default=DEFAULT_HOLD_TOLERANCE,
        help=f"largest block mean difference (of 255) of a held copy (default {DEFAULT_HOLD_TOLERANCE:g})",
    )
    parser.add_argument("--input-fps", default=None, help="frame rate of an image-sequence input (default 25)")
    parser.add_argument(
        "--deinterlace", action="store_true", help="deinterlace first with FFmpeg's bwdif (one frame per frame)"
    )
    parser.add_argument("--uhd", action="store_true", help="shorthand for --scale 0.5 (4K input)")
    parser.add_argument("--batch", type=int, default=None, help="pairs per model call (default: 4 on CUDA, else 1)")
    par = parser.add_argument_group("parallel workers (same output as one process)")
    par.add_argument("--workers", type=int_at_least(1), default=None, help="run the network in N processes")
    par.add_argument("--devices", default=None, help="one worker per device, e.g. cuda:0,cuda:1")
    add_job_arguments(parser, resume=not batch)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
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


def video_options(args: argparse.Namespace):
    """The :class:`~ifrnet.video.VideoOptions` the parsed options describe, checked."""
    from ..video import VideoOptions, parse_rate
    from ..video.scenes import check_hold_tolerance, check_scene_threshold, read_cut_list

    check_scene_threshold(args.scene_threshold)
    check_hold_tolerance(args.dedup_tolerance)
    engine_spec(args)  # the engine options are checked before any file is opened
    cuts = read_cut_list(args.cuts) if args.cuts else None
    if args.fps is None and args.slowmo is None and args.factor is None:
        args.factor = 2
    # options that pass through unchanged: the flag is the field's name
    passed = ("factor", "slowmo", "codec", "crf", "preset", "pix_fmt", "batch", "overwrite", "deinterlace", "dedup")
    passed += ("input_format", "output_format")
    return VideoOptions(
        **{name: getattr(args, name) for name in passed},
        fps=parse_rate(args.fps) if args.fps is not None else None,
        input_fps=parse_rate(args.input_fps) if args.input_fps else None,
        scene_threshold=None if args.no_scene_detect else args.scene_threshold,
        dedup_tolerance=args.dedup_tolerance,
        cuts=cuts,
    )


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
