"""End-to-end video throughput against model-only throughput, and peak memory against clip length.

    python benchmarks/video_throughput.py                    # both measurements
    python benchmarks/video_throughput.py --skip-memory      # throughput only

Throughput: the shipped real clip (examples/vtest_4s.avi, 40 frames, 768x576) re-encoded as a
23.976 fps H.264 Matroska file, interpolated 2x, (a) model only: its 39 frame pairs, already
decoded in memory, through ``Interpolator``; (b) end to end: ``interpolate_video`` from the file
to an H.264 Matroska file (decode, scene checks, model, encode), with the network calls counted.
Targets: exactly 2x frames, one network frame per new frame, (b) >= 90% of (a) on CPU.

Memory: a generated 10 s and a 60 s clip (25 fps) through the whole pipeline, each in a fresh
process; peak RSS (VmHWM) printed for both. Target: equal within 10%.

Prints figures; asserts nothing. Weights do not change speed: a seeded random IFRNet_S (or
--model/--checkpoint) is used.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch

from ifrnet.engine import Engine

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "examples" / "vtest_4s.avi"

_MEMORY_CHILD = """
import sys, torch
from ifrnet import Interpolator, create_model
from ifrnet.video import VideoOptions, interpolate_video
torch.manual_seed(0)
interp = Interpolator(create_model("IFRNet_S"))
def hwm():  # peak RSS of this process image in KiB (ru_maxrss would include the parent's, kept across exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
before = hwm()
summary = interpolate_video(sys.argv[1], sys.argv[2], interp, VideoOptions(factor=2))
print(before, hwm(), summary.frames_out)
"""


def panning_clip(path: Path, seconds: int, rate: int = 25, width: int = 160, height: int = 128) -> Path:
    """A texture panning 3 pixels per frame, H.264: every pair is real motion for the model."""
    import av
    import numpy as np

    rng = np.random.default_rng(seconds)
    texture = np.kron(rng.integers(0, 256, (height // 8, 64, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(seconds * rate):
            image = np.ascontiguousarray(np.roll(texture, -3 * i, axis=1)[:, :width])
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def ntsc_matroska(path: Path) -> Path:
    """The shipped clip re-encoded as a 23.976 fps H.264 Matroska file (1 ms timestamp ticks), the
    usual container and rate of anime encodes: no source time is a multiple of the 2x interval."""
    import av

    with av.open(str(CLIP)) as src, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(24000, 1001))
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        stream.options = {"crf": "18", "preset": "fast"}
        for i, frame in enumerate(src.decode(video=0)):
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1001, 24000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


class CountingEngine(Engine):
    """An engine that counts the frames it is asked for, around the real one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.uses_time = engine.uses_time
        self.calls = 0
        self.frames = 0

    def describe(self) -> str:
        return self.engine.describe()

    @property
    def device_kind(self) -> str:
        return self.engine.device_kind

    def interpolate(self, a, b, times=(0.5,)):
        self.calls += 1
        self.frames += len(times) * (a.shape[0] if a.ndim == 4 else 1)
        return self.engine.interpolate(a, b, times)


def throughput(model_name: str, checkpoint: str | None) -> None:
    from ifrnet import Interpolator, create_model, load_model
    from ifrnet.video import VideoOptions, interpolate_video, open_source

    torch.manual_seed(0)
    model = load_model(model_name, checkpoint, "cpu") if checkpoint else create_model(model_name)
    interp = Interpolator(model, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        clip = ntsc_matroska(Path(tmp) / "vtest_23.976.mkv")
        with open_source(clip) as reader:
            frames = [f.image for f in reader.frames()]
        pairs = len(frames) - 1

        def model_only_seconds() -> float:
            start = time.perf_counter()
            for a, b in itertools.pairwise(frames):
                interp.interpolate(a, b, [0.5])
            return time.perf_counter() - start

        interp.interpolate(frames[0], frames[1])  # warm-up
        # measured before and after the pipeline runs and averaged: this shared machine drifts
        model_only = model_only_seconds()
        counting = CountingEngine(interp)
        start = time.perf_counter()
        summary = interpolate_video(clip, Path(tmp) / "out.mkv", counting, VideoOptions(factor=2, scene_threshold=None))
        end_to_end = time.perf_counter() - start
        model_only = (model_only + model_only_seconds()) / 2
    threads = torch.get_num_threads()
    print(
        f"clip: {CLIP.name} as 23.976 fps H.264 in Matroska, {len(frames)} frames 768x576, 2x, "
        f"{model.config.name}, {threads} threads"
    )
    print(
        f"output: {summary.frames_out} frames ({summary.frames_out / len(frames):g}x), "
        f"{summary.interpolated} new; network: {counting.calls} calls for {counting.frames} frames "
        f"(target: one per new frame, {pairs})"
    )
    print(f"model only : {pairs} pairs in {model_only:.1f} s = {pairs / model_only:.3f} pairs/s")
    rate = summary.interpolated / end_to_end
    print(f"end to end : {summary.interpolated} pairs in {end_to_end:.1f} s = {rate:.3f} pairs/s")
    print(f"end-to-end / model-only throughput: {rate / (pairs / model_only) * 100:.1f}% (target >= 90%)")


def memory() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        peaks = {}
        for seconds in (10, 60):
            clip = panning_clip(Path(tmp) / f"clip{seconds}.mp4", seconds)
            cmd = [sys.executable, "-c", _MEMORY_CHILD, str(clip), str(Path(tmp) / f"out{seconds}.mp4")]
            before, peak, frames = map(
                int, subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
            )
            peaks[seconds] = peak
            print(
                f"{seconds:>3} s clip (160x128, 25 fps, 2x): {frames} output frames, peak RSS {peak / 1024:.1f} MiB "
                f"(model loaded, before the run: {before / 1024:.1f} MiB)",
                flush=True,
            )
        print(f"peak RSS 60 s / 10 s: {peaks[60] / peaks[10]:.3f} (target: within 10%, 0.90..1.10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="IFRNet_S")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(args.model, args.checkpoint)
    if not args.skip_memory:
        memory()


if __name__ == "__main__":
    main()
