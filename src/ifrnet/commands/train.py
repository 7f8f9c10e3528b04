"""``ifrnet train``: Train IFRNet with the paper's objective. Defaults are the paper's Vimeo90K recipe
per process; run the same command under torchrun for several GPUs or nodes.

The flags are generated from :class:`ifrnet.training.config.TrainConfig`'s fields (help, choices
and range from their metadata). Each defaults to None, so a config file's value is overridden only
by a flag actually given.
"""

from __future__ import annotations

import argparse
import math
import sys

from ..training.config import TrainConfig, options
from .options import add_options


def _amp(text: str) -> str:
    """``--amp none|bf16|fp16``, the old spelling of ``--precision``: ``none`` is fp32."""
    if text not in ("none", "bf16", "fp16"):
        raise argparse.ArgumentTypeError(
            f"must be none, bf16 or fp16 (or use --precision fp32|bf16|fp16); got {text!r}"
        )
    return "fp32" if text == "none" else text


NAME = "train"
HELP = "train or fine-tune a model (also under torchrun)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=None, metavar="FILE", help="TOML, YAML or JSON file of settings (flags override it)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    add_options(parser, TrainConfig, unset=True)
    # earlier spellings, still accepted
    parser.add_argument(
        "--plain-distillation",
        dest="distillation_robust",
        action="store_false",
        default=None,
        help="the same as --no-distillation-robust",
    )
    parser.add_argument("--amp", dest="amp", type=_amp, default=None, help=argparse.SUPPRESS)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import logging

    from ..training.config import load_config_file
    from ..training.trainer import Trainer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    settings = load_config_file(args.config) if args.config else {}
    if args.amp is not None:
        print("ifrnet: note: --amp is now --precision (none is fp32)", file=sys.stderr)
        settings["precision"] = args.amp  # a --precision also given wins, as flags do below
    settings.update({name: getattr(args, name) for name, _, _ in options() if getattr(args, name) is not None})
    config = TrainConfig(**settings)
    result = Trainer(config).fit(resume=args.resume, progress=not args.quiet)
    if result.get("total") is not None:
        stopped = result["iteration"] < result["iterations"]
        best = result["best_psnr"]
        validated = f"best validation PSNR {best:.3f} dB" if math.isfinite(best) else "no validation (--val)"
        print(
            f"{'time limit' if stopped else 'done'}: iteration {result['iteration']} of {result['iterations']}, "
            f"loss {result['total']:.4f}, {validated}, {result['samples_per_second']:.2f} samples/s; "
            f"weights in {config.out}" + ("; continue with --resume" if stopped else "")
        )
    return 0
