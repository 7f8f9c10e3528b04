"""Pseudo-label optical flow for the flow-distillation loss (``docs/IFRNET.md`` section 5).

IFRNet distils motion from a pretrained flow estimator: for every training triplet the flow from
the middle frame to each input frame is computed once, offline, and stored beside the dataset as
Middlebury ``.flo`` files that the training loader reads. The authors used LiteFlowNet; the
built-in default here is OpenCV's DIS (:class:`DISFlow`), which needs no weights, and
``get_estimator("package.module:Name")`` plugs in any other estimator, such as a RAFT wrapper
around weights the user owns.

Every estimator is a :data:`ifrnet.data.types.FlowEstimator`: ``estimator(target, source)`` takes
two uint8 (H, W, 3) RGB frames and returns the float32 (H, W, 2) flow (x, then y) on the target's
pixel grid pointing into the source, so that ``target(x, y) ≈ source(x + u, y + v)``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import IFRNetError, InputError
from ..io.flo import write_flo
from ..io.images import read_image
from .types import FlowEstimator

#: The DIS presets :class:`DISFlow` accepts, fastest first.
DIS_PRESETS = ("ultrafast", "fast", "medium")
#: The estimator used when none is named: DIS with its most accurate preset.
DEFAULT_ESTIMATOR = "dis"


def _import_cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise InputError(
            "DIS optical flow needs OpenCV, which is not installed; install it with `pip install ifrnet[train]`"
        ) from exc
    return cv2


def _check_frames(target: np.ndarray, source: np.ndarray) -> None:
    for frame in (target, source):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            desc = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise InputError(f"a flow estimator takes uint8 (H, W, 3) RGB frames; got {desc}")
    if target.shape != source.shape:
        raise InputError(f"the two frames given to a flow estimator differ in size: {target.shape} and {source.shape}")


class DISFlow:
    """OpenCV's Dense Inverse Search optical flow as a :data:`FlowEstimator`.

    DIS runs on the CPU without weights, so labels can be made anywhere; it is less accurate than
    a learned estimator, which the distillation loss is built to tolerate (its robust weighting
    flattens the penalty where the network and the label disagree). Frames are converted to
    greyscale because DIS matches a single channel. Its output is the same for any OpenCV thread
    count, so labels do not depend on the machine or on the number of worker processes.

    The OpenCV object is built on first use and left out when pickling, so an instance can be
    sent to worker processes, each of which then builds its own.
    """

    def __init__(self, preset: str = "medium") -> None:
        if preset not in DIS_PRESETS:
            raise InputError(f"unknown DIS preset {preset!r}; choose one of {', '.join(DIS_PRESETS)}")
        _import_cv2()  # fail here, when the estimator is chosen, rather than mid-job
        self.preset = preset
        self._dis: Any = None

    def __call__(self, target: np.ndarray, source: np.ndarray) -> np.ndarray:
        """Flow from ``target`` to ``source`` (uint8 RGB, same size): float32 ``(H, W, 2)``."""
        _check_frames(target, source)
        cv2 = _import_cv2()
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{self.preset.upper()}"))
        grey_target = cv2.cvtColor(np.ascontiguousarray(target), cv2.COLOR_RGB2GRAY)
        grey_source = cv2.cvtColor(np.ascontiguousarray(source), cv2.COLOR_RGB2GRAY)
        # DIS returns the flow on the grid of its first image pointing into its second: exactly
        # the target -> source convention, with no sign flip needed.
        flow = self._dis.calc(grey_target, grey_source, None)
        return np.asarray(flow, dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_dis"] = None  # OpenCV objects cannot be pickled; the receiver builds its own
        return state

    def __repr__(self) -> str:
        return f"DISFlow(preset={self.preset!r})"


def _usage(spec: object) -> str:
    return (
        f"unknown flow estimator {spec!r}; use 'dis', 'dis:<preset>' with a preset among "
        f"{', '.join(DIS_PRESETS)}, or 'package.module:ClassOrFactory'"
    )


def _callable_without_arguments(obj: Callable[..., Any]) -> bool:
    try:
        inspect.signature(obj).bind()
    except TypeError:
        return False
    except ValueError:  # no introspectable signature (some builtins): only a class is taken as a factory
        return inspect.isclass(obj)
    return True


def _resolve(spec: str) -> Callable[[], Any]:
    """Import what ``spec`` names and return a zero-argument builder of the estimator.

    Kept apart from building so that the parent of a parallel job can check the spec without
    building (a GPU model built before the workers fork would be unusable in them).
    """
    if not isinstance(spec, str):
        raise InputError(_usage(spec))
    name = spec.strip()
    if name == "dis" or name.startswith("dis:"):
        preset = name.partition(":")[2] or "medium"
        if preset not in DIS_PRESETS:
            raise InputError(_usage(spec))
        return functools.partial(DISFlow, preset)
    module_name, colon, attribute = name.partition(":")
    if not colon or not module_name or not attribute:
        raise InputError(_usage(spec))
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import module {module_name!r} for the flow estimator {spec!r} ({exc})") from exc
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise InputError(
                f"module {module_name!r} has no attribute {attribute!r} (flow estimator {spec!r})"
            ) from None
    if not callable(obj):
        raise InputError(f"the flow estimator {spec!r} is a {type(obj).__name__}, not a class, factory or function")
    if _callable_without_arguments(obj):
        return obj
    if inspect.isclass(obj):
        raise InputError(
            f"the flow estimator class {spec!r} cannot be built without arguments; "
            "point to a factory function that takes none instead"
        )
    return lambda: obj  # a function taking (target, source) is the estimator itself


def _checked_estimator(spec: str, estimator: Any) -> FlowEstimator:
    if not callable(estimator):
        raise InputError(
            f"the flow estimator {spec!r} built a {type(estimator).__name__}, which cannot be called as "
            "estimator(target, source)"
        )
    return estimator


def get_estimator(spec: str) -> FlowEstimator:
    """Build the flow estimator named by ``spec``.

    ``"dis"`` (preset medium) or ``"dis:<preset>"`` give :class:`DISFlow`. ``"package.module:Name"``
    imports ``Name`` (dots allowed for nested attributes) from an importable module: a class or a
    factory that can be called without arguments is called to build the estimator; a function that
    needs arguments is taken to be the estimator itself. Raises :class:`InputError` for an unknown
    name, a failed import or a result that is not callable.
    """
    return _checked_estimator(spec, _resolve(spec)())


@dataclass(frozen=True)
class TripletLayout:
    """Where a dataset keeps its triplets, and where their flow labels go, relative to its root.

    Sequence ids are read from list files (one per line, blank lines skipped); ``frames`` (img0,
    imgt, img1) and ``flows`` (imgt -> img0, imgt -> img1) are templates filled with ``{seq}``.
    ``description`` is quoted in error messages so that a user sees what was expected.
    """

    name: str
    description: str
    lists: tuple[str, ...]
    frames: tuple[str, str, str]
    flows: tuple[str, str]

    def frame_paths(self, root: str | os.PathLike, seq: str) -> tuple[Path, Path, Path]:
        """The img0, imgt and img1 paths of sequence ``seq``."""
        img0, imgt, img1 = (Path(root) / t.format(seq=seq) for t in self.frames)
        return img0, imgt, img1

    def flow_paths(self, root: str | os.PathLike, seq: str) -> tuple[Path, Path]:
        """The paths of the imgt -> img0 and imgt -> img1 flow labels of sequence ``seq``."""
        t0, t1 = (Path(root) / t.format(seq=seq) for t in self.flows)
        return t0, t1


#: The dataset layouts :func:`label_dataset` knows, by name.
LAYOUTS: dict[str, TripletLayout] = {
    "vimeo90k": TripletLayout(
        name="vimeo90k",
        description=(
            "tri_trainlist.txt and/or tri_testlist.txt in the root listing sequence ids such as 00001/0001, "
            "with frames in sequences/<id>/im1.png, im2.png (the middle frame) and im3.png"
        ),
        lists=("tri_trainlist.txt", "tri_testlist.txt"),
        frames=("sequences/{seq}/im1.png", "sequences/{seq}/im2.png", "sequences/{seq}/im3.png"),
        flows=("flow/{seq}/flow_t0.flo", "flow/{seq}/flow_t1.flo"),
    ),
}


@dataclass(frozen=True)
class LabelSummary:
    """What :func:`label_dataset` did: sequences labelled now, found already labelled, listed, wall time."""

    written: int
    skipped: int
    total: int
    seconds: float


@dataclass(frozen=True)
class _Job:
    seq: str
    frames: tuple[Path, Path, Path]
    flows: tuple[Path, Path]


def _read_sequence_ids(root: Path, layout: TripletLayout, lists: Sequence[str]) -> list[str]:
    names = [lists] if isinstance(lists, str) else list(lists)
    if not names:
        raise InputError(f"no list files given; the {layout.name} layout expects {layout.description}")
    found = [root / name for name in names if (root / name).is_file()]
    if not found:
        missing = " or ".join(str(root / name) for name in names)
        raise InputError(f"no list file found ({missing}); the {layout.name} layout expects {layout.description}")
    ids: dict[str, None] = {}  # ordered and without repeats, should two lists share an id
    for path in found:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read the list file ({exc})") from None
        for number, line in enumerate(text.splitlines(), start=1):
            seq = line.strip()
            if not seq:
                continue
            parts = PurePosixPath(seq)
            # An id is joined to the root to make output paths: never let one point outside it.
            if parts.is_absolute() or ".." in parts.parts or "\\" in seq:
                raise InputError(f"{path}, line {number}: {seq!r} is not a relative sequence id such as 00001/0001")
            ids[seq] = None
    if not ids:
        raise InputError(f"{', '.join(map(str, found))}: no sequence ids listed")
    return list(ids)


def _check_flow(flow: Any, height: int, width: int, spec: str, path: Path) -> np.ndarray:
    arr = np.asarray(flow, dtype=np.float32)
    if arr.shape != (height, width, 2):
        raise InputError(
            f"the flow estimator {spec!r} returned an array of shape {arr.shape} for {path}, "
            f"expected ({height}, {width}, 2)"
        )
    if not np.isfinite(arr).all():
        raise InputError(f"the flow estimator {spec!r} returned non-finite values for {path}")
    return arr


def _label_one(job: _Job, estimator: FlowEstimator, spec: str) -> None:
    img0, imgt, img1 = (read_image(p) for p in job.frames)
    height, width = imgt.shape[:2]
    for path, image in ((job.frames[0], img0), (job.frames[2], img1)):
        if image.shape != imgt.shape:
            raise InputError(
                f"{path}: is {image.shape[1]}x{image.shape[0]} but the middle frame {job.frames[1]} is "
                f"{width}x{height}; the three frames of a triplet must share a size"
            )
    # flow_t1 is written last: a sequence counts as done only once both files exist.
    for source, out in ((img0, job.flows[0]), (img1, job.flows[1])):
        write_flo(out, _check_flow(estimator(imgt, source), height, width, spec, out))


# The estimator of this worker process, built once by _init_worker: one per process, not per task.
_worker_estimator: tuple[str, FlowEstimator] | None = None


def _init_worker(spec: str) -> None:
    global _worker_estimator
    # Each of the `workers` processes is already one CPU's worth of work; libraries that start a
    # thread per core in every process would oversubscribe the machine many times over.
    import torch

    torch.set_num_threads(1)
    try:
        import cv2
    except ImportError:
        pass
    else:
        cv2.setNumThreads(1)
    _worker_estimator = (spec, get_estimator(spec))


def _label_in_worker(job: _Job) -> None:
    assert _worker_estimator is not None, "worker used without _init_worker"
    spec, estimator = _worker_estimator
    _label_one(job, estimator, spec)


def _label_parallel(jobs: list[_Job], spec: str, workers: int, bar: tqdm) -> None:
    # Never plain fork: a child forked from a parent whose OpenMP or OpenCV thread pools have run
    # deadlocks when it uses them (seen with torch.set_num_threads), and it cannot use CUDA once the
    # parent has. Fresh processes cost a second or two each, once per job.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_init_worker,
        initargs=(spec,),
    ) as pool:
        futures = [pool.submit(_label_in_worker, job) for job in jobs]
        try:
            for future in as_completed(futures):
                future.result()
                bar.update()
        except BrokenProcessPool as exc:
            pool.shutdown(wait=False, cancel_futures=True)
            raise IFRNetError(
                f"a worker process of the flow labelling job died (building or running {spec!r}; its error, if any, "
                "is printed above); run with workers=1 to see the error directly"
            ) from exc
        except BaseException:
            # Otherwise leaving the `with` block would wait for every queued sequence to finish.
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def label_dataset(
    dataset: str,
    root: str | os.PathLike,
    estimator: str = DEFAULT_ESTIMATOR,
    workers: int = 1,
    lists: Sequence[str] | None = None,
    progress: bool = True,
) -> LabelSummary:
    """Write the pseudo-label flows of every listed triplet of a dataset, skipping finished ones.

    ``dataset`` names a layout in :data:`LAYOUTS` (``"vimeo90k"``: frames in
    ``root/sequences/<id>/im{1,2,3}.png``, labels to ``root/flow/<id>/flow_t0.flo`` and
    ``flow_t1.flo``). ``lists`` are list-file names relative to ``root`` (default: the layout's,
    ``tri_trainlist.txt`` and ``tri_testlist.txt`` for Vimeo90K); those that exist are used.
    ``estimator`` is a :func:`get_estimator` spec. ``workers`` > 1 labels in that many processes,
    each building its own estimator.

    The job is resumable: a sequence whose two ``.flo`` files exist is skipped, and files are
    written atomically, so a killed job rerun continues where it stopped. Every frame of the
    sequences still to label is checked to exist before any work starts.
    """
    start = time.perf_counter()
    layout = LAYOUTS.get(dataset) if isinstance(dataset, str) else None
    if layout is None:
        raise InputError(f"unknown dataset layout {dataset!r}; choose one of {', '.join(sorted(LAYOUTS))}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive integer; got {workers!r}")
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such dataset directory; the {layout.name} layout expects {layout.description}")
    ids = _read_sequence_ids(root, layout, layout.lists if lists is None else lists)
    jobs = [_Job(seq, layout.frame_paths(root, seq), layout.flow_paths(root, seq)) for seq in ids]
    pending = [job for job in jobs if not all(p.is_file() for p in job.flows)]
    for job in pending:
        for path in job.frames:
            if not path.is_file():
                raise InputError(f"{path}: no such file; the {layout.name} layout expects {layout.description}")
    build = _resolve(estimator)  # a bad spec fails now, before any work
    skipped = len(jobs) - len(pending)
    with tqdm(
        total=len(jobs), initial=skipped, unit="seq", desc=f"flow labels ({estimator})", disable=not progress
    ) as bar:
        if workers > 1 and len(pending) > 1:
            _label_parallel(pending, estimator, min(workers, len(pending)), bar)
        elif pending:
            flow_estimator = _checked_estimator(estimator, build())
            for job in pending:
                _label_one(job, flow_estimator, estimator)
                bar.update()
    return LabelSummary(written=len(pending), skipped=skipped, total=len(jobs), seconds=time.perf_counter() - start)
