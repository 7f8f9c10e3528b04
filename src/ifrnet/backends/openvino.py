"""The OpenVINO engine: an exported IFRNet graph compiled by OpenVINO's CPU plugin, no torch.

``OpenVinoInterpolator(path)`` takes the graph ``ifrnet export`` writes (the same file the
onnxruntime engine runs), or the OpenVINO IR (``.xml`` + ``.bin``) that ``ifrnet export
--precision int8`` writes, and is an :class:`~ifrnet.engine.Engine` with the same frames in and out.
The graph is compiled once per input shape (batch, height, width): OpenVINO's CPU plugin runs a
static shape faster than a dynamic one (IFRNet_S at 1280x720 on a 2-core AVX2 CPU: about 1.9 s
static against 2.4 s dynamic and 2.6 s with onnxruntime), and a video has a single shape.

``precision`` is honoured explicitly through OpenVINO's ``INFERENCE_PRECISION_HINT``: its CPU
default is already bf16 where the CPU has native bf16, so fp32 must be asked for to stay exact;
bf16 (and fp16) are refused on a CPU that lacks them natively (OpenVINO's ``OPTIMIZATION_
CAPABILITIES``), where they would be emulated. ``threads`` sets ``INFERENCE_NUM_THREADS``.
``streams`` 2 (the default on two or more cores) is OpenVINO's throughput mode for
:meth:`OpenVinoInterpolator.submit`: two infer requests in flight, each on its own share of the
threads, so that the video pipeline hands out the next pair while one is computed (more frames per
second than one stream of all threads, for twice the activation memory:
``benchmarks/openvino_streams.py``). A frame asked for and waited on (:meth:`interpolate`: the
VapourSynth filter, ``ifrnet pair``) runs in latency mode, one request on every thread, which a
lone request in throughput mode would leave half idle; ``streams`` 1 is latency mode throughout.
OpenVINO is a core dependency; an ONNX graph also needs onnx for its metadata (``ifrnet[openvino]``).

Every engine shares one ``openvino.Core`` (:func:`openvino_core`), loaded under
:func:`lasting_signal_stack`: OpenVINO's CPU plugin swaps the alternate signal stack of the thread
that loads it, and can leave it pointing at memory it has unmapped (see there).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import queue
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, InputError
from ..graphs.metadata import PRECISION, read_metadata
from ..io.files import cache_dir, libc_function, prune_cache
from .graph import GraphEngine, graph_feed

#: our precision names -> (OpenVINO's element type for the hint, the CPU capability it needs)
_PRECISIONS = {"fp32": ("f32", "FP32"), "bf16": ("bf16", "BF16"), "fp16": ("f16", "FP16")}
#: compiled shapes kept (a video has one; pairs of other sizes compile their own)
_SHAPES_KEPT = 4


# -- the thread's alternate signal stack ------------------------------------------------------
#
# On Linux, OpenVINO's CPU plugin (intel_cpu plugin.cpp, SigAltStackSetup, added for AMX's larger
# signal frames) maps an alternate signal stack when it is loaded and makes it the loading
# thread's, remembering the one it replaced. When it is unloaded it puts the remembered one back
# only if its own is still current, then unmaps its own. Two plugins (two Cores: ours, NNCF's)
# unloaded in the order they were loaded therefore leave the thread's alternate stack at the first
# one's unmapped pages. The next signal whose handler runs on the alternate stack (every Python
# handler: CPython installs them with SA_ONSTACK; Ctrl-C, SIGTERM, torch's DataLoader SIGCHLD
# handler) then dies in the kernel (SIGSEGV, si_code SI_KERNEL), or, once the pages are mapped
# again for something else, has its signal frame written over live objects. That was issue 34's
# test-suite crash. The remedy: after anything that may load or unload a plugin, the thread's
# alternate stack is one this module owns and never frees.

_SS_DISABLE = 2  # <signal.h>: no alternate stack


class _SignalStack(ctypes.Structure):
    """``stack_t`` of <signal.h> (glibc and musl, every Linux architecture)."""

    _fields_ = (("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t))


#: the alternate signal stacks installed by lasting_signal_stack, kept for the life of the process
_LASTING_STACKS: list[ctypes.Array] = []


def _sigaltstack():
    """libc's ``sigaltstack``, or None where there is none to call (not Linux)."""
    call = libc_function("sigaltstack")
    if call is None:
        return None
    call.argtypes = (ctypes.POINTER(_SignalStack), ctypes.POINTER(_SignalStack))
    call.restype = ctypes.c_int
    return call


def current_signal_stack() -> tuple[int, int, int] | None:
    """The calling thread's alternate signal stack as ``(address, flags, size in bytes)``
    (``sigaltstack(2)``; flags 2 = SS_DISABLE: none), or None where it cannot be asked."""
    call = _sigaltstack()
    stack = _SignalStack()
    if call is None or call(None, ctypes.byref(stack)) != 0:
        return None
    return stack.ss_sp or 0, stack.ss_flags, stack.ss_size


@contextlib.contextmanager
def lasting_signal_stack() -> Iterator[None]:
    """Run the body (anything that may load or unload OpenVINO's CPU plugin: a new ``Core``,
    NNCF's calibration), then leave the calling thread an alternate signal stack that lives as
    long as the process if the body changed it. The new stack is at least as large as the
    plugin's (which is sized for the CPU's largest signal frame), so nothing it wanted is lost.
    A no-op where ``sigaltstack`` cannot be called."""
    before = current_signal_stack()
    try:
        yield
    finally:
        after = current_signal_stack()
        if before is not None and after is not None and after != before and not after[1] & _SS_DISABLE:
            size = max(after[2], 0 if before[1] & _SS_DISABLE else before[2])
            buffer = ctypes.create_string_buffer(size)
            stack = _SignalStack(ctypes.addressof(buffer), 0, size)
            if _sigaltstack()(ctypes.byref(stack), None) == 0:
                _LASTING_STACKS.append(buffer)


def import_openvino():
    """``import openvino`` with OpenVINO's usage telemetry left out of this process; returns the module.

    openvino-telemetry is opt-out: importing openvino (and NNCF) posts an event to Google Analytics
    unless ``~/intel/openvino_telemetry`` says no, and on Linux it posts from a child it forks
    off a worker thread. A fork while the decode thread holds FFmpeg's slice threads leaves the
    child stuck freeing them (``pthread_cond_destroy`` on threads the child does not have), and
    the parent waits for that child at exit: a 0.4 s job that never ended. ffmpeg, mpv and
    VapourSynth do not reach the network either. OpenVINO and NNCF both fall back to their own
    no-op stubs when the package cannot be imported, which ``sys.modules[name] = None`` arranges.
    Where openvino was imported before ifrnet was asked, its telemetry is the importer's choice.
    """
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


@functools.cache  # the answer holds for the life of the process; a failed import is not cached by Python
def openvino_unavailable() -> str | None:
    """Why OpenVINO cannot run in this process, in a clause, or ``None`` where it can.

    Not installed; or, where its Python package is installed, a process that loaded another copy
    of OpenVINO's runtime first: vs-mlrt's OpenVINO plugin (``vapoursynth-mlrt-ov``) bundles one,
    which vspipe loads with every plugin before a script runs, and OpenVINO's bindings refuse a
    runtime of another build ("mismatches with OpenVINO Runtime library version"). One process
    holds one copy, so only a process without that plugin can run this engine."""
    try:
        import_openvino()
    except ImportError as exc:
        if "openvino" in sys.modules or "mismatch" in str(exc):
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            return (
                "OpenVINO cannot be loaded in this process, which holds another build of its runtime "
                f"(vs-mlrt's OpenVINO plugin, under VapourSynth, bundles one): {first[:160]}"
            )
        return "OpenVINO is not installed: pip install openvino"
    return None


_CORE = None
_CORE_LOCK = threading.Lock()


def openvino_core():
    """The process's one ``openvino.Core``, its CPU plugin loaded (under
    :func:`lasting_signal_stack`) on first use and never unloaded before the process ends.
    OpenVINO's Core is thread-safe; one Core also loads the plugin once instead of per engine."""
    global _CORE
    with _CORE_LOCK:
        if _CORE is None:
            ov = import_openvino()
            with lasting_signal_stack():
                core = ov.Core()
                core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")  # loads the plugin here
            _CORE = core
        return _CORE


def _ir_metadata(model) -> dict[str, str]:
    """The ``ifrnet_*`` metadata an OpenVINO IR written by :mod:`ifrnet.graphs.int8` keeps in its
    ``rt_info`` (under ``ifrnet``)."""
    if not model.has_rt_info(["ifrnet"]):
        return {}
    info = model.get_rt_info(["ifrnet"])
    entries = info.astype(dict) if hasattr(info, "astype") else dict(info)
    # the values are OVAny wrappers, whose str() is their class name
    return {key: value.astype(str) if hasattr(value, "astype") else str(value) for key, value in entries.items()}


def native_precisions(core=None) -> frozenset[str]:
    """Our precision names that OpenVINO's CPU plugin runs natively on this CPU (its
    ``OPTIMIZATION_CAPABILITIES``, asked of ``core`` or a new ``openvino.Core``): always fp32;
    bf16 with avx512_bf16 or AMX; fp16 on some."""
    if core is None:
        core = openvino_core()
    capabilities = set(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    return frozenset(name for name, (_, capability) in _PRECISIONS.items() if capability in capabilities)


#: CPU features whose int8 dot products make an int8 graph pay: (numpy's name, the kernel's name in
#: /proc/cpuinfo, how it is shown). Without them (AVX2 only) int8 measured no faster than fp32.
_INT8_DOT_PRODUCTS = (
    ("AMX_INT8", "amx_int8", "AMX-INT8"),
    ("AVX512VNNI", "avx512_vnni", "AVX-512 VNNI"),
    ("AVXVNNI", "avx_vnni", "AVX-VNNI"),
)


def int8_dot_products() -> str | None:
    """The name of this CPU's int8 dot-product instructions (AMX-INT8, AVX-512 VNNI, AVX-VNNI), or
    ``None`` where it has none. OpenVINO's ``OPTIMIZATION_CAPABILITIES`` says INT8 on any AVX2 CPU,
    so the features are read from numpy's CPU dispatch table, and on Linux from /proc/cpuinfo
    (numpy 2.4 names neither AMX nor AVX-VNNI)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        try:  # numpy 1.x
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            features = {}
    flags: set[str] = set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    for numpy_name, kernel_name, shown in _INT8_DOT_PRODUCTS:
        if features.get(numpy_name) or kernel_name in flags:
            return shown
    return None


# The first inference of the process runs alone. OpenVINO's Python bindings (2026.4) initialise a
# function-local static on their first numpy conversion, and that initialiser gives the GIL up
# (pybind11's npy_api lookup). A second thread arriving meanwhile takes the GIL, waits on the
# static's guard holding it, and neither ever goes on: two streams starting at once hung about one
# cold run in seven at 1280x720 (gdb: __cxa_guard_acquire against take_gil). Once the first call
# is done, the statics are set and calls run in parallel.
_FIRST_INFER = threading.Lock()
_BINDINGS_READY = threading.Event()


def _infer(request, feed: dict[str, np.ndarray]) -> np.ndarray:
    # copied out: the request reuses its output buffer on the next call
    return np.array(request.infer(feed)["frame"])


def default_streams(threads: int | None = None) -> int:
    """OpenVINO streams by default: 2 where there are two threads or more to share between them,
    else 1 (throughput mode measured faster than latency mode on 2 cores:
    ``benchmarks/results/openvino_streams_*.txt``)."""
    return 2 if (threads or os.cpu_count() or 1) >= 2 else 1


def _listing(folder: str | None) -> set[Path]:
    """The entries of ``folder``; none when it is None or cannot be read (the cache is optional)."""
    if folder is None:
        return set()
    try:
        return set(Path(folder).iterdir())
    except OSError:
        return set()


class OpenVinoInterpolator(GraphEngine):
    """Interpolate frames with an ONNX graph written by ``ifrnet export``, compiled by OpenVINO."""

    runtime = "OpenVINO"

    def __init__(
        self,
        path: str | os.PathLike,
        device: str | None = None,
        threads: int | None = None,
        precision: str = "fp32",
        streams: int | None = None,
    ) -> None:
        reason = openvino_unavailable()
        if reason:
            raise InputError(f"the openvino backend: {reason}")
        self.core = openvino_core()
        super().__init__(path)
        if (device or "cpu").split(":")[0].lower() != "cpu":
            raise InputError(f"device {device!r} is not available to the openvino backend here; use --device cpu")
        if precision not in native_precisions(self.core):
            raise InputError(
                f"--precision {precision}: this CPU has no native {precision} (OpenVINO offers "
                f"{', '.join(self.core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))}); use --precision fp32"
            )
        self.precision = precision
        if streams is not None and streams < 1:
            raise InputError(f"--streams must be at least 1; got {streams}")
        #: OpenVINO infer streams for submit() (pairs computed at once); 1: latency mode throughout
        self.streams = streams or default_streams(threads)
        #: the compile options both modes share (:meth:`compile_config` adds the mode's)
        self.config: dict[str, object] = {"INFERENCE_PRECISION_HINT": _PRECISIONS[precision][0]}
        # submit() runs a pair per stream on these threads; interpolate() runs in the caller's
        self.workers = self.streams if self.streams > 1 else 0
        self._pool: ThreadPoolExecutor | None = None
        self._streamed = threading.local()  # .on: this thread is one of the pool's
        self._compile_lock = threading.Lock()
        # compiled shapes kept on disk: a later run at the same size skips the compile; with no
        # writable cache (read-only or unknown home) each run compiles
        self._cache_dir: str | None = None
        with contextlib.suppress(OSError, RuntimeError):
            self._cache_dir = str(cache_dir("openvino"))
            self.config["CACHE_DIR"] = self._cache_dir
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = int(threads)
        ir = self.path.suffix.lower() == ".xml"
        try:
            self.model = self.core.read_model(str(self.path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses for unreadable graphs
            kind = "OpenVINO IR (with its .bin beside it)" if ir else "ONNX model"
            raise CheckpointError(f"{self.path}: not a usable {kind} ({exc.__class__.__name__})") from None
        meta = _ir_metadata(self.model) if ir else read_metadata(self.path)
        self._read_metadata(meta)
        #: the weights' own precision: "int8" for a graph from 'ifrnet export --precision int8'
        self.weights_precision = meta.get(PRECISION, "fp32")
        self._compiled: OrderedDict[tuple[int, ...], object] = OrderedDict()

    @property
    def device_kind(self) -> str:
        return "cpu"

    def describe(self) -> str:
        if self.weights_precision == "int8":
            return f"{self.model_name} on cpu (OpenVINO, int8 convolutions, {self.precision} elsewhere)"
        return f"{self.model_name} on cpu (OpenVINO, {self.precision})"

    def compile_config(self, streamed: bool) -> dict[str, object]:
        """The options a shape is compiled with: throughput mode with :attr:`streams` streams for
        the pairs :meth:`submit` runs (``streamed``), latency mode for the others."""
        if streamed and self.streams > 1:
            return {**self.config, "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": self.streams}
        return {**self.config, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}

    def _requests(self, shape: tuple[int, ...]) -> queue.SimpleQueue:
        """The idle infer requests (one per stream) of the graph compiled for ``shape`` (B, 3, H, W)
        in the calling thread's mode, compiled on first use."""
        streamed = self.streams > 1 and getattr(self._streamed, "on", False)
        key = (*shape, streamed)
        with self._compile_lock:  # two streams meeting a new shape compile it once
            requests = self._compiled.get(key)
            if requests is not None:
                self._compiled.move_to_end(key)
                return requests
            model = self.model.clone()
            batch = shape[0]
            model.reshape({"img0": list(shape), "img1": list(shape), "embt": [batch, 1, 1, 1]})
            before = _listing(self._cache_dir)
            compiled = self.core.compile_model(model, "CPU", self.compile_config(streamed))
            written = _listing(self._cache_dir) - before
            if written:
                # OpenVINO never trims its cache: one blob per shape (batch included), precision and
                # OpenVINO version. Only a compile that wrote one can have taken the folder over.
                prune_cache(self._cache_dir, keep=written)
            requests = queue.SimpleQueue()
            for _ in range(self.streams if streamed else 1):
                requests.put(compiled.create_infer_request())
            self._compiled[key] = requests
            if len(self._compiled) > _SHAPES_KEPT:
                self._compiled.popitem(last=False)
            return requests

    def _release(self) -> None:
        self._compiled.clear()  # the compiled graphs and their requests; the shared Core stays

    def run(self, img0: np.ndarray, img1: np.ndarray, t: float) -> np.ndarray:
        requests = self._requests(tuple(img0.shape))
        request = requests.get()
        try:
            if _BINDINGS_READY.is_set():
                return _infer(request, graph_feed(img0, img1, t))
            with _FIRST_INFER:
                frame = _infer(request, graph_feed(img0, img1, t))
                _BINDINGS_READY.set()
                return frame
        finally:
            requests.put(request)

    def submit(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float]) -> Future:
        """:meth:`interpolate` on one of :attr:`streams` threads, in throughput mode (in this thread
        with one stream): the caller goes on decoding and writing while the network runs, as many
        pairs at once as there are streams."""
        if self.streams == 1:
            return super().submit(frame0, frame1, times)
        if self.closed:
            raise RuntimeError(f"{self.describe()}: the engine was closed")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.streams,
                thread_name_prefix="ifrnet-openvino",
                initializer=setattr,
                initargs=(self._streamed, "on", True),
            )
        return self._pool.submit(self.interpolate, frame0, frame1, list(times))

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None
        super().close(cancel)
