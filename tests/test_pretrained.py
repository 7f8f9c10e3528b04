"""The weights that ship with the package: found by default, and good on held-out real footage.

The quality checks use frames of opencv_vtest.avi that training never saw (frames 0-299 are
held out, MODEL_CARD.md): the example triplet 200/201/202 and the first frames of the shipped
clip ``examples/vtest_4s.avi`` (frames 0-39).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import ifrnet
from ifrnet import CheckpointError, Interpolator, load_model, pretrained
from ifrnet.io import read_image
from ifrnet.weights import read_state_dict

from .conftest import EXAMPLES, seeded_model

DEFAULT = pretrained.DEFAULT


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture
def nothing_official(tmp_path, monkeypatch):
    """A working folder and environment with none of the authors' checkpoints in reach."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IFRNET_CHECKPOINTS", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def shipped_model() -> ifrnet.IFRNet:
    assert DEFAULT.available(), f"{DEFAULT.path} is missing: the package must ship its default weights"
    return load_model(checkpoint=DEFAULT.tag, device="cpu")


def test_load_model_without_arguments_returns_the_shipped_weights(nothing_official):
    model = load_model(device="cpu")
    assert model.config.name == DEFAULT.model == "IFRNet_S"
    stored = read_state_dict(DEFAULT.path)
    assert all(torch.equal(model.state_dict()[k], v.float()) for k, v in stored.items())
    # trained at random t, so the time input is used: no bisection fallback
    assert model.uses_time() and DEFAULT.uses_time
    # fp16 in the package keeps the wheel small
    assert {v.dtype for v in stored.values()} == {torch.float16}
    assert DEFAULT.path.stat().st_size < 8 * 2**20


def test_official_checkpoints_still_come_first(nothing_official):
    official = nothing_official / "checkpoints" / "IFRNet_small" / "IFRNet_S_Vimeo90K.pth"
    official.parent.mkdir(parents=True)
    seeded = seeded_model("IFRNet_S", seed=3)
    torch.save(seeded.state_dict(), official)
    found = load_model(device="cpu")
    assert all(torch.equal(found.state_dict()[k], v) for k, v in seeded.state_dict().items())
    # the shipped weights stay reachable by their tag
    tagged = load_model(checkpoint="starter", device="cpu")
    assert not torch.equal(tagged.state_dict()["decoder1.convblock.0.0.weight"], seeded.decoder1.convblock[0][0].weight)


def test_other_variants_say_what_ships(nothing_official):
    with pytest.raises(CheckpointError, match="ship with ifrnet are IFRNet_S"):
        load_model("IFRNet", device="cpu")
    with pytest.raises(CheckpointError, match="are for IFRNet_S, not IFRNet_L"):
        load_model("IFRNet_L", checkpoint="starter", device="cpu")


def test_a_missing_shipped_file_is_named(nothing_official, monkeypatch):
    monkeypatch.setattr(pretrained, "DEFAULT", dataclasses.replace(DEFAULT, filename="gone.safetensors"))
    monkeypatch.setattr(pretrained, "SHIPPED", (pretrained.DEFAULT,))
    with pytest.raises(CheckpointError, match="checkpoints/IFRNet/"):
        load_model(device="cpu")
    with pytest.raises(CheckpointError, match=r"gone\.safetensors.*missing"):
        load_model(checkpoint="starter", device="cpu")


def test_beats_linear_blend_on_a_held_out_real_triplet(shipped_model):
    frame0, truth, frame1 = (read_image(EXAMPLES / f"vtest_{i}.png") for i in (200, 201, 202))
    (middle,) = Interpolator(shipped_model, device="cpu").interpolate(frame0, frame1, [0.5])
    blend = ((frame0.astype(np.float64) + frame1) / 2).round().astype(np.uint8)
    ours, theirs = _psnr(middle, truth), _psnr(blend, truth)
    assert ours > theirs + 0.5, f"shipped weights {ours:.2f} dB vs linear blend {theirs:.2f} dB"


def test_honours_t_on_held_out_windows(shipped_model):
    """Between frames 4k and 4k+4, the frame 4k+1 is t = 1/4 and 4k+3 is t = 3/4: predictions at
    those times must be closer to them than the t = 1/2 prediction is (a 2x-only model fails)."""
    from ifrnet.video import open_source

    with open_source(EXAMPLES / "vtest_4s.avi") as source:
        frames = [f.image for f in source.frames()][:21]
    interpolator = Interpolator(shipped_model, device="cpu")
    gains: dict[float, list[float]] = {0.25: [], 0.75: []}
    for first in range(0, 20, 4):
        window = frames[first : first + 5]
        quarter, half, three_quarters = interpolator.interpolate(window[0], window[4], [0.25, 0.5, 0.75])
        gains[0.25].append(_psnr(quarter, window[1]) - _psnr(half, window[1]))
        gains[0.75].append(_psnr(three_quarters, window[3]) - _psnr(half, window[3]))
    # Per window the walkers' motion is a few pixels, so single windows are noisy; on average each
    # time must be clearly better served by its own prediction than by the middle one.
    for t, per_window in gains.items():
        assert np.mean(per_window) > 0.25, (t, per_window)
