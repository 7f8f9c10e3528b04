"""Many videos: folders searched recursively, globs and lists of paths, each output at its input's
relative path under one folder, each file a chunked job (so a half-done file resumes through its
chunks and a done one is skipped), one failing file never stopping the others."""

from __future__ import annotations

import glob
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import IFRNetError, InputError
from ..video.chunks import stamps_frames
from ..video.options import VideoOptions
from ..video.pipeline import Progress, ProgressFactory, VideoSummary, output_muxer
from .executors import Executor
from .run import JobOptions, run_video_job
from .work import work_folder_of

#: what a folder search takes for a video file (by extension, as FFmpeg's demuxers name them)
VIDEO_SUFFIXES = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mkv",
        ".mov",
        ".avi",
        ".webm",
        ".ts",
        ".mts",
        ".m2ts",
        ".mpg",
        ".mpeg",
        ".wmv",
        ".flv",
        ".nut",
        ".y4m",
        ".ogv",
        ".3gp",
        ".mxf",
        ".vob",
    ]
)
#: a source argument that is a list of paths, one a line
LIST_SUFFIXES = (".txt", ".lst")


@dataclass
class BatchItem:
    """One input of a batch: where its output goes and what became of it."""

    source: Path
    output: Path
    #: "done", "skipped" (its output was complete), "failed"
    status: str = "pending"
    message: str = ""
    summary: VideoSummary | None = None
    seconds: float = 0.0


@dataclass
class BatchSummary:
    items: list[BatchItem] = field(default_factory=list)
    #: inputs skipped before any work (not video files), one line each
    notices: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[BatchItem]:
        return [i for i in self.items if i.status == "failed"]

    def table(self) -> list[str]:
        """The end-of-batch table: one row per file."""
        rows = [f"{'status':8} {'frames':>7} {'chunks':>9} {'time':>8}  file"]
        for item in self.items:
            s = item.summary
            frames = str(s.frames_out) if s else "-"
            chunks = f"{s.chunks}/{s.reused}r" if s else "-"
            took = f"{item.seconds:.1f}s" if item.status == "done" else "-"
            rows.append(f"{item.status:8} {frames:>7} {chunks:>9} {took:>8}  {item.source} -> {item.output}")
        done = sum(i.status == "done" for i in self.items)
        skipped = sum(i.status == "skipped" for i in self.items)
        rows.append(f"{len(self.items)} file(s): {done} done, {skipped} already complete, {len(self.failed)} failed")
        return rows


def find_inputs(sources: list[str]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """``(input, relative output path)`` for every video the sources name, and a notice for each
    file skipped. A folder is searched recursively (hidden files and folders left out: a job's
    work folders are hidden) and keeps its structure; a glob (``shows/**/*.mkv``) keeps the path
    below its first wildcard's folder; a ``.txt``/``.lst`` file lists paths, one a line (``#``
    comments); any other file is an input. Raises :class:`InputError` for a source that names
    nothing, and for two inputs that would write the same output."""
    found: list[tuple[Path, Path]] = []
    notices: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = file.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if file.suffix.lower() in VIDEO_SUFFIXES:
                    found.append((file, rel))
                else:
                    notices.append(f"{file}: skipped (not a video file)")
        elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            try:
                lines = path.read_text(encoding="utf-8-sig").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"{path}: cannot read the list of inputs ({exc})") from None
            for number, line in enumerate(lines, 1):
                entry = line.split("#", 1)[0].strip()
                if entry:
                    file = (path.parent / entry) if not Path(entry).is_absolute() else Path(entry)
                    if not file.is_file():
                        raise InputError(f"{path}:{number}: {entry}: no such file")
                    found.append((file, Path(file.name)))
        elif path.is_file():
            found.append((path, Path(path.name)))
        elif glob.has_magic(source):
            base = Path(*_until_magic(path.parts))
            matches = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"{source}: matches no file")
            found.extend(
                (file, file.relative_to(base) if file.is_relative_to(base) else Path(file.name)) for file in matches
            )
        else:
            raise InputError(f"{source}: no such file or folder")
    seen: dict[Path, Path] = {}
    for file, rel in found:
        if rel in seen and seen[rel].resolve() != file.resolve():
            raise InputError(f"{file} and {seen[rel]} would both be written as {rel}; run them in separate batches")
        seen[rel] = file
    unique = list({file.resolve(): (file, rel) for file, rel in found}.values())
    return unique, notices


def _until_magic(parts: tuple[str, ...]) -> list[str]:
    out = []
    for part in parts:
        if glob.has_magic(part):
            break
        out.append(part)
    return out or ["."]


def output_path(rel: Path, outdir: Path, container: str | None, output_format: str | None = None) -> Path:
    """Where the output of the input at ``rel`` goes: ``outdir/rel``, with ``.container`` for its
    suffix if given. Otherwise the input's own container, unless a chunked job cannot write it
    (AVI, MPEG-PS, YUV4MPEG2, or an extension FFmpeg cannot place as a muxer): then Matroska, which
    holds any codec and keeps every stream. A muxer named by ``output_format`` (``--output-format``)
    is the user's choice and keeps the name; the job then says whether it can write it."""
    out = outdir / rel
    if container:
        return out.with_suffix("." + container.lstrip("."))
    if output_format:
        return out
    try:
        writable = stamps_frames(output_muxer(out))
    except InputError:
        writable = False
    return out if writable else out.with_suffix(".mkv")


def _planned(sources: list[str], outdir: Path, container: str | None, output_format: str | None) -> BatchSummary:
    """The batch's items, each with its output (:func:`output_path`), and its notices, before any work."""
    inputs, notices = find_inputs(sources)
    summary = BatchSummary(notices=notices)
    summary.items = [BatchItem(src, output_path(rel, outdir, container, output_format)) for src, rel in inputs]
    _same_outputs(summary.items)
    summary.notices += [
        f"{item.source}: written as {item.output.name}, since a chunked job cannot write "
        f"{item.source.suffix or 'its container'} (--container chooses)"
        for item in summary.items
        if item.output.suffix != item.source.suffix and not container and not output_format and item.status != "failed"
    ]
    return summary


def _same_outputs(items: list[BatchItem]) -> None:
    """Fail, before any work, every item whose output another item also writes: the output stays
    with an input of its own container (``a.mkv`` over ``a.avi`` written as Matroska), else the first listed."""
    first: dict[Path, BatchItem] = {}
    for item in sorted(items, key=lambda item: item.output.suffix != item.source.suffix):
        owner = first.setdefault(item.output.resolve(), item)
        if owner is not item:
            item.status = "failed"
            item.message = (
                f"{item.source}: its output {item.output} is also the output of {owner.source}; "
                "rename one, or give --container"
            )


class BatchProgress:
    """One progress display over a whole batch: files done, frames done and expected (each file's
    frames are known once it is planned), and an ETA from the rate so far."""

    def __init__(self, files: int, factory: ProgressFactory | None, json_lines: bool = False) -> None:
        self.files, self.files_done = files, 0
        self.total = 0
        self._lock = threading.Lock()
        self._json = json_lines
        self._bar = factory(None) if factory is not None and not json_lines else None
        self._started = self._last = time.perf_counter()
        self.done = 0
        self.current = ""

    def for_file(self, name: str) -> ProgressFactory:
        def factory(total: int | None) -> Progress:
            return _FileProgress(self, name, total or 0)

        return factory

    def _add(self, n: int, name: str) -> None:
        with self._lock:
            self.done += n
            self.current = name
            if self._bar is not None:
                self._bar.update(n)
            if self._json and time.perf_counter() - self._last >= 0.5:
                self._emit()

    def _grow(self, total: int) -> None:
        with self._lock:
            self.total += total
            if self._bar is not None:
                self._bar.total = self.total
                self._bar.refresh()

    def file_finished(self, name: str) -> None:
        with self._lock:
            self.files_done += 1
            self.current = name
            if self._bar is not None:
                self._bar.set_description(f"files {self.files_done}/{self.files}")
            if self._json:
                self._emit()

    def _emit(self) -> None:
        import json
        import sys

        self._last = now = time.perf_counter()
        elapsed = now - self._started
        fps = self.done / elapsed if elapsed > 0 else 0.0
        line = {
            "files_done": self.files_done,
            "files": self.files,
            "file": self.current,
            "frames": self.done,
            "total": self.total,
            "elapsed_s": round(elapsed, 2),
            "fps": round(fps, 3),
            "eta_s": round((self.total - self.done) / fps, 1) if fps and self.total else None,
        }
        print(json.dumps(line), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._json:
            self._emit()


class _FileProgress(Progress):
    def __init__(self, batch: BatchProgress, name: str, total: int) -> None:
        self.batch, self.name = batch, name
        batch._grow(total)

    def update(self, n: int = 1) -> None:
        self.batch._add(n, self.name)


def run_batch(
    sources: list[str],
    outdir: str | os.PathLike,
    executor: Executor,
    options: VideoOptions,
    job: JobOptions | None = None,
    container: str | None = None,
    jobs: int = 1,
    progress: BatchProgress | None = None,
) -> BatchSummary:
    """Interpolate every video the ``sources`` name into ``outdir`` (:func:`find_inputs`,
    :func:`output_path`); ``jobs`` files at a time, all on ``executor``. A file whose output
    exists and has no work folder is skipped (``--overwrite`` redoes it); one with a work folder
    resumes. Each failure is recorded with its one-line reason and the rest goes on."""
    job = job or JobOptions()
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{outdir}: is a file; -o names the folder the outputs go into")
    summary = _planned(sources, outdir, container, options.output_format)
    progress = progress or BatchProgress(len(summary.items), None)

    def one(item: BatchItem) -> None:
        started = time.perf_counter()
        if item.status == "failed":
            progress.file_finished(str(item.source))
            return
        if item.output.exists() and not work_folder_of(item.output).exists() and not options.overwrite:
            item.status, item.message = "skipped", "output complete"
            progress.file_finished(str(item.source))
            return
        try:
            item.output.parent.mkdir(parents=True, exist_ok=True)
            resume = not options.overwrite
            item.summary = run_video_job(
                item.source,
                item.output,
                executor,
                replace(options, overwrite=options.overwrite or (resume and item.output.exists())),
                replace(job, resume=resume),
                progress.for_file(str(item.source)),
            )
            item.status = "done"
        except IFRNetError as exc:
            item.status, item.message = "failed", str(exc)
        except Exception as exc:  # one file's fault, whatever it is, must not stop the others
            item.status, item.message = "failed", f"{item.source}: {exc.__class__.__name__}: {exc}"
        item.seconds = time.perf_counter() - started
        progress.file_finished(str(item.source))

    try:
        if jobs <= 1:
            for item in summary.items:
                one(item)
        else:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ifrnet-batch") as pool:
                list(pool.map(one, summary.items))
    finally:
        progress.close()
    return summary
