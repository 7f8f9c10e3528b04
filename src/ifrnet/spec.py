"""Which engine a run gets: :class:`EngineSpec`, the factory above the engines.

An :class:`EngineSpec` describes an engine as a small picklable value (video workers and Ray
actors receive the spec, not a model, so each process loads its own) and owns the engine
options: each field carries its choices, range and help (:mod:`ifrnet.options`), which the
command line reads so that a default or a range is written once. :meth:`EngineSpec.resolve` is
the ``--backend auto`` policy; :meth:`EngineSpec.build` imports the chosen engine only then, so
nothing here imports torch or a runtime at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from .engine import AUTO_SCALE, BACKENDS, PRECISIONS, Engine
from .errors import CheckpointError, IFRNetError, InputError
from .exactness import FP32_LEVELS, FP32_PSNR_DB, FP32_SHARE, REDUCED_DB
from .options import Option, check_options, option, options_of


@dataclass(frozen=True)
class EngineSpec:
    """Backend, weights and options of an engine; :meth:`build` makes it.

    Fields are checked on creation (:class:`InputError` naming the option); their metadata
    (:func:`options`) is what the command line offers.
    """

    backend: str = option(
        "auto",
        choices=BACKENDS,
        help="auto (default: the fastest engine here that keeps the exactness contract; 'ifrnet info' "
        "says which), torch, or onnxruntime / openvino: an exported graph (--checkpoint MODEL.onnx, or "
        "weights exported once into the cache), run without PyTorch",
    )
    model: str | None = option(None, help="IFRNet, IFRNet_L or IFRNet_S (default: from the checkpoint)")
    checkpoint: str | None = option(
        None,
        help="a weights file (.pth, .safetensors; a graph .onnx, or an OpenVINO IR .xml) or a weights tag such as "
        "IFRNet_S.starter or IFRNet.vimeo90k (see 'ifrnet info'); default: the authors' checkpoint if one is "
        "found, else the shipped starter weights",
    )
    device: str | None = option(None, help="cpu, cuda, cuda:N, mps (default: best available)")
    scale: float | str = option(
        1.0,
        low=0.0,
        high=1.0,
        open_low=True,
        words=(AUTO_SCALE,),
        help="network scale factor in (0, 1]: 0.5 for 4K, large motion; or auto: 0.5 for the pairs whose "
        "motion a quick quarter-scale pass estimates as large, 1 for the others",
    )
    precision: str | None = option(
        None,
        choices=PRECISIONS,
        help="network arithmetic: fp32 (exact), bf16 (GPU, or a CPU with native bf16), fp16 (GPU); "
        "default: fp32, or bf16 where --backend auto finds native bf16 and OpenVINO",
    )
    int8: bool | None = option(
        None,
        help="int8 convolutions: OpenVINO runs the int8 graph shipped with the starter weights (or a "
        "--checkpoint MODEL.xml from 'ifrnet export --precision int8'), the rest in --precision (default bf16 "
        "where native); default: on where --backend auto finds int8 dot products (VNNI, AMX) and that graph",
    )
    channels_last: bool | None = option(
        None, help="NHWC memory layout for the convolutions (default: on for a CPU, where it is faster)"
    )
    threads: int | None = option(None, low=1, help="CPU threads for the network")
    streams: int | None = option(
        None,
        low=1,
        help="OpenVINO: pairs computed at once, each on a share of the threads (default 2 where there are "
        "2 threads or more: more frames/s, twice the activation memory; 1: the lowest latency per frame)",
    )
    compile: bool = option(
        False, help="torch.compile the network (CUDA: with CUDA graphs); the first frame of each size waits for it"
    )

    def __post_init__(self) -> None:
        check_options(self)

    def on(self, device: str | None, threads: int | None = None) -> EngineSpec:
        """The same engine on another device (and thread count, if given)."""
        return replace(self, device=device, threads=threads if threads is not None else self.threads)

    def resolve(self) -> tuple[EngineSpec, str]:
        """The concrete spec ``--backend auto`` stands for on this machine, and why (a clause for
        summaries; empty for a backend given by name). It loads no weights and exports nothing
        (torch is imported only to look for a GPU when the weights need torch anyway).

        The rule (measured figures in the README's performance section): the fastest engine whose
        output keeps the exactness contract of :mod:`ifrnet.exactness` -- fp32-class engines within
        one level of eager fp32 on 99.9% of samples and 60 dB, reduced precision only where the
        hardware has it natively and it stays within 0.1 dB PSNR of fp32 on real frames.

        - ``$IFRNET_BACKEND`` (torch, onnxruntime or openvino), when set and able to run the
          checkpoint (torch runs no graph, onnxruntime no OpenVINO IR), is taken as given;
        - an OpenVINO IR (``.xml``): OpenVINO;
        - a GPU, or an option only the torch engine has (``--scale`` below 1, ``--compile``,
          ``--channels-last``): torch (for a graph: an error, which names auto);
        - a CPU with native bf16 (OpenVINO reports BF16), unless fp32 is asked for: OpenVINO bf16,
          about 2-2.6x onnxruntime fp32 with the PSNR within 0.02 dB of fp32 on real frames (issue
          24's measurement on such a CPU); a graph with another reduced precision: OpenVINO, which
          refuses what is not native;
        - otherwise OpenVINO fp32, which keeps the fp32 contract and is the fastest fp32 engine on
          a CPU (measured against torch and onnxruntime in the README);
        - OpenVINO needs a graph: the IR shipped with the starter weights, a ``.onnx`` (read with
          the onnx package) or weights it can export (torch and ``ifrnet[export]``); without one,
          or without OpenVINO: onnxruntime for a graph, torch (channels_last) for weights.
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
        if self.int8:
            return replace(self, backend="openvino"), "--int8: OpenVINO runs the int8 graph"
        return self._torch_needed() or self._off_cpu() or self._on_cpu()

    def _torch_needed(self) -> tuple[EngineSpec, str] | None:
        """The torch engine when an option only it has is given (for a graph: an error)."""
        torch_only = [
            flag
            for flag, given in (
                (f"--scale {_shown(self.scale)}", self.scale != 1.0),
                ("--compile", self.compile),
                ("--channels-last", self.channels_last is not None),
            )
            if given
        ]
        if not torch_only:
            return None
        if _suffix(self.checkpoint) == ".onnx":
            raise InputError(
                f"--backend auto: {torch_only[0]} needs the torch engine, which does not run "
                f"{self.checkpoint}; give weights instead, or drop {torch_only[0].split()[0]}"
            )
        return replace(self, backend="torch"), f"{torch_only[0]}: only the torch engine has it"

    def _off_cpu(self) -> tuple[EngineSpec, str] | None:
        """The engine for a named GPU device, or torch when the weights need it and a GPU is here."""
        graph = _suffix(self.checkpoint) == ".onnx"
        device = (self.device or "").split(":")[0].lower()
        if device not in ("", "cpu"):
            backend = "onnxruntime" if graph else "torch"
            return replace(self, backend=backend), f"--device {self.device}: the {backend} engine"
        if not device and not graph and _gpu_present():
            return replace(self, backend="torch"), "a GPU: the torch engine"
        return None

    def _on_cpu(self) -> tuple[EngineSpec, str]:
        """The CPU's engine: OpenVINO bf16 where bf16 is native, else OpenVINO fp32, else the torch
        (or, for a graph, onnxruntime) fp32 engine."""
        graph = _suffix(self.checkpoint) == ".onnx"
        native = _openvino_native()
        dots = _int8_dot_products() if self.int8 is None and self.precision is None and not graph else None
        if dots and self._ready_graph(int8=True):
            floats = "bf16" if "bf16" in native else "fp32"
            return replace(self, backend="openvino", precision=floats, int8=True), (
                f"this CPU has {dots}: the shipped int8 graph (int8 convolutions, {floats} elsewhere; within "
                f"{REDUCED_DB:g} dB of fp32 on held-out frames)"
            )
        # OpenVINO can run it: a graph (whose metadata onnx reads), a ready IR, or weights to export
        runnable = (graph and _installed("onnx")) or (not graph and (self._ready_graph() or _can_export()))
        if self.precision in (None, "bf16") and "bf16" in native:
            if runnable:
                return (
                    replace(self, backend="openvino", precision="bf16"),
                    "this CPU has native bf16: OpenVINO bf16 (about 2x fp32, within 0.02 dB of it on real frames)",
                )
            why = (
                "native bf16, but onnx is not installed to read the graph for OpenVINO ('ifrnet[openvino]')"
                if graph
                else f"native bf16, but exporting these weights for OpenVINO needs {', '.join(_export_missing())} "
                "('ifrnet[export]')"
            )
        elif self.precision not in (None, "fp32"):
            if graph:  # only OpenVINO runs a graph in reduced precision; it refuses what is not native
                return replace(self, backend="openvino"), f"--precision {self.precision} on a graph: OpenVINO"
            return replace(self, backend="torch"), f"--precision {self.precision} on a CPU: the torch engine"
        elif native and runnable:
            why = "--precision fp32" if self.precision else "no native bf16 on this CPU"
            return replace(self, backend="openvino", precision="fp32"), (
                f"{why}: OpenVINO fp32, the fastest engine here that keeps the fp32 contract (within "
                f"{FP32_LEVELS} level of eager on {FP32_SHARE:.1%} of samples, {FP32_PSNR_DB:g} dB)"
            )
        else:
            missing = _openvino_unavailable() if not native else None
            why = f"fp32 ({missing})" if missing else "fp32 (no graph for OpenVINO, no exporter)"
        if graph:
            return replace(self, backend="onnxruntime", precision="fp32"), f"{why}: onnxruntime runs the graph"
        return replace(self, backend="torch", precision="fp32"), f"{why}: torch, channels_last"

    def _ready_graph(self, int8: bool = False) -> bool:
        """Whether the weights are ones this package ships a ready IR (``int8``: an int8 one) for
        (no export, no torch)."""
        from .graphs.cache import shipped_ir

        try:
            return shipped_ir(self.model, self.checkpoint, int8) is not None
        except IFRNetError:  # a missing or unknown checkpoint: the build reports it
            return False

    def with_graph(self) -> EngineSpec:
        """This spec with weights (a file or a tag) replaced by their graph for a graph backend,
        the IR shipped beside them or one exported once into the cache (:func:`ifrnet.graphs.cache.graph_for`);
        otherwise itself."""
        if self.backend in ("auto", "torch") or _suffix(self.checkpoint):
            return self
        from .graphs.cache import graph_for

        return replace(self, checkpoint=str(graph_for(self.model, self.checkpoint, self.backend, bool(self.int8))))

    def build(self) -> Engine:
        """The engine itself: an ``Interpolator`` (PyTorch), an ``OnnxInterpolator`` or an
        ``OpenVinoInterpolator``; ``--backend auto`` is resolved first (:meth:`resolve`) and its
        reason kept in the engine's :attr:`Engine.chosen`."""
        spec, reason = self.resolve()
        engine = spec._build_torch(reason) if spec.backend == "torch" else spec._build_graph()
        engine.chosen = reason
        return engine

    def _check_checkpoint(self) -> None:
        """A missing file or an unknown tag, said before the engine's own library is needed: the
        engine auto falls back to may not be installed, and its error would hide the real one."""
        if self.checkpoint is None:
            return
        from .pretrained import resolve

        kind = "graph" if _suffix(self.checkpoint) else "checkpoint"
        path = resolve(self.model, self.checkpoint)[0] if kind == "checkpoint" else self.checkpoint
        if not os.path.exists(path):
            raise CheckpointError(f"{path}: no such {kind} file")

    def _build_torch(self, reason: str = "") -> Engine:
        """The torch engine; ``reason``: why auto fell back to it, said where torch is missing."""
        for flag, given in (("--int8", self.int8), ("--streams", self.streams is not None)):
            if given:
                raise InputError(f"{flag} applies to OpenVINO (--backend openvino, or auto), not the torch engine")
        self._check_checkpoint()
        try:
            import torch
        except ImportError:
            why = f" (--backend auto took it: {reason})" if reason else ""
            raise InputError(
                f"the torch engine needs PyTorch, which is not installed here{why}: run an exported graph "
                "(--backend onnxruntime --checkpoint MODEL.onnx, from 'ifrnet export'), or install torch"
            ) from None

        from .backends.torch import Interpolator
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
        Weights (a file or a tag) are found or exported by :meth:`with_graph`."""
        from .names import official_variant

        torch_only = ["--channels-last"] * bool(self.channels_last) + ["--compile"] * self.compile
        if self.backend == "onnxruntime" and self.precision not in (None, "fp32"):
            torch_only.append("--precision")
        if self.backend == "onnxruntime" and self.int8:
            torch_only.append("--int8")
        if self.backend == "onnxruntime" and self.streams is not None:
            torch_only.append("--streams")
        if torch_only:
            raise InputError(
                f"{' and '.join(torch_only)} {'does' if len(torch_only) == 1 else 'do'} not apply to "
                f"--backend {self.backend}; a graph runs as exported"
            )
        if self.scale != 1.0:
            raise InputError("--scale applies to the torch backend; an exported graph runs at scale 1")
        if self.backend == "onnxruntime" and _suffix(self.checkpoint) == ".xml":
            raise InputError(f"{self.checkpoint}: an OpenVINO IR; run it with --backend openvino")
        if self.int8 and _suffix(self.checkpoint) == ".onnx":
            raise InputError(
                f"--int8: {self.checkpoint} is an fp32 ONNX graph; 'ifrnet export --precision int8' makes an int8 IR"
            )
        self._check_checkpoint()
        graph = self.with_graph().checkpoint
        if self.backend == "onnxruntime":
            from .backends.onnx import OnnxInterpolator

            engine: Engine = OnnxInterpolator(graph, device=self.device, threads=self.threads)
        else:
            from .backends.openvino import OpenVinoInterpolator

            # the float ops of an int8 graph: bf16 where native, as reduced precision is asked for anyway
            floats = "bf16" if self.int8 and "bf16" in _openvino_native() else "fp32"
            engine = OpenVinoInterpolator(
                graph,
                device=self.device,
                threads=self.threads,
                precision=self.precision or floats,
                streams=self.streams,
            )
            int8 = engine.weights_precision == "int8"
            if self.int8 is not None and self.int8 != int8:
                flag, held = ("--int8", "an fp32") if self.int8 else ("--no-int8", "an int8")
                raise InputError(f"{flag}: {graph} is {held} graph")
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


def _installed(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def _export_missing() -> list[str]:
    """What is missing here to export weights to a graph: of torch, onnx and onnxscript (``ifrnet[export]``)."""
    return [module for module in ("torch", "onnx", "onnxscript") if not _installed(module)]


def _can_export() -> bool:
    """Whether weights can be exported to a graph here (:func:`_export_missing` is empty)."""
    return not _export_missing()


def _int8_dot_products() -> str | None:
    """This CPU's int8 dot-product instructions, where OpenVINO is here to use them (else ``None``)."""
    if _openvino_unavailable():
        return None
    from .backends.openvino import int8_dot_products

    return int8_dot_products()


def _openvino_unavailable() -> str | None:
    """Why OpenVINO cannot run in this process (:func:`ifrnet.backends.openvino.openvino_unavailable`),
    or ``None``; ``"OpenVINO is not installed"`` without asking it where its package is absent."""
    if not _installed("openvino"):
        return "OpenVINO is not installed"
    from .backends.openvino import openvino_unavailable

    return openvino_unavailable()


def _openvino_native() -> frozenset[str]:
    """The precisions OpenVINO's CPU plugin runs natively here (empty where it cannot run)."""
    if _openvino_unavailable():
        return frozenset()
    from .backends.openvino import native_precisions

    return native_precisions()


def options() -> list[tuple[str, Any, Option]]:
    """``(name, default, Option)`` of every :class:`EngineSpec` field, in declaration order."""
    return options_of(EngineSpec)
