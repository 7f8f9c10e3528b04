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
import os
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from .errors import InputError

#: Engines: PyTorch, or an exported ONNX graph run by onnxruntime or compiled by OpenVINO (no torch
#: import); ``auto`` stands for the one :meth:`EngineSpec.resolve` picks on this machine.
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
    #: words a numeric option also takes (such as ``auto``)
    words: tuple[str, ...] = ()

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` ("must be ...; got ..."), or None."""
        if value is None or value in self.words:
            return None
        if isinstance(value, str) and self.words:
            return f"must be a number or {' or '.join(self.words)}; got {value!r}"
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
        "auto",
        choices=BACKENDS,
        help="auto (default: the fastest engine here that keeps the exactness contract; 'ifrnet info' "
        "says which), torch, or onnxruntime / openvino: an exported graph (--checkpoint MODEL.onnx, or "
        "weights exported once into the cache), run without PyTorch",
    )
    model: str | None = _option(None, help="IFRNet, IFRNet_L or IFRNet_S (default: from the checkpoint)")
    checkpoint: str | None = _option(
        None,
        help="a weights file (.pth, .safetensors; a graph .onnx, or an OpenVINO IR .xml) or a weights tag such as "
        "IFRNet_S.starter or IFRNet.vimeo90k (see 'ifrnet info'); default: the authors' checkpoint if one is "
        "found, else the shipped starter weights",
    )
    device: str | None = _option(None, help="cpu, cuda, cuda:N, mps (default: best available)")
    scale: float | str = _option(
        1.0,
        low=0.0,
        high=1.0,
        open_low=True,
        words=(AUTO_SCALE,),
        help="network scale factor in (0, 1]: 0.5 for 4K, large motion; or auto: 0.5 for the pairs whose "
        "motion a quick quarter-scale pass estimates as large, 1 for the others",
    )
    precision: str | None = _option(
        None,
        choices=PRECISIONS,
        help="network arithmetic: fp32 (exact), bf16 (GPU, or a CPU with native bf16), fp16 (GPU); "
        "default: fp32, or bf16 where --backend auto finds native bf16 and OpenVINO",
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

    def resolve(self) -> tuple[EngineSpec, str]:
        """The concrete spec ``--backend auto`` stands for on this machine, and why (a clause for
        summaries; empty for a backend given by name). It loads no weights and exports nothing
        (torch is imported only to look for a GPU when the weights need torch anyway).

        The rule (measured figures in the README's performance section): the fastest engine whose
        output keeps the exactness contract -- an fp32 path within 1e-4 (max abs) of eager fp32
        PyTorch, reduced precision only where the hardware has it natively and it stays within
        0.1 dB PSNR of fp32 on real frames.

        - ``$IFRNET_BACKEND`` (torch, onnxruntime or openvino), when set and able to run the
          checkpoint (torch runs no graph, onnxruntime no OpenVINO IR), is taken as given;
        - an OpenVINO IR (``.xml``): OpenVINO;
        - a GPU, or an option only the torch engine has (``--scale`` below 1, ``--compile``,
          ``--channels-last``): torch (for a graph: an error, which names auto);
        - a CPU with native bf16 (OpenVINO reports BF16), OpenVINO installed and, for weights, the
          exporter (onnxscript), unless fp32 is asked for: OpenVINO bf16, about 2-2.6x onnxruntime
          fp32 with the PSNR within 0.02 dB of fp32 on real frames (issue 24's measurement on such
          a CPU); a graph with another reduced precision: OpenVINO, which refuses what is not
          native;
        - otherwise fp32: onnxruntime for a graph, torch (channels_last) for weights. OpenVINO fp32
          is about 1.3x faster on an AVX2 CPU but differs from eager by up to 3.3e-4 on a real
          pair (its GridSample rounds the sampling position differently), over the contract, so
          auto does not pick it; ``--backend openvino --precision fp32`` still runs it.
        """
        if self.backend != "auto":
            return self, ""
        pinned = os.environ.get("IFRNET_BACKEND", "").strip().lower()
        if pinned and pinned not in BACKENDS[1:]:
            raise InputError(f"IFRNET_BACKEND must be one of {', '.join(BACKENDS[1:])}; got {pinned!r}")
        # the engines that can run the checkpoint: any for weights (graph engines export them)
        suffix = _suffix(self.checkpoint)
        able = {"": BACKENDS[1:], ".onnx": ("onnxruntime", "openvino"), ".xml": ("openvino",)}
        if pinned in able[suffix]:
            return replace(self, backend=pinned), f"IFRNET_BACKEND={pinned}"
        if suffix == ".xml":
            return replace(self, backend="openvino"), "an OpenVINO IR (such as an int8 graph) runs on OpenVINO"
        graph = suffix == ".onnx"
        torch_only = [
            flag
            for flag, given in (
                (f"--scale {_shown(self.scale)}", self.scale != 1.0),
                ("--compile", self.compile),
                ("--channels-last", self.channels_last is not None),
            )
            if given
        ]
        if torch_only:
            if graph:
                raise InputError(
                    f"--backend auto: {torch_only[0]} needs the torch engine, which does not run "
                    f"{self.checkpoint}; give weights instead, or drop {torch_only[0].split()[0]}"
                )
            return replace(self, backend="torch"), f"{torch_only[0]}: only the torch engine has it"
        device = (self.device or "").split(":")[0].lower()
        if device not in ("", "cpu"):
            backend = "onnxruntime" if graph else "torch"
            return replace(self, backend=backend), f"--device {self.device}: the {backend} engine"
        if not device and not graph and _gpu_present():
            return replace(self, backend="torch"), "a GPU: the torch engine"
        native = _openvino_native()
        if self.precision in (None, "bf16") and "bf16" in native:
            if graph or _can_export():
                return (
                    replace(self, backend="openvino", precision="bf16"),
                    "this CPU has native bf16: OpenVINO bf16 (about 2x fp32, within 0.02 dB of it on real frames)",
                )
            why = "native bf16, but no onnxscript to export the weights for OpenVINO ('ifrnet[export]')"
        elif self.precision not in (None, "fp32"):
            if graph:  # only OpenVINO runs a graph in reduced precision; it refuses what is not native
                return replace(self, backend="openvino"), f"--precision {self.precision} on a graph: OpenVINO"
            return replace(self, backend="torch"), f"--precision {self.precision} on a CPU: the torch engine"
        elif self.precision == "fp32":
            why = "--precision fp32"
        else:
            why = "fp32 on a CPU without native bf16" if native else "fp32 (OpenVINO is not installed)"
        if graph:
            return replace(self, backend="onnxruntime", precision="fp32"), f"{why}: onnxruntime runs the graph exactly"
        return replace(self, backend="torch", precision="fp32"), (
            f"{why}: torch, exact and as fast as onnxruntime; OpenVINO fp32 differs from eager by more than 1e-4"
        )

    def with_graph(self) -> EngineSpec:
        """This spec with weights (a file or a tag) replaced by their graph for a graph backend,
        exported once into the cache (:func:`ifrnet.export.cached_graph`); otherwise itself."""
        if self.backend in ("auto", "torch") or _suffix(self.checkpoint):
            return self
        from .export import cached_graph

        return replace(self, checkpoint=str(cached_graph(self.model, self.checkpoint)))

    def build(self) -> Engine:
        """The engine itself: an ``Interpolator`` (PyTorch), an ``OnnxInterpolator`` or an
        ``OpenVinoInterpolator``; ``--backend auto`` is resolved first (:meth:`resolve`) and its
        reason kept in the engine's :attr:`Engine.chosen`."""
        spec, reason = self.resolve()
        engine = spec._build_torch() if spec.backend == "torch" else spec._build_graph()
        engine.chosen = reason
        return engine

    def _build_torch(self) -> Engine:
        try:
            import torch
        except ImportError:
            raise InputError(
                "the torch engine needs PyTorch, which is not installed here: run an exported graph "
                "(--backend onnxruntime --checkpoint MODEL.onnx, from 'ifrnet export'), or install torch"
            ) from None

        from .inference import Interpolator
        from .weights import load_model

        if self.threads:
            torch.set_num_threads(self.threads)
        model = load_model(self.model, self.checkpoint, self.device)
        return Interpolator(
            model,
            scale_factor=self.scale,
            precision=self.precision or "fp32",
            channels_last=self.channels_last,
            compile=self.compile,
        )

    def _build_graph(self) -> Engine:
        """An engine over an exported graph: onnxruntime, or OpenVINO (which also takes a precision).
        Weights (a file or a tag) are exported once into the cache (:func:`ifrnet.export.cached_graph`)."""
        from .names import official_variant

        torch_only = ["--channels-last"] * bool(self.channels_last) + ["--compile"] * self.compile
        if self.backend == "onnxruntime" and self.precision not in (None, "fp32"):
            torch_only.append("--precision")
        if torch_only:
            raise InputError(
                f"{' and '.join(torch_only)} do not apply to --backend {self.backend}; a graph runs as exported"
            )
        if self.scale != 1.0:
            raise InputError("--scale applies to the torch backend; an exported graph runs at scale 1")
        if self.backend == "onnxruntime" and _suffix(self.checkpoint) == ".xml":
            raise InputError(f"{self.checkpoint}: an OpenVINO IR; run it with --backend openvino")
        graph = self.with_graph().checkpoint
        if self.backend == "onnxruntime":
            from .backends.onnx import OnnxInterpolator

            engine: Engine = OnnxInterpolator(graph, device=self.device, threads=self.threads)
        else:
            from .backends.openvino import OpenVinoInterpolator

            engine = OpenVinoInterpolator(
                graph, device=self.device, threads=self.threads, precision=self.precision or "fp32"
            )
        if self.model and official_variant(self.model) != engine.model_name:
            raise InputError(f"{graph} holds {engine.model_name}, not {self.model}")
        return engine


def _shown(value: float | str) -> str:
    """A number as the command line shows it (``0.5``), a word as itself."""
    return value if isinstance(value, str) else format(value, "g")


def _suffix(checkpoint: str | None) -> str:
    """The checkpoint's file suffix, lower case ("" for none or a tag)."""
    name = str(checkpoint or "").lower()
    return name[name.rfind(".") :] if name.endswith((".onnx", ".xml")) else ""


def _gpu_present() -> bool:
    """Whether PyTorch sees a GPU (imports torch: only asked when the weights need it anyway;
    without torch, none that this package could use)."""
    try:
        from .devices import best_device
    except ImportError:
        return False

    return best_device().type != "cpu"


def _can_export() -> bool:
    """Whether weights can be exported to a graph here (``ifrnet[export]``: onnx and onnxscript)."""
    from importlib.util import find_spec

    return find_spec("onnxscript") is not None and find_spec("onnx") is not None


def _openvino_native() -> frozenset[str]:
    """The precisions OpenVINO's CPU plugin runs natively here (empty without OpenVINO)."""
    from importlib.util import find_spec

    if find_spec("openvino") is None:
        return frozenset()
    from .backends.openvino import native_precisions

    return native_precisions()


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
