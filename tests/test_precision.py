"""Precision and layout paths of the engine, each against plain fp32 eager within its tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ifrnet import InputError, Interpolator
from ifrnet.cli import main
from ifrnet.io import read_image, write_png
from ifrnet.metrics import psnr

from .conftest import seeded_model, smooth_frames, uint8_frame


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    frames = smooth_frames(2, 72, 104, seed=11)
    return frames[0:1], frames[1:2]


def _run(pair, **options) -> list[torch.Tensor]:
    engine = Interpolator(seeded_model("IFRNet_S"), device="cpu", **options)
    return engine.interpolate(*pair, times=[0.25, 0.5])


def test_channels_last_matches_fp32(pair):
    reference = _run(pair, channels_last=False)
    for ours, theirs in zip(_run(pair, channels_last=True), reference, strict=True):
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max() <= 1e-4


def test_bf16_is_close_to_fp32_but_really_reduced(pair):
    reference = _run(pair, channels_last=False)
    for ours, theirs in zip(_run(pair, precision="bf16"), reference, strict=True):
        assert ours.dtype == torch.float32 and ours.shape == theirs.shape
        diff = (ours - theirs).abs().max().item()
        assert diff > 0  # the network really ran in bf16
        assert psnr(ours, theirs).item() > 35.0


def test_precision_is_checked():
    with pytest.raises(InputError, match="fp16 needs a GPU"):
        Interpolator(seeded_model("IFRNet_S"), device="cpu", precision="fp16")
    with pytest.raises(InputError, match="precision must be one of"):
        Interpolator(seeded_model("IFRNet_S"), device="cpu", precision="int8")


def test_cli_precision_and_threads(tmp_path, checkpoint_s, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    write_png(a, uint8_frame(40, 56, seed=1))
    write_png(b, uint8_frame(40, 56, seed=2))
    threads = torch.get_num_threads()
    try:
        argv = ["pair", str(a), str(b), "--checkpoint", str(checkpoint_s), "--device", "cpu"]
        assert main([*argv, "-o", str(tmp_path / "fp32")]) == 0
        assert (
            main([*argv, "-o", str(tmp_path / "bf16"), "--precision", "bf16", "--channels-last", "--threads", "1"]) == 0
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    exact = read_image(tmp_path / "fp32" / "frame_001_t0.5000.png").astype(int)
    reduced = read_image(tmp_path / "bf16" / "frame_001_t0.5000.png").astype(int)
    assert 0 < np.abs(exact - reduced).max() <= 16
    assert main([*argv, "-o", str(tmp_path / "half"), "--precision", "fp16"]) != 0
    assert "fp16 needs a GPU" in capsys.readouterr().err


@pytest.mark.slow  # compiling takes about a minute on 2 CPU cores
def test_compiled_network_matches_fp32(pair):
    # torch.compile (Inductor's C++ kernels on a CPU) fuses differently; within 1e-4 of eager
    reference = _run(pair, channels_last=False)
    engine = Interpolator(seeded_model("IFRNet_S"), device="cpu", compile=True)
    assert "compiled" in engine.describe()
    for ours, theirs in zip(engine.interpolate(*pair, times=[0.25, 0.5]), reference, strict=True):
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max() <= 1e-4
