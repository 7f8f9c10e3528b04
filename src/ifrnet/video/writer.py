"""Encoding: frames to a video file through PyAV, or to numbered images.

A video file gets the source's pixel format (or the encoder's nearest), its colour tags, its
audio, subtitle and attachment streams, chapters and tags, each copied packet by packet where the
output container can hold it and named in a notice where it cannot. Frames that the network did
not make are written from the decoded source frame itself, so a lossless codec keeps them bit for
bit.
"""

from __future__ import annotations

import abc
import contextlib
import itertools
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import appeared, make_parents, make_temporary, publish, publish_beside, remove_created
from .formats import (
    FIELD_ORDER_CODES,
    FULL_RANGE,
    LIMITED_RANGE,
    Colour,
    PixelFormat,
    choose_output_format,
    convert,
    frame_colour,
    from_rgb,
    is_jpeg_format,
)
from .frames import SourceFrame, VideoInfo
from .native import NativeGuard
from .options import EncodeSettings
from .paths import STDOUT, existing_sequence_files, folder_pattern, format_name, open_input

#: libavformat's flag for muxers that store each frame's own timestamp
AVFMT_VARIABLE_FPS = 0x0400
#: Codecs that take x264-style ``crf``/``preset`` options.
_CRF_CODECS = {"libx264", "libx264rgb", "libx265", "libvpx-vp9", "libsvtav1"}
_PRESET_CODECS = {"libx264", "libx264rgb", "libx265"}
#: containers that keep what Matroska keeps (subtitles of any codec, attachments)
_MATROSKA = {"matroska", "webm"}
#: text subtitle decoders whose cues FFmpeg can re-encode as MP4 timed text
_TEXT_SUBTITLES = {"ass", "ssa", "subrip", "srt", "webvtt", "text", "mov_text"}
# the styles FFmpeg's own decoders assume when a stream has none (libavcodec/ass.c defaults)
_ASS_HEADER = (
    b"[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n[V4+ Styles]\r\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    b"Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    b"MarginR, MarginV, Encoding\r\n"
    b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\r\n\r\n"
    b"[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n"
)


class FrameSink(abc.ABC):
    """Where output frames go: ``write`` them in output order, then ``close`` (or ``abort``).

    A frame is a :class:`SourceFrame` (a source frame passed through: written from its decoded
    native frame where it has one) or an ``(H, W, 3)`` uint8/uint16 RGB array (a new frame).
    """

    #: one-line notes for the user (formats changed, streams that could not be carried)
    notices: list[str]
    #: the pixel format written (``"png"`` for image sequences)
    pix_fmt: str = "png"

    @abc.abstractmethod
    def write(self, frame: SourceFrame | np.ndarray, index: int, time: Fraction | None = None) -> None:
        """Write output frame number ``index`` (0-based, consecutive), shown at ``time`` seconds
        (where the output keeps time; ``None``: at ``index`` over the output's rate)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Finish the output: flush encoders, write trailers."""

    def abort(self) -> None:
        """Stop without finishing; the caller removes what was written."""
        self.close()


def output_colour(info: VideoInfo, pix_fmt: str) -> Colour:
    """The colour tags of an output in ``pix_fmt`` made from the source ``info``.

    The matrix, primaries and transfer carry over; the range carries over between YUV (or grey)
    formats, RGB written as YUV is limited range (what players assume), and RGB has no range.
    """
    src, out = PixelFormat.of(info.pix_fmt), PixelFormat.of(pix_fmt)
    colour = info.colour
    if out.rgb:
        rng = 0
    elif src.rgb or src.palette:
        rng = LIMITED_RANGE
    else:
        rng = colour.color_range if colour.color_range in (LIMITED_RANGE, FULL_RANGE) else 0
    return Colour(colour.colorspace, rng, colour.color_primaries, colour.color_trc)


#: the pixel formats a YUV4MPEG2 header can name (libavformat/yuv4mpegenc.c)
Y4M_FORMATS = (
    *("gray", "gray9le", "gray10le", "gray12le", "gray16le"),
    *("yuv411p", "yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuva444p"),
    *(f"yuv{s}p{d}le" for s in ("420", "422", "444") for d in ("9", "10", "12", "14", "16")),
)


class _CopyingOutput:
    """What a video output with the source's other streams (``_copier``) does at its end."""

    container: object
    _copier: _StreamCopier | None

    def _finish(self) -> None:
        """The other streams' remaining packets, then the trailer."""
        if self._copier is not None:
            self._copier.copy_until(None)
            self._copier.close()
        self.container.close()

    def abort(self) -> None:
        if self._copier is not None:
            self._copier.close()
        self.container.close()


class VideoFileWriter(_CopyingOutput, FrameSink):
    """Any FFmpeg encoder in any container PyAV can write; other streams copied from ``copy_from``.

    ``encode``: codec, crf, preset, pix_fmt (:class:`~ifrnet.video.options.EncodeSettings`);
    ``pix_fmt`` ``None`` keeps the source's pixel format where the encoder has it, else its nearest
    (with a notice). ``copy_from``: the input file whose subtitles, attachments, chapters and tags
    are copied, and its audio too when ``copy_audio``; ``timed`` says whether the output keeps the
    source's timeline (not for slow motion), without which audio and subtitles cannot follow.
    ``codec`` ``None``: libx264, or raw frames for YUV4MPEG2 (``container_format``
    ``"yuv4mpegpipe"``: 8-16 bit YUV or grey, the source's field order unless ``deinterlaced``).
    ``path`` ``-`` is standard output; ``streaming`` (standard output, a named pipe) writes
    front to back only. The source's pixel aspect ratio is kept.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        info: VideoInfo,
        rate: Fraction,
        encode: EncodeSettings | None = None,
        *,
        copy_from: Path | None = None,
        timed: bool = True,
        time_base: Fraction | None = None,
        container_format: str | None = None,
        streaming: bool = False,
        deinterlaced: bool = False,
    ) -> None:
        self.path = STDOUT if str(path) == "-" else Path(path)
        self.notices = []
        self.rate = Fraction(rate)
        self.time_base = 1 / self.rate  # until the container is known to keep per-frame times
        #: the run's first frame's time and index (set by a chunk of a longer run, else the first written)
        self.first: tuple[Fraction, int] | None = None
        #: frames stamped off that constant rate (variable-rate timing kept)
        self.irregular = 0
        #: say in a notice how many frames are stamped off the constant rate (a chunk leaves it to the job)
        self.report_timing = True
        encode = encode or EncodeSettings()
        y4m = container_format == "yuv4mpegpipe"
        codec, formats = self._encoder(encode.codec, y4m, container_format)
        writer = "YUV4MPEG2" if y4m else f"encoder {codec}"
        pix_fmt = self._pix_fmt(info, encode.pix_fmt, formats, writer)
        self._check_size(info, pix_fmt)
        self._check_conversion(info, pix_fmt, writer)
        self._open_stream(info, codec, container_format, streaming, time_base)
        self.stream.pix_fmt = pix_fmt
        self.stream.options = self._encoder_options(info, codec, encode, writer)
        self.pix_fmt = pix_fmt
        self.colour = output_colour(info, pix_fmt)
        self._source_colour = info.colour
        _tag_stream(self.stream, info, self.colour, field_order=y4m and not deinterlaced)
        #: (pts, dts) of every packet muxed, in order: what a chunked job's join needs, since
        #: NUT's demuxer gives no dts for the packets ahead of the first B-frames
        self.stamps: list[tuple[int, int | None]] = []
        self._copier = None
        if copy_from is not None:
            self._copier = _StreamCopier(copy_from, self.container, self.stream, self.notices, timed)
        # the encode thread's writes against an abort from the thread that stops the run
        self._guard = NativeGuard(super().abort)

    def _encoder(self, codec: str | None, y4m: bool, container_format: str | None) -> tuple[str, list[str]]:
        """The encoder's name (``codec`` or the container's default) and the pixel formats it takes."""
        import av

        if y4m and codec not in (None, "wrapped_avframe", "rawvideo"):
            raise InputError(f"{self.path}: YUV4MPEG2 holds raw frames; --codec {codec} applies to other containers")
        codec = codec or ("wrapped_avframe" if y4m else default_encoder(container_format or self.path.suffix))
        try:
            encoder = av.Codec(codec, "w")
        except (av.error.FFmpegError, ValueError):
            raise InputError(f"unknown or unavailable video encoder {codec!r}") from None
        if encoder.type != "video":
            raise InputError(f"{codec!r} is not a video encoder")
        # YUV4MPEG2 takes the frames as they are, in the formats its header can name
        return codec, list(Y4M_FORMATS) if y4m else [f.name for f in (encoder.video_formats or [])]

    def _pix_fmt(self, info: VideoInfo, pix_fmt: str | None, formats: list[str], writer: str) -> str:
        """The pixel format asked for, else the source's where the encoder has it, else its nearest."""
        if pix_fmt is None:
            pix_fmt = choose_output_format(info.pix_fmt, formats)
            if pix_fmt != info.pix_fmt and not is_jpeg_format(info.pix_fmt):
                self.notices.append(
                    f"{writer} cannot write the source's {info.pix_fmt}; writing {pix_fmt} (--pix-fmt chooses another)"
                )
        elif formats and pix_fmt not in formats:
            raise InputError(f"{writer} cannot write pixel format {pix_fmt}; it supports {', '.join(formats)}")
        return pix_fmt

    def _open_stream(
        self, info: VideoInfo, codec: str, container_format: str | None, streaming: bool, time_base: Fraction | None
    ) -> None:
        import av

        self.container = _open_container(self.path, container_format, streaming)
        try:
            self.stream = self.container.add_stream(codec, rate=self.rate)
        except (av.error.FFmpegError, ValueError) as exc:
            self.container.close()
            raise InputError(f"{self.path}: {exc}") from None
        self.stream.width, self.stream.height = info.width, info.height
        # a muxer that keeps each frame's time (AVFMT_VARIABLE_FPS: MP4, Matroska, NUT, TS) takes the
        # finer time base; others (AVI, YUV4MPEG2) show frames at a constant rate, as FFmpeg's
        # -fps_mode auto decides from the same flag
        self.variable_rate = bool(self.container.format.flags & AVFMT_VARIABLE_FPS)
        if time_base and self.variable_rate:
            self.time_base = Fraction(time_base)
        self.stream.codec_context.time_base = self.time_base

    def _encoder_options(self, info: VideoInfo, codec: str, encode: EncodeSettings, writer: str) -> dict[str, str]:
        """FFmpeg's options for the encoder: crf and preset where it takes them, the source's HDR10
        metadata where it can carry it (else a notice)."""
        options = {}
        if encode.crf is not None and codec in _CRF_CODECS:
            options["crf"] = str(encode.crf)
            if codec == "libvpx-vp9":
                options["b"] = "0"
        if encode.preset and codec in _PRESET_CODECS:
            options["preset"] = encode.preset
        if info.hdr is not None:
            carried = info.hdr.encoder_options(codec)
            if carried is None:
                self.notices.append(
                    f"{writer} cannot carry the source's HDR10 {info.hdr.describe()}; dropped, so players "
                    "tone-map without it (--codec libx265 or libsvtav1 keeps it)"
                )
            else:
                options.update(carried)
        return options

    @staticmethod
    def _check_size(info: VideoInfo, pix_fmt: str) -> None:
        fmt = PixelFormat.of(pix_fmt)
        if (fmt.chroma_w and info.width % 2) or (fmt.chroma_h and info.height % 2):
            raise InputError(
                f"{pix_fmt} needs an even width and height, the input is {info.width}x{info.height}; "
                "use --pix-fmt yuv444p (or an RGB codec such as ffv1) to keep the size"
            )

    @staticmethod
    def _check_conversion(info: VideoInfo, pix_fmt: str, writer: str) -> None:
        """Convert one blank frame now, so that a pixel format the converter cannot make (swscale
        writes no palette formats) is one line before any work, not a failure at the first frame."""
        import av

        blank = np.zeros((info.height, info.width, 3), np.uint16 if info.depth > 8 else np.uint8)
        try:
            from_rgb(blank, pix_fmt, output_colour(info, pix_fmt))
        except (av.error.FFmpegError, ValueError) as exc:
            raise InputError(
                f"{writer}: frames cannot be converted to {pix_fmt} ({getattr(exc, 'strerror', None) or exc}); "
                "choose another --pix-fmt"
            ) from None

    def _frame(self, frame: SourceFrame | np.ndarray):
        """The ``av.VideoFrame`` to encode: the source's own frame where it has one, else converted."""
        if isinstance(frame, SourceFrame):
            native = frame.native
            if native is None:
                return from_rgb(frame.image, self.pix_fmt, self.colour)
            native.pict_type = 0  # the encoder chooses frame types, as FFmpeg's CLI lets it
            if native.format.name == self.pix_fmt and native.width == self.stream.width:
                return native
            return convert(native, self.pix_fmt, src=frame_colour(native, self._source_colour), dst=self.colour)
        return from_rgb(frame, self.pix_fmt, self.colour)

    def write(self, frame: SourceFrame | np.ndarray, index: int, time: Fraction | None = None) -> None:
        """Write output frame ``index`` shown at ``time`` (seconds on the clock the copied streams
        share; ``None``: ``index / rate``). A constant-rate container gets consecutive frames
        from the first one's time on. Raises :class:`~ifrnet.video.native.Closed` after :meth:`abort`."""
        with self._guard.step():
            self._write(frame, index, time)

    def _write(self, frame: SourceFrame | np.ndarray, index: int, time: Fraction | None) -> None:
        out = self._frame(frame)
        shown = Fraction(index) / self.rate if time is None else Fraction(time)
        if self.first is None:
            self.first = (shown, index)
        regular = self.first[0] + (index - self.first[1]) / self.rate
        if abs(shown - regular) * self.rate > Fraction(1, 10):
            self.irregular += 1
        out.pts = round((shown if self.variable_rate else regular) / self.time_base)
        out.time_base = self.time_base
        if self._copier is not None:
            self._copier.copy_until(Fraction(out.pts) * self.time_base)
        self._mux(self.stream.encode(out))

    def _mux(self, packets) -> None:
        for packet in packets:
            self.stamps.append((packet.pts, packet.dts))
            self.container.mux(packet)

    def close(self) -> None:
        with self._guard.step():
            self._mux(self.stream.encode(None))
            if self.irregular and self.report_timing:
                self.notices.append(
                    timing_notice(self.container.format.name, self.variable_rate, self.irregular, self.rate)
                )
            self._finish()

    def abort(self) -> None:
        """Stop without finishing; safe while another thread is in :meth:`write` (:class:`NativeGuard`)."""
        self._guard.close()


def timing_notice(container: str, variable_rate: bool, irregular: int, rate: Fraction) -> str:
    """The notice for ``irregular`` frames of a variable-rate source, written to ``container``."""
    if not variable_rate:
        return (
            f"{container} shows frames at a constant rate, so the source's variable frame rate is lost: "
            f"{irregular} frame(s) play off the time they show ({float(rate):.3f} fps; write .mkv or .mp4 to keep it)"
        )
    return (
        f"variable frame rate kept: {irregular} frame(s) off a constant {float(rate):.3f} fps, "
        "each stamped at the time it shows"
    )


def default_encoder(container: str) -> str:
    """The encoder for a container when none is asked for (``container``: FFmpeg's muxer name or
    a file suffix): libx264 wherever the container takes H.264, else the muxer's own default, as
    ``ffmpeg`` picks it (libvpx-vp9 for WebM, gif for GIF, apng for APNG)."""
    import io

    import av

    try:
        probe = av.open(io.BytesIO(), "w", format=format_name(container.lstrip(".")))
    except (av.error.FFmpegError, ValueError):
        return "libx264"  # an unknown container is refused where it is opened
    try:
        default = probe.default_video_codec
        if not default or default == "h264":
            return "libx264"
        # a header with an H.264 stream, written to memory: the muxer says whether it takes one
        try:
            stream = probe.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
            probe.start_encoding()
            return "libx264"
        except (av.error.FFmpegError, ValueError):
            pass
        try:
            return av.Codec(default, "w").name
        except (av.error.FFmpegError, ValueError):
            return "libx264"  # the muxer's own encoder is not in this build: refused where it is opened
    finally:
        with contextlib.suppress(Exception):
            probe.close()


def _open_container(path: Path, container_format: str | None, streaming: bool):
    """An output container, or :class:`InputError` naming ``path``."""
    import av

    options = {}
    if container_format in ("mp4", "mov") and not streaming:
        # faststart: the index goes first, so the file plays while it downloads (a pipe cannot go back)
        options["movflags"] = "+faststart"
    if container_format == "yuv4mpegpipe":
        # FFmpeg writes 9-16 bit YUV4MPEG2 (its C420p10-style tags) only when told that tags
        # outside the original specification are fine: every current reader knows them
        options["strict"] = "unofficial"
    if container_format == "nut":
        # a chunk of a long job keeps the encoder's own timestamps (x264's first dts are negative),
        # so that the join writes what one process would have
        options["avoid_negative_ts"] = "disabled"
    try:
        return av.open("pipe:1" if path == STDOUT else str(path), "w", format=container_format, options=options)
    except (av.error.FFmpegError, ValueError) as exc:
        raise InputError(f"{path}: cannot write this file type ({exc})") from None


def _tag_stream(stream, info: VideoInfo, colour: Colour, field_order: bool = False) -> None:
    """The output video stream's colour tags, display rotation, pixel aspect and (``field_order``:
    YUV4MPEG2 of frames not deinterlaced) field order, from the source ``info``."""
    ctx = stream.codec_context
    # 0 is "RGB" for the matrix and reserved for the others, 2 "unspecified" for all three
    for key in ("color_primaries", "color_trc", "colorspace"):
        value = getattr(colour, key)
        if value not in (0, 2):
            setattr(ctx, key, value)
    if colour.color_range in (LIMITED_RANGE, FULL_RANGE):
        ctx.color_range = colour.color_range
    if info.rotation:
        stream.set_display_rotation(info.rotation)
    if info.sample_aspect_ratio:
        ctx.sample_aspect_ratio = info.sample_aspect_ratio
    if field_order and info.field_order in FIELD_ORDER_CODES:
        # the header's I flag: frames passed through are still interlaced, and an encoder
        # downstream should know (the new frames are made from them as progressive pictures)
        ctx.field_order = FIELD_ORDER_CODES[info.field_order]


class PacketJoin(_CopyingOutput):
    """The output of a chunked job: each chunk's encoded video packets as they are, in order, and
    the source's other streams copied once (``copy_from``, as :class:`VideoFileWriter` copies
    them), interleaved by time. The first chunk file gives the stream's codec parameters; every
    chunk was encoded with the same ones. ``add`` checks a chunk's packets against the (pts, dts)
    its writer recorded (:attr:`VideoFileWriter.stamps`) and raises :class:`InputError` where they
    differ.
    """

    def __init__(
        self,
        path: Path,
        template: Path,
        info: VideoInfo,
        rate: Fraction,
        pix_fmt: str,
        copy_from: Path | None = None,
        timed: bool = True,
        container_format: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.notices: list[str] = []
        self.pix_fmt = pix_fmt
        with open_input(str(template)) as first:
            source = first.streams.video[0]
            self.container = _open_container(self.path, container_format, streaming=False)
            try:
                self.stream = self.container.add_stream_from_template(source)
            except BaseException:
                self.container.close()
                raise
            self.time_base = source.time_base
        self.stream.time_base = self.time_base
        self.stream.codec_context.time_base = self.time_base
        self.stream.codec_context.framerate = Fraction(rate)
        _tag_stream(self.stream, info, output_colour(info, pix_fmt))
        self._copier = None
        if copy_from is not None:
            self._copier = _StreamCopier(copy_from, self.container, self.stream, self.notices, timed)
        # the encode thread's writes against an abort from the thread that stops the run
        self._guard = NativeGuard(super().abort)

    def add(self, chunk: Path, stamps: list[tuple[int, int | None]], time_base: Fraction) -> None:
        """Mux the video packets of ``chunk``, whose writer recorded ``stamps`` in ``time_base``."""
        scale = Fraction(time_base) / self.time_base  # the recorded stamps on the chunk file's clock
        damaged = InputError(f"{chunk}: its packets are not the ones written (damaged chunk file)")
        with open_input(str(chunk)) as container:
            packets = (p for p in container.demux(video=0) if p.size)  # one at a time: a chunk may be GBs
            for packet, (pts, dts) in itertools.zip_longest(packets, stamps):
                if packet is None or pts is None or packet.pts != pts * scale:
                    raise damaged  # the caller aborts the output
                packet.dts = None if dts is None else int(dts * scale)
                if self._copier is not None:
                    self._copier.copy_until(Fraction(packet.pts) * self.time_base)
                packet.stream = self.stream
                self.container.mux(packet)

    def close(self) -> None:
        self._finish()


class _StreamCopier:
    """Copies audio and subtitle packets, attachments, chapters and tags of the input, interleaved."""

    def __init__(self, source: Path, container, video, notices: list[str], timed: bool) -> None:
        import av

        self.input = open_input(str(source))
        self.output = container
        self.streams = {}
        self.transcode: set[int] = set()
        fmt = container.format.name
        suffix = Path(container.name).suffix or "this container"
        _copy_tags(self.input.metadata, container.metadata)
        _copy_tags(self.input.streams.video[0].metadata, video.metadata, keys=("language", "title"))
        first_video = self.input.streams.video[0].index
        for stream in self.input.streams:
            label = _describe(stream)
            if stream.type == "data" or (stream.type == "video" and stream.index != first_video):
                # timecode tracks, telemetry, cover art, second angles: not what is interpolated
                notices.append(f"{source}: {label} not copied (only the first video stream is interpolated)")
                continue
            if stream.type not in ("audio", "subtitle"):
                continue
            if not timed:  # slow motion: the pipeline's summary reports the audio
                if stream.type == "subtitle":
                    notices.append(f"{source}: {label} dropped (slow motion changes the duration)")
                continue
            try:
                copy = container.add_stream_from_template(stream) if _muxes(stream, fmt) else None
            except (av.error.FFmpegError, ValueError):
                copy = None
            if copy is None:
                copy = self._text_subtitles(stream, container)
                if copy is None:
                    notices.append(
                        f"{source}: {label} cannot be stored in {suffix} without re-encoding; dropped "
                        "(write .mkv to keep it)"
                    )
                    continue
                notices.append(f"{source}: {label} converted to MP4 timed text (mov_text); styling is lost")
            _copy_tags(stream.metadata, copy.metadata, keys=("language", "title", "handler_name"))
            self.streams[stream.index] = copy
        self._attachments(container, fmt, notices, source)
        chapters = self.input.chapters()
        if chapters:
            try:
                container.set_chapters(chapters)
            except (av.error.FFmpegError, ValueError, TypeError) as exc:
                notices.append(f"{source}: {len(chapters)} chapter(s) dropped ({exc})")
        wanted = [s for s in self.input.streams if s.index in self.streams]
        self._packets: Iterator = self.input.demux(*wanted) if wanted else iter(())
        self._held = None

    def _text_subtitles(self, stream, container):
        """A mov_text stream for a text subtitle stream that MP4/MOV cannot hold as it is (as FFmpeg's
        ``-c:s mov_text``), else ``None``; its packets are decoded and re-encoded one by one."""
        import av

        if stream.type != "subtitle" or stream.codec_context.name not in _TEXT_SUBTITLES:
            return None
        if "mov_text" not in (container.supported_codecs or ()):
            return None
        try:
            copy = container.add_stream("mov_text")
            copy.codec_context.time_base = stream.time_base
            copy.codec_context.subtitle_header = (
                stream.codec_context.subtitle_header or stream.codec_context.extradata or _ASS_HEADER
            )
        except (av.error.FFmpegError, ValueError):
            return None
        self.transcode.add(stream.index)
        return copy

    def _attachments(self, container, fmt: str, notices: list[str], source: Path) -> None:
        attachments = [s for s in self.input.streams if s.type == "attachment"]
        if not attachments:
            return
        if not set(fmt.split(",")) & _MATROSKA:
            names = ", ".join(_attachment_name(a) for a in attachments)
            notices.append(f"{source}: attachment(s) {names} dropped: only Matroska holds them (write .mkv to keep)")
            return
        for a in attachments:
            container.add_attachment(_attachment_name(a), a.mimetype or "application/octet-stream", bytes(a.data))

    def copy_until(self, time: Fraction | None) -> None:
        """Mux packets that start before ``time`` (all remaining ones for ``None``)."""
        if not self.streams:
            return
        while True:
            packet = self._held or next(self._packets, None)
            self._held = None
            if packet is None:
                return
            if (packet.dts is None and packet.pts is None) or packet.size == 0:  # demuxer flush markers
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            if time is not None and Fraction(stamp) * packet.time_base > time:
                self._held = packet
                return
            index = packet.stream.index
            if index in self.transcode:
                packet = self._to_mov_text(packet)
                if packet is None:
                    continue
            packet.stream = self.streams[index]
            self.output.mux(packet)

    def _to_mov_text(self, packet):
        import av

        source = packet.stream
        try:
            subtitle = source.codec_context.decode2(packet)
            if subtitle is None:
                return None
            out = self.streams[source.index].codec_context.encode_subtitle(subtitle)
        except (av.error.FFmpegError, ValueError):
            return None  # one unreadable cue is not worth the run
        out.pts, out.dts, out.duration, out.time_base = packet.pts, packet.dts, packet.duration, packet.time_base
        return out

    def close(self) -> None:
        self.input.close()


def _muxes(stream, fmt: str) -> bool:
    """Whether ``fmt`` takes ``stream`` copied as it is: its header is written to memory with that
    stream alone (a muxer may list a codec and still refuse it, as MOV does Opus)."""
    import io

    import av

    try:
        with av.open(io.BytesIO(), "w", format=fmt.split(",")[0]) as probe:
            probe.add_stream_from_template(stream)
            probe.start_encoding()
        return True
    except (av.error.FFmpegError, ValueError, OSError):
        return False


def _copy_tags(src, dst, keys: tuple[str, ...] | None = None) -> None:
    for key, value in (src or {}).items():
        if keys is None and key.upper() in ("ENCODER", "DURATION", "COMPATIBLE_BRANDS", "MAJOR_BRAND", "MINOR_VERSION"):
            continue  # describe the old file, not this one
        if keys is None or key.lower() in keys:
            dst[key] = value


def _describe(stream) -> str:
    meta = {k.lower(): v for k, v in (stream.metadata or {}).items()}
    lang = meta.get("language")
    name = getattr(stream.codec_context, "name", None) if stream.type in ("audio", "subtitle") else None
    details = ", ".join(x for x in (name, lang) if x)
    return f"{stream.type} stream {stream.index}" + (f" ({details})" if details else "")


def _attachment_name(stream) -> str:
    meta = {k.lower(): v for k, v in (stream.metadata or {}).items()}
    return meta.get("filename") or getattr(stream, "name", None) or f"attachment{stream.index}"


class ImageSequenceWriter(FrameSink):
    """Numbered PNG files from a ``%d`` pattern (``frames/%08d.png``), published only when complete.

    Frames are written into a hidden temporary folder beside the target and moved into it by
    :meth:`close`, like a file's temporary name; :meth:`abort` removes the temporary folder and any
    folders this writer created, so a failed or interrupted run leaves nothing behind.
    ``rotation`` (degrees counter-clockwise, the source's display matrix) is applied to the pixels,
    as FFmpeg's autorotate does, since PNG has no rotation tag; frames deeper than 8 bits are
    written as 16-bit PNG.
    """

    def __init__(self, pattern: str | os.PathLike, overwrite: bool = False, rotation: int = 0) -> None:
        final = folder_pattern(pattern)
        self.pattern = str(final)
        self.notices = []
        self.rotation = int(rotation) % 360
        self._overwrite = overwrite
        self._stale = set(self.check(pattern, overwrite))
        self._folder = final.parent
        self._created = make_parents(self._folder.parent)
        try:
            self._tmp = make_temporary(self._folder.parent, self._folder.name, ".partial", directory=True)
        except OSError as exc:
            self._remove_created()
            raise InputError(f"{self._folder}: cannot write here ({exc.strerror or exc})") from None
        self._name = final.name
        self._written: list[str] = []

    @staticmethod
    def check(pattern: str | os.PathLike, overwrite: bool) -> list[Path]:
        """The files an earlier sequence left under ``pattern``; refused unless ``overwrite``, as is
        a pattern whose folder is a file."""
        final = folder_pattern(pattern)
        if final.parent.exists() and not final.parent.is_dir():
            raise InputError(
                f"{final.parent}: is a file, not a folder, so the frames of {pattern} cannot be written there"
            )
        existing = existing_sequence_files(final)
        if existing and not overwrite:
            raise InputError(f"{existing[0]}: output exists; pass --overwrite to replace the image sequence")
        return existing

    def write(self, frame: SourceFrame | np.ndarray, index: int, time: Fraction | None = None) -> None:
        from ..io.images import png_bytes

        image = frame.image if isinstance(frame, SourceFrame) else frame
        if self.rotation:
            # np.rot90 turns counter-clockwise, the display matrix's sense (libavutil/display.h)
            image = np.ascontiguousarray(np.rot90(image, k=self.rotation // 90))
        name = self._name % index
        # the hidden folder is what makes the sequence atomic: a frame needs no temporary name of its own
        (self._tmp / name).write_bytes(png_bytes(image))
        self._written.append(name)

    def close(self) -> None:
        """Publish the frames: the temporary folder becomes the target, or its files move into it.

        Without ``overwrite``, frames another run put under the pattern meanwhile are kept: this
        sequence then goes to a folder beside (``frames.1``) and :class:`InputError` says where."""
        if not self._folder.exists():
            with contextlib.suppress(FileExistsError):  # else the folder appeared meanwhile: below
                publish(self._tmp, self._folder)
                return
        pattern = self._folder / self._name
        if not self._overwrite and existing_sequence_files(pattern):
            raise appeared(pattern, publish_beside(self._tmp, self._folder) / self._name)
        for name in self._written:
            if self._overwrite:
                os.replace(self._tmp / name, self._folder / name)
            else:
                try:
                    publish(self._tmp / name, self._folder / name)
                except FileExistsError:
                    raise appeared(pattern, publish_beside(self._tmp, self._folder) / self._name) from None
            self._stale.discard(self._folder / name)
        # with --overwrite, files of an older and longer sequence must not look like part of this one
        for path in self._stale:
            path.unlink(missing_ok=True)
        self._tmp.rmdir()

    def abort(self) -> None:
        import shutil

        shutil.rmtree(self._tmp, ignore_errors=True)
        self._remove_created()

    def _remove_created(self) -> None:
        remove_created(self._created)
