"""Image-quality metrics (``docs/IFRNET.md`` section 7).

Every metric takes float ``(B, C, H, W)`` images in [0, 1] (C = 3 for RGB) and returns one
float64 value per image, shape ``(B,)``, so that a benchmark can average per-image scores the
way the paper does. The arithmetic is done in float64: SSIM and PSNR differences between
methods are often in the third decimal, below float32 accumulation noise on large frames.

- :func:`psnr`: the paper's PSNR, on unquantised predictions.
- :func:`psnr_uint8`: PSNR after rounding both images to 8 bits, as RIFE and FILM report it.
- :func:`ssim_3d`: the paper's SSIM, the RGB image taken as one 3 x H x W volume.
- :func:`ssim_2d`: the usual per-channel 2-D SSIM (scikit-image / ``pytorch_msssim`` convention).
- :func:`interpolation_error`: Middlebury's interpolation error (IE) on 8-bit values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import InputError

#: Side of the Gaussian SSIM window (both SSIMs).
SSIM_WINDOW = 11
#: Standard deviation of the Gaussian SSIM window: 2 sigma^2 = 4.5, the spec's exp(-(x-5)^2 / 4.5).
SSIM_SIGMA = 1.5
#: SSIM stabilising constants for images in [0, 1] (dynamic range L = 1): C1 = (0.01 L)^2, C2 = (0.03 L)^2.
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image PSNR in dB of [0, 1] float images (B, C, H, W): ``-10 log10(MSE)``, unquantised.

    Identical images give ``inf``.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape; got {tuple(pred.shape)} and {tuple(target.shape)}")
    mse = ((pred.double() - target.double()) ** 2).flatten(1).mean(dim=1)
    return -10.0 * torch.log10(mse)


def _check_pair(pred: Tensor, target: Tensor, name: str) -> None:
    """Raise :class:`InputError` unless pred and target are float (B, C, H, W) images of one shape."""
    for tensor in (pred, target):
        if not isinstance(tensor, Tensor) or tensor.dim() != 4 or not tensor.is_floating_point():
            desc = (
                f"{tensor.dtype} tensor of shape {tuple(tensor.shape)}"
                if isinstance(tensor, Tensor)
                else type(tensor).__name__
            )
            raise InputError(f"{name} takes float (B, C, H, W) images in [0, 1]; got a {desc}.")
    if pred.shape != target.shape:
        raise InputError(
            f"{name} needs pred and target of the same shape; got {tuple(pred.shape)} and {tuple(target.shape)}."
        )


def _quantise(x: Tensor) -> Tensor:
    """8-bit levels of a [0, 1] image, as float64: ``clip(round(255 x), 0, 255)``, ties to even.

    The product is taken in the image's own precision (at least float32), as the float32 pipelines
    that produce these images do: the float32 nearest to 0.5/255 times 255 is exactly 0.5 in
    float32, a tie, but 0.50000003 once widened to float64 first.
    """
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return torch.round(x * 255.0).clamp(0.0, 255.0).double()


def psnr_uint8(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image PSNR in dB after quantising both images to 8 bits, as RIFE and FILM report it.

    ``q(x) = clip(round(255 x), 0, 255)`` (round half to even), then
    ``PSNR = 10 log10(255^2 / mean((q(pred) - q(target))^2))``. Quantisation removes sub-level
    differences, so this is usually a little different from :func:`psnr`; images that round to
    the same 8-bit values give ``inf``.
    """
    _check_pair(pred, target, "psnr_uint8")
    mse = ((_quantise(pred) - _quantise(target)) ** 2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(255.0**2 / mse)


def interpolation_error(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image Middlebury interpolation error (IE): ``mean |q(pred) - q(target)|`` in 8-bit levels.

    ``q(x) = clip(round(255 x), 0, 255)`` with round half to even (so 0.5/255 rounds to 0 and
    1.5/255 to 2), the mean taken over all channels and pixels. Lower is better; the clip only
    matters for values outside [0, 1], which an 8-bit image cannot hold either.
    """
    _check_pair(pred, target, "interpolation_error")
    return (_quantise(pred) - _quantise(target)).abs().flatten(1).mean(dim=1)


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """Normalised 1-D Gaussian window, float64 of length ``size``: ``w_x ∝ exp(-(x - c)^2 / (2 sigma^2))``.

    ``x = 0 .. size-1`` and ``c = (size - 1) / 2``; with the defaults this is the spec's
    ``exp(-(x - 5)^2 / 4.5)``, x = 0..10. The weights sum to 1, so a window average of a constant
    is that constant.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"the window size must be a positive integer; got {size!r}.")
    if not sigma > 0:
        raise InputError(f"the window's sigma must be positive; got {sigma!r}.")
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    weights = torch.exp(-(x**2) / (2.0 * sigma**2))
    return weights / weights.sum()


def gaussian_window_3d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """The paper's 3-D SSIM window, float64 ``(size, size, size)``: the outer product of three
    :func:`gaussian_window_1d`. It sums to 1. :func:`ssim_3d` applies it as three 1-D passes,
    which is the same filter; this tensor is for inspection and tests."""
    w = gaussian_window_1d(size, sigma)
    return w[:, None, None] * w[None, :, None] * w[None, None, :]


def _ssim_map(mu_x: Tensor, mu_y: Tensor, xx: Tensor, yy: Tensor, xy: Tensor) -> Tensor:
    """SSIM from windowed moments: local means, and local means of x^2, y^2 and xy.

    ``SSIM = (2 mu_x mu_y + C1)(2 cov + C2) / ((mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2))`` with
    ``var_x = E[x^2] - mu_x^2`` and ``cov = E[xy] - mu_x mu_y`` (population moments, no n/(n-1)).
    """
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    numerator = (2.0 * mu_x * mu_y + SSIM_C1) * (2.0 * cov + SSIM_C2)
    denominator = (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return numerator / denominator


def _filter_valid(x: Tensor, weights: Tensor, dim: int) -> Tensor:
    """Correlate ``x`` with the 1-D ``weights`` along ``dim``, keeping only 'valid' positions.

    A weighted sum of shifted views: for float64 this is several times faster than ``conv3d``,
    which has no fast float64 kernel on CPU, and it needs no reshaping into channels.
    """
    n = x.shape[dim] - weights.numel() + 1
    out = x.narrow(dim, 0, n) * weights[0]
    for k in range(1, weights.numel()):
        out.add_(x.narrow(dim, k, n), alpha=float(weights[k]))
    return out


def ssim_3d(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image SSIM as the IFRNet paper computes it: the image as one C x H x W volume.

    The window is the 11x11x11 Gaussian of :func:`gaussian_window_3d` (1-D weights
    ``∝ exp(-(x - 5)^2 / 4.5)``), so the local statistics mix neighbouring colour channels too.
    Each of ``x``, ``y``, ``x^2``, ``y^2`` and ``xy`` is replicate-padded by 5 on all three axes
    (channels, rows, columns) and filtered without further padding, giving a C x H x W map of
    ``(2 mu_x mu_y + C1)(2 cov + C2) / ((mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2))`` with
    ``C1 = 0.01^2`` and ``C2 = 0.03^2`` (dynamic range 1); the score is the mean of the whole map.
    The 3-D filter is applied as three separable 1-D passes in float64 (the same filter as one
    11x11x11 convolution up to rounding, at a small fraction of the cost).
    """
    _check_pair(pred, target, "ssim_3d")
    x, y = pred.double(), target.double()
    b = x.shape[0]
    pad = SSIM_WINDOW // 2
    w = gaussian_window_1d(SSIM_WINDOW).to(x.device)
    # All five moment volumes go through the filter together: (5B, C, H, W). The channel pass
    # comes first, as a C x C matrix: replicate padding of so short an axis makes each output
    # channel a fixed mix of the input channels, and the volumes shrink from C + 10 to C at once.
    volumes = torch.cat([x, y, x * x, y * y, x * y], dim=0)
    channels = x.shape[1]
    source = torch.arange(-pad, channels + pad, device=x.device).clamp(0, channels - 1)
    mix = torch.zeros(channels, channels, dtype=x.dtype, device=x.device)
    for out_channel in range(channels):
        mix[out_channel].index_add_(0, source[out_channel : out_channel + SSIM_WINDOW], w)
    volumes = torch.einsum("oc,bchw->bohw", mix, volumes)
    volumes = F.pad(volumes, (pad, pad, pad, pad), mode="replicate")
    for dim in (2, 3):
        volumes = _filter_valid(volumes, w, dim)
    mu_x, mu_y, xx, yy, xy = volumes.split(b, dim=0)
    return _ssim_map(mu_x, mu_y, xx, yy, xy).flatten(1).mean(dim=1)


def ssim_2d(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image standard 2-D SSIM: each channel on its own, 'valid' windows, mean over channels.

    The convention of scikit-image (``gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False``) and of ``pytorch_msssim``: an 11x11 Gaussian window with
    sigma 1.5 (:func:`gaussian_window_1d` squared) filters ``x``, ``y``, ``x^2``, ``y^2`` and
    ``xy`` of every channel with no padding, so the SSIM map covers the (H - 10) x (W - 10)
    positions where the window lies wholly inside the image; the score is the mean of that map
    over positions and channels, with ``C1 = 0.01^2``, ``C2 = 0.03^2`` (dynamic range 1). Images
    must be at least 11 pixels on each side.
    """
    _check_pair(pred, target, "ssim_2d")
    x, y = pred.double(), target.double()
    b, _, h, width = x.shape
    size = SSIM_WINDOW
    if h < size or width < size:
        raise InputError(f"ssim_2d needs images of at least {size}x{size} pixels; got {width}x{h}.")
    w = gaussian_window_1d(size).to(x.device)
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=0)
    for dim in (2, 3):
        maps = _filter_valid(maps, w, dim)
    mu_x, mu_y, xx, yy, xy = maps.split(b, dim=0)
    return _ssim_map(mu_x, mu_y, xx, yy, xy).flatten(1).mean(dim=1)
