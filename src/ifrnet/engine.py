"""The engine boundary: the one type every consumer of the network talks to.

:class:`Engine` is what the video pipeline, ``ifrnet pair``, evaluation, the report and the
trainer's validation call; the PyTorch engine (:class:`ifrnet.Interpolator`), the engines over an
exported graph (``ifrnet.backends.onnx``, ``ifrnet.backends.openvino``) and the worker pool
(``ifrnet.video.parallel.WorkerPool``) implement it, and nothing outside them reaches past it.
Which engine a run gets is :class:`ifrnet.spec.EngineSpec`'s business (the factory above the
engines); this module imports none of them, and no torch.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

#: Engines: PyTorch, or an exported ONNX graph run by onnxruntime or compiled by OpenVINO (no torch
#: import); ``auto`` stands for the one :meth:`ifrnet.spec.EngineSpec.resolve` picks on this machine.
BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
#: Arithmetic of the network, for inference and training alike: fp32 (exact), bf16 (GPUs, and
#: CPUs with native bf16: avx512_bf16 or AMX), fp16 (GPUs).
PRECISIONS = ("fp32", "bf16", "fp16")
#: ``--scale auto``: the torch engine picks the network scale per pair from a quick estimate of its
#: motion (``Interpolator.pair_scales``).
AUTO_SCALE = "auto"


class Engine(abc.ABC):
    """Something that interpolates frames between pairs.

    Frames are numpy arrays: uint8 or uint16 RGB ``(H, W, 3)`` or ``(B, H, W, 3)`` (0-255 or
    0-65535), or float32 ``(B, 3, H, W)`` in [0, 1]; results come back in the same kind, dtype and
    size, one per requested time, in the order given. Any frame size works: engines pad to the
    network's stride (:class:`ifrnet.times.Padder`) and crop back. Raises :class:`InputError` for
    frames of another kind or of different sizes, and for times outside (0, 1).
    """

    #: whether the weights honour t; if not, times k/2**n are reached by recursive bisection
    uses_time: bool
    #: processes besides this one that run the network (0: it runs here)
    workers: int = 0
    #: why ``--backend auto`` chose this engine ("" when the backend was named)
    chosen: str = ""

    @abc.abstractmethod
    def interpolate(self, frame0: Any, frame1: Any, times: Sequence[float] = (0.5,)) -> list:
        """The frames at each of ``times`` between ``frame0`` (t=0) and ``frame1`` (t=1)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The engine in words, for summaries: variant, backend, device and options."""

    @property
    @abc.abstractmethod
    def device_kind(self) -> str:
        """``"cpu"``, ``"cuda"`` or ``"mps"``: where the network runs (batching pays on ``"cuda"``)."""

    def describe_choice(self) -> str:
        """:meth:`describe`, followed by why ``--backend auto`` chose this engine when it did."""
        return self.describe() + (f" (--backend auto: {self.chosen})" if self.chosen else "")

    def fingerprint(self) -> str:
        """What identifies this engine's results: its description and a digest of its weights."""
        return self.describe()

    def submit(self, frame0: Any, frame1: Any, times: Sequence[float]) -> Future:
        """:meth:`interpolate` as a future; in-process engines compute it before returning."""
        future: Future = Future()
        future.set_result(self.interpolate(frame0, frame1, times))
        return future

    def close(self, cancel: bool = False) -> None:
        """Release what the engine holds (worker processes; ``cancel`` drops queued work)."""
        return None  # an engine in this process holds nothing that outlives it

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(cancel=exc_type is not None)


class FlowEngine(Engine):
    """An engine that can also show what the network predicted: flows and occlusion mask."""

    @abc.abstractmethod
    def flows_and_mask(self, frame0: Any, frame1: Any, t: float) -> tuple[Any, Any, Any]:
        """Flows t->0 and t->1 ``(H, W, 2)`` in pixels and the mask ``(H, W)`` in [0, 1] (the weight
        of frame 0 in the blend), float32 numpy arrays at the frames' size."""
