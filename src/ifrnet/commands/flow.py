"""``ifrnet flow``: pseudo-label optical flow for a training set."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    flow = sub.add_parser("flow", help="write pseudo-label optical flow for a training set")
    flow.add_argument("--dataset", required=True, help="layout: vimeo90k")
    flow.add_argument("--root", required=True, help="dataset root folder")
    flow.add_argument("--estimator", default="dis", help="dis, dis:fast, dis:ultrafast or package.module:Class")
    flow.add_argument("--workers", type=int, default=1, help="parallel processes")
    flow.add_argument("-q", "--quiet", action="store_true")
    flow.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.pseudo_flow import label_dataset

    summary = label_dataset(
        args.dataset, args.root, estimator=args.estimator, workers=args.workers, progress=not args.quiet
    )
    print(
        f"{summary.written} sequence(s) labelled, {summary.skipped} already done, of {summary.total} "
        f"({summary.seconds:.1f} s)"
    )
    return 0
