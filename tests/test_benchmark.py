"""The benchmark script keeps running (its figures are read by people, not asserted)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_speed_script_prints_a_row_per_variant():
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "speed.py"),
            "--device",
            "cpu",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--sizes",
            "64x48",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("IFRNet")]
    assert [r[0] for r in rows if r[0].startswith("IFRNet")][-3:] == ["IFRNet", "IFRNet_L", "IFRNet_S"]
    assert all(float(r[-1]) > 0 for r in rows[-3:])
