"""``ifrnet train``: train or fine-tune a model (also under torchrun)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
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
    train.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from ..training.trainer import TrainConfig, Trainer, load_config_file

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
