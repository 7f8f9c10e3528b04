"""The architecture against the spec: module tree, state-dict manifest, parameter counts, semantics."""

from __future__ import annotations

import pytest
import torch

from ifrnet import InputError, create_model, list_models
from ifrnet.models.ifrnet import ResBlock

from .conftest import seeded_model, smooth_frames, zero_time_weights

# Written from IFRNET_SPEC.md section 2, not from the code: encoder widths, first-conv kernel,
# ResBlock side channels, decoder4..1 (in, mid, out) channel checks, and exact parameter counts.
SPEC = {
    "IFRNet_S": {
        "widths": (24, 36, 54, 72),
        "kernel": 3,
        "side": 24,
        "decoders": [(145, 144, 58), (166, 162, 40), (112, 108, 28), (76, 72, 8)],
        "params": 2_803_610,
    },
    "IFRNet": {
        "widths": (32, 48, 72, 96),
        "kernel": 3,
        "side": 32,
        "decoders": [(193, 192, 76), (220, 216, 52), (148, 144, 36), (100, 96, 8)],
        "params": 4_959_692,
    },
    "IFRNet_L": {
        "widths": (64, 96, 144, 192),
        "kernel": 7,
        "side": 64,
        "decoders": [(385, 384, 148), (436, 432, 100), (292, 288, 68), (196, 192, 8)],
        "params": 19_699_460,
    },
}


def _conv_prelu(prefix: str, cin: int, cout: int, k: int = 3) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.0.weight": (cout, cin, k, k), f"{prefix}.0.bias": (cout,), f"{prefix}.1.weight": (cout,)}


def spec_manifest(name: str) -> dict[str, tuple[int, ...]]:
    """Every state-dict key and shape the spec implies for a variant."""
    spec = SPEC[name]
    manifest: dict[str, tuple[int, ...]] = {}
    chans = (3, *spec["widths"])
    for level in range(1, 5):
        k = spec["kernel"] if level == 1 else 3
        manifest |= _conv_prelu(f"encoder.pyramid{level}.0", chans[level - 1], chans[level], k)
        manifest |= _conv_prelu(f"encoder.pyramid{level}.1", chans[level], chans[level])
    side = spec["side"]
    for number, (cin, mid, cout) in zip((4, 3, 2, 1), spec["decoders"], strict=True):
        p = f"decoder{number}.convblock"
        manifest |= _conv_prelu(f"{p}.0", cin, mid)
        manifest |= _conv_prelu(f"{p}.1.conv1", mid, mid)
        manifest |= _conv_prelu(f"{p}.1.conv2", side, side)
        manifest |= _conv_prelu(f"{p}.1.conv3", mid, mid)
        manifest |= _conv_prelu(f"{p}.1.conv4", side, side)
        manifest[f"{p}.1.conv5.weight"] = (mid, mid, 3, 3)
        manifest[f"{p}.1.conv5.bias"] = (mid,)
        manifest[f"{p}.1.prelu.weight"] = (mid,)
        manifest[f"{p}.2.weight"] = (mid, cout, 4, 4)  # ConvTranspose2d: (in, out, kh, kw)
        manifest[f"{p}.2.bias"] = (cout,)
    return manifest


def test_registry_lists_exactly_the_spec_variants():
    assert sorted(list_models()) == sorted(SPEC)


@pytest.mark.parametrize("name", list_models())
def test_state_dict_matches_spec_manifest(name):
    state = create_model(name).state_dict()
    manifest = spec_manifest(name)
    assert len(state) == len(manifest) == 104
    assert {k: tuple(v.shape) for k, v in state.items()} == manifest


@pytest.mark.parametrize("name", list_models())
def test_parameter_count_is_exact(name):
    model = create_model(name)
    assert sum(p.numel() for p in model.parameters()) == SPEC[name]["params"]
    assert not list(model.buffers())  # nothing but weights may reach the state dict


@pytest.mark.parametrize("name", list_models())
def test_spec_state_dict_loads_strictly(name):
    # A state dict built purely from the manifest (as an official checkpoint would be) loads strictly.
    state = {k: torch.randn(shape) for k, shape in spec_manifest(name).items()}
    model = create_model(name)
    model.load_state_dict(state, strict=True)
    assert torch.equal(model.state_dict()["decoder1.convblock.2.bias"], state["decoder1.convblock.2.bias"])


@pytest.mark.parametrize(
    ("alias", "name"),
    [("ifrnet", "IFRNet"), ("IFRNET-L", "IFRNet_L"), ("ifrnet-s", "IFRNet_S"), ("ifrnet_small", "IFRNet_S")],
)
def test_aliases(alias, name):
    assert create_model(alias).config.name == name


def test_unknown_model_names_the_choices():
    with pytest.raises(InputError, match="IFRNet, IFRNet_L, IFRNet_S"):
        create_model("ifrnet_xl")


def test_resblock_matches_the_spec_slice_formulation():
    torch.manual_seed(1)
    block = ResBlock(40, 16).eval()
    x = torch.randn(2, 40, 9, 11)

    def reference(x):
        out = block.conv1(x)
        out = out.clone()
        out[:, -16:] = block.conv2(out[:, -16:])
        out = block.conv3(out)
        out = out.clone()
        out[:, -16:] = block.conv4(out[:, -16:])
        return block.prelu(x + block.conv5(out))

    with torch.no_grad():
        torch.testing.assert_close(block(x), reference(x), rtol=0, atol=0)


def test_inference_output_is_a_frame_and_gradients_flow():
    model = seeded_model("IFRNet_S").train()
    frames = smooth_frames(2, 32, 48)
    img0, img1 = frames[:1], frames[1:]
    out = model.inference(img0, img1, torch.full((1, 1, 1, 1), 0.5))
    assert out.shape == img0.shape
    assert out.min() >= 0 and out.max() <= 1
    out.mean().backward()
    assert model.encoder.pyramid1[0][0].weight.grad is not None
    assert model.decoder2.convblock[1].conv2[0].weight.grad.abs().sum() > 0


def test_time_input_is_the_last_channel_of_decoder4():
    model = seeded_model("IFRNet_S")
    frames = smooth_frames(2, 32, 32)
    with torch.no_grad():
        a = model.inference(frames[:1], frames[1:], torch.full((1, 1, 1, 1), 0.25))
        b = model.inference(frames[:1], frames[1:], torch.full((1, 1, 1, 1), 0.75))
        assert model.uses_time() and not torch.equal(a, b)
        zero_time_weights(model)
        a = model.inference(frames[:1], frames[1:], torch.full((1, 1, 1, 1), 0.25))
        b = model.inference(frames[:1], frames[1:], torch.full((1, 1, 1, 1), 0.75))
    assert not model.uses_time()
    assert torch.equal(a, b)


def test_inference_rejects_sizes_and_times_it_cannot_use():
    model = seeded_model("IFRNet_S")
    frames = smooth_frames(2, 40, 48)
    embt = torch.full((1, 1, 1, 1), 0.5)
    with pytest.raises(ValueError, match="pad to 48x48"):
        model.inference(frames[:1], frames[1:], embt)
    good = smooth_frames(2, 32, 32)
    with pytest.raises(ValueError, match=r"embt must be a tensor of shape \(1, 1, 1, 1\); got \(1,\)"):
        model.inference(good[:1], good[1:], torch.tensor([0.5]))
    with pytest.raises(ValueError, match="same shape"):
        model.inference(good[:1], smooth_frames(1, 32, 48), embt)


def test_scale_factor_runs_at_reduced_size_and_returns_full_size():
    model = seeded_model("IFRNet_S")
    frames = smooth_frames(2, 64, 96)
    with torch.no_grad():
        out = model.inference(frames[:1], frames[1:], torch.full((1, 1, 1, 1), 0.5), scale_factor=0.5)
    assert out.shape == (1, 3, 64, 96)
