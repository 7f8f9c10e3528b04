"""``vspipe`` on ``examples/vapoursynth/ifrnet_filter.vpy`` against ``ifrnet video``, the same engine
on the same clip, whole processes.

    python benchmarks/vapoursynth_vs_cli.py --vs-venv .venv-vs --graph GRAPH.onnx [--rounds 2]
    python benchmarks/vapoursynth_vs_cli.py --vs-venv VENV   # defaults: the starter weights, auto

With ``--graph``, both run it on onnxruntime; without, both take ``--backend auto``'s engine for
the starter weights (OpenVINO: the venv needs openvino and no vs-mlrt OpenVINO plugin). The clip
is ``examples/vtest_4s.avi`` (768x576, 40 frames, 2x: 39 new). ``ifrnet video`` writes FFV1
Matroska; vspipe writes the script's 10-bit 4:2:0 as YUV4MPEG2 to /dev/null (the venv needs
``vapoursynth config`` run once). Rounds interleaved A B A B, best of each. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "examples" / "vtest_4s.avi"


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]}: failed\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vs-venv", type=Path, default=REPO / ".venv-vs")
    parser.add_argument("--graph", default=None, help="an ONNX graph from 'ifrnet export' (default: auto)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from ifrnet.bench import cpu_description

    env = {**os.environ, "IFRNET_CLIP": str(CLIP)}
    if args.graph:
        env["IFRNET_GRAPH"] = str(Path(args.graph).resolve())
    env.pop("IFRNET_BACKEND", None)
    script = REPO / "examples" / "vapoursynth" / "ifrnet_filter.vpy"
    with tempfile.TemporaryDirectory() as tmp:
        cli = [sys.executable, "-m", "ifrnet.cli", "video", str(CLIP), "-o", f"{tmp}/o.mkv", "--overwrite",
               "--codec", "ffv1", "--progress", "none"]  # fmt: skip
        if args.graph:
            cli += ["--backend", "onnxruntime", "--checkpoint", args.graph]
        vspipe = [str(args.vs_venv / "bin" / "vspipe"), "-c", "y4m", str(script), os.devnull]
        best = {"ifrnet video": float("inf"), "vspipe": float("inf")}
        for _ in range(args.rounds):
            best["ifrnet video"] = min(best["ifrnet video"], timed(cli, env))
            best["vspipe"] = min(best["vspipe"], timed(vspipe, env))
    engine = "onnxruntime fp32" if args.graph else "--backend auto (the starter weights)"
    print(f"CPU: {cpu_description()}; {CLIP.name} 768x576, 40 frames -> 80 (39 new), {engine}")
    for name, seconds in best.items():
        print(f"  {name:14} {seconds:6.1f} s")
    print(f"  vspipe / ifrnet video: {best['vspipe'] / best['ifrnet video']:.2f}x")


if __name__ == "__main__":
    main()
