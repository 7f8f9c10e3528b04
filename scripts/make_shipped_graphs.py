"""Write the ready graphs shipped beside the starter weights: ``src/ifrnet/pretrained/*.xml``/``.bin``.

    python scripts/make_shipped_graphs.py [--overwrite]

Run after the starter weights change; ``tests/test_exactness.py`` fails until then (it
checks the sha256 recorded in each IR against the weights file, and, as a slow test, the IR's
output against a fresh export of the weights). Needs torch, the exporter (``ifrnet[export]``) and OpenVINO.
"""

from __future__ import annotations

import argparse
import hashlib

from ifrnet import pretrained
from ifrnet.graphs.export import export_ir
from ifrnet.weights import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overwrite", action="store_true", help="replace the IRs that are there")
    args = parser.parse_args()
    for entry in pretrained.WEIGHTS.values():
        if not (entry.shipped and entry.graphs):
            continue
        weights = entry.find()
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        model = load_model(entry.variant, weights, "cpu")
        target = pretrained.PACKAGE_DIR / entry.graphs[0]
        out = export_ir(model, target, weights_sha256=digest, overwrite=args.overwrite)
        print(f"{entry.name}: {out} ({out.with_suffix('.bin').stat().st_size / 1e6:.1f} MB weights)")


if __name__ == "__main__":
    main()
