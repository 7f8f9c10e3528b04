"""Your own footage as training data: a folder of video files and/or sub-folders of image frames.

Every source is decoded once (``ifrnet.video.reader.open_source``) into a disk cache, one uint8
``.npy`` array ``(frames, H, W, 3)`` per source plus a small JSON manifest, so that training reads
frames by memory mapping instead of seeking in compressed video. The manifest records what the
cache was made from (file sizes and modification times) and the scene-change scores of every
pair of consecutive frames; a cache whose manifest matches its source is reused as is. The array
is written under a temporary name and renamed, and the manifest is written after it, so a killed
run never leaves a cache that looks complete.

Training windows of ``window`` frames spaced ``stride`` apart never cross a scene cut (found with
:class:`~ifrnet.video.scenes.SceneDetector`) or a repeated frame, which would make the time of
the target a lie. A window yields one triplet: its first and last frames as inputs and a random
inner frame k as target at t = k / (window - 1).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import atomic_output
from ..video.paths import IMAGE_SUFFIXES, list_image_files
from ..video.reader import open_source
from ..video.scenes import DEFAULT_SCENE_THRESHOLD, Thumbnail, cut_mask, measure_pair
from .augment import Augment, Frames, TripletDataset
from .types import FlowEstimator

log = logging.getLogger("ifrnet.data")

DEFAULT_CACHE_DIR = ".ifrnet_cache"
CACHE_FORMAT = 2  # 2: pixel changes and still pairs beside the scores (issue 21's cut rule)
#: Files in a footage folder that are obviously not video and are skipped without trying to decode them.
NOT_VIDEO_SUFFIXES = frozenset(
    {".txt", ".md", ".json", ".csv", ".yaml", ".yml", ".toml", ".log", ".npy", ".flo", ".py", ".srt", ".vtt"}
)
FOOTAGE_LAYOUT = "ROOT holding video files (any format FFmpeg reads) and/or sub-folders of image frames"
# A fixed-size .npy header lets frames stream to disk before their count is known.
_NPY_HEADER_BYTES = 128


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """A version-1.0 ``.npy`` header for a C-ordered uint8 array, padded to exactly 128 bytes."""
    text = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    body_len = _NPY_HEADER_BYTES - 10
    if len(text) + 1 > body_len:
        raise InputError(f"frame array of shape {shape} is too large for the frame cache")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body_len) + (text.ljust(body_len - 1) + "\n").encode("latin1")


@dataclass(frozen=True)
class FootageSource:
    """One decoded source: where its cache lies and what was measured while decoding it."""

    name: str
    path: Path
    cache: Path
    frames: int
    height: int
    width: int
    #: scene score of each consecutive pair (frame p, p + 1)
    scores: tuple[float, ...]
    #: whether pair (p, p + 1) is a repeated frame
    duplicates: tuple[bool, ...]
    #: pixel change of each pair, and whether it is still (a repeat or a held drawing): the rest of
    #: what :func:`~ifrnet.video.scenes.cut_mask` needs
    changes: tuple[float, ...]
    still: tuple[bool, ...]

    def breaks(self, threshold: float | None) -> np.ndarray:
        """Boolean per consecutive pair: a cut (``ifrnet video``'s rule at ``threshold``) or a repeat,
        which no window may span."""
        return np.asarray(self.duplicates, dtype=bool) | cut_mask(self.scores, self.changes, self.still, threshold)


def _signature(path: Path) -> str:
    """A digest of what the cache depends on: the file's (or every frame file's) size and modification time."""
    if path.is_dir():
        items = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in list_image_files(path)]
    else:
        st = path.stat()
        items = [st.st_size, st.st_mtime_ns]
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


def _cache_key(path: Path) -> str:
    # readable name, plus a digest of the full path so that roots sharing one cache_dir never collide
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", path.name)[:80]
    return f"{safe}-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]}"


def _load_manifest(manifest: Path, npy: Path, signature: str) -> dict | None:
    """The manifest if it describes a complete cache of the current source, else ``None``."""
    try:
        meta = json.loads(manifest.read_text())
        shape = (meta["frames"], meta["height"], meta["width"], 3)
        complete = (
            meta.get("format") == CACHE_FORMAT
            and meta.get("signature") == signature
            and npy.stat().st_size == _NPY_HEADER_BYTES + int(np.prod(shape))
            and len(meta["scores"]) == len(meta["duplicates"]) == max(0, meta["frames"] - 1)
            and len(meta["changes"]) == len(meta["still"]) == len(meta["scores"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta if complete else None


def _decode(path: Path, npy: Path) -> dict:
    """Stream every frame of ``path`` into ``npy`` and measure consecutive frames; returns the manifest fields."""
    scores: list[float] = []
    changes: list[float] = []
    still: list[bool] = []
    duplicates: list[bool] = []
    count = 0
    shape = None
    with open_source(path, rate=Fraction(25)) as source, atomic_output(npy) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(b"\0" * _NPY_HEADER_BYTES)
            previous = None
            for frame in source.frames():
                image = np.ascontiguousarray(frame.image, dtype=np.uint8)
                if shape is None:
                    shape = image.shape
                elif image.shape != shape:
                    raise InputError(
                        f"{path}: frame {frame.index} is {image.shape[1]}x{image.shape[0]}, the first frame "
                        f"{shape[1]}x{shape[0]}; sources must keep one frame size"
                    )
                fh.write(image.tobytes())
                thumb = Thumbnail.of(image)
                if previous is not None:
                    measures = measure_pair(previous[0], image, previous[1], thumb)
                    duplicates.append(measures.repeat)
                    scores.append(measures.score)
                    changes.append(measures.change)
                    still.append(measures.still)
                previous = (image, thumb)
                count += 1
            if shape is None:
                raise InputError(f"{path}: no decodable frames")
            fh.seek(0)
            fh.write(_npy_header((count, *shape)))
        for warning in source.warnings:
            log.warning("%s", warning)
    return {
        "frames": count,
        "height": shape[0],
        "width": shape[1],
        "scores": scores,
        "changes": changes,
        "still": still,
        "duplicates": duplicates,
    }


def cache_source(path: Path, name: str, cache_dir: Path) -> FootageSource:
    """Decode ``path`` into ``cache_dir`` unless a complete cache of it is already there."""
    key = _cache_key(path)
    npy, manifest = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    signature = _signature(path)
    meta = _load_manifest(manifest, npy, signature)
    if meta is None:
        log.info("decoding %s into the frame cache %s", path, npy)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            manifest.unlink(missing_ok=True)  # the old manifest must not vouch for a half-replaced array
            fields = _decode(path, npy)
            meta = {"format": CACHE_FORMAT, "source": str(path), "signature": signature, **fields}
            with atomic_output(manifest) as tmp:
                tmp.write_text(json.dumps(meta))
        except OSError as exc:
            raise InputError(
                f"{cache_dir}: cannot write the frame cache ({exc.strerror or exc}); choose another cache_dir"
            ) from None
    return FootageSource(
        name=name,
        path=path,
        cache=npy,
        frames=meta["frames"],
        height=meta["height"],
        width=meta["width"],
        scores=tuple(float(s) for s in meta["scores"]),
        duplicates=tuple(bool(d) for d in meta["duplicates"]),
        changes=tuple(float(c) for c in meta["changes"]),
        still=tuple(bool(h) for h in meta["still"]),
    )


def find_sources(root: Path, skip: Path | None = None) -> list[Path]:
    """The sources of a footage folder in name order: video files and sub-folders holding images."""
    sources = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or (skip is not None and entry.resolve() == skip):
            continue
        suffix = entry.suffix.lower()
        if entry.is_dir():
            if any(p.suffix.lower() in IMAGE_SUFFIXES for p in entry.iterdir()):
                sources.append(entry)
            else:
                log.warning("%s: no image files; folder skipped", entry)
        elif suffix in IMAGE_SUFFIXES:
            log.warning("%s: loose image skipped; put each frame sequence in a sub-folder of its own", entry)
        elif entry.is_file() and suffix not in NOT_VIDEO_SUFFIXES:
            sources.append(entry)
    return sources


class FootageWindows(TripletDataset):
    """Triplets from windows of your own footage, decoded once into a frame cache.

    ``window`` frames spaced ``stride`` apart (window=3, stride=2: frames f, f+2, f+4), starting at
    every frame where they cross no scene cut and no repeated frame. Inputs are the window's first
    and last frames, the target a random inner frame k (from the item's generator), t = k / (window - 1).
    ``cache_dir`` defaults to ``root/.ifrnet_cache``. ``scene_threshold`` is the
    :class:`~ifrnet.video.scenes.SceneDetector` threshold (``None``: no cut detection); changing it
    needs no new decode. A ``flow_estimator`` labels flow on the final, augmented frames. With
    ``skip_bad`` an undecodable source is skipped with a warning instead of failing.
    """

    time_reversal = True

    def __init__(
        self,
        root: str | os.PathLike,
        window: int = 3,
        stride: int = 1,
        augment: Augment | None = None,
        cache_dir: str | os.PathLike | None = None,
        scene_threshold: float | None = DEFAULT_SCENE_THRESHOLD,
        flow_estimator: FlowEstimator | None = None,
        *,
        seed: int | None = None,
        skip_bad: bool = False,
    ) -> None:
        super().__init__(augment, seed, skip_bad, flow_estimator)
        if isinstance(window, bool) or not isinstance(window, int) or window < 3:
            raise InputError(f"window must be an integer of at least 3 frames; got {window!r}")
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise InputError(f"stride must be a positive integer; got {stride!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: no such footage folder; the footage layout is {FOOTAGE_LAYOUT}")
        self.window, self.stride = window, stride
        self.scene_threshold = scene_threshold
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.root / DEFAULT_CACHE_DIR
        paths = find_sources(self.root, skip=self.cache_dir.resolve())
        if not paths:
            raise InputError(
                f"{self.root}: no video files or frame folders found; the footage layout is {FOOTAGE_LAYOUT}"
            )
        self.sources: list[FootageSource] = []
        for path in paths:
            try:
                self.sources.append(cache_source(path, path.name, self.cache_dir))
            except InputError as exc:
                if not skip_bad:
                    raise
                log.warning("skipping source %s: %s", path, exc)
        span = (window - 1) * stride
        source_ids, firsts = [], []
        for number, source in enumerate(self.sources):
            crossed = np.concatenate([[0], np.cumsum(source.breaks(scene_threshold))])
            starts = np.arange(max(0, source.frames - span))
            clean = starts[crossed[starts + span] == crossed[starts]]
            source_ids.append(np.full(len(clean), number, dtype=np.int64))
            firsts.append(clean.astype(np.int64))
        self.window_source = np.concatenate(source_ids) if source_ids else np.zeros(0, np.int64)
        self.window_first = np.concatenate(firsts) if firsts else np.zeros(0, np.int64)
        if len(self.window_first) == 0:
            raise InputError(
                f"{self.root}: no window of {window} frames (stride {stride}) fits inside one shot of any source; "
                "use shorter windows or longer footage"
            )
        self._arrays: dict[int, np.ndarray] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_arrays"] = {}  # memory maps are reopened in each worker process
        return state

    def __len__(self) -> int:
        return len(self.window_first)

    def window_frames(self, index: int) -> tuple[FootageSource, list[int]]:
        """The source of window ``index`` and the numbers of its frames."""
        first = int(self.window_first[index])
        return self.sources[int(self.window_source[index])], [first + i * self.stride for i in range(self.window)]

    def _array(self, number: int) -> np.ndarray:
        array = self._arrays.get(number)
        if array is None:
            source = self.sources[number]
            try:
                array = np.load(source.cache, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise InputError(f"{source.cache}: unreadable frame cache ({exc}); delete it to decode again") from None
            if array.shape != (source.frames, source.height, source.width, 3):
                raise InputError(f"{source.cache}: frame cache does not match its manifest; delete it to decode again")
            self._arrays[number] = array
        return array

    def _load(self, index: int, rng: np.random.Generator) -> tuple[Frames, np.ndarray | None, float]:
        _, numbers = self.window_frames(index)
        k = int(rng.integers(1, self.window - 1))
        frames = self._array(int(self.window_source[index]))
        return (
            [np.array(frames[numbers[0]]), np.array(frames[numbers[k]]), np.array(frames[numbers[-1]])],
            None,
            (k / (self.window - 1)),
        )
