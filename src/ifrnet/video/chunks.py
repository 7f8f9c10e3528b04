"""One video in chunks: the plan of the whole source, chunks cut from it, a chunk rendered from a
seek, and the chunks joined into the output.

The plan is the single-process run's own decisions (:meth:`~ifrnet.video.pipeline.VideoRun.decide`:
the time map, the scene cuts, ``--dedup``'s held drawings) taken over the whole source once, with
no engine: a list of segments, each the output frames between two source frames and how to make
them. A chunk is a run of consecutive segments; the output frames between source frames k and
k+1 belong to the chunk that owns k, and a chunk decodes from a frame-accurate seek to its first
source frame through the one past its end. So a chunk boundary changes no decision and no frame:
it only says which process makes which segment.

Chunks are encoded straight to the output's codec, into NUT files (any codec, the encoder's exact
timestamps, negative first dts kept), and joined by copying their packets: the join costs a
stream copy, not a second encode, and with an intra-only codec (FFV1) the output is the one a
single process writes, packet for packet. With a codec that predicts across frames (x264) every
chunk starts on a keyframe: the frames differ slightly where a chunk starts, their count and pts
do not.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from ..engine import Engine
from ..errors import InputError
from .frames import SourceFrame, VideoInfo
from .options import VideoOptions
from .paths import is_folder_output, is_stream
from .pipeline import Progress, Segment, VideoRun, VideoSummary, audio_plan, output_muxer
from .reader import open_source
from .scenes import Change
from .schedule import Step
from .writer import AVFMT_VARIABLE_FPS, PacketJoin, VideoFileWriter, default_encoder

#: the container of chunk files
CHUNK_FORMAT = "nut"


@dataclass(frozen=True)
class PlannedSegment:
    """The output frames (``steps``) between source frames ``a`` and ``b`` (decode-order indices;
    ``a == b`` for a frame held or the last one), and what lies between them."""

    a: int
    b: int
    change: Change
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Chunk:
    """Consecutive segments of a plan: the unit a job renders, resumes and hands to a worker.

    ``times``: the source times of frames ``first_frame`` to ``last_frame``, what the chunk's
    seek must find again."""

    number: int
    segments: tuple[PlannedSegment, ...]
    times: tuple[Fraction, ...]

    @property
    def first_frame(self) -> int:
        return self.segments[0].a

    @property
    def last_frame(self) -> int:
        return max(s.b for s in self.segments)

    @property
    def frames_out(self) -> int:
        return sum(len(s.steps) for s in self.segments)

    @property
    def first_output(self) -> int:
        return next(s.steps[0].index for s in self.segments if s.steps)


@dataclass(frozen=True)
class ChunkContext:
    """What every chunk of one job shares: small, so a remote worker gets it with each chunk."""

    source: str
    info: VideoInfo
    options: VideoOptions
    sample_rate: Fraction
    write_rate: Fraction
    #: the first source frame's time (slow motion counts from it)
    origin: Fraction
    #: when the output's first frame is shown
    first_shown: Fraction
    #: the encoder, resolved for the output's container
    codec: str
    container_format: str


@dataclass
class ChunkResult:
    """What rendering a chunk gave: the packets' (pts, dts) for the join, and counts for the summary."""

    number: int
    #: (pts, dts) of each packet, in ``time_base`` units
    stamps: list[tuple[int, int | None]]
    time_base: Fraction
    frames_out: int
    interpolated: int
    #: frames stamped off a constant rate (variable-rate timing kept)
    irregular: int
    pix_fmt: str
    notices: list[str] = field(default_factory=list)


@dataclass
class VideoPlan:
    """The segments of a whole source and what the run's summary needs of it."""

    context: ChunkContext
    segments: list[PlannedSegment]
    #: each source frame's time, by decode-order index
    times: list[Fraction]
    summary: VideoSummary
    #: whether a chunk's seek finds the frames a whole read gave (:attr:`FrameSource.seekable`)
    seekable: bool

    def chunks(self, seconds: float) -> list[Chunk]:
        """Chunks of about ``seconds`` of source each (one chunk for a source that cannot be
        seeked exactly); every chunk has output frames."""
        if seconds <= 0:
            raise InputError(f"--chunk-seconds must be positive; got {seconds:g}")
        span = Fraction(seconds).limit_denominator(1000)
        groups: list[list[PlannedSegment]] = []
        start, frames = None, 0  # the open chunk's first source time and output frames so far
        for segment in self.segments:
            time = self.times[segment.a]
            if not groups or (self.seekable and frames and time - start >= span):
                groups.append([])
                start, frames = time, 0
            groups[-1].append(segment)
            frames += len(segment.steps)
        return [Chunk(n, tuple(g), tuple(self.times[g[0].a : max(s.b for s in g) + 1])) for n, g in enumerate(groups)]


def check_chunkable(source: str | os.PathLike, output: str | os.PathLike, output_format: str | None = None) -> None:
    """Refuse, before any work, what a chunked job cannot do: read a pipe (read once), write a pipe
    or PNG frames, or write a container that shows frames at a constant rate (AVI, YUV4MPEG2),
    whose timestamps a chunk cannot know alone."""
    if is_stream(source):
        raise InputError(f"{source}: a chunked job seeks in its input; a pipe is read once (run without chunks)")
    if is_stream(output) or is_folder_output(output):
        raise InputError(f"{output}: a chunked job writes a video file (not a pipe or image frames)")
    container_format = output_muxer(output, output_format)
    if not stamps_frames(container_format):
        raise InputError(
            f"{output}: {container_format} shows frames at a constant rate, which a chunked job cannot stamp; "
            "write .mkv, .mp4, .mov or .nut"
        )


def stamps_frames(container_format: str) -> bool:
    """Whether FFmpeg's muxer ``container_format`` keeps each frame's own timestamp
    (``AVFMT_VARIABLE_FPS``), which a chunk needs to be joined to the others."""
    import av

    return bool(av.format.ContainerFormat(container_format, "w").flags & AVFMT_VARIABLE_FPS)


def plan_video(source_path: str | os.PathLike, output: str | os.PathLike, options: VideoOptions) -> VideoPlan:
    """Decode the whole source once and take every decision a single run would (no engine).

    Raises :class:`InputError` for an unreadable source or options that do not fit it."""
    container_format = output_muxer(output, options.output_format)
    source = open_source(
        source_path,
        options.input_fps,
        keep_depth=True,
        deinterlace=options.deinterlace,
        input_format=options.input_format,
    )
    with source:
        info = source.info
        sample_rate, write_rate = options.rates(info.rate)
        summary = VideoSummary(input=info, output=Path(output), output_rate=write_rate)
        summary.audio = audio_plan(info, False, options.slowmo)
        run = VideoRun(source, None, options, sample_rate, summary, lambda total: Progress())
        times: list[Fraction] = []

        def timed() -> Iterator[SourceFrame]:
            for frame in source.frames():
                times.append(frame.time)
                yield frame

        segments = [PlannedSegment(s.a.index, s.b.index, s.change, tuple(s.steps)) for s in run.decide(timed())]
        summary.frames_out = sum(len(s.steps) for s in segments)
        summary.notices = list(source.warnings)
        codec = options.codec or default_encoder(container_format)
        first_shown = run._shown_at(next(s.steps[0] for s in segments if s.steps))
        context = ChunkContext(
            str(source_path), info, options, sample_rate, write_rate, run.origin, first_shown, codec, container_format
        )
        return VideoPlan(context, segments, times, summary, source.seekable)


def _chunk_writer(context: ChunkContext, path: Path, container_format: str = CHUNK_FORMAT) -> VideoFileWriter:
    options = context.options
    return VideoFileWriter(
        path,
        context.info,
        context.write_rate,
        replace(options.settings(), codec=context.codec),
        timed=options.slowmo is None,
        time_base=options.time_base(context.info, context.write_rate),
        container_format=container_format,
        deinterlaced=options.deinterlace,
    )


def check_encoder(context: ChunkContext, folder: Path) -> None:
    """Open (and drop) a chunk writer in ``folder``: an encoder, pixel format or size the output
    cannot take is refused before any chunk is rendered."""
    probe = folder / f".probe-{os.getpid()}.{CHUNK_FORMAT}"
    try:
        _chunk_writer(context, probe).abort()
    finally:
        probe.unlink(missing_ok=True)


def render_chunk(
    context: ChunkContext, chunk: Chunk, engine: Engine, path: Path, progress: Progress | None = None
) -> ChunkResult:
    """Render ``chunk`` with ``engine`` into the NUT file ``path`` (written in place: the caller
    gives a temporary name). Raises :class:`InputError` where the source no longer gives the
    frames the plan saw."""
    options = context.options
    if options.batch is None:
        options = replace(options, batch=4 if engine.device_kind == "cuda" else 1)
    source = open_source(
        context.source,
        options.input_fps,
        keep_depth=True,
        keep_native=True,
        deinterlace=options.deinterlace,
        input_format=options.input_format,
    )
    with source:
        info = source.info
        if (info.width, info.height, info.pix_fmt) != (context.info.width, context.info.height, context.info.pix_fmt):
            raise InputError(f"{context.source}: the file changed since the job was planned")
        summary = VideoSummary(input=info, output=path, output_rate=context.write_rate)
        sink = _chunk_writer(context, path)
        sink.report_timing = False
        sink.first = (context.first_shown, 0)
        run = VideoRun(source, engine, options, context.sample_rate, summary, lambda total: Progress())
        run.origin = context.origin
        if progress is not None:
            run.progress = _Counted(progress)
        count = chunk.last_frame - chunk.first_frame + 1
        run.source_frames = lambda: itertools.islice(source.frames_from(chunk.first_frame, chunk.times[0]), count)
        run.execute(sink, lambda frames: _segments(chunk, frames, context.source))
    return ChunkResult(
        chunk.number,
        sink.stamps,
        sink.time_base,
        summary.frames_out,
        summary.interpolated,
        sink.irregular,
        sink.pix_fmt,
        sink.notices,
    )


class _Counted(Progress):
    """A job's progress, counted by one chunk's run, which closes its own progress when done."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def update(self, n: int = 1) -> None:
        self.progress.update(n)


def _segments(chunk: Chunk, frames: Iterator[SourceFrame], source: str) -> Iterator[Segment]:
    """The chunk's planned segments with the decoded frames they join, each frame checked to be
    the one the plan saw (same index, same time)."""
    needed = {s.a for s in chunk.segments} | {s.b for s in chunk.segments}
    held: dict[int, SourceFrame] = {}
    expected = chunk.first_frame
    for segment in chunk.segments:
        while segment.b not in held:
            frame = next(frames, None)
            if frame is None or frame.index != expected or frame.time != chunk.times[expected - chunk.first_frame]:
                raise InputError(f"{source}: frame {expected} is not the one planned (the file changed?)")
            expected += 1
            if frame.index in needed:
                held[frame.index] = frame
        yield Segment(list(segment.steps), held[segment.a], held[segment.b], segment.change)
        for index in [k for k in held if k < segment.b]:
            del held[index]


def join_chunks(context: ChunkContext, files: list[Path], results: list[ChunkResult], path: Path) -> list[str]:
    """Join the chunk ``files`` (rendered as ``results`` say) into the video file ``path`` (a
    temporary name: the caller publishes it), with the source's other streams; returns the notices."""
    options = context.options
    timed = options.slowmo is None
    join = PacketJoin(
        path,
        files[0],
        context.info,
        context.write_rate,
        results[0].pix_fmt,
        copy_from=Path(context.source) if context.info.codec != "images" else None,
        timed=timed,
        container_format=context.container_format,
    )
    try:
        for file, result in zip(files, results, strict=True):
            join.add(file, result.stamps, result.time_base)
        join.close()
    except BaseException:
        join.abort()
        raise
    return join.notices
