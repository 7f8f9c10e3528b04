"""Checkpoint I/O: round trips, formats, safety, variant detection, search paths, conversion."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

import ifrnet
from ifrnet import CheckpointError, load_model
from ifrnet.weights import convert_checkpoint, find_checkpoint, identify_variant, read_state_dict, save_safetensors

from .conftest import seeded_model, smooth_frames


def _run(model, seed=3):
    frames = smooth_frames(2, 48, 64, seed)
    with torch.inference_mode():
        return model.inference(frames[:1], frames[1:], torch.full((1, 1, 1, 1), 0.5))


def test_pth_round_trip_is_bit_identical(tmp_path, model_s):
    path = tmp_path / "w.pth"
    torch.save(model_s.state_dict(), path)
    loaded = load_model("IFRNet_S", path, device="cpu")
    assert torch.equal(_run(loaded), _run(model_s))
    assert not loaded.training


def test_pth_and_safetensors_agree(tmp_path, model_s):
    pth, st = tmp_path / "w.pth", tmp_path / "w.safetensors"
    torch.save(model_s.state_dict(), pth)
    save_safetensors(model_s.state_dict(), st)
    a, b = load_model("IFRNet_S", pth, "cpu"), load_model("IFRNet_S", st, "cpu")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    assert torch.equal(_run(a), _run(b))


def test_variant_is_read_off_the_shapes_when_no_name_is_given(tmp_path):
    for name in ("IFRNet_S", "IFRNet"):
        path = tmp_path / f"{name}.pth"
        torch.save(seeded_model(name).state_dict(), path)
        assert load_model(checkpoint=path, device="cpu").config.name == name
        assert identify_variant(read_state_dict(path)) == name


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    exploit = _Exploit()
    exploit.marker = marker
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"encoder.pyramid1.0.0.weight": exploit}, fh, protocol=2)
    torch.save({"payload": exploit}, tmp_path / "evil_zip.pth")
    for candidate in (path, tmp_path / "evil_zip.pth"):
        with pytest.raises(CheckpointError, match="refused to load"):
            load_model("IFRNet_S", candidate, "cpu")
    assert not marker.exists()


def test_wrong_variant_names_the_right_one(tmp_path, checkpoint_s):
    with pytest.raises(CheckpointError, match="holds IFRNet_S weights, not IFRNet_L: load it as model 'IFRNet_S'"):
        load_model("IFRNet_L", checkpoint_s, "cpu")


def test_training_wrappers_are_unwrapped(tmp_path, model_s):
    path = tmp_path / "ddp.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model_s.state_dict().items()}, "epoch": 3}, path)
    assert torch.equal(_run(load_model("IFRNet_S", path, "cpu")), _run(model_s))


def test_incomplete_and_foreign_checkpoints_are_explained(tmp_path, model_s):
    state = model_s.state_dict()
    state.pop("decoder1.convblock.2.bias")
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="1 missing keys"):
        load_model("IFRNet_S", tmp_path / "partial.pth", "cpu")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not an IFRNet checkpoint"):
        load_model(checkpoint=tmp_path / "other.pth", device="cpu")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_corrupt_and_missing_files(tmp_path, suffix):
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="not a readable"):
        load_model("IFRNet_S", bad, "cpu")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_model("IFRNet_S", tmp_path / f"missing{suffix}", "cpu")


def test_official_names_are_found_in_the_env_folder_and_in_checkpoints(tmp_path, monkeypatch, model_s):
    user = tmp_path / "user"
    (user / "IFRNet_small").mkdir(parents=True)
    monkeypatch.setenv("IFRNET_CHECKPOINTS", str(user))
    monkeypatch.chdir(tmp_path)
    assert find_checkpoint("IFRNet_S") is None
    with pytest.raises(CheckpointError, match="checkpoints/IFRNet/"):
        load_model("IFRNet", device="cpu")

    local = tmp_path / "checkpoints" / "IFRNet_small" / "IFRNet_S_GoPro.pth"
    local.parent.mkdir(parents=True)
    torch.save(model_s.state_dict(), local)
    assert find_checkpoint("ifrnet-s").resolve() == local.resolve()

    user_file = user / "IFRNet_small" / "IFRNet_S_Vimeo90K.pth"
    torch.save(model_s.state_dict(), user_file)
    assert find_checkpoint("IFRNet_S") == user_file  # the env folder comes first, Vimeo90K before GoPro
    assert find_checkpoint("IFRNet_S", "GoPro").resolve() == local.resolve()
    assert torch.equal(_run(load_model("IFRNet_S", "gopro", "cpu")), _run(model_s))
    # with no name and no file, any variant's official checkpoint is found
    assert load_model(device="cpu").config.name == "IFRNet_S"


def test_convert_writes_a_loadable_safetensors_file(tmp_path, checkpoint_s, model_s):
    out = tmp_path / "out.safetensors"
    path, variant = convert_checkpoint(checkpoint_s, out)
    assert variant == "IFRNet_S" and path == out
    assert torch.equal(_run(load_model(checkpoint=out, device="cpu")), _run(model_s))
    with pytest.raises(ifrnet.InputError, match="output exists"):
        convert_checkpoint(checkpoint_s, out)
    half, _ = convert_checkpoint(checkpoint_s, out, half=True, overwrite=True)
    assert read_state_dict(half)["encoder.pyramid1.0.0.weight"].dtype == torch.float16
    diff = (_run(load_model(checkpoint=half, device="cpu")) - _run(model_s)).abs().max()
    assert 0 < diff < 0.05
    assert not list(Path(tmp_path).glob(".*partial*"))


def test_convert_averages_several_checkpoints(tmp_path, model_s):
    other = seeded_model("IFRNet_S", seed=11)
    a, b = tmp_path / "a.pth", tmp_path / "b.safetensors"
    torch.save(model_s.state_dict(), a)
    save_safetensors(other.state_dict(), b, half=True)
    out, variant = convert_checkpoint([a, b], tmp_path / "avg.safetensors")
    assert variant == "IFRNet_S"
    avg = read_state_dict(out)
    for key, value in model_s.state_dict().items():
        expected = (value + other.state_dict()[key].half().float()) / 2
        assert torch.allclose(avg[key], expected, atol=1e-6), key
    assert not torch.equal(avg["decoder1.convblock.0.0.weight"], model_s.state_dict()["decoder1.convblock.0.0.weight"])
    load_model(checkpoint=out, device="cpu")


def test_convert_refuses_to_average_different_variants(tmp_path, checkpoint_s):
    big = tmp_path / "big.pth"
    torch.save(seeded_model("IFRNet").state_dict(), big)
    with pytest.raises(CheckpointError, match="holds IFRNet_S weights, not IFRNet"):
        convert_checkpoint([big, checkpoint_s], tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()


def test_convert_refuses_non_ifrnet_input_and_writes_nothing(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError):
        convert_checkpoint(tmp_path / "other.pth", tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()
