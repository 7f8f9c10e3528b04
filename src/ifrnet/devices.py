"""Device selection: an explicit choice is honoured or refused, never silently replaced."""

from __future__ import annotations

import torch

from .errors import InputError


def best_device() -> torch.device:
    """CUDA if present, then Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"`` picks :func:`best_device`; anything else must exist on this machine."""
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return best_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {device!r}; use cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InputError(f"device {device!r} requested but MPS is not available on this machine")
    elif dev.type != "cpu":
        raise InputError(f"unsupported device {device!r}; use cpu, cuda, cuda:N, mps or auto")
    return dev


def native_bf16(device: str | torch.device | None = None) -> bool:
    """Whether bf16 arithmetic is native on ``device``: a CUDA GPU, or a CPU with avx512_bf16 or AMX.

    Elsewhere oneDNN emulates bf16 in fp32 and it runs several times slower than fp32.
    """
    dev = resolve_device(device)
    if dev.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if dev.type != "cpu":
        return False
    flags = _cpu_flags()
    if flags is not None:
        # oneDNN's own check says yes on any AVX-512 CPU, where it emulates bf16 (Ice Lake)
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _cpu_flags() -> set[str] | None:
    """The CPU's feature flags from ``/proc/cpuinfo`` (Linux x86), else ``None``."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), None)
    except OSError:
        return None
    return set(line.split(":", 1)[1].split()) if line else None
