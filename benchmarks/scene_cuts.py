"""Scene-cut detectors on a labelled set: precision and recall on cuts, false cuts on fast motion.

    python benchmarks/scene_cuts.py [--shared ../shared/data] [--size 320]

The set is built here, from the shared clips and generated frames, as short sequences (about 12
frames, a cut or none in the middle), since an adaptive detector judges a pair by its neighbours:

* cuts: two moments of the same clip (similar shots), the same darkened to a night scene,
  two different clips, and flat-colour animation-like renders (cel layers with dark outlines on a
  flat background) cut to another layout of the same palette, bright and dark; two moments of a
  fixed camera (the same framing, other passers-by) are jump cuts, counted apart; and renders
  that cut every third frame;
* non-cuts: ordinary motion, fast motion (every 6th frame of a clip), fast pans over a real frame
  (15-25% of the width per frame), calm footage that suddenly turns fast, renders whose
  layers move fast, and renders drawn on twos and threes with compression-like noise.

Rows: the detector before issue 21 (a fixed threshold of 25 on ``scene_score``), the package's
detector at its defaults, and PySceneDetect's ContentDetector and AdaptiveDetector fed the same
frames (``pip install scenedetect-headless``; skipped when missing). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IFRNET_SHARED_DATA", REPO.parent / "shared" / "data"))
CLIPS = (
    "opencv_box.mp4",
    "opencv_cup.mp4",
    "opencv_tree.avi",
    "opencv_vtest.avi",
    "visp_castel.mkv",
    "visp_cube.mkv",
    "visp_mbt_cube.mkv",
    "visp_mire2.mkv",
)
SHOT = 8  # frames on each side of a cut
#: fixed cameras: two moments of these are the same framing with other passers-by or leaves, a
#: jump cut rather than a change of shot; reported apart
FIXED_CAMERA = ("opencv_tree.avi", "opencv_vtest.avi")


@dataclass
class Sequence:
    name: str
    kind: str  # "cut", "jump" (a fixed camera's jump cut) or the kind of non-cut
    frames: list[np.ndarray]
    cuts: set[int]  # pair i joins frames i and i+1


def decode(path: Path, width: int, limit: int = 240) -> list[np.ndarray]:
    import av

    frames = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        height = round(stream.codec_context.height * width / stream.codec_context.width / 2) * 2
        for frame in c.decode(stream):
            frames.append(frame.reformat(width=width, height=height, format="rgb24").to_ndarray())
            if len(frames) == limit:
                break
    return frames


def dark(frames: list[np.ndarray], gain: float = 0.22) -> list[np.ndarray]:
    return [np.clip(f.astype(np.float32) * gain, 0, 255).astype(np.uint8) for f in frames]


def cel_shot(seed: int, n: int, size: tuple[int, int], palette: np.ndarray, speed: float) -> list[np.ndarray]:
    """Flat-colour ellipses with dark outlines over a flat background, moving ``speed`` px a frame."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    layers = [
        (
            rng.uniform(0.2, 0.8) * w,
            rng.uniform(0.2, 0.8) * h,
            rng.uniform(0.08, 0.25) * w,
            rng.uniform(0.08, 0.25) * h,
            palette[1 + i % (len(palette) - 1)],
            rng.uniform(-1, 1, 2),
        )
        for i in range(4)
    ]
    frames = []
    for t in range(n):
        image = np.empty((h, w, 3), np.uint8)
        image[:] = palette[0]
        for cx, cy, rx, ry, colour, direction in layers:
            x = cx + direction[0] * speed * t
            y = cy + direction[1] * speed * t
            r = ((xx - x) / rx) ** 2 + ((yy - y) / ry) ** 2
            image[r <= 1.0] = (20, 16, 24)  # outline
            image[r <= 0.8] = colour
        frames.append(image)
    return frames


def build(shared: Path, width: int) -> list[Sequence]:
    clips = {name: decode(shared / name, width) for name in CLIPS if (shared / name).exists()}
    names = list(clips)
    out: list[Sequence] = []
    for i, name in enumerate(names):
        frames = clips[name]
        if len(frames) < 4 * SHOT:
            continue
        a, b = frames[:SHOT], frames[len(frames) // 2 : len(frames) // 2 + SHOT]
        kind = "jump" if name in FIXED_CAMERA else "cut"
        out.append(Sequence(f"{name}: two moments", kind, a + b, {SHOT - 1}))
        out.append(Sequence(f"{name}: two moments, dark", kind, dark(a + b), {SHOT - 1}))
        other = clips[names[(i + 1) % len(names)]]
        if other[0].shape == frames[0].shape:
            out.append(Sequence(f"{name} -> {names[(i + 1) % len(names)]}", "cut", a + other[:SHOT], {SHOT - 1}))
        out.append(Sequence(f"{name}: motion", "motion", frames[SHOT * 2 : SHOT * 4], set()))
        fast = frames[::6][: 2 * SHOT]
        if len(fast) == 2 * SHOT:
            out.append(Sequence(f"{name}: every 6th frame", "fast", fast, set()))
            out.append(Sequence(f"{name}: every 6th frame, dark", "fast", dark(fast), set()))
        sudden = frames[:SHOT] + frames[SHOT : SHOT + 8 * SHOT : 8]
        out.append(Sequence(f"{name}: calm, then every 8th frame", "sudden", sudden, set()))
        pan_source = np.concatenate([frames[0]] * 6, axis=1)
        step = int(width * (0.15 + 0.02 * (i % 5)))
        pan = [np.ascontiguousarray(pan_source[:, k * step : k * step + width]) for k in range(2 * SHOT)]
        out.append(Sequence(f"{name}: pan {step} px/frame", "pan", pan, set()))
    size = next(iter(clips.values()))[0].shape[:2] if clips else (240, 320)
    palettes = {
        "bright": np.array([(236, 222, 200), (220, 90, 80), (90, 140, 220), (250, 210, 90), (120, 190, 120)]),
        "dark": np.array([(28, 30, 48), (70, 40, 60), (40, 60, 90), (60, 64, 40), (30, 70, 60)]),
    }
    noise = np.random.default_rng(7)

    def encoded(frames: list[np.ndarray]) -> list[np.ndarray]:  # compression noise on held drawings
        return [np.clip(f + noise.normal(0, 1.5, f.shape), 0, 255).astype(np.uint8) for f in frames]

    for p, (tone, palette) in enumerate(palettes.items()):
        for hold in (2, 3):
            drawings = cel_shot(300 + 10 * p + hold, 2 * SHOT // hold + 1, size, palette, speed=0.02 * size[1])
            held = encoded([d for d in drawings for _ in range(hold)][: 2 * SHOT])
            out.append(Sequence(f"cel {tone}: drawings on {hold}s", "held", held, set()))
        shots = [cel_shot(400 + 10 * p + k, 3, size, palette, speed=1.5) for k in range(5)]
        rapid = encoded([f for shot in shots for f in shot])
        out.append(Sequence(f"cel {tone}: a cut every 3 frames", "cut", rapid, {2, 5, 8, 11}))
        for seed in range(3):
            a = cel_shot(10 * p + seed, SHOT, size, palette, speed=1.5)
            b = cel_shot(100 + 10 * p + seed, SHOT, size, palette, speed=1.5)
            out.append(Sequence(f"cel {tone} {seed}: cut to another layout", "cut", a + b, {SHOT - 1}))
            fast = cel_shot(200 + 10 * p + seed, 2 * SHOT, size, palette, speed=0.06 * size[1])
            out.append(Sequence(f"cel {tone} {seed}: fast layers", "fast", fast, set()))
    return out


Detector = Callable[[list[np.ndarray]], set[int]]


def old_detector(frames: list[np.ndarray]) -> set[int]:
    from ifrnet.video.scenes import Thumbnail, scene_score

    thumbs = [Thumbnail.of(f) for f in frames]
    return {i for i in range(len(frames) - 1) if scene_score(thumbs[i], thumbs[i + 1]) > 25.0}


def package_detector(frames: list[np.ndarray]) -> set[int]:
    from ifrnet.video.scenes import SceneDetector

    return set(SceneDetector().cuts(frames))


def pyscenedetect(kind: str) -> Detector | None:
    try:
        from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode
    except ImportError:
        return None

    def detect(frames: list[np.ndarray]) -> set[int]:
        detector = ContentDetector(min_scene_len=1) if kind == "content" else AdaptiveDetector(min_scene_len=1)
        found: set[int] = set()
        for i, frame in enumerate([*frames, frames[-1]]):  # the repeat flushes an adaptive window
            for cut in detector.process_frame(FrameTimecode(i, 25.0), np.ascontiguousarray(frame[..., ::-1])):
                found.add(cut.frame_num - 1)  # PySceneDetect names the first frame of the new shot
        if hasattr(detector, "post_process"):
            for cut in detector.post_process(FrameTimecode(len(frames), 25.0)) or []:
                found.add(cut.frame_num - 1)
        return {c for c in found if 0 <= c < len(frames) - 1}

    return detect


def score(name: str, detector: Detector, sequences: list[Sequence]) -> None:
    tp = fp = fn = 0
    jumps = jumps_found = 0
    false_by_kind: dict[str, int] = {}
    start = time.perf_counter()
    pairs = 0
    for seq in sequences:
        found = detector(seq.frames)
        pairs += len(seq.frames) - 1
        if seq.kind == "jump":
            jumps += len(seq.cuts)
            jumps_found += len(found & seq.cuts)
            found = found - seq.cuts  # neither a hit nor a miss; anything else it finds is false
            seq = Sequence(seq.name, seq.kind, seq.frames, set())
        tp += len(found & seq.cuts)
        fn += len(seq.cuts - found)
        wrong = len(found - seq.cuts)
        fp += wrong
        if wrong:
            false_by_kind[seq.kind] = false_by_kind.get(seq.kind, 0) + wrong
    ms = (time.perf_counter() - start) / pairs * 1000
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    falses = ", ".join(f"{k} {v}" for k, v in sorted(false_by_kind.items())) or "none"
    print(
        f"| {name} | {precision:.3f} | {recall:.3f} | {tp}/{tp + fn} | {fp} ({falses}) | "
        f"{jumps_found}/{jumps} | {ms:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--size", type=int, default=320, help="frame width the clips are scaled to")
    parser.add_argument("--verbose", action="store_true", help="list each sequence's misses and false cuts")
    args = parser.parse_args()
    sequences = build(args.shared, args.size)
    cuts = sum(len(s.cuts) for s in sequences)
    pairs = sum(len(s.frames) - 1 for s in sequences)
    jumps = sum(len(s.cuts) for s in sequences if s.kind == "jump")
    print(
        f"{len(sequences)} sequences, {pairs} frame pairs: {cuts - jumps} labelled cuts, {jumps} jump cuts of a "
        f"fixed camera (reported apart), {pairs - cuts} non-cuts\n"
    )
    print("| detector | precision | recall | cuts found | false cuts (by kind) | jump cuts found | ms/pair |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    rows = [("before (score > 25)", old_detector), ("ifrnet (defaults)", package_detector)]
    for kind in ("content", "adaptive"):
        detector = pyscenedetect(kind)
        if detector is not None:
            rows.append((f"PySceneDetect {kind.capitalize()}Detector", detector))
    for name, detector in rows:
        score(name, detector, sequences)
    if args.verbose:
        for name, detector in rows:
            for seq in sequences:
                found = detector(seq.frames)
                if found != seq.cuts:
                    print(f"{name}: {seq.name}: found {sorted(found)}, labelled {sorted(seq.cuts)}")


if __name__ == "__main__":
    main()
