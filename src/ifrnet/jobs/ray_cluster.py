"""Chunks rendered on a Ray cluster: one actor per worker keeps its engine loaded across chunks.

Every chunk is a task on an actor (``ChunkWorker.render``); GPU workers reserve ``num_gpus=1``
each, CPU workers the cores their engine threads use. A worker that dies mid-chunk is restarted
by Ray and the chunk rerun (``max_restarts``, ``max_task_retries``); the manifest and the join
stay in the driver. A worker reads the input from the path the driver gives (so on a cluster the
input must be at that path on every node, a shared folder) and sends the chunk file back through
Ray's object store: the output side needs no shared file system, and only the driver writes the
work folder.

With no address a Ray instance is started for the run, bound to loopback only (node IP
127.0.0.1, no dashboard), and stopped after it. Ray turns a loopback node IP into the machine's
LAN address unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` is off (``ray._private.services.
resolve_ip_for_localhost``), so it is switched off here for the instance this module starts.
Nothing here is imported unless ``--executor ray`` is asked for.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import InputError
from ..spec import EngineSpec
from ..video.chunks import Chunk, ChunkContext
from ..video.pipeline import Progress
from .executors import Done, Executor, Writing

#: how often Ray reruns a chunk whose worker died
TASK_RETRIES = 3
#: where a local instance listens: loopback only
LOOPBACK = "127.0.0.1"
#: seconds to wait for a cluster's address to answer before Ray is asked to join it
CONNECT_TIMEOUT = 5.0


def _cluster_host(address: str) -> str | None:
    """The host of ``--ray-address HOST:PORT`` (``ray://HOST:PORT`` too), after checking that
    something answers there: Ray itself retries an address that drops packets for many minutes
    before it gives up. ``None`` for ``auto`` (the cluster this machine's ``ray start`` made).
    Raises :class:`InputError` for an address of another shape or one where nothing answers."""
    if address == "auto":
        return None
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        raise InputError(f"--ray-address {address}: expected HOST:PORT (the head's GCS port, 6379 by default) or auto")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise InputError(f"--ray-address {address}: nothing answers there ({exc.strerror or exc})") from None
    return host


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _import_ray(loopback: bool):
    """Ray, told to keep a loopback node IP as it is where ``loopback`` (see the module's note)."""
    if loopback:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'ifrnet[ray]'") from None
    if loopback:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # read when the node IP is resolved, if Ray was imported before
    return ray


@contextlib.contextmanager
def _native_log_held() -> Iterator[None]:
    """Holds what Ray's native client writes to stderr while it joins a cluster and passes it on
    only if the join succeeds: for an address that answers no GCS, Ray retries for about 20 s and
    logs a warning line each second, where the user should get the one line that says the address
    is wrong. Ray starts no process while joining, so none inherits the held descriptor."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            raise
        else:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
        finally:
            os.close(saved)


class _Worker:
    """The actor: an engine built once from ``spec``, rendering chunks into bytes."""

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        self.engine = None

    def _engine(self):
        if self.engine is None:
            self.engine = self.spec.build()
        return self.engine

    def pid(self) -> int:
        return os.getpid()

    def fingerprint(self) -> tuple[str, str]:
        engine = self._engine()
        return engine.fingerprint(), engine.describe_choice()

    def render(self, context: ChunkContext, chunk: Chunk):
        from ..video.chunks import render_chunk

        with tempfile.TemporaryDirectory(prefix="ifrnet-chunk-") as folder:
            path = Path(folder) / f"chunk-{chunk.number:06d}.nut"
            result = render_chunk(context, chunk, self._engine(), path)
            return result, path.read_bytes()


class RayExecutor(Executor):
    """Chunks on ``workers`` Ray actors, each an engine from ``spec`` (``threads`` per CPU worker;
    a GPU each where ``spec.device`` names CUDA). ``address``: ``None`` starts a local instance
    (``num_cpus`` cores) for this executor and stops it at :meth:`close`; ``"auto"`` or
    ``HOST:PORT`` joins a running cluster."""

    def __init__(
        self,
        spec: EngineSpec,
        address: str | None = None,
        workers: int | None = None,
        threads: int | None = None,
        num_cpus: int | None = None,
    ) -> None:
        self.local = address is None
        host = None if self.local else _cluster_host(address)
        ray = self.ray = _import_ray(self.local or (host is not None and _is_loopback(host)))
        self.started = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if self.local:
                kwargs.update(_node_ip_address=LOOPBACK, num_cpus=num_cpus or os.cpu_count() or 1)
            try:
                with contextlib.nullcontext() if self.local else _native_log_held():
                    ray.init(address=address, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise InputError(f"--ray-address {address}: cannot join the Ray cluster ({exc})") from None
            self.started = True
        gpu = (spec.device or "").startswith("cuda")
        resources = ray.cluster_resources()
        threads = threads or (None if gpu else 1)
        if workers is None:
            workers = int(resources.get("GPU", 0)) if gpu else int(resources.get("CPU", 1)) // (threads or 1)
        if workers < 1:
            raise InputError(
                f"the Ray cluster has no {'GPU' if gpu else 'CPU'} for a worker ({resources}); "
                "give --ray-workers or add nodes"
            )
        remote = ray.remote(max_restarts=-1, max_task_retries=TASK_RETRIES)(_Worker)
        options = {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": threads}
        # each worker sees its one GPU as cuda:0 (Ray sets CUDA_VISIBLE_DEVICES)
        worker_spec = spec.on("cuda" if gpu else spec.device, threads)
        self.workers = [remote.options(**options).remote(worker_spec) for _ in range(workers)]
        self._identity: tuple[str, str] | None = None

    def _fingerprint(self) -> tuple[str, str]:
        if self._identity is None:
            self._identity = self.ray.get(self.workers[0].fingerprint.remote())
        return self._identity

    def fingerprint(self) -> str:
        return self._fingerprint()[0]

    def describe(self) -> str:
        return f"{self._fingerprint()[1]}, on {len(self.workers)} Ray worker(s)"

    def pids(self) -> list[int]:
        """The worker processes' ids (tests kill one mid-chunk)."""
        return self.ray.get([w.pid.remote() for w in self.workers])

    def render(
        self, context: ChunkContext, chunks: Sequence[Chunk], writing: Writing, done: Done, progress: Progress
    ) -> None:
        ray = self.ray
        queue = list(chunks)
        running: dict = {}  # object ref -> (chunk, worker)
        idle = list(self.workers)
        try:
            while queue or running:
                while queue and idle:
                    worker, chunk = idle.pop(), queue.pop(0)
                    running[worker.render.remote(context, chunk)] = (chunk, worker)
                ready, _ = ray.wait(list(running), num_returns=1)
                chunk, worker = running.pop(ready[0])
                idle.append(worker)
                try:
                    result, data = ray.get(ready[0])
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if isinstance(getattr(exc, "cause", None), Exception) else exc
                    if isinstance(cause, InputError):
                        raise cause from None
                    raise
                with writing(chunk.number) as path:
                    path.write_bytes(data)
                done(chunk, result)
                progress.update(result.frames_out)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def close(self, cancel: bool = False) -> None:
        for worker in self.workers:
            self.ray.kill(worker)
        self.workers = []
        if self.started:
            self.ray.shutdown()
            self.started = False
