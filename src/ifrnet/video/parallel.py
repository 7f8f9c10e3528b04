"""Parallel video workers: the network runs in N processes, one engine (and device) each.

The parent process keeps decoding, scene detection and the single encoder; what it hands out
is the expensive part, batches of consecutive frame pairs, and it writes the results back in
source order. Splitting the *file* into separately encoded pieces and concatenating them would
restart the encoder's rate control and GOP at every seam and need the audio re-cut; here the
encoder sees exactly the frames, in exactly the order, of a single-process run, so the output
is the same file whatever the number of workers, given the same arithmetic in each: on a CPU,
the same thread count (PyTorch's kernels may sum in another order with another).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import numpy as np

from ..engine import Engine
from ..errors import IFRNetError, InputError
from ..spec import EngineSpec

# one engine per worker process, built on its first batch
_ENGINE = None
_ENGINE_SPEC: EngineSpec | None = None


def _engine(spec: EngineSpec) -> Engine:
    global _ENGINE, _ENGINE_SPEC
    if _ENGINE is None or spec != _ENGINE_SPEC:
        _ENGINE, _ENGINE_SPEC = spec.build(), spec
    return _ENGINE


def _run(spec: EngineSpec, a: np.ndarray, b: np.ndarray, times: list[float]) -> list[np.ndarray]:
    return _engine(spec).interpolate(a, b, times)


def _uses_time(spec: EngineSpec) -> bool:
    return _engine(spec).uses_time


def _worker_init(parent: int) -> None:
    """Set up a worker process: quiet on Ctrl-C, and gone when its parent is.

    Ctrl-C reaches the whole process group; the parent cancels the pool and removes the partial
    output, so the workers should not each print a KeyboardInterrupt traceback. A parent killed
    outright (``kill -9``, the OOM killer) cannot shut its pool down: on Linux the kernel sends the
    worker SIGKILL then (``PR_SET_PDEATHSIG``), elsewhere a watcher thread notices within a second.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(target=watch, name="ifrnet-parent-watch", daemon=True).start()


def _on_cpu(device: str | None) -> bool:
    return device is None or str(device).startswith("cpu")


def parse_devices(text: str) -> list[str]:
    """``"cuda:0,cuda:1"`` -> ``["cuda:0", "cuda:1"]``; empty items are refused."""
    devices = [d.strip() for d in text.split(",")]
    if not devices or any(not d for d in devices):
        raise InputError(f"--devices expects a comma-separated list such as cuda:0,cuda:1; got {text!r}")
    return devices


class WorkerPool(Engine):
    """An :class:`~ifrnet.engine.Engine` whose network runs in worker processes: ``submit(a, b,
    times)`` -> a future of the frames, computed in the least busy worker.

    ``devices`` lists one device per worker (repeat a device to run several workers on it).
    CPU workers without an explicit thread count share the cores evenly, so two workers on a
    2-core machine get one thread each instead of fighting over both.
    """

    def __init__(self, spec: EngineSpec, devices: Sequence[str | None]) -> None:
        if not devices:
            raise InputError("a worker pool needs at least one worker")
        self.devices = list(devices)
        cpu_workers = sum(1 for d in self.devices if _on_cpu(d))
        share = max(1, (os.cpu_count() or 1) // max(1, cpu_workers))
        # spawn, not fork: a forked child inherits the parent's threads (decoder, encoder,
        # PyTorch's pool) in whatever state they were in
        context = multiprocessing.get_context("spawn")
        self._specs: list[EngineSpec] = []
        self._executors: list[ProcessPoolExecutor] = []
        self._pending: list[int] = []
        #: batches each worker has finished
        self.completed: list[int] = []
        self._lock = threading.Lock()
        graphs: dict[tuple, str | None] = {}
        for device in self.devices:
            threads = spec.threads or (share if _on_cpu(device) else None)
            # --backend auto is resolved here, and weights for a graph backend exported here, once:
            # the workers build what was chosen
            resolved, self.chosen = spec.on(device, threads).resolve()
            if resolved.backend != "torch":
                key = (resolved.model, resolved.checkpoint)
                graphs[key] = graphs.get(key) or resolved.with_graph().checkpoint
                resolved = replace(resolved, checkpoint=graphs[key])
            self._specs.append(resolved)
            self._executors.append(
                ProcessPoolExecutor(
                    max_workers=1, mp_context=context, initializer=_worker_init, initargs=(os.getpid(),)
                )
            )
            self._pending.append(0)
            self.completed.append(0)
        self._uses_time: bool | None = None

    def describe(self) -> str:
        named = [str(d) for d in self.devices if d is not None]
        return f"{len(self.devices)} worker processes" + (f" ({', '.join(named)})" if named else "")

    @property
    def workers(self) -> int:  # type: ignore[override]
        return len(self.devices)

    @property
    def device_kind(self) -> str:
        """``"cuda"`` when every worker runs on a GPU (batches then pay), else ``"cpu"``."""
        return "cuda" if all(str(d).startswith("cuda") for d in self.devices) else "cpu"

    @property
    def uses_time(self) -> bool:  # type: ignore[override]
        """Whether the weights honour t, as the first worker's engine reports it."""
        if self._uses_time is None:
            self._uses_time = result_of(self._executors[0].submit(_uses_time, self._specs[0]), "worker 0")
        return self._uses_time

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float] = (0.5,)) -> list:
        return result_of(self.submit(frame0, frame1, times), self.describe())

    def submit(self, a: np.ndarray, b: np.ndarray, times: Sequence[float]) -> Future:
        """Queue one batch on the least busy worker."""
        with self._lock:
            index = min(range(len(self._executors)), key=lambda i: self._pending[i])
            self._pending[index] += 1
        try:
            future = self._executors[index].submit(_run, self._specs[index], a, b, list(times))
        except BrokenProcessPool:
            raise IFRNetError(f"video worker {index} ({self.devices[index]}) died") from None

        def done(_: Future, i: int = index) -> None:
            with self._lock:
                self._pending[i] -= 1
                self.completed[i] += 1

        future.add_done_callback(done)
        return future

    def close(self, cancel: bool = False) -> None:
        for executor in self._executors:
            executor.shutdown(wait=not cancel, cancel_futures=cancel)


def result_of(future: Future, where: str) -> list[np.ndarray]:
    """The future's frames; a worker that died becomes a one-line error naming it."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise IFRNetError(f"{where}: a video worker process died (out of memory?)") from None
