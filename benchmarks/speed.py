"""The paper's speed table: ``ifrnet bench --paper`` (params, conv GFLOPs, eager ms per frame).

    python benchmarks/speed.py                  # 448x256 and 1280x720, all variants, best device
    python benchmarks/speed.py --device cpu --repeats 5 --sizes 448x256

Takes the flags of ``ifrnet bench``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import sys

from ifrnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--paper", *sys.argv[1:]]))
