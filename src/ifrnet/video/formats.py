"""Pixel formats and colour: from a stream's native frames to the network's RGB and back.

The network sees RGB; the source and the output are usually YUV of some depth and subsampling.
Every conversion here goes through swscale with the stream's own matrix and range and with
accurate rounding and full chroma interpolation (FFmpeg's ``accurate_rnd+full_chroma_int+
full_chroma_inp``), so an RGB round trip costs at most one code value, and frames that need no
network are never converted at all (the pipeline passes the decoded frame through).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np

# AVColorSpace -> swscale matrix name (libavutil/pixfmt.h; sws_getCoefficients)
_SWS_MATRIX = {1: "itu709", 4: "fcc", 5: "itu601", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
#: AVColorRange values (libavutil/pixfmt.h): 1 = limited ("tv", MPEG), 2 = full ("pc", JPEG)
LIMITED_RANGE, FULL_RANGE = 1, 2
#: field orders by the field shown first, from a stream's AVFieldOrder (libavcodec/defs.h): 1 is
#: progressive, 2 (tt) top and 3 (bb) bottom. 4 (tb) and 5 (bt) are documented as "top (bottom)
#: coded first, bottom (top) displayed first", but FFmpeg itself writes tb for every top-field-first
#: encode but MJPEG (fftools/ffmpeg_enc.c) and reads it back as top first (its YUV4MPEG2 muxer
#: writes 't' for tb), so files in the wild mean top first by tb; this table follows FFmpeg's
#: practice. A decoded frame's own interlacing flags, where it has them, take precedence (reader).
FIELD_ORDERS = {2: "top field first", 3: "bottom field first", 4: "top field first", 5: "bottom field first"}
#: the reverse: the AVFieldOrder a writer sets for a field order (YUV4MPEG2's header knows only
#: t and b, i.e. tt and bb)
FIELD_ORDER_CODES = {"top field first": 2, "bottom field first": 3}
# the deprecated full-range "J" formats, and what they are with their range made explicit
_J_FORMATS = {"yuvj420p": "yuv420p", "yuvj422p": "yuv422p", "yuvj444p": "yuv444p", "yuvj440p": "yuv440p"}


def sws_colorspace(av_colorspace: int | None) -> str | None:
    """The swscale matrix name for a stream's colourspace tag (``None``: swscale's default, BT.601)."""
    return _SWS_MATRIX.get(int(av_colorspace or 0))


@cache
def accurate_scaling() -> int:
    """swscale flags for exact conversions: ``bicubic+accurate_rnd+full_chroma_int+full_chroma_inp``."""
    from av.video.reformatter import Interpolation as Sws

    return Sws.BICUBIC | Sws.ACCURATE_RND | Sws.FULL_CHR_H_INT | Sws.FULL_CHR_H_INP


@dataclass(frozen=True)
class PixelFormat:
    """What the pipeline needs to know of an FFmpeg pixel format (``av.VideoFormat``)."""

    name: str
    depth: int  # bits of the deepest component
    rgb: bool
    gray: bool
    alpha: bool
    palette: bool
    chroma_w: int  # log2 horizontal chroma subsampling (1 for 4:2:0 and 4:2:2)
    chroma_h: int

    @classmethod
    @cache
    def of(cls, name: str) -> PixelFormat:
        import av

        fmt = av.VideoFormat(name, 16, 16)  # a size, so that the chroma planes' sizes tell the subsampling
        comps = fmt.components
        colour = [c for c in comps if not c.is_alpha]
        return cls(
            name=name,
            depth=max(c.bits for c in comps),
            rgb=bool(fmt.is_rgb),
            gray=len(colour) == 1 and not fmt.has_palette,
            alpha=any(c.is_alpha for c in comps),
            palette=bool(fmt.has_palette),
            chroma_w=_log2_ratio(16, fmt.chroma_width()),
            chroma_h=_log2_ratio(16, fmt.chroma_height()),
        )

    @property
    def network_format(self) -> str:
        """The RGB layout the network is fed from this format: 8-bit, or 16-bit for deeper sources."""
        return "rgb48le" if self.depth > 8 else "rgb24"

    @property
    def kind(self) -> str:
        return "rgb" if self.rgb else "gray" if self.gray else "yuv"


def _log2_ratio(full: int, part: int) -> int:
    return max(0, (int(full) // max(1, int(part))).bit_length() - 1)


@dataclass(frozen=True)
class Colour:
    """A stream's colour description: AVColorSpace, AVColorRange, primaries and transfer (ints)."""

    colorspace: int = 0
    color_range: int = 0
    color_primaries: int = 0
    color_trc: int = 0

    def swscale(self) -> dict[str, object]:
        """Keyword arguments naming this matrix and range for ``VideoFrame.reformat``."""
        out: dict[str, object] = {}
        matrix = sws_colorspace(self.colorspace)
        if matrix:
            out["colorspace"] = matrix
        if self.color_range in (LIMITED_RANGE, FULL_RANGE):
            out["color_range"] = self.color_range
        return out


@dataclass(frozen=True)
class HdrMetadata:
    """HDR10 static metadata as FFmpeg's decoders export it on frames: the mastering display's
    colour volume (SMPTE ST 2086; ``AVMasteringDisplayMetadata``) and the content light level
    (CTA-861.3; ``AVContentLightMetadata``). Each part is ``None`` where the source lacks it.

    ``primaries``: CIE 1931 (x, y) of the display's red, green and blue; ``white_point`` (x, y);
    ``luminance``: (min, max) in cd/m²; ``max_cll`` and ``max_fall`` in cd/m².
    """

    primaries: tuple[tuple[Fraction, Fraction], ...] | None = None
    white_point: tuple[Fraction, Fraction] | None = None
    luminance: tuple[Fraction, Fraction] | None = None
    max_cll: int | None = None
    max_fall: int | None = None

    @classmethod
    def of(cls, frame) -> HdrMetadata | None:
        """The metadata on a decoded ``av.VideoFrame`` (its side data), or None where it has none."""
        found: dict[str, object] = {}
        side_data = getattr(frame, "side_data", None) or ()
        # PyAV 18.1.1 made the container a Mapping (iterating gives the types, not the entries)
        entries = side_data.values() if hasattr(side_data, "values") else side_data
        for entry in entries:
            name = getattr(entry.type, "name", str(entry.type))
            raw = bytes(entry)
            if name == "MASTERING_DISPLAY_METADATA" and len(raw) >= 88:
                # 10 AVRationals (r, g, b, white point, min, max luminance), has_primaries, has_luminance
                ints = struct.unpack("=22i", raw[:88])
                q = [Fraction(ints[i], ints[i + 1]) if ints[i + 1] else Fraction(0) for i in range(0, 20, 2)]
                if ints[20]:
                    found["primaries"] = ((q[0], q[1]), (q[2], q[3]), (q[4], q[5]))
                    found["white_point"] = (q[6], q[7])
                if ints[21]:
                    found["luminance"] = (q[8], q[9])
            elif name == "CONTENT_LIGHT_LEVEL" and len(raw) >= 8:
                found["max_cll"], found["max_fall"] = struct.unpack("=2I", raw[:8])
        return cls(**found) if found else None

    def describe(self) -> str:
        parts = []
        if self.primaries or self.luminance:
            parts.append("mastering display (SMPTE ST 2086)")
        if self.max_cll is not None:
            parts.append(f"content light level (MaxCLL {self.max_cll}, MaxFALL {self.max_fall})")
        return " and ".join(parts)

    def encoder_options(self, codec: str) -> dict[str, str] | None:
        """What tells ``codec`` to write this metadata into its bitstream (x265's ``master-display``
        and ``max-cll``, SVT-AV1's ``mastering-display`` and ``content-light``), or None where the
        encoder has no way to carry it."""
        if codec not in _HDR_PARAMS:
            return None
        key, display, light, chroma, nits = _HDR_PARAMS[codec]
        params = []
        if self.primaries and self.white_point and self.luminance:
            (r, g, b), white = self.primaries, self.white_point
            # both take green, blue, red, the white point, then (max, min) luminance
            points = "".join(f"{k}({chroma(x)},{chroma(y)})" for k, (x, y) in (("G", g), ("B", b), ("R", r)))
            low, high = self.luminance
            params.append(f"{display}={points}WP({chroma(white[0])},{chroma(white[1])})L({nits(high)},{nits(low)})")
        if self.max_cll is not None:
            params.append(f"{light}={self.max_cll},{self.max_fall or 0}")
        return {key: ":".join(params)}


#: encoder -> (its parameter option, the names it gives the mastering display and the light
#: level, how it writes a chromaticity and a luminance): x265 counts 0.00002 and 0.0001 cd/m²
#: (its --master-display), SVT-AV1 takes decimals
_HDR_PARAMS = {
    "libx265": (
        "x265-params",
        "master-display",
        "max-cll",
        lambda v: str(round(v * 50000)),
        lambda v: str(round(v * 10000)),
    ),
    "libsvtav1": (
        "svtav1-params",
        "mastering-display",
        "content-light",
        lambda v: f"{float(v):.4f}",
        lambda v: f"{float(v):.4f}",
    ),
}


def is_jpeg_format(pix_fmt: str) -> bool:
    """Whether ``pix_fmt`` is one of FFmpeg's deprecated ``yuvj*`` formats: YUV whose range is full
    by definition (JPEG's), whatever the stream's tags say."""
    return pix_fmt.startswith("yuvj")


def with_format_range(colour: Colour, pix_fmt: str) -> Colour:
    """``colour``, with full range where ``pix_fmt`` implies it (:func:`is_jpeg_format`)."""
    if not is_jpeg_format(pix_fmt):
        return colour
    return Colour(colour.colorspace, FULL_RANGE, colour.color_primaries, colour.color_trc)


def frame_colour(frame, fallback: Colour) -> Colour:
    """The colour a decoded frame carries, each unset field taken from the stream's."""

    def pick(name: str) -> int:
        return int(getattr(frame, name, 0) or 0) or getattr(fallback, name)

    colour = Colour(*(pick(n) for n in ("colorspace", "color_range", "color_primaries", "color_trc")))
    return with_format_range(colour, frame.format.name)


def convert(frame, pix_fmt: str, src: Colour | None = None, dst: Colour | None = None):
    """``frame`` (an ``av.VideoFrame``) in ``pix_fmt``, by swscale with accurate rounding; ``src`` and
    ``dst`` name the YUV matrix and range on each side (``None``: not YUV, or swscale's default)."""
    s = src.swscale() if src is not None else {}
    d = dst.swscale() if dst is not None else {}
    return frame.reformat(
        format=pix_fmt,
        src_colorspace=s.get("colorspace"),
        src_color_range=s.get("color_range"),
        dst_colorspace=d.get("colorspace"),
        dst_color_range=d.get("color_range"),
        interpolation=accurate_scaling(),
    )


def to_8bit(image: np.ndarray) -> np.ndarray:
    """A uint16 (0-65535) array as uint8 (0-255), rounded to nearest; uint8 comes back as it is."""
    if image.dtype == np.uint8:
        return image
    return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def to_rgb(frame, colour: Colour) -> np.ndarray:
    """A decoded ``av.VideoFrame`` as ``(H, W, 3)`` RGB: uint8, or uint16 (0-65535) for sources deeper than 8 bits.

    YUV is converted with the stream's matrix and range (``colour``) and accurate rounding.
    """
    target = PixelFormat.of(frame.format.name).network_format
    if frame.format.name == target:
        return frame.to_ndarray()
    return convert(frame, target, src=colour).to_ndarray()


def from_rgb(image: np.ndarray, pix_fmt: str, colour: Colour):
    """An ``(H, W, 3)`` uint8 or uint16 RGB array as an ``av.VideoFrame`` in ``pix_fmt``.

    The inverse of :func:`to_rgb`: the output's matrix and range, accurate rounding.
    """
    import av

    layout = "rgb48le" if image.dtype == np.uint16 else "rgb24"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=layout)
    return frame if pix_fmt == layout else convert(frame, pix_fmt, dst=colour)


def choose_output_format(source: str, supported: list[str]) -> str:
    """The encoder's pixel format nearest to the source's (FFmpeg's own choice, made explicit).

    Colour kept first (a colour source never goes grey while a colour format is offered), then
    same kind (YUV, RGB, grey), then no less depth and no more chroma subsampling than the
    source, then the least excess; alpha and palettes only where nothing else fits. ``supported``
    empty means the encoder takes anything: the source's format is kept.
    """
    name = _J_FORMATS.get(source, source)
    if not supported or name in supported:
        return name
    # swscale writes no palette formats (pal8): frames could not be converted to one
    supported = [f for f in supported if not PixelFormat.of(f).palette] or supported
    src = PixelFormat.of(name)
    if src.palette:
        src = PixelFormat.of("rgb24")

    def cost(candidate: str) -> tuple:
        c = PixelFormat.of(candidate)
        kind = 0 if c.kind == src.kind else 1 if (src.gray or c.kind != "gray") else 3
        shallower = max(0, src.depth - c.depth)
        # grey has no chroma to lose
        coarser = 0 if src.gray else max(0, c.chroma_w - src.chroma_w) + max(0, c.chroma_h - src.chroma_h)
        excess = max(0, c.depth - src.depth) + max(0, src.chroma_w - c.chroma_w) + max(0, src.chroma_h - c.chroma_h)
        semi_planar = candidate.startswith(("nv", "p0", "p2", "p4"))  # NV12-style: same content, fewer tools read it
        jpeg = candidate in _J_FORMATS
        # colour lost (grey for a colour source) is worse than depth lost (GIF's 8-bit RGB)
        greyed = c.gray and not src.gray
        return (
            greyed,
            shallower > 0,
            coarser,
            kind,
            shallower,
            c.alpha,
            c.palette,
            semi_planar,
            excess,
            jpeg,
            candidate,
        )

    return min(supported, key=cost)
