"""``ifrnet video`` against FFmpeg's minterpolate on real 1280x720 footage, whole processes: a cold
run (an empty ``IFRNET_CACHE_DIR``, a fresh process), warm runs, and the steady-state seconds per
new frame from two clip lengths; then the network alone for every backend x precision.

    python benchmarks/cpu_vs_peers.py                # 26 and 51 frames: 25 and 50 new ones at 2x
    python benchmarks/cpu_vs_peers.py --frames 11 --skip-network
    python benchmarks/cpu_vs_peers.py --also=--no-int8 "--also=--streams 1"  # and other settings

The clip: the first ``--frames`` frames of ``../shared/data/opencv_vtest.avi`` (real footage,
768x576; licence in that folder's README) scaled to 1280x720 with Lanczos and stored losslessly
(FFV1), so both sides decode the same pixels. Each side runs as its own process, timed from start
to exit, writing FFV1 Matroska: ``ifrnet video CLIP -o OUT --factor 2`` with its defaults (the
shipped weights), and FFmpeg's ``minterpolate`` with the settings ``ifrnet eval`` uses
(``mi_mode=mci``, adaptive overlapped blocks, bidirectional search; no scene detection) at twice the
rate, through PyAV's filter graph in one thread, as ``ffmpeg -vf minterpolate`` would run it.

Then ``ifrnet bench`` on the same size for the network alone: eager fp32, the torch engine, and
onnxruntime and OpenVINO on an exported graph (bf16 rows where the CPU has native bf16).

Prints figures; asserts nothing. Say which CPU flags the machine has when quoting them: the script
prints whether ``avx512_bf16`` / AMX are present.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOOTAGE = REPO.parent / "shared" / "data" / "opencv_vtest.avi"

MINTERPOLATE = """
import sys
from fractions import Fraction
import av
import av.filter
from ifrnet.evaluation.baselines import MINTERPOLATE_OPTIONS

source, target = sys.argv[1], sys.argv[2]
with av.open(source) as inp, av.open(target, "w") as out:
    stream = inp.streams.video[0]
    rate = stream.average_rate * 2
    enc = out.add_stream("ffv1", rate=rate)
    enc.width, enc.height, enc.pix_fmt = stream.width, stream.height, "yuv420p"
    graph = av.filter.Graph()
    chain = [
        graph.add_buffer(width=stream.width, height=stream.height, format="yuv420p", time_base=stream.time_base),
        graph.add("minterpolate", f"fps={rate}:{MINTERPOLATE_OPTIONS}"),
        graph.add("buffersink"),
    ]
    for upstream, downstream in zip(chain, chain[1:]):
        upstream.link_to(downstream)
    graph.configure()
    count = 0

    def drain():
        global count
        while True:
            try:
                frame = graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            frame.pts, frame.time_base = count, Fraction(1) / rate
            count += 1
            for packet in enc.encode(frame):
                out.mux(packet)

    for frame in inp.decode(stream):
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    for packet in enc.encode(None):
        out.mux(packet)
print(count)
"""


def make_clip(path: Path, frames: int) -> None:
    import av

    with av.open(str(FOOTAGE)) as inp, av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for index, frame in enumerate(inp.decode(video=0)):
            if index == frames:
                break
            scaled = frame.reformat(width=1280, height=720, format="yuv420p", interpolation="LANCZOS")
            scaled.pts, scaled.time_base = index, Fraction(1, 10)
            for packet in stream.encode(scaled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ...: failed\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def ifrnet_video(clip: Path, out: Path, cache: Path, *extra: str) -> tuple[float, str]:
    """One ``ifrnet video`` process at its defaults (2x, FFV1 out) with ``cache`` as its cache;
    returns the seconds and its ``engine:`` line."""
    import os

    cmd = [sys.executable, "-m", "ifrnet.cli", "video", str(clip), "-o", str(out), "--overwrite",
           "--factor", "2", "--codec", "ffv1", "--progress", "none", *extra]  # fmt: skip
    env = {**os.environ, "IFRNET_CACHE_DIR": str(cache)}
    env.pop("IFRNET_BACKEND", None)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"ifrnet video {clip.name}: failed\n{done.stderr[-2000:]}")
    engine = next((line for line in done.stdout.splitlines() if line.startswith("engine:")), "engine: ?")
    return seconds, engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=26, help="source frames of the short clip (default 26: 25 new)")
    parser.add_argument("--rounds", type=int, default=2, help="warm rounds of each side, interleaved A B A B")
    parser.add_argument("--skip-network", action="store_true", help="only the whole-process comparison")
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="FLAGS",
        help="also time 'ifrnet video' warm with these extra flags (repeatable), interleaved with the others",
    )
    args = parser.parse_args()
    from ifrnet.bench import cpu_description

    print(f"CPU: {cpu_description()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lengths = (args.frames, 2 * args.frames - 1)  # the long clip has twice the new frames
        clips = {n: folder / f"vtest_720p_{n}.mkv" for n in lengths}
        for n, clip in clips.items():
            make_clip(clip, n)
        short, long = lengths
        cold, engine = ifrnet_video(clips[short], folder / "cold.mkv", folder / "empty-cache")
        warm_cache = folder / "empty-cache"  # what the cold run left: compiled shapes
        variants = {"ours": [], **{flags: flags.split() for flags in args.also}}
        runs: dict[str, dict[int, list[float]]] = {side: {n: [] for n in lengths} for side in [*variants, "theirs"]}
        lines: dict[str, str] = {}
        for _ in range(args.rounds):
            for n in lengths:
                for side, extra in variants.items():
                    seconds, lines[side] = ifrnet_video(clips[n], folder / "ifrnet.mkv", warm_cache, *extra)
                    runs[side][n].append(seconds)
                seconds, _ = timed([sys.executable, "-c", MINTERPOLATE, str(clips[n]), str(folder / "mi.mkv")])
                runs["theirs"][n].append(seconds)
        best = {side: {n: min(v) for n, v in by_length.items()} for side, by_length in runs.items()}
        new = short - 1
        added = long - short  # new frames the long clip adds

        def steady(side: str) -> float:
            return (best[side][long] - best[side][short]) / added

        print(f"\n1280x720 real footage, 2x, whole processes, FFV1 out; {engine}")
        print(f"  short clip: {short} source frames, {new} new; long: {long}, {long - 1} new; best of {args.rounds}")
        print(f"  {'':28} {'cold':>8} {'warm':>8} {'warm long':>10} {'steady s/new':>13}")
        print(f"  {'ifrnet video (defaults)':28} {cold:8.1f} {best['ours'][short]:8.1f} {best['ours'][long]:10.1f}"
              f" {steady('ours'):13.3f}")  # fmt: skip
        print(f"  {'minterpolate (mci)':28} {'':8} {best['theirs'][short]:8.1f} {best['theirs'][long]:10.1f}"
              f" {steady('theirs'):13.3f}")  # fmt: skip
        ratio = steady("ours") / steady("theirs")
        print(f"  ifrnet / minterpolate: cold {cold / best['theirs'][short]:.2f}x, warm "
              f"{best['ours'][short] / best['theirs'][short]:.2f}x, steady {ratio:.2f}x")  # fmt: skip
        for flags in args.also:
            warm, ratio = best[flags][short], steady(flags) / steady("theirs")
            print(f"  ifrnet video {flags}: warm {warm:.1f} s ({warm / best['theirs'][short]:.2f}x), "
                  f"steady {steady(flags):.3f} s/new ({ratio:.2f}x); {lines[flags]}")  # fmt: skip
        if not args.skip_network:
            print("\nthe network alone (ifrnet bench, IFRNet_S, seeded weights):")
            argv = ["bench", "--models", "IFRNet_S", "--sizes", "1280x720", "--repeats", "3", "--no-uhd", "-q"]
            argv += ["--onnx-dir", str(folder / "graphs")]
            _, printed = timed([sys.executable, "-m", "ifrnet.cli", *argv])
            print(printed)


if __name__ == "__main__":
    main()
