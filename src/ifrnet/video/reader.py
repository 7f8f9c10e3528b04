"""Decoding: video files through PyAV, or folders of numbered images, as a stream of frames.

Frames come out one at a time with exact rational timestamps (seconds, ``Fraction``), so
nothing here grows with the length of the input. Damaged packets are skipped and counted
rather than ending the run: what decodes is kept (FFmpeg's own policy).
"""

from __future__ import annotations

import heapq
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError

#: Frame rate assumed for image folders when none is given.
DEFAULT_FOLDER_FPS = Fraction(25)
#: Decoded frames held back to restore presentation order when a decoder emits them out of order.
REORDER_DEPTH = 16
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class SourceFrame:
    """One decoded frame: position in decode order, presentation time in seconds, RGB pixels."""

    index: int
    time: Fraction
    image: np.ndarray
    duration: Fraction | None = None


@dataclass
class VideoInfo:
    """What the rest of the pipeline needs to know about an input before decoding it."""

    path: Path
    width: int
    height: int
    rate: Fraction
    start: Fraction = Fraction(0)
    duration: Fraction | None = None
    frame_count: int | None = None
    codec: str = ""
    rotation: int = 0
    color: dict[str, int] = field(default_factory=dict)
    audio_streams: int = 0

    def describe(self) -> str:
        dur = f", {float(self.duration):.2f} s" if self.duration is not None else ""
        frames = f", {self.frame_count} frames" if self.frame_count else ""
        return f"{self.width}x{self.height} {float(self.rate):.3f} fps{frames}{dur}"


class FrameSource:
    """Interface of a frame source: ``info``, iteration over :class:`SourceFrame`, ``close``."""

    info: VideoInfo
    #: Human-readable notes about skipped or repaired data, filled while decoding.
    warnings: list[str]

    def frames(self) -> Iterator[SourceFrame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoFileReader(FrameSource):
    """Frames of the first video stream of any file FFmpeg can read."""

    def __init__(self, path: str | os.PathLike) -> None:
        import av

        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory; for image folders pass the folder or a %d pattern")
        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"{self.path}: not a readable video file ({_ffmpeg_reason(exc)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{self.path}: has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.warnings = []
        self.info = self._probe()

    def _probe(self) -> VideoInfo:
        s = self.stream
        ctx = s.codec_context
        rate = s.average_rate or s.guessed_rate or s.base_rate
        if not rate or rate <= 0:
            rate = Fraction(25)
            self.warnings.append(f"{self.path}: no frame rate stored; assuming 25 fps")
        tb = s.time_base or Fraction(1, 1_000_000)
        start = Fraction(s.start_time) * tb if s.start_time is not None else Fraction(0)
        if s.duration:
            duration = Fraction(s.duration) * tb
        elif self.container.duration:
            duration = Fraction(self.container.duration, 1_000_000)
        else:
            duration = None
        frames = s.frames or (round(duration * rate) if duration else None)
        color = {
            "colorspace": ctx.colorspace,
            "color_range": ctx.color_range,
            "color_primaries": ctx.color_primaries,
            "color_trc": ctx.color_trc,
        }
        return VideoInfo(
            path=self.path,
            rotation=self._first_frame_rotation(),
            width=ctx.width,
            height=ctx.height,
            rate=Fraction(rate),
            start=start,
            duration=duration,
            frame_count=frames or None,
            codec=ctx.name,
            color=color,
            audio_streams=len(self.container.streams.audio),
        )

    def _first_frame_rotation(self) -> int:
        """Display rotation in degrees (counter-clockwise), read off the first frame.

        PyAV exposes the display matrix on decoded frames only; a second, short-lived
        demuxer keeps this probe from consuming the frames the pipeline will read.
        """
        import av

        try:
            with av.open(str(self.path), metadata_errors="ignore") as probe:
                for frame in probe.decode(video=0):
                    return round(frame.rotation or 0) % 360
        except av.error.FFmpegError:
            pass  # damaged start: the main decoder reports it
        return 0

    def frames(self) -> Iterator[SourceFrame]:
        tb = self.stream.time_base or Fraction(1, 1_000_000)
        step = 1 / self.info.rate
        last: Fraction | None = None
        index = 0
        dropped = 0
        for time, frame in self._presentation_order(tb, step):
            if last is not None and time <= last:
                dropped += 1
                continue
            image = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range or None)
            duration = Fraction(frame.duration) * tb if frame.duration else None
            yield SourceFrame(index, time, image, duration)
            last = time
            index += 1
        if dropped:
            self.warnings.append(f"{self.path}: {dropped} frame(s) with repeated or out-of-order timestamps dropped")
        if index == 0:
            raise InputError(f"{self.path}: no decodable video frames")
        declared_end = self.info.start + self.info.duration if self.info.duration else None
        if declared_end is not None and last is not None and declared_end - last > 3 * step:
            self.warnings.append(
                f"{self.path}: frames end at {float(last):.2f} s but the file declares {float(declared_end):.2f} s "
                "(truncated?); kept what decoded"
            )

    def _presentation_order(self, tb: Fraction, step: Fraction) -> Iterator[tuple[Fraction, object]]:
        """Decoded frames sorted by timestamp through a small bounded buffer.

        Some real files (a damaged first slice, a wrong reorder delay) make the decoder emit
        frames out of presentation order; players sort them by pts, and so do we.
        """
        import av

        pending: list[tuple[Fraction, int, object]] = []
        seq = 0
        damaged = 0
        guess: Fraction | None = None
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets, None)
            except av.error.FFmpegError as exc:
                # the container itself is broken from here on (truncated or overwritten): keep what came before
                self.warnings.append(
                    f"{self.path}: stream unreadable after frame {seq} ({_ffmpeg_reason(exc)}); "
                    "kept the frames before it"
                )
                break
            if packet is None:
                break
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as exc:
                damaged += 1
                if damaged == 1:
                    self.warnings.append(f"{self.path}: damaged data near frame {seq} skipped ({_ffmpeg_reason(exc)})")
                continue
            for frame in decoded:
                if frame.pts is not None:
                    time = Fraction(frame.pts) * tb
                else:
                    time = guess + step if guess is not None else Fraction(0)
                guess = time
                heapq.heappush(pending, (time, seq, frame))
                seq += 1
                if len(pending) > REORDER_DEPTH:
                    time, _, frame = heapq.heappop(pending)
                    yield time, frame
        while pending:
            time, _, frame = heapq.heappop(pending)
            yield time, frame
        if damaged > 1:
            self.warnings.append(f"{self.path}: {damaged} damaged packets skipped in all")

    def close(self) -> None:
        self.container.close()


class ImageFolderReader(FrameSource):
    """Frames from a folder of images (sorted by name) or a printf pattern such as ``f/%08d.png``."""

    def __init__(self, source: str | os.PathLike, rate: Fraction | None = None) -> None:
        from ..io.images import read_image

        self._read = read_image
        self.path = Path(source)
        self.files = list_image_files(self.path)
        self.warnings = []
        if rate is None:
            rate = DEFAULT_FOLDER_FPS
            self.warnings.append(f"{self.path}: image sequence has no frame rate; assuming {rate} fps (--input-fps)")
        first = self._read(self.files[0])
        self.info = VideoInfo(
            path=self.path,
            width=first.shape[1],
            height=first.shape[0],
            rate=Fraction(rate),
            duration=Fraction(len(self.files)) / rate,
            frame_count=len(self.files),
            codec="images",
        )

    def frames(self) -> Iterator[SourceFrame]:
        for index, file in enumerate(self.files):
            image = self._read(file)
            if image.shape[:2] != (self.info.height, self.info.width):
                raise InputError(
                    f"{file}: size {image.shape[1]}x{image.shape[0]} differs from the first frame "
                    f"({self.info.width}x{self.info.height})"
                )
            yield SourceFrame(index, Fraction(index) / self.info.rate, image, 1 / self.info.rate)


def is_pattern(path: str | os.PathLike) -> bool:
    """True for printf-style frame patterns such as ``frames/%08d.png``."""
    return re.search(r"%0?\d*d", str(path)) is not None


def pattern_regex(name: str) -> re.Pattern[str]:
    """A regex matching the file names of a ``%d`` pattern; group 1 is the frame number."""
    escaped = re.escape(name).replace(r"\%", "%")
    return re.compile("^" + re.sub(r"%0?\d*d", r"(\\d+)", escaped) + "$")


def list_image_files(source: Path) -> list[Path]:
    """The image files of a folder or ``%d`` pattern, in frame order."""
    if is_pattern(source):
        folder = source.parent
        regex = pattern_regex(source.name)
        if not folder.is_dir():
            raise InputError(f"{source}: folder {folder} does not exist")
        matches = [(int(m.group(1)), p) for p in folder.iterdir() if (m := regex.match(p.name))]
        files = [p for _, p in sorted(matches)]
    elif source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        raise InputError(f"{source}: not a folder of images")
    if not files:
        raise InputError(f"{source}: no image files found")
    return files


def open_source(path: str | os.PathLike, rate: Fraction | None = None) -> FrameSource:
    """A video file reader, or an image-sequence reader for folders and ``%d`` patterns."""
    p = Path(path)
    if is_pattern(p) or p.is_dir():
        return ImageFolderReader(p, rate)
    return VideoFileReader(p)


def _ffmpeg_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() if ": '" in str(text) else str(text).strip()
