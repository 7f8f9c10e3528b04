"""The VapourSynth side of ``tests/test_vapoursynth.py``, run by a Python 3.12+ interpreter that has
VapourSynth, numpy, onnxruntime, PyAV and ``ifrnet`` (without torch).

``python tests/vs_child.py CLIP TWOS GRAPH OUT.npz`` builds an RGBS clip of CLIP's frames as the command
line decodes them (8-bit RGB / 255), runs ``ifrnet.vapoursynth.interpolate`` on it, and saves what
each case gave, as 8-bit RGB (rounded as the command line rounds) and float planes where exactness
matters, with the clips' lengths, rates and frame properties.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction

import numpy as np
import vapoursynth as vs

import ifrnet.vapoursynth as ivs
from ifrnet.vapoursynth import interpolate
from ifrnet.video.reader import open_source

core = vs.core


def source_clip(frames: list[np.ndarray], fpsnum: int, fpsden: int, props: dict[int, dict] | None = None):
    h, w = frames[0].shape[:2]
    blank = core.std.BlankClip(format=vs.RGBS, width=w, height=h, length=len(frames), fpsnum=fpsnum, fpsden=fpsden)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        # the same float32 values the engines make of 8-bit frames: value / 255
        planes = frames[n].astype(np.float32) / np.float32(255)
        for p in range(3):
            np.copyto(np.asarray(out[p]), planes[..., p])
        for key, value in (props or {}).get(n, {}).items():
            out.props[key] = value
        return out

    return core.std.ModifyFrame(blank, blank, fill)


class CountingClip:
    """The filter's source clip, counting the frames fetched with ``get_frame`` (synchronously,
    inside a callback) rather than delivered through VapourSynth's frame requests."""

    def __init__(self, node: vs.VideoNode) -> None:
        self.node, self.fetched = node, 0

    def get_frame(self, n: int) -> vs.VideoFrame:
        self.fetched += 1
        return self.node.get_frame(n)

    def __getitem__(self, key):
        return self.node[key]

    def __getattr__(self, name: str):
        return getattr(self.node, name)


#: every filter's counting source clip, in the order the filters were made
COUNTERS: list[CountingClip] = []
_output = ivs._Interpolation.output


def _counted_output(self, vs_module):
    node = _output(self, vs_module)  # built on the real clip; what the callbacks read is counted
    self.clip = CountingClip(self.clip)
    COUNTERS.append(self.clip)
    return node


ivs._Interpolation.output = _counted_output


def planes(frame: vs.VideoFrame) -> np.ndarray:
    return np.stack([np.asarray(frame[p]) for p in range(3)])


def to_rgb8(stack: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(stack.transpose(0, 2, 3, 1) * 255), 0, 255).astype(np.uint8)


def decoded(path: str) -> list[np.ndarray]:
    with open_source(path) as source:
        return [f.image for f in source.frames()]


def main(clip_path: str, twos_path: str, graph: str, out_path: str) -> None:
    frames = decoded(clip_path)
    engine = {"backend": "onnxruntime", "checkpoint": graph}
    clip = source_clip(frames, 24000, 1001)
    results: dict[str, np.ndarray] = {}
    info: dict[str, object] = {"source_frames": len(frames)}

    for name, kwargs in (("factor2", {"factor": 2}), ("fps60", {"fps_num": 60000, "fps_den": 1001})):
        out = interpolate(clip, **kwargs, **engine)
        got = [f for f in out.frames()]
        results[name] = to_rgb8(np.stack([planes(f) for f in got]))
        info[name] = {
            "num_frames": out.num_frames,
            "fps": [out.fps.numerator, out.fps.denominator],
            "durations": sorted({(int(f.props["_DurationNum"]), int(f.props["_DurationDen"])) for f in got}),
            "cut_next": [k for k, f in enumerate(got) if f.props.get("_SceneChangeNext")],
            "cut_prev": [k for k, f in enumerate(got) if f.props.get("_SceneChangePrev")],
            "fetched": COUNTERS[-1].fetched,
        }

    # drawings on twos, with dedup: in-betweens at the held copies' times, asked for backwards
    twos = source_clip(decoded(twos_path), 24000, 1001)
    out = interpolate(twos, factor=2, dedup=True, **engine)
    results["dedup"] = to_rgb8(np.stack([planes(out.get_frame(k)) for k in reversed(range(out.num_frames))][::-1]))

    # out of order: the 2.5x output asked for last frame first, as an editor seeking backwards does
    out = interpolate(clip, fps_num=60000, fps_den=1001, **engine)
    backwards = [planes(out.get_frame(k)) for k in reversed(range(out.num_frames))][::-1]
    results["fps60_reversed"] = to_rgb8(np.stack(backwards))

    # a cut named by a frame property, inside a shot with no cut of its own (the first 16 frames)
    shot = frames[:16]
    plain = interpolate(source_clip(shot, 24000, 1001), factor=2, **engine)
    marked = interpolate(source_clip(shot, 24000, 1001, {6: {"_SceneChangeNext": 1}}), factor=2, **engine)
    results["shot_plain"] = np.stack([planes(f) for f in plain.frames()])
    results["shot_marked"] = np.stack([planes(f) for f in marked.frames()])
    results["shot_source"] = np.stack([f.astype(np.float32).transpose(2, 0, 1) / np.float32(255) for f in shot])
    info["shot_marked"] = {
        "cut_next": [k for k, f in enumerate(marked.frames()) if f.props.get("_SceneChangeNext")],
        "cut_prev": [k for k, f in enumerate(marked.frames()) if f.props.get("_SceneChangePrev")],
    }

    # player mode, on a clip built as mpv's --vf=vapoursynth builds video_in: INT_MAX / 16 frames,
    # no rate, each frame with its own duration (24000/1001 and 30000/1001 alternating) and time
    requested: list[int] = []
    durations = [Fraction(1001, 24000), Fraction(1001, 30000)]
    h, w = frames[0].shape[:2]
    endless = core.std.BlankClip(format=vs.RGBS, width=w, height=h, length=(2**31 - 1) // 16, fpsnum=0, fpsden=1)

    def mpv_frame(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        requested.append(n)
        out = f.copy()
        planes = frames[n % 16].astype(np.float32) / np.float32(255)  # the first shot, over and over
        for p in range(3):
            np.copyto(np.asarray(out[p]), planes[..., p])
        out.props["_DurationNum"], out.props["_DurationDen"] = durations[n % 2].numerator, durations[n % 2].denominator
        out.props["_AbsoluteTime"] = float(sum(durations[i % 2] for i in range(n % 64)))
        return out

    video_in = core.std.ModifyFrame(endless, endless, mpv_frame)
    played = interpolate(video_in, factor=2, player=True, **engine)
    got = [played.get_frame(k) for k in range(8)]
    results["player"] = np.stack([planes(f) for f in got])
    results["player_sources"] = np.stack([planes(video_in.get_frame(j)) for j in range(5)])
    requested.clear()
    far = played.get_frame(2 * 100_000_000 + 1)  # a seek deep into the stream
    info["player"] = {
        "num_frames": played.num_frames,
        "fps": [played.fps.numerator, played.fps.denominator],
        "durations": [[int(f.props["_DurationNum"]), int(f.props["_DurationDen"])] for f in got],
        "times": [float(f.props["_AbsoluteTime"]) for f in got],
        "seek_requested": sorted(set(requested)),
        "seek_duration": [int(far.props["_DurationNum"]), int(far.props["_DurationDen"])],
    }

    # what is refused, and how
    refusals = {}
    for name, call in (
        ("yuv", lambda: interpolate(core.std.BlankClip(format=vs.YUV420P8, length=4), **engine)),
        ("factor1", lambda: interpolate(clip, factor=1, **engine)),
        ("vfr", lambda: interpolate(core.std.BlankClip(format=vs.RGBS, length=4, fpsnum=0, fpsden=1), **engine)),
    ):
        try:
            call()
            refusals[name] = None
        except ValueError as exc:
            refusals[name] = str(exc)
    info["refusals"] = refusals
    info["torch_imported"] = "torch" in sys.modules
    np.savez(out_path, **results)
    print(json.dumps(info))


if __name__ == "__main__":
    main(*sys.argv[1:5])
