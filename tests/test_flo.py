"""Middlebury ``.flo`` reading and writing (``ifrnet.io.flo``)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from ifrnet.errors import InputError
from ifrnet.io.flo import read_flo, write_flo


def _random_flow(height: int = 5, width: int = 7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((height, width, 2)) * 40).astype(np.float32)


def test_round_trip_is_bit_exact(tmp_path: Path) -> None:
    # Non-square, so that swapping width and height anywhere shows up as a wrong shape.
    flow = _random_flow(5, 7)
    flow[0, 0] = [1e9, -1e9]  # Middlebury's "unknown flow" value
    flow[1, 2] = [np.float32(1e-30), -0.0]
    path = write_flo(tmp_path / "a.flo", flow)

    back = read_flo(path)
    assert back.dtype == np.float32
    assert back.shape == (5, 7, 2)
    assert back.tobytes() == flow.tobytes()
    assert back.flags.writeable  # callers may augment the label in place


def test_header_is_magic_then_width_then_height(tmp_path: Path) -> None:
    flow = _random_flow(3, 4)
    data = write_flo(tmp_path / "a.flo", flow).read_bytes()

    assert data[:4] == b"PIEH"
    assert data[4:12] == struct.pack("<ii", 4, 3)
    assert len(data) == 12 + 3 * 4 * 2 * 4
    # Row-major with u and v interleaved: the first two values are pixel (0, 0)'s u and v.
    assert struct.unpack("<ff", data[12:20]) == (float(flow[0, 0, 0]), float(flow[0, 0, 1]))


def test_float64_input_is_stored_as_float32(tmp_path: Path) -> None:
    flow = _random_flow().astype(np.float64)
    back = read_flo(write_flo(tmp_path / "a.flo", flow))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, flow.astype(np.float32))


def test_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_flo(tmp_path / "sub" / "a.flo", _random_flow())
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.flo"]


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    path = write_flo(tmp_path / "a.flo", _random_flow())
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(InputError, match="truncated"):
        read_flo(path)


def test_header_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.flo"
    path.write_bytes(b"PIEH")
    with pytest.raises(InputError, match=r"a\.flo"):
        read_flo(path)


def test_wrong_magic_is_refused(tmp_path: Path) -> None:
    path = write_flo(tmp_path / "a.flo", _random_flow())
    path.write_bytes(b"PIEX" + path.read_bytes()[4:])
    with pytest.raises(InputError, match="magic"):
        read_flo(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.flo"):
        read_flo(tmp_path / "missing.flo")


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 3), (4, 5, 1), (2, 4, 5, 2)])
def test_wrong_shape_is_refused_by_write(tmp_path: Path, shape: tuple[int, ...]) -> None:
    with pytest.raises(InputError, match=r"\(H, W, 2\)"):
        write_flo(tmp_path / "a.flo", np.zeros(shape, np.float32))
    assert not (tmp_path / "a.flo").exists()
