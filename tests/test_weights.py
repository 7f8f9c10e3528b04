"""Checkpoint I/O: round trips (every registered variant), formats, safety, variant detection,
search paths, conversion."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

import ifrnet
from ifrnet import CheckpointError, load_model, names
from ifrnet.models import IFRNet, IFRNetConfig, canonical_name, create_model, list_models, registry
from ifrnet.weights import convert_checkpoint, find_checkpoint, identify_variant, read_state_dict, save_safetensors

from .conftest import seeded_model, smooth_frames


def _run(model, seed=3):
    frames = smooth_frames(2, 48, 64, seed)
    with torch.inference_mode():
        return model.inference(frames[:1], frames[1:], torch.full((1, 1, 1, 1), 0.5))


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


# Randomly initialised (seeded) models of every registered variant: no download needed, and a
# variant added to the registry is covered without touching these tests.
@pytest.mark.parametrize("name", list_models())
def test_pth_round_trip_is_bit_identical(tmp_path, name):
    model = seeded_model(name, seed=1)
    path = tmp_path / "w.pth"
    torch.save(model.state_dict(), path)
    loaded = load_model(name, path, device="cpu")
    assert loaded.config.name == name and not loaded.training
    assert _same_weights(loaded, model)
    assert torch.equal(_run(loaded), _run(model))


@pytest.mark.parametrize("name", list_models())
def test_pth_and_safetensors_agree(tmp_path, name):
    model = seeded_model(name, seed=2)
    pth, st = tmp_path / "w.pth", tmp_path / "w.safetensors"
    torch.save(model.state_dict(), pth)
    save_safetensors(model.state_dict(), st)
    a, b = load_model(name, pth, "cpu"), load_model(name, st, "cpu")
    assert _same_weights(a, b) and _same_weights(b, model)
    assert torch.equal(_run(a), _run(b))


@pytest.mark.parametrize("name", list_models())
def test_variant_is_read_off_the_shapes_when_no_name_is_given(tmp_path, name):
    path = tmp_path / f"{name}.safetensors"
    save_safetensors(seeded_model(name).state_dict(), path)
    assert load_model(checkpoint=path, device="cpu").config.name == name
    assert identify_variant(read_state_dict(path)) == name


def test_a_registered_variant_is_known_by_name_alias_and_shapes(monkeypatch):
    """One alias resolver (ifrnet.names) and the registry's configs: a new variant needs no other list."""
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    monkeypatch.setattr(registry, "_CONFIG_CACHE", {})
    monkeypatch.setattr(names, "VARIANT_ALIASES", dict(names.VARIANT_ALIASES))
    tiny = IFRNetConfig("IFRNet_T", (8, 12, 16, 24), first_kernel=5, side_channels=8)
    registry.register_model("IFRNet_T", "ifrnet_tiny")(lambda: IFRNet(tiny))
    assert names.official_variant("IFRNET-TINY") == canonical_name("ifrnet_t") == "IFRNet_T"
    assert "IFRNet_T" in list_models() and registry.model_config("ifrnet-tiny") == tiny
    torch.manual_seed(0)
    state = create_model("ifrnet-tiny").state_dict()
    assert identify_variant(state) == "IFRNet_T"
    with pytest.raises(
        ifrnet.InputError, match="unknown model 'IFRNet_X'; choose one of IFRNet, IFRNet_L, IFRNet_S, IFRNet_T"
    ):
        canonical_name("IFRNet_X")


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
    assert torch.equal(_run(load_model(checkpoint="IFRNet_S.gopro", device="cpu")), _run(model_s))
    # with no name and no file, any variant's official checkpoint is found
    assert load_model(device="cpu").config.name == "IFRNet_S"


@pytest.mark.parametrize("name", list_models())
def test_convert_writes_a_loadable_safetensors_file(tmp_path, name):
    model = seeded_model(name, seed=6)
    source = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), source)
    out = tmp_path / "out.safetensors"
    path, variant = convert_checkpoint(source, out)
    assert variant == name and path == out
    converted = load_model(checkpoint=out, device="cpu")
    assert _same_weights(converted, model)
    assert torch.equal(_run(converted), _run(model))
    with pytest.raises(ifrnet.InputError, match="output exists"):
        convert_checkpoint(source, out)
    half, _ = convert_checkpoint(source, out, half=True, overwrite=True)
    assert read_state_dict(half)["encoder.pyramid1.0.0.weight"].dtype == torch.float16
    diff = (_run(load_model(checkpoint=half, device="cpu")) - _run(model)).abs().max()
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
