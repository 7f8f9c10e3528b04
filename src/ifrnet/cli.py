"""The ``ifrnet`` command: parse arguments, call the library, turn its errors into one line."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence

from . import __version__
from .errors import IFRNetError

PROG = "ifrnet"


# -- argument helpers --


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line (and exit status 2), not the whole usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(lowest: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
        return value

    return parse


#: factors and similar counts that make no sense below 2
_positive_int = _int_at_least(2)


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")
    return int(parts[0]), int(parts[1])


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", default=None, help="IFRNet, IFRNet_L or IFRNet_S (default: from the checkpoint)")
    group.add_argument(
        "--checkpoint",
        default=None,
        help="weights file (.pth or .safetensors), or Vimeo90K / GoPro to pick that official checkpoint "
        "from ./checkpoints or $IFRNET_CHECKPOINTS",
    )
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps (default: best available)")
    group.add_argument("--scale", type=_scale, default=1.0, help="network scale factor (0.5 for 4K)")
    group.add_argument(
        "--precision",
        choices=["fp32", "bf16", "fp16"],
        default="fp32",
        help="network arithmetic: fp32 (default, exact), bf16 (GPU, or a CPU with native bf16), fp16 (GPU)",
    )
    group.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="NHWC memory layout for the convolutions (default: on for a CPU, where it is faster)",
    )
    group.add_argument("--threads", type=_int_at_least(1), default=None, help="CPU threads for the network")
    group.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the network (CUDA: with CUDA graphs); the first frame of each size waits for it",
    )


def _add_backend_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=["torch", "onnxruntime"],
        default="torch",
        help="onnxruntime: run a graph from 'ifrnet export' (--checkpoint MODEL.onnx) without PyTorch",
    )


def _engine_spec(args: argparse.Namespace):
    from .engine import EngineSpec

    return EngineSpec(
        backend=getattr(args, "backend", "torch"),
        model=args.model,
        checkpoint=args.checkpoint,
        device=args.device,
        scale=args.scale,
        precision=args.precision,
        channels_last=args.channels_last,
        threads=args.threads,
        compile=getattr(args, "compile", False),
    )


def _interpolator(args: argparse.Namespace):
    return _engine_spec(args).build()


def _video_engine(args: argparse.Namespace):
    """The engine for ``ifrnet video``: in this process, or a pool for --workers/--devices."""
    from .errors import InputError
    from .video.parallel import WorkerPool, parse_devices

    if args.devices:
        if args.device:
            raise InputError("give either --device or --devices, not both")
        devices = parse_devices(args.devices)
        if args.workers not in (None, len(devices)):
            raise InputError(f"--workers {args.workers} disagrees with the {len(devices)} --devices given")
    else:
        devices = [args.device] * (args.workers or 1)
    if len(devices) == 1:
        return _engine_spec(args).on(devices[0]).build()
    return WorkerPool(_engine_spec(args), devices)


# -- subcommands --


def cmd_pair(args: argparse.Namespace) -> int:
    from .pair import PairJob
    from .times import check_times, factor_times

    times = check_times(args.times) if args.times else factor_times(args.factor)
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
    interpolator = _interpolator(args)
    job.run(interpolator)
    elapsed = time.perf_counter() - start
    listed = ", ".join(f"{t:.4g}" for t in job.times)
    print(f"wrote {len(job.times)} frame(s) to {args.output} (t = {listed})")
    for extra in (job.overlay, job.gif):
        if extra is not None:
            print(f"wrote {extra}")
    mode = "direct t" if interpolator.uses_time else "recursive bisection (2x-only weights)"
    print(f"{interpolator.description}, {mode}, {elapsed:.2f} s")
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    from .video import VideoOptions, interpolate_video, parse_rate
    from .video.pipeline import tqdm_progress
    from .video.scenes import check_hold_tolerance, check_scene_threshold, read_cut_list

    check_scene_threshold(args.scene_threshold)
    check_hold_tolerance(args.dedup_tolerance)
    cuts = read_cut_list(args.cuts) if args.cuts else None
    if args.uhd:
        args.scale = 0.5
    if args.fps is None and args.slowmo is None and args.factor is None:
        args.factor = 2
    options = VideoOptions(
        factor=args.factor,
        fps=parse_rate(args.fps) if args.fps is not None else None,
        slowmo=args.slowmo,
        codec=args.codec,
        crf=args.crf,
        preset=args.preset,
        pix_fmt=args.pix_fmt,
        scene_threshold=None if args.no_scene_detect else args.scene_threshold,
        input_fps=parse_rate(args.input_fps) if args.input_fps else None,
        batch=args.batch,
        overwrite=args.overwrite,
        deinterlace=args.deinterlace,
        dedup=args.dedup,
        dedup_tolerance=args.dedup_tolerance,
        cuts=cuts,
    )
    summary = interpolate_video(
        args.input,
        args.output,
        lambda: _video_engine(args),
        options,
        progress=None if args.quiet else tqdm_progress,
    )
    for notice in summary.notices:
        print(f"{PROG}: note: {notice}", file=sys.stderr)
    if not args.quiet:
        print("\n".join(summary.lines()))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from .training.trainer import TrainConfig, Trainer, load_config_file

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    settings = load_config_file(args.config) if args.config else {}
    for f in dataclasses.fields(TrainConfig):
        value = getattr(args, f.name, None)
        if value is not None and value != []:
            settings[f.name] = value
    config = TrainConfig(**settings)
    result = Trainer(config).fit(resume=args.resume, progress=not args.quiet)
    if result.get("total") is not None:
        stopped = result["iteration"] < result["iterations"]
        print(
            f"{'time limit' if stopped else 'done'}: iteration {result['iteration']} of {result['iterations']}, "
            f"loss {result['total']:.4f}, best validation PSNR {result['best_psnr']:.3f} dB, "
            f"{result['samples_per_second']:.2f} samples/s; weights in {config.out}"
            + ("; continue with --resume" if stopped else "")
        )
    return 0


def cmd_flow(args: argparse.Namespace) -> int:
    from .training.pseudo_flow import label_dataset

    summary = label_dataset(
        args.dataset, args.root, estimator=args.estimator, workers=args.workers, progress=not args.quiet
    )
    print(
        f"{summary.written} sequence(s) labelled, {summary.skipped} already done, of {summary.total} "
        f"({summary.seconds:.1f} s)"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation.run import run_evaluation, speed

    if args.speed:
        print(speed(args.device, on_row=None if args.quiet else lambda n: print(f"  measured {n}", flush=True)))
        return 0
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
        interpolator_factory=lambda: _interpolator(args),
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    for notice in result.notices:
        print(f"{PROG}: note: {notice}", file=sys.stderr)
    print(result.table)
    print(f"\nresults in {result.out}" + (f"; report: {result.report}" if result.report else ""))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .benchmark import count_conv_flops, count_parameters, format_table
    from .models import canonical_name, create_model, list_models
    from .pretrained import SHIPPED
    from .weights import OFFICIAL_CHECKPOINTS, find_checkpoint, search_dirs

    width, height = args.size
    names = [args.model] if args.model else list_models()
    rows = []
    for name in names:
        model = create_model(name)
        flops = count_conv_flops(model.config.name, width, height)
        params = count_parameters(model)
        rows.append([model.config.name, f"{params / 1e6:.2f}", f"{flops / 1e9:.1f}", f"{flops / 2e9:.1f}"])
    print(f"conv FLOPs at {width}x{height}, one 2x inference (FLOPs = 2 x multiply-adds):")
    print(format_table(["variant", "params (M)", "GFLOPs", "GMACs"], rows))
    print("\ncheckpoint search folders: " + ", ".join(str(d) for d in search_dirs()))
    for info in OFFICIAL_CHECKPOINTS:
        if args.model and info.model != canonical_name(args.model):
            continue
        found = find_checkpoint(info.model, info.dataset)
        print(f"  {info.filename:<24} {'found: ' + str(found) if found else 'not found'}")
    print("shipped with ifrnet (--checkpoint TAG; the default when no official checkpoint is found):")
    for weights in SHIPPED:
        state = str(weights.path) if weights.available() else "missing from this installation"
        print(f"  {weights.tag:<24} {weights.model}, {'any t' if weights.uses_time else '2x only'}: {state}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_onnx, verify_export
    from .weights import load_model

    model = load_model(args.model, args.checkpoint, "cpu")
    path = export_onnx(model, args.output, opset=args.opset, overwrite=args.overwrite)
    print(f"wrote {path} ({model.config.name}, opset {args.opset}, any batch, height and width)")
    if not args.no_verify:
        for (h, w), diff in verify_export(model, path).items():
            print(f"  onnxruntime vs PyTorch at {w}x{h} (not the traced size): max abs difference {diff:.2e}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .bench import BENCH_SIZES, bench, format_rows, seeded_variant, uhd_memory, write_json
    from .devices import resolve_device
    from .models import canonical_name, list_models

    device = resolve_device(args.device)
    models = [canonical_name(m) for m in args.models] if args.models else list_models()
    graphs = {}
    if args.onnx_dir:
        from .export import export_onnx

        folder = Path(args.onnx_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name in models:
            graphs[name] = folder / f"{name}.onnx"
            if not graphs[name].is_file():
                print(f"exporting {name} to {graphs[name]} (once; reused next time)", flush=True)
                export_onnx(seeded_variant(name), graphs[name])
    rows = bench(
        models,
        args.sizes or list(BENCH_SIZES),
        device,
        onnx_graphs=graphs,
        precisions=args.precisions,
        repeats=args.repeats,
        warmup=args.warmup,
        on_row=None if args.quiet else _print_bench_row,
        compile=args.compile,
    )
    print(format_rows(rows))
    uhd = [] if args.no_uhd else uhd_memory(models, device)
    for entry in uhd:
        print(f"4K peak memory, {entry['model']} at scale {entry['scale_factor']:g}: {entry['peak_mib']:.0f} MiB")
    if args.json:
        print(f"wrote {write_json(args.json, device, rows, uhd)}")
    return 0


def _print_bench_row(row) -> None:
    print(f"  {row.model} {row.width}x{row.height} {row.backend} {row.precision}: {row.ms:.1f} ms", flush=True)


def cmd_convert(args: argparse.Namespace) -> int:
    from .weights import convert_checkpoint

    path, variant = convert_checkpoint(args.source, args.destination, half=args.fp16, overwrite=args.overwrite)
    averaged = f", average of {len(args.source)}" if len(args.source) > 1 else ""
    print(f"wrote {path} ({variant}{', fp16' if args.fp16 else ''}{averaged})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .video.scenes import DEFAULT_HOLD_TOLERANCE, DEFAULT_SCENE_THRESHOLD

    parser = _Parser(prog=PROG, description="IFRNet video frame interpolation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    pair = sub.add_parser(
        "pair", help="interpolate frames between two images", description="Write the frames between two images as PNG."
    )
    pair.add_argument("frame0", help="first image (t = 0)")
    pair.add_argument("frame1", help="second image (t = 1)")
    pair.add_argument("-o", "--output", required=True, help="output folder for the PNG frames")
    when = pair.add_mutually_exclusive_group()
    when.add_argument("--factor", type=_positive_int, default=2, help="make N-1 evenly spaced frames (default 2)")
    when.add_argument("--times", type=float, nargs="+", metavar="T", help="explicit times in (0, 1)")
    pair.add_argument("--gif", default=None, help="also write the sequence (inputs included) as an animated GIF")
    pair.add_argument("--gif-fps", type=float, default=10.0, help="GIF frame rate (default 10)")
    pair.add_argument("--overlay", action="store_true", help="also write overlay.png, the two inputs blended 50/50")
    pair.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_model_args(pair)
    _add_backend_arg(pair)
    pair.set_defaults(func=cmd_pair)

    video = sub.add_parser(
        "video",
        help="interpolate a video file into a smoother or slower one",
        description="Raise the frame rate of a video (or make slow motion). Audio is copied when the duration "
        "is kept; scene cuts are held across, never blended.",
    )
    video.add_argument("input", help="video file, folder of images, or pattern such as frames/%%08d.png")
    video.add_argument("-o", "--output", required=True, help="output video file, or frames/%%08d.png for PNG frames")
    rate = video.add_mutually_exclusive_group()
    rate.add_argument("--factor", type=_positive_int, default=None, help="multiply the frame rate by N (default 2)")
    rate.add_argument("--fps", default=None, help="output frame rate: 60, 59.94 or 60000/1001")
    rate.add_argument("--slowmo", type=_positive_int, default=None, help="N times slower at the same frame rate")
    enc = video.add_argument_group("encoding")
    enc.add_argument("--codec", default="libx264", help="FFmpeg encoder: libx264 (default), libx265, ffv1, ...")
    enc.add_argument("--crf", type=int, default=18, help="quality for x264/x265/vp9/av1 (lower is better; 18)")
    enc.add_argument("--preset", default="medium", help="x264/x265 speed preset (default medium)")
    enc.add_argument(
        "--pix-fmt", default=None, help="output pixel format (default: the source's, or the encoder's nearest)"
    )
    scenes = video.add_argument_group("scene cuts")
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
    anime = video.add_argument_group("animation")
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
    video.add_argument("--input-fps", default=None, help="frame rate of an image-sequence input (default 25)")
    video.add_argument(
        "--deinterlace", action="store_true", help="deinterlace first with FFmpeg's bwdif (one frame per frame)"
    )
    video.add_argument("--uhd", action="store_true", help="shorthand for --scale 0.5 (4K input)")
    video.add_argument("--batch", type=int, default=None, help="pairs per model call (default: 4 on CUDA, else 1)")
    par = video.add_argument_group("parallel workers (same output as one process)")
    par.add_argument("--workers", type=_int_at_least(1), default=None, help="run the network in N processes")
    par.add_argument("--devices", default=None, help="one worker per device, e.g. cuda:0,cuda:1")
    video.add_argument("--overwrite", action="store_true", help="replace an existing output")
    video.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    _add_model_args(video)
    _add_backend_arg(video)
    video.set_defaults(func=cmd_video)

    train = sub.add_parser(
        "train",
        help="train or fine-tune a model (also under torchrun)",
        description="Train IFRNet with the paper's objective. Defaults are the paper's Vimeo90K recipe per process; "
        "run the same command under torchrun for several GPUs or nodes.",
    )
    train.add_argument("--config", default=None, help="TOML, YAML or JSON file of settings (flags override it)")
    train.add_argument("--model", default=None, help="variant to train (default IFRNet)")
    train.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KIND:PATH",
        help="training set, repeatable: vimeo90k:, vimeo90k-septuplet:, gopro:, adobe240:, folder:",
    )
    train.add_argument("--val", action="append", default=[], metavar="KIND:PATH", help="validation set (test split)")
    train.add_argument("--out", default=None, help="run folder for checkpoints, config and TensorBoard logs")
    train.add_argument("--init", default=None, help="start from these weights (e.g. an official checkpoint)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    train.add_argument("--epochs", type=int, default=None, help="epochs (default 300)")
    train.add_argument("--iterations", type=int, default=None, help="stop after N iterations (sizes the LR schedule)")
    train.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="stop after this much training, checkpointed and validated; --resume continues (job time limits)",
    )
    train.add_argument("--batch-size", type=int, default=None, help="samples per process (default 6)")
    train.add_argument("--crop", type=int, default=None, help="training crop side (default 224)")
    train.add_argument("--lr", type=float, default=None, help="peak learning rate (default 1e-4)")
    train.add_argument("--lr-min", type=float, default=None, help="final learning rate (default 1e-5)")
    train.add_argument("--weight-decay", type=float, default=None)
    train.add_argument("--amp", default=None, choices=["none", "bf16", "fp16"], help="mixed precision")
    train.add_argument("--workers", type=int, default=None, help="data-loading processes (default 2)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--val-every", type=int, default=None, help="validate every N iterations (default: each epoch)")
    train.add_argument("--val-limit", type=int, default=None, help="validate on at most N samples")
    train.add_argument("--save-every", type=int, default=None, help="checkpoint every N iterations (default 500)")
    train.add_argument("--log-every", type=int, default=None)
    train.add_argument("--geometry-weight", type=float, default=None, help="default 0.01 (the paper's)")
    train.add_argument("--distillation-weight", type=float, default=None, help="default 0.01 (the paper's)")
    train.add_argument(
        "--plain-distillation",
        dest="distillation_robust",
        action="store_false",
        default=None,
        help="weight every pixel of the distillation loss alike (a from-scratch warm-up; the paper's is robust)",
    )
    train.add_argument(
        "--weight-init",
        default=None,
        choices=["default", "kaiming"],
        help="initial weights without --init: PyTorch's default (the authors') or variance-preserving",
    )
    train.add_argument("--skip-bad", action="store_true", default=None, help="skip corrupt samples with a warning")
    train.add_argument("--device", default=None, help="cpu, cuda, mps (under torchrun: each rank its own GPU)")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    flow = sub.add_parser("flow", help="write pseudo-label optical flow for a training set")
    flow.add_argument("--dataset", required=True, help="layout: vimeo90k")
    flow.add_argument("--root", required=True, help="dataset root folder")
    flow.add_argument("--estimator", default="dis", help="dis, dis:fast, dis:ultrafast or package.module:Class")
    flow.add_argument("--workers", type=int, default=1, help="parallel processes")
    flow.add_argument("-q", "--quiet", action="store_true")
    flow.set_defaults(func=cmd_flow)

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
    what.add_argument("--speed", action="store_true", help="params, FLOPs and runtime per variant")
    ev.add_argument("--root", default=None, help="benchmark root folder")
    ev.add_argument("--split", default=None, help="SNU-FILM: easy, medium, hard, extreme or all; or a list file")
    ev.add_argument("--factor", type=_positive_int, default=2, help="--video: hold out N-1 of every N frames (2)")
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
    _add_model_args(ev)
    ev.set_defaults(func=cmd_eval)

    info = sub.add_parser("info", help="parameters, FLOPs and checkpoints of the variants")
    info.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    info.add_argument("--model", default=None, help="one variant (default: all)")
    info.set_defaults(func=cmd_info)

    export = sub.add_parser(
        "export",
        help="write the model as an ONNX graph (any frame size, t as an input) for --backend onnxruntime",
    )
    export.add_argument("-o", "--output", required=True, help="output .onnx file")
    export.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 16, for GridSample; default 18)")
    export.add_argument("--no-verify", action="store_true", help="skip the check against PyTorch at two sizes")
    export.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    export.add_argument("--model", default=None, help="IFRNet, IFRNet_L or IFRNet_S (default: from the checkpoint)")
    export.add_argument("--checkpoint", default=None, help="weights file, Vimeo90K, GoPro or starter (default)")
    export.set_defaults(func=cmd_export)

    bench = sub.add_parser(
        "bench", help="every variant x backend x precision side by side: ms/frame, speed-up, difference, memory"
    )
    bench.add_argument("--models", nargs="+", default=None, help="variants (default: all)")
    bench.add_argument(
        "--sizes", nargs="+", type=_size, default=None, metavar="WxH", help="default 448x256 1280x720 1920x1080"
    )
    bench.add_argument("--precisions", nargs="+", choices=["fp32", "bf16", "fp16"], default=None)
    bench.add_argument("--onnx-dir", default=None, help="add onnxruntime rows; graphs are exported here once")
    bench.add_argument("--device", default=None)
    bench.add_argument("--repeats", type=_int_at_least(1), default=5)
    bench.add_argument("--warmup", type=int, default=1)
    bench.add_argument("--no-uhd", action="store_true", help="skip the 4K peak-memory measurement")
    bench.add_argument("--compile", action="store_true", help="add torch.compile rows (slow to start)")
    bench.add_argument("--json", default=None, help="also write the figures as JSON")
    bench.add_argument("-q", "--quiet", action="store_true")
    bench.set_defaults(func=cmd_bench)

    convert = sub.add_parser(
        "convert",
        help="convert a checkpoint to .safetensors",
        description="Convert a checkpoint to .safetensors; several sources of one variant are averaged.",
    )
    convert.add_argument("source", nargs="+", help=".pth or .safetensors checkpoint(s); several are averaged")
    convert.add_argument("destination", help="output .safetensors file")
    convert.add_argument("--fp16", action="store_true", help="store weights as fp16 (half the size)")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    convert.set_defaults(func=cmd_convert)
    return parser


#: stop signals received during this command (a library may turn the exception into another)
_received: list[int] = []


@contextlib.contextmanager
def _stop_signals():
    """SIGTERM (``timeout``, job schedulers, ``docker stop``) and SIGHUP (a closed terminal) stop a
    command as Ctrl-C does: temporary files removed, workers shut down, exit status 128 + signal.
    A signal that arrives during an import is delivered again once the import is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame) -> None:
        # An exception raised inside an import (torch's, a C extension initialising) can abort
        # the interpreter; there the signal is sent again a moment later, once the import is done.
        while frame is not None:
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                threading.Timer(0.2, os.kill, (os.getpid(), signum)).start()
                return
            frame = frame.f_back
        # every stop signal raises what Ctrl-C raises, so the same clean-up runs; _report tells them apart
        _received.append(signum)
        raise KeyboardInterrupt

    # Ctrl-C too: Python's own handler raises inside an import as well (a C++ abort in torch's)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``ifrnet`` command. Every failure is one line on stderr: exit 1 for bad input and
    system errors (permission, no space, ...), 130 for Ctrl-C, 143/129 for SIGTERM/SIGHUP."""
    _received.clear()
    with _stop_signals():
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            return args.func(args)
        except BaseException as exc:
            if isinstance(exc, SystemExit):
                raise
            return _report(exc)


def _report(exc: BaseException) -> int:
    """Print the one line for ``exc`` and return the exit status."""
    if _received:
        # a stop signal came: whatever a library turned its exception into, this is why it ended
        signum = _received[0]
        line, status = (
            ("interrupted", 130)
            if signum == signal.SIGINT
            else (f"stopped by {signal.Signals(signum).name}", 128 + signum)
        )
    elif isinstance(exc, IFRNetError):
        line, status = f"error: {exc}", 1
    elif isinstance(exc, KeyboardInterrupt):
        line, status = "interrupted", 130
    elif isinstance(exc, OSError):
        from .io.files import describe_os_error

        line, status = f"error: {describe_os_error(exc)}", 1
    elif isinstance(exc, MemoryError):
        line, status = "error: out of memory (try --scale 0.5, a smaller --batch or fewer --workers)", 1
    else:
        raise exc  # a bug: its traceback is what a report needs
    print(f"{PROG}: {line}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
