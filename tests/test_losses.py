"""The training objective against independent, loop-by-loop computations of the spec's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ifrnet.training.losses import (
    LossForward,
    adaptive_charbonnier,
    census,
    charbonnier,
    compute_losses,
    distillation,
    geometry,
)

from .conftest import seeded_model, smooth_frames


def _soft_hamming_loops(a: np.ndarray, b: np.ndarray, patch: int) -> float:
    """The spec's census-like measure, one pixel and one neighbour at a time (float64)."""
    n, c, h, w = a.shape
    r = patch // 2
    pa = np.pad(a, ((0, 0), (0, 0), (r, r), (r, r)))
    pb = np.pad(b, ((0, 0), (0, 0), (r, r), (r, r)))
    total = 0.0
    for i in range(n):
        for y in range(h):
            for x in range(w):
                if not (r <= y < h - r and r <= x < w - r):
                    continue  # masked border: contributes 0 but still counts in the mean
                acc = 0.0
                for ch in range(c):
                    for dy in range(patch):
                        for dx in range(patch):
                            da = pa[i, ch, y + dy, x + dx] - a[i, ch, y, x]
                            db = pb[i, ch, y + dy, x + dx] - b[i, ch, y, x]
                            diff = da / math.sqrt(0.81 + da * da) - db / math.sqrt(0.81 + db * db)
                            acc += diff * diff / (0.1 + diff * diff)
                total += acc / (c * patch * patch)
    return total / (n * h * w)


def test_charbonnier_of_zero_difference_is_1e_3():
    assert charbonnier(torch.zeros(2, 3, 4, 4)).item() == pytest.approx(1e-3, rel=1e-6)
    d = torch.tensor([0.5, -2.0])
    assert charbonnier(d).item() == pytest.approx((math.sqrt(0.25 + 1e-6) + math.sqrt(4 + 1e-6)) / 2, rel=1e-6)


@pytest.mark.parametrize("w", [1.0, 0.5])
def test_adaptive_charbonnier_formula(w):
    d = 0.3
    eps = 10 ** (-(10 * w - 1) / 3)
    expected = (d * d + eps * eps) ** (w / 2)
    got = adaptive_charbonnier(torch.full((1, 2, 3, 3), d), torch.full((1, 1, 3, 3), w))
    assert got.item() == pytest.approx(expected, rel=1e-5)
    if w == 1.0:  # at w = 1 it is the plain Charbonnier with eps = 1e-6
        assert got.item() == pytest.approx(charbonnier(torch.tensor(d)).item(), rel=1e-5)


def test_census_of_identical_images_is_zero_and_matches_loops():
    img = smooth_frames(1, 12, 13)
    assert census(img, img).item() == 0.0
    other = smooth_frames(1, 12, 13, seed=7)
    grey_a = img.mean(1, keepdim=True).double().numpy()
    grey_b = other.mean(1, keepdim=True).double().numpy()
    assert census(img, other).item() == pytest.approx(_soft_hamming_loops(grey_a, grey_b, 7), rel=1e-5)


def test_census_does_not_differentiate_the_target():
    pred = smooth_frames(1, 10, 10).requires_grad_()
    target = smooth_frames(1, 10, 10, seed=3).requires_grad_()
    census(pred, target).backward()
    assert pred.grad.abs().sum() > 0 and target.grad is None


def test_geometry_matches_loops_and_differentiates_both_sides():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(2, 3, 6, 7, generator=gen, requires_grad=True)
    b = torch.randn(2, 3, 6, 7, generator=gen, requires_grad=True)
    loss = geometry(a, b)
    expected = _soft_hamming_loops(a.detach().double().numpy(), b.detach().double().numpy(), 3)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert geometry(a, a).item() == 0.0


def test_distillation_against_a_direct_computation():
    gen = torch.Generator().manual_seed(1)
    h, w = 16, 24
    flows0 = tuple(torch.randn(1, 2, h // s, w // s, generator=gen) for s in (8, 4, 2))  # levels 4, 3, 2
    flows1 = tuple(torch.randn(1, 2, h // s, w // s, generator=gen) for s in (8, 4, 2))
    final0, final1 = torch.randn(1, 2, h, w, generator=gen), torch.randn(1, 2, h, w, generator=gen)
    label = torch.randn(1, 4, h, w, generator=gen)

    def direct(flow, scale, final, lab):
        up = torch.nn.functional.interpolate(flow, scale_factor=scale, mode="bilinear", align_corners=False) * scale
        epe = torch.sqrt(((final - lab) ** 2).sum(1, keepdim=True))
        wgt = torch.exp(-0.3 * epe)
        eps = 10 ** (-(10 * wgt - 1) / 3)
        return (((up - lab) ** 2 + eps**2) ** (wgt / 2)).mean()

    expected = sum(
        direct(flows0[i], s, final0, label[:, :2]) + direct(flows1[i], s, final1, label[:, 2:])
        for i, s in ((2, 2.0), (1, 4.0), (0, 8.0))
    )
    got = distillation(flows0, flows1, final0, final1, label)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_final_level_distillation_adds_the_full_resolution_term():
    """``final_level`` adds the final flows' own adaptive Charbonnier at scale 1, with the same
    per-pixel weights, and pulls on the final flows (which the paper's loss leaves alone)."""
    gen = torch.Generator().manual_seed(2)
    h, w = 16, 24
    flows0 = tuple(torch.randn(1, 2, h // s, w // s, generator=gen) for s in (8, 4, 2))
    flows1 = tuple(torch.randn(1, 2, h // s, w // s, generator=gen) for s in (8, 4, 2))
    final0, final1 = (torch.randn(1, 2, h, w, generator=gen).requires_grad_() for _ in range(2))
    label = torch.randn(1, 4, h, w, generator=gen)
    for robust in (True, False):
        paper = distillation(flows0, flows1, final0, final1, label, robust=robust)
        both = distillation(flows0, flows1, final0, final1, label, robust=robust, final_level=True)
        epe0 = (final0.detach() - label[:, :2]).norm(dim=1, keepdim=True)
        epe1 = (final1.detach() - label[:, 2:]).norm(dim=1, keepdim=True)
        w0, w1 = (torch.exp(-0.3 * e) if robust else torch.ones_like(e) for e in (epe0, epe1))
        term = adaptive_charbonnier(final0 - label[:, :2], w0) + adaptive_charbonnier(final1 - label[:, 2:], w1)
        assert (both - paper).item() == pytest.approx(term.item(), rel=1e-5)
        assert not paper.requires_grad  # the final flows only set the paper's weights (detached)
        assert torch.autograd.grad(both, final0)[0].abs().sum() > 0


def test_plain_distillation_keeps_the_signal_of_large_errors():
    # A flow far from its label: the robust weight exp(-0.3 * EPE) all but silences it, which is
    # why a network that has not learnt motion yet cannot learn it from the paper's loss alone.
    h, w = 16, 16
    label = torch.zeros(1, 4, h, w)
    label[:, 0] = 12.0  # 12 px of motion the network does not see
    flows = [tuple(torch.zeros(1, 2, h // s, w // s, requires_grad=True) for s in (8, 4, 2)) for _ in range(2)]
    final = torch.zeros(1, 2, h, w)

    def pull(robust: bool) -> float:
        loss = distillation(flows[0], flows[1], final, final, label, robust=robust)
        (grad,) = torch.autograd.grad(loss, flows[0][2])
        return grad[:, 0].abs().mean().item()

    plain, robust = pull(False), pull(True)
    assert plain > 20 * robust > 0
    # With weight 1 the loss is a plain Charbonnier of the scaled flow error: sqrt(d^2 + 1e-6).
    expected = 3 * (torch.sqrt(label[:, :2] ** 2 + 1e-6).mean() + torch.sqrt(label[:, 2:] ** 2 + 1e-6).mean())
    got = distillation(flows[0], flows[1], final, final, label, robust=False)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_compute_losses_terms_and_prediction():
    model = seeded_model("IFRNet_S")
    frames = smooth_frames(3, 32, 48)
    img0, imgt, img1 = frames[0:1], frames[1:2], frames[2:3]
    embt = torch.full((1, 1, 1, 1), 0.5)
    out = compute_losses(model, img0, img1, embt, imgt)
    assert set(out) == {"pred", "rec", "geo", "dis", "total"}
    with torch.no_grad():
        assert torch.equal(out["pred"], model.inference(img0, img1, embt))
    expected_rec = charbonnier(out["pred"] - imgt) + census(out["pred"], imgt)
    assert torch.equal(out["rec"], expected_rec)
    assert out["dis"].item() == 0.0 and out["geo"].item() > 0
    assert torch.equal(out["total"], out["rec"] + out["geo"] + out["dis"])

    flow = torch.randn(1, 4, 32, 48, generator=torch.Generator().manual_seed(0))
    with_flow = compute_losses(model, img0, img1, embt, imgt, flow)
    assert with_flow["dis"].item() > 0
    assert torch.equal(with_flow["rec"], out["rec"]) and torch.equal(with_flow["geo"], out["geo"])
    with_flow["total"].backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():  # the option reaches the loss: the final flows' term is added to the paper's
        final = LossForward(model, distillation_final=True)(img0, img1, embt, imgt, flow)
        paper = LossForward(model)(img0, img1, embt, imgt, flow)
    assert final["dis"].item() > paper["dis"].item() == pytest.approx(with_flow["dis"].item())


def test_loss_forward_owns_nothing_but_the_model():
    model = seeded_model("IFRNet_S")
    wrapper = LossForward(model)
    assert sum(p.numel() for p in wrapper.parameters()) == sum(p.numel() for p in model.parameters())
    assert all(k.startswith("model.") for k in wrapper.state_dict())
    with pytest.raises(ValueError, match="flow label must have shape"):
        frames = smooth_frames(3, 32, 32)
        wrapper(frames[:1], frames[2:], torch.full((1, 1, 1, 1), 0.5), frames[1:2], torch.zeros(1, 4, 16, 16))
