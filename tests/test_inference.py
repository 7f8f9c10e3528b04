"""The Interpolator: any size, many times per pair, bisection for 2x-only weights, frame kinds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ifrnet import InputError, Interpolator, factor_times

from .conftest import seeded_model, smooth_frames, uint8_frame, zero_time_weights


def _embt(t, n=1):
    return torch.full((n, 1, 1, 1), t)


def test_scale_factor_pads_to_a_multiple_of_16_over_scale(model_s):
    frames = smooth_frames(2, 70, 90)
    (out,) = Interpolator(model_s, scale_factor=0.5).interpolate(frames[:1], frames[1:])
    assert out.shape == (1, 3, 70, 90)
    pad = (0, 96 - 90, 0, 96 - 70)
    with torch.inference_mode():
        manual = model_s.inference(
            F.pad(frames[:1], pad, mode="replicate"), F.pad(frames[1:], pad, mode="replicate"), _embt(0.5), 0.5
        )
    torch.testing.assert_close(out, manual[..., :70, :90], rtol=0, atol=0)


def test_auto_scale_runs_each_pair_of_a_batch_at_its_own_scale(model_s, monkeypatch):
    import ifrnet.backends.torch as inference

    frames = smooth_frames(4, 48, 64, seed=9)
    img0, img1 = frames[[0, 2]], frames[[1, 3]]
    auto = Interpolator(model_s, scale_factor="auto")
    motion = auto.motion(img0, img1)
    assert len(motion) == 2 and motion[0] != motion[1] and min(motion) >= 0
    # a threshold between the two pairs' motions sends one pair to each scale
    monkeypatch.setattr(inference, "AUTO_SCALE_MOTION", sum(motion) / 2)
    scales = auto.pair_scales(img0, img1)
    assert sorted(scales) == [0.5, 1.0]
    together = auto.interpolate(img0, img1, [0.25, 0.5])
    for i, scale in enumerate(scales):
        alone = Interpolator(model_s, scale_factor=scale).interpolate(img0[i : i + 1], img1[i : i + 1], [0.25, 0.5])
        for whole, single in zip(together, alone, strict=True):
            torch.testing.assert_close(whole[i : i + 1], single, rtol=0, atol=0)
    # the flows shown are those of the scale the pair runs at
    flows = auto.flows_and_mask(img0[1:], img1[1:], 0.5)
    fixed = Interpolator(model_s, scale_factor=scales[1]).flows_and_mask(img0[1:], img1[1:], 0.5)
    for a, b in zip(flows, fixed, strict=True):
        assert np.array_equal(a, b)
    assert "scale auto: 0.5 above" in auto.describe()
    # weights that ignore t bisect each pair at the scale chosen for it
    monkeypatch.setattr(auto, "uses_time", False)
    bisected = auto.interpolate(img0, img1, [0.25])
    for i, scale in enumerate(scales):
        fixed = Interpolator(model_s, scale_factor=scale)
        fixed.uses_time = False
        torch.testing.assert_close(
            bisected[0][i : i + 1], fixed.interpolate(img0[i : i + 1], img1[i : i + 1], [0.25])[0]
        )
    with pytest.raises(InputError, match="--compile needs a fixed --scale"):
        Interpolator(model_s, scale_factor="auto", compile=True)


def test_many_times_equal_separate_calls_with_one_encoder_run(model_s):
    frames = smooth_frames(2, 48, 80, seed=4)
    interp = Interpolator(model_s)
    calls = []
    handle = model_s.encoder.register_forward_hook(lambda *_: calls.append(1))
    try:
        together = interp.interpolate(frames[:1], frames[1:], [0.25, 0.5, 0.75])
    finally:
        handle.remove()
    assert len(calls) == 1
    for t, frame in zip([0.25, 0.5, 0.75], together, strict=True):
        with torch.inference_mode():
            alone = model_s.inference(frames[:1], frames[1:], _embt(t))
        torch.testing.assert_close(frame, alone, rtol=0, atol=1e-6)
    assert not torch.equal(together[0], together[2])


def test_batched_pairs_equal_single_pairs(model_s):
    frames = smooth_frames(4, 32, 48, seed=5)
    interp = Interpolator(model_s)
    (batched,) = interp.interpolate(frames[0:2], frames[2:4], [0.5])
    for i in range(2):
        (single,) = interp.interpolate(frames[i : i + 1], frames[i + 2 : i + 3], [0.5])
        torch.testing.assert_close(batched[i : i + 1], single, rtol=0, atol=1e-5)


def test_bisection_for_weights_that_ignore_t():
    model = zero_time_weights(seeded_model("IFRNet_S"))
    interp = Interpolator(model)
    assert not interp.uses_time
    frames = smooth_frames(2, 40, 56, seed=6)
    a, b = frames[:1], frames[1:]
    quarter, half, three_quarters = interp.interpolate(a, b, [0.25, 0.5, 0.75])
    with torch.inference_mode():
        mid = interp.interpolate(a, b, [0.5])[0]
        expected_q = interp.interpolate(a, mid, [0.5])[0]
        expected_3q = interp.interpolate(mid, b, [0.5])[0]
    torch.testing.assert_close(half, mid, rtol=0, atol=0)
    torch.testing.assert_close(quarter, expected_q, rtol=0, atol=0)
    torch.testing.assert_close(three_quarters, expected_3q, rtol=0, atol=0)
    # at 1/4 the result must differ from what direct prediction (which ignores t) gives
    assert not torch.equal(quarter, half)


def test_bisection_refuses_non_dyadic_times():
    interp = Interpolator(zero_time_weights(seeded_model("IFRNet_S")))
    frames = smooth_frames(2, 32, 32)
    with pytest.raises(InputError, match=r"t=0.3 cannot be reached.*GoPro"):
        interp.interpolate(frames[:1], frames[1:], [0.3])
    assert len(interp.interpolate(frames[:1], frames[1:], factor_times(8))) == 7


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, 1.5])
def test_times_outside_the_open_interval_are_refused(model_s, bad):
    frames = smooth_frames(2, 32, 32)
    with pytest.raises(InputError, match="outside \\(0, 1\\)"):
        Interpolator(model_s).interpolate(frames[:1], frames[1:], [0.5, bad])


def test_uint8_frames_come_back_as_uint8_frames(model_s):
    a, b = uint8_frame(45, 61, 1), uint8_frame(45, 61, 2)
    out = Interpolator(model_s).interpolate(a, b, [0.3, 0.6])
    assert [o.shape for o in out] == [(45, 61, 3)] * 2
    assert all(o.dtype == np.uint8 for o in out)
    batch = Interpolator(model_s).interpolate(np.stack([a, b]), np.stack([b, a]), [0.5])[0]
    assert batch.shape == (2, 45, 61, 3)
    # same network output, only the conversion differs
    tensors = [torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255 for x in (a, b)]
    (t_out,) = Interpolator(model_s).interpolate(*tensors, [0.5])
    expected = (t_out[0].permute(1, 2, 0) * 255).round().byte().numpy()
    assert np.array_equal(batch[0], expected)


def test_tensor_frames_keep_their_dtype(model_s):
    frames = smooth_frames(2, 32, 32).double()
    (out,) = Interpolator(model_s).interpolate(frames[:1], frames[1:])
    assert out.dtype == torch.float64 and out.device == frames.device


def test_mismatched_and_malformed_frames_are_refused(model_s):
    interp = Interpolator(model_s)
    with pytest.raises(InputError, match="frames differ in size: 40x32 and 48x32"):
        interp.interpolate(uint8_frame(32, 40), uint8_frame(32, 48))
    with pytest.raises(InputError, match="uint8"):
        interp.interpolate(np.zeros((32, 32, 4), np.uint8), np.zeros((32, 32, 4), np.uint8))
    with pytest.raises(InputError, match="float"):
        interp.interpolate(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_factor_times():
    assert factor_times(4) == [0.25, 0.5, 0.75]
    with pytest.raises(InputError):
        factor_times(1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_refused_not_replaced(model_s):
    with pytest.raises(InputError, match="CUDA is not available"):
        Interpolator(model_s, device="cuda")
    with pytest.raises(InputError, match="unknown device"):
        Interpolator(model_s, device="gpu0")
    assert Interpolator(model_s, device="cpu").device.type == "cpu"
