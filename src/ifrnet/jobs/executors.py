"""Who renders a job's chunks: this process (:class:`LocalExecutor`) or a Ray cluster
(:class:`~ifrnet.jobs.ray_cluster.RayExecutor`). Both take the same chunks and hand back the same
results; the job (planning, the manifest, the join) runs in the driver whichever it is."""

from __future__ import annotations

import abc
import contextlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ..engine import Engine
from ..video.chunks import Chunk, ChunkContext, ChunkResult, render_chunk
from ..video.pipeline import Progress

#: a temporary path for chunk N's file, renamed onto its place when the block succeeds
Writing = Callable[[int], contextlib.AbstractContextManager[Path]]
#: called in the driver once a chunk's file is in place
Done = Callable[[Chunk, ChunkResult], None]


class Executor(abc.ABC):
    """Renders chunks with one kind of engine; ``fingerprint`` names that engine and its weights
    (what a job's manifest records), ``describe`` says where the chunks run."""

    @abc.abstractmethod
    def fingerprint(self) -> str: ...

    @abc.abstractmethod
    def describe(self) -> str: ...

    @abc.abstractmethod
    def render(
        self, context: ChunkContext, chunks: Sequence[Chunk], writing: Writing, done: Done, progress: Progress
    ) -> None:
        """Render every chunk into the file ``writing(chunk.number)`` gives; call ``done`` in this
        thread as each finishes (in any order). ``progress`` counts output frames."""

    @abc.abstractmethod
    def close(self, cancel: bool = False) -> None:
        """Release engines (and a cluster this executor started)."""


class LocalExecutor(Executor):
    """Chunks rendered one after another in this process, on one engine built once (``engine``:
    an :class:`Engine` or a function that builds one, called at first use). Several jobs may share
    it (``ifrnet batch --jobs``): one chunk renders at a time, the jobs' planning and joins overlap it."""

    def __init__(self, engine: Engine | Callable[[], Engine]) -> None:
        self._engine = engine if isinstance(engine, Engine) else None
        self._build = None if isinstance(engine, Engine) else engine
        self._owned = False
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._build()
                self._owned = True
            return self._engine

    def fingerprint(self) -> str:
        return self.engine.fingerprint()

    def describe(self) -> str:
        return self.engine.describe_choice()

    def render(
        self, context: ChunkContext, chunks: Sequence[Chunk], writing: Writing, done: Done, progress: Progress
    ) -> None:
        engine = self.engine
        for chunk in chunks:
            with self._lock, writing(chunk.number) as path:
                result = render_chunk(context, chunk, engine, path, progress)
            done(chunk, result)

    def close(self, cancel: bool = False) -> None:
        if self._owned and self._engine is not None:
            self._engine.close(cancel=cancel)
            self._engine = None
