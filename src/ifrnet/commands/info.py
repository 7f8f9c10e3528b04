"""``ifrnet info``: the variants' size and cost, and every weights entry with where it was found."""

from __future__ import annotations

import argparse

from .options import size


def register(sub: argparse._SubParsersAction) -> None:
    info = sub.add_parser("info", help="parameters, FLOPs and weights of the variants")
    info.add_argument("--size", type=size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    info.add_argument("--model", default=None, help="one variant (default: all)")
    info.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..benchmark import count_conv_flops, count_parameters, format_table
    from ..models import canonical_name, create_model, list_models
    from ..pretrained import SHIPPED
    from ..weights import OFFICIAL_CHECKPOINTS, find_checkpoint, search_dirs

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
