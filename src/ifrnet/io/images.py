"""Reading and writing still images as uint8 HxWx3 RGB arrays (Pillow)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from .files import atomic_output

_SIXTEEN_BIT_GREY = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as a uint8 ``(H, W, 3)`` RGB array.

    Greyscale and palette images are expanded to RGB, 16-bit images are rounded to 8 bits
    (``v / 257``), EXIF rotation is applied. An alpha channel is dropped when fully opaque;
    real transparency is refused, since IFRNet interpolates colour only.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected an image file")
    try:
        with Image.open(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{p}: not a readable image ({exc.__class__.__name__}: {exc})") from None
    return _to_rgb8(im, p)


def _to_rgb8(im: Image.Image, path: Path) -> np.ndarray:
    if im.mode in _SIXTEEN_BIT_GREY:
        grey = np.asarray(im, dtype=np.float64)
        grey = np.clip(np.rint(grey / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode == "F":
        raise InputError(f"{path}: floating-point images are not supported; save it as 8- or 16-bit PNG")
    if "A" in im.getbands() or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))
        if (rgba[:, :, 3] != 255).any():
            raise InputError(f"{path}: image has transparent pixels; IFRNet interpolates RGB only, flatten it first")
        return np.array(rgba[:, :, :3])
    return np.array(im.convert("RGB"))


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        desc = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InputError(f"expected a uint8 (H, W, 3) RGB array; got {desc}")
    return frame


def write_png(path: str | os.PathLike, frame: np.ndarray) -> Path:
    """Write an RGB frame as PNG (:func:`png_bytes`), atomically (temporary name, then rename)."""
    data = png_bytes(frame)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def png_bytes(frame: np.ndarray) -> bytes:
    """An RGB frame encoded as PNG: uint8 ``(H, W, 3)`` gives an 8-bit PNG (Pillow); uint16 a 16-bit
    one (FFmpeg's PNG encoder through PyAV, since Pillow cannot write 16-bit colour).

    For writers that make a whole folder atomic themselves (``ifrnet video``'s PNG sequences)."""
    if isinstance(frame, np.ndarray) and frame.dtype == np.uint16 and frame.ndim == 3 and frame.shape[2] == 3:
        return _png16(frame)
    buffer = io.BytesIO()
    Image.fromarray(_check_frame(frame), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _png16(frame: np.ndarray) -> bytes:
    from fractions import Fraction

    import av

    ctx = av.CodecContext.create("png", "w")
    ctx.width, ctx.height = frame.shape[1], frame.shape[0]
    ctx.pix_fmt = "rgb48be"
    ctx.time_base = Fraction(1, 1)
    image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb48le").reformat(format="rgb48be")
    image.pts = 0
    packets = list(ctx.encode(image)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def write_gif(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float = 10.0) -> Path:
    """Write frames as a looping animated GIF at ``fps`` frames per second, atomically."""
    if not frames:
        raise InputError(f"{path}: no frames to write")
    if fps <= 0:
        raise InputError(f"GIF frame rate must be positive; got {fps}")
    images = [Image.fromarray(_check_frame(f), "RGB") for f in frames]
    with atomic_output(path) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=max(round(1000.0 / fps), 20),
            loop=0,
            optimize=False,
        )
    return Path(path)


def overlay(frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    """The two frames blended 50/50: the ghosted view of the motion between them."""
    a, b = _check_frame(frame0), _check_frame(frame1)
    if a.shape != b.shape:
        raise InputError(f"frames differ in size: {a.shape[1]}x{a.shape[0]} and {b.shape[1]}x{b.shape[0]}")
    return ((a.astype(np.uint16) + b.astype(np.uint16) + 1) // 2).astype(np.uint8)
