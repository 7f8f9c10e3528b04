"""Speed table in the paper's format: params, conv FLOPs and median ms per frame per variant.

    python benchmarks/speed.py                  # 448x256 and 1280x720, all variants, best device
    python benchmarks/speed.py --device cpu --repeats 5 --sizes 448x256

Prints figures; asserts nothing. Each time is one batch-1 2x inference (``model.inference``)
on random frames after warm-up, the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse

from ifrnet.benchmark import PAPER_SIZES, speed_table
from ifrnet.devices import resolve_device
from ifrnet.models import list_models


def _size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list_models())
    parser.add_argument("--sizes", nargs="+", type=_size, default=list(PAPER_SIZES), metavar="WxH")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    device = resolve_device(args.device)
    table = speed_table(
        args.models,
        args.sizes,
        device,
        args.repeats,
        args.warmup,
        on_row=lambda n: print(f"  measured {n}", flush=True),
    )
    print("\n" + table)


if __name__ == "__main__":
    main()
