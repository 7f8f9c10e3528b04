"""Write the ready graphs shipped beside the starter weights: ``src/ifrnet/pretrained/*.xml``/``.bin``.

    python scripts/make_shipped_graphs.py [--overwrite] [--data ../shared/data]

For each shipped set of weights: the OpenVINO IR with fp16-compressed weights, and the int8 IR
made by ``ifrnet export --precision int8`` with its accuracy control, refused unless every held-out
set stays within the reduced-precision contract (:data:`ifrnet.exactness.REDUCED_DB`), calibrated on
:data:`CALIBRATION` (permissively licensed clips of the shared data; MODEL_CARD.md names them).
Run after the starter weights change; ``tests/test_exactness.py`` fails until then (it checks the
sha256 recorded in each IR against the weights file, and, as a slow test, the IR's output against
a fresh export of the weights). Needs torch, the exporter (``ifrnet[export]``), OpenVINO and NNCF
(``ifrnet[int8]``); the int8 IR takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from ifrnet import pretrained
from ifrnet.exactness import REDUCED_DB
from ifrnet.graphs.cache import cached_graph
from ifrnet.graphs.export import export_ir
from ifrnet.graphs.int8 import footage_sets, quantize_graph
from ifrnet.weights import load_model

#: the int8 calibration clips (Apache-2.0 / BSD-3-Clause OpenCV samples); vtest and the ViSP
#: sequences stay out of it, as they are the held-out scores of MODEL_CARD.md
CALIBRATION = ("opencv_box.mp4", "opencv_cup.mp4", "opencv_tree.avi")
#: generated large-motion scenes to calibrate on (and as many others held out), and the most
#: convolutions the accuracy control may put back into float. The command's defaults (48, 8) give
#: a graph 1.30x bf16's speed that loses 0.10 dB on fresh generated scenes, at the contract's
#: edge; these give 1.19x and at most 0.04 dB (MODEL_CARD.md, "Shipped graphs").
GENERATED, MAX_FLOAT_CONVS = 96, 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the IRs that are there (default: make only those missing)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[1].parent / "shared" / "data",
        help="the folder holding the calibration clips (default: ../shared/data beside the repository)",
    )
    args = parser.parse_args()
    clips = [args.data / name for name in CALIBRATION]
    missing = [str(clip) for clip in clips if not clip.is_file()]
    if missing:
        parser.error(f"calibration clip(s) not found: {', '.join(missing)}")
    for entry in pretrained.WEIGHTS.values():
        if not (entry.shipped and entry.graph):
            continue
        weights = entry.find()
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        target = pretrained.PACKAGE_DIR / entry.graph
        if args.overwrite or not target.exists():
            out = export_ir(load_model(entry.variant, weights, "cpu"), target, weights_sha256=digest, overwrite=True)
            print(f"{entry.name}: {out} ({out.with_suffix('.bin').stat().st_size / 1e6:.1f} MB weights)", flush=True)
        if not entry.int8_graph or ((pretrained.PACKAGE_DIR / entry.int8_graph).exists() and not args.overwrite):
            continue
        start = time.perf_counter()
        calibration, held_out = footage_sets(clips, generated=GENERATED)
        result = quantize_graph(
            cached_graph(entry.variant, weights),
            pretrained.PACKAGE_DIR / entry.int8_graph,
            calibration,
            held_out,
            max_drop=REDUCED_DB,  # the reduced-precision contract, so that auto may pick it
            max_reverted=MAX_FLOAT_CONVS,
            overwrite=True,
            weights_sha256=digest,
        )
        size = result.path.with_suffix(".bin").stat().st_size / 1e6
        print(f"{entry.name}: {result.path} ({size:.1f} MB weights, {time.perf_counter() - start:.0f} s)")
        for name, drop in result.drops().items():
            print(f"  held out {name}: fp32 {result.fp32[name]:.2f} dB, int8 {result.int8[name]:.2f} dB ({-drop:+.2f})")


if __name__ == "__main__":
    main()
