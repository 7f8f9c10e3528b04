"""Video in, video out: decode, decide, interpolate, encode, concurrently and in constant memory.

Three threads share the work: a decoder fills a bounded queue of source frames, the calling
thread decides what each output frame shows and runs the model, an encoder drains a bounded
queue of output frames. Memory is bounded by the queue sizes whatever the length of the video.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..engine import Engine
from ..errors import IFRNetError, InputError
from ..io.files import atomic_output, check_output_path, hide_temporary_names, quietly
from ..options import check_options
from .frames import SourceFrame, VideoInfo
from .options import VideoOptions
from .parallel import result_of
from .paths import STDOUT, check_not_an_input, format_name, is_folder_output, is_stream
from .reader import FrameSource, open_source
from .scenes import Change, SceneDetector, dedup_spans, is_held_copy
from .schedule import Step, Timeline
from .writer import FrameSink, ImageSequenceWriter, VideoFileWriter

_END = object()


@dataclass
class VideoSummary:
    """What a run did, for the end-of-run report."""

    input: VideoInfo
    output: Path
    output_rate: Fraction
    frames_in: int = 0
    frames_out: int = 0
    interpolated: int = 0
    cuts: int = 0
    duplicates: int = 0
    #: with --dedup: frames that showed the previous drawing again, dropped and re-timed
    held: int = 0
    audio: str = "none in the input"
    engine: str = ""
    #: the output's pixel format (``"png"`` for image sequences)
    pix_fmt: str = ""
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: source intervals spanning several frames (dropped frames, a lower rate for a while), each
    #: given N output frames per frame it spans (``--factor``, ``--slowmo``)
    long_intervals: int = 0
    #: a chunked job's chunks, and how many of them an earlier run had finished (``--resume``)
    chunks: int = 0
    reused: int = 0
    #: a chunked job's phases in seconds ("plan", "render", "join"), for benchmarks
    phases: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        rate = self.frames_out / self.seconds if self.seconds else 0.0
        fmt = f", {self.pix_fmt}" if self.pix_fmt else ""
        if self.held:
            frames = f"{self.frames_in - self.held} drawing(s), {self.held} held cop(ies) replaced by in-between frames"
        else:
            frames = f"{self.duplicates} repeated frame(s) passed through"
        return (
            [
                f"input : {self.input.path} ({self.input.describe()}), {self.frames_in} frames decoded",
                f"output: {self.output} ({float(self.output_rate):.3f} fps{fmt}), {self.frames_out} frames, "
                f"{self.interpolated} interpolated",
                f"scenes: {self.cuts} cut(s) held across, {frames}; audio: {self.audio}",
                f"time  : {self.seconds:.1f} s ({rate:.2f} output frames/s)",
            ]
            + ([f"engine: {self.engine}"] if self.engine else [])
            + ([f"chunks: {self.chunks} ({self.reused} reused)"] if self.chunks else [])
        )


ProgressFactory = Callable[[int | None], "Progress"]


class Progress:
    """Minimal progress interface (tqdm's ``update``/``close``); this one shows nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class JsonProgress(Progress):
    """Progress as one JSON object per line on standard error, for front-ends (``--progress json``):
    ``{"frames": done, "total": expected or null, "elapsed_s": ..., "fps": ..., "eta_s": ... or null}``,
    at most ``interval`` seconds apart and once at the end. ``extra`` keys are added to each line."""

    def __init__(self, total: int | None, interval: float = 0.5, extra: dict | None = None) -> None:
        self.total, self.interval, self.extra = total, interval, extra or {}
        self.done = 0
        self.started = self.last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        if time.perf_counter() - self.last >= self.interval:
            self.emit()

    def emit(self) -> None:
        import json
        import sys

        self.last = now = time.perf_counter()
        elapsed = now - self.started
        fps = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / fps if self.total and fps else None
        line = {"frames": self.done, "total": self.total, "elapsed_s": round(elapsed, 2), "fps": round(fps, 3)}
        line["eta_s"] = round(eta, 1) if eta is not None else None
        print(json.dumps({**self.extra, **line}), file=sys.stderr, flush=True)

    def close(self) -> None:
        self.emit()


def tqdm_progress(total: int | None) -> Progress:
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="interpolating", dynamic_ncols=True, smoothing=0.1)


def interpolate_video(
    source_path: str | os.PathLike,
    output: str | os.PathLike,
    engine: Engine | Callable[[], Engine],
    options: VideoOptions | None = None,
    progress: ProgressFactory | None = None,
) -> VideoSummary:
    """Interpolate a video file (or image sequence) into a new one; returns a summary.

    ``engine`` is an :class:`~ifrnet.engine.Engine` (``Interpolator``, ``OnnxInterpolator``, or a
    :class:`~ifrnet.video.parallel.WorkerPool`, whose workers then run the network in parallel
    with the same output), or a function that builds one: it is then called only once the input
    and output have been checked, so a wrong file name does not wait for a model to load, and
    what it built is closed at the end.
    Source frames that land on an output time are written from the decoded frame in its own
    pixel format (bit-exact with a lossless codec); frames deeper than 8 bits reach the engine as
    uint16 RGB; the output keeps the source's pixel format, colour tags and other streams where it
    can (:class:`~ifrnet.video.writer.VideoFileWriter`), and every notice lands in the summary.
    The output is written under a temporary name beside the target and renamed when complete,
    so an error or Ctrl-C never leaves a partial file under the output name. Raises
    :class:`InputError` before any work for an output that is, or writes into, the input.
    """
    options = options or VideoOptions(factor=2)
    started = time.perf_counter()
    streaming = is_stream(output)  # standard output or a named pipe: written in place, front to back
    folder = not streaming and is_folder_output(output)  # before Path() drops the trailing slash of "frames/"
    container_format = None if folder else output_muxer(output, options.output_format)
    output = STDOUT if str(output) == "-" else Path(output)
    check_request(source_path, output, folder, streaming, options)
    source = open_source(
        source_path,
        options.input_fps,
        keep_depth=True,
        keep_native=not folder,
        deinterlace=options.deinterlace,
        input_format=options.input_format,
    )
    once = source.streaming  # a piped input cannot be opened again for its audio
    built: list[Engine] = []  # an engine this call made, closed at the end
    finished = False
    try:
        info = source.info
        sample_rate, write_rate = options.rates(info.rate)
        summary = VideoSummary(input=info, output=output, output_rate=write_rate)
        summary.audio = audio_plan(info, folder, options.slowmo, once)
        with contextlib.ExitStack() as stack:
            sink = _open_sink(stack, Path(source_path), output, info, write_rate, options, container_format, once)
            _render(source, sink, engine, built, options, sample_rate, summary, progress)
        gather_notices(summary, source.warnings + sink.notices, sink.pix_fmt, options)
        finished = True
    finally:
        source.close()
        for owned in built:
            owned.close(cancel=not finished)
    summary.seconds = time.perf_counter() - started
    return summary


def _open_sink(
    stack: contextlib.ExitStack,
    source_path: Path,
    output: Path,
    info: VideoInfo,
    write_rate: Fraction,
    options: VideoOptions,
    container_format: str | None,
    once: bool,
) -> FrameSink:
    """The output, opened (encoder, pixel format, container, a writable folder) before the model
    loads: a fault there costs no model load and leaves nothing behind. ``container_format``
    ``None``: PNG frames; ``once``: the input is a pipe, whose other streams cannot be read again."""
    if container_format is None:
        return ImageSequenceWriter(output, overwrite=options.overwrite, rotation=info.rotation)
    streaming = output == STDOUT or is_stream(output)
    return _open_writer(
        output,
        output if streaming else stack.enter_context(atomic_output(output, replace=options.overwrite)),
        info,
        write_rate,
        options.settings(),
        copy_from=source_path if info.codec != "images" and not once else None,
        timed=options.slowmo is None,
        time_base=options.time_base(info, write_rate),
        container_format=container_format,
        streaming=streaming,
        deinterlaced=options.deinterlace,
    )


def _render(
    source: FrameSource,
    sink: FrameSink,
    engine: Engine | Callable[[], Engine],
    built: list[Engine],
    options: VideoOptions,
    sample_rate: Fraction,
    summary: VideoSummary,
    progress: ProgressFactory | None,
) -> None:
    """Build the engine if given a function (into ``built``) and run the source into ``sink``,
    which is closed when done and aborted on any failure, the engine's build included."""
    executed = False
    try:
        if not isinstance(engine, Engine):
            engine = engine()
            built.append(engine)
        summary.engine = engine.describe_choice()
        if options.batch is None:
            options = replace(options, batch=4 if engine.device_kind == "cuda" else 1)
        run = VideoRun(source, engine, options, sample_rate, summary, progress or (lambda total: Progress()))
        executed = True
        run.execute(sink)  # closes the sink when done, aborts it on any failure
    finally:
        if not executed:
            quietly(sink.abort)


def _open_writer(output: Path, path: Path, *args: object, **kwargs: object) -> VideoFileWriter:
    """A :class:`VideoFileWriter` on ``path`` (the output's temporary name); its refusals name ``output``."""
    try:
        return VideoFileWriter(path, *args, **kwargs)
    except InputError as exc:
        raise InputError(hide_temporary_names(str(exc), output)) from None


def check_request(
    source_path: str | os.PathLike, output: Path, folder: bool, streaming: bool, options: VideoOptions
) -> None:
    """Options first, then the files: what can be refused before anything is opened."""
    check_options(options)  # again: a caller may have changed a field since the options were made
    if options.fps is None:
        options.rates(Fraction(1))  # one of --factor / --slowmo; --fps needs the input's rate
    if output == STDOUT:
        if os.isatty(1):
            raise InputError("-o -: standard output is a terminal; pipe it into a program (| ffmpeg -i - ...)")
    elif not streaming:
        check_not_an_input(output, source_path, folder)
        if not folder:
            check_output_path(output, [source_path], options.overwrite)


def audio_plan(info: VideoInfo, folder: bool, slowmo: int | None, once: bool = False) -> str:
    """What happens to the source's audio, in words for the summary."""
    if not info.audio_streams:
        return "none in the input"
    if folder or slowmo or once:
        why = (
            "slow motion changes the duration"
            if slowmo
            else "image sequences hold no audio"
            if folder
            else "a piped input is read once, for its video"
        )
        return f"dropped ({why})"
    return "copied"


def gather_notices(summary: VideoSummary, notices: list[str], pix_fmt: str, options: VideoOptions) -> None:
    """The reader's and the writer's ``notices``, the run's own, and the output format, into the summary."""
    summary.pix_fmt = pix_fmt
    summary.notices = notices
    if summary.long_intervals and summary.input.codec != "images":  # the reader names a sequence's gaps
        n = options.factor or options.slowmo
        summary.notices.append(
            f"{summary.input.path}: {summary.long_intervals} interval(s) longer than one frame at "
            f"{float(summary.input.rate):.3f} fps (dropped frames, or a lower frame rate for a while) filled "
            f"with {n} output frames per frame they span, so the output keeps the source's timing: "
            f"{summary.frames_out} frames for {summary.frames_in}"
        )
    unused = options.cuts.unused() if options.cuts is not None else None
    if unused:
        summary.notices.append(unused)
    if summary.audio.startswith("dropped"):
        summary.notices.append(f"{summary.input.path}: audio {summary.audio}")
    if any("audio stream" in n for n in notices):
        summary.audio = "partly dropped (see notices)"


def output_muxer(path: str | os.PathLike, given: str | None = None) -> str:
    """FFmpeg's muxer for an output: ``given`` (``--output-format``), else YUV4MPEG2 for ``-``, else
    from the extension. Raises :class:`InputError` for a muxer FFmpeg lacks or an extension it cannot
    place."""
    import av

    if given is not None:
        name = format_name(given)
        if name not in av.formats_available:
            raise InputError(f"--output-format {given}: FFmpeg has no such muxer (y4m, nut, matroska, mp4, ...)")
        return name
    suffix = format_name(Path(path).suffix.lstrip("."))
    if suffix in av.formats_available:
        return suffix
    if is_stream(path):  # standard output, or a named pipe with no telling extension: raw frames
        return "yuv4mpegpipe"
    raise InputError(
        f"{path}: cannot tell the container format from the extension; use .mp4, .mkv, .mov, .webm or .y4m "
        "(or --output-format)"
    )


class VideoRun:
    """One pass over the source. Owns the threads and queues; the caller owns source and sink."""

    def __init__(
        self,
        source: FrameSource,
        engine: Engine | None,
        options: VideoOptions,
        sample_rate: Fraction,
        summary: VideoSummary,
        progress: ProgressFactory,
    ) -> None:
        self.source = source
        self.engine = engine
        self.options = options
        self.sample_rate = sample_rate
        self.summary = summary
        self.progress_factory = progress
        self.detector = SceneDetector(options.scene_threshold, options.cuts)
        self.stop = threading.Event()
        self.decoded: queue.Queue = queue.Queue(maxsize=options.queue_size)
        self.encoded: queue.Queue = queue.Queue(maxsize=options.queue_size)
        self.errors: list[BaseException] = []
        self.progress: Progress = Progress()
        # model batches handed out but not yet written, in source order; a worker pool keeps
        # two per worker queued so none idles while the parent writes
        self.pending: deque[tuple[list[Segment], list[_Job]]] = deque()
        self.in_flight = 2 * engine.workers if engine is not None else 0
        #: the frames the decoder thread reads (a chunk's: from a seek)
        self.source_frames: Callable[[], Iterator[SourceFrame]] = source.frames
        self.origin = source.info.start

    # -- threads --

    def _decode(self) -> None:
        try:
            for frame in self.source_frames():
                if not self._put(self.decoded, frame):
                    return
            self._put(self.decoded, _END)
        except BaseException as exc:
            self._put(self.decoded, exc)

    def _encode(self, sink: FrameSink) -> None:
        try:
            while not self.stop.is_set():
                try:
                    item = self.encoded.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                sink.write(*item)
        except BaseException as exc:
            self.errors.append(exc)
            self.stop.set()

    def _put(self, q: queue.Queue, item: object) -> bool:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _frames(self) -> Iterator[SourceFrame]:
        while True:
            try:
                item = self.decoded.get(timeout=0.1)
            except queue.Empty:
                self._check_encoder()
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _check_encoder(self) -> None:
        if self.errors:
            exc = self.errors[0]
            if isinstance(exc, IFRNetError):
                raise exc
            raise _encoding_error(self.summary.output, exc) from exc

    def timeline(self, first: Fraction) -> Timeline:
        """Index placement for --factor and --slowmo, time placement for --fps (:class:`Timeline`)."""
        info = self.summary.input
        n = self.options.factor or self.options.slowmo
        if self.options.fps is None and n:
            return Timeline(first, info.rate, factor=n, time_base=info.time_base)
        return Timeline(first, info.rate, sample_rate=self.sample_rate, time_base=info.time_base)

    def _shown_at(self, step: Step) -> Fraction:
        """When output frame ``step`` is shown: the source moment it shows, or in slow motion the
        time since the first source frame stretched N times (the output then starts at 0)."""
        if self.options.slowmo is None:
            return step.time
        return (step.time - self.origin) * self.options.slowmo

    # -- the main loop --

    def execute(
        self, sink: FrameSink, segments: Callable[[Iterator[SourceFrame]], Iterator[Segment]] | None = None
    ) -> None:
        """Run the source's frames through ``segments`` (default :meth:`decide`: the whole source)
        and the engine into ``sink``; closes the sink when done, aborts it on any failure."""
        threads = [
            threading.Thread(target=self._decode, name="ifrnet-decode", daemon=True),
            threading.Thread(target=self._encode, args=(sink,), name="ifrnet-encode", daemon=True),
        ]
        finished = False
        try:
            # started inside the try: a stop during a start (Thread.start waits for the thread to
            # run, which on a loaded machine takes a while) still stops the thread already running
            for thread in threads:
                thread.start()
            backlog: list[Segment] = []
            for segment in (segments or self.decide)(self._frames()):
                backlog.append(segment)
                waiting = sum(s.needs_model for s in backlog)
                if waiting == 0 or waiting >= self.options.batch:
                    self._flush(backlog)
            self._flush(backlog)
            self._write_finished(0)
            self._put(self.encoded, _END)
            threads[1].join()
            self._check_encoder()
            sink.close()
            finished = True
        finally:
            self.progress.close()
            self.stop.set()  # a chunk's decoder may still be reading ahead: it stops here too
            for thread in threads:
                if thread.ident is not None:
                    thread.join(timeout=10)  # the reader and writer close safely even if one is still in a step
            if not finished:
                quietly(sink.abort)  # a second fault while cleaning up must not hide the first

    def decide(self, frames: Iterator[SourceFrame]) -> Iterator[Segment]:
        """The output frames of the whole source, one segment (source interval) at a time, in
        order: the time map, the scene rules and ``--dedup`` applied, and the summary's counts kept.
        A chunked job (:mod:`ifrnet.video.chunks`) plans with this same function, so its chunks
        hold exactly these segments."""
        prev = next(frames, None)
        if prev is None:
            raise InputError(f"{self.summary.input.path}: no decodable video frames")
        info = self.summary.input
        self.origin = prev.time
        timeline = self.timeline(prev.time)
        self.progress = self.progress_factory(timeline.count(info.frame_count, info.duration))
        self.summary.frames_in = 1
        kept = last = prev  # kept: the last frame the timeline was given (a new drawing, with --dedup)
        dedup = self.options.dedup
        for pair in self.detector.judge(itertools.chain([prev], frames)):
            self.summary.frames_in += 1
            last = pair.b
            change = pair.change
            if change is Change.CUT:
                self.summary.cuts += 1
            elif change is Change.DUPLICATE and not dedup:
                self.summary.duplicates += 1
            if not dedup:
                spans = [(pair.a.index, pair.b.index, change)]
            elif is_held_copy(change, pair.thumb_a, pair.thumb_b, self.options.dedup_tolerance):
                self.summary.held += 1
                continue
            else:
                spans = dedup_spans(kept.index, pair.a.index, pair.b.index, change)
            frame = {kept.index: kept, pair.a.index: pair.a, pair.b.index: pair.b}
            for first, end, shown in spans:
                if end != pair.b.index:  # a drawing held until the cut: it stays on screen
                    yield Segment(timeline.steps_to(frame[end].time), frame[first], frame[first], shown)
                elif steps := timeline.steps_to(pair.b.time):
                    yield Segment(steps, frame[first], pair.b, shown)
            kept = pair.b
        if last is kept:
            tail = timeline.finish(kept.duration)
        else:  # held copies at the end: the last drawing lasts until the last frame ends
            tail = timeline.finish(last.time + (last.duration or 1 / info.rate) - kept.time)
        yield Segment(tail, kept, kept, Change.DUPLICATE)
        self.summary.long_intervals = timeline.long_intervals

    def _flush(self, backlog: list[Segment]) -> None:
        """Hand out the model work of every segment that needs it (batched by equal times), then
        write what is finished, in order."""
        groups: dict[tuple[Fraction, ...], list[Segment]] = {}
        for seg in backlog:
            if seg.needs_model:
                groups.setdefault(seg.model_times, []).append(seg)
        jobs = []
        for times, segs in groups.items():
            for start in range(0, len(segs), max(1, self.options.batch)):
                chunk = segs[start : start + self.options.batch]
                a = np.stack([s.a.image for s in chunk]) if len(chunk) > 1 else chunk[0].a.image
                b = np.stack([s.b.image for s in chunk]) if len(chunk) > 1 else chunk[0].b.image
                jobs.append(_Job(chunk, times, self.engine.submit(a, b, [float(t) for t in times])))
        self.pending.append((list(backlog), jobs))
        backlog.clear()
        self._write_finished(self.in_flight)

    def _write_finished(self, keep: int) -> None:
        """Write the oldest batches while they are finished or more than ``keep`` are pending."""
        while self.pending and (len(self.pending) > keep or all(j.future.done() for j in self.pending[0][1])):
            segments, jobs = self.pending.popleft()
            for job in jobs:
                results = result_of(job.future, str(self.summary.input.path))
                several = len(job.segments) > 1
                for i, seg in enumerate(job.segments):
                    seg.predicted = {t: (r[i] if several else r) for t, r in zip(job.times, results, strict=True)}
            for seg in segments:
                for step in seg.steps:
                    image = seg.image_for(step)
                    if seg.needs_model and step.t != 0:
                        self.summary.interpolated += 1
                    if not self._put(self.encoded, (image, step.index, self._shown_at(step))):
                        self._check_encoder()
                    self.summary.frames_out += 1
                    self.progress.update(1)
            self._check_encoder()


def _encoding_error(output: Path, exc: BaseException) -> IFRNetError:
    """One line naming the user's output (never its temporary name) and the cause."""
    # "No space left on device", "Read-only file system", ... or the exception itself
    cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{exc.__class__.__name__}: {exc}"
    cause = hide_temporary_names(cause, output)
    return IFRNetError(f"{output}: writing the output failed ({cause})")


@dataclass
class _Job:
    """One model call: a batch of segments that share their times."""

    segments: list[Segment]
    times: tuple[Fraction, ...]
    future: Future


@dataclass
class Segment:
    """The output frames between two consecutive source frames, and how to make them."""

    steps: list[Step]
    a: SourceFrame
    b: SourceFrame
    change: Change
    predicted: dict[Fraction, np.ndarray] | None = None

    @property
    def needs_model(self) -> bool:
        return self.change is Change.MOTION and any(s.t != 0 for s in self.steps)

    @property
    def model_times(self) -> tuple[Fraction, ...]:
        return tuple(s.t for s in self.steps if s.t != 0)

    def image_for(self, step: Step) -> SourceFrame | np.ndarray:
        """A source frame itself (passed through untouched) or a new frame from the model."""
        if step.t == 0:
            return self.a
        if self.change is Change.MOTION:
            return self.predicted[step.t]
        # a cut or a repeat: the nearer source frame, never a blend of two shots
        return self.a if step.t < Fraction(1, 2) else self.b
