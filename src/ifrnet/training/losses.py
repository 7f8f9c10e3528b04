"""The paper's training objective (``docs/IFRNET.md`` section 4), outside the model.

``compute_losses`` runs the network on a training triplet and returns the reconstruction,
geometry-consistency and flow-distillation terms with the paper's weights. The model only
predicts; everything here is a function of its outputs and the targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models import IFRNet
from ..models.ops import resize
from .config import DISTILLATION_WEIGHT, GEOMETRY_WEIGHT

#: Patch sizes: census on the output image, geometry consistency on features.
CENSUS_PATCH = 7
GEOMETRY_PATCH = 3
#: Scale of each distilled level's flow relative to the full-resolution label: levels 2, 3, 4.
DISTILLED_SCALES = (2.0, 4.0, 8.0)


def charbonnier(diff: Tensor, eps: float = 1e-6) -> Tensor:
    """``mean(sqrt(diff^2 + eps))``: a smooth L1 (1e-3 at zero difference)."""
    return torch.sqrt(diff * diff + eps).mean()


def adaptive_charbonnier(diff: Tensor, weight: Tensor) -> Tensor:
    """``mean((diff^2 + eps^2)^(w/2))`` with ``eps = 10^(-(10w - 1)/3)``, elementwise in ``w``.

    ``w`` near 1 (the network's flow agrees with the label) gives an L1-like penalty; near 0 (they
    disagree, the label is probably wrong) a nearly flat one, so bad pseudo-labels cannot dominate.
    """
    eps = torch.pow(10.0, -(10.0 * weight - 1.0) / 3.0)
    return torch.pow(diff * diff + eps * eps, weight / 2.0).mean()


def _border_mask(x: Tensor, border: int) -> Tensor:
    """1 inside, 0 on a ``border``-pixel frame: shape (B, 1, H, W)."""
    b, _, h, w = x.shape
    inner = torch.ones(b, 1, h - 2 * border, w - 2 * border, dtype=x.dtype, device=x.device)
    return F.pad(inner, (border, border, border, border))


def _ternary(x: Tensor, patch: int) -> Tensor:
    """Soft sign of every neighbour-minus-centre difference: (B, C*patch^2, H, W), zero-padded."""
    b, c, h, w = x.shape
    neighbours = F.unfold(x, patch, padding=patch // 2).view(b, c, patch * patch, h, w)
    d = neighbours - x.unsqueeze(2)
    return (d / torch.sqrt(0.81 + d * d)).view(b, c * patch * patch, h, w)


def _soft_hamming(a: Tensor, b: Tensor, patch: int) -> Tensor:
    """Mean over neighbours of ``diff^2 / (0.1 + diff^2)`` of two ternary codes, times the border mask,
    averaged over all B*H*W pixels (border pixels count in the denominator: not a masked mean)."""
    diff = _ternary(a, patch) - _ternary(b, patch)
    diff = diff * diff
    dist = (diff / (0.1 + diff)).mean(dim=1, keepdim=True)
    return (dist * _border_mask(a, patch // 2)).mean()


def census(pred: Tensor, target: Tensor, patch: int = CENSUS_PATCH) -> Tensor:
    """Census (ternary) loss on the RGB mean; the target is not differentiated."""
    return _soft_hamming(pred.mean(dim=1, keepdim=True), target.detach().mean(dim=1, keepdim=True), patch)


def geometry(pred_feature: Tensor, target_feature: Tensor, patch: int = GEOMETRY_PATCH) -> Tensor:
    """Census-like consistency of a predicted feature map with the encoder's (per channel, 3x3)."""
    return _soft_hamming(pred_feature, target_feature, patch)


def _endpoint_error(flow: Tensor, label: Tensor) -> Tensor:
    # sqrt of the summed squares, written out: vector_norm's scaled algorithm differs in the last bits
    diff = flow - label
    return (diff * diff).sum(dim=1, keepdim=True).sqrt()


def distillation(
    flows0: tuple[Tensor, ...],
    flows1: tuple[Tensor, ...],
    final0: Tensor,
    final1: Tensor,
    label: Tensor,
    robust: bool = True,
    final_level: bool = False,
) -> Tensor:
    """Robust flow distillation of the level-2, 3 and 4 flows towards a full-resolution label.

    ``flows0``/``flows1`` are the level-4, 3, 2 flows (coarsest first, as the model returns
    them); ``label`` is (B, 4, H, W) = [t->0 (x, y), t->1 (x, y)]. Each pixel's weight is
    ``exp(-0.3 * EPE)`` of the final flow against the label, per direction.

    ``robust=False`` fixes every weight at 1 (a plain Charbonnier on the flow error): not the
    paper's loss, but a warm-up for a network trained from scratch. The robust weight trusts
    the label only where the network already agrees with it, so a network whose flows are still
    near zero gets almost no signal from large motions (exp(-0.3 * 10 px) = 0.05) and can settle
    into blending instead of warping.

    ``final_level=True`` distils the final full-resolution flows too (scale 1, same weights): not
    the paper's loss, which distils estimated labels and leaves the flows that warp the frames to
    the reconstruction alone. With exact labels (generated material) those flows can be told where
    every pixel went, outlines included.
    """
    label0, label1 = label[:, 0:2], label[:, 2:4]
    if robust:
        weight0 = torch.exp(-0.3 * _endpoint_error(final0.detach(), label0))
        weight1 = torch.exp(-0.3 * _endpoint_error(final1.detach(), label1))
    else:
        weight0 = weight1 = torch.ones_like(label0[:, :1])
    total = label.new_zeros(())
    for scale, flow0, flow1 in zip(DISTILLED_SCALES, reversed(flows0), reversed(flows1), strict=True):
        total = total + adaptive_charbonnier(scale * resize(flow0, scale) - label0, weight0)
        total = total + adaptive_charbonnier(scale * resize(flow1, scale) - label1, weight1)
    if final_level:
        total = total + adaptive_charbonnier(final0 - label0, weight0) + adaptive_charbonnier(final1 - label1, weight1)
    return total


class LossForward(nn.Module):
    """The model plus its objective as one module, so that DDP can wrap the whole training step.

    It owns no parameters of its own: its state dict is the model's, under ``model.``.
    """

    def __init__(
        self,
        model: IFRNet,
        geometry_weight: float = GEOMETRY_WEIGHT,
        distillation_weight: float = DISTILLATION_WEIGHT,
        distillation_robust: bool = True,
        distillation_final: bool = False,
    ) -> None:
        super().__init__()
        self.model = model
        self.geometry_weight = geometry_weight
        self.distillation_weight = distillation_weight
        self.distillation_robust = distillation_robust
        self.distillation_final = distillation_final

    def forward(
        self, img0: Tensor, img1: Tensor, embt: Tensor, imgt: Tensor, flow: Tensor | None = None
    ) -> dict[str, Tensor]:
        model = self.model
        x0, x1, mean = model.normalize(img0, img1)
        feat0, feat1, feat_t = model.encode(x0, x1, imgt - mean)
        decoded = model.decode(feat0, feat1, embt)
        pred = model.synthesize(x0, x1, mean, decoded)

        rec = charbonnier(pred - imgt) + census(pred, imgt)
        ft3, ft2, ft1 = decoded.features
        geo = self.geometry_weight * (geometry(ft1, feat_t.f1) + geometry(ft2, feat_t.f2) + geometry(ft3, feat_t.f3))
        if flow is None:
            dis = pred.new_zeros(())
        else:
            if flow.shape[-2:] != imgt.shape[-2:] or flow.shape[1] != 4:
                raise ValueError(
                    f"flow label must have shape (B, 4, {imgt.shape[-2]}, {imgt.shape[-1]}); got {tuple(flow.shape)}"
                )
            dis = self.distillation_weight * distillation(
                decoded.coarse_flows0,
                decoded.coarse_flows1,
                decoded.flow0,
                decoded.flow1,
                flow,
                robust=self.distillation_robust,
                final_level=self.distillation_final,
            )
        return {"pred": pred, "rec": rec, "geo": geo, "dis": dis, "total": rec + geo + dis}


def compute_losses(
    model: IFRNet | nn.Module, img0: Tensor, img1: Tensor, embt: Tensor, imgt: Tensor, flow: Tensor | None = None
) -> dict[str, Tensor]:
    """The paper's losses for one batch: ``pred``, ``rec``, ``geo`` (x0.01), ``dis`` (x0.01; 0 without flow), ``total``.

    ``model`` is an :class:`IFRNet` or a :class:`LossForward` (possibly DDP-wrapped), whose
    weights then apply.
    """
    forward = model if not isinstance(model, IFRNet) else LossForward(model)
    return forward(img0, img1, embt, imgt, flow)
