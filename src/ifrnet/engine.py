"""What runs the network, as a small picklable description: built here, or in worker processes.

:class:`EngineSpec` names the backend, weights, device and fast-path options; ``build()`` turns it
into an :class:`ifrnet.Interpolator` (PyTorch) or an ``OnnxInterpolator`` (onnxruntime, no
torch import). Video workers receive the spec, not a model, so each process loads its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import InputError

BACKENDS = ("torch", "onnxruntime")


@dataclass(frozen=True)
class EngineSpec:
    """Backend, weights and options of an interpolation engine."""

    backend: str = "torch"
    model: str | None = None
    checkpoint: str | None = None
    device: str | None = None
    scale: float = 1.0
    precision: str = "fp32"
    channels_last: bool | None = None
    threads: int | None = None
    compile: bool = False

    def on(self, device: str | None, threads: int | None = None) -> EngineSpec:
        """The same engine on another device (and thread count, if given)."""
        return replace(self, device=device, threads=threads if threads is not None else self.threads)

    def build(self):
        """The engine itself: an ``Interpolator`` or an ``OnnxInterpolator``."""
        if self.backend not in BACKENDS:
            raise InputError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.backend == "onnxruntime":
            return self._build_onnx()
        import torch

        from .inference import Interpolator
        from .weights import load_model

        if self.threads:
            torch.set_num_threads(self.threads)
        model = load_model(self.model, self.checkpoint, self.device)
        return Interpolator(
            model,
            scale_factor=self.scale,
            precision=self.precision,
            channels_last=self.channels_last,
            compile=self.compile,
        )

    def _build_onnx(self):
        from .backends.onnx import OnnxInterpolator
        from .names import official_variant

        if not self.checkpoint or not str(self.checkpoint).endswith(".onnx"):
            raise InputError("--backend onnxruntime needs --checkpoint MODEL.onnx, a graph written by 'ifrnet export'")
        if self.precision != "fp32" or self.channels_last or self.compile:
            raise InputError(
                "--precision, --channels-last and --compile apply to the torch backend; an ONNX graph runs as exported"
            )
        runtime = OnnxInterpolator(self.checkpoint, device=self.device, threads=self.threads)
        if self.model and official_variant(self.model) != runtime.model_name:
            raise InputError(f"{self.checkpoint} holds {runtime.model_name}, not {self.model}")
        if self.scale != runtime.scale_factor:
            raise InputError(
                f"{self.checkpoint} was exported at scale {runtime.scale_factor:g}; got --scale {self.scale:g}"
            )
        return runtime
