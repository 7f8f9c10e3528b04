"""One video as a chunked, resumable job: plan, render what is not done, join, clean up.

The job drives the video layer from above (:mod:`ifrnet.video.chunks`): it plans the whole
source once, keeps the chunks in a work folder beside the output with a manifest
(:mod:`ifrnet.jobs.work`), has an :class:`~ifrnet.jobs.executors.Executor` render the chunks an
earlier run did not finish, and joins them into the output under a temporary name. The result is
the output one process writes: same frames (bit for bit with an intra-only codec such as FFV1),
same pts, same other streams.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path

from ..errors import InputError
from ..io.files import atomic_output
from ..version import __version__
from ..video.chunks import (
    Chunk,
    ChunkContext,
    ChunkResult,
    VideoPlan,
    check_chunkable,
    check_encoder,
    join_chunks,
    plan_video,
)
from ..video.options import VideoOptions
from ..video.pipeline import Progress, ProgressFactory, VideoSummary, check_request, gather_notices
from ..video.scenes import CutList
from ..video.writer import timing_notice
from .executors import Executor
from .work import WorkFolder, work_folder_of

#: seconds of source per chunk when a job is chunked without ``--chunk-seconds``
DEFAULT_CHUNK_SECONDS = 10.0
#: options that change no output frame, left out of the manifest's identity
_NOT_IDENTITY = {"overwrite", "queue_size"}


@dataclass
class JobOptions:
    """How a chunked job runs: chunk length (seconds of source), ``resume`` an earlier run's work
    folder, ``keep_work`` (keep the chunks after the join)."""

    chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    resume: bool = False
    keep_work: bool = False


def run_video_job(
    source: str | os.PathLike,
    output: str | os.PathLike,
    executor: Executor,
    options: VideoOptions | None = None,
    job: JobOptions | None = None,
    progress: ProgressFactory | None = None,
) -> VideoSummary:
    """Interpolate ``source`` into ``output`` chunk by chunk; returns the run's summary, whose
    ``chunks`` and ``reused`` say how many chunks there were and how many an earlier run had
    finished. Raises :class:`~ifrnet.errors.InputError` before any work for what one process
    would refuse, for a pipe or a constant-rate container (:func:`check_chunkable`), and for a work
    folder left by another job (or, without ``resume``, by any run of this output)."""
    options = options or VideoOptions(factor=2)
    job = job or JobOptions()
    started = time.perf_counter()
    _check_job(source, output, options, job)
    output = Path(output)
    plan = plan_video(source, output, options)
    planned = time.perf_counter()
    summary = plan.summary
    chunks = plan.chunks(job.chunk_seconds)
    notices = list(summary.notices)
    if not plan.seekable and len(plan.segments) > 1:
        notices.append(f"{summary.input.path}: its timestamps needed repair, so no chunk can seek; one chunk")
    check_encoder(plan.context, output.parent)
    folder = WorkFolder.open(output, _identity(source, plan, options, executor, job), job.resume, options.overwrite)
    results = {c.number: r for c in chunks if job.resume and (r := folder.reusable(c)) is not None}
    summary.chunks, summary.reused = len(chunks), len(results)
    summary.engine = executor.describe()
    _render_chunks(executor, plan.context, chunks, folder, results, summary.frames_out, progress)
    ordered = [results[c.number] for c in chunks]
    rendered = time.perf_counter()
    with atomic_output(output, replace=options.overwrite) as tmp:
        joined = join_chunks(plan.context, [folder.chunk_path(c.number) for c in chunks], ordered, tmp)
    summary.phases = {"plan": planned - started, "render": rendered - planned, "join": time.perf_counter() - rendered}
    summary.interpolated = sum(r.interpolated for r in ordered)
    written = list(dict.fromkeys(n for r in ordered for n in r.notices))  # each chunk says the same
    irregular = sum(r.irregular for r in ordered)
    if irregular:
        written.append(timing_notice(plan.context.container_format, True, irregular, plan.context.write_rate))
    gather_notices(summary, notices + written + joined, ordered[0].pix_fmt, options)
    if not job.keep_work:
        folder.remove()
    summary.seconds = time.perf_counter() - started
    return summary


def _check_job(source: str | os.PathLike, output: str | os.PathLike, options: VideoOptions, job: JobOptions) -> None:
    """What a job refuses before its planning pass: what one process would refuse, a pipe or a
    constant-rate container, and a work folder left by another run (unless resumed or overwritten)."""
    if not job.chunk_seconds > 0:
        raise InputError(f"--chunk-seconds must be positive; got {job.chunk_seconds:g}")
    check_chunkable(source, output, options.output_format)  # before Path() drops the slash of "frames/"
    output = Path(output)
    check_request(source, output, False, False, options)
    if not job.resume and work_folder_of(output).exists() and not options.overwrite:
        WorkFolder.open(output, {}, resume=False, overwrite=False)  # refused, before the planning pass


def _identity(source: str | os.PathLike, plan: VideoPlan, options: VideoOptions, executor: Executor, job: JobOptions):
    """What made a work folder's chunks, recorded in its manifest: a resumed run must match it."""
    return {
        "ifrnet": __version__,
        "input": _input_identity(source, len(plan.times)),
        "options": _options_identity(options),
        "engine": executor.fingerprint(),
        "chunk_seconds": job.chunk_seconds,
        "codec": plan.context.codec,
        "container": plan.context.container_format,
    }


def _render_chunks(
    executor: Executor,
    context: ChunkContext,
    chunks: list[Chunk],
    folder: WorkFolder,
    results: dict[int, ChunkResult],
    frames_out: int,
    progress: ProgressFactory | None,
) -> None:
    """Have ``executor`` render the chunks not in ``results`` (those reused), each recorded in the
    manifest as it lands; one progress display counts the job's output frames."""
    bar = (progress or (lambda total: Progress()))(frames_out)
    try:
        bar.update(sum(r.frames_out for r in results.values()))

        def done(chunk: Chunk, result: ChunkResult) -> None:
            folder.record(chunk, result)
            results[chunk.number] = result

        todo = [c for c in chunks if c.number not in results]
        executor.render(context, todo, folder.writing, done, bar)
    finally:
        bar.close()


def _input_identity(source: str | os.PathLike, frames: int) -> dict:
    """What says the input is the file an earlier run planned: its path, size and modification
    time (a folder of images: its frame count and newest image)."""
    path = Path(source)
    if path.is_file():
        stat = path.stat()
        return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "frames": frames}
    from ..video.paths import list_image_files

    newest = max((p.stat().st_mtime_ns for p in list_image_files(path)), default=0)
    return {"path": str(path.resolve()), "frames": frames, "mtime_ns": newest}


def _options_identity(options: VideoOptions) -> dict:
    """The video options as JSON values (rates as ``"num/den"``, cut lists as their cuts)."""
    record = {}
    for f in fields(options):
        if f.name in _NOT_IDENTITY:
            continue
        value = getattr(options, f.name)
        if isinstance(value, Fraction):
            value = str(value)
        elif isinstance(value, CutList):
            value = {"frames": sorted(value.frames), "times": sorted(str(t) for t in value.times)}
        record[f.name] = value
    return record
