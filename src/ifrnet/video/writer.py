"""Encoding: frames to a video file through PyAV (audio remuxed alongside), or to numbered images."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError
from .reader import VideoInfo, is_pattern, pattern_regex

#: Codecs that take x264-style ``crf``/``preset`` options.
_CRF_CODECS = {"libx264", "libx264rgb", "libx265", "libvpx-vp9", "libsvtav1"}
_PRESET_CODECS = {"libx264", "libx264rgb", "libx265"}
# AVColorSpace -> swscale colourspace constant, for RGB <-> YUV conversions with the source's matrix
_SWS_COLORSPACE = {1: "itu709", 4: "fcc", 5: "itu601", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}


def sws_colorspace(av_colorspace: int | None) -> str | None:
    """The swscale matrix name for a stream's colourspace tag (``None``: swscale's default, BT.601)."""
    return _SWS_COLORSPACE.get(av_colorspace or 0)


class FrameSink:
    """Interface of a frame sink: ``write`` frames in output order, then ``close``."""

    notices: list[str]

    def write(self, image: np.ndarray, index: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def abort(self) -> None:
        """Stop without finishing; the caller removes what was written."""
        self.close()


class VideoFileWriter(FrameSink):
    """H.264 (or any FFmpeg encoder) in any container PyAV can write; audio packets copied."""

    def __init__(
        self,
        path: str | os.PathLike,
        info: VideoInfo,
        rate: Fraction,
        codec: str = "libx264",
        crf: int | None = 18,
        preset: str | None = "medium",
        pix_fmt: str | None = None,
        audio_from: Path | None = None,
        start: Fraction = Fraction(0),
        container_format: str | None = None,
    ) -> None:
        import av

        self.path = Path(path)
        self.notices = []
        self.rate = Fraction(rate)
        self._pts_offset = round(start * self.rate)
        try:
            encoder = av.Codec(codec, "w")
        except (av.error.FFmpegError, ValueError):
            raise InputError(f"unknown or unavailable video encoder {codec!r}") from None
        formats = [f.name for f in (encoder.video_formats or [])]
        if encoder.type != "video":
            raise InputError(f"{codec!r} is not a video encoder")
        if pix_fmt is None:
            pix_fmt = "yuv420p" if "yuv420p" in formats or not formats else formats[0]
        elif formats and pix_fmt not in formats:
            raise InputError(f"encoder {codec} cannot write pixel format {pix_fmt}; it supports {', '.join(formats)}")
        self._check_size(info, pix_fmt)
        try:
            # faststart: the index goes first, so the file plays while it downloads
            options = {"movflags": "+faststart"} if container_format in ("mp4", "mov") else {}
            self.container = av.open(str(self.path), "w", format=container_format, options=options)
        except (av.error.FFmpegError, ValueError) as exc:
            raise InputError(f"{self.path}: cannot write this file type ({exc})") from None
        try:
            self.stream = self.container.add_stream(codec, rate=self.rate)
        except (av.error.FFmpegError, ValueError) as exc:
            self.container.close()
            raise InputError(f"{self.path}: {exc}") from None
        self.stream.width, self.stream.height = info.width, info.height
        self.stream.pix_fmt = pix_fmt
        options = {}
        if crf is not None and codec in _CRF_CODECS:
            options["crf"] = str(crf)
            if codec == "libvpx-vp9":
                options["b"] = "0"
        if preset and codec in _PRESET_CODECS:
            options["preset"] = preset
        self.stream.options = options
        self.pix_fmt = pix_fmt
        self._color = self._tag_color(info)
        if info.rotation:
            self.stream.set_display_rotation(info.rotation)
        self._audio = _AudioCopier(audio_from, self.container, self.notices) if audio_from else None

    @staticmethod
    def _check_size(info: VideoInfo, pix_fmt: str) -> None:
        import av

        # a 2x2 probe shows the chroma subsampling: 1-pixel-wide chroma planes need even sides
        planes = av.VideoFormat(pix_fmt, 2, 2).components
        sub_w = any(c.width == 1 for c in planes)
        sub_h = any(c.height == 1 for c in planes)
        if (sub_w and info.width % 2) or (sub_h and info.height % 2):
            raise InputError(
                f"{pix_fmt} needs an even width and height, the input is {info.width}x{info.height}; "
                "use --pix-fmt yuv444p (or an RGB codec such as ffv1) to keep the size"
            )

    def _tag_color(self, info: VideoInfo) -> dict[str, object]:
        ctx = self.stream.codec_context
        for key in ("color_primaries", "color_trc", "colorspace", "color_range"):
            value = info.color.get(key)
            if value not in (None, 0, 2):  # 2 = unspecified for the first three
                setattr(ctx, key, value)
        conversion = {}
        matrix = sws_colorspace(info.color.get("colorspace"))
        if matrix:
            conversion["dst_colorspace"] = matrix
        if info.color.get("color_range") in (1, 2):
            conversion["dst_color_range"] = info.color["color_range"]
        return conversion

    def write(self, image: np.ndarray, index: int) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame = frame.reformat(format=self.pix_fmt, **self._color)
        frame.pts = index + self._pts_offset
        frame.time_base = 1 / self.rate
        if self._audio is not None:
            self._audio.copy_until(Fraction(frame.pts) / self.rate)
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        if self._audio is not None:
            self._audio.copy_until(None)
            self._audio.close()
        self.container.close()

    def abort(self) -> None:
        if self._audio is not None:
            self._audio.close()
        self.container.close()


class _AudioCopier:
    """Copies every audio stream of the input packet by packet, interleaved with the video."""

    def __init__(self, source: Path, container: object, notices: list[str]) -> None:
        import av

        self.input = av.open(str(source), metadata_errors="ignore")
        self.output = container
        self.streams = {}
        for stream in self.input.streams.audio:
            try:
                self.streams[stream.index] = container.add_stream_from_template(stream)
            except (av.error.FFmpegError, ValueError):
                notices.append(
                    f"audio stream {stream.index} ({stream.codec_context.name}) cannot be stored in "
                    f"{Path(container.name).suffix or 'this container'} without re-encoding; dropped "
                    "(write .mkv to keep it)"
                )
        self._packets: Iterator = self.input.demux(*[s for s in self.input.streams.audio if s.index in self.streams])
        self._held = None

    def copy_until(self, time: Fraction | None) -> None:
        """Mux audio packets that start before ``time`` (all remaining ones for ``None``)."""
        if not self.streams:
            return
        while True:
            packet = self._held or next(self._packets, None)
            self._held = None
            if packet is None:
                return
            if packet.dts is None or packet.size == 0:  # demuxer flush markers
                continue
            if time is not None and packet.pts is not None and Fraction(packet.pts) * packet.time_base > time:
                self._held = packet
                return
            packet.stream = self.streams[packet.stream.index]
            self.output.mux(packet)

    def close(self) -> None:
        self.input.close()


class ImageSequenceWriter(FrameSink):
    """Numbered PNG files from a ``%d`` pattern (``frames/%08d.png``), each written atomically."""

    def __init__(self, pattern: str | os.PathLike, overwrite: bool = False) -> None:
        self.pattern = str(folder_pattern(pattern))
        self.notices = []
        self._stale = set(self.check(pattern, overwrite))
        Path(self.pattern).parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def check(pattern: str | os.PathLike, overwrite: bool) -> list[Path]:
        """The files an earlier sequence left under ``pattern``; refused unless ``overwrite``."""
        existing = existing_sequence_files(folder_pattern(pattern))
        if existing and not overwrite:
            raise InputError(f"{existing[0]}: output exists; pass --overwrite to replace the image sequence")
        return existing

    def write(self, image: np.ndarray, index: int) -> None:
        from ..io.images import write_png

        path = Path(self.pattern % index)
        write_png(path, image)
        self._stale.discard(path)

    def close(self) -> None:
        # with --overwrite, files of an older and longer sequence must not look like part of this one
        for path in self._stale:
            path.unlink(missing_ok=True)


def folder_pattern(output: str | os.PathLike) -> Path:
    """``frames/%08d.png`` for a pattern as given, or for a folder name (``frames/``)."""
    text = str(output)
    if is_pattern(text):
        if Path(text).suffix.lower() != ".png":
            raise InputError(f"{text}: image sequences are written as PNG; end the pattern in .png")
        return Path(text)
    return Path(text) / "%08d.png"


def is_folder_output(output: str | os.PathLike) -> bool:
    text = str(output)
    return is_pattern(text) or text.endswith(("/", os.sep)) or Path(text).is_dir()


def existing_sequence_files(pattern: Path) -> list[Path]:
    if not pattern.parent.is_dir():
        return []
    regex = pattern_regex(pattern.name)
    return sorted(p for p in pattern.parent.iterdir() if regex.match(p.name))
