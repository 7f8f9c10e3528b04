"""The engine boundary: the one type every consumer of the network talks to, and its options.

:class:`Engine` is what the video pipeline, ``ifrnet pair``, evaluation, the report and the
trainer's validation call; the PyTorch engine (:class:`ifrnet.Interpolator`), the onnxruntime
engine (``ifrnet.backends.onnx.OnnxInterpolator``) and the worker pool
(``ifrnet.video.parallel.WorkerPool``) implement it, and nothing outside them reaches past it.

:class:`EngineSpec` describes an engine as a small picklable value (video workers receive the
spec, not a model, so each process loads its own) and owns the engine options: each field
carries its choices, range and help, which the command line reads (``ifrnet.commands.options``)
so that a default or a range is written once. Nothing here imports torch.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from .errors import InputError

#: Engines: PyTorch, or an exported ONNX graph run by onnxruntime or compiled by OpenVINO (no torch import).
BACKENDS = ("torch", "onnxruntime", "openvino")
#: Arithmetic of the network, for inference and training alike: fp32 (exact), bf16 (GPUs, and
#: CPUs with native bf16: avx512_bf16 or AMX), fp16 (GPUs).
PRECISIONS = ("fp32", "bf16", "fp16")


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


@dataclass(frozen=True)
class Option:
    """How an :class:`EngineSpec` field is offered and checked: one place for its range and help."""

    help: str
    choices: tuple[str, ...] | None = None
    #: lowest and highest value, both inclusive, except ``low`` when ``open_low`` (``low < value``)
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    #: what the command line names it, when not the field name with dashes
    flag: str | None = None
    metavar: str | None = None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` ("must be ...; got ..."), or None."""
        if value is None:
            return None
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}; got {value!r}"
        if self.open_low and self.high is not None and not self.low < value <= self.high:
            return f"must be in ({self.low:g}, {self.high:g}]; got {value:g}"
        if self.open_low and self.high is None and not self.low < value:
            return f"must be more than {self.low:g}; got {value:g}"
        if not self.open_low and self.low is not None and value < self.low:
            return f"must be at least {self.low:g}; got {value:g}"
        if self.high is not None and value > self.high:
            return f"must be at most {self.high:g}; got {value:g}"
        return None

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`InputError` naming the option when ``value`` is out of its range or choices."""
        problem = self.problem(value)
        if problem is not None:
            raise InputError(f"{self.flag or '--' + name.replace('_', '-')} {problem}")


def _option(default: Any, **kwargs: Any) -> Any:
    return field(default=default, metadata={"option": Option(**kwargs)})


@dataclass(frozen=True)
class EngineSpec:
    """Backend, weights and options of an engine; :meth:`build` makes it.

    Fields are checked on creation (:class:`InputError` naming the option); their metadata
    (:func:`options`) is what the command line offers.
    """

    backend: str = _option(
        "torch",
        choices=BACKENDS,
        help="torch; onnxruntime or openvino: run a graph from 'ifrnet export' (--checkpoint MODEL.onnx) "
        "without PyTorch",
    )
    model: str | None = _option(None, help="IFRNet, IFRNet_L or IFRNet_S (default: from the checkpoint)")
    checkpoint: str | None = _option(
        None,
        help="a weights file (.pth, .safetensors; .onnx for onnxruntime) or a weights tag such as "
        "IFRNet_S.starter or IFRNet.vimeo90k (see 'ifrnet info'); default: the authors' checkpoint if one is "
        "found, else the shipped starter weights",
    )
    device: str | None = _option(None, help="cpu, cuda, cuda:N, mps (default: best available)")
    scale: float = _option(
        1.0, low=0.0, high=1.0, open_low=True, help="network scale factor in (0, 1]: 0.5 for 4K, large motion"
    )
    precision: str = _option(
        "fp32",
        choices=PRECISIONS,
        help="network arithmetic: fp32 (default, exact), bf16 (GPU, or a CPU with native bf16), fp16 (GPU)",
    )
    channels_last: bool | None = _option(
        None, help="NHWC memory layout for the convolutions (default: on for a CPU, where it is faster)"
    )
    threads: int | None = _option(None, low=1, help="CPU threads for the network")
    compile: bool = _option(
        False, help="torch.compile the network (CUDA: with CUDA graphs); the first frame of each size waits for it"
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            f.metadata["option"].check(f.name, getattr(self, f.name))

    def on(self, device: str | None, threads: int | None = None) -> EngineSpec:
        """The same engine on another device (and thread count, if given)."""
        return replace(self, device=device, threads=threads if threads is not None else self.threads)

    def build(self) -> Engine:
        """The engine itself: an ``Interpolator`` (PyTorch) or an ``OnnxInterpolator``."""
        if self.backend != "torch":
            return self._build_graph()
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

    def _build_graph(self) -> Engine:
        """An engine over an exported graph: onnxruntime, or OpenVINO (which also takes a precision)."""
        from .names import official_variant

        if not self.checkpoint or not str(self.checkpoint).endswith(".onnx"):
            raise InputError(
                f"--backend {self.backend} needs --checkpoint MODEL.onnx, a graph written by 'ifrnet export'"
            )
        torch_only = ["--channels-last"] * bool(self.channels_last) + ["--compile"] * self.compile
        if self.backend == "onnxruntime" and self.precision != "fp32":
            torch_only.append("--precision")
        if torch_only:
            raise InputError(
                f"{' and '.join(torch_only)} do not apply to --backend {self.backend}; a graph runs as exported"
            )
        if self.scale != 1.0:
            raise InputError("--scale applies to the torch backend; an exported graph runs at scale 1")
        if self.backend == "onnxruntime":
            from .backends.onnx import OnnxInterpolator

            engine: Engine = OnnxInterpolator(self.checkpoint, device=self.device, threads=self.threads)
        else:
            from .backends.openvino import OpenVinoInterpolator

            engine = OpenVinoInterpolator(
                self.checkpoint, device=self.device, threads=self.threads, precision=self.precision
            )
        if self.model and official_variant(self.model) != engine.model_name:
            raise InputError(f"{self.checkpoint} holds {engine.model_name}, not {self.model}")
        return engine


def options_of(cls: type) -> list[tuple[str, Any, Option]]:
    """``(name, default, Option)`` of every field of a dataclass whose fields carry an :class:`Option`
    (:class:`EngineSpec`, ``TrainConfig``), in declaration order; a list field's default is ``[]``."""
    return [
        (f.name, f.default_factory() if f.default_factory is not MISSING else f.default, f.metadata["option"])
        for f in fields(cls)
    ]


def options() -> list[tuple[str, Any, Option]]:
    """``(name, default, Option)`` of every :class:`EngineSpec` field, in declaration order."""
    return options_of(EngineSpec)
