"""Image files in: every common pixel format becomes uint8 RGB, or is refused clearly."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ifrnet import InputError
from ifrnet.io import overlay, read_image, write_gif, write_png

from .conftest import uint8_frame


def _png_rgb16(path, rgb16: np.ndarray) -> None:
    """Write a 16-bit-per-channel RGB PNG by hand (Pillow cannot write one)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def test_rgb_round_trip(tmp_path):
    frame = uint8_frame(20, 30)
    write_png(tmp_path / "a.png", frame)
    assert np.array_equal(read_image(tmp_path / "a.png"), frame)
    # written through a private temporary file, but finished with the usual permissions
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_greyscale_and_palette_become_rgb(tmp_path):
    grey = np.arange(200, dtype=np.uint8).reshape(10, 20)
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (10, 20, 3) and np.array_equal(out[:, :, 1], grey)
    Image.fromarray(uint8_frame(10, 20)).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (10, 20, 3)


def test_sixteen_bit_images_are_scaled_to_eight_bits(tmp_path):
    grey = (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    assert np.array_equal(out[:, :, 0], np.rint(grey / 257).astype(np.uint8))

    rgb16 = (np.arange(8 * 8 * 3, dtype=np.uint16) * 300).reshape(8, 8, 3)
    _png_rgb16(tmp_path / "rgb16.png", rgb16)
    out = read_image(tmp_path / "rgb16.png")
    assert out.dtype == np.uint8 and out.shape == (8, 8, 3)
    assert np.abs(out.astype(int) - rgb16 / 257).max() <= 1


def test_alpha_is_dropped_when_opaque_and_refused_when_transparent(tmp_path):
    rgba = np.dstack([uint8_frame(10, 12), np.full((10, 12), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    assert np.array_equal(read_image(tmp_path / "opaque.png"), rgba[:, :, :3])
    rgba[0, 0, 3] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    with pytest.raises(InputError, match=r"clear\.png: image has transparent pixels"):
        read_image(tmp_path / "clear.png")


def test_missing_unreadable_and_directory_inputs(tmp_path):
    with pytest.raises(InputError, match=r"nope\.png: no such file"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match=r"bad\.png: not a readable image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(InputError, match="is a directory"):
        read_image(tmp_path)


def test_gif_has_every_frame(tmp_path):
    frames = [uint8_frame(16, 16, s) for s in range(5)]
    write_gif(tmp_path / "a.gif", frames, fps=20)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 5
        assert gif.info["duration"] == 50


def test_overlay_is_the_average():
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 200, np.uint8)
    assert (overlay(a, b) == 100).all()
