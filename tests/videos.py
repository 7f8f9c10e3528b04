"""Builders for small test clips: generated motion, real-footage excerpts, audio, VFR, damage."""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .conftest import REPO

SHARED_DATA = Path(os.environ.get("IFRNET_SHARED_DATA", REPO.parent / "shared" / "data"))
if not SHARED_DATA.is_dir():
    SHARED_DATA = Path("/work/shared/data")


def moving_frames(n: int, height: int = 48, width: int = 64, seed: int = 0, speed: int = 2) -> list[np.ndarray]:
    """A smooth random texture sliding right by ``speed`` pixels per frame."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(height // 8 + 2, (width + speed * n) // 8 + 2, 3)).astype(np.float32)
    big = np.kron(coarse, np.ones((8, 8, 1), np.float32))
    kernel = np.ones(5, np.float32) / 5
    for axis in (0, 1):
        big = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, big)
    big = big.clip(0, 255).astype(np.uint8)
    return [np.ascontiguousarray(big[:height, i * speed : i * speed + width]) for i in range(n)]


def real_frames(name: str, n: int, size: tuple[int, int] = (96, 72), start: int = 0) -> list[np.ndarray]:
    """``n`` frames of a clip in ../shared/data, decoded and resized to ``size`` (w, h)."""
    frames = []
    with av.open(str(SHARED_DATA / name)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= start:
                frames.append(frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray())
            if len(frames) == n:
                break
    return frames


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    rate: Fraction = Fraction(25),
    times: list[Fraction] | None = None,
    codec: str = "ffv1",
    pix_fmt: str = "bgr0",
    audio_seconds: float | None = None,
    options: dict[str, str] | None = None,
    colour: dict[str, int] | None = None,
    setup: Callable[[object, object], None] | None = None,
    tick: Fraction = Fraction(1, 1000),
) -> Path:
    """Encode frames (lossless by default). ``times`` (seconds, rounded to ``tick``) makes a
    variable-frame-rate clip.

    Frames are uint8 or uint16 RGB; ``colour`` sets the codec's colour tags (a full range,
    ``color_range=2``, is also used for the conversion); ``setup(container, stream)`` adds streams,
    tags or chapters before the first frame.
    """
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if options:
            stream.options = options
        for key, value in (colour or {}).items():
            setattr(stream.codec_context, key, value)
        if times is not None:
            stream.codec_context.time_base = tick
        audio = None
        if audio_seconds:
            audio = out.add_stream("aac", rate=48000)
            audio.layout = "mono"
        if setup:
            setup(out, stream)
        layout = "rgb48le" if frames[0].dtype == np.uint16 else "rgb24"
        full = {"dst_color_range": 2} if (colour or {}).get("color_range") == 2 else {}
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format=layout).reformat(format=pix_fmt, **full)
            frame.pts = int(times[i] / tick) if times is not None else i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if audio is not None:
            _encode_tone(out, audio, audio_seconds)
    return path


def _encode_tone(out, stream, seconds: float) -> None:
    rate, chunk = 48000, 1024
    total = int(seconds * rate)
    t = np.arange(total) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, total, chunk):
        piece = samples[start : start + chunk][None, :]
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def add_ass_subtitles(out, cues: list[tuple[int, int, str]], language: str = "jpn", title: str | None = None):
    """An ASS subtitle stream with ``cues`` (start ms, duration ms, text), muxed now (Matroska):
    add it after every other stream, attachment and tag, since the header is written with it."""
    sub = out.add_stream("ass")
    sub.codec_context.time_base = Fraction(1, 1000)
    sub.codec_context.extradata = (
        b"[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
        b"Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    sub.metadata["language"] = language
    if title:
        sub.metadata["title"] = title
    for order, (start, duration, text) in enumerate(cues):
        packet = av.Packet(f"{order},0,Default,,0,0,0,,{text}".encode())  # Matroska's ASS event
        packet.pts = packet.dts = start
        packet.duration = duration
        packet.time_base = Fraction(1, 1000)
        packet.stream = sub
        out.mux(packet)
    return sub


def read_clip(path: Path) -> tuple[list[np.ndarray], list[Fraction], Fraction]:
    """Frames, timestamps (s) and frame rate of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(Fraction(frame.pts) * stream.time_base)
        return frames, times, Fraction(stream.average_rate)


def audio_packets(path: Path) -> tuple[list[bytes], Fraction]:
    """The audio packets' payloads and the audio stream's duration in seconds."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return [], Fraction(0)
        stream = container.streams.audio[0]
        payloads, end = [], Fraction(0)
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            payloads.append(bytes(packet))
            end = max(end, (packet.pts + (packet.duration or 0)) * stream.time_base)
        return payloads, end


def capture_cut_mid_gop(path: Path, lost_packets: int = 40) -> tuple[Path, Fraction, Fraction]:
    """An MPEG-TS capture that starts inside a GOP, as a recording begun mid-broadcast does:
    H.264 at 25 fps (a keyframe every second, no B-frames) with MP2 audio interleaved, 3 s, whose
    first ``lost_packets`` TS packets (188 bytes each) are cut off. Returns the file, the time of
    its first decodable video frame and the time of its first audio packet (seconds): the video
    stream itself declares an earlier start, its first frames undecodable."""
    full = path.with_name(path.stem + "_full.ts")
    with av.open(str(full), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"g": "25", "bf": "0"}
        audio = out.add_stream("mp2", rate=48000)
        audio.layout = "mono"
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000 * 3) / 48000)).astype(np.float32)
        sent = 0
        for i, image in enumerate(moving_frames(75)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
            while sent < (i + 1) * 48000 // 25:  # the audio of this frame's interval, muxed beside it
                chunk = av.AudioFrame.from_ndarray(tone[None, sent : sent + 1152], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = 48000, sent
                sent += 1152
                for packet in audio.encode(chunk):
                    out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    path.write_bytes(full.read_bytes()[188 * lost_packets :])
    full.unlink()
    return (path, *first_times(path))


def first_times(path: Path) -> tuple[Fraction, Fraction]:
    """The time of the first decoded video frame and of the first audio packet (seconds)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        video = Fraction(next(container.decode(stream)).pts) * stream.time_base
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        audio = next(Fraction(p.pts) * stream.time_base for p in container.demux(stream) if p.pts is not None)
    return video, audio


#: HDR10 metadata as a grading house writes it for x265: P3-D65 mastering display, 1000 cd/m²
HDR10_X265 = "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400"


def hdr10_clip(path: Path, n: int = 6) -> Path:
    """A 10-bit HDR10 HEVC clip (BT.2020, PQ) whose bitstream carries the mastering display and
    content light level SEI, as x265 writes them for a graded master."""
    colour = {"color_primaries": 9, "color_trc": 16, "colorspace": 9}
    frames = [(image.astype(np.uint16) * 257) for image in moving_frames(n, 64, 64)]
    return write_clip(
        path,
        frames,
        codec="libx265",
        pix_fmt="yuv420p10le",
        colour=colour,
        options={"x265-params": f"{HDR10_X265}:log-level=error"},
    )
