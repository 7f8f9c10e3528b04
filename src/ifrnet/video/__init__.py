"""Video files in and out: readers, writers, time mapping, scene cuts and the streaming pipeline."""

from .pipeline import VideoOptions, VideoSummary, interpolate_video
from .reader import FrameSource, SourceFrame, VideoInfo, open_source
from .schedule import Timeline, TimeMap, parse_rate
from .writer import FrameSink, ImageSequenceWriter, VideoFileWriter

__all__ = [
    "FrameSink",
    "FrameSource",
    "ImageSequenceWriter",
    "SourceFrame",
    "TimeMap",
    "Timeline",
    "VideoFileWriter",
    "VideoInfo",
    "VideoOptions",
    "VideoSummary",
    "interpolate_video",
    "open_source",
    "parse_rate",
]
