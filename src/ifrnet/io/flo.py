"""Middlebury ``.flo`` optical-flow files: a float32 ``(H, W, 2)`` field, channel 0 = x (u), 1 = y (v).

Layout: the magic float 202021.25 (bytes ``PIEH``), width and height as int32, then H*W*2 float32
values row-major, u and v interleaved; all little-endian.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .files import atomic_output

FLO_MAGIC = 202021.25
_HEADER = 12


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.flo`` file as a float32 ``(H, W, 2)`` array."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such flow file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read flow file ({exc.strerror})") from None
    if len(data) < _HEADER or np.frombuffer(data[:4], "<f4")[0] != FLO_MAGIC:
        raise InputError(f"{p}: not a Middlebury .flo file (bad magic number)")
    width, height = (int(v) for v in np.frombuffer(data[4:12], "<i4"))
    if width <= 0 or height <= 0 or width * height > 1 << 28:
        raise InputError(f"{p}: corrupt .flo header (size {width}x{height})")
    expected = _HEADER + width * height * 2 * 4
    if len(data) != expected:
        raise InputError(
            f"{p}: truncated or padded .flo file ({len(data)} bytes, expected {expected} for {width}x{height})"
        )
    return np.frombuffer(data, "<f4", offset=_HEADER).reshape(height, width, 2).astype(np.float32)


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> Path:
    """Write a ``(H, W, 2)`` flow field as ``.flo``, atomically (temporary name, then rename)."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise InputError(f"flow must have shape (H, W, 2); got {flow.shape}")
    height, width = flow.shape[:2]
    payload = (
        np.array([FLO_MAGIC], "<f4").tobytes()
        + np.array([width, height], "<i4").tobytes()
        + np.ascontiguousarray(flow, dtype="<f4").tobytes()
    )
    with atomic_output(path) as tmp:
        tmp.write_bytes(payload)
    return Path(path)
