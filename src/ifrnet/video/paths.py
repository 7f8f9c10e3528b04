"""The names of what a run reads and writes: image patterns and sequences, pipes, FFmpeg's
format names, and the rule that no output writes over or into its input. Reader, writer and
pipeline all follow these rules; keeping them here is what lets the writer import no reader."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


#: how standard input is named in messages and summaries
STDIN = Path("<stdin>")


#: short names people use for FFmpeg's demuxers and muxers (``ffmpeg -f`` takes the long ones)
#: (also the file extensions that differ from FFmpeg's names)
FORMAT_ALIASES = {"y4m": "yuv4mpegpipe", "yuv4mpeg": "yuv4mpegpipe", "mkv": "matroska", "m4v": "mp4", "ts": "mpegts"}


def is_pattern(path: str | os.PathLike) -> bool:
    """True for printf-style frame patterns such as ``frames/%08d.png``.

    An existing file is never a pattern (``100%done.mp4`` is a file name), whatever it contains.
    """
    text = str(path)
    return re.search(r"%0?\d*d", text) is not None and not Path(text).is_file()


def is_sequence(path: str | os.PathLike) -> bool:
    """Whether an input names an image sequence: a folder, or a ``%d`` pattern of image files.

    A ``%d``-like name with a video suffix that does not exist is a missing file, not an empty
    pattern; an existing file is always a file.
    """
    p = Path(path)
    return not p.is_file() and (p.is_dir() or (is_pattern(p) and p.suffix.lower() in IMAGE_SUFFIXES))


def pattern_regex(name: str) -> re.Pattern[str]:
    """A regex matching the file names of a ``%d`` pattern; group 1 is the frame number."""
    escaped = re.escape(name).replace(r"\%", "%")
    return re.compile("^" + re.sub(r"%0?\d*d", r"(\\d+)", escaped) + "$")


def _natural_key(name: str) -> list[object]:
    """``img2`` before ``img10``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _frame_number(path: Path) -> int | None:
    runs = re.findall(r"\d+", path.stem)
    return int(runs[-1]) if runs else None


def numbered_image_files(source: Path) -> list[tuple[int | None, Path]]:
    """(frame number or ``None``, file) of a folder or ``%d`` pattern, in frame order."""
    if is_pattern(source):
        folder = source.parent
        regex = pattern_regex(source.name)
        if not folder.is_dir():
            raise InputError(f"{source}: folder {folder} does not exist")
        found: list[tuple[int | None, Path]] = [
            (int(m.group(1)), p) for p in folder.iterdir() if (m := regex.match(p.name))
        ]
    elif source.is_dir():
        found = [(_frame_number(p), p) for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        raise InputError(f"{source}: not a folder of images")
    if not found:
        raise InputError(f"{source}: no image files found")
    if all(n is not None for n, _ in found):
        return sorted(found, key=lambda item: (item[0], _natural_key(item[1].name)))
    return sorted(found, key=lambda item: _natural_key(item[1].name))


def list_image_files(source: Path) -> list[Path]:
    """The image files of a folder or ``%d`` pattern, in frame order (numbers compared as numbers)."""
    return [p for _, p in numbered_image_files(source)]


def open_input(url: str, **kwargs: object):
    """``av.open`` for reading, tags that are not valid UTF-8 skipped rather than fatal: PyAV 18
    needs ``metadata_errors="ignore"`` for that; PyAV 19 dropped the argument (its own decoding applies)."""
    import av

    if int(av.__version__.split(".")[0]) < 19:
        kwargs["metadata_errors"] = "ignore"
    return av.open(url, **kwargs)


def format_name(name: str | None) -> str | None:
    """FFmpeg's name for a container format as people write it, or as a file extension
    (``y4m`` -> ``yuv4mpegpipe``, ``mkv`` -> ``matroska``)."""
    return None if name is None else FORMAT_ALIASES.get(name.lower(), name.lower())


def is_stream(path: str | os.PathLike) -> bool:
    """Whether ``path`` can be read or written only once, front to back: ``-`` (standard input or
    output), a named pipe, a character device or a socket. Such a path is never probed twice,
    never replaced through a temporary name and never refused as an existing output."""
    import stat

    if str(path) == "-":
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


#: how standard output is named in messages and summaries
STDOUT = Path("<stdout>")


def folder_pattern(output: str | os.PathLike) -> Path:
    """``frames/%08d.png`` for a pattern as given, or for a folder name (``frames/``)."""
    text = str(output)
    if is_pattern(text):
        if Path(text).suffix.lower() != ".png":
            raise InputError(f"{text}: image sequences are written as PNG; end the pattern in .png")
        return Path(text)
    return Path(text) / "%08d.png"


def is_folder_output(output: str | os.PathLike) -> bool:
    """True for PNG-sequence outputs: a ``%d`` pattern ending in an image suffix, or a folder.

    ``Summer%20day.mp4`` is a video file name, not a pattern.
    """
    text = str(output)
    pattern = is_pattern(text) and Path(text).suffix.lower() in (*IMAGE_SUFFIXES, "")
    return pattern or text.endswith(("/", os.sep)) or Path(text).is_dir()


def existing_sequence_files(pattern: Path) -> list[Path]:
    if not pattern.parent.is_dir():
        return []
    regex = pattern_regex(pattern.name)
    return sorted(p for p in pattern.parent.iterdir() if regex.match(p.name))


def check_not_an_input(output: str | os.PathLike, source: str | os.PathLike, folder: bool) -> None:
    """Refuse, before any work, an output that would write over or into the input (links resolved).

    A file output may not be the input file or one of its images; a PNG-sequence output may not
    name any input file, nor lie in the input sequence's folder (its frames would join the input).
    Raises :class:`InputError`, even with ``--overwrite``.
    """
    src = Path(source)
    if is_sequence(src):
        inputs = [p.resolve() for p in list_image_files(src)]
        input_dirs = {(src if src.is_dir() else src.parent).resolve()}
    else:
        inputs = [src.resolve()] if src.exists() else []
        input_dirs = set()
    if folder:
        pattern = folder_pattern(output)
        out_dir = pattern.parent.resolve()
        regex = pattern_regex(pattern.name)
        if out_dir in input_dirs or any(p.parent == out_dir and regex.match(p.name) for p in inputs):
            raise InputError(f"{output}: output would write into the input sequence {source}; choose another folder")
    elif Path(output).resolve() in inputs:
        raise InputError(f"{output}: output would overwrite the input {source}; choose another output name")
