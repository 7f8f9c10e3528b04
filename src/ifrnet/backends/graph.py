"""What every engine that runs an exported graph shares: the graph's metadata, padding, bisection
and the conversions between the caller's frames and the graph's float32 ``(B, 3, H, W)`` inputs.

A subclass opens the graph with its runtime and implements :meth:`GraphEngine.run`, one graph
call. Nothing here imports torch.
"""

from __future__ import annotations

import abc
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..engine import Engine
from ..errors import CheckpointError, InputError
from ..graphs.metadata import network_of
from ..times import Padder, bisect, check_times


def graph_feed(img0: np.ndarray, img1: np.ndarray, t: float) -> dict[str, np.ndarray]:
    """The inputs of a graph written by ``ifrnet export``, by name: ``img0`` and ``img1`` float32
    ``(B, 3, H, W)`` in [0, 1] of a size the network accepts (:class:`~ifrnet.times.Padder`), and
    ``embt``, t in (0, 1) as float32 ``(B, 1, 1, 1)``, repeated over the coarsest decoder's grid
    (``docs/IFRNET.md`` section 3)."""
    return {"img0": img0, "img1": img1, "embt": np.full((img0.shape[0], 1, 1, 1), t, dtype=np.float32)}


def graph_array(frame: np.ndarray, name: str, runtime: str) -> tuple[np.ndarray, str]:
    """``frame`` as a graph's float32 ``(B, 3, H, W)`` input in [0, 1], with the kind of array it
    was (``"uint8"``, ``"uint16_batch"``, ``"float"``...) so that outputs are returned alike.

    ``frame`` is uint8 or uint16 ``(H, W, 3)`` / ``(B, H, W, 3)`` RGB (divided by 255 or 65535), or
    float32 ``(B, 3, H, W)`` (taken as it is). Raises :class:`~ifrnet.errors.InputError` naming
    ``name`` and ``runtime`` for anything else.
    """
    if not isinstance(frame, np.ndarray):
        raise InputError(f"{name} must be a numpy array for the {runtime} backend; got {type(frame).__name__}")
    if frame.dtype in (np.uint8, np.uint16) and frame.ndim in (3, 4) and frame.shape[-1] == 3:
        batch = frame if frame.ndim == 4 else frame[None]
        peak = np.float32(np.iinfo(frame.dtype).max)
        array = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / peak
        return array, f"{frame.dtype}_batch" if frame.ndim == 4 else str(frame.dtype)
    if frame.dtype == np.float32 and frame.ndim == 4 and frame.shape[1] == 3:
        return np.ascontiguousarray(frame), "float"
    raise InputError(
        f"{name} must be a uint8 or uint16 (H, W, 3) or (B, H, W, 3) RGB array or a float32 (B, 3, H, W) array; "
        f"got {frame.dtype} array of shape {frame.shape}"
    )


class GraphEngine(Engine):
    """An :class:`~ifrnet.engine.Engine` over an ONNX graph written by ``ifrnet export``.

    Frames: uint8 or uint16 ``(H, W, 3)`` / ``(B, H, W, 3)`` RGB in, the same out; or float32
    ``(B, 3, H, W)`` arrays in [0, 1]. Frames are padded with :class:`~ifrnet.times.Padder`, and
    dyadic t are reached by recursive bisection when the exported weights ignore t.
    """

    #: the runtime's name, for summaries
    runtime = ""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path}: no such graph file")

    def _read_metadata(self, meta: Mapping[str, str]) -> None:
        """The variant and whether t is honoured, from the graph's ``ifrnet_*`` metadata."""
        self.model_name, self.uses_time = network_of(self.path, meta)

    #: set by :meth:`close`; a closed engine refuses work
    closed = False

    @abc.abstractmethod
    def run(self, img0: np.ndarray, img1: np.ndarray, t: float) -> np.ndarray:
        """One graph call on float32 (B, 3, H, W) inputs of a size the network accepts."""

    def _release(self) -> None:
        """Drop what the runtime holds for this graph (sessions, compiled graphs, their threads)."""

    def close(self, cancel: bool = False) -> None:
        self.closed = True
        self._release()

    def describe(self) -> str:
        return f"{self.model_name} on {self.device_kind} ({self.runtime})"

    def fingerprint(self) -> str:
        # the graph file holds the weights (an OpenVINO IR keeps them in the .bin beside it)
        digest = hashlib.sha256(self.path.read_bytes())
        if self.path.suffix.lower() == ".xml":
            digest.update(self.path.with_suffix(".bin").read_bytes())
        return f"{self.describe()}, weights sha256 {digest.hexdigest()[:16]}"

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float] = (0.5,)) -> list[np.ndarray]:
        """The frames at each of ``times`` between ``frame0`` (t=0) and ``frame1`` (t=1), in order given."""
        if self.closed:
            raise RuntimeError(f"{self.describe()}: the engine was closed")
        values = check_times(times)
        img0, kind = graph_array(frame0, "frame0", self.runtime)
        img1, _ = graph_array(frame1, "frame1", self.runtime)
        if img0.shape != img1.shape:
            raise InputError(
                f"frames differ in size: {img0.shape[-1]}x{img0.shape[-2]} and {img1.shape[-1]}x{img1.shape[-2]}"
            )
        if self.uses_time:
            outputs = self._predict(img0, img1, values)
        else:
            outputs = bisect(lambda a, b: self._predict(a, b, (0.5,))[0], img0, img1, values)
        return [self._from_array(o, kind) for o in outputs]

    def _predict(self, img0: np.ndarray, img1: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        padder = Padder.like(img0)
        x0, x1 = padder.pad(img0), padder.pad(img1)
        return [padder.unpad(self.run(x0, x1, t)) for t in times]

    @staticmethod
    def _from_array(array: np.ndarray, kind: str) -> np.ndarray:
        if kind == "float":
            return array
        # round half to even, as torch.round in the PyTorch engine
        dtype = np.dtype(kind.removesuffix("_batch"))
        peak = np.float32(np.iinfo(dtype).max)
        out = np.clip(np.rint(array * peak), 0, peak).astype(dtype).transpose(0, 2, 3, 1)
        return out if kind.endswith("_batch") else out[0]
