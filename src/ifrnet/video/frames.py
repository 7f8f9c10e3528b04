"""What a decoded frame and a probed input are: the records the reader gives and the writer,
the scene rules and the time map take, kept apart from any of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from .formats import Colour, HdrMetadata, PixelFormat


@dataclass(frozen=True)
class SourceFrame:
    """One decoded frame: position in decode order, presentation time in seconds, RGB pixels.

    ``image`` is ``(H, W, 3)`` RGB, uint8, or uint16 (0-65535) when the reader was asked to keep
    a source deeper than 8 bits. ``native`` is the decoded ``av.VideoFrame`` in the source's own
    pixel format (``None`` for image files): what a pass-through writes, untouched.
    """

    index: int
    time: Fraction
    image: np.ndarray
    duration: Fraction | None = None
    native: object | None = None


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
    colour: Colour = field(default_factory=Colour)
    audio_streams: int = 0
    #: the decoder's pixel format (``"yuv420p10le"``); ``"rgb24"`` for image files
    pix_fmt: str = "rgb24"
    #: the stream's timestamp unit in seconds (1/1000 for Matroska); ``None`` for image files
    time_base: Fraction | None = None
    #: ``"top field first"`` / ``"bottom field first"`` for interlaced sources (the first frame's
    #: flags, else the stream's tag read as :data:`~ifrnet.video.formats.FIELD_ORDERS` says), else ``None``
    field_order: str | None = None
    #: the shape of a pixel (width / height; 8/9 for PAL 4:3 DVD), ``None`` where unknown or square
    sample_aspect_ratio: Fraction | None = None
    #: HDR10 static metadata of the first frame (mastering display, light level), ``None`` without
    hdr: HdrMetadata | None = None

    @property
    def depth(self) -> int:
        """Bits per component of the source."""
        return PixelFormat.of(self.pix_fmt).depth

    def describe(self) -> str:
        dur = f", {float(self.duration):.2f} s" if self.duration is not None else ""
        frames = f", {self.frame_count} frames" if self.frame_count else ""
        return f"{self.width}x{self.height} {self.pix_fmt} {float(self.rate):.3f} fps{frames}{dur}"
