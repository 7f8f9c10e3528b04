"""Video files in and out: readers, writers, time mapping, scene cuts and the streaming pipeline."""

from .frames import SourceFrame, VideoInfo
from .options import EncodeSettings, VideoOptions
from .pipeline import VideoSummary, interpolate_video
from .reader import FrameSource, open_source
from .schedule import Timeline, TimeMap, parse_rate
from .writer import FrameSink, ImageSequenceWriter, VideoFileWriter

__all__ = [
    "EncodeSettings",
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
