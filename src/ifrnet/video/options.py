"""What a video run is asked to do: :class:`EncodeSettings` (what the writer needs) and
:class:`VideoOptions` (the whole request), each field with its :class:`~ifrnet.options.Option`.

The option table is the one source of every default, range and help line: the ``video`` and
``batch`` commands generate their flags from it, the VapourSynth filter and the Python API are
checked by it when the options are made. Nothing here decodes or encodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction

from ..errors import InputError
from ..options import check_options, option
from .frames import VideoInfo
from .scenes import DEFAULT_HOLD_TOLERANCE, DEFAULT_SCENE_THRESHOLD, HOLD_TOLERANCE, SCENE_THRESHOLD, CutList
from .schedule import stamp_time_base

#: most new frames per source frame (--factor, --slowmo, --fps / input rate): beyond it a run is
#: a mistake that would grow without bound between two frames
MAX_FACTOR = 64
FPS_RANGE = (Fraction(1, 10), Fraction(1000))
MAX_BATCH = 64


@dataclass(kw_only=True)
class EncodeSettings:
    """How output frames are encoded: what :class:`~ifrnet.video.writer.VideoFileWriter` takes whole."""

    codec: str | None = option(
        None,
        help="FFmpeg encoder: libx265, ffv1, ...; default: libx264 where the container takes H.264, else "
        "its own (libvpx-vp9 for .webm, gif for .gif); y4m holds raw frames",
    )
    crf: int | None = option(18, low=0, help="quality for x264/x265/vp9/av1 (lower is better)")
    preset: str | None = option("medium", help="x264/x265 speed preset")
    pix_fmt: str | None = option(None, help="output pixel format (default: the source's, or the encoder's nearest)")

    def settings(self) -> EncodeSettings:
        """These settings alone (of a :class:`VideoOptions`, the encoder's part)."""
        return EncodeSettings(**{f.name: getattr(self, f.name) for f in fields(EncodeSettings)})


_FACTOR = {"low": 2, "high": MAX_FACTOR, "integer": True}


@dataclass(kw_only=True)
class VideoOptions(EncodeSettings):
    """How to turn the input into the output. Exactly one of ``factor``, ``fps``, ``slowmo``.

    Flat for callers (``VideoOptions(factor=2, codec="ffv1")``); the encoder's fields come from
    :class:`EncodeSettings`, which :meth:`settings` hands to the writer. Fields are checked on
    creation (:class:`~ifrnet.errors.InputError` naming the flag)."""

    factor: int | None = option(None, **_FACTOR, metavar="N", help="multiply the frame rate by N (default 2)")
    fps: Fraction | None = option(
        None, low=float(FPS_RANGE[0]), high=float(FPS_RANGE[1]), help="output frame rate: 60, 59.94 or 60000/1001"
    )
    slowmo: int | None = option(None, **_FACTOR, metavar="N", help="N times slower at the same frame rate")
    scene_threshold: float | None = field(default=DEFAULT_SCENE_THRESHOLD, metadata={"option": SCENE_THRESHOLD})
    input_fps: Fraction | None = option(None, help="frame rate of an image-sequence input (default 25)")
    batch: int | None = option(
        None, low=1, high=MAX_BATCH, integer=True, help="pairs per model call (default: 4 on CUDA, else 1)"
    )
    overwrite: bool = option(False, help="replace an existing output")
    #: source and output frames held between the decoder, the network and the encoder
    queue_size: int = 8
    deinterlace: bool = option(False, help="deinterlace first with FFmpeg's bwdif (one frame per frame)")
    dedup: bool = option(False, help="drop drawings shown again (anime on twos/threes) and interpolate at their times")
    dedup_tolerance: float = field(default=DEFAULT_HOLD_TOLERANCE, metadata={"option": HOLD_TOLERANCE})
    #: cuts given by the user (``--cuts FILE``), held in addition to detected ones
    cuts: CutList | None = None
    input_format: str | None = option(
        None,
        metavar="FMT",
        help="FFmpeg demuxer of the input (y4m, nut, ...), as ffmpeg's -f; default: probed (a named pipe too)",
    )
    output_format: str | None = option(
        None,
        metavar="FMT",
        help="FFmpeg muxer of the output (y4m, nut, matroska, ...); default: from the extension, y4m for -",
    )

    def __post_init__(self) -> None:
        check_options(self)

    def rates(self, input_rate: Fraction) -> tuple[Fraction, Fraction]:
        """(rate at which the source is sampled, rate written to the output)."""
        chosen = [x for x in (self.factor, self.fps, self.slowmo) if x is not None]
        if len(chosen) > 1:
            raise InputError("choose one of --factor, --fps and --slowmo")
        if self.fps is not None:
            if self.fps > MAX_FACTOR * input_rate:
                raise InputError(
                    f"--fps {float(self.fps):g} is more than {MAX_FACTOR} frames per source frame "
                    f"({float(input_rate):g} fps); use at most {float(MAX_FACTOR * input_rate):g}"
                )
            return Fraction(self.fps), Fraction(self.fps)
        if self.slowmo is not None:
            return input_rate * self.slowmo, input_rate
        return input_rate * (self.factor or 2), input_rate * (self.factor or 2)

    def time_base(self, info: VideoInfo, write_rate: Fraction) -> Fraction:
        """The output's time base (:func:`~ifrnet.video.schedule.stamp_time_base`): the output grid
        for ``--fps``; for ``--factor N`` the source's tick split in N as well, for ``--slowmo`` the
        source's tick (its times stretched N times)."""
        if self.fps is not None:
            return stamp_time_base(write_rate)
        return stamp_time_base(write_rate, info.time_base, 1 if self.slowmo else (self.factor or 2))
