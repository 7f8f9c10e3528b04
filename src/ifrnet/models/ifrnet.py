"""The IFRNet architecture: one encoder-decoder, three width configurations.

Module names are binding: they are the official checkpoints' state-dict keys
(``encoder.pyramid1.0.0.weight`` ... ``decoder1.convblock.2.bias``, 104 tensors). The model
only predicts; losses, padding and file handling live elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .ops import fast_paths_enabled, padded_side, resize, warp


@dataclass(frozen=True)
class IFRNetConfig:
    """Widths of one variant (``docs/IFRNET.md`` section 1)."""

    name: str
    widths: tuple[int, int, int, int]
    first_kernel: int
    side_channels: int


IFRNET_S = IFRNetConfig("IFRNet_S", (24, 36, 54, 72), first_kernel=3, side_channels=24)
IFRNET = IFRNetConfig("IFRNet", (32, 48, 72, 96), first_kernel=3, side_channels=32)
IFRNET_L = IFRNetConfig("IFRNet_L", (64, 96, 144, 192), first_kernel=7, side_channels=64)


def conv_prelu(
    in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, padding: int = 1
) -> nn.Sequential:
    """``Conv2d`` with bias followed by a per-channel ``PReLU`` (keys ``.0.*`` and ``.1.weight``)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=True),
        nn.PReLU(out_channels),
    )


class ResBlock(nn.Module):
    """Residual block whose 2nd and 4th convolutions touch only the last ``side`` channels."""

    def __init__(self, channels: int, side_channels: int) -> None:
        super().__init__()
        self.side_channels = side_channels
        self.conv1 = conv_prelu(channels, channels)
        self.conv2 = conv_prelu(side_channels, side_channels)
        self.conv3 = conv_prelu(channels, channels)
        self.conv4 = conv_prelu(side_channels, side_channels)
        self.conv5 = nn.Conv2d(channels, channels, 3, 1, 1, bias=True)
        self.prelu = nn.PReLU(channels)

    def _refine_side(self, x: Tensor, conv: nn.Module) -> Tensor:
        if fast_paths_enabled():
            # Inference: overwrite the side channels in place (``x`` is a fresh activation that
            # nothing else holds), instead of copying every channel into a new tensor with cat.
            x[:, -self.side_channels :] = conv(x[:, -self.side_channels :])
            return x
        # Training and graph export: split + cat, which autograd differentiates and exporters
        # turn into plain ops (slice assignment would become a scatter).
        main, side = x.split([x.shape[1] - self.side_channels, self.side_channels], dim=1)
        return torch.cat([main, conv(side)], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        out = self._refine_side(self.conv1(x), self.conv2)
        out = self._refine_side(self.conv3(out), self.conv4)
        return self.prelu(x + self.conv5(out))


class Encoder(nn.Module):
    """Four-level feature pyramid at 1/2, 1/4, 1/8 and 1/16 resolution, shared by both frames."""

    def __init__(self, widths: tuple[int, int, int, int], first_kernel: int) -> None:
        super().__init__()
        c1, c2, c3, c4 = widths
        self.pyramid1 = nn.Sequential(conv_prelu(3, c1, first_kernel, 2, first_kernel // 2), conv_prelu(c1, c1))
        self.pyramid2 = nn.Sequential(conv_prelu(c1, c2, 3, 2, 1), conv_prelu(c2, c2))
        self.pyramid3 = nn.Sequential(conv_prelu(c2, c3, 3, 2, 1), conv_prelu(c3, c3))
        self.pyramid4 = nn.Sequential(conv_prelu(c3, c4, 3, 2, 1), conv_prelu(c4, c4))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        f1 = self.pyramid1(x)
        f2 = self.pyramid2(f1)
        f3 = self.pyramid3(f2)
        f4 = self.pyramid4(f3)
        return f1, f2, f3, f4


def _convblock(in_channels: int, mid_channels: int, out_channels: int, side: int) -> nn.Sequential:
    return nn.Sequential(
        conv_prelu(in_channels, mid_channels),
        ResBlock(mid_channels, side),
        nn.ConvTranspose2d(mid_channels, out_channels, 4, 2, 1, bias=True),
    )


class CoarseDecoder(nn.Module):
    """Level-4 decoder: both frames' coarsest features and the time map -> flows and a feature."""

    def __init__(self, feature_channels: int, out_channels: int, side: int) -> None:
        super().__init__()
        mid = 2 * feature_channels
        self.convblock = _convblock(mid + 1, mid, out_channels, side)

    def forward(self, f0: Tensor, f1: Tensor, embt: Tensor) -> Tensor:
        b, _, h, w = f0.shape
        time_map = embt.expand(b, 1, h, w)
        return self.convblock(torch.cat([f0, f1, time_map], dim=1))


class RefineDecoder(nn.Module):
    """Levels 3..1: refine the predicted feature and flows using features warped by those flows."""

    def __init__(self, feature_channels: int, out_channels: int, side: int) -> None:
        super().__init__()
        mid = 3 * feature_channels
        self.convblock = _convblock(mid + 4, mid, out_channels, side)

    def forward(self, ft: Tensor, f0: Tensor, f1: Tensor, flow0: Tensor, flow1: Tensor) -> Tensor:
        f0_warped = warp(f0, flow0)
        f1_warped = warp(f1, flow1)
        return self.convblock(torch.cat([ft, f0_warped, f1_warped, flow0, flow1], dim=1))


class Features(NamedTuple):
    """Encoder features of one frame, finest first (1/2, 1/4, 1/8, 1/16)."""

    f1: Tensor
    f2: Tensor
    f3: Tensor
    f4: Tensor


class Decoded(NamedTuple):
    """Everything the decoders predict for one time t, at the network's working resolution.

    ``flow0``/``flow1`` are the final flows from the intermediate frame to frames 0 and 1 (at
    1/1 of the encoder's input), ``mask`` the sigmoid occlusion mask weighting frame 0,
    ``residual`` the RGB correction. ``coarse_flows0/1`` are the level-4, 3 and 2 flows at their
    own resolutions and ``features`` the predicted intermediate features at levels 3, 2, 1:
    the training losses need them, inference does not.
    """

    flow0: Tensor
    flow1: Tensor
    mask: Tensor
    residual: Tensor
    coarse_flows0: tuple[Tensor, Tensor, Tensor]
    coarse_flows1: tuple[Tensor, Tensor, Tensor]
    features: tuple[Tensor, Tensor, Tensor]


class IFRNet(nn.Module):
    """Intermediate Feature Refine Network (Kong et al., CVPR 2022)."""

    def __init__(self, config: IFRNetConfig = IFRNET) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3, c4 = config.widths
        side = config.side_channels
        self.encoder = Encoder(config.widths, config.first_kernel)
        self.decoder4 = CoarseDecoder(c4, 4 + c3, side)
        self.decoder3 = RefineDecoder(c3, 4 + c2, side)
        self.decoder2 = RefineDecoder(c2, 4 + c1, side)
        self.decoder1 = RefineDecoder(c1, 8, side)

    # -- building blocks, public so that the inference engine and the losses can reuse them --

    @staticmethod
    def normalize(img0: Tensor, img1: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Subtract the pair's joint mean (one scalar per sample); returns ``(img0, img1, mean)``.

        The reduction order (stack on height, then channels, height, width) is the reference's;
        another order changes the last float bits.
        """
        mean = torch.cat([img0, img1], dim=2).mean(1, keepdim=True).mean(2, keepdim=True).mean(3, keepdim=True)
        return img0 - mean, img1 - mean, mean

    def encode(self, *images: Tensor) -> list[Features]:
        """Encode several equally shaped batches in one encoder call; one :class:`Features` each."""
        n = images[0].shape[0]
        levels = self.encoder(torch.cat(images, dim=0)) if len(images) > 1 else self.encoder(images[0])
        return [Features(*(level[i * n : (i + 1) * n] for level in levels)) for i in range(len(images))]

    def decode(self, feat0: Features, feat1: Features, embt: Tensor) -> Decoded:
        """Run the four decoders for one time ``embt`` (B,1,1,1)."""
        out4 = self.decoder4(feat0.f4, feat1.f4, embt)
        flow0_4, flow1_4, ft3 = out4[:, 0:2], out4[:, 2:4], out4[:, 4:]

        out3 = self.decoder3(ft3, feat0.f3, feat1.f3, flow0_4, flow1_4)
        flow0_3 = out3[:, 0:2] + 2.0 * resize(flow0_4, 2.0)
        flow1_3 = out3[:, 2:4] + 2.0 * resize(flow1_4, 2.0)
        ft2 = out3[:, 4:]

        out2 = self.decoder2(ft2, feat0.f2, feat1.f2, flow0_3, flow1_3)
        flow0_2 = out2[:, 0:2] + 2.0 * resize(flow0_3, 2.0)
        flow1_2 = out2[:, 2:4] + 2.0 * resize(flow1_3, 2.0)
        ft1 = out2[:, 4:]

        out1 = self.decoder1(ft1, feat0.f1, feat1.f1, flow0_2, flow1_2)
        flow0_1 = out1[:, 0:2] + 2.0 * resize(flow0_2, 2.0)
        flow1_1 = out1[:, 2:4] + 2.0 * resize(flow1_2, 2.0)
        return Decoded(
            flow0=flow0_1,
            flow1=flow1_1,
            mask=torch.sigmoid(out1[:, 4:5]),
            residual=out1[:, 5:8],
            coarse_flows0=(flow0_4, flow0_3, flow0_2),
            coarse_flows1=(flow1_4, flow1_3, flow1_2),
            features=(ft3, ft2, ft1),
        )

    @staticmethod
    def synthesize(img0: Tensor, img1: Tensor, mean: Tensor, decoded: Decoded, scale_factor: float = 1.0) -> Tensor:
        """Warp and blend the mean-subtracted full-resolution frames into the output in [0, 1]."""
        flow0, flow1, mask, residual = decoded.flow0, decoded.flow1, decoded.mask, decoded.residual
        if scale_factor != 1.0:
            inv = 1.0 / scale_factor
            flow0 = resize(flow0, inv) * inv
            flow1 = resize(flow1, inv) * inv
            mask = resize(mask, inv)
            residual = resize(residual, inv)
        merged = mask * warp(img0, flow0) + (1.0 - mask) * warp(img1, flow1) + mean
        return torch.clamp(merged + residual, 0.0, 1.0)

    # -- the reference entry points --

    def inference(self, img0: Tensor, img1: Tensor, embt: Tensor, scale_factor: float = 1.0) -> Tensor:
        """The frame at time ``embt`` between ``img0`` and ``img1`` (B,3,H,W floats in [0, 1]).

        H and W must be multiples of 16 (of 16/scale_factor when scale_factor != 1); pad first
        otherwise, or use :class:`ifrnet.Interpolator`, which pads and crops for you.
        """
        check_pair(img0, img1, embt, scale_factor)
        return self.predict(img0, img1, embt, scale_factor)

    def predict(self, img0: Tensor, img1: Tensor, embt: Tensor, scale_factor: float = 1.0) -> Tensor:
        """:meth:`inference` without its input checks, for graph export (where the checks would
        fix the frame size into the graph) and for callers that have checked already."""
        img0, img1, mean = self.normalize(img0, img1)
        feat0, feat1 = self.encode(resize(img0, scale_factor), resize(img1, scale_factor))
        return self.synthesize(img0, img1, mean, self.decode(feat0, feat1, embt), scale_factor)

    def forward(self, img0: Tensor, img1: Tensor, embt: Tensor, scale_factor: float = 1.0) -> Tensor:
        return self.inference(img0, img1, embt, scale_factor)

    def uses_time(self) -> bool:
        """False when the weights on the time input are all zero (the released 2x checkpoints).

        Such a model returns the same frame for every t, so other times than 0.5 can only be
        reached by recursive bisection.
        """
        weight = self.decoder4.convblock[0][0].weight
        return bool(weight[:, -1].detach().abs().max() > 0)


def check_pair(img0: Tensor, img1: Tensor, embt: Tensor, scale_factor: float = 1.0) -> None:
    """Raise ``ValueError`` unless the inputs are what :meth:`IFRNet.inference` expects."""
    for name, img in (("img0", img0), ("img1", img1)):
        if not isinstance(img, Tensor) or img.dim() != 4 or img.shape[1] != 3:
            shape = tuple(img.shape) if isinstance(img, Tensor) else type(img).__name__
            raise ValueError(f"{name} must be a float tensor of shape (B, 3, H, W); got {shape}")
        if not img.is_floating_point():
            raise ValueError(f"{name} must be floating point in [0, 1]; got dtype {img.dtype}")
    if img0.shape != img1.shape:
        raise ValueError(f"img0 and img1 must have the same shape; got {tuple(img0.shape)} and {tuple(img1.shape)}")
    if not isinstance(embt, Tensor) or tuple(embt.shape) != (img0.shape[0], 1, 1, 1):
        shape = tuple(embt.shape) if isinstance(embt, Tensor) else type(embt).__name__
        raise ValueError(f"embt must be a tensor of shape ({img0.shape[0]}, 1, 1, 1); got {shape}")
    h, w = img0.shape[-2:]
    if padded_side(h, scale_factor) != h or padded_side(w, scale_factor) != w:
        raise ValueError(
            f"image size {h}x{w} (HxW) does not fit the network at scale_factor {scale_factor}: "
            f"pad to {padded_side(h, scale_factor)}x{padded_side(w, scale_factor)}, "
            "or use ifrnet.Interpolator, which pads and crops automatically"
        )
