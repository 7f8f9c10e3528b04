"""Decoding: video files through PyAV, or folders of numbered images, as a stream of frames.

Frames come out one at a time, in the order the decoder gives them (the order FFmpeg and every
player show), with exact rational timestamps (seconds, ``Fraction``), so nothing here grows with
the length of the input. Timestamps are trusted only where they are trustworthy (FFmpeg's
"best effort" timestamps, ``libavcodec/decode.c: guess_correct_pts``): presentation timestamps
when they rise in output order, else decode timestamps, else the frame rate. Damaged packets are
skipped and counted rather than ending the run: what decodes is kept (FFmpeg's own policy).
"""

from __future__ import annotations

import abc
import itertools
import math
import os
import re
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError
from .formats import FIELD_ORDERS, Colour, HdrMetadata, PixelFormat, frame_colour, to_8bit, to_rgb, with_format_range
from .frames import SourceFrame, VideoInfo
from .native import Closed, NativeGuard
from .paths import STDIN, format_name, is_sequence, is_stream, numbered_image_files, open_input

#: Frame rate assumed for image folders when none is given.
DEFAULT_FOLDER_FPS = Fraction(25)
#: Frames looked at before deciding which timestamps to trust.
TIMESTAMP_LOOKAHEAD = 16
#: frames decoded ahead of a chunk's first with --deinterlace: bwdif looks one frame back and one ahead
DEINTERLACE_PREROLL = 2


class FrameSource(abc.ABC):
    """Where frames come from: ``info``, iteration over :class:`SourceFrame`, ``close``."""

    info: VideoInfo
    #: Human-readable notes about skipped or repaired data, filled while decoding.
    warnings: list[str]
    #: read once, front to back (standard input, a named pipe): the input cannot be opened again
    streaming: bool = False

    @abc.abstractmethod
    def frames(self) -> Iterator[SourceFrame]:
        """The frames in presentation order, each once."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file (or the sequence's state)."""

    #: whether :meth:`frames_from` gives exactly the frames and times :meth:`frames` gave (known
    #: once :meth:`frames` has run: presentation timestamps rose and none needed repair)
    seekable: bool = True

    def frames_from(self, index: int, time: Fraction) -> Iterator[SourceFrame]:
        """The frames from source frame ``index`` (shown at ``time`` seconds) on, numbered and timed
        as :meth:`frames` gives them: what a chunk of a long job decodes. This default decodes from
        the start and skips; readers that can seek override it."""
        for frame in self.frames():
            if frame.index >= index:
                yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoFileReader(FrameSource):
    """Frames of the first video stream of any file FFmpeg can read.

    ``keep_depth``: sources deeper than 8 bits give uint16 images (else every image is uint8).
    ``keep_native``: each frame also carries the decoded ``av.VideoFrame`` for pass-through.
    ``deinterlace``: run FFmpeg's bwdif filter (one frame per frame, field order from the stream).
    Raises :class:`InputError` for a missing or unreadable file, one without video, and a source
    with real transparency (IFRNet interpolates colour only).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        keep_depth: bool = False,
        keep_native: bool = False,
        deinterlace: bool = False,
        input_format: str | None = None,
    ) -> None:
        import av

        self.streaming = is_stream(path)  # then nothing is opened twice
        self.path = STDIN if str(path) == "-" else Path(path)
        if not self.streaming and not self.path.exists():
            raise InputError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory; for image folders pass the folder or a %d pattern")
        demuxer = format_name(input_format)
        if demuxer is not None and demuxer not in av.formats_available:
            raise InputError(f"--input-format {input_format}: FFmpeg has no such demuxer (y4m, nut, matroska, ...)")
        url = "pipe:0" if self.path == STDIN else str(self.path)
        self._peeked: list[object] = []
        try:
            self.container = open_input(url, format=demuxer)
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            what = "stream" if self.streaming else "file"
            raise InputError(f"{self.path}: not a readable video {what} ({_ffmpeg_reason(exc)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{self.path}: has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self._guard = NativeGuard(self.container.close)  # the decode thread's steps against close()
        self.keep_depth = keep_depth
        self.keep_native = keep_native
        self.deinterlace = deinterlace
        self.warnings = []
        try:
            self.info = self._probe()
        except BaseException:
            self.container.close()
            raise

    def _probe(self) -> VideoInfo:
        s = self.stream
        ctx = s.codec_context
        rate = _nominal_rate(s.average_rate, s.guessed_rate) or s.base_rate
        if not rate or rate <= 0:
            rate = Fraction(25)
            self.warnings.append(f"{self.path}: no frame rate stored; assuming 25 fps")
        tb = s.time_base or Fraction(1, 1_000_000)
        start = Fraction(s.start_time) * tb if s.start_time is not None else Fraction(0)
        if s.duration:
            duration = Fraction(s.duration) * tb
        else:
            # where the stream stores no length (Matroska): where it ends, from its DURATION tag
            # (mkvmerge's and FFmpeg's, the end on the file's clock) or the file's end, less where
            # it starts (the video may start after the audio)
            end = _tag_time((s.metadata or {}).get("DURATION"))
            if end is None and self.container.duration:
                end = Fraction((self.container.start_time or 0) + self.container.duration, 1_000_000)
            duration = end - start if end is not None and end > start else None
        frames = s.frames or (round(duration * rate) if duration else None)
        first = self._first_frame()
        pix_fmt = first.format.name if first is not None else (ctx.pix_fmt or "yuv420p")
        colour = Colour(
            int(ctx.colorspace or 0), int(ctx.color_range or 0), int(ctx.color_primaries or 0), int(ctx.color_trc or 0)
        )
        colour = frame_colour(first, colour) if first is not None else with_format_range(colour, pix_fmt)
        self._check_alpha(first)
        # The bitstream's flags (H.264/HEVC/MPEG-2 pictures) are what the decoder and bwdif go by;
        # the container's tag is the fallback for codecs whose frames carry none (ffv1, rawvideo).
        if first is not None and first.interlaced_frame:
            field_order = FIELD_ORDERS[2 if getattr(first, "top_field_first", True) else 3]  # tt or bb
        else:
            field_order = FIELD_ORDERS.get(int(ctx.field_order or 0))
        if field_order and not self.deinterlace:
            self.warnings.append(
                f"{self.path}: interlaced ({field_order}); interpolated as progressive frames, so the combing "
                "stays in; pass --deinterlace (FFmpeg's bwdif) to deinterlace first"
            )
        elif self.deinterlace and not field_order:
            self.warnings.append(f"{self.path}: no interlacing signalled; --deinterlace applied anyway")
        return VideoInfo(
            path=self.path,
            rotation=round(first.rotation or 0) % 360 if first is not None else 0,
            width=ctx.width,
            height=ctx.height,
            rate=Fraction(rate),
            start=start,
            duration=duration,
            frame_count=frames or None,
            codec=ctx.name,
            colour=colour,
            audio_streams=len(self.container.streams.audio),
            pix_fmt=pix_fmt,
            time_base=Fraction(tb),
            field_order=field_order,
            sample_aspect_ratio=Fraction(ctx.sample_aspect_ratio) if ctx.sample_aspect_ratio else None,
            hdr=HdrMetadata.of(first) if first is not None else None,
        )

    def _first_frame(self):
        """The first decodable frame, from a second, short-lived demuxer (for a stream, which can be
        read only once, decoded by the main one and kept for :meth:`frames`).

        PyAV exposes the display matrix, the real pixel format and the interlacing flags on
        decoded frames only; a separate demuxer keeps this probe from consuming the frames the
        pipeline will read.
        """
        import av

        if self.streaming:
            self._decoder = self._decoded()
            self._peeked = list(itertools.islice(self._decoder, 1))
            return self._peeked[0] if self._peeked else None
        try:
            with open_input(str(self.path)) as probe:
                for frame in probe.decode(video=0):
                    return frame
        except av.error.FFmpegError:
            pass  # damaged start: the main decoder reports it
        return None

    def _check_alpha(self, frame) -> None:
        """Refuse transparency: a stream whose alpha is stored beside the picture, or real alpha values."""
        meta = {k.lower(): v for k, v in (self.stream.metadata or {}).items()}
        if str(meta.get("alpha_mode", "0")) == "1":
            raise InputError(
                f"{self.path}: the video has an alpha channel (VP8/VP9 alpha), and IFRNet interpolates colour "
                f"only; flatten it first, e.g. {_FLATTEN.format(decoder='-c:v libvpx-vp9 ', path=self.path)}"
            )
        if frame is not None:
            _refuse_transparency(frame, self.path)

    def frames(self) -> Iterator[SourceFrame]:
        decoded = itertools.chain(self._peeked, self._decoder) if self.streaming else self._decoded()
        self._peeked = []
        timed = self._timed(decoded, 1 / self.info.rate)
        yield from self._converted(self._deinterlaced(timed) if self.deinterlace else timed, 0, check_end=True)

    def frames_from(self, index: int, time: Fraction) -> Iterator[SourceFrame]:
        """Seeks to the keyframe before ``time`` (before the :data:`DEINTERLACE_PREROLL` frames
        ahead of it with ``--deinterlace``, so bwdif has the fields before it, as in a whole
        read), decodes from there and drops what comes before ``time``. Where the demuxer cannot
        land there (no index, a damaged keyframe), it decodes from the start instead."""
        if index == 0 or self.streaming:
            yield from super().frames_from(index, time)
            return
        step = 1 / self.info.rate
        tb = self.stream.time_base or Fraction(1, 1_000_000)
        back = DEINTERLACE_PREROLL * step if self.deinterlace else Fraction(0)
        for target in (time - back, None):
            with self._guard.step():
                if target is None:  # the seek missed: from the start
                    self.container.seek(0, backward=True, any_frame=False)
                else:
                    self.container.seek(math.floor(target / tb), stream=self.stream, backward=True, any_frame=False)
            timed = self._timed(self._decoded(), step, clock="pts")
            frames = self._deinterlaced(timed) if self.deinterlace else timed
            first = next(((t, f) for t, f in frames if t >= time), None)
            if first is not None and first[0] == time:
                yield from self._converted(itertools.chain([first], frames), index, check_end=False)
                return
        raise InputError(f"{self.path}: frame {index} at {float(time):.3f} s cannot be found again (file changed?)")

    def _converted(
        self, timed: Iterator[tuple[Fraction, object]], index: int, check_end: bool
    ) -> Iterator[SourceFrame]:
        """Decoded frames as :class:`SourceFrame` numbered from ``index``; ``check_end``: a whole read,
        which names a stream that ends before its declared length."""
        step = 1 / self.info.rate
        last: Fraction | None = None
        first = index
        network_format = "rgb48le" if self.keep_depth and self.info.depth > 8 else "rgb24"
        alpha = PixelFormat.of(self.info.pix_fmt).alpha or PixelFormat.of(self.info.pix_fmt).palette
        for time, frame in timed:
            if alpha:
                _refuse_transparency(frame, self.path)
            colour = frame_colour(frame, self.info.colour)
            image = to_rgb(frame, colour)
            if network_format == "rgb24":
                image = to_8bit(image)
            duration = Fraction(frame.duration) * frame.time_base if frame.duration and frame.time_base else None
            yield SourceFrame(index, time, image, duration, frame if self.keep_native else None)
            last = time
            index += 1
        if index == first:
            raise InputError(f"{self.path}: no decodable video frames")
        declared_end = self.info.start + self.info.duration if self.info.duration else None
        if check_end and declared_end is not None and last is not None and declared_end - last > 3 * step:
            self.warnings.append(
                f"{self.path}: frames end at {float(last):.2f} s but the file declares {float(declared_end):.2f} s "
                "(truncated?); kept what decoded"
            )

    def _timed(
        self, decoded: Iterator[object], step: Fraction, clock: str | None = None
    ) -> Iterator[tuple[Fraction, object]]:
        """Each frame in decoder order with the best timestamp it has (FFmpeg's best effort).

        The first frames decide the clock: presentation timestamps if they rise in output order,
        else decode timestamps if they do (AVI with B-frames, files whose pts were guessed from
        decode order), else the frame rate. A later frame whose stamp does not rise is placed one
        frame interval after the one before it, never dropped or reordered.
        """
        tb = self.stream.time_base or Fraction(1, 1_000_000)
        window: deque[object] = deque()
        for frame in decoded:
            window.append(frame)
            if len(window) >= TIMESTAMP_LOOKAHEAD:
                break
        seeking = clock is not None  # a chunk's read: the whole read chose the clock and named its faults
        clock = clock or _pick_clock(window)
        if clock != "pts" and window:
            self.seekable = False
            what = "decode timestamps" if clock == "dts" else "the frame rate"
            self.warnings.append(
                f"{self.path}: presentation timestamps missing or out of order; frames kept in decoder order "
                f"and timed by {what}"
            )
        last: Fraction | None = None
        repaired = 0

        def stamp(frame) -> Fraction:
            nonlocal last, repaired
            raw = getattr(frame, clock, None) if clock != "rate" else None
            guess = last + step if last is not None else self.info.start
            time = Fraction(raw) * tb if raw is not None else guess
            if last is not None and time <= last:
                repaired += 1
                self.seekable = False
                time = last + step
            last = time
            return time

        if window and clock == "pts" and self.info.start is not None and not seeking:
            first = Fraction(window[0].pts) * tb
            if first - self.info.start > 3 * step / 2:
                self.warnings.append(
                    f"{self.path}: the stream starts at {float(self.info.start):.3f} s but the first frame that "
                    f"decodes is at {float(first):.3f} s (damaged or missing first frames); kept from there"
                )
        while window:
            frame = window.popleft()
            yield stamp(frame), frame
        for frame in decoded:
            yield stamp(frame), frame
        if repaired and not seeking:
            self.warnings.append(
                f"{self.path}: {repaired} frame(s) with repeated or out-of-order timestamps kept in decoder order, "
                "each placed one frame after the one before"
            )

    def _decoded(self) -> Iterator[object]:
        """Decoded frames in the decoder's output order; damaged packets skipped and counted. Ends
        quietly once :meth:`close` was called (from another thread)."""
        import av

        seq = 0
        damaged = 0
        packets = self.container.demux(self.stream)
        while True:
            try:
                with self._guard.step():
                    packet = next(packets, None)
            except Closed:
                return
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
                with self._guard.step():
                    decoded = packet.decode()
            except Closed:
                return
            except av.error.FFmpegError as exc:
                damaged += 1
                if damaged == 1:
                    self.warnings.append(f"{self.path}: damaged data near frame {seq} skipped ({_ffmpeg_reason(exc)})")
                continue
            for frame in decoded:
                seq += 1
                yield frame
        if damaged > 1:
            self.warnings.append(f"{self.path}: {damaged} damaged packets skipped in all")

    def _deinterlaced(self, timed: Iterator[tuple[Fraction, object]]) -> Iterator[tuple[Fraction, object]]:
        """FFmpeg's bwdif (``mode=send_frame``: one frame out per frame in), times kept in order."""
        import av

        graph = av.filter.Graph()
        buffer = graph.add_buffer(template=self.stream)
        bwdif = graph.add("bwdif", "mode=send_frame:parity=auto:deint=all")
        sink = graph.add("buffersink")
        buffer.link_to(bwdif)
        bwdif.link_to(sink)
        graph.configure()
        times: deque[Fraction] = deque()

        def drain() -> Iterator[tuple[Fraction, object]]:
            while times:
                try:
                    out = sink.pull()
                except (BlockingIOError, av.error.EOFError):
                    return
                yield times.popleft(), out

        for time, frame in timed:
            times.append(time)
            buffer.push(frame)
            yield from drain()
        buffer.push(None)
        yield from drain()

    def close(self) -> None:
        """Close the file; safe while another thread decodes (:class:`NativeGuard`)."""
        self._guard.close()


# premultiplying by alpha is compositing over black; the picture then needs no alpha
_FLATTEN = 'ffmpeg {decoder}-i {path} -vf "premultiply=inplace=1,format=yuv420p" -c:v ffv1 flat.mkv'


def _refuse_transparency(frame, path: Path) -> None:
    """Raise if a decoded frame has pixels that are not fully opaque."""
    fmt = PixelFormat.of(frame.format.name)
    if not (fmt.alpha or fmt.palette):
        return
    rgba = frame.to_ndarray(format="rgba64le" if fmt.depth > 8 else "rgba")
    if (rgba[..., 3] != np.iinfo(rgba.dtype).max).any():
        raise InputError(
            f"{path}: frame {frame.pts} has transparent pixels ({frame.format.name}), and IFRNet interpolates "
            f"colour only; flatten it first, e.g. {_FLATTEN.format(decoder='', path=path)}"
        )


def _tag_time(text: str | None) -> Fraction | None:
    """``"00:01:02.500000000"`` (a Matroska tag's ``HH:MM:SS.fraction``) in seconds, else None."""
    match = re.fullmatch(r"\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*", text or "")
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return (int(hours) * 60 + int(minutes)) * 60 + Fraction(seconds)


def _nominal_rate(average: Fraction | None, guessed: Fraction | None) -> Fraction | None:
    """The rate of a stream's frame grid, from its average rate and FFmpeg's guess
    (``av_guess_frame_rate``: ``r_frame_rate``, the lowest rate that holds the first timestamps).

    A dropped frame or a stretch at a lower rate (a phone at 30 fps dropping to 15 in low light)
    pulls the average below the grid, which the guess keeps; but where the stamps mix rates that
    share no grid (30 and 24 fps) the guess is their common multiple (120), and it is the field
    rate of some interlaced streams: so the guess is taken only between the average and twice it.
    """
    if average and guessed and average <= guessed < 2 * average:
        return Fraction(guessed)
    return Fraction(average) if average else Fraction(guessed) if guessed else None


def _pick_clock(frames: deque) -> str:
    """``"pts"``, ``"dts"`` or ``"rate"``: the first kind of stamp that rises across ``frames``."""
    for clock in ("pts", "dts"):
        values = [getattr(f, clock, None) for f in frames]
        if all(v is not None for v in values) and all(a < b for a, b in itertools.pairwise(values)):
            return clock
    return "rate"


class ImageFolderReader(FrameSource):
    """Frames from a folder of images or a printf pattern such as ``f/%08d.png``, in numeric order.

    Files are ordered by their frame numbers (the last run of digits in a folder's file names, the
    ``%d`` field of a pattern), so ``2.png`` comes before ``10.png``; frame n is shown at
    ``(n - first) / rate``, so a gap in the numbering becomes a longer interval (named in a notice),
    as FFmpeg's image2 demuxer with ``-ts_from_file`` off would not do but a render farm means.
    Names without a number fall back to natural order and one interval each.
    ``keep_depth``: a sequence whose first image is deeper than 8 bits (16-bit PNG or TIFF) gives
    uint16 images, decoded by FFmpeg (Pillow reads 16-bit RGB as 8-bit); else every image is uint8.
    """

    def __init__(self, source: str | os.PathLike, rate: Fraction | None = None, keep_depth: bool = False) -> None:
        from ..io.images import read_image

        self.path = Path(source)
        numbered = numbered_image_files(self.path)
        self.files = [p for _, p in numbered]
        deep = keep_depth and _image_depth(self.files[0]) > 8
        self._read = _read_deep_image if deep else read_image
        self.warnings = []
        if rate is None:
            rate = DEFAULT_FOLDER_FPS
            self.warnings.append(f"{self.path}: image sequence has no frame rate; assuming {rate} fps (--input-fps)")
        numbers = [n for n, _ in numbered]
        if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
            self.slots = [n - numbers[0] for n in numbers]
            missing = _missing(numbers)
            if missing:
                self.warnings.append(
                    f"{self.path}: frame number(s) {missing} missing; the gap is kept in time and interpolated"
                )
        else:
            self.slots = list(range(len(numbers)))
        first = self._read(self.files[0])
        self.info = VideoInfo(
            path=self.path,
            width=first.shape[1],
            height=first.shape[0],
            rate=Fraction(rate),
            duration=Fraction(self.slots[-1] + 1) / rate,
            frame_count=len(self.files),
            codec="images",
            pix_fmt="rgb48le" if deep else "rgb24",
        )

    def frames(self) -> Iterator[SourceFrame]:
        return self.frames_from(0, Fraction(0))

    def frames_from(self, index: int, time: Fraction) -> Iterator[SourceFrame]:
        for i, (slot, file) in enumerate(zip(self.slots, self.files, strict=True)):
            if i < index:
                continue
            image = self._read(file)
            if image.shape[:2] != (self.info.height, self.info.width):
                raise InputError(
                    f"{file}: size {image.shape[1]}x{image.shape[0]} differs from the first frame "
                    f"({self.info.width}x{self.info.height})"
                )
            following = self.slots[i + 1] if i + 1 < len(self.slots) else slot + 1
            rate = self.info.rate
            yield SourceFrame(i, Fraction(slot) / rate, image, Fraction(following - slot) / rate)

    def close(self) -> None:
        return None  # each image file is opened and closed as it is read


def _image_depth(path: Path) -> int:
    """Bits per component of an image file, as FFmpeg decodes it (8 where it cannot tell)."""
    import av

    try:
        with open_input(str(path)) as container:
            return PixelFormat.of(container.streams.video[0].codec_context.pix_fmt).depth
    except (av.error.FFmpegError, IndexError, ValueError, TypeError):
        return 8  # read_image then reports what is wrong with it


def _read_deep_image(path: Path) -> np.ndarray:
    """A 9-16 bit image file as uint16 ``(H, W, 3)`` RGB (8-bit files scaled up by 257), decoded
    by FFmpeg; transparency is refused as for 8-bit images."""
    import av

    try:
        with open_input(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.error.FFmpegError, StopIteration, IndexError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({_ffmpeg_reason(exc) or 'no picture'})") from None
    _refuse_transparency(frame, path)
    return frame.to_ndarray(format="rgb48le")


def _missing(numbers: list[int]) -> str:
    """The numbers absent between the first and last of ``numbers``, as ranges: ``"5-6, 9"``."""
    present = set(numbers)
    gaps, run = [], None
    for n in range(numbers[0], numbers[-1] + 1):
        if n in present:
            if run:
                gaps.append(run)
            run = None
        else:
            run = (run[0], n) if run else (n, n)
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gaps)


def open_source(
    path: str | os.PathLike,
    rate: Fraction | None = None,
    *,
    keep_depth: bool = False,
    keep_native: bool = False,
    deinterlace: bool = False,
    input_format: str | None = None,
) -> FrameSource:
    """A video file reader, or an image-sequence reader for folders and ``%d`` patterns.

    An existing file is always read as a video, whatever its name; ``-`` is standard input and a
    named pipe is read as one too (:func:`is_stream`); ``rate`` applies to image sequences (their
    frame rate); the keyword options are :class:`VideoFileReader`'s.
    """
    p = Path(path)
    if input_format is None and not is_stream(path) and is_sequence(p):
        if deinterlace:
            raise InputError(f"{p}: --deinterlace applies to video files, not image sequences")
        return ImageFolderReader(p, rate, keep_depth=keep_depth)
    return VideoFileReader(
        path, keep_depth=keep_depth, keep_native=keep_native, deinterlace=deinterlace, input_format=input_format
    )


def _ffmpeg_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() if ": '" in str(text) else str(text).strip()
