"""``ifrnet flow``: pseudo-label optical flow for a training set."""

from __future__ import annotations

import argparse

NAME = "flow"
HELP = "write pseudo-label optical flow for a training set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="layout: vimeo90k")
    parser.add_argument("--root", required=True, help="dataset root folder")
    parser.add_argument("--estimator", default="dis", help="dis, dis:fast, dis:ultrafast or package.module:Class")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes")
    parser.add_argument("-q", "--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..data.pseudo_flow import label_dataset

    summary = label_dataset(
        args.dataset, args.root, estimator=args.estimator, workers=args.workers, progress=not args.quiet
    )
    print(
        f"{summary.written} sequence(s) labelled, {summary.skipped} already done, of {summary.total} "
        f"({summary.seconds:.1f} s)"
    )
    return 0
